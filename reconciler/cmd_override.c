/*
 * The override writers: pin, unpin, pause, resume, restart.  Each is a
 * read-modify-write of {overrides_path}/{app}.json under a lock, written
 * atomically; the daemon notices through inotify.  Keys the command does
 * not own are kept as they are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../state/fsutil.h"
#include "../state/ghosts.h"
#include "../state/lock.h"
#include "../state/override.h"
#include "../state/paths.h"
#include "../state/banned.h"

typedef int (*override_edit_fn)(const struct app_config *app, struct override *o, void *arg);

static int edit_override(const struct cli_command *cmd, const struct cli *cli, const char *app_name,
                         override_edit_fn edit, void *arg)
{
        struct config c;
        struct override o;
        struct buf path = BUF_INIT, err = BUF_INIT, text = BUF_INIT;
        const struct app_config *app;
        int r, lock = -1, status = EXIT_FAIL;

        memset(&o, 0, sizeof(o));
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (!(app = cli_find_app(&c, app_name)))
                goto out;
        if ((r = mkdir_p(c.overrides_path, 0750)) < 0) {
                fprintf(stderr, "deployex %s: cannot create '%s': %s\n", cmd->name,
                        c.overrides_path, strerror(-r));
                goto out;
        }
        path_override(&c, app->name, &path);
        if ((lock = file_lock(path.data)) < 0) {
                fprintf(stderr, "deployex %s: cannot lock '%s': %s\n", cmd->name, path.data,
                        strerror(-lock));
                goto out;
        }
        r = override_load(path.data, &o, &err);
        if (r < 0 && r != -ENOENT) {
                fprintf(stderr, "deployex %s: %s; fix or remove the file first\n", cmd->name,
                        err.data);
                goto out;
        }
        if ((r = edit(app, &o, arg)) != EXIT_OK) {
                status = r;
                goto out;
        }
        if ((r = override_save(path.data, &o)) < 0) {
                fprintf(stderr, "deployex %s: cannot write '%s': %s\n", cmd->name, path.data,
                        strerror(-r));
                goto out;
        }
        override_to_json(&o, &text);
        printf("%s: %s\n", path.data, text.data);
        status = EXIT_OK;
out:
        file_unlock(lock);
        override_release(&o);
        config_release(&c);
        buf_release(&path);
        buf_release(&err);
        buf_release(&text);
        return status;
}

/* --- pin / unpin --- */

struct pin_arg {
        const struct cli *cli;
        const char *version;
};

static int edit_pin(const struct app_config *app, struct override *o, void *arg)
{
        struct pin_arg *a = arg;

        (void)app;
        str_copy(o->version, sizeof(o->version), a->version);
        return EXIT_OK;
}

/* A pin to a ghosted version is written (the operator asked) but will be refused: say so. */
static void warn_if_ghosted(const struct cli *cli, const char *app_name, const char *version)
{
        struct config c;
        struct ghost_list ghosts;
        struct buf path = BUF_INIT, err = BUF_INIT;
        const struct ghost *g;

        memset(&ghosts, 0, sizeof(ghosts));
        if (config_load(cli->config_path, &c, &err) < 0)
                goto out_buf;
        path_ghosts(&c, app_name, &path);
        if (ghosts_load(path.data, &ghosts, &err) == 0 && (g = ghosts_find(&ghosts, version)))
                fprintf(stderr,
                        "deployex pin: warning: %s %s is ghosted (%s); the pin is refused until "
                        "'deployex unghost %s %s'\n",
                        app_name, version, g->reason, app_name, version);
        ghosts_release(&ghosts);
        config_release(&c);
out_buf:
        buf_release(&path);
        buf_release(&err);
}

static int run_pin(const struct cli *cli, int argc, char **argv)
{
        struct pin_arg a = { cli, NULL };
        int r;

        if (argc != 3)
                return cli_usage_error(&cmd_pin, "expected APP and VERSION");
        if (!version_is_valid(argv[2])) {
                fprintf(stderr, "deployex pin: '%s' is not a version ([A-Za-z0-9._+-]{1,64})\n",
                        argv[2]);
                return EXIT_FAIL;
        }
        a.version = argv[2];
        r = edit_override(&cmd_pin, cli, argv[1], edit_pin, &a);
        if (r == EXIT_OK)
                warn_if_ghosted(cli, argv[1], argv[2]);
        return r;
}

static int edit_unpin(const struct app_config *app, struct override *o, void *arg)
{
        (void)app;
        (void)arg;
        o->version[0] = '\0';
        return EXIT_OK;
}

static int run_unpin(const struct cli *cli, int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cmd_unpin, "expected APP");
        return edit_override(&cmd_unpin, cli, argv[1], edit_unpin, NULL);
}

/* --- pause / resume --- */

static int edit_paused(const struct app_config *app, struct override *o, void *arg)
{
        (void)app;
        o->paused = *(bool *)arg;
        return EXIT_OK;
}

static int run_pause(const struct cli *cli, int argc, char **argv)
{
        bool paused = true;

        if (argc != 2)
                return cli_usage_error(&cmd_pause, "expected APP");
        return edit_override(&cmd_pause, cli, argv[1], edit_paused, &paused);
}

static int run_resume(const struct cli *cli, int argc, char **argv)
{
        bool paused = false;

        if (argc != 2)
                return cli_usage_error(&cmd_resume, "expected APP");
        return edit_override(&cmd_resume, cli, argv[1], edit_paused, &paused);
}

/* --- restart --- */

struct restart_arg {
        int instance; /* 0 = all, rolling */
        char token[TOKEN_MAX + 1];
};

static int edit_restart(const struct app_config *app, struct override *o, void *arg)
{
        struct restart_arg *a = arg;

        if (a->instance == 0) {
                str_copy(o->restart, sizeof(o->restart), a->token);
                return EXIT_OK;
        }
        if (a->instance > app->replicas) {
                fprintf(stderr, "deployex restart: %s has %d replica%s; no instance %d\n",
                        app->name, app->replicas, app->replicas == 1 ? "" : "s", a->instance);
                return EXIT_FAIL;
        }
        override_set_instance_token(o, a->instance, a->token);
        return EXIT_OK;
}

static int run_restart(const struct cli *cli, int argc, char **argv)
{
        struct restart_arg a = { 0, "" };
        char at[32];

        if (argc != 2 && argc != 3)
                return cli_usage_error(&cmd_restart, "expected APP [N]");
        if (argc == 3 && (parse_int(argv[2], &a.instance) < 0 || a.instance < 1))
                return cli_usage_error(&cmd_restart, "N must be an instance number, got '%s'",
                                       argv[2]);
        /* A token that is new every time: the time, then the pid to split the same second. */
        time_format_iso(time_now_ms(), at, sizeof(at));
        snprintf(a.token, sizeof(a.token), "%s-%d", at, (int)getpid());
        return edit_override(&cmd_restart, cli, argv[1], edit_restart, &a);
}

const struct cli_command cmd_pin = {
        .name = "pin",
        .usage = "pin APP VERSION",
        .summary = "deploy VERSION and stop following the bucket",
        .help = "Writes {\"version\": VERSION} into the app's override file. While pinned, the\n"
                "bucket's current.json is not consulted for the version. A pin to a ghosted\n"
                "version is refused by the reconciler (status shows why) until it is unghosted.\n",
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
