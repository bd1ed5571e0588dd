/* deployex version: a file of its own, so that it links without hash-password's libcrypt. */
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "base/banned.h"

static int run_version(const struct cli *cli, int argc, char **argv)
{
        (void)cli;
        /* DESIGN §3: every reader takes --json; the version is a constant, no escaping needed. */
        if (argc == 2 && strcmp(argv[1], "--json") == 0) {
                printf("{\"version\":\"%s\"}\n", DEPLOYEX_VERSION);
                return EXIT_OK;
        }
        if (argc != 1)
                return cli_usage_error(&cmd_version, "takes only --json");
        printf("deployex %s\n", DEPLOYEX_VERSION);
        return EXIT_OK;
}

const struct cli_command cmd_version = {
        .name = "version",
        .usage = "version [--json]",
        .summary = "print the version",
        .help = "",
        .run = run_version,
};
