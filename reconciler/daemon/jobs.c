/*
 * jobs: the child table (jobs.h).  A job's pipes are read through the loop;
 * the callback runs once the child exited and both pipes reached EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reconciler/daemon/jobs.h"
#include "state/host_fault.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/spawn.h"
#include "state/secret_env.h"
#include "base/banned.h"

#define JOB_OUT_MAX (1024 * 1024)
#define JOB_ERR_TAIL 4096

static void job_maybe_finish(struct jobs *js, struct job *j);

static void on_pipe(struct loop_fd *lfd, uint32_t events)
{
        struct job *j = lfd->owner;
        bool is_out = lfd == &j->out;
        char chunk[16384];
        ssize_t n;

        (void)events;
        while ((n = fd_read_some(lfd->fd, chunk, sizeof(chunk))) > 0) {
                if (!is_out)
                        buf_append_tail(&j->err_buf, chunk, (size_t)n, JOB_ERR_TAIL);
                else if (j->out_buf.len + (size_t)n <= JOB_OUT_MAX)
                        buf_append(&j->out_buf, chunk, (size_t)n);
        }
        if (n == -EAGAIN)
                return;
        loop_close(j->table->loop, lfd);
        job_maybe_finish(j->table, j);
}

/* The program could not be executed: as job_start_as() does when spawning fails. */
static void job_not_started(struct jobs *js, struct job *j, int err)
{
        char why[HOST_FAULT_WHAT_MAX + 1];

        j->start_err = err;
        buf_printf(&j->err_buf, "cannot start: %s\n", strerror(-err));
        snprintf(why, sizeof(why), "cannot start job '%.150s'", j->what);
        if (!js->host_fault || !js->host_fault(js, err, why))
                log_errno(err, "job '%s': cannot start it", j->what);
}

static void on_exec(struct loop_fd *lfd, uint32_t events)
{
        struct job *j = lfd->owner;
        int r = spawn_exec_result(lfd->fd);

        (void)events;
        if (r == -EINPROGRESS)
                return;
        loop_close(j->table->loop, lfd);
        if (r < 0)
                job_not_started(j->table, j, r);
        job_maybe_finish(j->table, j);
}

/*
 * Kill a job not yet reaped: its process group, or the child alone when it
 * has no group yet (the spawn does not wait for it to get that far).  The
 * pid cannot be another's: this process has not reaped it.
 */
static void kill_live(struct jobs *js, struct job *j, int sig)
{
        if (js->kill(j->pid, sig) == -ESRCH)
                (void)kill(j->pid, sig);
}

static void job_free(struct job *j)
{
        buf_release(&j->out_buf);
        buf_release(&j->err_buf);
        free(j);
}

static void job_unlink(struct jobs *js, struct job *j)
{
        for (struct job **p = &js->list; *p; p = &(*p)->next) {
                if (*p == j) {
                        *p = j->next;
                        return;
                }
        }
}

static void job_maybe_finish(struct jobs *js, struct job *j)
{
        if (!j->exited || j->out.fd >= 0 || j->err.fd >= 0 || j->exec.fd >= 0)
                return;
        job_unlink(js, j);
        if (!j->cancelled) {
                job_done_fn fn = j->start_err && j->not_started ? j->not_started : j->done;
                if (fn)
                        fn(js, j);
        }
        job_free(j);
}

struct job *job_start_self(struct jobs *js, const char *what, const char *const *args,
                           uint64_t timeout_ms, job_done_fn done, void *owner, int arg)
{
        return job_start_as(js, NULL, what, args, timeout_ms, done, owner, arg);
}

int jobs_spawn(struct jobs *js, struct job *j, const struct proc_ids *ids,
               const char *const *argv)
{
        struct spawn_opts o;
        char **envp;
        int fds[2], exec_fd, r;

        memset(&o, 0, sizeof(o));
        o.argv = (char *const *)argv;
        o.stdin_fd = -1;
        /* A job must not outlive the daemon and race the work its successor redoes. */
        o.die_with_parent = true;
        o.ids = ids;
        /* A job started as an app's user (unpack): that user may read its environ. */
        envp = ids ? secret_env_scrubbed() : NULL;
        o.envp = envp;
        r = spawn_start_piped_async(&o, &j->pid, fds, &exec_fd);
        spawn_strv_free(envp);
        if (r < 0)
                return r;
        j->out.fd = fds[0];
        j->err.fd = fds[1];
        j->exec.fd = exec_fd;
        loop_watch(js->loop, &j->out, EPOLLIN);
        loop_watch(js->loop, &j->err, EPOLLIN);
        if (loop_watch(js->loop, &j->exec, EPOLLIN) < 0) {
                /* Not watched (epoll out of memory): the verdict is waited for here. */
                (void)fcntl(exec_fd, F_SETFL, 0);
                r = spawn_exec_result(exec_fd);
                close(exec_fd);
                j->exec.fd = -1;
                if (r < 0)
                        job_not_started(js, j, r);
        }
        return 0;
}

struct job *job_start_as(struct jobs *js, const struct proc_ids *ids, const char *what,
                         const char *const *args, uint64_t timeout_ms, job_done_fn done,
                         void *owner, int arg)
{
        const char *argv[32];
        size_t n = 0;
        struct job *j;
        int r;

        /*
         * The jobs a deployment runs per instance start in lean programs (about
         * 3 ms of CPU instead of 8): hook calls and readiness need no libcurl or
         * libarchive, an unpack none of libcurl, Lua or OpenSSL.
         */
        if (js->hook_exe && args[0] &&
            (strcmp(args[0], "__hook") == 0 || strcmp(args[0], "__ready") == 0)) {
                argv[n++] = js->hook_exe;
                argv[n++] = "--cli";
                argv[n++] = js->cli_exe;
        } else if (js->unpack_exe && args[0] && strcmp(args[0], "__unpack") == 0) {
                argv[n++] = js->unpack_exe;
        } else {
                argv[n++] = js->cli_exe;
        }
        /* The configuration the daemon runs, not whatever the file holds now. */
        if (js->config) {
                argv[n++] = "-c";
                argv[n++] = js->config;
        }
        for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;

        j = xcalloc(1, sizeof(*j));
        j->table = js;
        snprintf(j->what, sizeof(j->what), "%s", what);
        buf_init(&j->out_buf);
        buf_init(&j->err_buf);
        j->out = (struct loop_fd){ -1, on_pipe, j };
        j->err = (struct loop_fd){ -1, on_pipe, j };
        j->exec = (struct loop_fd){ -1, on_exec, j };
        r = js->spawn(js, j, ids, argv);
        if (r < 0) {
                job_free(j);
                /* Out of fds, processes or memory: the host's fault, logged once per cause. */
                char why[HOST_FAULT_WHAT_MAX + 1];
                snprintf(why, sizeof(why), "cannot start job '%s'", what);
                if (!js->host_fault || !js->host_fault(js, r, why))
                        log_errno(r, "job '%s': cannot start '%s'", what, argv[0]);
                errno = -r;
                return NULL;
        }
        j->deadline_ms = loop_now(js->loop) + timeout_ms;
        j->done = done;
        j->owner = owner;
        j->arg = arg;
        j->next = js->list;
        js->list = j;
        /* The program too: which jobs run in the lean ones (tests, docs/daemon.md PROGRAMS). */
        log_debug("job '%s' started, pid %d (%s)", what, (int)j->pid,
                  strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
        return j;
}

bool job_err_line(const struct job *j, const char *prefix, struct buf *out)
{
        const char *p = j->err_buf.data, *end = p + j->err_buf.len, *last = NULL;
        size_t n = strlen(prefix), len = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (l >= n && strncmp(p, prefix, n) == 0) {
                        last = p + n;
                        len = l - n;
                }
                p += l + 1;
        }
        if (last)
                buf_printf(out, "%.*s", (int)len, last);
        return last != NULL;
}

struct job *job_find(const struct jobs *js, pid_t pid)
{
        for (struct job *j = js->list; j; j = j->next)
                if (j->pid == pid)
                        return j;
        return NULL;
}

bool job_reap(struct jobs *js, pid_t pid, int wstatus)
{
        struct job *j = job_find(js, pid);

        if (!j)
                return false;
        j->exited = true;
        j->wstatus = wstatus;
        /* Whatever the job left in its group goes with it. */
        js->kill(pid, SIGKILL);
        job_maybe_finish(js, j);
        return true;
}

void jobs_tick(struct jobs *js)
{
        uint64_t now = loop_now(js->loop);

        for (struct job *j = js->list; j; j = j->next) {
                if (j->exited || j->timed_out || now < j->deadline_ms)
                        continue;
                log_warn("job '%s' timed out; killing it", j->what);
                j->timed_out = true;
                kill_live(js, j, SIGKILL);
        }
}

uint64_t jobs_next_deadline(const struct jobs *js)
{
        uint64_t next = 0;

        for (const struct job *j = js->list; j; j = j->next)
                if (!j->exited && !j->timed_out && (next == 0 || j->deadline_ms < next))
                        next = j->deadline_ms;
        return next;
}

void jobs_cancel_owner(struct jobs *js, void *owner)
{
        for (struct job *j = js->list; j; j = j->next) {
                if (j->owner != owner || j->cancelled)
                        continue;
                j->cancelled = true;
                if (!j->exited)
                        kill_live(js, j, SIGKILL);
        }
}

void jobs_kill_all(struct jobs *js)
{
        for (struct job *j = js->list; j; j = j->next) {
                j->cancelled = true;
                if (!j->exited)
                        kill_live(js, j, SIGKILL);
        }
}

void jobs_release(struct jobs *js)
{
        while (js->list) {
                struct job *j = js->list;
                js->list = j->next;
                if (j->out.fd >= 0)
                        close(j->out.fd);
                if (j->err.fd >= 0)
                        close(j->err.fd);
                if (j->exec.fd >= 0)
                        close(j->exec.fd);
                job_free(j);
        }
}

bool job_ok(const struct job *j)
{
        return !j->timed_out && WIFEXITED(j->wstatus) && WEXITSTATUS(j->wstatus) == 0;
}

void job_describe_failure(const struct job *j, struct buf *out)
{
        buf_reset(out);
        if (j->timed_out)
                buf_printf(out, "%s timed out", j->what);
        else
                spawn_describe_status(j->wstatus, false, 0, out);
        spawn_describe_stderr(j->err_buf.data, j->err_buf.len, out);
}
