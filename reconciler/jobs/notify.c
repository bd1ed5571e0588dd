/*
 * deployex __notify (a daemon job, every NOTIFY_JOB_MS while "notify" or a
 * watchdog is configured): turn what the daemon recorded into events, queue
 * them, and deliver what is due (buckets/webhook.h).  The daemon's loop never
 * sends anything; it only starts this job.
 *
 * Events come from the state files, compared with a cursor kept in
 * state/notify/cursor.json:
 *   deployed     a new history event of kind full or hot with result ok
 *   rolled_back  a new history event of kind rollback
 *   ghosted      a version that appeared in ghosts.json
 *   crash_loop   an instance whose record shows CRASH_LOOP_CRASHES crashes in
 *                a row (once per streak)
 *   watchdog     an instance whose VM figures (otp.json, fresh, for the pid
 *                that runs) cross the app's watchdog thresholds (once per
 *                crossing); with action "restart" it is also restarted
 *                through the same override token as `deployex restart APP N`
 *                (a forced restart), and state/APP/watchdog.json says why.
 * The first run for an app only records where things stand: old history is
 * not announced.  The cursor is saved after the events are queued, and a
 * queued event is never queued twice (its id names its file), so a crash in
 * between delivers each event at least once, with the same id.
 *
 * Its answer (answer.h) is the lines the daemon logs: one per delivery,
 * failure or watchdog crossing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconciler/shared/actions.h"
#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/answer.h"
#include "base/proc.h"
#include "beam/otp.h"
#include "buckets/aws_sigv4.h"
#include "base/fsutil.h"
#include "state/ghosts.h"
#include "state/history.h"
#include "state/instance.h"
#include "state/json.h"
#include "state/node.h"
#include "state/paths.h"
#include "buckets/webhook.h"
#include "base/banned.h"

#define CRASH_LOOP_CRASHES 5 /* DESIGN §5: a crash loop is k reaching 5 */
#define MAX_TRACKED 128

/* Where the last run left an app. */
struct app_cursor {
        bool known;               /* false: first run for this app */
        uint64_t history_events;  /* good events of history.jsonl already seen */
        char ghosts[MAX_TRACKED][VERSION_MAX + 1];
        size_t nghosts;
        int looping[MAX_TRACKED]; /* instances in a crash loop already announced */
        size_t nlooping;
        int tripped[MAX_TRACKED]; /* instances over a watchdog threshold already announced */
        size_t ntripped;
        uint64_t watchdog_at;     /* last watchdog check */
};

static bool has_int(const int *list, size_t n, int v)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] == v)
                        return true;
        return false;
}

static void load_cursor(yajl_val root, const char *app, struct app_cursor *cur)
{
        yajl_val a = json_get(json_get(root, "apps"), app), x;

        memset(cur, 0, sizeof(*cur));
        if (!a || !YAJL_IS_OBJECT(a))
                return;
        cur->known = true;
        x = json_get(a, "history_events");
        cur->history_events = x && YAJL_IS_INTEGER(x) && YAJL_GET_INTEGER(x) > 0 ? (uint64_t)YAJL_GET_INTEGER(x) : 0;
        x = json_get(a, "watchdog_at");
        cur->watchdog_at = x && YAJL_IS_INTEGER(x) && YAJL_GET_INTEGER(x) > 0 ? (uint64_t)YAJL_GET_INTEGER(x) : 0;
        x = json_get(a, "ghosts");
        for (size_t i = 0; x && YAJL_IS_ARRAY(x) && i < x->u.array.len && cur->nghosts < MAX_TRACKED; i++)
                if (YAJL_IS_STRING(x->u.array.values[i]))
                        str_copy(cur->ghosts[cur->nghosts++], VERSION_MAX + 1, x->u.array.values[i]->u.string);
        x = json_get(a, "crash_loop");
        for (size_t i = 0; x && YAJL_IS_ARRAY(x) && i < x->u.array.len && cur->nlooping < MAX_TRACKED; i++)
                if (YAJL_IS_INTEGER(x->u.array.values[i]))
                        cur->looping[cur->nlooping++] = (int)YAJL_GET_INTEGER(x->u.array.values[i]);
        x = json_get(a, "watchdog");
        for (size_t i = 0; x && YAJL_IS_ARRAY(x) && i < x->u.array.len && cur->ntripped < MAX_TRACKED; i++)
                if (YAJL_IS_INTEGER(x->u.array.values[i]))
                        cur->tripped[cur->ntripped++] = (int)YAJL_GET_INTEGER(x->u.array.values[i]);
}

static void gen_cursor(yajl_gen g, const char *app, const struct app_cursor *cur)
{
        json_gen_str(g, app);
        yajl_gen_map_open(g);
        json_gen_kv_int(g, "history_events", (long long)cur->history_events);
        json_gen_kv_int(g, "watchdog_at", (long long)cur->watchdog_at);
        json_gen_str(g, "ghosts");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < cur->nghosts; i++)
                json_gen_str(g, cur->ghosts[i]);
        yajl_gen_array_close(g);
        json_gen_str(g, "crash_loop");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < cur->nlooping; i++)
                yajl_gen_integer(g, cur->looping[i]);
        yajl_gen_array_close(g);
        json_gen_str(g, "watchdog");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < cur->ntripped; i++)
                yajl_gen_integer(g, cur->tripped[i]);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
}

/* The event body: a flat object a receiver can read without knowing deployex. */
struct event {
        enum notify_event kind;
        const char *app;
        int instance;            /* 0: the app as a whole */
        const char *version, *from, *reason;
        uint64_t at_ms;
        char summary[1024];
};

/* The id: a digest of what makes the event this event, so a second queueing is the same file. */
static void event_id(const struct event *e, const char *salt, char id[33])
{
        struct buf key = BUF_INIT;
        char hex[65];

        buf_printf(&key, "%s|%s|%d|%s|%llu|%s", notify_event_to_string(e->kind), e->app, e->instance,
                   e->version ? e->version : "", (unsigned long long)e->at_ms, salt);
        aws_sha256_hex(key.data, key.len, hex);
        memcpy(id, hex, 32);
        id[32] = '\0';
        buf_release(&key);
}

static int queue_event(const struct config *c, const struct event *e, const char *salt, struct buf *log)
{
        struct buf body = BUF_INIT, host = BUF_INIT, err = BUF_INIT;
        char id[33], at[32];
        yajl_gen g = json_gen_new(&body);
        int r;

        event_id(e, salt, id);
        node_short_host(&host);
        time_format_iso(e->at_ms, at, sizeof(at));
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "id", id);
        json_gen_kv_str(g, "event", notify_event_to_string(e->kind));
        json_gen_kv_str(g, "host", host.data);
        json_gen_kv_str(g, "app", e->app);
        json_gen_str(g, "instance");
        if (e->instance > 0)
                yajl_gen_integer(g, e->instance);
        else
                yajl_gen_null(g);
        json_gen_kv_str(g, "version", e->version && e->version[0] ? e->version : NULL);
        json_gen_kv_str(g, "from", e->from && e->from[0] ? e->from : NULL);
        json_gen_kv_str(g, "reason", e->reason && e->reason[0] ? e->reason : NULL);
        json_gen_kv_str(g, "at", at);
        json_gen_kv_str(g, "summary", e->summary);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        r = webhook_enqueue(c, e->kind, id, body.data, time_now_ms(), &err);
        if (r < 0)
                buf_printf(log, "notify: cannot queue %s: %s\n", notify_event_to_string(e->kind), err.data);
        buf_release(&body);
        buf_release(&host);
        buf_release(&err);
        return r;
}

static int history_events(const struct config *c, const struct app_config *app, struct app_cursor *cur,
                          struct buf *log)
{
        struct history_list h;
        struct buf path = BUF_INIT, err = BUF_INIT;
        int r = 0;

        memset(&h, 0, sizeof(h));
        path_history(c, app->name, &path);
        if (history_load(path.data, &h, &err) < 0)
                goto out;
        if (!cur->known || h.n < cur->history_events)
                cur->history_events = h.n; /* first run, or the file was cut: start from here */
        for (size_t i = (size_t)cur->history_events; i < h.n && r == 0; i++) {
                const struct history_event *he = &h.items[i];
                struct event e = { .app = app->name, .instance = he->instance, .version = he->version,
                                   .from = he->from, .reason = he->reason, .at_ms = he->at_ms };
                char salt[32];

                if (he->kind == HISTORY_ROLLBACK) {
                        e.kind = NOTIFY_ROLLED_BACK;
                        snprintf(e.summary, sizeof(e.summary), "%s/%d rolled back from %s to %s%s%s",
                                 app->name, he->instance, he->from[0] ? he->from : "none", he->version,
                                 he->reason[0] ? ": " : "", he->reason);
                } else if ((he->kind == HISTORY_FULL || he->kind == HISTORY_HOT) && he->ok) {
                        e.kind = NOTIFY_DEPLOYED;
                        snprintf(e.summary, sizeof(e.summary), "%s/%d runs %s (%s deployment from %s)",
                                 app->name, he->instance, he->version,
                                 he->kind == HISTORY_HOT ? "hot" : "full", he->from[0] ? he->from : "none");
                } else {
                        cur->history_events = i + 1;
                        continue;
                }
                snprintf(salt, sizeof(salt), "h%zu", i);
                r = queue_event(c, &e, salt, log);
                if (r == 0)
                        cur->history_events = i + 1;
        }
out:
        history_release(&h);
        buf_release(&path);
        buf_release(&err);
        return r;
}

static void ghost_events(const struct config *c, const struct app_config *app, struct app_cursor *cur,
                         struct buf *log)
{
        struct ghost_list l;
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct app_cursor next = *cur;

        memset(&l, 0, sizeof(l));
        path_ghosts(c, app->name, &path);
        if (ghosts_load(path.data, &l, &err) < 0)
                goto out;
        next.nghosts = 0;
        for (size_t i = 0; i < l.n && next.nghosts < MAX_TRACKED; i++) {
                const struct ghost *gh = &l.items[i];
                bool seen = false;

                for (size_t k = 0; k < cur->nghosts && !seen; k++)
                        seen = strcmp(cur->ghosts[k], gh->version) == 0;
                if (!seen && cur->known) {
                        struct event e = { .kind = NOTIFY_GHOSTED, .app = app->name, .version = gh->version,
                                           .reason = gh->reason, .at_ms = gh->at_ms };

                        snprintf(e.summary, sizeof(e.summary), "%s %s is ghosted: %s", app->name,
                                 gh->version, gh->reason);
                        if (queue_event(c, &e, "g", log) < 0)
                                continue; /* not remembered: queued next time */
                }
                str_copy(next.ghosts[next.nghosts++], VERSION_MAX + 1, gh->version);
        }
        memcpy(cur->ghosts, next.ghosts, sizeof(cur->ghosts));
        cur->nghosts = next.nghosts;
out:
        ghosts_release(&l);
        buf_release(&path);
        buf_release(&err);
}

/* Why an instance's VM is over the app's thresholds, or "" when it is not. */
static void watchdog_reason(const struct watchdog_config *w, const struct otp_vm *vm, char *out, size_t n)
{
        out[0] = '\0';
        if (w->memory_mb && (uint64_t)vm->memory_bytes > w->memory_mb * 1024 * 1024)
                snprintf(out, n, "memory %lld MB over %llu MB", vm->memory_bytes / (1024 * 1024),
                         (unsigned long long)w->memory_mb);
        else if (w->processes_pct && vm->process_limit > 0 &&
                 vm->processes * 100 >= (long long)w->processes_pct * vm->process_limit)
                snprintf(out, n, "processes %lld of %lld, over %llu%%", vm->processes, vm->process_limit,
                         (unsigned long long)w->processes_pct);
        else if (w->atoms_pct && vm->atom_limit > 0 && vm->atoms * 100 >= (long long)w->atoms_pct * vm->atom_limit)
                snprintf(out, n, "atoms %lld of %lld, over %llu%%", vm->atoms, vm->atom_limit,
                         (unsigned long long)w->atoms_pct);
        else if (w->ports_pct && vm->port_limit > 0 && vm->ports * 100 >= (long long)w->ports_pct * vm->port_limit)
                snprintf(out, n, "ports %lld of %lld, over %llu%%", vm->ports, vm->port_limit,
                         (unsigned long long)w->ports_pct);
}

/* Crash loops and the watchdog: both read the instance records. */
static void instance_events(const struct config *c, const struct app_config *app, struct app_cursor *cur,
                            uint64_t now, struct buf *log)
{
        struct instance_record *recs = NULL;
        struct otp_probe *probes = NULL;
        size_t nrecs = 0, nprobes = 0, nloop = 0, ntrip = 0;
        struct buf path = BUF_INIT, err = BUF_INIT, wd = BUF_INIT;
        int looping[MAX_TRACKED], tripped[MAX_TRACKED];
        bool check_wd = app->watchdog.set && now >= cur->watchdog_at + app->watchdog.interval_ms;
        yajl_gen g = NULL;

        path_instances_dir(c, app->name, &path);
        (void)instance_records_load_dir(path.data, &recs, &nrecs, &err);
        path_otp_status(c, app->name, &path);
        if (check_wd && otp_status_load(path.data, &probes, &nprobes, &err) < 0)
                nprobes = 0;
        if (check_wd) {
                g = json_gen_new(&wd);
                yajl_gen_map_open(g);
                json_gen_kv_int(g, "at", (long long)now);
                json_gen_str(g, "instances");
                yajl_gen_map_open(g);
        }
        for (size_t i = 0; i < nrecs; i++) {
                const struct instance_record *r = &recs[i];
                const struct otp_probe *p = otp_status_find(probes, nprobes, r->instance);
                bool live = r->pid > 0 && proc_is_same(r->pid, r->proc_start_time);
                char why[160];

                if (r->consecutive_crashes >= CRASH_LOOP_CRASHES && nloop < MAX_TRACKED) {
                        if (!has_int(cur->looping, cur->nlooping, r->instance) && cur->known) {
                                struct event e = { .kind = NOTIFY_CRASH_LOOP, .app = app->name,
                                                   .instance = r->instance, .version = r->version,
                                                   .at_ms = r->last_exit_at_ms };
                                snprintf(e.summary, sizeof(e.summary), "%s/%d crashed %u times in a row (%s)",
                                         app->name, r->instance, r->consecutive_crashes,
                                         r->version[0] ? r->version : "no version");
                                if (queue_event(c, &e, "c", log) < 0)
                                        continue;
                        }
                        looping[nloop++] = r->instance;
                }
                if (!check_wd)
                        continue;
                if (live && p && p->has_vm && p->pid == r->pid && p->at_ms + OTP_FRESH_MS >= now)
                        watchdog_reason(&app->watchdog, &p->vm, why, sizeof(why));
                else if (has_int(cur->tripped, cur->ntripped, r->instance))
                        snprintf(why, sizeof(why), "%s", ""); /* no fresh figures: the crossing ends */
                else
                        why[0] = '\0';
                if (!why[0] || ntrip >= MAX_TRACKED)
                        continue;
                {
                        char key[16];
                        snprintf(key, sizeof(key), "%d", r->instance);
                        json_gen_str(g, key);
                        yajl_gen_map_open(g);
                        json_gen_kv_str(g, "reason", why);
                        json_gen_kv_str(g, "action", app->watchdog.restart ? "restart" : "warn");
                        yajl_gen_map_close(g);
                }
                tripped[ntrip++] = r->instance;
                if (has_int(cur->tripped, cur->ntripped, r->instance))
                        continue; /* still over: announced once */
                {
                        struct event e = { .kind = NOTIFY_WATCHDOG, .app = app->name, .instance = r->instance,
                                           .version = r->version, .reason = why, .at_ms = now };
                        struct buf msg = BUF_INIT, aerr = BUF_INIT;
                        struct action_origin o = { "watchdog", "deployex __notify" };

                        snprintf(e.summary, sizeof(e.summary), "watchdog: %s/%d %s%s", app->name,
                                 r->instance, why, app->watchdog.restart ? "; restarting it" : "");
                        fprintf(stderr, "deployex: warning: %s\n", e.summary);
                        buf_printf(log, "%s\n", e.summary);
                        (void)queue_event(c, &e, "w", log);
                        if (app->watchdog.restart &&
                            action_restart(c, app, r->instance, &o, &msg, &aerr) < 0)
                                buf_printf(log, "watchdog: cannot restart %s/%d: %s\n", app->name,
                                           r->instance, aerr.data);
                        buf_release(&msg);
                        buf_release(&aerr);
                }
        }
        memcpy(cur->looping, looping, nloop * sizeof(int));
        cur->nlooping = nloop;
        if (check_wd) {
                yajl_gen_map_close(g);
                yajl_gen_map_close(g);
                yajl_gen_free(g);
                buf_putc(&wd, '\n');
                path_watchdog(c, app->name, &path);
                (void)atomic_write_file(path.data, wd.data, wd.len);
                memcpy(cur->tripped, tripped, ntrip * sizeof(int));
                cur->ntripped = ntrip;
                cur->watchdog_at = now;
        }
        free(recs);
        free(probes);
        buf_release(&path);
        buf_release(&err);
        buf_release(&wd);
}

/* The lines of log, one answer (answer.h); also when the job then fails: they happened. */
static void answer_lines(const struct buf *log)
{
        struct answer_object a;
        yajl_gen g = answer_object_begin(&a);

        json_gen_str(g, "lines");
        yajl_gen_array_open(g);
        for (const char *p = log->data; *p;) {
                size_t n = strcspn(p, "\n");

                if (n > 0) {
                        char *line = xstrndup(p, n);

                        json_gen_str(g, line); /* a receiver's bytes that are not UTF-8 get a '?' */
                        free(line);
                }
                p += n + (p[n] == '\n');
        }
        yajl_gen_array_close(g);
        (void)answer_object_end(&a); /* a daemon that stopped reading has no log to write them to */
}

static int run_x_notify(const struct cli *cli, int argc, char **argv)
{
        struct buf path = BUF_INIT, err = BUF_INIT, out = BUF_INIT, log = BUF_INIT;
        yajl_val root = NULL;
        struct config c;
        uint64_t now;
        unsigned sent = 0, failed = 0;
        yajl_gen g;
        int r;

        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_x_notify, "expected no argument");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        now = time_now_ms();
        path_notify_cursor(&c, &path);
        if (json_parse_file(path.data, JSON_MAX_BYTES, &root, &err) < 0)
                root = NULL; /* none yet (or unreadable): every app starts from where it stands */
        g = json_gen_new(&out);
        yajl_gen_map_open(g);
        json_gen_str(g, "apps");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < c.napps; i++) {
                struct app_cursor *cur = xcalloc(1, sizeof(*cur));

                load_cursor(root, c.apps[i].name, cur);
                if (c.nnotify > 0) {
                        (void)history_events(&c, &c.apps[i], cur, &log);
                        ghost_events(&c, &c.apps[i], cur, &log);
                }
                instance_events(&c, &c.apps[i], cur, now, &log);
                cur->known = true;
                gen_cursor(g, c.apps[i].name, cur);
                free(cur);
        }
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        if (root)
                yajl_tree_free(root);
        buf_putc(&out, '\n');
        buf_reset(&err);
        buf_printf(&err, "%s/state/notify", c.var_path);
        (void)mkdir_p(err.data, 0700);
        r = atomic_write_file(path.data, out.data, out.len);
        if (r < 0)
                fprintf(stderr, "deployex: cannot write '%s': %s\n", path.data, strerror(-r));
        if (c.nnotify > 0)
                webhook_deliver_due(&c, time_now_ms(), &sent, &failed, &log);
        answer_lines(&log);
        config_release(&c);
        buf_release(&path);
        buf_release(&err);
        buf_release(&out);
        buf_release(&log);
        return r < 0 ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command cmd_x_notify = {
        .name = "__notify",
        .usage = "__notify",
        .summary = "(internal) queue events from the state files, deliver due webhooks, run the watchdog",
        .help = "",
        .run = run_x_notify,
};
