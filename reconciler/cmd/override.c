/*
 * The writers: pin, unpin, pause, resume, restart, unghost.  The work is in
 * actions.c, shared with the web UI; here only the arguments and the output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/shared/actions.h"
#include "reconciler/cmd/cli.h"
#include "base/banned.h"

/*
 * Load the configuration, find the app, run the action, print its one-line
 * result (stdout) or error (stderr).
 */
typedef int (*app_action_fn)(const struct config *c, const struct app_config *app,
                             const void *arg, const struct action_origin *o, struct buf *msg,
                             struct buf *err);

static int with_app(const struct cli_command *cmd, const struct cli *cli, const char *app_name,
                    app_action_fn fn, const void *arg)
{
        struct action_origin o = action_origin_cli();
        struct buf msg = BUF_INIT, err = BUF_INIT;
        const struct app_config *app;
        struct config c;
        int r, status = EXIT_FAIL;

        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if ((app = cli_find_app(&c, app_name))) {
                r = fn(&c, app, arg, &o, &msg, &err);
                if (msg.len)
                        printf("%s\n", msg.data);
                if (err.len)
                        fprintf(stderr, "deployex %s: %s\n", cmd->name, err.data);
                status = r < 0 ? EXIT_FAIL : EXIT_OK;
        }
        config_release(&c);
        buf_release(&msg);
        buf_release(&err);
        return status;
}

struct pin_arg {
        const char *version;
        bool force;
};

static int do_pin(const struct config *c, const struct app_config *app, const void *arg,
                  const struct action_origin *o, struct buf *msg, struct buf *err)
{
        const struct pin_arg *a = arg;

        return action_pin(c, app, a->version, a->force, o, msg, err);
}

static int run_pin(const struct cli *cli, int argc, char **argv)
{
        struct pin_arg a = { NULL, false };
        const char *pos[2];
        int npos = 0;

        /* DESIGN §3 writes `pin APP VERSION ... unless --force`: the flag goes anywhere. */
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--force") == 0)
                        a.force = true;
                else if (argv[i][0] == '-')
                        return cli_usage_error(&cmd_pin, "unknown option '%s'", argv[i]);
                else if (npos < 2)
                        pos[npos++] = argv[i];
                else
                        return cli_usage_error(&cmd_pin, "unexpected argument '%s'", argv[i]);
        }
        if (npos != 2)
                return cli_usage_error(&cmd_pin, "expected APP and VERSION");
        if (!version_is_valid(pos[1])) {
                fprintf(stderr, "deployex pin: '%s' is not a version ([A-Za-z0-9._+-]{1,64})\n",
                        pos[1]);
                return EXIT_FAIL;
        }
        a.version = pos[1];
        return with_app(&cmd_pin, cli, pos[0], do_pin, &a);
}

static int do_unpin(const struct config *c, const struct app_config *app, const void *arg,
                    const struct action_origin *o, struct buf *msg, struct buf *err)
{
        (void)arg;
        return action_unpin(c, app, o, msg, err);
}

static int run_unpin(const struct cli *cli, int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cmd_unpin, "expected APP");
        return with_app(&cmd_unpin, cli, argv[1], do_unpin, NULL);
}

static int do_pause(const struct config *c, const struct app_config *app, const void *arg,
                    const struct action_origin *o, struct buf *msg, struct buf *err)
{
        return action_pause(c, app, *(const bool *)arg, o, msg, err);
}

static int run_pause(const struct cli *cli, int argc, char **argv)
{
        static const bool paused = true;

        if (argc != 2)
                return cli_usage_error(&cmd_pause, "expected APP");
        return with_app(&cmd_pause, cli, argv[1], do_pause, &paused);
}

static int run_resume(const struct cli *cli, int argc, char **argv)
{
        static const bool paused = false;

        if (argc != 2)
                return cli_usage_error(&cmd_resume, "expected APP");
        return with_app(&cmd_resume, cli, argv[1], do_pause, &paused);
}

static int do_restart(const struct config *c, const struct app_config *app, const void *arg,
                      const struct action_origin *o, struct buf *msg, struct buf *err)
{
        return action_restart(c, app, *(const int *)arg, o, msg, err);
}

static int run_restart(const struct cli *cli, int argc, char **argv)
{
        int instance = 0;

        if (argc != 2 && argc != 3)
                return cli_usage_error(&cmd_restart, "expected APP [N]");
        if (argc == 3 && (parse_int(argv[2], &instance) < 0 || instance < 1))
                return cli_usage_error(&cmd_restart, "N must be an instance number, got '%s'",
                                       argv[2]);
        return with_app(&cmd_restart, cli, argv[1], do_restart, &instance);
}

static int do_unghost(const struct config *c, const struct app_config *app, const void *arg,
                      const struct action_origin *o, struct buf *msg, struct buf *err)
{
        return action_unghost(c, app, arg, o, msg, err);
}

static int run_unghost(const struct cli *cli, int argc, char **argv)
{
        bool all;

        if (argc != 3)
                return cli_usage_error(&cmd_unghost, "expected APP and VERSION or --all");
        all = strcmp(argv[2], "--all") == 0;
        if (!all && argv[2][0] == '-')
                return cli_usage_error(&cmd_unghost, "unknown option '%s'", argv[2]);
        return with_app(&cmd_unghost, cli, argv[1], do_unghost, all ? NULL : argv[2]);
}

const struct cli_command cmd_pin = {
        .name = "pin",
        .usage = "pin [--force] APP VERSION",
        .summary = "deploy VERSION and stop following the bucket",
        .help = "Writes {\"version\": VERSION} into the app's override file. While pinned, the\n"
                "bucket's current.json is not consulted for the version. Exits 1 without\n"
                "writing when VERSION is ghosted or not published (its tarball is neither in\n"
                "the bucket nor in this host's cache); --force writes it anyway (the\n"
                "reconciler still refuses a ghosted version until it is unghosted).\n",
        .run = run_pin,
};

const struct cli_command cmd_unpin = {
        .name = "unpin",
        .usage = "unpin APP",
        .summary = "remove the pin; follow the bucket's current.json again",
        .help = "",
        .run = run_unpin,
};

const struct cli_command cmd_pause = {
        .name = "pause",
        .usage = "pause APP",
        .summary = "hold deploy steps (crash restarts continue)",
        .help = "Writes {\"paused\": true}. Plans are still computed and shown; no deploy,\n"
                "rollback or restart step runs until 'deployex resume APP'.\n",
        .run = run_pause,
};

const struct cli_command cmd_resume = {
        .name = "resume",
        .usage = "resume APP",
        .summary = "allow deploy steps again",
        .help = "",
        .run = run_resume,
};

const struct cli_command cmd_restart = {
        .name = "restart",
        .usage = "restart APP [N]",
        .summary = "rolling restart of all instances, or of instance N",
        .help = "Writes a new restart token into the override file (\"restart\", or\n"
                "\"restart_instances\": {\"N\": token}). The reconciler restarts the instances\n"
                "one at a time, each after the previous one is ready again.\n",
        .run = run_restart,
};

const struct cli_command cmd_unghost = {
        .name = "unghost",
        .usage = "unghost APP VERSION|--all",
        .summary = "allow a ghosted version (or all) to be deployed again",
        .help = "",
        .run = run_unghost,
};
