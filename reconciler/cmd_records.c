/*
 * The record readers and the one record writer an operator needs:
 * history, ghosts, unghost.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "../state/fsutil.h"
#include "../state/ghosts.h"
#include "../state/history.h"
#include "../state/json.h"
#include "../state/lock.h"
#include "../state/paths.h"
#include "../state/banned.h"

static int run_history(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct history_list h;
        struct buf path = BUF_INIT, err = BUF_INIT, line = BUF_INIT;
        const struct app_config *app;
        const char *name = NULL;
        bool json = false;
        int r, status = EXIT_FAIL;

        memset(&h, 0, sizeof(h));
        if ((r = cli_parse_json_app(&cmd_history, argc, argv, true, &json, &name)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (!(app = cli_find_app(&c, name)))
                goto out;
        path_history(&c, app->name, &path);
        if (history_load(path.data, &h, &err) < 0) {
                fprintf(stderr, "deployex history: %s\n", err.data);
                goto out;
        }
        if (h.skipped)
                fprintf(stderr, "deployex history: %s: skipped %zu malformed line%s\n", path.data,
                        h.skipped, h.skipped == 1 ? "" : "s");
        if (json)
                printf("[");
        for (size_t i = 0; i < h.n; i++) {
                const struct history_event *e = &h.items[i];
                if (json) {
                        buf_reset(&line);
                        history_event_to_json(e, &line);
                        printf("%s%s", i ? ",\n " : "", line.data);
                } else {
                        char at[32];
                        time_format_iso(e->at_ms, at, sizeof(at));
                        printf("%s  %s/%d  %-8s %s -> %s  %s%s%s\n", at, e->app, e->instance,
                               history_kind_to_string(e->kind), e->from[0] ? e->from : "none",
                               e->version, e->ok ? "ok" : "FAILED", e->reason[0] ? "  " : "",
                               e->reason);
                }
        }
        if (json)
                printf("]\n");
        else if (h.n == 0)
                printf("%s: no deployment events yet\n", app->name);
        status = EXIT_OK;
out:
        history_release(&h);
        config_release(&c);
        buf_release(&path);
        buf_release(&err);
        buf_release(&line);
        return status;
}

static int run_ghosts(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct ghost_list l;
        struct buf path = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
        const struct app_config *app;
        const char *name = NULL;
        bool json = false;
        int r, status = EXIT_FAIL;

        memset(&l, 0, sizeof(l));
        if ((r = cli_parse_json_app(&cmd_ghosts, argc, argv, true, &json, &name)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (!(app = cli_find_app(&c, name)))
                goto out;
        path_ghosts(&c, app->name, &path);
        if (ghosts_load(path.data, &l, &err) < 0) {
                fprintf(stderr, "deployex ghosts: %s\n", err.data);
                goto out;
        }
        if (json) {
                ghosts_to_json(&l, &out);
                printf("%s\n", out.data);
        } else if (l.n == 0) {
                printf("%s: no ghosted versions\n", app->name);
        }
        for (size_t i = 0; !json && i < l.n; i++) {
                char at[32];
                time_format_iso(l.items[i].at_ms, at, sizeof(at));
                printf("%-16s %s  %s\n", l.items[i].version, at, l.items[i].reason);
        }
        status = EXIT_OK;
out:
        ghosts_release(&l);
        config_release(&c);
        buf_release(&path);
        buf_release(&err);
        buf_release(&out);
        return status;
}

static int run_unghost(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct ghost_list l;
        struct buf path = BUF_INIT, dir = BUF_INIT, err = BUF_INIT;
        const struct app_config *app;
        bool all;
        int r, lock = -1, status = EXIT_FAIL;

        memset(&l, 0, sizeof(l));
        if (argc != 3)
                return cli_usage_error(&cmd_unghost, "expected APP and VERSION or --all");
        all = strcmp(argv[2], "--all") == 0;
        if (!all && argv[2][0] == '-')
                return cli_usage_error(&cmd_unghost, "unknown option '%s'", argv[2]);
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (!(app = cli_find_app(&c, argv[1])))
                goto out;
        path_state_dir(&c, app->name, &dir);
        path_ghosts(&c, app->name, &path);
        if ((r = mkdir_p(dir.data, 0700)) < 0 || (lock = file_lock(path.data)) < 0) {
                fprintf(stderr, "deployex unghost: cannot lock '%s': %s\n", path.data,
                        strerror(-(r < 0 ? r : lock)));
                goto out;
        }
        if (ghosts_load(path.data, &l, &err) < 0) {
                fprintf(stderr, "deployex unghost: %s\n", err.data);
                goto out;
        }
        if (all) {
                l.n = 0;
        } else if (!ghosts_remove(&l, argv[2])) {
                fprintf(stderr, "deployex unghost: %s %s is not ghosted (see 'deployex ghosts %s')\n",
                        app->name, argv[2], app->name);
                goto out;
        }
        if ((r = ghosts_save(path.data, &l)) < 0) {
                fprintf(stderr, "deployex unghost: cannot write '%s': %s\n", path.data,
                        strerror(-r));
                goto out;
        }
        printf("%s: unghosted %s\n", app->name, all ? "every version" : argv[2]);
        status = EXIT_OK;
out:
        file_unlock(lock);
        ghosts_release(&l);
        config_release(&c);
        buf_release(&path);
        buf_release(&dir);
        buf_release(&err);
        return status;
}

const struct cli_command cmd_history = {
        .name = "history",
        .usage = "history [--json] APP",
        .summary = "deployment events, oldest first",
        .help = "Reads state/APP/history.jsonl: every deploy, rollback and restart with its\n"
                "result and reason.\n\n"
                "  --json   an array of {\"at\", \"app\", \"instance\", \"kind\", \"from\",\n"
                "           \"version\", \"hash\", \"result\", \"reason\"}\n",
        .run = run_history,
};

const struct cli_command cmd_ghosts = {
        .name = "ghosts",
        .usage = "ghosts [--json] APP",
        .summary = "ghosted versions with reason and time",
        .help = "A ghosted version failed to become ready and is never deployed again until\n"
                "'deployex unghost'.\n",
        .run = run_ghosts,
};

const struct cli_command cmd_unghost = {
        .name = "unghost",
        .usage = "unghost APP VERSION|--all",
        .summary = "allow a ghosted version (or all) to be deployed again",
        .help = "",
        .run = run_unghost,
};
