/*
 * deployex-hook: the hook runner, the program the daemon starts for the jobs
 * it runs per instance (docs/daemon.md, PROGRAMS):
 *
 *     deployex-hook --cli PATH_OF_DEPLOYEX [-c FILE] __hook APP N FUNCTION ...
 *     deployex-hook --cli PATH_OF_DEPLOYEX [-c FILE] __ready APP N PID START_TIME
 *
 * The same commands as `deployex __hook` and `deployex __ready` (hook.c,
 * ready.c), linked with Lua, libei and yajl but not libcurl, libarchive or
 * OpenSSL, whose loading costs milliseconds of CPU at every start of the full
 * binary: a first deployment starts three or four of these jobs per instance.
 * TLS distribution needs OpenSSL: with `tls` set the daemon runs these jobs in
 * deployex-cli (beam/tls.h).  deployex.http, the one part of the hook API that
 * needs an HTTP client, runs `PATH_OF_DEPLOYEX __http` (lua/api_http.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "lua/api_http.h"
#include "base/banned.h"

static const struct cli_command *const commands[] = { &cmd_x_hook, &cmd_x_ready };

static int usage(const char *why, const char *arg)
{
        fprintf(stderr, "deployex-hook: %s%s%s%s\n"
                        "usage: deployex-hook --cli PATH [-c FILE] __hook|__ready ARGS...\n"
                        "(the daemon runs this program; by hand, use 'deployex hook')\n",
                why, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
        return EXIT_USAGE;
}

int main(int argc, char **argv)
{
        struct cli cli = { .config_path = NULL };
        const char *cli_exe = NULL;
        int i = 1;

        /* A distribution peer or the __http child that goes away must not kill the job. */
        signal(SIGPIPE, SIG_IGN);
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
                        cli_exe = argv[++i];
                else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
                        cli.config_path = argv[++i];
                else
                        return usage("unexpected argument", argv[i]);
        }
        if (!cli_exe || cli_exe[0] != '/')
                return usage("--cli needs the absolute path of the deployex binary", NULL);
        if (i >= argc)
                return usage("no command", NULL);
        for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
                if (strcmp(argv[i], commands[k]->name) == 0) {
                        api_http_exec_program(cli_exe);
                        api_set_http(api_http_exec);
                        return commands[k]->run(&cli, argc - i, argv + i);
                }
        return usage("unknown command", argv[i]);
}
