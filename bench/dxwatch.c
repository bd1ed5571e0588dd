/*
 * dxwatch: the benchmarks' stopwatch.  It watches the daemon from outside,
 * through the files it writes (inotify) and the processes it starts, and
 * times everything on CLOCK_MONOTONIC, so that no figure depends on the
 * resolution of a shell loop or on the daemon's own logs.
 *
 *   dxwatch pin -s INSTANCES_DIR -i N -o OVERRIDE_FILE -v V1,V2 [-n COUNT] [-t TIMEOUT_MS]
 *       override-to-step latency: land {"version": V} (tmp + fsync beside the
 *       overrides folder, then rename into it) and time until state/APP/
 *       instances/N.json says "deploying"; wait for the instance to run V
 *       and be ready; alternate V1 and V2.
 *   dxwatch crash -s INSTANCES_DIR -i N -x START_FILE -d DEPLOYEX [-n COUNT] [-t TIMEOUT_MS]
 *       crash-to-exec latency: SIGKILL the instance's pid and time until
 *       N.json names a new live pid in state "starting"; on the way, note when
 *       the killed process had exited (pidfd), when the daemon recorded the
 *       crash, when it executed DEPLOYEX (its jobs and log writers) and when
 *       the start command under START_FILE (a file or folder) was executed.
 *   dxwatch respawn -x RUN_FILE -m MATCH [-r RECORD] [-w SETTLE_MS] [-n COUNT] [-t TIMEOUT_MS] [-l LABEL]
 *       any supervisor, the same loop: find the supervised process (its
 *       command line contains MATCH), let it run SETTLE_MS (and, with -r,
 *       until the deployex RECORD says it is running and ready), SIGKILL it,
 *       and time until RUN_FILE is executed again (inotify IN_OPEN: execve
 *       opens it).  The supervisor's own share is exit (its pidfd turns
 *       readable: the kernel is done) -> that exec.
 *   dxwatch time [-n COUNT] [-l LABEL] [-b SETUP] [-q] -- CMD [ARG..] [--and CMD [ARG..]]..
 *       run SETUP (sh -c, not timed), then the commands in sequence (timed
 *       together), COUNT times; every command must exit 0.  -q: their
 *       stdout goes to /dev/null.
 *
 * Each prints one line per sample and a summary line:
 *   LABEL: n=20 min=1.23 median=2.34 p95=3.45 max=4.56 ms
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/banned.h"

#define SAMPLES_MAX 1000
#define RECORD_MAX 65536
#define SETTLE_MS 300 /* after convergence: let the daemon's follow-up jobs finish */

struct record {
        char state[32];
        char version[80];
        long pid;
        bool ready;
};

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
        va_list ap;

        fputs("dxwatch: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static int parse_long(const char *s, long *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static long arg_long(const char *s, const char *what)
{
        long v;

        if (parse_long(s, &v) < 0 || v < 0)
                die("%s must be a non-negative integer, got '%s'", what, s);
        return v;
}

/* --- statistics --- */

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* Nearest-rank percentiles over a sorted copy. */
static void summary(const char *label, const double *v, size_t n)
{
        double s[SAMPLES_MAX];

        if (n == 0) {
                printf("%s: no samples\n", label);
                return;
        }
        memcpy(s, v, n * sizeof(*s));
        qsort(s, n, sizeof(*s), cmp_double);
        size_t med = (n - 1) / 2, p95 = (size_t)((95 * n + 99) / 100);
        p95 = p95 ? p95 - 1 : 0;
        printf("%s: n=%zu min=%.2f median=%.2f p95=%.2f max=%.2f ms\n", label, n, s[0],
               n % 2 ? s[med] : (s[med] + s[med + 1]) / 2, s[p95], s[n - 1]);
        fflush(stdout);
}

/* --- instance records (a flat JSON object; only a few members matter) --- */

/* The text right after `"key":`, or NULL. */
static const char *member(const char *text, const char *key)
{
        char pat[64];
        const char *p = text;

        snprintf(pat, sizeof(pat), "\"%s\"", key);
        while ((p = strstr(p, pat))) {
                p += strlen(pat);
                while (*p == ' ' || *p == '\n' || *p == '\t')
                        p++;
                if (*p == ':') {
                        p++;
                        while (*p == ' ' || *p == '\n' || *p == '\t')
                                p++;
                        return p;
                }
        }
        return NULL;
}

static void member_str(const char *text, const char *key, char *out, size_t size)
{
        const char *p = member(text, key);
        size_t n = 0;

        out[0] = '\0';
        if (!p || *p != '"')
                return;
        for (p++; *p && *p != '"' && n + 1 < size; p++)
                out[n++] = *p;
        out[n] = '\0';
}

static int record_read(const char *path, struct record *ret)
{
        char text[RECORD_MAX];
        struct record r;
        const char *p;
        ssize_t n;
        int fd;

        memset(&r, 0, sizeof(r));
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, text, sizeof(text) - 1);
        close(fd);
        if (n < 0)
                return -errno;
        text[n] = '\0';
        member_str(text, "state", r.state, sizeof(r.state));
        member_str(text, "version", r.version, sizeof(r.version));
        p = member(text, "pid");
        r.pid = p ? strtol(p, NULL, 10) : 0;
        p = member(text, "ready");
        r.ready = p && strncmp(p, "true", 4) == 0;
        if (!r.state[0])
                return -EINVAL;
        *ret = r;
        return 0;
}

/* --- inotify --- */

struct watcher {
        int fd;
        int wd_dir;          /* the instances folder */
        int wd_self;         /* the deployex binary (opened at each exec of a job) */
        int wd_start;        /* the start command */
        int pidfd;           /* the killed process, until it has exited; else -1 */
        double t_exit;       /* when it had */
        char record_name[32];
};

/* One batch of events; calls back for each.  0 on timeout. */
typedef void (*event_fn)(void *ctx, const struct inotify_event *ev, double at);

static int watcher_wait(struct watcher *w, int timeout_ms, event_fn fn, void *ctx)
{
        char chunk[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
        struct pollfd pfd[2] = { { w->fd, POLLIN, 0 }, { w->pidfd, POLLIN, 0 } };
        double at;
        ssize_t n;
        int r;

        r = poll(pfd, w->pidfd >= 0 ? 2 : 1, timeout_ms);
        if (r <= 0)
                return r < 0 && errno != EINTR ? -errno : 0;
        at = now_ms();
        if (w->pidfd >= 0 && (pfd[1].revents & POLLIN)) {
                w->t_exit = at;
                close(w->pidfd);
                w->pidfd = -1;
        }
        if (!(pfd[0].revents & POLLIN))
                return 1;
        n = read(w->fd, chunk, sizeof(chunk));
        at = now_ms();
        if (n < 0)
                return errno == EAGAIN ? 0 : -errno;
        for (char *p = chunk; p < chunk + n;) {
                const struct inotify_event *ev = (const struct inotify_event *)p;
                p += sizeof(*ev) + ev->len;
                fn(ctx, ev, at);
        }
        return 1;
}

static void ignore_event(void *ctx, const struct inotify_event *ev, double at)
{
        (void)ctx;
        (void)ev;
        (void)at;
}

static void watcher_drain(struct watcher *w)
{
        while (watcher_wait(w, 0, ignore_event, NULL) > 0)
                ;
}

static bool is_record_event(const struct watcher *w, const struct inotify_event *ev)
{
        return ev->wd == w->wd_dir && ev->len && strcmp(ev->name, w->record_name) == 0;
}

/* Poll the record until cond() holds or the deadline passes. */
struct until {
        struct watcher *w;
        const char *path;
        bool (*cond)(const struct record *r, const void *arg);
        const void *arg;
        bool met;
        struct record last;
};

static void until_event(void *ctx, const struct inotify_event *ev, double at)
{
        struct until *u = ctx;

        (void)at;
        if (!u->met && is_record_event(u->w, ev) && record_read(u->path, &u->last) == 0 &&
            u->cond(&u->last, u->arg))
                u->met = true;
}

/* Wait until cond() holds for the record; *last is the last record read, met or not. */
static int wait_record(struct watcher *w, const char *path, int timeout_ms,
                       bool (*cond)(const struct record *, const void *), const void *arg,
                       struct record *last)
{
        struct until u = { w, path, cond, arg, false, { "", "", 0, false } };
        double end = now_ms() + timeout_ms;
        int r = 0;

        if (record_read(path, &u.last) == 0 && cond(&u.last, arg))
                u.met = true;
        while (!u.met) {
                double left = end - now_ms();
                if (left <= 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                if (watcher_wait(w, left > 200 ? 200 : (int)left + 1, until_event, &u) < 0) {
                        r = -EIO;
                        break;
                }
                /* A record written before the watch existed is caught here too. */
                if (!u.met && record_read(path, &u.last) == 0 && cond(&u.last, arg))
                        u.met = true;
        }
        *last = u.last;
        return r;
}

static bool runs_version(const struct record *r, const void *arg)
{
        return strcmp(r->state, "running") == 0 && r->ready && r->pid > 0 &&
               (!arg || strcmp(r->version, (const char *)arg) == 0);
}

static void watcher_open(struct watcher *w, const char *dir, int instance)
{
        memset(w, 0, sizeof(*w));
        w->wd_self = w->wd_start = w->pidfd = -1;
        snprintf(w->record_name, sizeof(w->record_name), "%d.json", instance);
        w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (w->fd < 0)
                die("inotify_init1: %s", strerror(errno));
        w->wd_dir = inotify_add_watch(w->fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
        if (w->wd_dir < 0)
                die("cannot watch '%s': %s", dir, strerror(errno));
}

/* --- pin: override file landing -> first step --- */

static int write_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static void write_tmp(const char *tmp, const char *version)
{
        char text[256];
        int fd, n;

        n = snprintf(text, sizeof(text), "{\"version\": \"%s\"}\n", version);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0)
                die("cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
}

static bool is_deploying(const struct record *r, const void *arg)
{
        (void)arg;
        return strcmp(r->state, "deploying") == 0;
}

struct pin_wait {
        struct watcher *w;
        const char *path;
        double seen_at;
};

static void pin_event(void *ctx, const struct inotify_event *ev, double at)
{
        struct pin_wait *p = ctx;
        struct record r;

        if (p->seen_at == 0 && is_record_event(p->w, ev) && record_read(p->path, &r) == 0 &&
            is_deploying(&r, NULL))
                p->seen_at = at;
}

static int cmd_pin(int argc, char **argv)
{
        const char *dir = NULL, *override = NULL, *versions = NULL;
        long instance = 1, count = 20, timeout = 60000;
        char path[PATH_MAX], tmp[PATH_MAX], v[2][80];
        double lat[SAMPLES_MAX];
        struct watcher w;
        struct record r;
        int opt;

        while ((opt = getopt(argc, argv, "+s:i:o:v:n:t:")) != -1) {
                switch (opt) {
                case 's': dir = optarg; break;
                case 'i': instance = arg_long(optarg, "-i"); break;
                case 'o': override = optarg; break;
                case 'v': versions = optarg; break;
                case 'n': count = arg_long(optarg, "-n"); break;
                case 't': timeout = arg_long(optarg, "-t"); break;
                default: return 2;
                }
        }
        if (!dir || !override || !versions || !strchr(versions, ',') || count < 1 ||
            count > SAMPLES_MAX)
                die("pin needs -s DIR -o OVERRIDE_FILE -v V1,V2 [-i N] [-n 1..%d] [-t MS]",
                    SAMPLES_MAX);
        snprintf(v[0], sizeof(v[0]), "%.*s", (int)(strchr(versions, ',') - versions), versions);
        snprintf(v[1], sizeof(v[1]), "%s", strchr(versions, ',') + 1);
        snprintf(path, sizeof(path), "%s/%ld.json", dir, instance);
        /* Beside the folder, not in it: only the rename lands in the watched folder. */
        {
                const char *slash = strrchr(override, '/');
                int len = slash ? (int)(slash - override) : 0;
                const char *up = len ? memrchr(override, '/', (size_t)len) : NULL;
                snprintf(tmp, sizeof(tmp), "%.*s/.dxwatch-override.tmp",
                         up ? (int)(up - override) : len, override);
        }
        watcher_open(&w, dir, (int)instance);
        if (wait_record(&w, path, (int)timeout, runs_version, NULL, &r) < 0)
                die("instance %ld is not running and ready (state '%s')", instance, r.state);

        for (long i = 0; i < count; i++) {
                const char *target = strcmp(r.version, v[0]) == 0 ? v[1] : v[0];
                struct pin_wait pw = { &w, path, 0 };
                double t0, end;

                write_tmp(tmp, target);
                usleep(SETTLE_MS * 1000);
                watcher_drain(&w);
                t0 = now_ms();
                if (rename(tmp, override) < 0)
                        die("cannot rename '%s' to '%s': %s", tmp, override, strerror(errno));
                end = t0 + (double)timeout;
                while (pw.seen_at == 0) {
                        double left = end - now_ms();
                        if (left <= 0)
                                die("sample %ld: no deploy step within %ld ms", i + 1, timeout);
                        if (watcher_wait(&w, (int)left + 1, pin_event, &pw) < 0)
                                die("inotify: %s", strerror(errno));
                }
                lat[i] = pw.seen_at - t0;
                if (wait_record(&w, path, (int)timeout, runs_version, target, &r) < 0)
                        die("sample %ld: instance %ld did not run %s within %ld ms (state '%s')",
                            i + 1, instance, target, timeout, r.state);
                printf("sample %ld: %s -> %s: step after %.2f ms (converged after %.0f ms)\n",
                       i + 1, strcmp(target, v[0]) == 0 ? v[1] : v[0], target, lat[i],
                       now_ms() - t0);
                fflush(stdout);
        }
        summary("override -> first step", lat, (size_t)count);
        return 0;
}

/* --- crash: kill -9 -> new process --- */

struct crash_wait {
        struct watcher *w;
        const char *path;
        long old_pid;
        double t_backoff;      /* the daemon recorded the crash */
        double t_self[8];      /* executions of the deployex binary, in order */
        size_t nself;
        double t_bin[16];      /* opens under current/bin: the hook reads, then the exec */
        size_t nbin;
        double t_starting;     /* the record names the new pid */
        long new_pid;
};

static void crash_event(void *ctx, const struct inotify_event *ev, double at)
{
        struct crash_wait *c = ctx;
        struct record r = { "", "", 0, false };

        if (ev->wd == c->w->wd_self && (ev->mask & IN_OPEN)) {
                if (c->nself < sizeof(c->t_self) / sizeof(c->t_self[0]))
                        c->t_self[c->nself++] = at;
                return;
        }
        if (ev->wd == c->w->wd_start && (ev->mask & IN_OPEN)) {
                if (c->nbin < sizeof(c->t_bin) / sizeof(c->t_bin[0]))
                        c->t_bin[c->nbin++] = at;
                return;
        }
        if (!is_record_event(c->w, ev) || c->t_starting != 0 || record_read(c->path, &r) < 0)
                return;
        if (strcmp(r.state, "backoff") == 0 && c->t_backoff == 0)
                c->t_backoff = at;
        if (strcmp(r.state, "starting") == 0 && r.pid > 0 && r.pid != c->old_pid) {
                c->t_starting = at;
                c->new_pid = r.pid;
        }
}

static void comm_of(long pid, char *out, size_t size)
{
        char path[64];
        ssize_t n;
        int fd;

        snprintf(out, size, "?");
        snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, out, size - 1);
        close(fd);
        if (n > 0) {
                out[n] = '\0';
                out[strcspn(out, "\n")] = '\0';
        }
}

static int cmd_crash(int argc, char **argv)
{
        const char *dir = NULL, *start_file = NULL, *self = NULL;
        long instance = 1, count = 20, timeout = 60000;
        double total[SAMPLES_MAX], exit_ms[SAMPLES_MAX], notice[SAMPLES_MAX], to_hook[SAMPLES_MAX];
        double daemon_ms[SAMPLES_MAX];
        double hook[SAMPLES_MAX], spawn[SAMPLES_MAX], rec_ms[SAMPLES_MAX];
        size_t nsplit = 0;
        char path[PATH_MAX], comm[64];
        struct watcher w;
        struct record r;
        int opt;

        while ((opt = getopt(argc, argv, "+s:i:x:d:n:t:")) != -1) {
                switch (opt) {
                case 's': dir = optarg; break;
                case 'i': instance = arg_long(optarg, "-i"); break;
                case 'x': start_file = optarg; break;
                case 'd': self = optarg; break;
                case 'n': count = arg_long(optarg, "-n"); break;
                case 't': timeout = arg_long(optarg, "-t"); break;
                default: return 2;
                }
        }
        if (!dir || !start_file || !self || count < 1 || count > SAMPLES_MAX)
                die("crash needs -s DIR -x START_FILE -d DEPLOYEX [-i N] [-n 1..%d] [-t MS]",
                    SAMPLES_MAX);
        snprintf(path, sizeof(path), "%s/%ld.json", dir, instance);
        watcher_open(&w, dir, (int)instance);
        /*
         * IN_ACCESS too, though only opens are counted: inotify merges an event
         * into an identical one still unread, so two executions in a row would
         * count as one; the read of the ELF header in between keeps them apart.
         */
        w.wd_self = inotify_add_watch(w.fd, self, IN_OPEN | IN_ACCESS);
        w.wd_start = inotify_add_watch(w.fd, start_file, IN_OPEN | IN_ACCESS);
        if (w.wd_self < 0 || w.wd_start < 0)
                die("cannot watch '%s' and '%s': %s", self, start_file, strerror(errno));

        for (long i = 0; i < count; i++) {
                struct crash_wait c;
                double t0, end;

                if (wait_record(&w, path, (int)timeout, runs_version, NULL, &r) < 0)
                        die("instance %ld is not running and ready (state '%s')", instance, r.state);
                usleep(SETTLE_MS * 1000);
                if (record_read(path, &r) < 0 || !runs_version(&r, NULL))
                        die("instance %ld left the running state by itself", instance);
                comm_of(r.pid, comm, sizeof(comm));
                memset(&c, 0, sizeof(c));
                c.w = &w;
                c.path = path;
                c.old_pid = r.pid;
                watcher_drain(&w);
                /* A pidfd turns readable once the process has exited (the kernel's part). */
                w.pidfd = (int)syscall(SYS_pidfd_open, (pid_t)r.pid, 0);
                w.t_exit = 0;
                t0 = now_ms();
                if (kill((pid_t)r.pid, SIGKILL) < 0)
                        die("cannot kill pid %ld: %s", r.pid, strerror(errno));
                end = t0 + (double)timeout;
                while (c.t_starting == 0) {
                        double left = end - now_ms();
                        if (left <= 0)
                                die("sample %ld: no new process within %ld ms", i + 1, timeout);
                        if (watcher_wait(&w, (int)left + 1, crash_event, &c) < 0)
                                die("inotify: %s", strerror(errno));
                }
                {
                        char proc[64];
                        struct stat st;
                        snprintf(proc, sizeof(proc), "/proc/%ld", c.new_pid);
                        if (stat(proc, &st) < 0)
                                die("sample %ld: the recorded pid %ld does not exist", i + 1, c.new_pid);
                }
                if (w.pidfd >= 0) {
                        close(w.pidfd);
                        w.pidfd = -1;
                }
                total[i] = c.t_starting - t0;
                printf("sample %ld: killed pid %ld (%s), new pid %ld after %.2f ms", i + 1, r.pid,
                       comm, c.new_pid, total[i]);
                /*
                 * Executions of deployex after the crash: the on_event job, the
                 * start hook job, then the two log writers the instance needs
                 * (spawned once the hook has answered).  The start hook reads
                 * the start script; the first open under bin/ after the first
                 * log writer is the instance's own exec.
                 */
                double t_exec = 0;
                for (size_t k = 0; c.nself >= 4 && k < c.nbin && !t_exec; k++)
                        if (c.t_bin[k] >= c.t_self[2])
                                t_exec = c.t_bin[k];
                if (c.t_backoff && t_exec && w.t_exit) {
                        exit_ms[nsplit] = w.t_exit - t0;
                        notice[nsplit] = c.t_backoff - w.t_exit;
                        daemon_ms[nsplit] = c.t_starting - w.t_exit;
                        to_hook[nsplit] = c.t_self[1] - c.t_backoff;
                        hook[nsplit] = c.t_self[2] - c.t_self[1];
                        spawn[nsplit] = t_exec - c.t_self[2];
                        rec_ms[nsplit] = c.t_starting - t_exec;
                        printf(" = exit %.2f + crash recorded %.2f + to hook exec %.2f + hook %.2f"
                               " + log writers and exec %.2f + record %.2f",
                               exit_ms[nsplit], notice[nsplit], to_hook[nsplit], hook[nsplit],
                               spawn[nsplit], rec_ms[nsplit]);
                        nsplit++;
                } else {
                        printf(" (no breakdown: %zu deployex executions, %zu opens in bin/%s)",
                               c.nself, c.nbin, w.t_exit ? "" : ", exit not seen");
                }
                printf("\n");
                fflush(stdout);
        }
        summary("kill -9 -> new process recorded", total, (size_t)count);
        summary("  kill -> the process has exited (the kernel)", exit_ms, nsplit);
        summary("  exit -> new process recorded (the daemon)", daemon_ms, nsplit);
        summary("  exit -> crash recorded (backoff)", notice, nsplit);
        summary("  crash recorded -> start hook job executing", to_hook, nsplit);
        summary("  start hook job (exec -> first log writer exec)", hook, nsplit);
        summary("  log writers -> start command executed", spawn, nsplit);
        summary("  start command executed -> record written", rec_ms, nsplit);
        return 0;
}

/* --- respawn: any supervisor, kill -9 -> exit -> new exec of its run file --- */

/* The live process whose command line (arguments joined by spaces) contains match; 0 if none. */
static long find_cmdline(const char *match)
{
        DIR *d = opendir("/proc");
        struct dirent *de;
        char path[64], text[4096];
        long found = 0;

        if (!d)
                die("cannot read /proc: %s", strerror(errno));
        while (!found && (de = readdir(d))) {
                long pid;
                ssize_t n;
                int fd;

                if (parse_long(de->d_name, &pid) < 0 || pid <= 1 || pid == (long)getpid())
                        continue;
                snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                n = read(fd, text, sizeof(text) - 1);
                close(fd);
                if (n <= 0)
                        continue; /* a zombie has no command line */
                for (ssize_t i = 0; i < n - 1; i++)
                        if (text[i] == '\0')
                                text[i] = ' ';
                text[n] = '\0';
                if (strstr(text, match))
                        found = pid;
        }
        closedir(d);
        return found;
}

static int cmd_respawn(int argc, char **argv)
{
        const char *run_file = NULL, *match = NULL, *record = NULL, *label = "respawn";
        long count = 20, timeout = 30000, settle = 1500;
        double total[SAMPLES_MAX], own[SAMPLES_MAX], kernel[SAMPLES_MAX];
        size_t nsplit = 0;
        int opt, ino, wd;

        while ((opt = getopt(argc, argv, "+x:m:r:w:n:t:l:")) != -1) {
                switch (opt) {
                case 'x': run_file = optarg; break;
                case 'm': match = optarg; break;
                case 'r': record = optarg; break;
                case 'w': settle = arg_long(optarg, "-w"); break;
                case 'n': count = arg_long(optarg, "-n"); break;
                case 't': timeout = arg_long(optarg, "-t"); break;
                case 'l': label = optarg; break;
                default: return 2;
                }
        }
        if (!run_file || !match || count < 1 || count > SAMPLES_MAX)
                die("respawn needs -x RUN_FILE -m MATCH [-r RECORD] [-w MS] [-n 1..%d] [-t MS] [-l LABEL]",
                    SAMPLES_MAX);
        ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ino < 0 || (wd = inotify_add_watch(ino, run_file, IN_OPEN | IN_ACCESS)) < 0)
                die("cannot watch '%s': %s", run_file, strerror(errno));
        (void)wd;
        for (long i = 0; i < count; i++) {
                double t0, t_exit = 0, t_exec = 0, end = now_ms() + (double)timeout;
                char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                long pid = 0;
                bool exit_now, unsplit = false;
                int pidfd;

                /* The supervised process, up and settled (past every supervisor's 1 s rule). */
                while (!(pid = find_cmdline(match))) {
                        if (now_ms() > end)
                                die("sample %ld: no process matches '%s'", i + 1, match);
                        usleep(10000);
                }
                usleep((useconds_t)settle * 1000);
                while (record) {
                        struct record r;
                        if (record_read(record, &r) == 0 && runs_version(&r, NULL) && r.pid == pid)
                                break;
                        if (now_ms() > end)
                                die("sample %ld: pid %ld never ran and was ready", i + 1, pid);
                        usleep(10000);
                }
                if (find_cmdline(match) != pid)
                        die("sample %ld: pid %ld went away by itself", i + 1, pid);
                while (read(ino, buf, sizeof(buf)) > 0)
                        ; /* drain the opens of the start that came before */
                pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
                if (pidfd < 0)
                        die("pidfd_open %ld: %s", pid, strerror(errno));
                t0 = now_ms();
                if (kill((pid_t)pid, SIGKILL) < 0)
                        die("cannot kill pid %ld: %s", pid, strerror(errno));
                while (!t_exec) {
                        struct pollfd pfd[2] = { { ino, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
                        double left = end - now_ms();
                        ssize_t n;

                        if (left <= 0)
                                die("sample %ld: '%s' not executed again within %ld ms", i + 1,
                                    run_file, timeout);
                        if (poll(pfd, t_exit ? 1 : 2, (int)left + 1) < 0 && errno != EINTR)
                                die("poll: %s", strerror(errno));
                        exit_now = !t_exit && (pfd[1].revents & POLLIN);
                        if (exit_now)
                                t_exit = now_ms();
                        if (!(pfd[0].revents & POLLIN))
                                continue;
                        n = read(ino, buf, sizeof(buf));
                        for (ssize_t off = 0; n > 0 && off < n;) {
                                const struct inotify_event *ev = (const void *)(buf + off);
                                if ((ev->mask & IN_OPEN) && !t_exec) {
                                        t_exec = now_ms();
                                        unsplit = exit_now;
                                }
                                off += (ssize_t)sizeof(*ev) + ev->len;
                        }
                }
                close(pidfd);
                total[i] = t_exec - t0;
                if (unsplit || !t_exit) {
                        /*
                         * This watcher woke up too late to see the exit before
                         * the exec (a busy host): no split, the total only.
                         */
                        printf("sample %ld: killed pid %ld: %s executed after %.2f ms in all "
                               "(exit and exec seen in one wake-up: no split)\n", i + 1, pid,
                               run_file, total[i]);
                        fflush(stdout);
                        continue;
                }
                kernel[nsplit] = t_exit - t0;
                own[nsplit] = t_exec - t_exit;
                printf("sample %ld: killed pid %ld: exit after %.2f ms, %s executed %.2f ms later "
                       "(%.2f ms in all)\n", i + 1, pid, kernel[nsplit], run_file, own[nsplit],
                       total[i]);
                fflush(stdout);
                nsplit++;
        }
        {
                char l[256];
                snprintf(l, sizeof(l), "%s: kill -9 -> new exec", label);
                summary(l, total, (size_t)count);
                snprintf(l, sizeof(l), "%s:   kill -> exit (the kernel)", label);
                summary(l, kernel, nsplit);
                snprintf(l, sizeof(l), "%s:   exit -> new exec (the supervisor's own share)", label);
                summary(l, own, nsplit);
        }
        close(ino);
        return 0;
}

/* --- time: best-of-N wall time of a command sequence --- */

static int run_wait(char *const *argv, bool quiet)
{
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (quiet) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        if (null >= 0)
                                dup2(null, STDOUT_FILENO);
                }
                execvp(argv[0], argv);
                fprintf(stderr, "dxwatch: cannot execute '%s': %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_time(int argc, char **argv)
{
        const char *label = "time", *setup = NULL;
        long count = 5;
        double t[SAMPLES_MAX];
        bool quiet = false;
        int opt, first;

        while ((opt = getopt(argc, argv, "+n:l:b:q")) != -1) {
                switch (opt) {
                case 'q': quiet = true; break;
                case 'n': count = arg_long(optarg, "-n"); break;
                case 'l': label = optarg; break;
                case 'b': setup = optarg; break;
                default: return 2;
                }
        }
        first = optind;
        if (first >= argc || count < 1 || count > SAMPLES_MAX)
                die("time needs [-n 1..%d] [-l LABEL] [-b SETUP] [-q] -- CMD [ARG..] [--and CMD..]",
                    SAMPLES_MAX);
        for (long i = 0; i < count; i++) {
                double t0;

                if (setup) {
                        char *sh[] = { (char *)"sh", (char *)"-c", (char *)setup, NULL };
                        if (run_wait(sh, true) != 0)
                                die("setup '%s' failed", setup);
                }
                t0 = now_ms();
                for (int a = first; a < argc;) {
                        int b = a, rc;
                        char *saved;

                        while (b < argc && strcmp(argv[b], "--and") != 0)
                                b++;
                        saved = argv[b]; /* argv[argc] is NULL */
                        argv[b] = NULL;
                        rc = run_wait(argv + a, quiet);
                        argv[b] = saved;
                        if (rc != 0)
                                die("'%s' exited with status %d", argv[a], rc);
                        a = b + 1;
                }
                t[i] = now_ms() - t0;
        }
        summary(label, t, (size_t)count);
        return 0;
}

int main(int argc, char **argv)
{
        signal(SIGPIPE, SIG_IGN);
        if (argc < 2)
                die("usage: dxwatch pin|crash|respawn|time ...");
        if (strcmp(argv[1], "pin") == 0)
                return cmd_pin(argc - 1, argv + 1);
        if (strcmp(argv[1], "crash") == 0)
                return cmd_crash(argc - 1, argv + 1);
        if (strcmp(argv[1], "time") == 0)
                return cmd_time(argc - 1, argv + 1);
        if (strcmp(argv[1], "respawn") == 0)
                return cmd_respawn(argc - 1, argv + 1);
        die("unknown command '%s'", argv[1]);
}
