/*
 * deployex status [--json] [APP]: desired against observed, per app and
 * instance (DESIGN §3 has the JSON shape).  Works without a daemon: it reads
 * the state files, checks each recorded pid against /proc (pid + start time)
 * and says "daemon": {"running": false}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_view.h"
#include "cli.h"
#include "proc.h"
#include "../beam/otp.h"
#include "../state/json.h"
#include "../state/node.h"
#include "../state/paths.h"
#include "../state/banned.h"

/* What the app's nodes said last (state/APP/otp.json, refreshed by the daemon's __otp job). */
struct otp_view {
        struct otp_probe *probes;
        size_t n;
};

static void otp_view_load(const struct config *c, const char *app, struct otp_view *v)
{
        struct buf path = BUF_INIT, err = BUF_INIT;

        v->probes = NULL;
        v->n = 0;
        path_state_dir(c, app, &path);
        buf_puts(&path, "/otp.json");
        /* Missing or unreadable: every instance says "unknown", which is the truth. */
        (void)otp_status_load(path.data, &v->probes, &v->n, &err);
        buf_release(&path);
        buf_release(&err);
}

/* What an instance looks like right now: a record whose process died is "stopped". */
struct live {
        const char *state;
        const char *version;
        int pid;
        uint64_t uptime_ms;
};

static void live_of(const struct instance_record *r, bool daemon_up, uint64_t now, struct live *l)
{
        memset(l, 0, sizeof(*l));
        l->state = "stopped";
        if (!r)
                return;
        l->version = r->version[0] ? r->version : NULL;
        l->state = instance_state_to_string(r->state);
        if (r->pid > 0 && proc_is_same(r->pid, r->proc_start_time)) {
                l->pid = r->pid;
                l->uptime_ms = r->started_at_ms && now > r->started_at_ms ? now - r->started_at_ms : 0;
        } else if (r->pid > 0 || !daemon_up) {
                /* Its process is gone, or no daemon will act on the recorded state. */
                l->state = "stopped";
        }
}

static void gen_instance(yajl_gen g, const struct config *c, const struct app_config *app, int n,
                         const struct instance_record *r, const struct otp_view *ov,
                         bool daemon_up, uint64_t now)
{
        const struct otp_probe *probe = otp_status_find(ov->probes, ov->n, n);
        struct buf node = BUF_INIT;
        const char *otp;
        struct live l;
        char at[32];

        live_of(r, daemon_up, now, &l);
        otp = otp_status_of(probe, daemon_up, l.pid, now);
        node_name(app->name, n, &node);
        yajl_gen_map_open(g);
        json_gen_kv_int(g, "instance", n);
        json_gen_kv_str(g, "node", node.data);
        json_gen_str(g, "ports");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < app->nports; i++)
                json_gen_kv_int(g, app->ports[i].name, app->ports[i].base + n - 1);
        yajl_gen_map_close(g);
        json_gen_kv_str(g, "state", l.state);
        json_gen_kv_str(g, "version", l.version);
        json_gen_str(g, "pid");
        if (l.pid)
                yajl_gen_integer(g, l.pid);
        else
                yajl_gen_null(g);
        json_gen_kv_int(g, "uptime_ms", (long long)l.uptime_ms);
        json_gen_kv_int(g, "crash_restarts", r ? (long long)r->crash_restarts : 0);
        json_gen_kv_int(g, "forced_restarts", r ? (long long)r->forced_restarts : 0);
        json_gen_kv_str(g, "otp", otp);
        /* The release the node itself says it runs (release_handler), when it said so lately. */
        json_gen_kv_str(g, "otp_release",
                        strcmp(otp, "connected") == 0 && probe->release[0] ? probe->release : NULL);
        json_gen_str(g, "last_deploy");
        if (r && r->has_last_deploy) {
                time_format_iso(r->last_deploy_at_ms, at, sizeof(at));
                yajl_gen_map_open(g);
                json_gen_kv_str(g, "kind", history_kind_to_string(r->last_deploy_kind));
                json_gen_kv_str(g, "result", r->last_deploy_ok ? "ok" : "failed");
                json_gen_kv_str(g, "at", at);
                yajl_gen_map_close(g);
        } else {
                yajl_gen_null(g);
        }
        yajl_gen_map_close(g);
        buf_release(&node);
        (void)c;
}

/* Instances 1..replicas, then any recorded beyond (scaled down, not yet removed). */
static int instance_count(const struct app_view *v)
{
        int max = v->app->replicas;

        for (size_t i = 0; i < v->nrecords; i++)
                if (v->records[i].instance > max)
                        max = v->records[i].instance;
        return max;
}

static void gen_app(yajl_gen g, const struct config *c, const struct app_view *v, bool daemon_up,
                    uint64_t now)
{
        const struct desired *d = &v->desired;
        struct buf errors = BUF_INIT;
        struct otp_view ov;

        otp_view_load(c, v->app->name, &ov);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "name", v->app->name);
        json_gen_kv_str(g, "language", language_to_string(v->app->language));
        json_gen_kv_int(g, "replicas", v->app->replicas);
        json_gen_str(g, "desired");
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "version", d->release.version[0] ? d->release.version : NULL);
        json_gen_kv_str(g, "hash", d->release.hash[0] ? d->release.hash : NULL);
        json_gen_kv_str(g, "origin", desired_origin_to_string(d->origin));
        if (d->error)
                buf_puts(&errors, d->error);
        if (v->errors.len)
                buf_printf(&errors, "%s%s", errors.len ? "; " : "", v->errors.data);
        json_gen_kv_str(g, "error", errors.len ? errors.data : NULL);
        yajl_gen_map_close(g);
        json_gen_kv_bool(g, "paused", d->override.paused);
        json_gen_kv_str(g, "restart", d->override.restart[0] ? d->override.restart : NULL);
        json_gen_str(g, "ghosts");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->ghosts.n; i++)
                json_gen_str(g, v->ghosts.items[i].version);
        yajl_gen_array_close(g);
        json_gen_str(g, "instances");
        yajl_gen_array_open(g);
        for (int n = 1; n <= instance_count(v); n++)
                gen_instance(g, c, v->app, n, app_view_record(v, n), &ov, daemon_up, now);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        buf_release(&errors);
        free(ov.probes);
}

static void print_app(const struct config *c, const struct app_view *v, bool daemon_up, uint64_t now)
{
        const struct desired *d = &v->desired;
        struct otp_view ov;

        printf("%s (%s)  desired %s", v->app->name, language_to_string(v->app->language),
               d->release.version[0] ? d->release.version : "none");
        if (d->origin != DESIRED_NONE)
                printf(" (%s%s%s)", desired_origin_to_string(d->origin),
                       d->release.hash[0] ? ", hash " : "", d->release.hash);
        printf("%s\n", d->override.paused ? "  PAUSED" : "");
        if (d->error)
                printf("  error: %s\n", d->error);
        if (v->errors.len)
                printf("  error: %s\n", v->errors.data);
        if (v->ghosts.n) {
                printf("  ghosts:");
                for (size_t i = 0; i < v->ghosts.n; i++)
                        printf(" %s", v->ghosts.items[i].version);
                printf("\n");
        }
        otp_view_load(c, v->app->name, &ov);
        for (int n = 1; n <= instance_count(v); n++) {
                const struct instance_record *r = app_view_record(v, n);
                const struct otp_probe *probe = otp_status_find(ov.probes, ov.n, n);
                const char *otp;
                struct live l;

                live_of(r, daemon_up, now, &l);
                otp = otp_status_of(probe, daemon_up, l.pid, now);
                printf("  %d  %-12s %-12s", n, l.state, l.version ? l.version : "-");
                if (l.pid)
                        printf("  pid %d  up %llus", l.pid, (unsigned long long)(l.uptime_ms / 1000));
                if (l.pid && strcmp(otp, "connected") == 0)
                        printf("  otp %s", probe->release[0] ? probe->release : "connected");
                else if (l.pid)
                        printf("  otp %s", otp);
                if (r)
                        printf("  crashes %llu  forced %llu", (unsigned long long)r->crash_restarts,
                               (unsigned long long)r->forced_restarts);
                if (r && r->has_last_deploy) {
                        char at[32];
                        time_format_iso(r->last_deploy_at_ms, at, sizeof(at));
                        printf("  last %s %s %s", history_kind_to_string(r->last_deploy_kind),
                               r->last_deploy_ok ? "ok" : "failed", at);
                }
                printf("\n");
        }
        free(ov.probes);
}

static int run(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct source *src = NULL;
        const char *only = NULL;
        bool json = false;
        yajl_gen g = NULL;
        int r, pid;

        if ((r = cli_parse_json_app(&cmd_status, argc, argv, false, &json, &only)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (only && !cli_find_app(&c, only)) {
                config_release(&c);
                return EXIT_FAIL;
        }
        if (source_open(&c, &src, &err) < 0)
                fprintf(stderr, "deployex: %s\n", err.data);
        pid = daemon_running_pid(&c);
        uint64_t now = time_now_ms();

        if (json) {
                g = json_gen_new(&out);
                yajl_gen_map_open(g);
                json_gen_str(g, "daemon");
                yajl_gen_map_open(g);
                json_gen_kv_bool(g, "running", pid > 0);
                if (pid > 0)
                        json_gen_kv_int(g, "pid", pid);
                json_gen_kv_str(g, "version", DEPLOYEX_VERSION);
                yajl_gen_map_close(g);
                json_gen_str(g, "apps");
                yajl_gen_array_open(g);
        } else {
                if (pid > 0)
                        printf("daemon: running (pid %d)\n", pid);
                else
                        printf("daemon: not running\n");
        }
        for (size_t i = 0; i < c.napps; i++) {
                struct app_view v;

                if (only && strcmp(only, c.apps[i].name) != 0)
                        continue;
                app_view_load(&c, &c.apps[i], src, false, &v);
                if (json)
                        gen_app(g, &c, &v, pid > 0, now);
                else
                        print_app(&c, &v, pid > 0, now);
                app_view_release(&v);
        }
        if (json) {
                yajl_gen_array_close(g);
                yajl_gen_map_close(g);
                yajl_gen_free(g);
                printf("%s\n", out.data);
        }
        source_free(src);
        config_release(&c);
        buf_release(&err);
        buf_release(&out);
        return EXIT_OK;
}

const struct cli_command cmd_status = {
        .name = "status",
        .usage = "status [--json] [APP]",
        .summary = "desired vs observed, per app and instance",
        .help = "Shows, per app, the desired version and where it comes from (the bucket's\n"
                "current.json or a pin), errors reading either, ghosted versions, and per\n"
                "instance its state, version, pid, uptime and restart counters. Works while the\n"
                "daemon is down (then \"daemon\": {\"running\": false}); a recorded process that\n"
                "is gone is shown as stopped.\n\n"
                "  --json   the stable JSON shape documented in docs/cli.md\n",
        .run = run,
};
