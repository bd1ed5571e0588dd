/*
 * deployex __apps: the configured apps, one "NAME REPLICAS" line each, for
 * the shell completion (share/bash-completion/completions/deployex).  It reads
 * the configuration alone: no bucket, no state, so completing never waits on
 * the network.  Hidden: not a command an operator types.
 */
#include <stdio.h>

#include "reconciler/cmd/cli.h"
#include "base/banned.h"

static int run_x_apps(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        int r;

        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_x_apps, "expected no argument");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        for (size_t i = 0; i < c.napps; i++)
                printf("%s %d\n", c.apps[i].name, c.apps[i].replicas);
        config_release(&c);
        return EXIT_OK;
}

const struct cli_command cmd_x_apps = {
        .name = "__apps",
        .usage = "__apps",
        .summary = "print the configured apps and their replicas (for shell completion)",
        .help = "One line per app: NAME REPLICAS.\n",
        .run = run_x_apps,
};
