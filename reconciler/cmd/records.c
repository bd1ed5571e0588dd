/*
 * The record readers: history, ghosts (unghost is with the writers).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/shared/report.h"
#include "base/fsutil.h"
#include "state/ghosts.h"
#include "state/history.h"
#include "state/json.h"
#include "state/lock.h"
#include "state/paths.h"
#include "base/banned.h"

/* Sort by time, keeping file order among equal times (qsort is not stable). */
struct event_key {
        uint64_t at_ms;
        size_t index;
};

static int by_time(const void *a, const void *b)
{
        const struct event_key *x = a, *y = b;

        if (x->at_ms != y->at_ms)
                return x->at_ms < y->at_ms ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

static void sort_events(struct history_list *l)
{
        struct event_key *keys = xcalloc(l->n + 1, sizeof(*keys));
        struct history_event *sorted = xcalloc(l->n + 1, sizeof(*sorted));

        for (size_t i = 0; i < l->n; i++)
                keys[i] = (struct event_key){ l->items[i].at_ms, i };
        qsort(keys, l->n, sizeof(*keys), by_time);
        for (size_t i = 0; i < l->n; i++)
                sorted[i] = l->items[keys[i].index];
        free(l->items);
        free(keys);
        l->items = sorted;
        l->cap = l->n + 1;
}

/* Append app's events at or after since_ms to all. */
static int load_history(const struct config *c, const struct app_config *app, uint64_t since_ms,
                        struct history_list *all)
{
        struct history_list h;
        struct buf path = BUF_INIT, err = BUF_INIT;
        int r;

        memset(&h, 0, sizeof(h));
        path_history(c, app->name, &path);
        r = history_load(path.data, &h, &err);
        if (r < 0)
                fprintf(stderr, "deployex history: %s\n", err.data);
        if (h.skipped)
                fprintf(stderr, "deployex history: %s: skipped %zu malformed line%s\n", path.data,
                        h.skipped, h.skipped == 1 ? "" : "s");
        for (size_t i = 0; r >= 0 && i < h.n; i++) {
                if (h.items[i].at_ms < since_ms)
                        continue;
                xgrow((void **)&all->items, &all->cap, all->n + 1, sizeof(*all->items));
                all->items[all->n++] = h.items[i];
        }
        history_release(&h);
        buf_release(&path);
        buf_release(&err);
        return r;
}

static int run_history(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct history_list all;
        struct buf line = BUF_INIT;
        const struct app_config *app = NULL;
        const char *name = NULL;
        uint64_t since_ms = 0, limit = 0;
        bool json = false, loaded = false;
        size_t first;
        int r, status = EXIT_FAIL;

        memset(&all, 0, sizeof(all));
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0) {
                        json = true;
                } else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--since") == 0) {
                        if (i + 1 >= argc)
                                return cli_usage_error(&cmd_history, "%s needs a value", argv[i]);
                        if (argv[i][1] == 'n' && (parse_u64(argv[i + 1], &limit) < 0 || limit == 0))
                                return cli_usage_error(&cmd_history, "-n: '%s' is not a positive number",
                                                       argv[i + 1]);
                        if (argv[i][1] == '-' &&
                            cli_parse_since(argv[i + 1], time_now_ms(), &since_ms) < 0)
                                return cli_usage_error(&cmd_history, "--since: '%s' is neither a time "
                                                       "(2026-11-26T05:00:00Z) nor a duration (90s, 15m, 2h, 3d)",
                                                       argv[i + 1]);
                        i++;
                } else if (argv[i][0] == '-') {
                        return cli_usage_error(&cmd_history, "unknown option '%s'", argv[i]);
                } else if (!name) {
                        name = argv[i];
                } else {
                        return cli_usage_error(&cmd_history, "unexpected argument '%s'", argv[i]);
                }
        }
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        loaded = true;
        if (cli_check_state_readable(&cmd_history, &c) != EXIT_OK ||
            (name && !(app = cli_find_app(&c, name))))
                goto out;
        for (size_t i = 0; i < c.napps; i++)
                if ((!app || app == &c.apps[i]) && load_history(&c, &c.apps[i], since_ms, &all) < 0)
                        goto out;
        /* Apps interleave by time; each app's events keep their file order. */
        if (!app && all.n > 1)
                sort_events(&all);
        first = limit && all.n > limit ? all.n - (size_t)limit : 0;
        if (json)
                printf("[");
        else if (all.n > first)
                printf("%-20s  %-12s  %-8s %-25s  %s\n", "TIME", "INSTANCE", "KIND", "FROM -> TO", "RESULT");
        for (size_t i = first; i < all.n; i++) {
                const struct history_event *e = &all.items[i];
                if (json) {
                        buf_reset(&line);
                        history_event_to_json(e, &line);
                        printf("%s%s", i > first ? ",\n " : "", line.data);
                } else {
                        char at[32], who[48], move[2 * VERSION_MAX + 8];
                        time_format_iso(e->at_ms, at, sizeof(at));
                        snprintf(who, sizeof(who), "%s/%d", e->app, e->instance);
                        snprintf(move, sizeof(move), "%s -> %s", e->from[0] ? e->from : "none", e->version);
                        printf("%-20s  %-12s  %-8s %-25s  %s%s%s\n", at, who,
                               history_kind_to_string(e->kind), move, e->ok ? "ok" : "FAILED",
                               e->reason[0] ? "  " : "", e->reason);
                }
        }
        if (json)
                printf("]\n");
        else if (all.n == first)
                printf("%s: no deployment events%s\n", app ? app->name : "every app",
                       since_ms ? " in that time" : " yet");
        status = EXIT_OK;
out:
        free(all.items);
        if (loaded)
                config_release(&c);
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
        if (cli_check_state_readable(&cmd_ghosts, &c) != EXIT_OK || !(app = cli_find_app(&c, name)))
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
        else /* DESIGN §3: human output has a header line. */
                printf("%-16s %-20s  %s\n", "VERSION", "AT", "REASON");
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
        .usage = "history [--json] [-n N] [--since T] [APP]",
        .summary = "deployment events, oldest first (every app without APP)",
        .help = "Reads state/APP/history.jsonl: every deploy, rollback and restart with its\n"
                "result and reason.  Without APP, the events of every app, merged by time.\n\n"
                "  -n N       the last N events only\n"
                "  --since T  events at or after T: a time (2026-11-26T05:00:00Z) or a\n"
                "             duration before now (90s, 15m, 2h, 3d)\n"
                "  --json     an array of {\"at\", \"app\", \"instance\", \"kind\", \"from\",\n"
                "             \"version\", \"hash\", \"result\", \"reason\"}\n",
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
