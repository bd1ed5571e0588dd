/*
 * logwriter: size-rotated, line-preserving log files (see logwriter.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "reconciler/jobs/logwriter.h"
#include "base/fsutil.h"
#include "base/banned.h"

#define READ_CHUNK 65536

/* The checked directory's fd (see logwriter.h), or -errno. */
static int open_dir(const char *dir)
{
        struct stat st;
        int fd, r;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOTDIR ? -ELOOP : -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (st.st_uid != geteuid()) {
                r = -EPERM;
                goto fail;
        }
        /* Group and others may read the logs (group deployex), never write there. */
        if ((st.st_mode & 022) && fchmod(fd, st.st_mode & 0755) < 0) {
                r = -errno;
                goto fail;
        }
        return fd;
fail:
        close(fd);
        return r;
}

int logwriter_check_dir(const char *dir)
{
        int fd = open_dir(dir);

        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

static int reopen(struct logwriter *w)
{
        struct stat st;
        int fd;

        if (w->fd >= 0) {
                close(w->fd);
                w->fd = -1;
        }
        if (w->dirfd < 0) {
                int d = open_dir(w->dir);

                if (d < 0)
                        return d;
                w->dirfd = d;
        }
        fd = openat(w->dirfd, w->name,
                    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return errno == ENXIO ? -FILE_ENOTREG : -errno; /* ENXIO: a FIFO without reader */
        if (fstat(fd, &st) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
                close(fd);
                return S_ISREG(st.st_mode) ? -EMLINK : -FILE_ENOTREG;
        }
        w->fd = fd;
        w->size = (uint64_t)st.st_size;
        return 0;
}

int logwriter_open(struct logwriter *w, const char *path, uint64_t max_bytes, int keep)
{
        const char *slash = strrchr(path, '/');

        memset(w, 0, sizeof(*w));
        w->path = xstrdup(path);
        w->dir = slash ? (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path))) : xstrdup(".");
        w->name = xstrdup(slash ? slash + 1 : path);
        w->dirfd = -1;
        w->max_bytes = max_bytes ? max_bytes : 1;
        w->keep = keep < 0 ? 0 : keep > LOGWRITER_KEEP_MAX ? LOGWRITER_KEEP_MAX : keep;
        w->fd = -1;
        buf_init(&w->partial);
        return reopen(w);
}

void logwriter_close(struct logwriter *w)
{
        if (w->fd >= 0)
                close(w->fd);
        w->fd = -1;
        if (w->dirfd >= 0)
                close(w->dirfd);
        w->dirfd = -1;
        free(w->path);
        free(w->dir);
        free(w->name);
        w->path = w->dir = w->name = NULL;
        buf_release(&w->partial);
}

int logwriter_rotate(struct logwriter *w)
{
        struct buf from = BUF_INIT, to = BUF_INIT;
        int r = 0, shift = 0;

        if (w->dirfd < 0) {
                r = -EBADF;
        } else if (w->keep == 0) {
                if (unlinkat(w->dirfd, w->name, 0) < 0 && errno != ENOENT)
                        r = -errno;
        } else {
                /* Losing an old rotated file is a pity; losing the live stream is not an option. */
                for (int k = w->keep - 1; k >= 1; k--) {
                        buf_reset(&from);
                        buf_reset(&to);
                        buf_printf(&from, "%s.%d", w->name, k);
                        buf_printf(&to, "%s.%d", w->name, k + 1);
                        if (renameat(w->dirfd, from.data, w->dirfd, to.data) < 0 && errno != ENOENT &&
                            shift == 0)
                                shift = -errno;
                }
                buf_reset(&to);
                buf_printf(&to, "%s.1", w->name);
                if (renameat(w->dirfd, w->name, w->dirfd, to.data) < 0 && errno != ENOENT)
                        r = -errno;
        }
        buf_release(&from);
        buf_release(&to);
        if (r < 0) {
                /*
                 * Write on into the same file rather than lose lines, and do
                 * not retry on every line: only after another max_bytes.
                 */
                w->rotate_after = w->size + w->max_bytes;
                return r;
        }
        w->rotate_after = 0;
        w->mid_line = false;
        r = reopen(w);
        return r < 0 ? r : shift;
}

/*
 * Before each write: someone else may have appended (the daemon copies
 * pre-command output here), or renamed, removed or truncated the file (an
 * operator, logrotate): follow all of it.
 */
static int sync_file(struct logwriter *w)
{
        struct stat st, at_path;

        if (w->fd < 0 || w->dirfd < 0 || fstat(w->fd, &st) < 0 ||
            fstatat(w->dirfd, w->name, &at_path, AT_SYMLINK_NOFOLLOW) < 0 ||
            st.st_ino != at_path.st_ino || st.st_dev != at_path.st_dev)
                return reopen(w);
        w->size = (uint64_t)st.st_size;
        return 0;
}

/*
 * Write bytes that the caller has placed with respect to rotation.  After a
 * loss, the first write that works says so in the file, on a line of its own.
 */
static int put(struct logwriter *w, const char *p, size_t n)
{
        size_t done = 0;
        int r = w->fd >= 0 ? 0 : reopen(w);

        if (r == 0 && w->lost > 0 && !w->mid_line) {
                char note[200];
                int len = snprintf(note, sizeof(note), "%sdeployex: %llu bytes of output were lost here: %s\n",
                                   w->broken_line ? "\n" : "", (unsigned long long)w->lost,
                                   file_strerror(-w->lost_errno));

                r = write_all(w->fd, note, (size_t)len, &done);
                w->size += done;
                if (r == 0) {
                        w->lost = 0;
                        w->broken_line = false;
                } else if (done > 0) {
                        w->broken_line = true;
                }
                done = 0;
        }
        if (r == 0)
                r = write_all(w->fd, p, n, &done);
        w->size += done;
        if (r < 0) {
                w->lost += n - done;
                w->lost_total += n - done;
                w->lost_errno = -r;
                if (done > 0 && p[done - 1] != '\n')
                        w->broken_line = true;
                /* The rest of this line is gone: nothing left to keep together. */
                w->mid_line = false;
                return r;
        }
        w->mid_line = p[n - 1] != '\n';
        return 0;
}

/* The size the current file may reach: max_bytes, or more after a failed rotation. */
static uint64_t size_limit(const struct logwriter *w)
{
        return w->rotate_after > w->max_bytes ? w->rotate_after : w->max_bytes;
}

/* Start a new file first when n more bytes would not fit and we are between lines. */
static void make_room(struct logwriter *w, size_t n)
{
        if (!w->mid_line && w->size > 0 && w->size + n > size_limit(w))
                (void)logwriter_rotate(w);
}

/* Write complete lines (data ends with '\n'), rotating between them. */
static int put_lines(struct logwriter *w, const char *data, size_t len)
{
        int r = 0, q;

        (void)sync_file(w);
        while (len > 0) {
                uint64_t limit = size_limit(w);
                uint64_t room = w->size < limit ? limit - w->size : 0;
                size_t fit = len < room ? len : (size_t)room;
                const char *nl = fit ? memrchr(data, '\n', fit) : NULL;
                size_t n;

                if (nl) {
                        n = (size_t)(nl - data) + 1;
                } else {
                        /*
                         * Not even one line fits: a new file, unless this one is
                         * empty (a line longer than max_bytes goes whole into a
                         * file of its own) or ends inside this very line.
                         */
                        n = (size_t)((const char *)memchr(data, '\n', len) - data) + 1;
                        make_room(w, n);
                }
                q = put(w, data, n);
                if (q < 0 && r == 0)
                        r = q;
                data += n;
                len -= n;
        }
        return r;
}

void logwriter_format_stamp(uint64_t ms, char out[LOGWRITER_STAMP_LEN + 1])
{
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        char date[32];

        gmtime_r(&secs, &tm);
        /* strftime + the milliseconds: gcc -O2 cannot bound %d of tm's ints (-Wformat-truncation). */
        if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                date[0] = '\0';
        snprintf(out, LOGWRITER_STAMP_LEN + 1, "%.19s.%03uZ ", date, (unsigned)(ms % 1000));
}

bool logwriter_parse_stamp(const char *line, size_t len, uint64_t *ret_ms)
{
        static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
        char iso[21];
        uint64_t ms;

        if (len < LOGWRITER_STAMP_LEN)
                return false;
        for (size_t i = 0; i < LOGWRITER_STAMP_LEN; i++)
                if (shape[i] == 'd' ? (line[i] < '0' || line[i] > '9') : line[i] != shape[i])
                        return false;
        memcpy(iso, line, 19);
        iso[19] = 'Z';
        iso[20] = '\0';
        if (time_parse_iso(iso, &ms) < 0)
                return false;
        *ret_ms = ms + (uint64_t)((line[20] - '0') * 100 + (line[21] - '0') * 10 + (line[22] - '0'));
        return true;
}

static int feed_raw(struct logwriter *w, const char *data, size_t len);

int logwriter_feed(struct logwriter *w, const char *data, size_t len)
{
        struct buf stamped = BUF_INIT;
        char stamp[LOGWRITER_STAMP_LEN + 1];
        struct timespec ts;
        int r;

        if (!w->stamp)
                return feed_raw(w, data, len);
        clock_gettime(CLOCK_REALTIME, &ts);
        logwriter_format_stamp((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, stamp);
        for (size_t i = 0; i < len;) {
                const char *nl = memchr(data + i, '\n', len - i);
                size_t end = nl ? (size_t)(nl - data) + 1 : len;

                if (!w->in_line)
                        buf_append(&stamped, stamp, LOGWRITER_STAMP_LEN);
                buf_append(&stamped, data + i, end - i);
                w->in_line = !nl;
                i = end;
        }
        r = feed_raw(w, stamped.data, stamped.len);
        buf_release(&stamped);
        return r;
}

static int feed_raw(struct logwriter *w, const char *data, size_t len)
{
        const char *nl;
        size_t n;
        int r = 0, q;

        if (len == 0)
                return 0;
        nl = memrchr(data, '\n', len);
        if (!nl) {
                buf_append(&w->partial, data, len);
                if (w->partial.len <= LOGWRITER_PARTIAL_MAX)
                        return 0;
                /* A runaway line: out it goes, and no rotation until it ends. */
                (void)sync_file(w);
                make_room(w, w->partial.len);
                r = put(w, w->partial.data, w->partial.len);
                buf_reset(&w->partial);
                return r;
        }
        n = (size_t)(nl - data) + 1;
        if (w->partial.len > 0) {
                /* Complete the held line first, then the rest in place. */
                const char *first = memchr(data, '\n', len);
                size_t k = (size_t)(first - data) + 1;

                buf_append(&w->partial, data, k);
                r = put_lines(w, w->partial.data, w->partial.len);
                buf_reset(&w->partial);
                data += k;
                len -= k;
                n -= k;
        }
        if (n > 0) {
                q = put_lines(w, data, n);
                if (q < 0 && r == 0)
                        r = q;
        }
        if (len > n)
                buf_append(&w->partial, data + n, len - n);
        return r;
}

int logwriter_finish(struct logwriter *w)
{
        int r = 0;

        if (w->partial.len > 0) {
                (void)sync_file(w);
                make_room(w, w->partial.len);
                r = put(w, w->partial.data, w->partial.len);
                buf_reset(&w->partial);
        }
        return r;
}

/*
 * Copy each fds[i] into paths[i] until every one is at EOF: one process for
 * both streams of an instance, whichever writes.  A stream at EOF (or EIO)
 * gets its partial line written and leaves the poll set; the others go on.
 */
static int run_fds(const int *fds, const char *const *paths, int n, uint64_t max_bytes,
                   int keep, bool stamp)
{
        struct logwriter w[2];
        struct pollfd pfd[2];
        char *chunk = xmalloc(READ_CHUNK);
        int open_streams = n, lost_errno = 0;
        uint64_t lost = 0;

        for (int i = 0; i < n; i++) {
                (void)logwriter_open(&w[i], paths[i], max_bytes, keep);
                w[i].stamp = stamp;
                pfd[i].fd = fds[i];
                pfd[i].events = POLLIN;
        }
        while (open_streams > 0) {
                if (poll(pfd, (nfds_t)n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < n; i++) {
                        ssize_t got;

                        if (pfd[i].fd < 0 || !pfd[i].revents)
                                continue;
                        got = read(pfd[i].fd, chunk, READ_CHUNK);
                        if (got < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (got > 0) {
                                (void)logwriter_feed(&w[i], chunk, (size_t)got);
                                continue;
                        }
                        /* EOF, or EIO and the like: nothing more will come on this one. */
                        (void)logwriter_finish(&w[i]);
                        pfd[i].fd = -1;
                        open_streams--;
                }
        }
        for (int i = 0; i < n; i++) {
                if (pfd[i].fd >= 0)
                        (void)logwriter_finish(&w[i]);
                if (w[i].lost_total > 0) {
                        lost += w[i].lost_total;
                        lost_errno = w[i].lost_errno ? w[i].lost_errno : EIO;
                }
                logwriter_close(&w[i]);
        }
        free(chunk);
        return lost > 0 ? -lost_errno : 0;
}

int logwriter_run(int fd, const char *path, uint64_t max_bytes, int keep)
{
        return run_fds(&fd, &path, 1, max_bytes, keep, false);
}

/* The parent directory of a log file, made 0750 when missing (group deployex reads logs). */
static int make_parent(const char *path)
{
        const char *slash = strrchr(path, '/');
        char *dir;
        int r;

        if (!slash || slash == path)
                return 0;
        dir = xstrndup(path, (size_t)(slash - path));
        r = mkdir_p(dir, 0750);
        free(dir);
        return r;
}

/* Create and check the directory of a log file; complaints on stderr, output then dropped. */
static void prepare_dir(const char *path)
{
        int r = make_parent(path);

        if (r < 0) {
                fprintf(stderr, "deployex-log: cannot create the directory of '%s': %s\n", path,
                        file_strerror(r));
        } else {
                char *dir = xstrdup(path);
                char *slash = strrchr(dir, '/');

                if (slash && slash != dir)
                        *slash = '\0';
                r = slash && slash != dir ? logwriter_check_dir(dir) : 0;
                if (r < 0)
                        fprintf(stderr, "deployex-log: refusing to write into '%s': %s; output is dropped\n",
                                dir, r == -EPERM ? "owned by another user" : file_strerror(r));
                free(dir);
        }
}

int logwriter_main(int argc, char **argv)
{
        static const int ignored[] = { SIGTERM, SIGINT, SIGHUP, SIGPIPE };
        const int fds[2] = { STDIN_FILENO, LOGWRITER_STDERR_FD };
        const char *paths[2] = { NULL, NULL };
        int streams = argc == 5 ? 2 : 1;
        struct sigaction sa;
        uint64_t max_bytes;
        int keep, r;

        if ((argc != 4 && argc != 5) || parse_u64(argv[argc - 2], &max_bytes) < 0 || max_bytes == 0 ||
            parse_int(argv[argc - 1], &keep) < 0 || keep < 0 || keep > LOGWRITER_KEEP_MAX ||
            (streams == 2 && fcntl(LOGWRITER_STDERR_FD, F_GETFD) < 0)) {
                fprintf(stderr, "usage: %s PATH [STDERR_PATH] MAX_BYTES KEEP  (MAX_BYTES > 0, KEEP "
                        "0..%d; with STDERR_PATH, descriptor 3 is that stream)\n",
                        argc > 0 ? argv[0] : "deployex-log", LOGWRITER_KEEP_MAX);
                return 2;
        }
        paths[0] = argv[1];
        paths[1] = streams == 2 ? argv[2] : NULL;
        /* The instance's group gets the signals; the writer ends at EOF, after the last line. */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
                sigaction(ignored[i], &sa, NULL);
        for (int i = 0; i < streams; i++)
                prepare_dir(paths[i]);
        r = run_fds(fds, paths, streams, max_bytes, keep, true);
        if (r < 0) {
                fprintf(stderr, "deployex-log: '%s'%s%s: some output was lost: %s\n", paths[0],
                        streams == 2 ? " or " : "", streams == 2 ? paths[1] : "", file_strerror(r));
                return 1;
        }
        return 0;
}
