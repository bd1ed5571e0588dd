/*
 * executor: carries out the planner's runnable steps.  A deploy or a
 * rollback is a sequence of phases; the step and its phase are journaled
 * (state/{app}/journal.json) before each phase runs, so that a daemon that
 * dies mid-step finishes it on its next start (exec_recover).  Blocking
 * phases (fetch, unpack, hooks) are jobs; the loop stays free.
 *
 * deploy:       fetch -> unpack into new/ -> upgrade_kind (hook, when the
 *               instance runs, is ready and has a version to upgrade from)
 *   full:       stop -> rotate -> pre_commands -> start
 *   hot:        pre_commands (from new/) -> hot_upgrade (hook) -> rebuild
 *               previous/ from the old release's tarball (new/ removed)
 *   hot failed, stage "not_installed": the version is ghosted, the node
 *               keeps running what it ran
 *   hot failed otherwise (installed, the node died or restarted, unknown):
 *               rebuild previous/ -> replace (stop; current/ removed, new/ ->
 *               current/) -> start: a full deployment of the same version
 * rollback:     ghost the version -> stop -> rotate back to previous/ -> start
 * restart:      stop -> start (forced restart, counted)
 * remove:       stop -> delete the instance's directories and record
 *
 * After a hot upgrade current/ holds both releases (release_handler
 * installed the new one inside it; a cold start boots the permanent one),
 * and previous/ holds a fresh unpack of the old release: a rollback rotates
 * it back exactly as after a full deployment.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reconciler/daemon/executor.h"
#include "reconciler/daemon/supervisor.h"
#include "reconciler/daemon/verified_cache.h"
#include "state/app_user.h"
#include "reconciler/core/backoff.h"
#include "reconciler/daemon/crash_point.h"
#include "reconciler/core/readiness.h"
#include "base/log.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/jobs/unpack.h"
#include "reconciler/shared/desired_load.h"
#include "base/fsutil.h"
#include "state/journal.h"
#include "state/lock.h"
#include "state/paths.h"
#include "base/banned.h"

#define FETCH_TIMEOUT_MS (30 * 60 * 1000)
#define UNPACK_TIMEOUT_MS (10 * 60 * 1000)
/* Bounds over the hooks' own time limits (upgrade_kind 30 s, hot_upgrade 10 min). */
#define UPGRADE_KIND_TIMEOUT_MS (60 * 1000)
#define HOT_UPGRADE_TIMEOUT_MS (15 * 60 * 1000)

static void advance(struct runtime *rt, struct instance_rt *in);
static void remove_new(struct runtime *rt, struct instance_rt *in);
static void hook_failure(const struct job *j, struct buf *out);

bool exec_app_busy(const struct app_rt *a)
{
        for (int n = 1; n <= REPLICAS_MAX; n++)
                if (a->inst[n] && a->inst[n]->op)
                        return true;
        return false;
}

static bool dir_exists(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *phase_name(enum op_phase p)
{
        switch (p) {
        case PHASE_FETCH: return "fetch";
        case PHASE_UNPACK: return "unpack";
        case PHASE_PREFLIGHT: return "preflight";
        case PHASE_STOP: return "stop";
        case PHASE_ROTATE: return "rotate";
        case PHASE_PRE_COMMANDS: return "pre_commands";
        case PHASE_START: return "start";
        case PHASE_DONE: return "done";
        case PHASE_UPGRADE_KIND: return "upgrade_kind";
        case PHASE_HOT_PRE_COMMANDS: return "hot_pre_commands";
        case PHASE_HOT_UPGRADE: return "hot_upgrade";
        case PHASE_HOT_PREVIOUS: return "hot_previous";
        case PHASE_REPLACE: return "replace";
        }
        return "unknown";
}

/*
 * A daemon that died in this phase of a step finds the instance untouched
 * (nothing stopped, rotated or upgraded yet): exec_recover drops the step and
 * the planner redoes it.  A journal naming any of these phases recovers the
 * same, so moving between them needs no journal write (set_phase): each write
 * is two fsyncs in the loop, which every app's rollout waits on.
 */
static bool recovery_drops(enum plan_action action, enum op_phase p)
{
        switch (p) {
        case PHASE_FETCH:
        case PHASE_UNPACK:
        case PHASE_PREFLIGHT:
        case PHASE_UPGRADE_KIND:
        case PHASE_HOT_PRE_COMMANDS:
        case PHASE_DONE:
                return true;
        case PHASE_STOP:
                /* A rollback's stop is its first move: it resumes there. */
                return action != PLAN_ROLLBACK;
        default:
                return false;
        }
}

static bool phase_from_name(const char *name, enum op_phase *ret)
{
        for (int p = PHASE_FETCH; p <= PHASE_REPLACE; p++) {
                if (strcmp(name, phase_name((enum op_phase)p)) == 0) {
                        *ret = (enum op_phase)p;
                        return true;
                }
        }
        return false;
}

/* point: the crash point's name (crash_point.h); NULL names it after the phase. */
static int journal_write(struct runtime *rt, struct instance_rt *in, const char *point)
{
        struct buf path = BUF_INIT;
        struct journal j;
        int r;

        memset(&j, 0, sizeof(j));
        str_copy(j.app, sizeof(j.app), in->app->name);
        j.instance = in->rec.instance;
        str_copy(j.action, sizeof(j.action), plan_action_to_string(in->op->step.action));
        str_copy(j.from, sizeof(j.from), in->op->step.from);
        str_copy(j.to, sizeof(j.to), in->op->step.to);
        str_copy(j.phase, sizeof(j.phase), phase_name(in->op->phase));
        j.started_at_ms = in->op->started_at_ms;
        path_journal(rt->cfg, in->app->name, &path);
        r = journal_save(path.data, &j);
        if (r < 0) {
                char what[HOST_FAULT_WHAT_MAX + 1];
                snprintf(what, sizeof(what), "cannot write the journal of %s", in->app->name);
                if (!host_faults_note(rt, r, what))
                        log_errno(r, "app=%s: cannot write the journal '%s'", in->app->name,
                                  path.data);
        }
        buf_release(&path);
        /* A failed write left the journal as it was: the next phase writes it again. */
        in->op->journal_drops = r == 0 && recovery_drops(in->op->step.action, in->op->phase);
        if (r == 0)
                crash_point(j.action, point ? point : j.phase);
        return r;
}

static bool journaled(const struct op *op)
{
        return op->step.action == PLAN_DEPLOY_FULL || op->step.action == PLAN_DEPLOY_HOT ||
               op->step.action == PLAN_ROLLBACK;
}

static void journal_remove(struct runtime *rt, struct app_rt *a)
{
        struct buf path = BUF_INIT;

        path_journal(rt->cfg, a->name, &path);
        (void)journal_clear(path.data);
        buf_release(&path);
}

static void op_finish(struct runtime *rt, struct instance_rt *in)
{
        if (in->op && journaled(in->op)) {
                const char *action = plan_action_to_string(in->op->step.action);
                crash_point(action, "finish");
                journal_remove(rt, in->app);
                crash_point(action, "cleared");
        }
        free(in->op);
        in->op = NULL;
        if (in->rec.target_version[0]) {
                in->rec.target_version[0] = '\0';
                instance_save(rt, in);
        }
        sup_app_changed(rt, in->app);
}

static void set_phase(struct runtime *rt, struct instance_rt *in, enum op_phase p)
{
        uint64_t now = loop_now(&rt->loop);

        /* Each phase's duration, for operators and bench/hot_upgrade (--debug). */
        if (in->op->phase_at_ms)
                log_inst(LOG_DEBUG, in, "%s %s -> %s: phase %s took %llu ms",
                         plan_action_to_string(in->op->step.action),
                         in->op->step.from[0] ? in->op->step.from : "none", in->op->step.to,
                         phase_name(in->op->phase),
                         (unsigned long long)(now - in->op->phase_at_ms));
        in->op->phase_at_ms = now;
        in->op->phase = p;
        if (!journaled(in->op))
                return;
        /* The journal recovers this phase as it is (recovery_drops): no write, the point stays. */
        if (in->op->journal_drops && recovery_drops(in->op->step.action, p))
                crash_point(plan_action_to_string(in->op->step.action), phase_name(p));
        else
                (void)journal_write(rt, in, NULL);
}

void exec_ghost(struct runtime *rt, struct app_rt *a, const char *version, const char *reason)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct ghost_list l;
        struct ghost g;
        int lock, r;

        memset(&l, 0, sizeof(l));
        memset(&g, 0, sizeof(g));
        path_ghosts(rt->cfg, a->name, &path);
        lock = file_lock(path.data);
        if (ghosts_load(path.data, &l, &err) < 0) {
                /* Keep the ghosts known in memory rather than forget them. */
                log_warn("app=%s: %s; rewriting it from the ghosts known", a->name, err.data);
                ghosts_release(&l);
                memset(&l, 0, sizeof(l));
                for (size_t i = 0; i < a->ghosts.n; i++)
                        ghosts_add(&l, &a->ghosts.items[i]);
        }
        str_copy(g.version, sizeof(g.version), version);
        if (strcmp(version, a->desired.release.version) == 0)
                str_copy(g.hash, sizeof(g.hash), a->desired.release.hash);
        g.at_ms = loop_now(&rt->loop);
        str_copy(g.reason, sizeof(g.reason), reason);
        ghosts_add(&l, &g);
        r = ghosts_save(path.data, &l);
        if (r < 0)
                log_errno(r, "app=%s: cannot save '%s'", a->name, path.data);
        else
                log_warn("app=%s version=%s ghosted: %s", a->name, version, reason);
        file_unlock(lock);
        /* The in-memory copy is what the next plan uses. */
        ghosts_add(&a->ghosts, &g);
        ghosts_release(&l);
        buf_release(&path);
        buf_release(&err);
        rt->loop.dirty = true;
}

/* A deployment that cannot succeed: ghost the version; the planner then rolls back. */
static void deploy_failed(struct runtime *rt, struct instance_rt *in, const char *why)
{
        char reason[REASON_MAX + 1];
        enum history_kind kind =
                in->op->step.action == PLAN_DEPLOY_HOT ? HISTORY_HOT : HISTORY_FULL;

        snprintf(reason, sizeof(reason), "instance %d: %s", in->rec.instance, why);
        log_inst(LOG_ERR, in, "deploy of %s failed: %s", in->op->step.to, why);
        {
                struct buf text = BUF_INIT;
                buf_printf(&text, "deploy of %s failed: %s", in->op->step.to, why);
                instance_record_set_error(&in->rec, loop_now(&rt->loop), text.data);
                buf_release(&text);
        }
        sup_record_history(rt, in, kind, in->op->step.from, in->op->step.to, false, why);
        exec_ghost(rt, in->app, in->op->step.to, reason);
        sup_hook_event(rt, in, "ghosted");
        in->rec.deploy_started_at_ms = 0;
        /* Never leave an in-flight state behind: the planner would wait on it forever. */
        if (!sup_is_running(in))
                instance_set_state(rt, in, INSTANCE_STOPPED, "deploy failed");
        else
                instance_set_state(rt, in, in->rec.ready ? INSTANCE_RUNNING : INSTANCE_STARTING,
                                   "deploy failed");
        op_finish(rt, in);
}

/*
 * A deploy that failed for a reason that may pass (a download, a checksum
 * that does not match yet, a full disk): the version is not ghosted, the
 * instance keeps what it ran, and state/{app}/deferred.json makes the
 * planner hold the next attempt 5 s, doubling up to 5 min (deferred.h), so
 * that a broken bucket does not make the daemon spin.
 */
static void deploy_deferred(struct runtime *rt, struct instance_rt *in, const char *what,
                            const char *why)
{
        struct app_rt *a = in->app;
        struct buf path = BUF_INIT, text = BUF_INIT;
        struct deferred *df = &a->deferred;
        uint64_t delay;
        int r;

        if (strcmp(df->version, in->op->step.to) != 0) {
                memset(df, 0, sizeof(*df));
                str_copy(df->version, sizeof(df->version), in->op->step.to);
        }
        df->failures++;
        delay = backoff_delay_ms(DEFERRED_INITIAL_MS, DEFERRED_MAX_MS, df->failures);
        df->retry_at_ms = loop_now(&rt->loop) + delay;
        buf_printf(&text, "%s failed: %s", what, why);
        str_copy(df->reason, sizeof(df->reason), text.data);
        path_deferred(rt->cfg, a->name, &path);
        if ((r = deferred_save(path.data, df)) < 0)
                log_errno(r, "app=%s: cannot save '%s'; the retry delay holds until a restart",
                          a->name, path.data);
        log_inst(LOG_ERR, in, "cannot %s %s: %s; retry in %llu ms", what, in->op->step.to, why,
                 (unsigned long long)delay);
        buf_reset(&text);
        buf_printf(&text, "cannot %s %s: %s", what, in->op->step.to, why);
        instance_record_set_error(&in->rec, loop_now(&rt->loop), text.data);
        in->rec.target_version[0] = '\0';
        buf_release(&path);
        buf_release(&text);
        in->rec.deploy_started_at_ms = 0;
        instance_set_state(rt, in, !sup_is_running(in) ? INSTANCE_STOPPED
                                  : in->rec.ready ? INSTANCE_RUNNING : INSTANCE_STARTING,
                           "deploy deferred");
        op_finish(rt, in);
}

/*
 * A phase's job whose program could not be executed (the spawn does not wait
 * for the exec; jobs.h): the step stays in its phase and the phase is tried
 * again, as when the job cannot start at all (below): at the host's retry
 * time after a host fault, and after 5 s, doubling up to 5 min, when
 * deployex's own helper is missing or not executable (jobs.c logged it), an
 * installation fault, never the release's.
 */
static void phase_not_started(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;

        if (!in->op)
                return;
        in->op->retry_at_ms = host_fault_errno(j->start_err) ? host_faults_retry_at(rt) : 0;
        /* Not a fault that passes by itself: 5 s, doubling up to the deferral's 5 min. */
        if (!in->op->retry_at_ms)
                in->op->retry_at_ms = loop_now(&rt->loop) +
                                      backoff_delay_ms(DEFERRED_INITIAL_MS, DEFERRED_MAX_MS,
                                                       ++in->op->not_executed);
        /* Where the operator looks (status): why the step does not move. */
        buf_printf(&why, "cannot start job '%s': %s; retrying", j->what, strerror(-j->start_err));
        instance_record_set_error(&in->rec, loop_now(&rt->loop), why.data);
        instance_save(rt, in);
        buf_release(&why);
        sup_app_changed(rt, in->app); /* the timer learns the retry time */
}

/*
 * Start a phase's job.  When the host cannot start it (out of fds,
 * processes, memory: host_faults.c has noted it), the step stays in its
 * phase and the phase is tried again at the host's retry time: a host fault
 * never fails a deployment.  false for any other failure, which the caller
 * handles as before.
 */
static bool phase_job(struct runtime *rt, struct instance_rt *in, const struct inst_job *spec,
                      const char *what_fmt, ...) __attribute__((format(printf, 4, 5)));
static bool phase_job(struct runtime *rt, struct instance_rt *in, const struct inst_job *spec,
                      const char *what_fmt, ...)
{
        struct job *j;
        va_list ap;

        va_start(ap, what_fmt);
        j = inst_job_startv(rt, in, spec, what_fmt, ap);
        va_end(ap);
        if (j) {
                j->not_started = phase_not_started;
                return true;
        }
        if (!host_fault_errno(errno))
                return false;
        in->op->retry_at_ms = host_faults_retry_at(rt);
        sup_app_changed(rt, in->app); /* the timer learns the retry time */
        return true;
}

void exec_tick(struct runtime *rt, struct app_rt *a)
{
        for (int n = 1; n <= REPLICAS_MAX; n++) {
                struct instance_rt *in = a->inst[n];
                if (!in || !in->op || !in->op->retry_at_ms || host_faults_holding(rt) ||
                    loop_now(&rt->loop) < in->op->retry_at_ms)
                        continue;
                in->op->retry_at_ms = 0;
                log_inst(LOG_INFO, in, "retrying phase %s: its job could not start",
                         phase_name(in->op->phase));
                advance(rt, in);
        }
}

uint64_t exec_next_retry(const struct app_rt *a)
{
        uint64_t next = 0;

        for (int n = 1; n <= REPLICAS_MAX; n++) {
                const struct instance_rt *in = a->inst[n];
                if (in && in->op && in->op->retry_at_ms && (!next || in->op->retry_at_ms < next))
                        next = in->op->retry_at_ms;
        }
        return next;
}

/* The version reached an instance: nothing is deferred for it any more. */
static void deferred_done(struct runtime *rt, struct app_rt *a, const char *version)
{
        struct buf path = BUF_INIT;

        if (strcmp(a->deferred.version, version) == 0) {
                memset(&a->deferred, 0, sizeof(a->deferred));
                path_deferred(rt->cfg, a->name, &path);
                (void)deferred_clear(path.data);
        }
        buf_release(&path);
}

/* --- phases --- */

/*
 * The fetch job answers the sha256 it verified the cached file against
 * (answer.h; null when current.json has none): remember the file, so that the
 * next replica deploying this version needs no fetch job (verified_cache.h).
 * An answer that does not parse remembers nothing: the next replica fetches.
 */
static void note_verified(struct runtime *rt, struct instance_rt *in, const struct job *j)
{
        struct buf tar = BUF_INIT, err = BUF_INIT;
        yajl_val tree = NULL, result, sha_v;
        const char *sha = NULL;

        verified_cache_forget(&in->app->verified);
        if (answer_parse(j->out_buf.data, j->out_buf.len, "fetch", &tree, &result, &err) < 0 ||
            !YAJL_IS_OBJECT(result))
                goto out;
        sha_v = yajl_tree_get(result, (const char *[]){ "sha256", NULL }, yajl_t_any);
        if (YAJL_IS_NULL(sha_v))
                sha = "";
        else if ((sha = answer_str(result, "sha256")) &&
                 (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64))
                sha = NULL;
        if (!sha)
                goto out;
        path_cache_file(rt->cfg, in->app->name, in->op->step.to, &tar);
        verified_cache_note(&in->app->verified, in->op->step.to, sha, tar.data);
out:
        if (tree)
                yajl_tree_free(tree);
        buf_release(&tar);
        buf_release(&err);
}

static void fetch_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;

        if (!job_ok(j)) {
                verified_cache_forget(&in->app->verified);
                job_describe_failure(j, &why);
                deploy_deferred(rt, in, "fetch", why.data);
        } else {
                note_verified(rt, in, j);
                set_phase(rt, in, PHASE_UNPACK);
                advance(rt, in);
        }
        buf_release(&why);
}

static void unpack_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;

        if (!job_ok(j) && !j->timed_out && WIFEXITED(j->wstatus) &&
            WEXITSTATUS(j->wstatus) == JOB_EXIT_LOCAL) {
                job_describe_failure(j, &why);
                deploy_deferred(rt, in, "unpack", why.data);
        } else if (!job_ok(j)) {
                /* A refused tarball fails the deployment; the running replica is untouched. */
                verified_cache_forget(&in->app->verified);
                job_describe_failure(j, &why);
                if (sup_is_running(in))
                        instance_set_state(rt, in,
                                           in->rec.ready ? INSTANCE_RUNNING : INSTANCE_STARTING,
                                           "release refused");
                deploy_failed(rt, in, why.data);
        } else {
                set_phase(rt, in, PHASE_PREFLIGHT);
                advance(rt, in);
        }
        buf_release(&why);
}

/* The release in new/ cannot start: ghost it before anything running is touched. */
static void preflight_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT, text = BUF_INIT;

        if (!job_ok(j) && !j->timed_out && WIFEXITED(j->wstatus) &&
            WEXITSTATUS(j->wstatus) == JOB_EXIT_LOCAL) {
                /* The hooks cannot be loaded here (installation, configuration): not the release's. */
                job_describe_failure(j, &why);
                remove_new(rt, in);
                deploy_deferred(rt, in, "pre-flight", why.data);
        } else if (!job_ok(j)) {
                hook_failure(j, &why);
                buf_printf(&text, "pre-flight: %s", why.data);
                remove_new(rt, in);
                if (sup_is_running(in))
                        instance_set_state(rt, in,
                                           in->rec.ready ? INSTANCE_RUNNING : INSTANCE_STARTING,
                                           "pre-flight failed");
                deploy_failed(rt, in, text.data);
        } else {
                set_phase(rt, in, PHASE_UPGRADE_KIND);
                advance(rt, in);
        }
        buf_release(&why);
        buf_release(&text);
}

/*
 * Pre-commands run once per version (and sha256) on this host: the first
 * instance deployed.  In a fleet they run once per fleet, on slot 0's turn
 * (the canary's): a later slot deploys only after slot 0 was ready, so they
 * ran there (docs/fleet.md).  A pinned version is local: it runs them here.
 */
static bool pre_commands_ran(struct runtime *rt, struct instance_rt *in)
{
        const struct fleet_rt *f = &in->app->fleet;
        uint64_t at = 0;

        if (rt->cfg->has_fleet && in->app->desired.origin == DESIRED_SOURCE &&
            strcmp(f->version, in->op->step.to) == 0 && f->view.mine > 0) {
                log_inst(LOG_INFO, in,
                         "pre-commands of %s ran on slot 0's turn of the fleet; skipped on slot %d",
                         in->op->step.to, f->view.mine);
                return true;
        }

        if (desired_pre_commands_done(rt->cfg, in->app->name, in->op->step.to, &at) <= 0)
                return false;
        log_inst(LOG_INFO, in, "pre-commands of %s ran on this host already; skipped",
                 in->op->step.to);
        return true;
}

static void pre_commands_mark(struct runtime *rt, struct instance_rt *in)
{
        int r = desired_mark_pre_commands_done(rt->cfg, in->app->name, in->op->step.to,
                                               loop_now(&rt->loop));

        if (r < 0)
                log_errno(r, "app=%s: cannot record that the pre-commands of %s ran; another "
                          "instance may run them again", in->app->name, in->op->step.to);
}

static void pre_commands_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;

        if (!job_ok(j)) {
                struct buf text = BUF_INIT;
                hook_failure(j, &why);
                buf_printf(&text, "pre-commands: %s", why.data);
                deploy_failed(rt, in, text.data);
                buf_release(&text);
        } else {
                pre_commands_mark(rt, in);
                set_phase(rt, in, PHASE_START);
                advance(rt, in);
        }
        buf_release(&why);
}

static void after_stop(struct runtime *rt, struct instance_rt *in)
{
        if (!in->op)
                return;
        if (in->op->step.action == PLAN_REMOVE || in->op->step.action == PLAN_STOP) {
                advance(rt, in);
                return;
        }
        set_phase(rt, in, in->op->step.action == PLAN_RESTART ? PHASE_START : PHASE_ROTATE);
        advance(rt, in);
}

static bool release_dir_exists(struct runtime *rt, struct instance_rt *in, const char *which)
{
        struct buf path = BUF_INIT;
        bool r;

        path_release_dir(rt->cfg, in->app->name, in->rec.instance, which, &path);
        r = dir_exists(path.data);
        buf_release(&path);
        return r;
}

/* Release tree `from` takes the place of `to` (which is deleted); nothing when `from` is absent. */
static int move_release(struct runtime *rt, struct instance_rt *in, const char *from,
                        const char *to)
{
        struct buf src = BUF_INIT, dst = BUF_INIT;
        int r = 0;

        path_release_dir(rt->cfg, in->app->name, in->rec.instance, from, &src);
        path_release_dir(rt->cfg, in->app->name, in->rec.instance, to, &dst);
        if (!dir_exists(src.data))
                goto out;
        if ((r = remove_tree(dst.data)) < 0)
                goto out;
        if (rename(src.data, dst.data) < 0) {
                r = -errno;
                goto out;
        }
        (void)fsync_dir_of(dst.data);
out:
        buf_release(&src);
        buf_release(&dst);
        return r;
}

/* new/ -> current/ -> previous/.  Idempotent: a rerun after a crash completes it. */
static int rotate_forward(struct runtime *rt, struct instance_rt *in)
{
        int r;

        if (!release_dir_exists(rt, in, "new"))
                return release_dir_exists(rt, in, "current") ? 0 : -ENOENT;
        if ((r = move_release(rt, in, "current", "previous")) < 0)
                return r;
        return move_release(rt, in, "new", "current");
}

/*
 * current/ replaced by `which` (previous/ for a rollback: the failed release
 * is deleted; new/ for a fallback after a hot upgrade: previous/ is kept).
 * Idempotent: a rerun after a crash completes it.
 */
static int replace_current(struct runtime *rt, struct instance_rt *in, const char *which)
{
        if (!release_dir_exists(rt, in, which))
                return release_dir_exists(rt, in, "current") ? 0 : -ENOENT;
        return move_release(rt, in, which, "current");
}

/* --- hot upgrades --- */

/* The lines a hook logged (deployex.log goes to the job's stderr) into the daemon's log. */
static void log_hook_lines(const struct job *j)
{
        const char *p = j->err_buf.data, *end = p + j->err_buf.len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (len > 10 && strncmp(p, "deployex: hook ", 15) == 0)
                        log_info("%.*s", (int)(len - 10), p + 10);
                p += len + 1;
        }
}

/*
 * Worth asking the hook: the instance runs a version (not the one being
 * deployed), is ready, and is not being stopped.  Anything else can only be
 * deployed in full.
 */
static bool hot_candidate(const struct instance_rt *in)
{
        return sup_is_running(in) && in->rec.ready && !in->stop_requested &&
               in->rec.version[0] != '\0' && strcmp(in->rec.version, in->op->step.to) != 0;
}

/* Whether upgrade_kind answered "hot" (answer.h); else why not, into why. */
static bool answered_hot(const struct job *j, struct buf *why)
{
        yajl_val tree, result;
        bool hot;

        if (!job_ok(j)) {
                job_describe_failure(j, why);
                return false;
        }
        if (answer_parse(j->out_buf.data, j->out_buf.len, "upgrade_kind", &tree, &result, why) < 0)
                return false;
        hot = answer_is(result, ANSWER_HOT);
        if (!hot)
                buf_puts(why, "upgrade_kind answered \"full\"");
        yajl_tree_free(tree);
        return hot;
}

/* The node answered upgrade_kind: "hot" goes on in place, anything else is a full deployment. */
static void upgrade_kind_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;
        bool hot;

        log_hook_lines(j);
        hot = answered_hot(j, &why);
        if (hot && (!sup_is_running(in) || in->rec.pid != (pid_t)j->arg)) {
                buf_puts(&why, "the instance stopped while upgrade_kind ran");
                hot = false;
        }
        if (hot) {
                log_inst(LOG_INFO, in, "hot upgrade %s -> %s", in->rec.version, in->op->step.to);
                in->op->step.action = PLAN_DEPLOY_HOT;
                instance_set_state(rt, in, INSTANCE_UPGRADING, "hot upgrade");
                set_phase(rt, in, PHASE_HOT_PRE_COMMANDS);
                advance(rt, in);
                buf_release(&why);
                return;
        }
        log_inst(LOG_INFO, in, "full deployment of %s: %s", in->op->step.to, why.data);
        set_phase(rt, in, PHASE_STOP);
        advance(rt, in);
        buf_release(&why);
}

static void remove_new(struct runtime *rt, struct instance_rt *in)
{
        struct buf nw = BUF_INIT;
        int r;

        path_release_dir(rt->cfg, in->app->name, in->rec.instance, "new", &nw);
        if ((r = remove_tree(nw.data)) < 0)
                log_inst_errno(r, in, "cannot remove '%s'", nw.data);
        buf_release(&nw);
}

/*
 * Failed before anything was installed: the node runs what it ran, the
 * version is ghosted.  An instance that did not survive is not "untouched":
 * that is a fallback instead (hot_failed decides).
 */
static void hot_not_installed(struct runtime *rt, struct instance_rt *in, const char *why)
{
        remove_new(rt, in);
        instance_set_state(rt, in, in->rec.ready ? INSTANCE_RUNNING : INSTANCE_STARTING,
                           "hot upgrade not installed");
        deploy_failed(rt, in, why);
}

/*
 * Installed, or the node died or restarted itself, or nobody knows: deploy
 * the same version in full.  The pre-commands ran already.
 */
static void hot_fallback(struct runtime *rt, struct instance_rt *in, const char *why)
{
        struct buf reason = BUF_INIT;

        log_inst(LOG_WARN, in, "hot upgrade %s -> %s failed: %s; deploying it in full",
                 in->op->step.from, in->op->step.to, why);
        /* The reason may be cut at REASON_MAX: what happens next goes first. */
        buf_printf(&reason, "deploying it in full after: %s", why);
        sup_record_history(rt, in, HISTORY_HOT, in->op->step.from, in->op->step.to, false,
                           reason.data);
        in->op->step.action = PLAN_DEPLOY_FULL;
        instance_set_state(rt, in, INSTANCE_DEPLOYING, "hot upgrade failed");
        set_phase(rt, in, PHASE_HOT_PREVIOUS);
        advance(rt, in);
        buf_release(&reason);
}

/* The hook's last stderr line is "STAGE: why" when it answered nil, err, stage. */
static bool stage_is(const struct job *j, const char *stage)
{
        size_t n = strlen(stage), start;
        size_t end = str_last_line(j->err_buf.data, j->err_buf.len, &start);

        return end - start > n + 1 && strncmp(j->err_buf.data + start, stage, n) == 0 &&
               j->err_buf.data[start + n] == ':';
}

/* Why a hook job failed: its answer alone when it answered (exit 1), else how the job ended. */
static void hook_failure(const struct job *j, struct buf *out)
{
        size_t start, end = str_last_line(j->err_buf.data, j->err_buf.len, &start);

        if (!j->timed_out && WIFEXITED(j->wstatus) && WEXITSTATUS(j->wstatus) == 1 && end > start) {
                buf_reset(out);
                buf_printf(out, "%.*s", (int)(end - start), j->err_buf.data + start);
        } else {
                job_describe_failure(j, out);
        }
}

static void hot_pre_commands_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;

        if (!job_ok(j)) {
                hook_failure(j, &why);
                if (sup_is_running(in))
                        hot_not_installed(rt, in, why.data);
                else
                        hot_fallback(rt, in, why.data);
        } else {
                pre_commands_mark(rt, in);
                set_phase(rt, in, PHASE_HOT_UPGRADE);
                advance(rt, in);
        }
        buf_release(&why);
}

static void hot_upgrade_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct op *op = in->op;
        bool same_process = sup_is_running(in) && in->rec.pid == (pid_t)j->arg;
        struct buf why = BUF_INIT;

        log_hook_lines(j);
        if (!job_ok(j)) {
                hook_failure(j, &why);
                if (same_process && stage_is(j, "not_installed"))
                        hot_not_installed(rt, in, why.data);
                else
                        hot_fallback(rt, in, why.data);
                goto out;
        }
        if (!same_process) {
                hot_fallback(rt, in, "the instance's process exited during the hot upgrade");
                goto out;
        }
        /*
         * Same process, new release: nothing restarted, so it is ready now.  It
         * stays "upgrading" (a step in flight for the planner) until previous/
         * is rebuilt.
         */
        deferred_done(rt, in->app, op->step.to);
        str_copy(in->rec.previous_version, sizeof(in->rec.previous_version), op->step.from);
        str_copy(in->rec.version, sizeof(in->rec.version), op->step.to);
        in->rec.consecutive_crashes = 0;
        in->rec.deploy_started_at_ms = 0;
        in->rec.ready = true;
        sup_record_history(rt, in, HISTORY_HOT, op->step.from, op->step.to, true,
                           "hot upgrade, same process");
        /* Figures for operators and bench/hot_upgrade: the hook's wall time, the step's so far. */
        log_inst(LOG_INFO, in, "hot upgrade done: pid %d kept, hook %llu ms, step %llu ms",
                 (int)in->rec.pid,
                 (unsigned long long)(loop_now(&rt->loop) -
                                      (j->deadline_ms - HOT_UPGRADE_TIMEOUT_MS)),
                 (unsigned long long)(loop_now(&rt->loop) - op->started_at_ms));
        sup_hook_event(rt, in, "deployed");
        set_phase(rt, in, PHASE_HOT_PREVIOUS);
        advance(rt, in);
out:
        buf_release(&why);
}

/* previous/ holds the old release (have_previous) or nothing; then the step goes on. */
static void hot_previous_finish(struct runtime *rt, struct instance_rt *in, bool have_previous)
{
        if (!have_previous && in->op->step.action == PLAN_DEPLOY_HOT &&
            in->rec.previous_version[0]) {
                in->rec.previous_version[0] = '\0';
                instance_save(rt, in);
        }
        if (in->op->step.action == PLAN_DEPLOY_HOT) {
                log_inst(LOG_DEBUG, in, "deploy-hot %s -> %s: phase hot_previous took %llu ms",
                         in->op->step.from, in->op->step.to,
                         (unsigned long long)(loop_now(&rt->loop) - in->op->phase_at_ms));
                log_inst(LOG_INFO, in, "hot deploy step done in %llu ms%s",
                         (unsigned long long)(loop_now(&rt->loop) - in->op->started_at_ms),
                         have_previous ? "" : " (no previous release kept)");
                /* The node may have crashed while previous/ was rebuilt: keep its backoff. */
                if (sup_is_running(in))
                        instance_set_state(rt, in, INSTANCE_RUNNING, "hot upgrade done");
                else
                        instance_save(rt, in);
                op_finish(rt, in);
                return;
        }
        set_phase(rt, in, PHASE_REPLACE);
        advance(rt, in);
}

static void hot_previous_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;

        if (!job_ok(j)) {
                job_describe_failure(j, &why);
                log_inst(LOG_WARN, in,
                         "cannot unpack %s into previous/: %s; no release to roll back to",
                         in->op->step.from, why.data);
        }
        hot_previous_finish(rt, in, job_ok(j));
        buf_release(&why);
}

static void replace_stopped(struct runtime *rt, struct instance_rt *in)
{
        if (in->op)
                advance(rt, in);
}

static void remove_instance(struct runtime *rt, struct instance_rt *in)
{
        struct buf path = BUF_INIT;
        int r;

        path_service_dir(rt->cfg, in->app->name, in->rec.instance, &path);
        r = remove_tree(path.data);
        if (r < 0)
                log_inst_errno(r, in, "cannot remove '%s'", path.data);
        path_instance_record(rt->cfg, in->app->name, in->rec.instance, &path);
        (void)unlink(path.data);
        cgroup_release(rt, in);
        log_inst(LOG_INFO, in, "removed");
        buf_release(&path);
        free(in->op);
        in->op = NULL;
        instance_free(rt, in);
        rt->loop.dirty = true;
}

/* --- one function per phase (enum op_phase); advance() dispatches --- */

/*
 * Is the cached tarball of the step's version the one a fetch job of this
 * daemon verified, for the sha256 current.json gives it now?
 */
static bool fetch_verified_already(struct runtime *rt, struct instance_rt *in)
{
        struct buf tar = BUF_INIT;
        struct release_desc rel;
        bool held;

        (void)desired_release_for(rt->cfg, in->app->cfg, in->op->step.to, &rel);
        path_cache_file(rt->cfg, in->app->name, in->op->step.to, &tar);
        held = verified_cache_holds(&in->app->verified, in->op->step.to, rel.sha256, tar.data);
        release_desc_release(&rel);
        buf_release(&tar);
        return held;
}

static void enter_fetch(struct runtime *rt, struct instance_rt *in)
{
        const char *args[] = { in->app->name, in->op->step.to, NULL };
        const struct inst_job job = { .cmd = "__fetch", .args = args,
                                      .timeout_ms = FETCH_TIMEOUT_MS, .done = fetch_done };

        /* Another replica's fetch job verified this very file: no job, no second hash. */
        if (fetch_verified_already(rt, in)) {
                log_inst(LOG_DEBUG, in, "%s-%s: the cached tarball is the one verified; no fetch job",
                         in->app->name, in->op->step.to);
                set_phase(rt, in, PHASE_UNPACK);
                advance(rt, in);
                return;
        }
        if (!phase_job(rt, in, &job, "fetch %s-%s", in->app->name, in->op->step.to))
                deploy_deferred(rt, in, "fetch", "cannot start the fetch job");
}

/*
 * The unpack job of `version` (from the cache) into the instance's release
 * tree `into`, as the app's user (DESIGN §8): it reads the tarball and
 * writes its own tree.  -errno when the tarball cannot be shared with it
 * (logged); else whether the job started (or waits out a host fault).
 */
static int unpack_job(struct runtime *rt, struct instance_rt *in, const char *version,
                      const char *into, job_done_fn done, const char *what_suffix)
{
        struct buf tar = BUF_INIT;
        char max[32];
        int r;

        path_cache_file(rt->cfg, in->app->name, version, &tar);
        if ((r = app_user_share_cache_file(rt->cfg, in->app->cfg, tar.data)) < 0) {
                log_errno(r, "app=%s: cannot let user %s read '%s'", in->app->name,
                          in->app->cfg->user, tar.data);
                buf_release(&tar);
                return r;
        }
        snprintf(max, sizeof(max), "%llu", (unsigned long long)rt->cfg->max_unpacked_bytes);
        const char *args[] = { tar.data, into, max, NULL };
        const struct inst_job job = { .cmd = "__unpack", .args = args, .as_app_user = true,
                                      .timeout_ms = UNPACK_TIMEOUT_MS, .done = done };
        r = phase_job(rt, in, &job, "unpack %s-%s into %s/%d%s", in->app->name, version,
                      in->app->name, in->rec.instance, what_suffix);
        buf_release(&tar);
        return r;
}

static void enter_unpack(struct runtime *rt, struct instance_rt *in)
{
        struct buf nw = BUF_INIT, dir = BUF_INIT;
        int r;

        path_release_dir(rt->cfg, in->app->name, in->rec.instance, "new", &nw);
        /* A leftover new/ from an interrupted deploy is not trusted. */
        if ((r = remove_tree(nw.data)) < 0) {
                log_errno(r, "cannot remove '%s'", nw.data);
                deploy_deferred(rt, in, "unpack", "cannot clear new/");
                goto out;
        }
        path_service_dir(rt->cfg, in->app->name, in->rec.instance, &dir);
        (void)mkdir_p(dir.data, 0700);
        /* The app's user unpacks into its tree and reads the tarball (DESIGN §8). */
        if ((r = app_user_own_tree(rt->cfg, in->app->cfg, in->rec.instance)) < 0) {
                log_errno(r, "app=%s: cannot give '%s' to user %s", in->app->name, dir.data,
                          in->app->cfg->user);
                deploy_deferred(rt, in, "unpack", "cannot give the service tree to the app's user");
                goto out;
        }
        r = unpack_job(rt, in, in->op->step.to, nw.data, unpack_done, "");
        if (r < 0)
                deploy_deferred(rt, in, "unpack", "cannot let the app's user read the tarball");
        else if (r == 0)
                deploy_deferred(rt, in, "unpack", "cannot start the unpack job");
out:
        buf_release(&nw);
        buf_release(&dir);
}

static void enter_preflight(struct runtime *rt, struct instance_rt *in)
{
        const char *args[] = { "preflight", "--version", in->op->step.to, NULL };
        const struct inst_job job = { .cmd = "__hook", .app_and_number = true, .args = args,
                                      .timeout_ms = UPGRADE_KIND_TIMEOUT_MS,
                                      .done = preflight_done };

        if (!phase_job(rt, in, &job, "pre-flight %s-%s on %s/%d", in->app->name, in->op->step.to,
                       in->app->name, in->rec.instance))
                deploy_deferred(rt, in, "check", "cannot start the pre-flight job");
}

static void enter_stop(struct runtime *rt, struct instance_rt *in)
{
        sup_stop(rt, in, after_stop);
}

/* A rollback with nothing to go back to: stopped, not stuck in deploying. */
static void rollback_failed(struct runtime *rt, struct instance_rt *in, const char *why)
{
        sup_record_history(rt, in, HISTORY_ROLLBACK, in->op->step.from, in->op->step.to, false,
                           why);
        in->rec.previous_version[0] = '\0';
        instance_set_state(rt, in, INSTANCE_STOPPED, "rollback failed");
        op_finish(rt, in);
}

static void enter_rotate(struct runtime *rt, struct instance_rt *in)
{
        const struct op *op = in->op;
        bool rollback = op->step.action == PLAN_ROLLBACK;
        int r = rollback ? replace_current(rt, in, "previous") : rotate_forward(rt, in);

        if (r < 0) {
                log_inst_errno(r, in, "cannot rotate releases");
                if (rollback)
                        rollback_failed(rt, in, "cannot rotate releases");
                else
                        deploy_failed(rt, in, "cannot rotate releases");
                return;
        }
        deferred_done(rt, in->app, op->step.to);
        if (rollback) {
                str_copy(in->rec.version, sizeof(in->rec.version), op->step.to);
                in->rec.previous_version[0] = '\0';
                in->rec.deploy_started_at_ms = 0;
                in->rec.probation_started_at_ms = 0;
                in->rec.probation_crashes = 0;
                in->rec.consecutive_crashes = 0;
                instance_save(rt, in);
                set_phase(rt, in, PHASE_START);
        } else {
                str_copy(in->rec.previous_version, sizeof(in->rec.previous_version),
                         in->rec.version);
                str_copy(in->rec.version, sizeof(in->rec.version), op->step.to);
                in->rec.consecutive_crashes = 0;
                instance_save(rt, in);
                if (pre_commands_ran(rt, in)) {
                        /*
                         * They ran on an earlier replica's turn: straight to start,
                         * one journal write less.  Resumed at start or at
                         * pre_commands, the step does the same (they are skipped
                         * again), so the start write stands for both: the crash
                         * point of pre_commands is after it (crash_point.h).
                         */
                        set_phase(rt, in, PHASE_START);
                        crash_point(plan_action_to_string(op->step.action),
                                    phase_name(PHASE_PRE_COMMANDS));
                } else {
                        set_phase(rt, in, PHASE_PRE_COMMANDS);
                }
        }
        advance(rt, in);
}

static void enter_pre_commands(struct runtime *rt, struct instance_rt *in)
{
        const char *args[] = { "pre_commands", NULL };
        /* Each pre-command has its own timeout in the hook; this bounds them all. */
        const struct inst_job job = { .cmd = "__hook", .app_and_number = true, .args = args,
                                      .timeout_ms = in->app->cfg->rollback_timeout_ms,
                                      .done = pre_commands_done };

        if (pre_commands_ran(rt, in)) {
                set_phase(rt, in, PHASE_START);
                advance(rt, in);
                return;
        }
        instance_set_state(rt, in, INSTANCE_PRE_COMMANDS, NULL);
        if (!phase_job(rt, in, &job, "hook pre_commands %s/%d", in->app->name, in->rec.instance))
                deploy_failed(rt, in, "cannot run the pre_commands hook");
}

static void enter_start(struct runtime *rt, struct instance_rt *in)
{
        const struct op *op = in->op;

        if (op->step.action == PLAN_RESTART) {
                in->rec.forced_restarts++;
                if (op->step.instance_token)
                        str_copy(in->rec.instance_restart_token,
                                 sizeof(in->rec.instance_restart_token), op->step.token);
                else
                        str_copy(in->rec.restart_token, sizeof(in->rec.restart_token),
                                 op->step.token);
                sup_record_history(rt, in, HISTORY_RESTART, in->rec.version, in->rec.version, true,
                                   op->step.reason);
        } else if (op->step.action == PLAN_ROLLBACK) {
                if (!op->recorded) {
                        sup_record_history(rt, in, HISTORY_ROLLBACK, op->step.from, op->step.to,
                                           true, op->step.reason);
                        sup_hook_event(rt, in, "rolled_back");
                }
        } else {
                /* A fresh deployment applies the restart requests in force. */
                const char *tok = override_instance_token(&in->app->desired.override,
                                                          in->rec.instance);
                str_copy(in->rec.restart_token, sizeof(in->rec.restart_token),
                         in->app->desired.override.restart);
                str_copy(in->rec.instance_restart_token, sizeof(in->rec.instance_restart_token),
                         tok ? tok : "");
        }
        /*
         * Not written here: the start (launch: "starting", its pid) or its
         * failure writes the record next, after the start hook's answer.  The
         * record already names the release (rotate), so a daemon dying in
         * between finds a step that was deploying, with no journal, and starts
         * that release (exec_recover).  Each write is two fsyncs in the loop.
         */
        in->rec.target_version[0] = '\0';
        instance_enter_state(in, INSTANCE_STARTING, "starting");
        op_finish(rt, in);
        sup_start(rt, in);
}

static void enter_done(struct runtime *rt, struct instance_rt *in)
{
        op_finish(rt, in);
}

static void enter_upgrade_kind(struct runtime *rt, struct instance_rt *in)
{
        const char *args[] = { "upgrade_kind", "--version", in->op->step.to, "--from",
                               in->rec.version, NULL };
        /* arg: the pid asked; the answer is about that process only. */
        const struct inst_job job = { .cmd = "__hook", .app_and_number = true, .args = args,
                                      .timeout_ms = UPGRADE_KIND_TIMEOUT_MS,
                                      .done = upgrade_kind_done, .arg = in->rec.pid };

        if (!hot_candidate(in) ||
            !phase_job(rt, in, &job, "hook upgrade_kind %s/%d", in->app->name, in->rec.instance)) {
                set_phase(rt, in, PHASE_STOP);
                advance(rt, in);
        }
}

static void enter_hot_pre_commands(struct runtime *rt, struct instance_rt *in)
{
        /* ctx.version is the new release: its pre_commands run from new/. */
        const char *args[] = { "pre_commands", "--version", in->op->step.to, "--from",
                               in->op->step.from, "--hot", NULL };
        const struct inst_job job = { .cmd = "__hook", .app_and_number = true, .args = args,
                                      .timeout_ms = in->app->cfg->rollback_timeout_ms,
                                      .done = hot_pre_commands_done };

        if (pre_commands_ran(rt, in)) {
                set_phase(rt, in, PHASE_HOT_UPGRADE);
                advance(rt, in);
                return;
        }
        if (!phase_job(rt, in, &job, "hook pre_commands %s/%d (hot)", in->app->name,
                       in->rec.instance))
                hot_not_installed(rt, in, "cannot run the pre_commands hook");
}

static void enter_hot_upgrade(struct runtime *rt, struct instance_rt *in)
{
        const struct op *op = in->op;
        const char *args[] = { "hot_upgrade", "--version", op->step.to, "--from", op->step.from,
                               "--hot", NULL };
        /* arg: the pid upgraded; the same one must be there after. */
        const struct inst_job job = { .cmd = "__hook", .app_and_number = true, .args = args,
                                      .timeout_ms = HOT_UPGRADE_TIMEOUT_MS,
                                      .done = hot_upgrade_done, .arg = in->rec.pid };

        if (!sup_is_running(in))
                hot_fallback(rt, in, "the instance stopped before its hot upgrade");
        else if (!phase_job(rt, in, &job, "hook hot_upgrade %s/%d %s -> %s", in->app->name,
                            in->rec.instance, op->step.from, op->step.to))
                hot_not_installed(rt, in, "cannot run the hot_upgrade hook");
}

static void enter_hot_previous(struct runtime *rt, struct instance_rt *in)
{
        const struct op *op = in->op;
        struct buf prev = BUF_INIT, tar = BUF_INIT;
        int r;

        /* The new release lives in current/ now (hot) or goes there (fallback). */
        if (op->step.action == PLAN_DEPLOY_HOT)
                remove_new(rt, in);
        path_release_dir(rt->cfg, in->app->name, in->rec.instance, "previous", &prev);
        if ((r = remove_tree(prev.data)) < 0) {
                log_inst_errno(r, in, "cannot remove '%s'", prev.data);
                hot_previous_finish(rt, in, false);
                goto out;
        }
        path_cache_file(rt->cfg, in->app->name, op->step.from, &tar);
        if (!op->step.from[0] || access(tar.data, R_OK) != 0) {
                log_inst(LOG_WARN, in, "%s is not in the cache; no release to roll back to",
                         op->step.from[0] ? op->step.from : "the old release");
                hot_previous_finish(rt, in, false);
                goto out;
        }
        if (unpack_job(rt, in, op->step.from, prev.data, hot_previous_done, "/previous") <= 0)
                hot_previous_finish(rt, in, false);
out:
        buf_release(&prev);
        buf_release(&tar);
}

static void enter_replace(struct runtime *rt, struct instance_rt *in)
{
        const struct op *op = in->op;
        struct buf prev = BUF_INIT;
        int r;

        if (sup_is_running(in)) {
                sup_stop(rt, in, replace_stopped);
                return;
        }
        if ((r = replace_current(rt, in, "new")) < 0) {
                log_inst_errno(r, in, "cannot replace the release");
                deploy_failed(rt, in, "cannot replace the release");
                return;
        }
        deferred_done(rt, in->app, op->step.to);
        path_release_dir(rt->cfg, in->app->name, in->rec.instance, "previous", &prev);
        str_copy(in->rec.previous_version, sizeof(in->rec.previous_version),
                 dir_exists(prev.data) ? op->step.from : "");
        buf_release(&prev);
        str_copy(in->rec.version, sizeof(in->rec.version), op->step.to);
        in->rec.consecutive_crashes = 0;
        instance_save(rt, in);
        /* The pre-commands ran before the hot attempt. */
        set_phase(rt, in, PHASE_START);
        advance(rt, in);
}

/* remove and stop are not phased: stop the process, then forget it or settle it. */
static void advance_unphased(struct runtime *rt, struct instance_rt *in)
{
        if (sup_is_running(in)) {
                sup_stop(rt, in, after_stop);
        } else if (in->op->step.action == PLAN_REMOVE) {
                remove_instance(rt, in);
        } else {
                in->rec.ready = false;
                instance_set_state(rt, in, INSTANCE_STOPPED, in->op->step.reason);
                op_finish(rt, in);
        }
}

static void (*const phase_enter[])(struct runtime *rt, struct instance_rt *in) = {
        [PHASE_FETCH] = enter_fetch,
        [PHASE_UNPACK] = enter_unpack,
        [PHASE_PREFLIGHT] = enter_preflight,
        [PHASE_STOP] = enter_stop,
        [PHASE_ROTATE] = enter_rotate,
        [PHASE_PRE_COMMANDS] = enter_pre_commands,
        [PHASE_START] = enter_start,
        [PHASE_DONE] = enter_done,
        [PHASE_UPGRADE_KIND] = enter_upgrade_kind,
        [PHASE_HOT_PRE_COMMANDS] = enter_hot_pre_commands,
        [PHASE_HOT_UPGRADE] = enter_hot_upgrade,
        [PHASE_HOT_PREVIOUS] = enter_hot_previous,
        [PHASE_REPLACE] = enter_replace,
};

/* Run the instance's step from its current phase. */
static void advance(struct runtime *rt, struct instance_rt *in)
{
        if (in->op->step.action == PLAN_REMOVE || in->op->step.action == PLAN_STOP)
                advance_unphased(rt, in);
        else
                phase_enter[in->op->phase](rt, in);
}

/*
 * Why a deployment failed, for the ghost, the history and last_error: the
 * planner's reason, then the cause it cannot know -- what the readiness job
 * saw last (a readiness timeout) or the last crash (probation).
 */
static void failure_cause(const struct instance_rt *in, struct buf *out, const char *reason)
{
        struct buf seen = BUF_INIT;

        buf_puts(out, reason);
        if (probation_failed(in->rec.probation_started_at_ms, in->rec.probation_crashes,
                             in->app->cfg->max_probation_crashes)) {
                if (in->rec.last_error[0])
                        buf_printf(out, "; last crash: %s", in->rec.last_error);
        } else {
                sup_not_ready_reason(in, &seen);
                if (seen.len)
                        buf_printf(out, "; not ready: %s", seen.data);
        }
        buf_release(&seen);
}

/*
 * A step without a journal (start, restart, stop, remove) records what it
 * does in the instance's record: where the host cannot write it (a full or
 * read-only var_path, host_faults.c has noted it) the step does not start.
 */
static bool record_writable(struct runtime *rt, struct instance_rt *in)
{
        int r = instance_save(rt, in);

        return r == 0 || !host_fault_errno(r);
}

void exec_begin(struct runtime *rt, struct app_rt *a, const struct plan_step *s)
{
        struct instance_rt *in = instance_get(a, s->instance, true);

        if (!in || in->op || in->starting_job || in->stop_requested)
                return;
        log_inst(LOG_INFO, in, "%s %s -> %s (%s)", plan_action_to_string(s->action),
                 s->from[0] ? s->from : "none", s->to[0] ? s->to : "none", s->reason);
        switch (s->action) {
        case PLAN_WAIT:
                return;
        case PLAN_START:
                /*
                 * A crash restart (backoff) starts first and is recorded after:
                 * launch() writes "starting" with the new pid, and a record that
                 * could not be written is noted as a host fault there and fixed
                 * up by adoption (daemon.c, adopt_unrecorded).  Writing it here
                 * first cost two fsyncs on the crash-to-exec path, and on a full
                 * var_path kept a crashed instance down.
                 */
                if (in->rec.state != INSTANCE_BACKOFF && !record_writable(rt, in))
                        return;
                sup_start(rt, in);
                return;
        default:
                break;
        }
        in->op = xcalloc(1, sizeof(*in->op));
        in->op->step = *s;
        in->op->started_at_ms = loop_now(&rt->loop);
        /*
         * Resume, don't redo: a step whose journal cannot be written is not
         * started at all (a full disk, a read-only var_path).  It is tried again
         * once the host's fault has passed; nothing ran, nothing is blamed.
         */
        if (journaled(in->op) ? journal_write(rt, in, "begin") < 0 : !record_writable(rt, in)) {
                free(in->op);
                in->op = NULL;
                return;
        }
        switch (s->action) {
        case PLAN_DEPLOY_FULL:
        case PLAN_DEPLOY_HOT:
                /* Pre-commands and checksum as published with this version, whatever comes next. */
                if (strcmp(a->desired.release.version, s->to) == 0 &&
                    desired_remember_release(rt->cfg, a->name, &a->desired.release) < 0)
                        log_warn("app=%s: cannot remember release %s; its jobs read current.json",
                                 a->name, s->to);
                in->rec.deploy_started_at_ms = loop_now(&rt->loop);
                /* On probation from here: its crashes count toward failing the deployment. */
                in->rec.probation_started_at_ms = loop_now(&rt->loop);
                in->rec.probation_crashes = 0;
                str_copy(in->rec.target_version, sizeof(in->rec.target_version), s->to);
                instance_set_state(rt, in, INSTANCE_DEPLOYING, s->reason);
                set_phase(rt, in, PHASE_FETCH);
                break;
        case PLAN_ROLLBACK:
        case PLAN_STOP:
                /*
                 * A version that did not become ready is ghosted before anything
                 * moves (a stop without a previous release to go back to, too).
                 */
                if (s->from[0] && !ghosts_find(&a->ghosts, s->from)) {
                        struct buf why = BUF_INIT;
                        failure_cause(in, &why, s->reason);
                        sup_record_history(rt, in, HISTORY_FULL, in->rec.previous_version,
                                           s->from, false, why.data);
                        exec_ghost(rt, a, s->from, why.data);
                        instance_record_set_error(&in->rec, loop_now(&rt->loop), why.data);
                        sup_hook_event(rt, in, "ghosted");
                        buf_release(&why);
                }
                in->rec.deploy_started_at_ms = 0;
                str_copy(in->rec.target_version, sizeof(in->rec.target_version), s->to);
                if (s->action == PLAN_ROLLBACK)
                        instance_set_state(rt, in, INSTANCE_DEPLOYING, s->reason);
                set_phase(rt, in, PHASE_STOP);
                break;
        default: /* restart, remove */
                set_phase(rt, in, PHASE_STOP);
                break;
        }
        advance(rt, in);
}

/*
 * After a crash of the daemon: the journaled step either changed nothing on
 * the instance yet (fetch, unpack, stop, upgrade_kind, the pre-commands of a
 * hot upgrade: drop it, the planner redoes it) or was past the point of
 * rotation (finish it from that phase).  A hot upgrade caught in
 * release_handler left the node in a state nobody knows: deploy the version
 * in full (the job died with the daemon; whatever it got to, a fresh start
 * of new/ is right).  After a hot upgrade succeeded, only previous/ was left
 * to rebuild: do that.
 */
/*
 * The history line a step writes just before its journal is removed: a
 * daemon that died between the two finds it (this instance's latest line,
 * written since the step began) and does not write it twice.
 */
static bool history_recorded(struct runtime *rt, struct instance_rt *in, enum history_kind kind,
                             const struct journal *j)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct history_list l;
        bool found = false;

        path_history(rt->cfg, in->app->name, &path);
        if (history_load(path.data, &l, &err) == 0) {
                for (size_t i = l.n; i-- > 0;) {
                        const struct history_event *e = &l.items[i];
                        if (e->instance != j->instance)
                                continue;
                        found = e->kind == kind && e->ok && e->at_ms >= j->started_at_ms &&
                                strcmp(e->from, j->from) == 0 && strcmp(e->version, j->to) == 0;
                        break;
                }
                history_release(&l);
        }
        buf_release(&path);
        buf_release(&err);
        return found;
}

/* An instance left in an in-flight state with no step to finish: settle it on what runs. */
/*
 * journal_gone: no journal names the instance.  A deployment that rotated and
 * was starting when the daemon died (enter_start removes the journal, the
 * start writes the record) has its release in place: it goes on, started by
 * the planner, on probation, its readiness its history line (mark_ready).
 */
static void drop_in_flight(struct runtime *rt, struct instance_rt *in, bool journal_gone)
{
        bool started = journal_gone && !sup_is_running(in) && in->rec.target_version[0] &&
                       strcmp(in->rec.target_version, in->rec.version) == 0;

        if (in->rec.state != INSTANCE_DEPLOYING && in->rec.state != INSTANCE_PRE_COMMANDS &&
            in->rec.state != INSTANCE_UPGRADING) {
                /* A step's end not written (its start was): no step is in progress. */
                if (journal_gone && in->rec.target_version[0]) {
                        in->rec.target_version[0] = '\0';
                        instance_save(rt, in);
                }
                return;
        }
        if (!started)
                in->rec.deploy_started_at_ms = 0;
        in->rec.target_version[0] = '\0';
        instance_set_state(rt, in, !sup_is_running(in) ? INSTANCE_STOPPED
                                  : in->rec.ready ? INSTANCE_RUNNING : INSTANCE_STARTING,
                           started ? "its deployment's start interrupted; starting it"
                                   : "interrupted step dropped");
}

void exec_recover(struct runtime *rt, struct app_rt *a)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct journal j;
        struct instance_rt *in;
        struct plan_step s;
        enum op_phase phase;

        path_journal(rt->cfg, a->name, &path);
        if (journal_load(path.data, &j, &err) < 0) {
                if (err.len)
                        log_warn("app=%s: %s; ignoring it", a->name, err.data);
                j.instance = 0;
        }
        /*
         * Only the journaled instance has a step to finish; any other in an
         * in-flight state (the record was written, the journal not) is settled.
         */
        for (int n = 1; n <= REPLICAS_MAX; n++)
                if (a->inst[n] && n != j.instance && !a->inst[n]->op)
                        drop_in_flight(rt, a->inst[n], true);
        if (j.instance == 0)
                goto out;
        in = instance_get(a, j.instance, true);
        if (!in)
                goto clear;
        memset(&s, 0, sizeof(s));
        s.instance = j.instance;
        str_copy(s.from, sizeof(s.from), j.from);
        str_copy(s.to, sizeof(s.to), j.to);
        snprintf(s.reason, sizeof(s.reason), "resumed after a daemon restart (phase %s)", j.phase);
        if (strcmp(j.action, "rollback") == 0)
                s.action = PLAN_ROLLBACK;
        else if (strcmp(j.action, "deploy-full") == 0)
                s.action = PLAN_DEPLOY_FULL;
        else if (strcmp(j.action, "deploy-hot") == 0)
                s.action = PLAN_DEPLOY_HOT;
        else
                goto clear;
        /* Nothing moved yet (recovery_drops), or a phase this daemon does not know: redo it. */
        if (!phase_from_name(j.phase, &phase) || recovery_drops(s.action, phase)) {
                phase = PHASE_FETCH;
        } else if (phase == PHASE_HOT_UPGRADE) {
                sup_record_history(rt, in, HISTORY_HOT, j.from, j.to, false,
                                   "deploying it in full after: interrupted by a daemon restart");
                s.action = PLAN_DEPLOY_FULL;
                phase = PHASE_HOT_PREVIOUS;
        }

        if (phase == PHASE_FETCH) {
                log_inst(LOG_INFO, in,
                         "interrupted %s %s -> %s had not touched the instance; the planner will "
                         "redo it",
                         j.action, j.from, j.to);
                drop_in_flight(rt, in, false);
                goto clear;
        }
        log_inst(LOG_INFO, in, "resuming %s %s -> %s at phase %s", j.action, j.from, j.to, j.phase);
        in->op = xcalloc(1, sizeof(*in->op));
        in->op->step = s;
        in->op->started_at_ms = j.started_at_ms;
        in->op->phase = phase;
        if (s.action == PLAN_ROLLBACK && phase == PHASE_START &&
            history_recorded(rt, in, HISTORY_ROLLBACK, &j)) {
                log_inst(LOG_INFO, in,
                         "the rollback to %s was recorded before the restart; starting it", j.to);
                in->op->recorded = true;
        }
        if (s.action == PLAN_DEPLOY_FULL && !in->rec.deploy_started_at_ms)
                in->rec.deploy_started_at_ms = j.started_at_ms;
        if (s.action == PLAN_DEPLOY_FULL && phase == PHASE_HOT_PREVIOUS)
                instance_set_state(rt, in, INSTANCE_DEPLOYING, "hot upgrade interrupted");
        /* A process still running (adopted) must stop before the releases move. */
        if ((phase == PHASE_ROTATE || phase == PHASE_STOP) && sup_is_running(in))
                in->op->phase = PHASE_STOP;
        advance(rt, in);
        goto out;
clear:
        (void)journal_clear(path.data);
out:
        buf_release(&path);
        buf_release(&err);
}
