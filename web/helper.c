/*
 * helper: the web UI's privileged helper and the UI's side of it (helper.h).
 *
 * Requests are SOCK_SEQPACKET messages "processes APP N" / "shell APP N"
 * carrying one descriptor (SCM_RIGHTS) to answer on, so that concurrent
 * requests from the UI's threads never share a reply channel.  The helper
 * is single-threaded and forks one process per request: a slow node or a
 * long shell never holds up the next request.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "web/helper.h"
#include "base/log.h"
#include "state/config.h"
#include "base/banned.h"

#define REQUEST_MAX 128
#define PROCESSES_OUTPUT_MAX (1024 * 1024)
#define PROCESSES_WAIT_MS 30000 /* __processes has its own 2 s connect and 10 s rpc deadlines */
#define SHELL_HUP_GRACE_MS 2000

static int helper_fd = -1; /* the UI's end */

/* --- both sides: a message with one descriptor --- */

static int send_fd(int sock, const char *msg, size_t len, int fd)
{
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { (void *)msg, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        struct cmsghdr *cm;

        memset(&u, 0, sizeof(u));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

/* A message into msg (NUL-terminated) and its descriptor (-1 if none).  Its length, 0 at EOF, or -errno. */
static ssize_t recv_fd(int sock, char *msg, size_t cap, int *ret_fd)
{
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { msg, cap - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        struct cmsghdr *cm;
        ssize_t n;

        *ret_fd = -1;
        while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0)
                if (errno != EINTR)
                        return -errno;
        msg[n] = '\0';
        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                    cm->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
        return n;
}

/* --- the helper --- */

struct helper {
        const char *self_exe;
        const char *config_path;
};

/* "processes APP N" or "shell APP N", checked: an app name as config.h allows it, 1..REPLICAS_MAX. */
static bool parse_request(char *msg, char **ret_what, char **ret_app, char **ret_n)
{
        char *save = NULL, *what = strtok_r(msg, " ", &save), *app = strtok_r(NULL, " ", &save),
             *n = strtok_r(NULL, " ", &save);
        int k;

        if (!what || !app || !n || strtok_r(NULL, " ", &save))
                return false;
        if (strcmp(what, "processes") != 0 && strcmp(what, "shell") != 0)
                return false;
        if (app[0] < 'a' || app[0] > 'z' || strlen(app) > APP_NAME_MAX)
                return false;
        for (const char *p = app; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        if (parse_int(n, &k) < 0 || k < 1 || k > REPLICAS_MAX)
                return false;
        *ret_what = what;
        *ret_app = app;
        *ret_n = n;
        return true;
}

/* In a forked child: run `deployex [-c CONFIG] COMMAND APP N`, never returns. */
static void exec_deployex(const struct helper *h, const char *command, const char *app, const char *n)
{
        const char *argv[8];
        int k = 0;

        argv[k++] = h->self_exe;
        if (h->config_path) {
                argv[k++] = "-c";
                argv[k++] = h->config_path;
        }
        argv[k++] = command;
        argv[k++] = app;
        argv[k++] = n;
        argv[k] = NULL;
        signal(SIGPIPE, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        execv(h->self_exe, (char *const *)argv);
        _exit(127);
}

static void run_processes(const struct helper *h, int out, const char *app, const char *n)
{
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
                _exit(127);
        exec_deployex(h, "__processes", app, n);
}

static int pidfd_of(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * The shell's keeper: a pty, `deployex remote APP N` on its slave as the
 * leader of a new session, the master sent over `life`; then it waits for
 * either end to go and ends the other.
 */
static void run_shell(const struct helper *h, int life, const char *app, const char *n)
{
        char slave_name[128];
        int master, slave, pfd, wstatus;
        pid_t pid;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
            ptsname_r(master, slave_name, sizeof(slave_name)) != 0)
                _exit(1);
        signal(SIGCHLD, SIG_DFL);
        pid = fork();
        if (pid < 0)
                _exit(1);
        if (pid == 0) {
                if (setsid() < 0 || (slave = open(slave_name, O_RDWR)) < 0 ||
                    ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, STDIN_FILENO) < 0 ||
                    dup2(slave, STDOUT_FILENO) < 0 || dup2(slave, STDERR_FILENO) < 0)
                        _exit(127);
                if (slave > STDERR_FILENO)
                        close(slave);
                setenv("TERM", "xterm-256color", 1);
                exec_deployex(h, "remote", app, n);
        }
        if (send_fd(life, "ok", 2, master) < 0) {
                kill(-pid, SIGKILL);
                waitpid(pid, &wstatus, 0);
                _exit(1);
        }
        close(master);
        pfd = pidfd_of(pid);
        for (;;) {
                struct pollfd p[2] = { { .fd = life, .events = POLLIN }, { .fd = pfd, .events = POLLIN } };
                char b[16];

                if (poll(p, pfd >= 0 ? 2 : 1, pfd >= 0 ? -1 : 500) < 0 && errno != EINTR)
                        break;
                if (pfd < 0 && waitpid(pid, &wstatus, WNOHANG) == pid)
                        _exit(0);
                if (p[1].revents)
                        break; /* the shell ended: closing `life` tells the UI */
                if (p[0].revents && read(life, b, sizeof(b)) <= 0) {
                        /* The UI let go: hang up, as a closed terminal would, then make sure. */
                        kill(-pid, SIGHUP);
                        kill(-pid, SIGCONT);
                        if (pfd >= 0) {
                                struct pollfd q = { .fd = pfd, .events = POLLIN };
                                if (poll(&q, 1, SHELL_HUP_GRACE_MS) == 0)
                                        kill(-pid, SIGKILL);
                        } else {
                                usleep(SHELL_HUP_GRACE_MS * 1000);
                                kill(-pid, SIGKILL);
                        }
                        break;
                }
        }
        kill(-pid, SIGKILL); /* what the shell left in its group */
        waitpid(pid, &wstatus, 0);
        _exit(0);
}

static void serve(const struct helper *h, int sock)
{
        for (;;) {
                char msg[REQUEST_MAX], *what, *app, *n;
                int fd;
                ssize_t len = recv_fd(sock, msg, sizeof(msg), &fd);
                pid_t pid;

                if (len == 0 || (len < 0 && len != -EINTR))
                        return; /* the UI is gone */
                if (fd < 0)
                        continue;
                if (!parse_request(msg, &what, &app, &n)) {
                        log_warn("web helper: refused a malformed request");
                        close(fd);
                        continue;
                }
                pid = fork();
                if (pid == 0) {
                        close(sock);
                        if (strcmp(what, "shell") == 0)
                                run_shell(h, fd, app, n);
                        run_processes(h, fd, app, n);
                }
                if (pid < 0)
                        log_errno(-errno, "web helper: cannot fork");
                close(fd);
        }
}

int helper_spawn(const char *self_exe, const char *config_path, pid_t *ret_pid)
{
        pid_t parent = getpid(), pid;
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int e = errno;
                close(sv[0]);
                close(sv[1]);
                return -e;
        }
        if (pid == 0) {
                struct helper h = { self_exe, config_path };

                close(sv[0]);
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGPIPE, SIG_IGN);
                signal(SIGCHLD, SIG_IGN); /* the request processes reap themselves */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(1);
                serve(&h, sv[1]);
                _exit(0);
        }
        close(sv[1]);
        *ret_pid = pid;
        return sv[0];
}

/* --- the UI's side --- */

void helper_use(int fd)
{
        helper_fd = fd;
        if (fd >= 0)
                (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* not for `deployex logs` and the like */
}

static int request(const char *what, const char *app, int n, int fd)
{
        char msg[REQUEST_MAX];

        if (helper_fd < 0)
                return -ENOTCONN;
        snprintf(msg, sizeof(msg), "%s %s %d", what, app, n);
        return send_fd(helper_fd, msg, strlen(msg), fd);
}

int helper_processes(const char *app, int n, struct buf *out)
{
        uint64_t deadline = time_now_ms() + PROCESSES_WAIT_MS;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        r = request("processes", app, n, fds[1]);
        close(fds[1]);
        while (r == 0) {
                struct pollfd p = { .fd = fds[0], .events = POLLIN };
                uint64_t now = time_now_ms();
                char b[4096];
                ssize_t k;

                if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                k = read(fds[0], b, sizeof(b));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        r = -errno;
                else if (k == 0)
                        break;
                else if (out->len + (size_t)k > PROCESSES_OUTPUT_MAX)
                        r = -E2BIG;
                else
                        buf_append(out, b, (size_t)k);
        }
        close(fds[0]);
        return r;
}

int helper_shell(const char *app, int n, int *ret_master, int *ret_life)
{
        char msg[16];
        int sv[2], master = -1, r;
        ssize_t k;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        r = request("shell", app, n, sv[1]);
        close(sv[1]);
        if (r == 0) {
                struct pollfd p = { .fd = sv[0], .events = POLLIN };
                if (poll(&p, 1, 10000) <= 0)
                        r = -ETIMEDOUT;
                else if ((k = recv_fd(sv[0], msg, sizeof(msg), &master)) <= 0 || master < 0)
                        r = k < 0 ? (int)k : -ECONNRESET;
        }
        if (r < 0) {
                close(sv[0]);
                return r;
        }
        *ret_master = master;
        *ret_life = sv[0];
        return 0;
}
