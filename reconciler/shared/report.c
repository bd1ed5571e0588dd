/*
 * report: the JSON documents of status, plan, history and ghosts, shared by
 * the CLI readers and the web UI (report.h).
 */
#include <stdlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "reconciler/shared/app_view.h"
#include "base/proc.h"
#include "reconciler/shared/report.h"
#include "state/ghosts.h"
#include "state/history.h"
#include "state/host_fault.h"
#include "state/json.h"
#include "state/node.h"
#include "state/paths.h"
#include "buckets/webhook.h"
#include "base/banned.h"

void otp_view_load(const struct config *c, const char *app, struct otp_view *v)
{
        struct buf path = BUF_INIT, err = BUF_INIT;

        v->probes = NULL;
        v->n = 0;
        path_otp_status(c, app, &path);
        /* Missing or unreadable: every instance says "unknown", which is the truth. */
        (void)otp_status_load(path.data, &v->probes, &v->n, &err);
        buf_release(&path);
        buf_release(&err);
}

void otp_view_release(struct otp_view *v)
{
        free(v->probes);
        v->probes = NULL;
        v->n = 0;
}

void report_live_of(int procfd, const struct instance_record *r, bool daemon_up, uint64_t now,
                    struct live *l)
{
        uint64_t start;

        memset(l, 0, sizeof(*l));
        l->state = "stopped";
        if (!r)
                return;
        l->version = r->version[0] ? r->version : NULL;
        l->state = instance_state_to_string(r->state);
        /* A start time of 0 (unknown) never matches: a pid alone could be anybody's by now. */
        if (r->pid > 0 && r->proc_start_time &&
            proc_start_time_at(procfd, r->pid, &start, &l->uid) == 0 && start == r->proc_start_time) {
                l->pid = r->pid;
                l->uptime_ms = r->started_at_ms && now > r->started_at_ms ? now - r->started_at_ms : 0;
        } else if (r->pid > 0 || !daemon_up) {
                /* Its process is gone, or no daemon will act on the recorded state. */
                l->state = "stopped";
        }
}

/*
 * Who the instance runs as (DESIGN §3 "user"): the owner of its running
 * process (the truth, also for one started before the config changed), else
 * the configured user; NULL when neither is known.  The last uid's name is
 * kept: an app's instances share their user, and each lookup reads the
 * whole of /etc/passwd (1000 instances: 1000 reads of it).
 */
struct user_names {
        bool known;
        uid_t uid;
        char name[64];
};

static const char *instance_user(const struct app_config *app, const struct live *l,
                                 struct user_names *cache)
{
        char b[1024];
        struct passwd pw, *res = NULL;

        if (l->pid <= 0)
                return app->user;
        if (!cache->known || cache->uid != l->uid) {
                if (getpwuid_r(l->uid, &pw, b, sizeof(b), &res) == 0 && res)
                        snprintf(cache->name, sizeof(cache->name), "%s", pw.pw_name);
                else
                        snprintf(cache->name, sizeof(cache->name), "%u", (unsigned)l->uid);
                cache->uid = l->uid;
                cache->known = true;
        }
        return cache->name;
}

/* What gen_instance() looks up once per document, not once per instance. */
struct gen_ctx {
        bool daemon_up;
        uint64_t now;
        const char *host;       /* this host's short name, for node names */
        struct user_names users;
        int procfd;             /* /proc, for a thousand /proc/PID/stat in a row */
};

/*
 * "watchdog": the instance's crossing at the last check, as `status` prints
 * it (DESIGN §11: a warn shows in status), from state/APP/watchdog.json
 * {"at", "instances": {"N": {"reason", "action"}}}; null when not over.
 */
static void gen_watchdog(yajl_gen g, yajl_val wd, int n)
{
        yajl_val inst = wd ? json_get(wd, "instances") : NULL, e = NULL, why, act;
        char key[16];

        snprintf(key, sizeof(key), "%d", n);
        if (inst && YAJL_IS_OBJECT(inst))
                e = json_get(inst, key);
        json_gen_str(g, "watchdog");
        if (!e || !YAJL_IS_OBJECT(e)) {
                yajl_gen_null(g);
                return;
        }
        why = json_get(e, "reason");
        act = json_get(e, "action");
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "reason", why && YAJL_IS_STRING(why) ? why->u.string : "over a threshold");
        json_gen_kv_str(g, "action", act && YAJL_IS_STRING(act) && strcmp(act->u.string, "restart") == 0
                                             ? "restart" : "warn");
        yajl_gen_map_close(g);
}

static void gen_instance(yajl_gen g, const struct app_config *app, int n,
                         const struct instance_record *r, const struct otp_view *ov, yajl_val wd,
                         struct gen_ctx *x)
{
        const struct otp_probe *probe = otp_status_find(ov->probes, ov->n, n);
        bool daemon_up = x->daemon_up;
        uint64_t now = x->now;
        struct buf node = BUF_INIT;
        const char *otp;
        struct live l;
        char at[32];

        report_live_of(x->procfd, r, daemon_up, now, &l);
        otp = otp_status_of(probe, daemon_up, l.pid, now);
        buf_printf(&node, "%s-%d@%s", app->name, n, x->host);
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
                json_gen_int(g, l.pid);
        else
                yajl_gen_null(g);
        json_gen_kv_int(g, "uptime_ms", (long long)l.uptime_ms);
        json_gen_kv_bool(g, "ready", l.pid && r && r->ready);
        json_gen_kv_int(g, "crash_restarts", r ? (long long)r->crash_restarts : 0);
        json_gen_kv_int(g, "forced_restarts", r ? (long long)r->forced_restarts : 0);
        json_gen_kv_str(g, "otp", otp);
        /* The release the node itself says it runs (release_handler), when it said so lately. */
        json_gen_kv_str(g, "otp_release",
                        strcmp(otp, "connected") == 0 && probe->release[0] ? probe->release : NULL);
        /* Whether the node answered deployex over TLS distribution, when it answered lately. */
        json_gen_kv_bool(g, "tls", strcmp(otp, "connected") == 0 && probe->tls);
        json_gen_kv_str(g, "user", instance_user(app, &l, &x->users));
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
        json_gen_kv_str(g, "target_version", r && r->target_version[0] ? r->target_version : NULL);
        json_gen_str(g, "last_error");
        if (r && r->last_error_at_ms) {
                time_format_iso(r->last_error_at_ms, at, sizeof(at));
                yajl_gen_map_open(g);
                json_gen_kv_str(g, "at", at);
                json_gen_kv_str(g, "text", r->last_error);
                yajl_gen_map_close(g);
        } else {
                yajl_gen_null(g);
        }
        gen_watchdog(g, wd, n);
        yajl_gen_map_close(g);
        buf_release(&node);
}

static void gen_app(yajl_gen g, const struct config *c, const struct app_view *v, struct gen_ctx *x)
{
        const struct desired *d = &v->desired;
        struct buf errors = BUF_INIT, path = BUF_INIT, err = BUF_INIT;
        yajl_val wd = NULL;
        struct otp_view ov;

        otp_view_load(c, v->app->name, &ov);
        if (v->app->watchdog.set) {
                path_watchdog(c, v->app->name, &path);
                if (json_parse_file(path.data, JSON_MAX_BYTES, &wd, &err) < 0)
                        wd = NULL; /* absent (no check yet) or unreadable: nothing over */
        }
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "name", v->app->name);
        json_gen_kv_str(g, "language", language_to_string(v->app->language));
        json_gen_kv_int(g, "replicas", v->app->replicas);
        json_gen_str(g, "desired");
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "version", d->release.version[0] ? d->release.version : NULL);
        json_gen_kv_str(g, "hash", d->release.hash[0] ? d->release.hash : NULL);
        /*
         * DESIGN §3: "source" | "override".  Nothing published and nothing
         * pinned is the source's answer (version null, the reason in "error").
         */
        json_gen_kv_str(g, "origin", d->origin == DESIRED_OVERRIDE ? "override" : "source");
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
        json_gen_str(g, "fleet");
        if (v->has_fleet) {
                yajl_gen_map_open(g);
                json_gen_kv_str(g, "host", c->fleet_host);
                json_gen_kv_str(g, "version", v->claim.slot >= 0 ? v->claim.version : NULL);
                json_gen_kv_int(g, "slot", v->claim.slot >= 0 ? v->claim.slot : -1);
                json_gen_kv_bool(g, "turn", v->fleet.go && strcmp(v->fleet.version, v->claim.version) == 0);
                json_gen_kv_str(g, "waits", !v->fleet.go && v->fleet.reason[0] ? v->fleet.reason : NULL);
                yajl_gen_map_close(g);
        } else {
                yajl_gen_null(g);
        }
        json_gen_str(g, "instances");
        yajl_gen_array_open(g);
        for (int n = 1; n <= app_view_instance_count(v); n++)
                gen_instance(g, v->app, n, app_view_record(v, n), &ov, wd, x);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        if (wd)
                yajl_tree_free(wd);
        buf_release(&path);
        buf_release(&err);
        buf_release(&errors);
        otp_view_release(&ov);
}

const char *report_var_path_fault(const struct config *c)
{
        struct statvfs vfs;

        if (statvfs(c->var_path, &vfs) < 0)
                return NULL;
        if (vfs.f_flag & ST_RDONLY)
                return "read-only";
        /* The daemon is root: the blocks kept for root count. */
        if (vfs.f_bfree == 0 || (vfs.f_files > 0 && vfs.f_ffree == 0))
                return "full";
        return NULL;
}

void report_status_json(const struct config *c, struct source *src, const char *only,
                        struct buf *out)
{
        const char *vfault = report_var_path_fault(c);
        int pid = daemon_running_pid(c);
        uint64_t now = time_now_ms();
        yajl_gen g = json_gen_new(out);
        struct buf host = BUF_INIT;
        struct gen_ctx x = { 0 };

        yajl_gen_map_open(g);
        json_gen_str(g, "daemon");
        yajl_gen_map_open(g);
        json_gen_kv_bool(g, "running", pid > 0);
        /* DESIGN §3's shape always has "pid": null while the daemon is down. */
        json_gen_str(g, "pid");
        if (pid > 0)
                yajl_gen_integer(g, pid);
        else
                yajl_gen_null(g);
        json_gen_kv_str(g, "version", DEPLOYEX_VERSION);
        /* The host ran out of fds, memory or disk (the daemon's run/host_fault.json). */
        json_gen_str(g, "host_fault");
        {
                struct buf path = BUF_INIT, err = BUF_INIT;
                struct host_fault f;
                char at[32];

                path_host_fault(c, &path);
                if (pid > 0 && host_fault_load(path.data, &f, &err) == 0) {
                        time_format_iso(f.since_ms, at, sizeof(at));
                        yajl_gen_map_open(g);
                        json_gen_kv_str(g, "text", f.what);
                        json_gen_kv_str(g, "since", at);
                        json_gen_kv_int(g, "count", f.count);
                        yajl_gen_map_close(g);
                } else {
                        yajl_gen_null(g);
                }
                buf_release(&path);
                buf_release(&err);
        }
        /* "read-only", "full": a daemon that runs is degraded, no step starts. */
        json_gen_kv_str(g, "var_path_fault", vfault);
        json_gen_kv_bool(g, "degraded", pid > 0 && vfault != NULL);
        yajl_gen_map_close(g);
        if (c->nnotify > 0) {
                struct webhook_status ws;

                webhook_status(c, &ws);
                json_gen_str(g, "notify");
                yajl_gen_map_open(g);
                json_gen_kv_int(g, "queued", ws.queued);
                json_gen_kv_int(g, "failed", ws.failed);
                json_gen_kv_str(g, "last_error", ws.last_error[0] ? ws.last_error : NULL);
                yajl_gen_map_close(g);
        }
        json_gen_str(g, "apps");
        yajl_gen_array_open(g);
        node_short_host(&host);
        x.daemon_up = pid > 0;
        x.now = now;
        x.host = host.data;
        x.procfd = proc_dir_open();
        for (size_t i = 0; i < c->napps; i++) {
                struct app_view v;

                if (only && strcmp(only, c->apps[i].name) != 0)
                        continue;
                app_view_load(c, &c->apps[i], src, false, &v);
                gen_app(g, c, &v, &x);
                app_view_release(&v);
        }
        buf_release(&host);
        if (x.procfd >= 0)
                close(x.procfd);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}

static void gen_plan(yajl_gen g, const char *name, const struct plan *p, const struct desired *d)
{
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "name", name);
        json_gen_kv_bool(g, "paused", d->override.paused);
        json_gen_kv_str(g, "error", d->error);
        json_gen_str(g, "steps");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < p->n; i++) {
                const struct plan_step *s = &p->steps[i];
                yajl_gen_map_open(g);
                json_gen_kv_int(g, "instance", s->instance);
                json_gen_kv_str(g, "action", plan_action_to_string(s->action));
                json_gen_kv_str(g, "from", s->from[0] ? s->from : NULL);
                json_gen_kv_str(g, "to", s->to[0] ? s->to : NULL);
                json_gen_kv_str(g, "reason", s->reason);
                json_gen_kv_bool(g, "runnable", s->runnable);
                yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
}

void report_plan_json(const struct config *c, struct source *src, const char *only,
                      struct buf *out)
{
        uint64_t now = time_now_ms();
        yajl_gen g = json_gen_new(out);
        struct plan *p = xmalloc(sizeof(*p)); /* large: keep it off the stack */

        yajl_gen_map_open(g);
        json_gen_str(g, "apps");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < c->napps; i++) {
                const struct app_config *app = &c->apps[i];
                struct app_view v;
                struct plan_input in;

                if (only && strcmp(only, app->name) != 0)
                        continue;
                app_view_load(c, app, src, false, &v);
                app_view_plan_input(&v, &in);
                plan_compute(&in, now, p);
                gen_plan(g, app->name, p, &v.desired);
                app_view_release(&v);
        }
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        free(p);
}

int report_history_json(const struct config *c, const struct app_config *app, struct buf *out,
                        size_t *ret_skipped, struct buf *err)
{
        struct history_list h;
        struct buf path = BUF_INIT, line = BUF_INIT;
        int r;

        memset(&h, 0, sizeof(h));
        path_history(c, app->name, &path);
        r = history_load(path.data, &h, err);
        if (r >= 0) {
                buf_putc(out, '[');
                for (size_t i = 0; i < h.n; i++) {
                        buf_reset(&line);
                        history_event_to_json(&h.items[i], &line);
                        buf_printf(out, "%s%s", i ? ",\n " : "", line.data);
                }
                buf_putc(out, ']');
                if (ret_skipped)
                        *ret_skipped = h.skipped;
                r = 0;
        }
        history_release(&h);
        buf_release(&path);
        buf_release(&line);
        return r;
}

int report_ghosts_json(const struct config *c, const struct app_config *app, struct buf *out,
                       struct buf *err)
{
        struct ghost_list l;
        struct buf path = BUF_INIT;
        int r;

        memset(&l, 0, sizeof(l));
        path_ghosts(c, app->name, &path);
        r = ghosts_load(path.data, &l, err);
        if (r >= 0) {
                ghosts_to_json(&l, out);
                r = 0;
        }
        ghosts_release(&l);
        buf_release(&path);
        return r;
}
