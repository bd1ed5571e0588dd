/*
 * deployex: one binary, a command per verb (DESIGN §3).  main() only parses
 * the global options and dispatches; each command is in reconciler/cmd_*.c.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "lua/api_http.h"
#include "base/banned.h"

static const struct cli_command *const commands[] = {
        &cmd_run,     &cmd_check,   &cmd_plan,    &cmd_status, &cmd_history,
        &cmd_ghosts,  &cmd_pin,     &cmd_unpin,   &cmd_pause,  &cmd_resume,
        &cmd_restart, &cmd_unghost, &cmd_logs,    &cmd_remote, &cmd_rpc,     &cmd_eval,
        &cmd_hook,    &cmd_publish, &cmd_metrics, &cmd_audit,  &cmd_web, &cmd_rollout,
        &cmd_hash_password, &cmd_tls_init, &cmd_version,
        &cmd_x_hook,  &cmd_x_poll,  &cmd_x_poller, &cmd_x_fetch, &cmd_x_unpack, &cmd_x_log, &cmd_x_otp, &cmd_x_notify,
        &cmd_x_apps,  &cmd_x_websup, &cmd_x_ready, &cmd_x_fleet, &cmd_x_processes, &cmd_x_http,
};

const struct cli_command *cli_find_command(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (strcmp(commands[i]->name, name) == 0)
                        return commands[i];
        return NULL;
}

static void print_usage(FILE *f)
{
        fprintf(f, "usage: deployex [-c FILE] COMMAND [ARGS]\n\n"
                   "Deploys and supervises BEAM releases from a bucket, driven by state files.\n\n"
                   "Commands:\n");
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (strncmp(commands[i]->name, "__", 2) != 0)
                        fprintf(f, "  %-32s %s\n", commands[i]->usage, commands[i]->summary);
        fprintf(f, "\nOptions:\n"
                   "  -c FILE     configuration file (else $DEPLOYEX_CONFIG, else %s)\n"
                   "  -h, --help  this text; 'deployex COMMAND --help' for one command\n"
                   "\nExit status: 0 ok, 1 failure, 2 usage error.\n",
                DEFAULT_CONFIG_PATH);
}

/*
 * DESIGN §3 calls -c FILE a global option: `deployex status -c FILE` works
 * like `deployex -c FILE status`.  Commands whose arguments are free text
 * (a term, an expression, a shell command) are left alone, and so is
 * everything after "--".  Returns the new argc of the command's arguments.
 */
static int take_late_config(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
        static const char *const free_text[] = { "rpc", "eval", "remote", "publish", "hook" };
        int out = 1;

        if (strncmp(cmd->name, "__", 2) == 0)
                return argc;
        for (size_t k = 0; k < ARRAY_SIZE(free_text); k++)
                if (strcmp(cmd->name, free_text[k]) == 0)
                        return argc;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        while (i < argc)
                                argv[out++] = argv[i++];
                        break;
                }
                if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
                        cli->config_path = argv[++i];
                        continue;
                }
                argv[out++] = argv[i];
        }
        argv[out] = NULL;
        return out;
}

int main(int argc, char **argv)
{
        struct cli cli = { .config_path = NULL };
        const struct cli_command *cmd;
        int i = 1;

        /* A reader piped into `head` must not die of SIGPIPE half-way through a write. */
        signal(SIGPIPE, SIG_IGN);
        /* This binary links libcurl: deployex.http in the hooks it runs sends in process. */
        api_set_http(api_http_curl);

        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "-c") == 0) {
                        if (i + 1 >= argc) {
                                fprintf(stderr, "deployex: -c needs a FILE\n");
                                print_usage(stderr);
                                return EXIT_USAGE;
                        }
                        cli.config_path = argv[++i];
                } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        print_usage(stdout);
                        return EXIT_OK;
                } else if (strcmp(argv[i], "--version") == 0) {
                        return cmd_version.run(&cli, 1, (char *[]){ (char *)"version", NULL });
                } else {
                        fprintf(stderr, "deployex: unknown option '%s'\n", argv[i]);
                        print_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (i >= argc) {
                print_usage(stderr);
                return EXIT_USAGE;
        }
        if (strcmp(argv[i], "help") == 0) {
                if (i + 1 < argc && (cmd = cli_find_command(argv[i + 1]))) {
                        cli_print_help(cmd);
                        return EXIT_OK;
                }
                print_usage(stdout);
                return EXIT_OK;
        }
        cmd = cli_find_command(argv[i]);
        if (!cmd) {
                fprintf(stderr, "deployex: unknown command '%s' (see 'deployex --help')\n", argv[i]);
                return EXIT_USAGE;
        }
        if (cli_wants_help(argc - i, argv + i)) {
                cli_print_help(cmd);
                return EXIT_OK;
        }
        return cmd->run(&cli, take_late_config(&cli, cmd, argc - i, argv + i), argv + i);
}
