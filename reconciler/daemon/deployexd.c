/*
 * deployexd: the daemon as a program of its own (docs/daemon.md, "Programs").
 * `deployex run` execs it, in the same process, as
 *
 *     deployexd --cli PATH_OF_DEPLOYEX [-c FILE] [--debug]
 *
 * It links libc and yajl only: everything that speaks to the network, parses
 * archives, or runs Lua or libei runs in jobs of the full binary (--cli),
 * whose pages, relocations and TLS libraries the long-lived daemon then
 * never holds.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/daemon/daemon.h"
#include "base/banned.h"

static int usage(const char *why, const char *arg)
{
        fprintf(stderr, "deployexd: %s%s%s%s\n"
                        "usage: deployexd --cli PATH [-c FILE] [--debug]\n"
                        "(start the daemon with 'deployex run', which runs this program)\n",
                why, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
        return EXIT_USAGE;
}

int main(int argc, char **argv)
{
        const char *cli_exe = NULL, *config_path = NULL;
        bool debug = false;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
                        cli_exe = argv[++i];
                else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
                        config_path = argv[++i];
                else if (strcmp(argv[i], "--debug") == 0)
                        debug = true;
                else
                        return usage("unexpected argument", argv[i]);
        }
        if (!cli_exe || cli_exe[0] != '/')
                return usage("--cli needs the absolute path of the deployex binary", NULL);
        return daemon_main(cli_exe, config_path, debug);
}
