/*
 * The record readers: history, ghosts (unghost is with the writers).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report.h"
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
        struct buf path = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
        const struct app_config *app;
        const char *name = NULL;
        bool json = false;
        size_t skipped = 0;
        int r, status = EXIT_FAIL;

        memset(&h, 0, sizeof(h));
        if ((r = cli_parse_json_app(&cmd_history, argc, argv, true, &json, &name)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (!(app = cli_find_app(&c, name)))
                goto out;
        path_history(&c, app->name, &path);
        if (json) {
                if (report_history_json(&c, app, &out, &skipped, &err) < 0) {
                        fprintf(stderr, "deployex history: %s\n", err.data);
                        goto out;
                }
                printf("%s\n", out.data);
        } else {
                if (history_load(path.data, &h, &err) < 0) {
                        fprintf(stderr, "deployex history: %s\n", err.data);
                        goto out;
                }
                skipped = h.skipped;
                for (size_t i = 0; i < h.n; i++) {
                        const struct history_event *e = &h.items[i];
                        char at[32];

                        time_format_iso(e->at_ms, at, sizeof(at));
                        printf("%s  %s/%d  %-8s %s -> %s  %s%s%s\n", at, e->app, e->instance,
                               history_kind_to_string(e->kind), e->from[0] ? e->from : "none",
                               e->version, e->ok ? "ok" : "FAILED", e->reason[0] ? "  " : "",
                               e->reason);
                }
                if (h.n == 0)
                        printf("%s: no deployment events yet\n", app->name);
        }
        if (skipped)
                fprintf(stderr, "deployex history: %s: skipped %zu malformed line%s\n", path.data,
                        skipped, skipped == 1 ? "" : "s");
        status = EXIT_OK;
out:
        history_release(&h);
        config_release(&c);
        buf_release(&path);
        buf_release(&err);
        buf_release(&out);
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
        if (json) {
                if (report_ghosts_json(&c, app, &out, &err) < 0) {
                        fprintf(stderr, "deployex ghosts: %s\n", err.data);
                        goto out;
                }
                printf("%s\n", out.data);
                status = EXIT_OK;
                goto out;
        }
        path_ghosts(&c, app->name, &path);
        if (ghosts_load(path.data, &l, &err) < 0) {
                fprintf(stderr, "deployex ghosts: %s\n", err.data);
                goto out;
        }
        if (l.n == 0)
                printf("%s: no ghosted versions\n", app->name);
        for (size_t i = 0; i < l.n; i++) {
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
