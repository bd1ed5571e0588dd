/*
 * spawn: fork/exec with everything prepared before fork, and waiting with a
 * timeout that takes the whole process group down.  See spawn.h.
 */
#include "base/fsutil.h"
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/banned.h"

extern char **environ;

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* After the child is gone, how long to wait for stray writers to close the pipes. */
#define DRAIN_MS 500
/* Without pidfd (old kernels) the exit is polled this often. */
#define POLL_TICK_MS 20
#define CLOSE_RANGE_CLOEXEC_ (1U << 2) /* from linux/close_range.h */
#define CGROUP_PROCS "/cgroup.procs"

static const char *env_lookup(char *const *envp, const char *name)
{
        size_t len = strlen(name);

        for (; envp && *envp; envp++)
                if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
                        return *envp + len + 1;
        return NULL;
}

static bool is_executable_file(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int spawn_resolve(const char *name, char *const *envp, struct buf *ret)
{
        const char *path, *p;
        struct buf cand = BUF_INIT;
        int r = -ENOENT;

        if (str_empty(name))
                return -ENOENT;
        if (strchr(name, '/')) {
                buf_reset(ret);
                buf_puts(ret, name);
                return 0;
        }
        path = env_lookup(envp ? envp : environ, "PATH");
        if (!path)
                path = DEFAULT_PATH;
        for (p = path;; p++) {
                const char *end = strchrnul(p, ':');

                buf_reset(&cand);
                if (end == p)
                        buf_puts(&cand, ".");
                else
                        buf_append(&cand, p, (size_t)(end - p));
                buf_printf(&cand, "/%s", name);
                if (is_executable_file(cand.data)) {
                        buf_reset(ret);
                        buf_puts(ret, cand.data);
                        r = 0;
                        break;
                }
                if (*end == '\0')
                        break;
                p = end;
        }
        buf_release(&cand);
        return r;
}

static bool env_name_matches(const char *entry, const char *const *unset, size_t nunset)
{
        const char *eq = strchr(entry, '=');
        size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
        char name[256];

        if (len >= sizeof(name))
                return false;
        memcpy(name, entry, len);
        name[len] = '\0';
        for (size_t i = 0; i < nunset; i++)
                if (fnmatch(unset[i], name, 0) == 0)
                        return true;
        return false;
}

static bool env_is_set_by(const char *entry, const struct kv *set, size_t nset)
{
        for (size_t i = 0; i < nset; i++) {
                size_t len = strlen(set[i].key);

                if (strncmp(entry, set[i].key, len) == 0 && entry[len] == '=')
                        return true;
        }
        return false;
}

char **spawn_env_build(char *const *base, const char *const *unset, size_t nunset,
                       const struct kv *set, size_t nset)
{
        size_t n = 0, cap = 0, count = 0;
        char **v;

        if (!base)
                base = environ;
        while (base[count])
                count++;
        cap = count + nset + 1;
        v = xcalloc(cap, sizeof(*v));
        for (size_t i = 0; i < count; i++) {
                if (env_name_matches(base[i], unset, nunset) || env_is_set_by(base[i], set, nset))
                        continue;
                v[n++] = xstrdup(base[i]);
        }
        for (size_t i = 0; i < nset; i++) {
                struct buf b = BUF_INIT;
                bool dup = false;

                /* A name given twice: the last value wins, like a shell assignment. */
                for (size_t j = i + 1; j < nset; j++)
                        dup = dup || strcmp(set[i].key, set[j].key) == 0;
                if (dup)
                        continue;
                buf_printf(&b, "%s=%s", set[i].key, set[i].value);
                v[n++] = buf_detach(&b);
        }
        v[n] = NULL;
        return v;
}

void spawn_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

/* The open-files limit children get back (the daemon raised its own); 0 = unchanged. */
static struct rlimit child_nofile;

void spawn_set_child_fd_limit(unsigned long soft, unsigned long hard)
{
        child_nofile.rlim_cur = soft;
        child_nofile.rlim_max = hard;
}

/*
 * The signals a child resets before exec: every one, unless this process
 * froze its dispositions (spawn_freeze_signals): then those not at SIG_DFL
 * at that time.  64 sigaction calls are about 27 us of each crash restart.
 */
static sigset_t reset_signals;
static bool reset_frozen;

void spawn_freeze_signals(void)
{
        struct sigaction cur;

        sigemptyset(&reset_signals);
        for (int sig = 1; sig < NSIG; sig++)
                /* glibc's own 32 and 33 fail here: the child resets them always. */
                if (sigaction(sig, NULL, &cur) == 0 && cur.sa_handler != SIG_DFL)
                        sigaddset(&reset_signals, sig);
        reset_frozen = true;
}

/*
 * The child between fork() and execve(): async-signal-safe calls only.  The
 * errno of the first failure goes to the parent through errfd.
 */
static void __attribute__((noreturn))
child_exec(const char *path, char *const *argv, char *const *envp, const char *cwd,
           const int fds[4], int nfds, int errfd, pid_t die_with, const struct proc_ids *ids,
           const char *join_procs)
{
        struct sigaction sa;
        sigset_t empty;
        int moved[4];
        int err;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        /* Ignored signals (SIGPIPE in the daemon) would stay ignored across exec. */
        for (int sig = 1; sig < NSIG; sig++)
                if (!reset_frozen || sigismember(&reset_signals, sig) == 1)
                        sigaction(sig, &sa, NULL);
        /*
         * glibc's sigaction() refuses its own two real-time signals (32, 33);
         * an ignore inherited from our parent would reach the program.  The
         * kernel's call resets them: an all-zero kernel sigaction is SIG_DFL.
         */
        for (int sig = 32; sig <= 33; sig++) {
                unsigned long kernel_sa[4] = { 0, 0, 0, 0 };
                (void)syscall(SYS_rt_sigaction, sig, kernel_sa, NULL, sizeof(unsigned long));
        }
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);

        if (setsid() < 0)
                goto fail;
        /*
         * Not born in its cgroup (clone3 could not): it moves in while still
         * privileged ("0": this process).
         */
        if (join_procs) {
                int cg = open(join_procs, O_WRONLY | O_CLOEXEC);
                if (cg >= 0) {
                        (void)!write(cg, "0", 1);
                        close(cg);
                }
        }
        /* select()-based programs break above 1024 descriptors: give them the limit we had. */
        if (child_nofile.rlim_cur && die_with <= 0)
                (void)setrlimit(RLIMIT_NOFILE, &child_nofile);
        /*
         * The raw system calls: this process has one thread now, and glibc's
         * wrappers would signal the parent's threads that it no longer has.
         * Before PR_SET_PDEATHSIG, which a change of credentials clears.
         */
        if (ids && (syscall(SYS_setgroups, ids->ngroups, ids->groups) < 0 ||
                    syscall(SYS_setresgid, ids->gid, ids->gid, ids->gid) < 0 ||
                    syscall(SYS_setresuid, ids->uid, ids->uid, ids->uid) < 0))
                goto fail;
        /* The parent may have died between fork() and prctl(): check after arming. */
        if (die_with > 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != die_with))
                goto fail;
        /*
         * Move the sources (and errfd) above the last target first, so that
         * dup2 onto 0..nfds-1 cannot clobber one.
         */
        if (nfds > 3) {
                int above = fcntl(errfd, F_DUPFD_CLOEXEC, nfds);

                if (above < 0)
                        goto fail;
                errfd = above;
        }
        for (int i = 0; i < nfds; i++) {
                moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, nfds);
                if (moved[i] < 0)
                        goto fail;
        }
        for (int i = 0; i < nfds; i++)
                if (dup2(moved[i], i) < 0)
                        goto fail;
        /*
         * Descriptors the daemon inherited without O_CLOEXEC (from systemd, a
         * shell) must not reach the child either; errfd must live until exec.
         * Best effort: kernels before 5.11 do not know the flag.
         */
#ifdef SYS_close_range
        syscall(SYS_close_range, (unsigned)nfds, ~0U, CLOSE_RANGE_CLOEXEC_);
#endif
        if (cwd && chdir(cwd) < 0)
                goto fail;
        execve(path, argv, envp);
fail:
        err = errno;
        while (write(errfd, &err, sizeof(err)) < 0 && errno == EINTR)
                ;
        _exit(127);
}

/*
 * fork() whose child is created inside the cgroup of cgroup_fd: no migration
 * afterwards.  Writing a pid into cgroup.procs takes the kernel's
 * cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period
 * -- 10 to 30 ms on a busy host, most of a crash restart.  The raw system
 * call (glibc has no wrapper): the child runs only child_exec(), whose calls
 * need none of what fork() resets in glibc.  -1 with errno when the kernel
 * cannot (before 5.3 no clone3, before 5.7 no CLONE_INTO_CGROUP).
 */
static pid_t fork_into_cgroup(int cgroup_fd)
{
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
        struct clone_args a;

        memset(&a, 0, sizeof(a));
        a.flags = CLONE_INTO_CGROUP;
        a.exit_signal = SIGCHLD;
        a.cgroup = (uint64_t)cgroup_fd;
        return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
#else
        (void)cgroup_fd;
        errno = ENOSYS;
        return -1;
#endif
}

/* fd3 >= 0 becomes the child's descriptor 3. */
static int start_child(const struct spawn_opts *o, int fd3, pid_t *ret_pid, int *ret_exec_fd)
{
        char *const *envp = o->envp ? o->envp : environ;
        struct buf path = BUF_INIT, join_procs = BUF_INIT;
        int errpipe[2] = { -1, -1 };
        int devnull = -1, cgroup_fd = -1, fds[4];
        sigset_t all, old;
        pid_t pid, parent;
        int r;

        if (!o->argv || !o->argv[0])
                return -EINVAL;
        r = spawn_resolve(o->argv[0], envp, &path);
        if (r < 0)
                goto out;
        if (o->stdin_fd < 0 || o->stdout_fd < 0 || o->stderr_fd < 0) {
                devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull < 0) {
                        r = -errno;
                        goto out;
                }
        }
        fds[0] = o->stdin_fd >= 0 ? o->stdin_fd : devnull;
        fds[1] = o->stdout_fd >= 0 ? o->stdout_fd : devnull;
        fds[2] = o->stderr_fd >= 0 ? o->stderr_fd : devnull;
        fds[3] = fd3;
        if (pipe2(errpipe, O_CLOEXEC) < 0) {
                r = -errno;
                goto out;
        }
        if (o->cgroup) {
                size_t len = strlen(o->cgroup), tail = strlen(CGROUP_PROCS);

                if (len > tail && strcmp(o->cgroup + len - tail, CGROUP_PROCS) == 0) {
                        buf_puts(&join_procs, o->cgroup);
                } else {
                        /* One that cannot be opened: the write fails alike (best effort). */
                        cgroup_fd = open(o->cgroup, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        buf_printf(&join_procs, "%s%s", o->cgroup, CGROUP_PROCS);
                }
        }

        /* No handler of ours may run in the child before it has reset them. */
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, &old);
        parent = getpid();
        pid = cgroup_fd >= 0 ? fork_into_cgroup(cgroup_fd) : -1;
        if (pid == 0)
                child_exec(path.data, o->argv, envp, o->cwd, fds, fd3 >= 0 ? 4 : 3, errpipe[1],
                           o->die_with_parent ? parent : 0, o->ids, NULL);
        if (pid < 0) {
                /* No cgroup asked for, a migration asked for, or clone3 could not: fork. */
                pid = fork();
                if (pid == 0)
                        child_exec(path.data, o->argv, envp, o->cwd, fds, fd3 >= 0 ? 4 : 3,
                                   errpipe[1], o->die_with_parent ? parent : 0, o->ids,
                                   o->cgroup ? join_procs.data : NULL);
        }
        r = pid < 0 ? -errno : 0;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                goto out;
        *ret_pid = pid;
        *ret_exec_fd = errpipe[0];
        errpipe[0] = -1;
out:
        if (errpipe[0] >= 0)
                close(errpipe[0]);
        if (errpipe[1] >= 0)
                close(errpipe[1]);
        if (devnull >= 0)
                close(devnull);
        if (cgroup_fd >= 0)
                close(cgroup_fd);
        buf_release(&path);
        buf_release(&join_procs);
        return r;
}

int spawn_start_async(const struct spawn_opts *o, pid_t *ret_pid, int *ret_exec_fd)
{
        return start_child(o, -1, ret_pid, ret_exec_fd);
}

int spawn_exec_result(int exec_fd)
{
        int child_err = 0;
        ssize_t n;

        do
                n = read(exec_fd, &child_err, sizeof(child_err));
        while (n < 0 && errno == EINTR);
        if (n == 0)
                return 0;
        if (n < 0)
                return errno == EAGAIN ? -EINPROGRESS : -errno;
        if (n != (ssize_t)sizeof(child_err))
                return -ECHILD;
        return child_err > 0 ? -child_err : -ECHILD;
}

int spawn_start(const struct spawn_opts *o, pid_t *ret_pid)
{
        return spawn_start_fd3(o, -1, ret_pid);
}

int spawn_start_fd3(const struct spawn_opts *o, int fd3, pid_t *ret_pid)
{
        pid_t pid = -1;
        int fd = -1, r;

        r = start_child(o, fd3, &pid, &fd);
        if (r < 0)
                return r;
        /* Blocks until the child has executed the program (EOF) or failed to. */
        r = spawn_exec_result(fd);
        close(fd);
        if (r < 0) {
                /* The child never became the program: reap it here. */
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return r;
        }
        *ret_pid = pid;
        return 0;
}

int spawn_kill_group(pid_t pid, int sig)
{
        if (pid <= 1)
                return -EINVAL;
        if (kill(-pid, sig) < 0)
                return -errno;
        return 0;
}

struct capture {
        int fd[2];          /* read ends of the stdout and stderr pipes, -1 when closed */
        int copy[2];
        size_t tail_max;
        struct buf *tail;
};

static void capture_read(struct capture *c, int i)
{
        char chunk[16384];
        ssize_t n = read(c->fd[i], chunk, sizeof(chunk));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                close(c->fd[i]);
                c->fd[i] = -1;
                return;
        }
        if (c->copy[i] >= 0)
                (void)write_all(c->copy[i], chunk, (size_t)n, NULL); /* a full log disk must not stop the command */
        if (c->tail_max == 0)
                return;
        buf_append_tail(c->tail, chunk, (size_t)n, c->tail_max);
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
        long fd = syscall(SYS_pidfd_open, pid, 0);

        return fd < 0 ? -1 : (int)fd;
#else
        (void)pid;
        return -1;
#endif
}

/* Has the child exited (it stays a zombie, so its pid and group id stay ours)? */
static bool child_exited(pid_t pid)
{
        siginfo_t si;

        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return errno == ECHILD;
        return si.si_pid == pid;
}

/*
 * Poll until the child exits or `until` (monotonic ms, 0 = forever) passes,
 * reading the capture pipes meanwhile.  true when it exited.
 */
static bool wait_until(pid_t pid, int pidfd, uint64_t until, struct capture *c)
{
        for (;;) {
                struct pollfd pfd[3];
                nfds_t n = 0;
                int timeout = -1, idx[3] = { -1, -1, -1 };
                uint64_t now;

                if (pidfd >= 0) {
                        pfd[n].fd = pidfd;
                        pfd[n++].events = POLLIN;
                } else {
                        if (child_exited(pid))
                                return true;
                        timeout = POLL_TICK_MS;
                }
                for (int i = 0; c && i < 2; i++) {
                        if (c->fd[i] < 0)
                                continue;
                        idx[i] = (int)n;
                        pfd[n].fd = c->fd[i];
                        pfd[n++].events = POLLIN;
                }
                if (until) {
                        now = time_mono_ms();
                        if (now >= until)
                                return false;
                        if (timeout < 0 || until - now < (uint64_t)timeout)
                                timeout = (int)(until - now > 60000 ? 60000 : until - now);
                }
                if (n == 0) {
                        /* Nothing to poll (no pidfd, no pipes): sleep one tick. */
                        poll(NULL, 0, timeout);
                        continue;
                }
                if (poll(pfd, n, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        return child_exited(pid);
                }
                for (int i = 0; c && i < 2; i++)
                        if (idx[i] >= 0 && pfd[idx[i]].revents)
                                capture_read(c, i);
                if (pidfd >= 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        return true;
        }
}

static int wait_child(pid_t pid, uint64_t timeout_ms, uint64_t grace_ms, struct capture *c,
                      int *ret_wstatus, bool *ret_timed_out)
{
        int pidfd = pidfd_open_(pid);
        bool timed_out = false;
        int st = 0;
        pid_t w;

        if (timeout_ms == 0 || !wait_until(pid, pidfd, time_mono_ms() + timeout_ms, c)) {
                timed_out = timeout_ms > 0;
                spawn_kill_group(pid, SIGTERM);
                if (!wait_until(pid, pidfd, time_mono_ms() + (grace_ms ? grace_ms : 1), c)) {
                        spawn_kill_group(pid, SIGKILL);
                        wait_until(pid, pidfd, 0, c);
                }
        }
        /* The leader is a zombie still holding the group id: clear out what it left behind. */
        spawn_kill_group(pid, SIGKILL);
        do
                w = waitpid(pid, &st, 0);
        while (w < 0 && errno == EINTR);
        if (pidfd >= 0)
                close(pidfd);
        if (w < 0)
                return -errno;
        if (c) {
                /* Stray writers outside the group may still hold the pipes: bounded drain. */
                uint64_t until = time_mono_ms() + DRAIN_MS;

                while ((c->fd[0] >= 0 || c->fd[1] >= 0) && time_mono_ms() < until) {
                        struct pollfd pfd[2];
                        nfds_t n = 0;
                        int idx[2] = { -1, -1 };

                        for (int i = 0; i < 2; i++) {
                                if (c->fd[i] < 0)
                                        continue;
                                idx[i] = (int)n;
                                pfd[n].fd = c->fd[i];
                                pfd[n++].events = POLLIN;
                        }
                        if (poll(pfd, n, 50) < 0 && errno != EINTR)
                                break;
                        for (int i = 0; i < 2; i++)
                                if (idx[i] >= 0 && pfd[idx[i]].revents)
                                        capture_read(c, i);
                }
        }
        *ret_wstatus = st;
        *ret_timed_out = timed_out;
        return timed_out ? -ETIMEDOUT : 0;
}

int spawn_wait(pid_t pid, uint64_t timeout_ms, uint64_t grace_ms, int *ret_wstatus)
{
        bool timed_out;

        return wait_child(pid, timeout_ms, grace_ms, NULL, ret_wstatus, &timed_out);
}

int spawn_stop(pid_t pid, uint64_t grace_ms, int *ret_wstatus)
{
        return spawn_wait(pid, 0, grace_ms, ret_wstatus);
}

/* spawn_start_piped(), or with ret_exec_fd its spawn_start_async() form. */
static int start_piped(const struct spawn_opts *o, bool nonblock, pid_t *ret_pid, int ret_fds[2],
                       int *ret_exec_fd)
{
        struct spawn_opts opts = *o;
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        int r;

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        opts.stdout_fd = out[1];
        opts.stderr_fd = err[1];
        r = ret_exec_fd ? spawn_start_async(&opts, ret_pid, ret_exec_fd)
                        : spawn_start(&opts, ret_pid);
        if (r < 0)
                goto fail;
        /* The child holds the write ends: EOF comes once it (and what it started) closed them. */
        close(out[1]);
        close(err[1]);
        if (nonblock) {
                (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
                (void)fcntl(err[0], F_SETFL, O_NONBLOCK);
        }
        ret_fds[0] = out[0];
        ret_fds[1] = err[0];
        return 0;
fail:
        for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                        close(out[i]);
                if (err[i] >= 0)
                        close(err[i]);
        }
        return r;
}

int spawn_start_piped(const struct spawn_opts *o, bool nonblock, pid_t *ret_pid, int ret_fds[2])
{
        return start_piped(o, nonblock, ret_pid, ret_fds, NULL);
}

int spawn_start_piped_async(const struct spawn_opts *o, pid_t *ret_pid, int ret_fds[2],
                            int *ret_exec_fd)
{
        int r = start_piped(o, true, ret_pid, ret_fds, ret_exec_fd);

        if (r == 0)
                (void)fcntl(*ret_exec_fd, F_SETFL, O_NONBLOCK);
        return r;
}

int spawn_run(const struct spawn_opts *o, const struct spawn_run *run, struct spawn_result *ret)
{
        struct capture c = { { -1, -1 }, { run->stdout_copy_fd, run->stderr_copy_fd },
                             run->tail_max, NULL };
        struct buf tail = BUF_INIT;
        int st = 0, r;
        bool timed_out = false;
        pid_t pid = 0;

        r = spawn_start_piped(o, false, &pid, c.fd);
        if (r < 0)
                return r;
        c.tail = &tail;
        r = wait_child(pid, run->timeout_ms, run->grace_ms, &c, &st, &timed_out);
        for (int i = 0; i < 2; i++)
                if (c.fd[i] >= 0)
                        close(c.fd[i]);
        if (r < 0 && r != -ETIMEDOUT) {
                buf_release(&tail);
                return r;
        }
        buf_keep_tail(&tail, run->tail_max);
        ret->wstatus = st;
        ret->timed_out = timed_out;
        ret->tail = tail;
        return 0;
}

void spawn_result_release(struct spawn_result *r)
{
        buf_release(&r->tail);
}

void spawn_describe_status(int wstatus, bool timed_out, uint64_t timeout_ms, struct buf *out)
{
        if (timed_out)
                buf_printf(out, "timed out after %llu ms", (unsigned long long)timeout_ms);
        else if (WIFEXITED(wstatus))
                buf_printf(out, "exited with status %d", WEXITSTATUS(wstatus));
        else if (WIFSIGNALED(wstatus))
                buf_printf(out, "killed by signal %d (%s)", WTERMSIG(wstatus),
                           strsignal(WTERMSIG(wstatus)));
        else
                buf_printf(out, "ended with wait status %d", wstatus);
}

void spawn_describe_stderr(const char *tail, size_t len, struct buf *out)
{
        size_t start, end = str_last_line(tail, len, &start);

        if (end > start)
                buf_printf(out, ": %.*s", (int)(end - start), tail + start);
}
