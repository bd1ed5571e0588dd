/*
 * logwriter: size-rotated, line-preserving log files (see logwriter.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "reconciler/jobs/logwriter.h"
#include "base/fsutil.h"
#include "base/banned.h"

/*
 * What one read takes, and the stamped copy of it handed on in pieces: a page
 * each, on the stack (logwriter.h, "Memory"), so that the writer's memory is
 * the same after a burst as before it; a full pipe is drained in 16 reads.
 */
#define READ_CHUNK 4096
#define STAMPED_CHUNK 4096

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

/* open_dir of a directory too long for open_dir_n's copy: only then does the stack grow by a page. */
static __attribute__((noinline)) int open_long_dir(const char *path, size_t len)
{
        char dir[PATH_MAX];

        if (len >= sizeof(dir))
                return -ENAMETOOLONG;
        memcpy(dir, path, len);
        dir[len] = '\0';
        return open_dir(dir);
}

/*
 * open_dir of path's first len bytes (0: "."), which need not end there.  Log
 * directories are short: their copy stays small, and so does the writer's
 * stack (logwriter.h, "Memory").
 */
static int open_dir_n(const char *path, size_t len)
{
        char dir[256];

        if (len >= sizeof(dir))
                return open_long_dir(path, len);
        if (len == 0)
                return open_dir(".");
        memcpy(dir, path, len);
        dir[len] = '\0';
        return open_dir(dir);
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
                int d = open_dir_n(w->path, w->dir_len);

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
        w->path = path;
        w->name = slash ? slash + 1 : path;
        /* "/x" lives in "/", "a/b/x" in "a/b", "x" in "." (dir_len 0). */
        w->dir_len = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 0;
        w->dirfd = -1;
        w->max_bytes = max_bytes ? max_bytes : 1;
        w->keep = keep < 0 ? 0 : keep > LOGWRITER_KEEP_MAX ? LOGWRITER_KEEP_MAX : keep;
        w->fd = -1;
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
        if (w->partial)
                munmap(w->partial, LOGWRITER_PARTIAL_MAX);
        w->partial = NULL;
        w->partial_len = 0;
        w->path = w->name = NULL;
}

int logwriter_rotate(struct logwriter *w)
{
        /* NAME.1000 at most: a longer name than NAME_MAX cannot be a file anyway. */
        char from[NAME_MAX + 16], to[NAME_MAX + 16];
        int r = 0, shift = 0;

        if (w->dirfd < 0) {
                r = -EBADF;
        } else if (strlen(w->name) > NAME_MAX) {
                r = -ENAMETOOLONG;
        } else if (w->keep == 0) {
                if (unlinkat(w->dirfd, w->name, 0) < 0 && errno != ENOENT)
                        r = -errno;
        } else {
                /* Losing an old rotated file is a pity; losing the live stream is not an option. */
                for (int k = w->keep - 1; k >= 1; k--) {
                        snprintf(from, sizeof(from), "%s.%d", w->name, k);
                        snprintf(to, sizeof(to), "%s.%d", w->name, k + 1);
                        if (renameat(w->dirfd, from, w->dirfd, to) < 0 && errno != ENOENT && shift == 0)
                                shift = -errno;
                }
                snprintf(to, sizeof(to), "%s.1", w->name);
                if (renameat(w->dirfd, w->name, w->dirfd, to) < 0 && errno != ENOENT)
                        r = -errno;
        }
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
        char stamp[LOGWRITER_STAMP_LEN + 1], stamped_chunk[STAMPED_CHUNK];
        struct timespec ts;
        size_t used = 0;
        int r = 0, q;

        if (!w->stamp)
                return feed_raw(w, data, len);
        clock_gettime(CLOCK_REALTIME, &ts);
        logwriter_format_stamp((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, stamp);
        /* The stamped stream goes on in pieces of STAMPED_CHUNK: feed_raw takes any split. */
        for (size_t i = 0; i < len;) {
                const char *nl = memchr(data + i, '\n', len - i);
                size_t end = nl ? (size_t)(nl - data) + 1 : len;
                size_t piece = end - i;
                size_t need = (w->in_line ? 0 : LOGWRITER_STAMP_LEN) + piece;

                if (used > 0 && used + need > STAMPED_CHUNK) {
                        q = feed_raw(w, stamped_chunk, used);
                        r = r < 0 ? r : q;
                        used = 0;
                }
                if (!w->in_line) {
                        memcpy(stamped_chunk + used, stamp, LOGWRITER_STAMP_LEN);
                        used += LOGWRITER_STAMP_LEN;
                }
                if (used + piece <= STAMPED_CHUNK) {
                        memcpy(stamped_chunk + used, data + i, piece);
                        used += piece;
                } else {
                        /* A line longer than the buffer: its stamp, then the line as it came. */
                        q = feed_raw(w, stamped_chunk, used);
                        r = r < 0 ? r : q;
                        q = feed_raw(w, data + i, piece);
                        r = r < 0 ? r : q;
                        used = 0;
                }
                w->in_line = !nl;
                i = end;
        }
        q = feed_raw(w, stamped_chunk, used);
        return r < 0 ? r : q;
}

/* Forget the held line once written; the pages of a long one go back to the system. */
static void drop_held(struct logwriter *w)
{
        if (w->partial_len > 4 * 4096)
                (void)madvise(w->partial, w->partial_len, MADV_DONTNEED);
        w->partial_len = 0;
}

/* Add to the held line; false when it would pass LOGWRITER_PARTIAL_MAX (or no room can be mapped). */
static bool hold(struct logwriter *w, const char *data, size_t len)
{
        if (len > LOGWRITER_PARTIAL_MAX - w->partial_len)
                return false;
        if (!w->partial) {
                void *p = mmap(NULL, LOGWRITER_PARTIAL_MAX, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

                if (p == MAP_FAILED)
                        return false;
                w->partial = p;
        }
        memcpy(w->partial + w->partial_len, data, len);
        w->partial_len += len;
        return true;
}

/*
 * The held line and data (the rest of that line, complete or not) that do
 * not fit the held room: out they go, as one line, no rotation inside it.
 */
static int write_through(struct logwriter *w, const char *data, size_t len)
{
        int r = 0, q;

        (void)sync_file(w);
        make_room(w, w->partial_len + len);
        if (w->partial_len > 0)
                r = put(w, w->partial, w->partial_len);
        drop_held(w);
        if (len > 0) {
                q = put(w, data, len);
                r = r < 0 ? r : q;
        }
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
        if (!nl)
                /* A runaway line: out it goes, and no rotation until it ends. */
                return hold(w, data, len) ? 0 : write_through(w, data, len);
        n = (size_t)(nl - data) + 1;
        if (w->partial_len > 0) {
                /* Complete the held line first, then the rest in place. */
                const char *first = memchr(data, '\n', len);
                size_t k = (size_t)(first - data) + 1;

                if (hold(w, data, k)) {
                        r = put_lines(w, w->partial, w->partial_len);
                        drop_held(w);
                } else {
                        r = write_through(w, data, k);
                }
                data += k;
                len -= k;
                n -= k;
        }
        if (n > 0) {
                q = put_lines(w, data, n);
                if (q < 0 && r == 0)
                        r = q;
        }
        if (len > n && !hold(w, data + n, len - n)) {
                q = write_through(w, data + n, len - n);
                if (q < 0 && r == 0)
                        r = q;
        }
        return r;
}

int logwriter_finish(struct logwriter *w)
{
        return w->partial_len > 0 ? write_through(w, NULL, 0) : 0;
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
        char read_chunk[READ_CHUNK];
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
                        got = read(pfd[i].fd, read_chunk, READ_CHUNK);
                        if (got < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (got > 0) {
                                (void)logwriter_feed(&w[i], read_chunk, (size_t)got);
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
        return lost > 0 ? -lost_errno : 0;
}

int logwriter_run(int fd, const char *path, uint64_t max_bytes, int keep)
{
        return run_fds(&fd, &path, 1, max_bytes, keep, false);
}

/*
 * Create the directory of a log file, 0750 when missing (group deployex reads
 * logs), and check it; complaints on stderr, the output is then dropped.
 */
static void prepare_dir(const char *path)
{
        const char *slash = strrchr(path, '/');
        size_t n;
        int r;

        if (!slash || slash == path)
                return;
        n = (size_t)(slash - path);
        r = open_dir_n(path, n);
        if (r == -ENOENT) {
                /* The daemon makes it before it starts the writer; run by hand, this does. */
                r = mkdir_p_len(path, n, 0750);
                if (r < 0) {
                        fprintf(stderr, "deployex-log: cannot create the directory of '%s': %s\n", path,
                                file_strerror(r));
                        return;
                }
                r = open_dir_n(path, n);
        }
        if (r < 0)
                fprintf(stderr, "deployex-log: refusing to write into '%.*s': %s; output is dropped\n",
                        (int)n, path, r == -EPERM ? "owned by another user" : file_strerror(r));
        else
                close(r);
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
