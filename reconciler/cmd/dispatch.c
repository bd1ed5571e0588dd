/*
 * dispatch: the global options and the choice of command, shared by the full
 * program (main.c) and the lean front (front_main.c), so that both read a
 * command line the same way and the usage and its errors have one source.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "base/banned.h"

static const struct cli_command *find(const struct cli_table *t, const char *name)
{
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->commands[i]->name, name) == 0)
                        return t->commands[i];
        return NULL;
}

static void print_usage(const struct cli_table *t, FILE *f)
{
        fprintf(f, "usage: deployex [-c FILE] COMMAND [ARGS]\n\n"
                   "Deploys and supervises BEAM releases from a bucket, driven by state files.\n\n"
                   "Commands:\n");
        for (size_t i = 0; i < t->n; i++)
                if (strncmp(t->commands[i]->name, "__", 2) != 0)
                        fprintf(f, "  %-32s %s\n", t->commands[i]->usage, t->commands[i]->summary);
        fprintf(f, "\nOptions:\n"
                   "  -c FILE     configuration file (else $DEPLOYEX_CONFIG, else %s)\n"
                   "  -h, --help  this text; 'deployex COMMAND --help' for one command\n"
                   "\nExit status: 0 ok, 1 failure, 2 usage error.\n",
                DEFAULT_CONFIG_PATH);
}

/*
 * The usage (on stdout for -h, on stderr after a usage error) lists every
 * command: in the lean front, whose table holds a few, the full program
 * prints it.
 */
static int usage(const struct cli_table *t, FILE *f, int status)
{
        if (t->elsewhere)
                return t->elsewhere();
        print_usage(t, f);
        return status;
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

int cli_main(const struct cli_table *t, struct cli *cli, int argc, char **argv)
{
        const struct cli_command *cmd;
        int i = 1;

        /*
         * A reader piped into `head` must not die of SIGPIPE half-way through a
         * write.  (The full program, run by the front, sets the same.)
         */
        signal(SIGPIPE, SIG_IGN);
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "-c") == 0) {
                        if (i + 1 >= argc) {
                                if (t->elsewhere)
                                        return t->elsewhere();
                                fprintf(stderr, "deployex: -c needs a FILE\n");
                                return usage(t, stderr, EXIT_USAGE);
                        }
                        cli->config_path = argv[++i];
                } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        return usage(t, stdout, EXIT_OK);
                } else if (strcmp(argv[i], "--version") == 0 && (cmd = find(t, "version"))) {
                        return cmd->run(cli, 1, (char *[]){ (char *)"version", NULL });
                } else {
                        if (t->elsewhere)
                                return t->elsewhere();
                        fprintf(stderr, "deployex: unknown option '%s'\n", argv[i]);
                        return usage(t, stderr, EXIT_USAGE);
                }
        }
        if (i >= argc)
                return usage(t, stderr, EXIT_USAGE);
        if (strcmp(argv[i], "help") == 0) {
                if (i + 1 < argc && (cmd = find(t, argv[i + 1]))) {
                        cli_print_help(cmd);
                        return EXIT_OK;
                }
                return usage(t, stdout, EXIT_OK);
        }
        cmd = find(t, argv[i]);
        if (!cmd) {
                if (t->elsewhere)
                        return t->elsewhere();
                fprintf(stderr, "deployex: unknown command '%s' (see 'deployex --help')\n", argv[i]);
                return EXIT_USAGE;
        }
        if (cli_wants_help(argc - i, argv + i)) {
                cli_print_help(cmd);
                return EXIT_OK;
        }
        return cmd->run(cli, take_late_config(cli, cmd, argc - i, argv + i), argv + i);
}
