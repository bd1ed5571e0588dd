/*
 * websup: `deployex __websup`, the web UI's supervisor (webchild.h starts it).
 *
 * It runs `deployex [-c FILE] web` and, when that exits for any reason,
 * runs it again after a backoff (1 s, doubling to 60 s; back to 1 s once a
 * run lasted a minute).  The UI runs as the unprivileged user `deployex`
 * when that user exists and the supervisor is root ($DEPLOYEX_WEB_USER
 * names another user; "-" keeps the supervisor's own).  Both processes die
 * with their parent (PR_SET_PDEATHSIG): when the daemon goes, so does the UI.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "base/log.h"
#include "reconciler/core/backoff.h"
#include "web/helper.h"
#include "base/banned.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define STABLE_MS 60000 /* a run this long resets the backoff */

/* The user to run as: 0 and *ret filled, or -ENOENT (stay as we are). */
static int web_user(struct passwd *ret, char *buf, size_t n)
{
        const char *name = getenv("DEPLOYEX_WEB_USER");
        struct passwd *pw = NULL;

        if (!name || !name[0])
                name = "deployex";
        if (strcmp(name, "-") == 0 || geteuid() != 0)
                return -ENOENT;
        if (getpwnam_r(name, ret, buf, n, &pw) != 0 || !pw)
                return -ENOENT;
        return 0;
}

static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
        stop_sig = sig;
}

/*
 * Fork and exec the UI; in the child, drop to `pw` first.  helper_fd (or -1)
 * becomes its descriptor 3, named in $DEPLOYEX_WEB_HELPER_FD.  The pid, or -errno.
 */
static pid_t start_web(char **argv, const struct passwd *pw, int helper_fd)
{
        pid_t parent = getpid(), pid = fork();

        if (pid != 0)
                return pid < 0 ? -errno : pid;
        /* The child (of a single-threaded parent), then exec. */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        if (helper_fd >= 0) {
                if (helper_fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(helper_fd, 3) < 0)
                        _exit(127);
                setenv(HELPER_FD_ENV, "3", 1);
        }
        if (pw && (setgroups(0, NULL) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 ||
                   setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0))
                _exit(126);
        /* After the switch: a change of credentials clears the parent-death signal. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(127);
        execv(argv[0], argv);
        _exit(127);
}

static int run_websup(const struct cli *cli, int argc, char **argv)
{
        char exe[4096], pwbuf[4096];
        char *web_argv[5];
        struct passwd pwd;
        const struct passwd *pw = NULL;
        struct sigaction sa;
        uint32_t failures = 0; /* runs in a row shorter than STABLE_MS */
        ssize_t n;
        int k = 0;

        (void)argc;
        (void)argv;
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return EXIT_FAIL;
        exe[n] = '\0';
        web_argv[k++] = exe;
        if (cli->config_path) {
                web_argv[k++] = (char *)"-c";
                web_argv[k++] = (char *)cli->config_path;
        }
        web_argv[k++] = (char *)"web";
        web_argv[k] = NULL;
        if (web_user(&pwd, pwbuf, sizeof(pwbuf)) == 0)
                pw = &pwd;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        log_info("web UI supervisor: running 'deployex web' as %s",
                 pw ? pw->pw_name : "the daemon's user (no 'deployex' user, or not root)");
        while (!stop_sig) {
                uint64_t started = time_now_ms();
                /* Root's part of the UI (web/helper.h): it keeps the cookie and keys from the UI. */
                pid_t helper_pid = 0;
                int helper_fd = helper_spawn(exe, cli->config_path, &helper_pid);
                pid_t pid;
                int wstatus = 0;

                if (helper_fd < 0)
                        log_errno(helper_fd, "web UI supervisor: cannot start the web helper; "
                                  "no process lists or shells");
                pid = start_web(web_argv, pw, helper_fd);
                if (helper_fd >= 0)
                        close(helper_fd);

                if (pid < 0) {
                        log_errno(pid, "web UI supervisor: cannot fork");
                } else {
                        while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
                                if (stop_sig)
                                        kill(pid, SIGTERM);
                        if (helper_pid > 0) /* it ends when the UI does */
                                while (waitpid(helper_pid, NULL, 0) < 0 && errno == EINTR)
                                        ;
                        if (stop_sig)
                                break;
                        if (WIFSIGNALED(wstatus))
                                log_warn("web UI (pid %d) killed by signal %d", (int)pid,
                                         WTERMSIG(wstatus));
                        else
                                log_warn("web UI (pid %d) exited with status %d%s", (int)pid,
                                         WEXITSTATUS(wstatus),
                                         WEXITSTATUS(wstatus) == 126 ? " (cannot switch user)" : "");
                }
                if (time_now_ms() - started >= STABLE_MS)
                        failures = 0;
                if (failures < UINT32_MAX)
                        failures++;
                uint64_t backoff = backoff_delay_ms(BACKOFF_MIN_MS, BACKOFF_MAX_MS, failures);
                log_info("web UI restarts in %llu ms", (unsigned long long)backoff);
                struct timespec ts = { (time_t)(backoff / 1000), (long)(backoff % 1000) * 1000000 };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_sig)
                        ;
        }
        return EXIT_OK;
}

const struct cli_command cmd_x_websup = {
        .name = "__websup",
        .usage = "__websup",
        .summary = "the web UI's supervisor (started by 'deployex run')",
        .help = "",
        .run = run_websup,
};
