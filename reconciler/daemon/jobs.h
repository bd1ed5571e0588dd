/*
 * jobs: the daemon's child table.  Blocking work (a hook call, a fetch, an
 * unpack, a poll) runs as a child, `CLI_EXE [-c CONFIG] __command ...` (hook
 * calls and readiness in the lean hook runner instead), in its own process group; its stdout (the answer) and the tail of its stderr (the
 * error) are read through the loop, and a deadline kills the group.  The
 * done callback runs once the child has exited AND both pipes reached EOF,
 * so no output is lost; a job whose owner is cancelled ends without it.
 *
 * Ownership: struct jobs owns its jobs (freed after their callback);
 * cli_exe and config point into the daemon's strings.  The daemon reaps
 * children (SIGCHLD) and hands a job's pid to job_reap().
 *
 * The table knows nothing of the daemon: it is told through the functions
 * it is set up with how to spawn (spawn, kill: the real ones below, or a
 * unit test's fake) and whom to tell when a job cannot start because the
 * host ran out of something (host_fault).
 */
#ifndef DEPLOYEX_JOBS_H
#define DEPLOYEX_JOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/ids.h"
#include "base/util.h"
#include "reconciler/daemon/loop.h"

struct job;
struct jobs;
typedef void (*job_done_fn)(struct jobs *js, struct job *j);

/* A child doing blocking work for the loop: a hook call, a fetch, an unpack. */
struct job {
        struct job *next;
        struct jobs *table;
        pid_t pid;
        char what[256];              /* "hook start myapp/2", for logs */
        struct loop_fd out, err;     /* fd -1 once at EOF */
        struct loop_fd exec;         /* the exec verdict (spawn_start_async); fd -1 once known */
        int start_err;               /* -errno: the program could not be executed */
        struct buf out_buf;          /* all of stdout (capped) */
        struct buf err_buf;          /* the tail of stderr */
        uint64_t deadline_ms;        /* wall clock; SIGKILL to the group after it */
        bool timed_out;
        bool exited;
        int wstatus;
        bool cancelled;              /* owner gone: no callback */
        job_done_fn done;
        /*
         * Called instead of done when the program could not be executed
         * (start_err; the host fault is noted and logged already): what its
         * starter does when job_start_as() returns NULL.  NULL = done, with
         * the job failed (exit status 127, "cannot start: ..." on stderr).
         */
        job_done_fn not_started;
        void *owner;                 /* the instance or app it works for */
        int arg;
};

struct jobs {
        struct job *list;
        struct loop *loop;
        const char *cli_exe;         /* the full deployex binary: what every job runs, but: */
        /*
         * The hook runner, deployex-hook, for the __hook and __ready jobs:
         * `HOOK_EXE --cli CLI_EXE [-c CONFIG] __hook ...`; NULL = cli_exe.
         */
        const char *hook_exe;
        const char *unpack_exe;      /* deployex-unpack for __unpack jobs; NULL = cli_exe */
        const char *config;          /* its -c CONFIG, or NULL */
        /*
         * Start j's process for argv (as ids, NULL = the daemon's own): sets
         * j->pid and the read ends j->out.fd, j->err.fd (-1 = none).  0 or
         * -errno.  jobs_spawn, or a unit test's fake.
         */
        int (*spawn)(struct jobs *js, struct job *j, const struct proc_ids *ids,
                     const char *const *argv);
        int (*kill)(pid_t pid, int sig);     /* the job's process group: spawn_kill_group */
        /* A job could not start with errno err: true when the host is at fault (noted). */
        bool (*host_fault)(struct jobs *js, int err, const char *what);
        void *ctx;                           /* for host_fault */
};

/*
 * The real spawn: pipes for stdout and stderr, watched in js->loop, and the
 * exec verdict read from the loop too: on a loaded host a new child may wait
 * milliseconds for a CPU before it gets to execve, and the loop (every app's
 * rollout, every restart) must not wait with it.
 */
int jobs_spawn(struct jobs *js, struct job *j, const struct proc_ids *ids,
               const char *const *argv);

/*
 * Start `cli_exe [-c CONFIG] args...` (NULL-terminated) as a job; args[0]
 * "__hook" or "__ready" runs in hook_exe, "__unpack" in unpack_exe, when set.
 */
struct job *job_start_self(struct jobs *js, const char *what, const char *const *args,
                           uint64_t timeout_ms, job_done_fn done, void *owner, int arg);
/*
 * The same, running as ids from its exec on (NULL = the daemon's own): for
 * a job that needs nothing of the daemon's privileges (unpacking a release as
 * its app's user).  Jobs that first read root-only state drop by themselves
 * (state/app_user.h, app_user_become()).  NULL with errno set when it could
 * not start (logged, or told to host_fault).
 */
struct job *job_start_as(struct jobs *js, const struct proc_ids *ids, const char *what,
                         const char *const *args, uint64_t timeout_ms, job_done_fn done,
                         void *owner, int arg);
/* The job whose process is pid, or NULL. */
struct job *job_find(const struct jobs *js, pid_t pid);
bool job_reap(struct jobs *js, pid_t pid, int wstatus); /* true when pid was a job */
void jobs_tick(struct jobs *js);                         /* deadlines */
void jobs_cancel_owner(struct jobs *js, void *owner);
void jobs_kill_all(struct jobs *js);
void jobs_release(struct jobs *js);                      /* frees the table, closes the pipes */
uint64_t jobs_next_deadline(const struct jobs *js);
bool job_ok(const struct job *j);                         /* exited 0, not timed out */
/* The last stderr line starting with prefix, without it, appended to out; false when none. */
bool job_err_line(const struct job *j, const char *prefix, struct buf *out);
/* "exited with status 1: <last line of stderr>" */
void job_describe_failure(const struct job *j, struct buf *out);

#endif
