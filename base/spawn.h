/*
 * spawn: the one way deployex starts a child process (after git's
 * run-command and s6).
 *
 * Everything the child needs -- the resolved executable, argv, envp, the
 * descriptors -- is built in the parent before fork().  Between fork() and
 * execve() the child makes only async-signal-safe calls: reset the signal
 * mask and dispositions, setsid() (its own session and process group, so the
 * whole group can be signalled), setgroups/setresgid/setresuid to the
 * app's user when asked, dup2() the given descriptors onto 0/1/2, chdir(),
 * execve().  An exec failure comes back to the parent as an errno
 * through a close-on-exec pipe, so spawn_start() either returns a running
 * child or an error, never a child that silently failed to exec.
 *
 * Calling sequence:
 *     spawn_env_build(...)  -> envp             (optional: inherited env minus
 *                                                patterns, plus settings)
 *     spawn_start(&opts, &pid)                   the spawn part (or spawn_start_async
 *                                                and spawn_exec_result from an event loop)
 *     spawn_wait(pid, timeout, grace, &status)   or the daemon's own SIGCHLD loop
 * or, for a command that runs to completion with its output captured,
 *     spawn_run(&opts, &run, &result)
 *
 * The daemon supervises long-lived instances with spawn_start() alone and
 * stops them with spawn_stop().  Functions return 0 or -errno and never log.
 */
#ifndef DEPLOYEX_SPAWN_H
#define DEPLOYEX_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/ids.h"
#include "state/config.h"
#include "base/util.h"

struct spawn_opts {
        char *const *argv;  /* argv[0] is the program; resolved against PATH when it has no '/' */
        char *const *envp;  /* the complete environment; NULL = this process's environ */
        const char *cwd;    /* NULL = inherit; a relative argv[0] with '/' is relative to it */
        int stdin_fd;       /* -1 = /dev/null */
        int stdout_fd;      /* -1 = /dev/null */
        int stderr_fd;      /* -1 = /dev/null */
        /*
         * SIGKILL the child when the spawning thread dies (PR_SET_PDEATHSIG):
         * for the daemon's jobs, whose work a killed daemon's successor redoes
         * and must not race.  Instances and log writers outlive the daemon.
         */
        bool die_with_parent;
        /*
         * Run as these ids (an app's user, DESIGN §8), set after setsid()
         * and before the descriptors and cwd: a cwd the user cannot enter
         * fails the spawn.  NULL = this process's ids.
         */
        const struct proc_ids *ids;
        /*
         * The cgroup v2 the child starts in; NULL = stay.  Its directory: the
         * child is created inside it (clone3 with CLONE_INTO_CGROUP, Linux
         * 5.7), so that nothing it starts is ever outside.  Its cgroup.procs
         * file ("DIR/cgroup.procs"), or a kernel without clone3's: the child
         * writes itself into it before it drops privileges and executes -- a
         * migration, which waits for an RCU grace period (10-30 ms on a busy
         * host) -- for a cgroup that may once have been killed through
         * cgroup.kill, since Linux (6.18 here) SIGKILLs every child later
         * created inside one.  Best effort: the daemon's cgroup.c says when
         * cgroups are missing.
         */
        const char *cgroup;
};

/*
 * Start a child in its own session (pid == process group id).  0 and
 * *ret_pid, or -errno: -ENOENT/-EACCES when the program cannot be found or
 * executed, -ENOTDIR/-ENOENT for a bad cwd (the child's failing errno).
 */
int spawn_start(const struct spawn_opts *o, pid_t *ret_pid);
/*
 * spawn_start() without waiting for the exec: for the daemon, whose event
 * loop must not block on a child's execve (a slow file system, a large
 * binary).  On 0, *ret_exec_fd is the read end of the close-on-exec pipe
 * (O_CLOEXEC, blocking unless the caller changes it): it turns readable at
 * EOF once the child has executed the program, or with the child's errno
 * when it could not; the child then exits with status 127 and is the
 * caller's to reap.  spawn_exec_result() reads the verdict; close the fd
 * after it.
 */
int spawn_start_async(const struct spawn_opts *o, pid_t *ret_pid, int *ret_exec_fd);
/* spawn_start() with one more descriptor: fd3 (>= 0) becomes the child's fd 3. */
int spawn_start_fd3(const struct spawn_opts *o, int fd3, pid_t *ret_pid);
/*
 * The verdict on exec_fd: 0 once the child has executed the program, the
 * child's -errno when it could not, -EINPROGRESS when the fd is non-blocking
 * and the child has not got that far yet.
 */
int spawn_exec_result(int exec_fd);
/*
 * The RLIMIT_NOFILE of the children that outlive this process (instances,
 * log writers: die_with_parent false).  The daemon raises its own soft limit
 * to the hard one; those children keep the soft limit it started with, while
 * its jobs (which may hold a connection per instance) keep the raised one.
 */
void spawn_set_child_fd_limit(unsigned long soft, unsigned long hard);
/*
 * This process sets no signal disposition from now on (the daemon, once its
 * signals are set up): children reset only the signals not at SIG_DFL now,
 * instead of all 64, before they exec.
 */
void spawn_freeze_signals(void);

/*
 * Find `name` the way execvp would, in the PATH of envp (NULL = environ),
 * before any fork.  A name containing '/' is returned as is.  -ENOENT when
 * no executable matches.
 */
int spawn_resolve(const char *name, char *const *envp, struct buf *ret);

/*
 * Build an environment: every entry of base (NULL = environ) whose name
 * matches none of the fnmatch(3) patterns in unset (e.g. "RELEASE_*"), then
 * every entry of set (replacing a base entry of the same name).  The result
 * is NULL-terminated and owned by the caller: spawn_strv_free().
 */
char **spawn_env_build(char *const *base, const char *const *unset, size_t nunset,
                       const struct kv *set, size_t nset);
void spawn_strv_free(char **v);

/* Signal the whole process group of a child started by spawn_start(). */
int spawn_kill_group(pid_t pid, int sig);

/*
 * Wait for a child to exit.  When it has not exited after timeout_ms, its
 * group gets SIGTERM, then after grace_ms SIGKILL, and the child is reaped;
 * the result is then -ETIMEDOUT with *ret_wstatus set all the same.  Members
 * of the group left behind by a child that exited by itself get SIGKILL: a
 * command that has finished leaves nothing running.  timeout_ms 0 = stop now
 * (SIGTERM, grace, SIGKILL), which is also what spawn_stop() does.
 */
int spawn_wait(pid_t pid, uint64_t timeout_ms, uint64_t grace_ms, int *ret_wstatus);
int spawn_stop(pid_t pid, uint64_t grace_ms, int *ret_wstatus);

struct spawn_run {
        uint64_t timeout_ms;  /* then SIGTERM to the group, grace_ms, SIGKILL */
        uint64_t grace_ms;
        int stdout_copy_fd;   /* the child's stdout is appended here too; -1 = nowhere */
        int stderr_copy_fd;
        size_t tail_max;      /* keep the last tail_max bytes of stdout+stderr (interleaved) */
};

struct spawn_result {
        int wstatus;          /* as waitpid(2) reports it */
        bool timed_out;
        struct buf tail;      /* initialised by spawn_run(); spawn_result_release() */
};

/*
 * Start a command whose stdout and stderr are read through pipes, copied to
 * the copy fds and kept as a tail, and wait for it (with the timeout of
 * spawn_wait()).  0 when the command ran (whatever its exit status; a
 * timeout sets timed_out), or -errno when it could not be started (then
 * *ret is untouched).  o->stdout_fd and o->stderr_fd are ignored.
 */
int spawn_run(const struct spawn_opts *o, const struct spawn_run *run, struct spawn_result *ret);
void spawn_result_release(struct spawn_result *r);

/*
 * spawn_start() with the child's stdout and stderr on two new pipes
 * (o->stdout_fd and o->stderr_fd are ignored): 0 with their read ends in
 * ret_fds[0] and ret_fds[1] (O_CLOEXEC; O_NONBLOCK when nonblock, for an
 * event loop), the caller's to read and close; -errno with nothing left open.
 */
int spawn_start_piped(const struct spawn_opts *o, bool nonblock, pid_t *ret_pid, int ret_fds[2]);
/*
 * The same without waiting for the exec (spawn_start_async): the pipes are
 * non-blocking, and so is *ret_exec_fd, for spawn_exec_result() once the
 * loop finds it readable.  For the daemon's jobs: the loop does not stop
 * while a child on a loaded host waits for a CPU to get as far as execve.
 */
int spawn_start_piped_async(const struct spawn_opts *o, pid_t *ret_pid, int ret_fds[2],
                            int *ret_exec_fd);

/* "exited with status 3", "killed by signal 9 (Killed)", "timed out after 500 ms" into out. */
void spawn_describe_status(int wstatus, bool timed_out, uint64_t timeout_ms, struct buf *out);
/* Append ": LINE", the last non-empty line of a child's stderr tail (why it failed), if any. */
void spawn_describe_stderr(const char *tail, size_t len, struct buf *out);

#endif
