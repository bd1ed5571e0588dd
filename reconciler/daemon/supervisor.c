/*
 * supervisor: the life of instance processes.  Start (through the
 * language's start hook, run as a job), stop (SIGTERM to the group, then
 * SIGKILL after stop_timeout_ms), exits (requested, or a crash), readiness,
 * and adoption of processes a previous daemon started.
 *
 * Every state change goes through instance_set_state(), which logs
 * "app=... instance=... version=... starting -> running" and persists the
 * record, so that `status` and a restarted daemon see what this one saw.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reconciler/daemon/supervisor.h"
#include "state/app_user.h"
#include "base/log.h"
#include "base/proc.h"
#include "reconciler/core/readiness.h"
#include "reconciler/jobs/logwriter.h"
#include "base/fsutil.h"
#include "state/history.h"
#include "reconciler/jobs/answer.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/spawn.h"
#include "base/banned.h"

#define READY_RETRY_MS 1000
#define HOOK_TIMEOUT_MS 60000
#define STDERR_TAIL_BYTES 4096
#define STDERR_LINE_MAX 200

struct instance_rt *instance_get(struct app_rt *a, int n, bool create)
{
        struct instance_rt *in;

        if (n < 1 || n > REPLICAS_MAX)
                return NULL;
        if (a->inst[n] || !create)
                return a->inst[n];
        in = xcalloc(1, sizeof(*in));
        in->app = a;
        instance_record_init(&in->rec, n);
        in->pidfd.fd = -1;
        in->exec_fd.fd = -1;
        in->log_fd[0] = in->log_fd[1] = -1;
        a->inst[n] = in;
        return in;
}

void instance_free(struct runtime *rt, struct instance_rt *in)
{
        if (!in)
                return;
        jobs_cancel_owner(&rt->jobs, in);
        if (in->pidfd.fd >= 0) {
                loop_unwatch(&rt->loop, &in->pidfd);
                close(in->pidfd.fd);
        }
        if (in->exec_fd.fd >= 0) {
                loop_unwatch(&rt->loop, &in->exec_fd);
                close(in->exec_fd.fd);
        }
        free(in->op);
        start_cmd_release(&in->last_start);
        sup_close_logs(in);
        in->app->inst[in->rec.instance] = NULL;
        free(in);
}

int instance_save(struct runtime *rt, struct instance_rt *in)
{
        struct buf path = BUF_INIT;
        int r;

        in->rec_pending = false;
        path_instances_dir(rt->cfg, in->app->name, &path);
        r = mkdir_p(path.data, 0750); /* one stat when it exists (fsutil.h) */
        if (r >= 0) {
                path_instance_record(rt->cfg, in->app->name, in->rec.instance, &path);
                r = instance_record_save(path.data, &in->rec);
        }
        if (r < 0 && !host_faults_note(rt, r, "cannot save an instance record"))
                log_inst_errno(r, in, "cannot save '%s'", path.data);
        buf_release(&path);
        return r;
}

void instance_enter_state(struct instance_rt *in, enum instance_state s, const char *why)
{
        if (in->rec.state != s)
                log_inst(LOG_INFO, in, "%s -> %s%s%s", instance_state_to_string(in->rec.state),
                         instance_state_to_string(s), why ? ": " : "", why ? why : "");
        in->rec.state = s;
}

void instance_set_state(struct runtime *rt, struct instance_rt *in, enum instance_state s,
                        const char *why)
{
        instance_enter_state(in, s, why);
        instance_save(rt, in);
}

static void sweep_escapees(struct runtime *rt, struct instance_rt *in, uint64_t started_before);

void sup_save_pending(struct runtime *rt, struct app_rt *a)
{
        for (int n = 1; n <= REPLICAS_MAX; n++) {
                struct instance_rt *in = a->inst[n];
                if (!in)
                        continue;
                if (in->rec_pending)
                        instance_save(rt, in);
                /* Not restarted in this pass: nothing of the new process to spare yet. */
                if (in->sweep_pending && !sup_is_running(in))
                        sweep_escapees(rt, in, 0);
                if (!sup_is_running(in))
                        cgroup_settle(rt, in);
        }
}

/*
 * Not loop.dirty: that plans every app and rereads their files, and a
 * rollout's turn has a dozen such events per instance -- with 50 apps
 * rolling out, 50 passes each, which kept the loop busy while every turn
 * waited on it.  What comes from outside (overrides, current.json, ghosts)
 * still makes a full pass (inotify).
 */
void sup_app_changed(struct runtime *rt, struct app_rt *a)
{
        a->dirty = true;
        rt->loop.apps_dirty = true;
}

bool sup_is_running(const struct instance_rt *in)
{
        return in->rec.pid > 0;
}

void sup_record_history(struct runtime *rt, struct instance_rt *in, enum history_kind kind,
                        const char *from, const char *version, bool ok, const char *reason)
{
        struct history_event e;
        struct buf path = BUF_INIT;
        int r;

        memset(&e, 0, sizeof(e));
        e.at_ms = loop_now(&rt->loop);
        str_copy(e.app, sizeof(e.app), in->app->name);
        e.instance = in->rec.instance;
        e.kind = kind;
        str_copy(e.from, sizeof(e.from), from ? from : "");
        str_copy(e.version, sizeof(e.version), version ? version : "");
        if (strcmp(e.version, in->app->desired.release.version) == 0)
                str_copy(e.hash, sizeof(e.hash), in->app->desired.release.hash);
        e.ok = ok;
        str_copy(e.reason, sizeof(e.reason), reason ? reason : "");
        path_history(rt->cfg, in->app->name, &path);
        r = history_append(path.data, &e);
        if (r < 0)
                log_errno(r, "app=%s: cannot append to '%s'", in->app->name, path.data);
        in->rec.has_last_deploy = true;
        in->rec.last_deploy_kind = kind;
        in->rec.last_deploy_ok = ok;
        in->rec.last_deploy_at_ms = e.at_ms;
        instance_save(rt, in);
        buf_release(&path);
}

void sup_set_error(struct runtime *rt, struct instance_rt *in, const char *text)
{
        instance_record_set_error(&in->rec, loop_now(&rt->loop), text);
        instance_save(rt, in);
}

/*
 * A process that writes its last words to stderr and dies at once leaves
 * them in the pipe to its log writer, which runs beside the daemon and may
 * not have taken them yet when the exit is seen: while the pipe (its write
 * end, which the daemon keeps for the next process) holds unread bytes, give
 * the writer up to STDERR_DRAIN_MS, in steps of 0.1 ms, and as long again
 * once more after it took them (it writes what it read at once).  Only a
 * crash that has just written to stderr waits; others find the pipe empty.
 */
#define STDERR_DRAIN_MS 20
static void wait_for_log_writer(int pipe_w)
{
        const struct timespec step = { 0, 100000 };
        uint64_t until = time_mono_ms() + STDERR_DRAIN_MS;
        bool waited = false;
        int pending;

        while (pipe_w >= 0 && ioctl(pipe_w, FIONREAD, &pending) == 0 && pending > 0 &&
               time_mono_ms() < until) {
                nanosleep(&step, NULL);
                waited = true;
        }
        if (waited)
                nanosleep(&step, NULL);
}

/*
 * The last non-empty line of the instance's stderr log, cut at
 * STDERR_LINE_MAX: what an operator reads first after a crash.  The log
 * writer appends what the instance wrote (wait_for_log_writer); a line still in
 * the pipe after that is missed (it shows in `logs`).  The log outlives processes
 * and versions: a line the writer stamped before since_ms (the process's
 * start; 0 = unknown) is an earlier process's, not this exit's cause, and is
 * not quoted -- a release that halts silently must not be blamed on the
 * crash dump of the version before it.
 */
static void last_stderr_line(struct runtime *rt, struct instance_rt *in, uint64_t since_ms,
                             struct buf *out)
{
        struct buf path = BUF_INIT;
        char tail[STDERR_TAIL_BYTES + 1];
        struct stat st;
        ssize_t n = 0;
        int fd;

        wait_for_log_writer(in->log_fd[1]);
        path_log_file(rt->cfg, in->app->name, in->rec.instance, true, &path);
        fd = open(path.data, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                off_t at = st.st_size > STDERR_TAIL_BYTES ? st.st_size - STDERR_TAIL_BYTES : 0;
                n = pread(fd, tail, STDERR_TAIL_BYTES, at);
        }
        if (fd >= 0)
                close(fd);
        buf_release(&path);
        if (n <= 0)
                return;
        while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
                n--;
        tail[n] = '\0';
        {
                char *line = memrchr(tail, '\n', (size_t)n);
                uint64_t at;

                line = line ? line + 1 : tail;
                if (since_ms && logwriter_parse_stamp(line, strlen(line), &at) && at < since_ms)
                        return;
                if (*line)
                        buf_printf(out, ": last stderr line: %.*s", STDERR_LINE_MAX, line);
        }
}

void sup_not_ready_reason(const struct instance_rt *in, struct buf *out)
{
        if (in->ready_job)
                (void)job_err_line(in->ready_job, "not ready: ", out);
}

/*
 * A crash (an exit or a failed start) on probation counts toward failing its
 * deployment.  since_ms: when the process that ended was started.
 */
static void count_crash(struct runtime *rt, struct instance_rt *in, const char *what,
                        uint64_t since_ms)
{
        struct buf text = BUF_INIT;
        uint64_t now = loop_now(&rt->loop);

        in->rec.ready = false;
        in->rec.consecutive_crashes++;
        in->rec.crash_restarts++;
        in->rec.last_exit_at_ms = now;
        buf_puts(&text, what);
        if (probation_counts(in->rec.probation_started_at_ms, in->app->cfg->rollback_timeout_ms,
                             now)) {
                in->rec.probation_crashes++;
                buf_printf(&text, " (crash %u of %u on probation)", in->rec.probation_crashes,
                           in->app->cfg->max_probation_crashes);
        }
        last_stderr_line(rt, in, since_ms, &text);
        instance_record_set_error(&in->rec, now, text.data);
        buf_release(&text);
}

struct job *inst_job_startv(struct runtime *rt, struct instance_rt *in, const struct inst_job *spec,
                            const char *what_fmt, va_list ap)
{
        const char *argv[16];
        char num[16], what[256];
        struct job *j;
        size_t n = 0;

        argv[n++] = spec->cmd;
        if (spec->app_and_number) {
                snprintf(num, sizeof(num), "%d", in->rec.instance);
                argv[n++] = in->app->name;
                argv[n++] = num;
        }
        for (size_t i = 0; spec->args && spec->args[i] && n < ARRAY_SIZE(argv) - 1; i++)
                argv[n++] = spec->args[i];
        argv[n] = NULL;
        vsnprintf(what, sizeof(what), what_fmt, ap);
        j = job_start_as(&rt->jobs, spec->as_app_user ? in->app->cfg->ids : NULL, what, argv,
                         spec->timeout_ms, spec->done,
                         spec->fire_and_forget ? (void *)in->app : (void *)in,
                         spec->arg);
        if (j)
                j->not_started = spec->not_started;
        return j;
}

struct job *inst_job_start(struct runtime *rt, struct instance_rt *in, const struct inst_job *spec,
                           const char *what_fmt, ...)
{
        struct job *j;
        va_list ap;

        va_start(ap, what_fmt);
        j = inst_job_startv(rt, in, spec, what_fmt, ap);
        va_end(ap);
        return j;
}

/* The on_event job's answer: the hooks define no on_event. */
static bool answered_undefined(const struct job *j)
{
        struct buf err = BUF_INIT;
        yajl_val tree = NULL, result;
        bool undefined = false;

        if (answer_parse(j->out_buf.data, j->out_buf.len, "on_event", &tree, &result, &err) == 0 &&
            YAJL_IS_STRING(result))
                undefined = strcmp(result->u.string, ANSWER_UNDEFINED) == 0;
        yajl_tree_free(tree);
        buf_release(&err);
        return undefined;
}

static void hook_event_done(struct jobs *js, struct job *j)
{
        struct app_rt *a = j->owner;
        struct buf why = BUF_INIT;

        (void)js;
        if (!job_ok(j)) {
                job_describe_failure(j, &why);
                log_warn("%s: %s", j->what, why.data);
        } else if (j->arg && j->arg == a->on_event_probe_id) {
                /* What the latest job found holds for the files it started with. */
                a->no_on_event_known = answered_undefined(j);
                a->no_on_event = a->on_event_probe;
                if (a->no_on_event_known)
                        log_debug("app=%s: the hooks define no on_event; no more on_event jobs "
                                  "while their files stay the same", a->name);
        }
        buf_release(&why);
}

/*
 * on_event(ctx, ev) is informational: fire and forget (the job outlives the
 * instance, not its app).  Hooks that define none cost no job while their
 * files stay as they were when a job said so (hook_files.h): a rollout
 * would otherwise start a hook runner per replica to learn nothing.
 */
void sup_hook_event(struct runtime *rt, struct instance_rt *in, const char *event)
{
        struct app_rt *a = in->app;
        const char *args[] = { "on_event", "--event", event, NULL };
        struct hook_files now;
        bool known = hook_files_read(a->cfg, &now) == 0;
        const struct inst_job job = { .cmd = "__hook", .app_and_number = true, .args = args,
                                      .timeout_ms = HOOK_TIMEOUT_MS, .done = hook_event_done,
                                      .fire_and_forget = true,
                                      .arg = known ? a->on_event_probe_id + 1 : 0 };

        if (known && a->no_on_event_known && hook_files_same(&now, &a->no_on_event)) {
                log_inst(LOG_DEBUG, in, "on_event(%s): the hooks define none; no job", event);
                return;
        }
        if (inst_job_start(rt, in, &job, "hook on_event(%s) %s/%d", event, a->name,
                           in->rec.instance) && known) {
                a->on_event_probe_id++;
                a->on_event_probe = now;
        }
}

/* --- exits --- */

/*
 * What the instance left behind outside its process group: a child that
 * called setsid() or double-forked escapes the group kill, keeps the log
 * pipes open and would pile up, one more per restart.  The daemon is a child
 * subreaper (daemon.c), so such orphans are its own to reap; they carry the
 * instance's marker in their environment, which is how they are found.
 */
static void sweep_escapees(struct runtime *rt, struct instance_rt *in, uint64_t started_before)
{
        struct buf dir = BUF_INIT, entry = BUF_INIT;
        int n;

        in->sweep_pending = false;
        path_service_dir(rt->cfg, in->app->name, in->rec.instance, &dir);
        buf_printf(&entry, "%s=%s", INSTANCE_MARKER, dir.data);
        n = proc_kill_marked(entry.data, started_before, SIGKILL);
        buf_release(&dir);
        buf_release(&entry);
        if (n > 0)
                log_inst(LOG_WARN, in,
                         "killed %d process%s it left behind outside its process group", n,
                         n == 1 ? "" : "es");
}

static void process_gone(struct runtime *rt, struct instance_rt *in, int wstatus, bool known)
{
        struct buf why = BUF_INIT;
        void (*stopped)(struct runtime *, struct instance_rt *) = in->stopped;
        uint64_t started_at_ms = in->rec.started_at_ms;
        struct app_rt *a = in->app; /* stopped() may free the instance (a remove) */

        if (known)
                spawn_describe_status(wstatus, false, 0, &why);
        else
                buf_puts(&why, "exited (adopted process, status unknown)");
        in->rec.pid = 0;
        in->rec.proc_start_time = 0;
        in->rec.started_at_ms = 0;
        in->own_child = false;
        in->kill_at_ms = 0;
        /*
         * A stop sweeps now; a crash once its replacement has executed
         * (sup_tick: what started before it), off the crash-to-exec path, or
         * after the plan when the restart waits (sup_save_pending): a /proc
         * scan of every process costs about as much as the rest of a restart.
         */
        if (in->stop_requested)
                sweep_escapees(rt, in, 0);
        else
                in->sweep_pending = true;
        cgroup_kill(rt, in, !in->stop_requested);
        if (in->pidfd.fd >= 0) {
                loop_unwatch(&rt->loop, &in->pidfd);
                close(in->pidfd.fd);
                in->pidfd.fd = -1;
        }
        if (in->stop_requested) {
                in->stop_requested = false;
                in->stopped = NULL;
                in->rec.ready = false;
                instance_set_state(rt, in, INSTANCE_STOPPED, why.data);
                if (stopped)
                        stopped(rt, in);
        } else {
                /* Any exit the daemon did not ask for is a crash. */
                count_crash(rt, in, why.data, started_at_ms);
                log_inst(LOG_WARN, in, "%s", in->rec.last_error);
                buf_printf(&why, "; crash %u in a row", in->rec.consecutive_crashes);
                log_inst(LOG_INFO, in, "%s -> backoff: %s", instance_state_to_string(in->rec.state),
                         why.data);
                /*
                 * Restart first, record after: the plan of this app alone runs
                 * next (daemon.c), and the record is saved once the replacement
                 * is started (with its pid) or, when it must wait, right after
                 * the plan (sup_save_pending).  A daemon killed in between
                 * leaves a record naming the dead pid: the next one counts that
                 * crash ("found dead at start") and adopts the replacement by
                 * its marker (daemon.c, adopt_unrecorded).
                 */
                in->rec.state = INSTANCE_BACKOFF;
                in->rec_pending = true;
                /* Told to the hooks once the restart is scheduled, off the crash-to-exec path. */
                in->crash_event_pending = true;
                sup_app_changed(rt, a);
                buf_release(&why);
                return;
        }
        sup_app_changed(rt, a);
        buf_release(&why);
}

static void exec_fd_close(struct runtime *rt, struct instance_rt *in)
{
        if (in->exec_fd.fd < 0)
                return;
        loop_unwatch(&rt->loop, &in->exec_fd);
        close(in->exec_fd.fd);
        in->exec_fd.fd = -1;
}

/* The verdict on the exec, when the loop sees it first: remembered for the exit. */
static void on_exec_fd(struct loop_fd *lfd, uint32_t events)
{
        struct instance_rt *in = lfd->owner;
        struct runtime *rt = in->app->rt;
        int r;

        (void)events;
        /* Closed by sup_reap() earlier in the same batch of events. */
        if (lfd->fd < 0)
                return;
        r = spawn_exec_result(lfd->fd);
        if (r == -EINPROGRESS)
                return;
        in->exec_err = r;
        exec_fd_close(rt, in);
        /* Executed: now its readiness job and on_event (sup_tick), which waited for this. */
        sup_app_changed(rt, in->app);
}

static void start_held(struct runtime *rt, struct instance_rt *in, int err, const char *why);
static void start_failed(struct runtime *rt, struct instance_rt *in, const char *why);

/* The start command could not be executed: a failed start, not a crash of a running release. */
static void exec_failed(struct runtime *rt, struct instance_rt *in, int err)
{
        struct buf text = BUF_INIT;
        const struct start_cmd *cmd = &in->last_start;

        buf_printf(&text, "cannot execute '%s' in '%s': %s",
                   cmd->argv && cmd->argv[0] ? cmd->argv[0] : "?", cmd->cwd ? cmd->cwd : "?",
                   strerror(-err));
        in->own_child = false;
        in->exec_err = 0;
        in->rec.proc_start_time = 0;
        in->rec.started_at_ms = 0;
        if (host_fault_errno(err))
                start_held(rt, in, err, text.data);
        else
                start_failed(rt, in, text.data);
        buf_release(&text);
}

bool sup_reap(struct runtime *rt, struct app_rt *a, pid_t pid, int wstatus)
{
        for (int n = 1; n <= REPLICAS_MAX; n++) {
                struct instance_rt *in = a->inst[n];
                if (!in || !in->own_child || in->rec.pid != pid)
                        continue;
                /* The group may hold the VM's helpers (epmd is not ours: own session). */
                spawn_kill_group(pid, SIGKILL);
                /* Gone before the loop read its exec pipe: the verdict is in it now. */
                if (in->exec_fd.fd >= 0) {
                        int r = spawn_exec_result(in->exec_fd.fd);
                        if (r < 0 && r != -EINPROGRESS)
                                in->exec_err = r;
                        exec_fd_close(rt, in);
                }
                if (in->exec_err < 0)
                        exec_failed(rt, in, in->exec_err);
                else
                        process_gone(rt, in, wstatus, true);
                return true;
        }
        return false;
}

static void on_pidfd(struct loop_fd *lfd, uint32_t events)
{
        struct instance_rt *in = lfd->owner;
        struct runtime *rt = in->app->rt;

        (void)events;
        spawn_kill_group(in->rec.pid, SIGKILL);
        process_gone(rt, in, 0, false);
}

/* A process this daemon did not start (a previous daemon did): watch it through a pidfd. */
void sup_adopt(struct runtime *rt, struct instance_rt *in)
{
        int fd = (int)syscall(SYS_pidfd_open, in->rec.pid, 0);

        if (fd < 0 && errno == ESRCH) {
                process_gone(rt, in, 0, false); /* it exited since we looked */
                return;
        }
        cgroup_adopt(rt, in);
        if (fd < 0) {
                /* sup_tick() checks it through /proc instead. */
                log_inst(LOG_WARN, in, "cannot watch adopted pid %d: %s; polling it", in->rec.pid,
                         strerror(errno));
                return;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        in->pidfd = (struct loop_fd){ fd, on_pidfd, in };
        loop_watch(&rt->loop, &in->pidfd, EPOLLIN);
        log_inst(LOG_INFO, in, "adopted pid %d (%s)", in->rec.pid,
                 instance_state_to_string(in->rec.state));
}

/* --- stop --- */

void sup_stop(struct runtime *rt, struct instance_rt *in,
              void (*stopped)(struct runtime *rt, struct instance_rt *in))
{
        if (!sup_is_running(in)) {
                in->rec.ready = false;
                if (in->rec.state != INSTANCE_STOPPED && in->rec.state != INSTANCE_DEPLOYING &&
                    in->rec.state != INSTANCE_PRE_COMMANDS && in->rec.state != INSTANCE_UPGRADING)
                        instance_set_state(rt, in, INSTANCE_STOPPED, "not running");
                if (stopped)
                        stopped(rt, in);
                return;
        }
        in->stopped = stopped;
        if (in->stop_requested)
                return;
        in->stop_requested = true;
        in->kill_at_ms = loop_now(&rt->loop) + in->app->cfg->stop_timeout_ms;
        sup_app_changed(rt, in->app); /* the timer learns the SIGKILL deadline */
        log_inst(LOG_INFO, in, "stopping pid %d (SIGTERM, SIGKILL after %llu ms)", in->rec.pid,
                 (unsigned long long)in->app->cfg->stop_timeout_ms);
        spawn_kill_group(in->rec.pid, SIGTERM);
}

/* --- start --- */

static char **strv_from_json(yajl_val arr)
{
        size_t n = YAJL_IS_ARRAY(arr) ? arr->u.array.len : 0;
        char **v = xcalloc(n + 1, sizeof(char *));

        for (size_t i = 0; i < n; i++) {
                yajl_val s = arr->u.array.values[i];
                if (!YAJL_IS_STRING(s)) {
                        spawn_strv_free(v);
                        return NULL;
                }
                v[i] = xstrdup(YAJL_GET_STRING(s));
        }
        return v;
}

/*
 * The one log writer of an instance: `deployex-log` (or `deployex __log`)
 * reading two pipes, stdout on its fd 0 and stderr on its fd 3.  The daemon
 * keeps the pipes' write ends (in->log_fd) so that the writer lives across
 * the instance's restarts: a crash restart spawns the instance alone.  The
 * writer ends at EOF on both: when the instance is removed, or when the
 * daemon is gone and the instance exits too.
 */
static int open_log_writer(struct runtime *rt, struct instance_rt *in)
{
        struct buf out_path = BUF_INIT, err_path = BUF_INIT, dir = BUF_INIT;
        char max[32], keep[16];
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        pid_t pid;
        int r;

        path_log_file(rt->cfg, in->app->name, in->rec.instance, false, &out_path);
        path_log_file(rt->cfg, in->app->name, in->rec.instance, true, &err_path);
        path_log_dir(rt->cfg, in->app->name, &dir);
        r = mkdir_p(dir.data, 0750);
        if (r < 0)
                goto out;
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                r = -errno;
                goto out;
        }
        snprintf(max, sizeof(max), "%llu", (unsigned long long)rt->cfg->log_max_bytes);
        snprintf(keep, sizeof(keep), "%d", rt->cfg->log_keep);
        {
                /* The lean writer when it is installed, else this binary's own __log. */
                const char *lean[] = { rt->log_exe, out_path.data, err_path.data, max, keep, NULL };
                const char *self[] = { rt->cli_exe, "__log", out_path.data, err_path.data, max,
                                       keep, NULL };
                const char **argv = rt->log_exe ? lean : self;
                struct spawn_opts o = {
                        (char *const *)argv, NULL, NULL, out[0], -1, -1, false, NULL, NULL};
                r = spawn_start_fd3(&o, err[0], &pid);
        }
        if (r < 0)
                goto out;
        in->log_pid = pid;
        in->log_fd[0] = out[1];
        in->log_fd[1] = err[1];
        out[1] = err[1] = -1;
out:
        for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                        close(out[i]);
                if (err[i] >= 0)
                        close(err[i]);
        }
        buf_release(&out_path);
        buf_release(&err_path);
        buf_release(&dir);
        return r;
}

void sup_close_logs(struct instance_rt *in)
{
        for (int i = 0; i < 2; i++) {
                if (in->log_fd[i] >= 0)
                        close(in->log_fd[i]);
                in->log_fd[i] = -1;
        }
        in->log_pid = 0;
}

/* The log writer died (it should not): the next start gives the instance a new one. */
bool sup_reap_log_writer(struct runtime *rt, struct app_rt *a, pid_t pid)
{
        (void)rt;
        for (int n = 1; n <= REPLICAS_MAX; n++) {
                struct instance_rt *in = a->inst[n];
                if (in && in->log_pid == pid) {
                        sup_close_logs(in);
                        return true;
                }
        }
        return false;
}

/*
 * The host could not start it (out of fds, processes, memory): not a crash,
 * nothing counted, no backoff of its own -- host_faults.c holds every start
 * until the host's retry time, and the planner starts it again then.
 */
static void start_held(struct runtime *rt, struct instance_rt *in, int err, const char *why)
{
        struct buf text = BUF_INIT;

        in->rec.pid = 0;
        in->rec.ready = false;
        host_faults_note(rt, err, why);
        buf_printf(&text, "cannot start (host fault): %s: %s", why, strerror(err < 0 ? -err : err));
        instance_record_set_error(&in->rec, loop_now(&rt->loop), text.data);
        instance_set_state(rt, in, in->rec.state == INSTANCE_BACKOFF ? INSTANCE_BACKOFF
                                                                    : INSTANCE_STOPPED,
                           "the host is at fault");
        buf_release(&text);
        rt->loop.dirty = true;
}

static void start_failed(struct runtime *rt, struct instance_rt *in, const char *why)
{
        struct buf text = BUF_INIT;

        in->rec.pid = 0;
        buf_printf(&text, "cannot start: %s", why);
        /* Nothing it wrote: the start command never ran. */
        count_crash(rt, in, text.data, loop_now(&rt->loop));
        buf_release(&text);
        log_inst(LOG_ERR, in, "cannot start: %s", why);
        instance_set_state(rt, in, INSTANCE_BACKOFF, "start failed");
        sup_app_changed(rt, in->app);
}

/* What the daemon's own environment must not pass on to an instance. */
static const char *const scrubbed_env[] = { "NOTIFY_SOCKET", "LISTEN_*", "WATCHDOG_*",
                                             "DEPLOYEX_*" };

/* Spawn the instance with its log writers; 0, or -errno with the reason in err. */
static int launch(struct runtime *rt, struct instance_rt *in, const struct start_cmd *cmd,
                  struct buf *err)
{
        int out_fd = -1, err_fd = -1, exec_fd = -1, r;
        struct buf tmp = BUF_INIT;
        pid_t pid;

        path_release_dir(rt->cfg, in->app->name, in->rec.instance, "tmp", &tmp);
        /*
         * The user reaches its tree (a reboot's tmpfiles may have reset
         * var_path's mode) and writes RELEASE_TMP.
         */
        if ((r = app_user_own_tree(rt->cfg, in->app->cfg, in->rec.instance)) < 0) {
                buf_printf(err, "cannot give the service tree to user %s: %s", in->app->cfg->user,
                           strerror(-r));
                buf_release(&tmp);
                goto out;
        }
        (void)mkdir_p(tmp.data, 0700);
        (void)app_user_chown(in->app->cfg, tmp.data);
        buf_release(&tmp);
        if (in->log_fd[0] < 0 || in->log_fd[1] < 0) {
                sup_close_logs(in);
                if ((r = open_log_writer(rt, in)) < 0) {
                        buf_printf(err, "cannot start the log writer: %s", strerror(-r));
                        goto out;
                }
        }
        out_fd = in->log_fd[0];
        err_fd = in->log_fd[1];
        {
                /* The exec is not waited for: its verdict comes through the loop (on_exec_fd). */
                struct buf cg = BUF_INIT;
                struct spawn_opts o = { cmd->argv, cmd->envp, cmd->cwd, -1, out_fd, err_fd, false,
                                        in->app->cfg->ids, NULL };
                if (cgroup_prepare(rt, in, &cg))
                        o.cgroup = cg.data;
                r = spawn_start_async(&o, &pid, &exec_fd);
                buf_release(&cg);
        }
        if (r < 0) {
                buf_printf(err, "cannot execute '%s' in '%s': %s", cmd->argv[0], cmd->cwd,
                           strerror(-r));
                goto out;
        }
        exec_fd_close(rt, in);
        in->exec_err = 0;
        (void)fcntl(exec_fd, F_SETFL, O_NONBLOCK);
        in->exec_fd = (struct loop_fd){ exec_fd, on_exec_fd, in };
        if (loop_watch(&rt->loop, &in->exec_fd, EPOLLIN) < 0) {
                /* Unwatched (logged): wait for the verdict here, as spawn_start() would. */
                (void)fcntl(exec_fd, F_SETFL, 0);
                r = spawn_exec_result(exec_fd);
                close(exec_fd);
                in->exec_fd.fd = -1;
                in->exec_err = r < 0 ? r : 0;
                r = 0; /* a failed exec is told by the exit (sup_reap) */
        }
        in->rec.pid = pid;
        in->own_child = true;
        if (proc_start_time(pid, &in->rec.proc_start_time) < 0)
                in->rec.proc_start_time = 0;
        in->rec.started_at_ms = loop_now(&rt->loop);
        in->rec.ready = false;
        in->ready_retry_at_ms = 0;
        {
                char why[64];
                snprintf(why, sizeof(why), "pid %d", (int)pid);
                instance_set_state(rt, in, INSTANCE_STARTING, why);
        }
        sup_app_changed(rt, in->app);
out:
        return r;
}

void start_cmd_release(struct start_cmd *cmd)
{
        spawn_strv_free(cmd->argv);
        spawn_strv_free(cmd->envp);
        free(cmd->cwd);
        memset(cmd, 0, sizeof(*cmd));
}

/* The start hook's program could not be executed: as when its job cannot start. */
static void start_hook_not_started(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);

        in->starting_job = false;
        if (rt->stopping || in->op || sup_is_running(in))
                return;
        if (host_fault_errno(j->start_err))
                start_held(rt, in, j->start_err, "cannot run the start hook");
        else
                start_failed(rt, in, "cannot run the start hook");
        sup_app_changed(rt, in->app);
}

static void start_hook_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf err = BUF_INIT;
        struct start_cmd cmd;
        yajl_val tree = NULL, result, cwd_v;
        char **hook_env = NULL;
        int r;

        memset(&cmd, 0, sizeof(cmd));
        in->starting_job = false;
        if (rt->stopping || in->op || sup_is_running(in))
                goto out;
        if (!job_ok(j)) {
                job_describe_failure(j, &err);
                goto bad;
        }
        if (answer_parse(j->out_buf.data, j->out_buf.len, "start hook", &tree, &result, &err) < 0)
                goto bad;
        cmd.argv = strv_from_json(json_get(result, "argv"));
        hook_env = strv_from_json(json_get(result, "envp"));
        if (!cmd.argv || !cmd.argv[0] || !hook_env) {
                buf_puts(&err, "start hook: the answer needs argv (non-empty) and envp");
                goto bad;
        }
        {
                /* The marker every descendant inherits: sweep_escapees() finds them by it. */
                struct buf value = BUF_INIT;
                struct kv marker = { (char *)INSTANCE_MARKER, NULL };
                path_service_dir(rt->cfg, in->app->name, in->rec.instance, &value);
                marker.value = value.data;
                cmd.envp = spawn_env_build(hook_env, (const char *const *)scrubbed_env,
                                           ARRAY_SIZE(scrubbed_env), &marker, 1);
                buf_release(&value);
        }
        cwd_v = json_get(result, "cwd");
        if (YAJL_IS_STRING(cwd_v)) {
                cmd.cwd = xstrdup(YAJL_GET_STRING(cwd_v));
        } else {
                struct buf cur = BUF_INIT;
                path_release_dir(rt->cfg, in->app->name, in->rec.instance, "current", &cur);
                cmd.cwd = buf_detach(&cur);
        }
        str_copy(cmd.version, sizeof(cmd.version), in->rec.version);
        if ((r = launch(rt, in, &cmd, &err)) < 0 && host_fault_errno(r)) {
                start_held(rt, in, r, err.data);
                goto out;
        }
        if (r < 0)
                goto bad;
        /* Kept for crash restarts of the same release (sup_start). */
        start_cmd_release(&in->last_start);
        in->last_start = cmd;
        memset(&cmd, 0, sizeof(cmd));
        goto out;
bad:
        start_failed(rt, in, err.data);
out:
        if (tree)
                yajl_tree_free(tree);
        spawn_strv_free(hook_env);
        start_cmd_release(&cmd);
        buf_release(&err);
}

/*
 * Start the instance.  A crash restart of the release it ran reuses the
 * start hook's last answer: the hook is the language's "how to run it", which
 * a crash does not change, and skipping a child keeps crash-to-exec short.
 * Deploys, rollbacks and operator restarts ask the hook again.
 */
void sup_start(struct runtime *rt, struct instance_rt *in)
{
        const char *args[] = { "start", NULL };
        const struct inst_job job = { .cmd = "__hook", .app_and_number = true, .args = args,
                                      .timeout_ms = HOOK_TIMEOUT_MS, .done = start_hook_done,
                                      .not_started = start_hook_not_started };

        if (in->starting_job || sup_is_running(in))
                return;
        if (in->rec.state == INSTANCE_BACKOFF && in->last_start.argv &&
            strcmp(in->last_start.version, in->rec.version) == 0) {
                struct buf err = BUF_INIT;
                int r = launch(rt, in, &in->last_start, &err);
                if (r < 0 && host_fault_errno(r))
                        start_held(rt, in, r, err.data);
                else if (r < 0)
                        start_failed(rt, in, err.data);
                buf_release(&err);
                return;
        }
        if (inst_job_start(rt, in, &job, "hook start %s/%d", in->app->name, in->rec.instance))
                in->starting_job = true;
        else if (host_fault_errno(errno))
                start_held(rt, in, -errno, "cannot run the start hook");
        else
                start_failed(rt, in, "cannot run the start hook");
}

/* --- readiness --- */

static void mark_ready(struct runtime *rt, struct instance_rt *in)
{
        bool was_deploy = in->rec.deploy_started_at_ms != 0;

        in->rec.ready = true;
        in->rec.consecutive_crashes = 0;
        in->rec.deploy_started_at_ms = 0;
        if (was_deploy) {
                /*
                 * One record write for the state and the history's last_deploy
                 * (sup_record_history saves it): each is two fsyncs in the loop.
                 * A daemon dying between the line and the write finds the
                 * deployment not ready yet and writes the line again: a
                 * duplicate, never a lost event.
                 */
                instance_enter_state(in, INSTANCE_RUNNING, "ready");
                sup_record_history(rt, in, HISTORY_FULL, in->rec.previous_version,
                                   in->rec.version, true, "ready");
                sup_hook_event(rt, in, "deployed");
        } else {
                instance_set_state(rt, in, INSTANCE_RUNNING, "ready");
        }
        sup_app_changed(rt, in->app);
}

/* The readiness job's answer, its figures (jobs/ready.c), for --debug and bench/readiness. */
static void log_ready_figures(const struct instance_rt *in, const struct job *j)
{
        struct buf err = BUF_INIT;
        yajl_val tree, result;
        long long healthy = 0, ready = 0, cpu = 0;

        if (answer_parse(j->out_buf.data, j->out_buf.len, "readiness job", &tree, &result,
                         &err) < 0) {
                log_inst(LOG_WARN, in, "%s", err.data);
                buf_release(&err);
                return;
        }
        (void)answer_int(result, "healthy_ms", &healthy);
        (void)answer_int(result, "ready_ms", &ready);
        (void)answer_int(result, "cpu_ms", &cpu);
        log_inst(LOG_DEBUG, in, "ready: healthy from %lld ms, ready at %lld ms after the check "
                 "began; cpu %lld ms", healthy, ready, cpu);
        yajl_tree_free(tree);
}

static void ready_done(struct jobs *js, struct job *j)
{
        struct instance_rt *in = j->owner;
        struct runtime *rt = runtime_of(js);
        struct buf why = BUF_INIT;

        in->ready_job = NULL;
        /* The answer is about the process it watched, and only while nobody stops it. */
        if (!sup_is_running(in) || in->rec.state != INSTANCE_STARTING ||
            in->rec.pid != j->arg || in->stop_requested)
                goto out;
        if (job_ok(j)) {
                log_ready_figures(in, j);
                mark_ready(rt, in);
        } else {
                /* It could not watch (no config, no cookie): say so, try again shortly. */
                job_describe_failure(j, &why);
                log_inst(LOG_WARN, in, "the readiness check failed: %s", why.data);
                in->ready_retry_at_ms = loop_now(&rt->loop) + READY_RETRY_MS;
        }
out:
        buf_release(&why);
        sup_app_changed(rt, in->app);
}

/*
 * One readiness job per instance coming up (jobs/ready.c): it watches the
 * node from the moment the process starts and answers once it is ready.
 * The rollback deadline (the planner's) bounds it; the job's own timeout is
 * a backstop.
 */
static void start_ready_job(struct runtime *rt, struct instance_rt *in)
{
        const struct app_config *cfg = in->app->cfg;
        char pid[16], start[32];
        const char *args[] = { pid, start, NULL };
        const struct inst_job job = {.cmd = "__ready",
                                     .app_and_number = true,
                                     .args = args,
                                     .timeout_ms = cfg->rollback_timeout_ms + cfg->healthy_after_ms,
                                     .done = ready_done,
                                     .arg = in->rec.pid};

        snprintf(pid, sizeof(pid), "%d", in->rec.pid);
        snprintf(start, sizeof(start), "%llu", (unsigned long long)in->rec.proc_start_time);
        in->ready_job = inst_job_start(rt, in, &job, "readiness %s/%d", in->app->name,
                                       in->rec.instance);
        if (!in->ready_job)
                in->ready_retry_at_ms = loop_now(&rt->loop) + READY_RETRY_MS;
}

void sup_tick(struct runtime *rt, struct app_rt *a)
{
        uint64_t now = loop_now(&rt->loop);

        for (int n = 1; n <= REPLICAS_MAX; n++) {
                struct instance_rt *in = a->inst[n];
                if (!in)
                        continue;
                /*
                 * The jobs that follow a start (on_event, readiness) wait for
                 * the exec verdict (on_exec_fd): forked beside it, they would
                 * hold the new process back on a busy host.
                 */
                bool executed = in->exec_fd.fd < 0;

                /*
                 * The crashed process's escapees: what started before this one
                 * (process_gone).  Once it has executed: a /proc scan beside
                 * its exec would compete with it for the CPU.
                 */
                if (executed && in->sweep_pending && sup_is_running(in) &&
                    in->rec.proc_start_time)
                        sweep_escapees(rt, in, in->rec.proc_start_time);
                if (executed && sup_is_running(in))
                        cgroup_settle(rt, in);
                if (executed && in->crash_event_pending && in->rec.state != INSTANCE_BACKOFF) {
                        in->crash_event_pending = false;
                        sup_hook_event(rt, in, "crashed");
                }
                /* An adopted process without a pidfd: is it still there? */
                if (sup_is_running(in) && !in->own_child && in->pidfd.fd < 0 &&
                    !proc_is_same(in->rec.pid, in->rec.proc_start_time)) {
                        process_gone(rt, in, 0, false);
                        continue;
                }
                if (in->kill_at_ms && now >= in->kill_at_ms && sup_is_running(in)) {
                        log_inst(LOG_WARN, in, "still running %llu ms after SIGTERM; SIGKILL",
                                 (unsigned long long)a->cfg->stop_timeout_ms);
                        spawn_kill_group(in->rec.pid, SIGKILL);
                        in->kill_at_ms = 0;
                }
                if (executed && in->rec.state == INSTANCE_STARTING && sup_is_running(in) &&
                    !in->ready_job && !in->stop_requested && now >= in->ready_retry_at_ms)
                        start_ready_job(rt, in);
        }
}

uint64_t sup_next_deadline(const struct app_rt *a)
{
        uint64_t next = 0;

        for (int n = 1; n <= REPLICAS_MAX; n++) {
                const struct instance_rt *in = a->inst[n];
                uint64_t t = 0;
                if (!in)
                        continue;
                if (in->kill_at_ms)
                        t = in->kill_at_ms;
                if (in->rec.state == INSTANCE_STARTING && sup_is_running(in) && !in->ready_job &&
                    !in->stop_requested && in->ready_retry_at_ms &&
                    (!t || in->ready_retry_at_ms < t))
                        t = in->ready_retry_at_ms;
                if (t && (!next || t < next))
                        next = t;
        }
        return next;
}
