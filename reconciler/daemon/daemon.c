/*
 * daemon: `deployex run`.  One epoll over a signalfd, one timerfd for the
 * earliest deadline, an inotify fd (overrides, the config file, file://
 * buckets, the ghost lists), job pipes and pidfds of adopted instances.
 * Every wake-up re-reads the desired state and re-plans from scratch: events
 * only wake the loop, they never carry the decision.
 *
 * libinotifytools keeps its inotify descriptor to itself and reads it with a
 * blocking call, so it cannot sit in this epoll; the kernel API is used as is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/daemon/crash_point.h"
#include "reconciler/daemon/daemon.h"
#include "reconciler/daemon/fleet.h"
#include "reconciler/daemon/host_faults.h"
#include "state/app_user.h"
#include "base/log.h"
#include "reconciler/daemon/notify.h"
#include "base/proc.h"
#include "reconciler/daemon/webchild.h"
#include "reconciler/shared/desired_load.h"
#include "beam/otp.h"
#include "base/fsutil.h"
#include "base/programs.h"
#include "state/json.h"
#include "state/paths.h"
#include "reconciler/daemon/workers.h"
#include "reconciler/jobs/answer.h"
#include "buckets/secrets.h"
#include "base/spawn.h"
#include "state/secret_env.h"
#include "base/banned.h"

#define RESYNC_MS 30000
#define RETRY_WATCH_MS 1000

static struct plan plan_buf; /* large: one, reused, off the stack */

struct app_rt *daemon_find_app(struct daemon *d, const char *name)
{
        for (size_t i = 0; i < d->napps; i++)
                if (strcmp(d->apps[i]->name, name) == 0)
                        return d->apps[i];
        return NULL;
}

static bool source_is_local(struct daemon *d)
{
        return d->src && d->src->ops->watch_dir != NULL;
}

/* --- inotify --- */

static int add_watch(struct daemon *d, const char *path)
{
        return inotify_add_watch(d->ino.fd, path,
                                 IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                         IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
}

/* Add the watches that are missing (a directory may appear later). */
static bool refresh_watches(struct daemon *d)
{
        struct buf path = BUF_INIT;
        bool missing = false;

        if (d->overrides_wd < 0) {
                (void)mkdir_p_parents(d->cfg.overrides_path, 0755, 0750);
                d->overrides_wd = add_watch(d, d->cfg.overrides_path);
                missing |= d->overrides_wd < 0;
        }
        if (d->config_wd < 0 && d->watch_path) {
                char dir[PATH_MAX];
                str_copy(dir, sizeof(dir), d->watch_path);
                char *slash = strrchr(dir, '/');
                if (slash == dir)
                        slash[1] = '\0';
                else if (slash)
                        *slash = '\0';
                else
                        str_copy(dir, sizeof(dir), ".");
                d->config_wd = add_watch(d, dir);
        }
        for (size_t i = 0; i < d->napps; i++) {
                struct app_rt *a = d->apps[i];
                if (a->source_wd < 0 && source_is_local(d) &&
                    source_watch_dir(d->src, a->name, &path) == 0) {
                        a->source_wd = add_watch(d, path.data);
                        missing |= a->source_wd < 0;
                }
                if (a->state_wd < 0) {
                        path_state_dir(&d->cfg, a->name, &path);
                        (void)mkdir_p(path.data, 0750);
                        a->state_wd = add_watch(d, path.data);
                }
        }
        buf_release(&path);
        return missing;
}

static void on_inotify(struct loop_fd *lfd, uint32_t events)
{
        struct daemon *d = lfd->owner;
        char chunk[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        const char *config_base = d->watch_path ? strrchr(d->watch_path, '/') : NULL;

        (void)events;
        config_base = config_base ? config_base + 1 : d->watch_path;
        for (;;) {
                ssize_t n = read(lfd->fd, chunk, sizeof(chunk));
                if (n <= 0)
                        break;
                for (char *p = chunk; p < chunk + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        p += sizeof(*ev) + ev->len;
                        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                                /* The watched directory went away: watch it again when it is back.
                                 */
                                if (ev->wd == d->overrides_wd)
                                        d->overrides_wd = -1;
                                if (ev->wd == d->config_wd)
                                        d->config_wd = -1;
                                for (size_t i = 0; i < d->napps; i++) {
                                        if (d->apps[i]->source_wd == ev->wd)
                                                d->apps[i]->source_wd = -1;
                                        if (d->apps[i]->state_wd == ev->wd)
                                                d->apps[i]->state_wd = -1;
                                }
                                d->rt.loop.dirty = true;
                                continue;
                        }
                        if (ev->wd == d->config_wd) {
                                if (ev->len && config_base && strcmp(ev->name, config_base) == 0)
                                        d->reload = true;
                                continue;
                        }
                        bool is_state = false;
                        for (size_t i = 0; i < d->napps; i++)
                                if (d->apps[i]->state_wd == ev->wd)
                                        is_state = true;
                        /*
                         * The daemon writes its own records there: only the ghost list
                         * matters, and desired.json where the poller writes it.
                         */
                        if (is_state && !(ev->len && (strcmp(ev->name, "ghosts.json") == 0 ||
                                                      (strcmp(ev->name, "desired.json") == 0 &&
                                                       !source_is_local(d)))))
                                continue;
                        d->rt.loop.dirty = true;
                }
        }
}

/* --- apps --- */

static struct app_rt *app_new(struct daemon *d, const struct app_config *cfg)
{
        struct app_rt *a = xcalloc(1, sizeof(*a));

        a->rt = &d->rt;
        a->cfg = cfg;
        str_copy(a->name, sizeof(a->name), cfg->name);
        a->source_wd = -1;
        a->state_wd = -1;
        desired_init(&a->desired);
        /* A retry delay outlives the daemon: memory is its truth from here on, the file its copy.
         */
        {
                struct buf path = BUF_INIT, err = BUF_INIT;
                path_deferred(&d->cfg, a->name, &path);
                if (deferred_load(path.data, &a->deferred, &err) < 0 && err.len)
                        log_warn("app=%s: %s; retrying at once", a->name, err.data);
                buf_release(&path);
                buf_release(&err);
        }
        return a;
}

static void app_free(struct daemon *d, struct app_rt *a)
{
        for (int n = 1; n <= REPLICAS_MAX; n++)
                instance_free(&d->rt, a->inst[n]);
        jobs_cancel_owner(&d->rt.jobs, a);
        desired_release(&a->desired);
        ghosts_release(&a->ghosts);
        free(a->source_error);
        if (a->source_wd >= 0)
                inotify_rm_watch(d->ino.fd, a->source_wd);
        if (a->state_wd >= 0)
                inotify_rm_watch(d->ino.fd, a->state_wd);
        free(a);
}

/* Load the records a previous daemon left: adopt live processes, note the dead. */
/*
 * An instance whose record lost its pid (a write that failed on a full disk,
 * a record removed by hand) may still run: its process carries its marker,
 * INSTANCE_MARKER = {var_path}/service/{app}/{n}.  One pass over /proc at
 * start adopts each such process rather than start a second one next to it
 * (the oldest, when a setsid descendant also leads a session).  Its
 * readiness is checked again; an unknown version is redeployed.
 */
struct marked {
        struct instance_rt *in;
        int pid;
        uint64_t start;
};

struct unrecorded {
        struct daemon *d;
        struct buf prefix;                   /* "{var_path}/service/" */
        struct marked *found;                /* the oldest per instance without a live pid */
        size_t n, cap;
};

static void found_marked(void *ctx, const char *value, int pid, uint64_t start)
{
        struct unrecorded *u = ctx;
        char app[APP_NAME_MAX + 1];
        struct instance_rt *in;
        const char *rest, *slash;
        struct app_rt *a;
        int n;

        if (strncmp(value, u->prefix.data, u->prefix.len) != 0)
                return;
        rest = value + u->prefix.len;
        slash = strchr(rest, '/');
        if (!slash || (size_t)(slash - rest) > APP_NAME_MAX || parse_int(slash + 1, &n) < 0)
                return;
        memcpy(app, rest, (size_t)(slash - rest));
        app[slash - rest] = '\0';
        if (!(a = daemon_find_app(u->d, app)) || n < 1 || n > REPLICAS_MAX)
                return;
        in = instance_get(a, n, true);
        if (!in || sup_is_running(in))
                return; /* its record knows its process: the rest are descendants */
        for (size_t i = 0; i < u->n; i++) {
                if (u->found[i].in != in)
                        continue;
                if (start < u->found[i].start)
                        u->found[i] = (struct marked){ in, pid, start };
                return;
        }
        xgrow((void **)&u->found, &u->cap, u->n + 1, sizeof(*u->found));
        u->found[u->n++] = (struct marked){ in, pid, start };
}

static void adopt_unrecorded(struct daemon *d)
{
        struct unrecorded u = { d, BUF_INIT, NULL, 0, 0 };

        path_service_root(&d->cfg, &u.prefix);
        (void)proc_scan_marked(INSTANCE_MARKER, found_marked, &u);
        for (size_t i = 0; i < u.n; i++) {
                struct instance_rt *in = u.found[i].in;
                log_inst(LOG_WARN, in, "pid %d runs without a record of it; adopting it",
                         u.found[i].pid);
                in->rec.pid = u.found[i].pid;
                in->rec.proc_start_time = u.found[i].start;
                in->rec.started_at_ms = daemon_now(d);
                in->rec.ready = false;
                instance_set_state(&d->rt, in, INSTANCE_STARTING, "adopted by its marker");
                sup_adopt(&d->rt, in);
        }
        free(u.found);
        buf_release(&u.prefix);
}

static void app_load_instances(struct daemon *d, struct app_rt *a)
{
        struct buf path = BUF_INIT, err = BUF_INIT, marker = BUF_INIT, legacy = BUF_INIT,
                   svc = BUF_INIT;
        struct instance_record *recs = NULL;
        size_t n = 0;

        path_instances_dir(&d->cfg, a->name, &path);
        if (instance_records_load_dir(path.data, &recs, &n, &err) < 0 || err.len)
                log_warn("app=%s: %s", a->name,
                         err.len ? err.data : "cannot read instance records");
        for (size_t i = 0; i < n; i++) {
                struct instance_rt *in = instance_get(a, recs[i].instance, true);
                bool not_ours;

                if (!in)
                        continue;
                in->rec = recs[i];
                buf_reset(&marker);
                buf_printf(&marker, INSTANCE_MARKER "=");
                path_service_dir(&d->cfg, a->name, in->rec.instance, &svc);
                buf_puts(&marker, svc.data);
                buf_reset(&legacy);
                buf_printf(&legacy, "RELEASE_NODE=%s-%d", a->name, in->rec.instance);
                if (in->rec.pid > 0 && proc_is_same(in->rec.pid, in->rec.proc_start_time) &&
                    proc_has_marker(in->rec.pid, marker.data, legacy.data)) {
                        sup_adopt(&d->rt, in);
                        continue;
                }
                not_ours = in->rec.pid > 0 && kill(in->rec.pid, 0) == 0;
                if (not_ours)
                        /* Alive, but not provably ours: never adopted, never signalled. */
                        log_inst(LOG_WARN, in, "pid %d is not this instance (%s); not adopted",
                                 in->rec.pid,
                                 in->rec.proc_start_time == 0 ? "the record has no start time"
                                 : !proc_is_same(in->rec.pid, in->rec.proc_start_time)
                                         ? "another start time"
                                         : "no " INSTANCE_MARKER " marker");
                if (in->rec.pid > 0) {
                        /* It died while no daemon watched: that was a crash. */
                        if (!not_ours)
                                log_inst(LOG_WARN, in, "pid %d is gone since the last daemon",
                                         in->rec.pid);
                        in->rec.pid = 0;
                        in->rec.ready = false;
                        in->rec.consecutive_crashes++;
                        in->rec.crash_restarts++;
                        in->rec.last_exit_at_ms = daemon_now(d);
                        instance_set_state(&d->rt, in, INSTANCE_BACKOFF, "found dead at start");
                } else if (in->rec.state == INSTANCE_STARTING ||
                           in->rec.state == INSTANCE_RUNNING) {
                        instance_set_state(&d->rt, in, INSTANCE_STOPPED, "no process at start");
                }
        }
        free(recs);
        buf_release(&path);
        buf_release(&err);
        buf_release(&marker);
        buf_release(&legacy);
        buf_release(&svc);
}

/*
 * --- remote sources: one long-lived `__poller` worker (workers.h) polls every
 * app and rewrites state/{app}/desired.json when current.json changed (the
 * state directory is watched); its lines say what the daemon must show. ---
 */

/* {"app", "event", "version" | "error"}: the poller's answer (reconciler/jobs/answer.h). */
static void poller_answer(void *ctx, yajl_val result)
{
        struct daemon *d = ctx;
        const char *name = answer_str(result, "app"), *event = answer_str(result, "event");
        const char *error = answer_str(result, "error");
        struct app_rt *a;

        if (!name || !event || !(a = daemon_find_app(d, name)) || a->removed)
                return;
        if (strcmp(event, "error") == 0) {
                if (!error)
                        error = "no reason given";
                log_warn("app=%s: polling the source failed: %s", a->name, error);
                /* The same failure again changes nothing the planner sees. */
                if (a->source_error && strcmp(a->source_error, error) == 0)
                        return;
                free(a->source_error);
                a->source_error = xstrdup(error);
        } else {
                free(a->source_error);
                a->source_error = NULL;
        }
        a->dirty = true;
        d->rt.loop.dirty = true;
}

/* What the poller reads: a change of any restarts it (a config reload). */
static void poller_key(struct daemon *d, struct buf *key)
{
        const struct config *c = &d->cfg;

        buf_printf(key, "%s|%s|%s|%s|%s|%s|%llu|%s|", c->source, c->env,
                   c->aws_region ? c->aws_region : "", c->s3_endpoint ? c->s3_endpoint : "",
                   c->gcs_endpoint ? c->gcs_endpoint : "",
                   c->gcp_credentials ? c->gcp_credentials : "",
                   (unsigned long long)c->poll_interval_ms, c->var_path);
        for (size_t i = 0; i < d->napps; i++)
                if (!d->apps[i]->removed)
                        buf_printf(key, "%s,", d->apps[i]->name);
}

static void pollers_tick(struct daemon *d)
{
        const char *args[] = { "__poller", NULL };
        struct buf key = BUF_INIT;

        if (!d->src || source_is_local(d) || d->napps == 0 || d->rt.stopping) {
                worker_unwant(&d->workers, "poller");
                return;
        }
        poller_key(d, &key);
        worker_want(&d->workers, "poller", args, key.data, poller_answer, d);
        buf_release(&key);
}

/*
 * --- what the nodes run: a long-lived `__otp --worker` (workers.h) probes
 * them every OTP_REFRESH_MS on kept connections; `status` reads
 * state/{app}/otp.json ---
 */

/* What the probe reads: a change of any restarts it (a config reload). Never logged. */
static void otp_key(struct daemon *d, struct buf *key)
{
        const struct config *c = &d->cfg;

        buf_printf(key, "%s|%s|%s|%s|%s|%s|", c->var_path, c->cookie ? c->cookie : "",
                   c->cookie_file ? c->cookie_file : "", c->tls_cert ? c->tls_cert : "",
                   c->tls_key ? c->tls_key : "", c->tls_ca ? c->tls_ca : "");
        for (size_t i = 0; i < d->napps; i++)
                if (!d->apps[i]->removed)
                        buf_printf(key, "%s:%d,", d->apps[i]->name, d->apps[i]->cfg->replicas);
}

/* {"round_ms", "open", "new"}: what a probe round cost, and whether links were kept. */
static void otp_answer(void *ctx, yajl_val result)
{
        long long ms = 0, open = 0, fresh = 0;

        (void)ctx;
        (void)answer_int(result, "round_ms", &ms);
        (void)answer_int(result, "open", &open);
        (void)answer_int(result, "new", &fresh);
        log_debug("otp probe: round %lld ms, %lld open connections, %lld new", ms, open, fresh);
}

/*
 * One worker for every app (each node is probed in a thread of its own with
 * connect and rpc timeouts, so a hung node costs a round a few seconds,
 * never the loop).  It runs while there are apps, not only while an
 * instance does: a crash loop must not also restart the probe each time.
 */
static void otp_refresh(struct daemon *d)
{
        const char *args[] = { "__otp", "--worker", NULL };
        struct buf key = BUF_INIT;

        if (d->rt.stopping || d->napps == 0) {
                worker_unwant(&d->workers, "otp");
                return;
        }
        otp_key(d, &key);
        worker_want(&d->workers, "otp", args, key.data, otp_answer, d);
        explicit_bzero(key.data, key.len); /* it holds the cookie */
        buf_release(&key);
}

/* --- reconcile --- */

static void refresh_desired(struct daemon *d, struct app_rt *a)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct ghost_list ghosts;

        memset(&ghosts, 0, sizeof(ghosts));
        char *before = a->desired.error ? xstrdup(a->desired.error) : NULL;
        desired_release(&a->desired);
        desired_load(&d->cfg, a->cfg, source_is_local(d) ? d->src : NULL, a->source_error, true,
                     &a->desired);
        /* A refused override (owner, mode, malformed) is never silent: logged when it appears. */
        if (a->desired.error && (!before || strcmp(before, a->desired.error) != 0))
                log_warn("app=%s: %s", a->name, a->desired.error);
        free(before);
        path_ghosts(&d->cfg, a->name, &path);
        if (ghosts_load(path.data, &ghosts, &err) == 0) {
                ghosts_release(&a->ghosts);
                a->ghosts = ghosts;
        } else {
                log_warn("app=%s: %s; keeping the ghosts known", a->name, err.data);
        }
        buf_release(&path);
        buf_release(&err);
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
        if (!a)
                return b;
        if (!b)
                return a;
        return a < b ? a : b;
}

/*
 * Plan the app and act on it.  reread: reread what it
 * should run (desired, overrides, ghosts); a pass for an instance's exit
 * alone skips that -- those files changing makes a full pass (inotify).
 */
static uint64_t reconcile_app(struct daemon *d, struct app_rt *a, bool reread)
{
        static struct instance_record recs[REPLICAS_MAX];
        struct plan_input in;
        uint64_t fleet_deadline = 0;
        uint64_t next;
        size_t n = 0;

        a->dirty = false;
        if (reread)
                refresh_desired(d, a);
        for (int i = 1; i <= REPLICAS_MAX; i++)
                if (a->inst[i])
                        recs[n++] = a->inst[i]->rec;
        memset(&in, 0, sizeof(in));
        in.app = a->cfg;
        in.desired = &a->desired;
        in.instances = recs;
        in.ninstances = n;
        in.ghosts = &a->ghosts;
        in.deferred = a->deferred.version[0] ? &a->deferred : NULL;
        in.host_fault = d->rt.fault.err ? d->rt.fault.what : NULL;
        in.fleet = fleet_tick(&d->rt, a, &fleet_deadline);
        plan_compute(&in, daemon_now(d), &plan_buf);
        /* The host cannot start anything right now: hold every step until the retry time. */
        for (size_t i = 0; i < plan_buf.n && !d->rt.stopping && !host_faults_holding(&d->rt); i++) {
                const struct plan_step *s = &plan_buf.steps[i];
                if (s->runnable && s->action != PLAN_WAIT)
                        exec_begin(&d->rt, a, s);
        }
        exec_tick(&d->rt, a);
        sup_tick(&d->rt, a);
        /* A crash that must wait for its backoff: its record now (restarts saved theirs). */
        sup_save_pending(&d->rt, a);
        next = min_deadline(plan_buf.next_wake_ms, fleet_deadline);
        return next;
}

static void arm_timer(struct daemon *d, uint64_t deadline)
{
        struct itimerspec its;
        uint64_t now = time_now_ms();
        uint64_t delta = deadline > now ? deadline - now : 1;

        memset(&its, 0, sizeof(its));
        its.it_value.tv_sec = (time_t)(delta / 1000);
        its.it_value.tv_nsec = (long)(delta % 1000) * 1000000L;
        if (timerfd_settime(d->timer.fd, 0, &its, NULL) < 0)
                log_errno(-errno, "cannot arm the timer");
        d->armed_ms = now + delta;
}

static void status_notify(struct daemon *d)
{
        char msg[128];
        unsigned running = 0, total = 0;

        for (size_t i = 0; i < d->napps; i++)
                for (int n = 1; n <= REPLICAS_MAX; n++)
                        if (d->apps[i]->inst[n]) {
                                total++;
                                running += d->apps[i]->inst[n]->rec.ready;
                        }
        snprintf(msg, sizeof(msg), "STATUS=%zu apps, %u/%u instances ready", d->napps, running,
                 total);
        (void)sd_notify_send(msg);
}

static bool app_running(const struct app_rt *a)
{
        for (int n = 1; n <= REPLICAS_MAX; n++)
                if (a->inst[n] && sup_is_running(a->inst[n]))
                        return true;
        return false;
}

/* Apps removed by a reload are freed once none of their instances runs. */
static void forget_stopped_removed_apps(struct daemon *d)
{
        size_t kept = 0;

        for (size_t i = 0; i < d->napps; i++) {
                struct app_rt *a = d->apps[i];
                if (a->removed && !app_running(a)) {
                        log_info("app=%s forgotten: its instances are stopped", a->name);
                        for (int n = 1; n <= REPLICAS_MAX; n++)
                                if (a->inst[n])
                                        cgroup_release(&d->rt, a->inst[n]); /* their spares */
                        app_free(d, a);
                        continue;
                }
                d->apps[kept++] = a;
        }
        d->napps = kept;
}

/* The time the host was at fault: every instance's deadlines move on by it (host_faults.h). */
static void extend_deadlines(struct runtime *rt, uint64_t by)
{
        struct daemon *d = daemon_of(rt);

        for (size_t i = 0; i < d->napps; i++)
                for (int n = 1; n <= REPLICAS_MAX; n++)
                        host_faults_extend(rt, d->apps[i]->inst[n], by);
}

/* The earliest deadline of every app's instances (kills, readiness retries). */
static uint64_t sup_next_deadline_all(struct daemon *d)
{
        uint64_t next = 0;

        for (size_t i = 0; i < d->napps; i++)
                next = min_deadline(next, sup_next_deadline(d->apps[i]));
        return next;
}

/* The earliest retry of a phase that waits out a host fault, in every app. */
static uint64_t exec_next_retry_all(struct daemon *d)
{
        uint64_t next = 0;

        for (size_t i = 0; i < d->napps; i++)
                next = min_deadline(next, exec_next_retry(d->apps[i]));
        return next;
}

static void reconcile(struct daemon *d)
{
        uint64_t next = d->next_resync_ms;

        d->rt.loop.dirty = false;
        d->rt.loop.apps_dirty = false;
        d->rt.loop.now_ms = time_now_ms();
        if (refresh_watches(d))
                next = min_deadline(next, d->rt.loop.now_ms + RETRY_WATCH_MS);
        for (size_t i = 0; i < d->napps; i++) {
                struct app_rt *a = d->apps[i];
                if (a->removed) {
                        a->dirty = false;
                        sup_tick(&d->rt, a); /* only its stops: SIGKILL deadlines */
                        sup_save_pending(&d->rt, a);
                } else {
                        next = min_deadline(next, reconcile_app(d, a, true));
                }
        }
        forget_stopped_removed_apps(d);
        pollers_tick(d);
        otp_refresh(d);
        next = min_deadline(next, workers_tick(&d->workers));
        next = min_deadline(next, metrics_textfile_tick(&d->rt, &d->metrics));
        next = min_deadline(next, notify_job_tick(&d->rt, &d->notify));
        jobs_tick(&d->rt.jobs);
        next = min_deadline(next, sup_next_deadline_all(d));
        next = min_deadline(next, jobs_next_deadline(&d->rt.jobs));
        next = min_deadline(next, host_faults_tick(&d->rt, extend_deadlines));
        next = min_deadline(next, host_faults_retry_at(&d->rt));
        next = min_deadline(next, exec_next_retry_all(d));
        arm_timer(d, next);
        status_notify(d);
        d->rt.loop.now_ms = 0;
}

/*
 * Only some apps' instances changed (an exit on the crash-to-exec path, a
 * job of theirs answered: sup_app_changed): plan those apps alone, without
 * rereading their files, and bring the timer forward if one of them wakes
 * earlier than it is armed for.  Everything else keeps its deadline.
 */
static void reconcile_dirty_apps(struct daemon *d)
{
        uint64_t next = 0;

        d->rt.loop.apps_dirty = false;
        d->rt.loop.now_ms = time_now_ms();
        for (size_t i = 0; i < d->napps; i++) {
                struct app_rt *a = d->apps[i];
                if (!a->dirty)
                        continue;
                if (a->removed) {
                        d->rt.loop.dirty = true; /* forgetting it is the full pass's job */
                        continue;
                }
                next = min_deadline(next, reconcile_app(d, a, false));
        }
        /* What the pass started or scheduled: its jobs' timeouts, phases waiting out a host fault. */
        next = min_deadline(next, sup_next_deadline_all(d));
        next = min_deadline(next, jobs_next_deadline(&d->rt.jobs));
        next = min_deadline(next, exec_next_retry_all(d));
        if (next && next < d->armed_ms)
                arm_timer(d, next);
        status_notify(d);
        d->rt.loop.now_ms = 0;
}

static void share_secrets(struct daemon *d);

/*
 * Load the configuration the way the CLI does, from text read once, and keep
 * that text as {var_path}/run/config.json for the jobs: a job must run with
 * the configuration the daemon accepted, not with an edit it refused (or one
 * it has not read yet).  Environment mode has no file: jobs read the same
 * environment.
 */
static int load_config(struct daemon *d, struct config *ret, struct buf *err)
{
        struct buf text = BUF_INIT, path = BUF_INIT;
        int r;

        if (!d->watch_path) {
                r = config_load(d->config_path, ret, err);
                goto users;
        }
        r = file_read_all_flags(d->watch_path, FILE_FOLLOW, JSON_MAX_BYTES, &text);
        if (r < 0) {
                buf_printf(err, "%s: %s", d->watch_path, file_strerror(r));
                goto out;
        }
        r = config_parse(text.data, text.len, d->watch_path, ret, err);
        if (r < 0)
                goto out;
        /* Written by the daemon that holds the lock only (write_job_config); no inline cookie. */
        if (config_job_text(text.data, text.len, &path) == 0) {
                free(d->config_text);
                d->config_text = buf_detach(&path);
        }
users:
        /* An unknown user is refused; a root daemon's app without one is check's to refuse. */
        if (r == 0 && ((r = config_resolve_users(ret, err)) < 0 ||
                       (r = app_user_for_daemon(ret, err)) < 0))
                config_release(ret);
        if (r == 0) {
                struct buf problems = BUF_INIT, warnings = BUF_INIT;
                (void)config_check_users(ret, geteuid() == 0, &problems, &warnings);
                buf_puts(&problems, warnings.data);
                for (const char *p = problems.data; *p;) {
                        size_t n = strcspn(p, "\n");
                        log_warn("%.*s (its instances run as root)", (int)n, p);
                        p += n + (p[n] == '\n');
                }
                buf_release(&problems);
                buf_release(&warnings);
        }
out:
        buf_release(&text);
        buf_release(&path);
        return r;
}

/*
 * The hook runner links no OpenSSL (beam/tls.h): with TLS distribution
 * configured, the hook calls and readiness checks, which talk to the nodes,
 * run in deployex-cli (NULL: the full program).
 */
static void pick_hook_program(struct daemon *d)
{
        d->rt.jobs.hook_exe = d->cfg.has_tls ? NULL : d->hook_exe;
}

static void write_job_config(struct daemon *d)
{
        struct buf path = BUF_INIT;
        int r;

        if (!d->config_text)
                return;
        path_job_config(&d->cfg, &path);
        r = atomic_write_file(path.data, d->config_text, strlen(d->config_text));
        if (r == 0) {
                free(d->job_config);
                d->job_config = buf_detach(&path);
                d->rt.jobs.config = d->job_config;
        } else {
                log_errno(r, "cannot write '%s'; jobs read the configuration file itself",
                          path.data);
        }
        free(d->config_text);
        d->config_text = NULL;
        buf_release(&path);
}

/*
 * A helper program beside deployexd (base/programs.h), or NULL: then its work
 * runs in the full binary (`deployex __log`, `deployex __hook`).
 */
static char *find_program(const char *self, const char *name)
{
        struct buf path = BUF_INIT;

        if (program_path(self, name, &path) == 0)
                return buf_detach(&path);
        buf_release(&path);
        return NULL;
}

/* The file `deployex run` reads: -c, $DEPLOYEX_CONFIG, or the default when it exists. */
static char *config_file_of(const char *cli_path)
{
        const char *env = getenv("DEPLOYEX_CONFIG");

        if (cli_path)
                return xstrdup(cli_path);
        if (!str_empty(env))
                return xstrdup(env);
        if (access(DEFAULT_CONFIG_PATH, F_OK) == 0)
                return xstrdup(DEFAULT_CONFIG_PATH);
        return NULL;
}

/* --- reload (SIGHUP, or the config file changed) --- */

static void reload(struct daemon *d)
{
        struct config fresh;
        struct buf err = BUF_INIT;
        struct app_rt **apps;
        size_t napps = 0;

        d->reload = false;
        if (load_config(d, &fresh, &err) < 0) {
                /* A broken edit must not take down what runs. */
                log_err("reload refused, keeping the running configuration: %s", err.data);
                buf_release(&err);
                return;
        }
        if (secrets_load_with(&fresh, NULL, &err) < 0) {
                log_err("reload refused, keeping the running configuration: %s", err.data);
                config_release(&fresh);
                buf_release(&err);
                return;
        }
        if (strcmp(fresh.var_path, d->cfg.var_path) != 0 ||
            strcmp(fresh.source, d->cfg.source) != 0 || strcmp(fresh.env, d->cfg.env) != 0) {
                log_warn("reload: var_path, source and env changes need a restart; keeping the old "
                         "ones");
                free(fresh.var_path);
                fresh.var_path = xstrdup(d->cfg.var_path);
                free(fresh.source);
                fresh.source = xstrdup(d->cfg.source);
                free(fresh.env);
                fresh.env = xstrdup(d->cfg.env);
        }
        apps = xcalloc(fresh.napps + d->napps + 1, sizeof(struct app_rt *));
        for (size_t i = 0; i < fresh.napps; i++) {
                struct app_rt *a = daemon_find_app(d, fresh.apps[i].name);
                if (a) {
                        a->cfg = &fresh.apps[i];
                        a->removed = false; /* back before its instances had stopped */
                } else {
                        a = app_new(d, &fresh.apps[i]);
                        app_load_instances(d, a);
                        exec_recover(&d->rt, a);
                        log_info("app=%s added", a->name);
                }
                apps[napps++] = a;
        }
        for (size_t i = 0; i < d->napps; i++) {
                struct app_rt *a = d->apps[i];
                if (config_find_app(&fresh, a->name))
                        continue;
                apps[napps++] = a;
                if (a->removed)
                        continue;
                /*
                 * Removed from the configuration: its instances stop like any
                 * other (SIGTERM, SIGKILL after stop_timeout_ms), its files stay;
                 * reconcile() forgets the app once nothing of it runs.
                 */
                log_info("app=%s removed from the configuration; stopping its instances", a->name);
                a->removed = true;
                a->removed_cfg = *a->cfg;
                a->removed_cfg.name = a->name;
                a->removed_cfg.ports = NULL;
                a->removed_cfg.nports = 0;
                a->removed_cfg.env = NULL;
                a->removed_cfg.nenv = 0;
                a->removed_cfg.hooks = NULL;
                /* Owned by the old config; stopping needs no user. */
                a->removed_cfg.user = a->removed_cfg.group = NULL;
                a->removed_cfg.ids = NULL;
                a->cfg = &a->removed_cfg;
                jobs_cancel_owner(&d->rt.jobs, a);
                for (int n = 1; n <= REPLICAS_MAX; n++) {
                        struct instance_rt *in = a->inst[n];
                        if (!in)
                                continue;
                        jobs_cancel_owner(&d->rt.jobs, in);
                        free(in->op); /* an in-flight step stays journaled */
                        in->op = NULL;
                        in->starting_job = false;
                        in->ready_job = NULL;
                        if (sup_is_running(in))
                                sup_stop(&d->rt, in, NULL);
                }
        }
        free(d->apps);
        d->apps = apps;
        d->napps = napps;
        if (strcmp(fresh.overrides_path, d->cfg.overrides_path) != 0 && d->overrides_wd >= 0) {
                inotify_rm_watch(d->ino.fd, d->overrides_wd);
                d->overrides_wd = -1; /* refresh_watches() watches the new one */
        }
        config_release(&d->cfg);
        d->cfg = fresh;
        write_job_config(d);
        pick_hook_program(d);
        share_secrets(d);
        log_info("configuration reloaded: %zu apps", d->napps);
        d->rt.loop.dirty = true;
        buf_release(&err);
}

/* --- signals --- */

static bool reap_instance(struct daemon *d, pid_t pid, int wstatus)
{
        for (size_t i = 0; i < d->napps; i++)
                if (sup_reap(&d->rt, d->apps[i], pid, wstatus))
                        return true;
        return false;
}

static bool reap_log_writer(struct daemon *d, pid_t pid)
{
        for (size_t i = 0; i < d->napps; i++)
                if (sup_reap_log_writer(&d->rt, d->apps[i], pid))
                        return true;
        return false;
}

/* The app of the instance that owns the job; NULL when none does (a host job, on_event). */
static struct app_rt *job_owner_app(struct daemon *d, const struct job *j)
{
        for (size_t i = 0; j->owner && i < d->napps; i++)
                for (int n = 1; n <= REPLICAS_MAX; n++)
                        if (d->apps[i]->inst[n] == j->owner)
                                return d->apps[i];
        return NULL;
}

/* A job its app owns: fire and forget (on_event), which changes nothing the planner reads. */
static bool job_of_an_app(struct daemon *d, const struct job *j)
{
        for (size_t i = 0; j->owner && i < d->napps; i++)
                if (d->apps[i] == j->owner)
                        return true;
        return false;
}

/*
 * true when the exits ask for a full pass: a host job's (fleet, metrics,
 * notify), a worker's or a log writer's.  An instance's exit, and the exit
 * of a job an instance owns, mark its app alone (supervisor.c,
 * sup_app_changed): during a rollout of 50 apps every turn ends a handful
 * of jobs, and a full pass plans every app and rereads its files.  A
 * fire-and-forget job (on_event, owned by its app) asks for nothing, and neither does
 * an orphan reparented to the daemon (its subreaper: a VM's erl_child_setup,
 * which outlives the VM by a moment): a full pass for it would reread every
 * app's files on a crash restart.
 */
static bool reap_children(struct daemon *d)
{
        bool full = false;

        for (;;) {
                const struct job *j;
                int wstatus;
                pid_t pid = waitpid(-1, &wstatus, WNOHANG);
                if (pid <= 0)
                        break;
                if (reap_instance(d, pid, wstatus))
                        continue;
                if ((j = job_find(&d->rt.jobs, pid))) {
                        struct app_rt *a = job_owner_app(d, j);
                        if (a)
                                sup_app_changed(&d->rt, a);
                        else if (j->owner && !job_of_an_app(d, j))
                                full = true;
                        (void)job_reap(&d->rt.jobs, pid, wstatus);
                        continue;
                }
                if (worker_reap(&d->workers, pid, wstatus) || reap_log_writer(d, pid))
                        full = true;
        }
        return full;
}

static void begin_stop(struct daemon *d)
{
        if (d->rt.stopping)
                return;
        d->rt.stopping = true;
        (void)sd_notify_send("STOPPING=1");
        log_info("stopping every instance, then exiting");
        jobs_kill_all(&d->rt.jobs);
        workers_kill_all(&d->workers);
        for (size_t i = 0; i < d->napps; i++) {
                for (int n = 1; n <= REPLICAS_MAX; n++) {
                        struct instance_rt *in = d->apps[i]->inst[n];
                        if (!in)
                                continue;
                        /* In-flight steps stay journaled; the next daemon finishes them. */
                        free(in->op);
                        in->op = NULL;
                        in->starting_job = false;
                        in->ready_job = NULL;
                        if (sup_is_running(in))
                                sup_stop(&d->rt, in, NULL);
                }
        }
}

static void on_signal(struct loop_fd *lfd, uint32_t events)
{
        struct daemon *d = lfd->owner;
        struct signalfd_siginfo si;
        bool full = false;

        (void)events;
        while (read(lfd->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo != SIGCHLD)
                        full = true;
                switch (si.ssi_signo) {
                case SIGCHLD:
                        full = reap_children(d) || full;
                        break;
                case SIGTERM:
                case SIGINT:
                        begin_stop(d);
                        break;
                case SIGQUIT:
                        log_info("SIGQUIT: exiting, instances keep running");
                        d->quitting = true;
                        break;
                case SIGHUP:
                        d->reload = true;
                        break;
                default:
                        break;
                }
        }
        if (full)
                d->rt.loop.dirty = true;
}

static void on_timer(struct loop_fd *lfd, uint32_t events)
{
        struct daemon *d = lfd->owner;
        uint64_t expirations;

        (void)events;
        (void)!read(lfd->fd, &expirations, sizeof(expirations));
        if (time_now_ms() >= d->next_resync_ms)
                d->next_resync_ms = time_now_ms() + RESYNC_MS;
        d->rt.loop.dirty = true;
}

static bool any_running(struct daemon *d)
{
        for (size_t i = 0; i < d->napps; i++)
                for (int n = 1; n <= REPLICAS_MAX; n++)
                        if (d->apps[i]->inst[n] && sup_is_running(d->apps[i]->inst[n]))
                                return true;
        return false;
}

/* --- start-up --- */

/*
 * Secrets fetched from a store reach the jobs (hook calls need the cookie)
 * through the environment adapter, so that a job does not query the store
 * again; the supervisor removes DEPLOYEX_* before an instance starts.
 */
static void share_secrets(struct daemon *d)
{
        const char *adapter = getenv("DEPLOYEX_SECRETS_ADAPTER");
        bool from_store = adapter && adapter[0] && strcmp(adapter, "env") != 0;

        /* run/config.json holds no inline cookie (config_job_text): jobs take it from here. */
        if (!from_store && !d->cfg.cookie)
                return;
        if (d->cfg.cookie)
                setenv(SECRET_ENV_COOKIE, d->cfg.cookie, 1);
        if (d->cfg.admin_password_hash)
                setenv(SECRET_ENV_PASSWORD_HASH, d->cfg.admin_password_hash, 1);
        setenv("DEPLOYEX_SECRETS_ADAPTER", "env", 1);
}

static int take_lock(struct daemon *d)
{
        struct buf path = BUF_INIT, pid = BUF_INIT;
        char text[32];
        int r = 0;

        path_run_dir(&d->cfg, &path);
        if ((r = mkdir_p(path.data, 0750)) < 0) {
                log_errno(r, "cannot create '%s'", path.data);
                goto out;
        }
        path_lock_file(&d->cfg, &path);
        d->lock_fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        /* A read-only var_path: a flock needs no write access. */
        if (d->lock_fd < 0 && errno == EROFS)
                d->lock_fd = open(path.data, O_RDONLY | O_CLOEXEC);
        if (d->lock_fd < 0) {
                r = log_errno(-errno, "cannot open '%s'", path.data);
                goto out;
        }
        if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                path_pid_file(&d->cfg, &pid);
                struct buf other = BUF_INIT;
                (void)file_read_all(pid.data, 64, &other);
                other.data[strcspn(other.data, "\n")] = '\0';
                log_err("another deployex (pid %s) already runs on var_path '%s'; stop it first",
                        other.len ? other.data : "unknown", d->cfg.var_path);
                buf_release(&other);
                r = -EBUSY;
                goto out;
        }
        path_pid_file(&d->cfg, &pid);
        snprintf(text, sizeof(text), "%d\n", (int)getpid());
        r = atomic_write_shared(pid.data, text, strlen(text), (gid_t)-1);
        /*
         * A full or read-only var_path must not keep the daemon from
         * supervising what runs: it starts degraded (every step that needs a
         * journal or a record write waits), and status finds it by its lock.
         */
        if (r < 0 && host_fault_errno(r)) {
                log_err("cannot write '%s': %s; starting degraded: instances are supervised, "
                        "no step starts until var_path '%s' can be written again",
                        pid.data, strerror(-r), d->cfg.var_path);
                r = 0;
        } else if (r < 0) {
                log_errno(r, "cannot write '%s'", pid.data);
        }
out:
        buf_release(&path);
        buf_release(&pid);
        return r;
}

static int setup_loop(struct daemon *d)
{
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_errno(-errno, "cannot block signals");
        signal(SIGPIPE, SIG_IGN);
        spawn_freeze_signals();
        d->rt.loop.epfd = epoll_create1(EPOLL_CLOEXEC);
        d->sig = (struct loop_fd){ signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), on_signal, d };
        d->timer = (struct loop_fd){ timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                                     on_timer, d };
        d->ino = (struct loop_fd){ inotify_init1(IN_CLOEXEC | IN_NONBLOCK), on_inotify, d };
        if (d->rt.loop.epfd < 0 || d->sig.fd < 0 || d->timer.fd < 0 || d->ino.fd < 0)
                return log_errno(-errno, "cannot set up the event loop");
        if (loop_watch(&d->rt.loop, &d->sig, EPOLLIN) < 0 ||
            loop_watch(&d->rt.loop, &d->timer, EPOLLIN) < 0 ||
            loop_watch(&d->rt.loop, &d->ino, EPOLLIN) < 0)
                return -EIO;
        d->overrides_wd = d->config_wd = -1;
        return 0;
}

static void daemon_release(struct daemon *d)
{
        for (size_t i = 0; i < d->napps; i++)
                app_free(d, d->apps[i]);
        free(d->apps);
        workers_kill_all(&d->workers);
        jobs_release(&d->rt.jobs);
        source_free(d->src);
        config_release(&d->cfg);
        free(d->cli_exe);
        free(d->hook_exe);
        free(d->unpack_exe);
        free(d->rt.cgroup_root);
        free(d->log_exe);
        free(d->watch_path);
        free(d->job_config);
        free(d->config_text);
        if (d->rt.loop.epfd >= 0)
                close(d->rt.loop.epfd);
}

/*
 * Every instance costs the daemon a few descriptors (log pipes, a pidfd, its
 * jobs' pipes): the soft limit of 1024 a shell gives is raised to the hard
 * limit, which is what the administrator allows.
 */
static void raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rlim_t was = rl.rlim_cur;
                rl.rlim_cur = rl.rlim_max;
                spawn_set_child_fd_limit(was, rl.rlim_max);
                if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
                        log_debug("open files limit raised from %llu to %llu",
                                  (unsigned long long)was, (unsigned long long)rl.rlim_max);
        }
}

/* The child table's report of a job that could not start: the host's fault? */
static bool jobs_host_fault(struct jobs *js, int err, const char *what)
{
        return host_faults_note(runtime_of(js), err, what);
}

/*
 * Everything before the loop: the configuration, the lock, the loop's fds,
 * the apps with their instances adopted and their journaled steps resumed.
 * EXIT_OK, or the exit status (and *ret_loaded false when there was not even
 * a configuration to release).
 */
static int daemon_start(struct daemon *d, const char *cli_exe, bool *ret_loaded)
{
        struct buf err = BUF_INIT;
        char exe[PATH_MAX];
        int status = EXIT_FAIL;
        ssize_t n;

        *ret_loaded = false;
        if (crash_point_init() < 0)
                return EXIT_FAIL;
        d->watch_path = config_file_of(d->config_path);
        raise_fd_limit();
        /* Orphans of the instances (a setsid grandchild) are reparented to us, not to init. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                log_warn("cannot become a child subreaper: %s", strerror(errno));
        if (load_config(d, &d->cfg, &err) < 0) {
                fprintf(stderr, "%s%s", err.data,
                        err.len && err.data[err.len - 1] == '\n' ? "" : "\n");
                free(d->watch_path);
                free(d->config_text);
                buf_release(&err);
                return EXIT_FAIL;
        }
        *ret_loaded = true;
        /* A store's secrets were fetched by `deployex run` and reach us as the env adapter's. */
        if (secrets_load_with(&d->cfg, NULL, &err) < 0) {
                fprintf(stderr, "deployex: %s\n", err.data);
                goto out;
        }
        share_secrets(d);
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0) {
                log_errno(-errno, "cannot find my own executable");
                goto out;
        }
        exe[n] = '\0';
        d->cli_exe = xstrdup(cli_exe);
        d->log_exe = find_program(exe, PROGRAM_LOG_WRITER);
        d->hook_exe = find_program(exe, PROGRAM_HOOK_RUNNER);
        d->rt.cli_exe = d->rt.jobs.cli_exe = d->cli_exe;
        pick_hook_program(d);
        d->unpack_exe = find_program(exe, PROGRAM_UNPACKER);
        d->rt.jobs.unpack_exe = d->unpack_exe;
        d->rt.log_exe = d->log_exe;
        srand((unsigned)(getpid() ^ time_now_ms()));
        if (take_lock(d) < 0 || setup_loop(d) < 0)
                goto out;
        cgroups_init(&d->rt);
        write_job_config(d);
        /* The admin web UI, when http is set: a process tree of its own (webchild.h). */
        webchild_start(&d->cfg, d->cli_exe, d->config_path);
        if (source_open_unfetched(&d->cfg, &d->src, &err) < 0)
                log_err("%s; the last good desired state stays in force", err.data);
        d->apps = xcalloc(d->cfg.napps + 1, sizeof(struct app_rt *));
        for (size_t i = 0; i < d->cfg.napps; i++) {
                struct app_rt *a = app_new(d, &d->cfg.apps[i]);
                d->apps[d->napps++] = a;
                app_load_instances(d, a);
        }
        adopt_unrecorded(d);
        host_faults_resume(&d->rt, extend_deadlines);
        for (size_t i = 0; i < d->napps; i++) {
                /* Recovery records tokens and hashes: it needs the desired state. */
                refresh_desired(d, d->apps[i]);
                exec_recover(&d->rt, d->apps[i]);
        }
        status = EXIT_OK;
out:
        buf_release(&err);
        return status;
}

/* SIGTERM: no new plans, only the stops and their SIGKILL deadlines. */
static void stopping_pass(struct daemon *d)
{
        d->rt.loop.now_ms = time_now_ms();
        d->rt.loop.apps_dirty = false;
        for (size_t a = 0; a < d->napps; a++) {
                d->apps[a]->dirty = false;
                sup_tick(&d->rt, d->apps[a]);
                sup_save_pending(&d->rt, d->apps[a]);
        }
        arm_timer(d, min_deadline(sup_next_deadline_all(d), d->rt.loop.now_ms + 1000));
        d->rt.loop.now_ms = 0;
        d->rt.loop.dirty = false;
}

/* The loop until the daemon exits; its exit status. */
static int daemon_loop(struct daemon *d)
{
        for (unsigned spins = 0;; ) {
                struct epoll_event events[32];
                /*
                 * A step that ended inside the last plan (a stop of a stopped
                 * instance) asks for another plan at once; a few in a row at
                 * most, so that a step failing on the spot cannot spin the loop.
                 */
                bool pending = d->rt.loop.dirty || d->rt.loop.apps_dirty;
                spins = pending ? spins + 1 : 0;
                int ready = epoll_wait(d->rt.loop.epfd, events, 32, pending && spins <= 8 ? 0 : -1);
                if (ready < 0 && errno != EINTR) {
                        log_errno(-errno, "epoll_wait");
                        return EXIT_FAIL;
                }
                for (int i = 0; i < ready; i++) {
                        struct loop_fd *lfd = events[i].data.ptr;
                        lfd->on_ready(lfd, events[i].events);
                }
                if (d->quitting) {
                        jobs_kill_all(&d->rt.jobs);
                        workers_kill_all(&d->workers);
                        return EXIT_OK;
                }
                if (d->rt.stopping && !any_running(d) && !d->rt.jobs.list) {
                        cgroups_remove(&d->rt);
                        log_info("every instance stopped; bye");
                        return EXIT_OK;
                }
                if (d->reload && !d->rt.stopping)
                        reload(d);
                if (d->rt.loop.apps_dirty && d->rt.stopping)
                        d->rt.loop.dirty = true;
                if (d->rt.loop.dirty && d->rt.stopping)
                        stopping_pass(d);
                else if (d->rt.loop.dirty)
                        reconcile(d);
                else if (d->rt.loop.apps_dirty)
                        reconcile_dirty_apps(d);
        }
}

int daemon_main(const char *cli_exe, const char *config_path, bool debug)
{
        struct daemon d;
        bool loaded;
        int status;

        memset(&d, 0, sizeof(d));
        d.rt.loop.epfd = -1;
        d.lock_fd = -1;
        if (debug)
                log_set_level(LOG_DEBUG);
        d.config_path = config_path;
        d.rt.cfg = &d.cfg;
        d.workers.rt = &d.rt;
        d.rt.jobs = (struct jobs){ .loop = &d.rt.loop, .config = config_path,
                                   .spawn = jobs_spawn, .kill = spawn_kill_group,
                                   .host_fault = jobs_host_fault };
        status = daemon_start(&d, cli_exe, &loaded);
        if (!loaded)
                return status;
        if (status == EXIT_OK) {
                log_info("deployex %s running: %zu apps, var_path '%s', source '%s'",
                         DEPLOYEX_VERSION, d.napps, d.cfg.var_path, d.cfg.source);
                d.next_resync_ms = time_now_ms() + RESYNC_MS;
                reconcile(&d);
                (void)sd_notify_send("READY=1");
                status = daemon_loop(&d);
        }
        if (status == EXIT_OK && d.lock_fd >= 0) {
                struct buf pid = BUF_INIT;
                path_pid_file(&d.cfg, &pid);
                (void)unlink(pid.data);
                buf_release(&pid);
        }
        daemon_release(&d);
        return status;
}
