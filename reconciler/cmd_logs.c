/*
 * deployex logs APP N [--stderr] [-f] [-n LINES]: the end of an instance's
 * log file, and with -f what is appended to it from then on, across
 * rotations (DESIGN §3, §4.4).  Reads the files only; no daemon involved.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "../state/fsutil.h"
#include "../state/paths.h"
#include "../state/banned.h"

extern const struct cli_command cmd_logs;

#define DEFAULT_LINES 50
#define FOLLOW_POLL_MS 200
#define CHUNK 65536
#define ROTATED_MAX 1000 /* LOGWRITER_KEEP_MAX */

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

/* -EPIPE when stdout is gone (SIGPIPE is ignored by main()). */
static int write_out(const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(STDOUT_FILENO, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Copy fd from its offset to its current end onto stdout. */
static int copy_to_end(int fd)
{
        char buf[CHUNK];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                r = write_out(buf, (size_t)n);
                if (r < 0)
                        return r;
        }
}

/* Where the last `lines` lines of the first `size` bytes of fd begin. */
static int tail_offset(int fd, off_t size, uint64_t lines, off_t *ret)
{
        char buf[CHUNK];
        uint64_t seen = 0;
        off_t pos = size;

        if (lines == 0) {
                *ret = size;
                return 0;
        }
        while (pos > 0) {
                size_t chunk = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
                ssize_t n;

                pos -= (off_t)chunk;
                n = pread(fd, buf, chunk, pos);
                if (n < 0)
                        return -errno;
                if ((size_t)n != chunk)
                        return -EIO; /* truncated under us: the caller starts over */
                for (size_t i = chunk; i-- > 0;) {
                        /* The newline ending the file closes the last line; it starts none. */
                        if (buf[i] != '\n' || pos + (off_t)i == size - 1)
                                continue;
                        if (++seen == lines) {
                                *ret = pos + (off_t)i + 1;
                                return 0;
                        }
                }
        }
        *ret = 0;
        return 0;
}

/* true when stdout is a pipe or socket whose reader has gone. */
static bool stdout_closed(int timeout_ms)
{
        struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

        return poll(&p, 1, timeout_ms) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/*
 * Several rotations between two looks: the file we were reading is now
 * PATH.j for some j > 1, and PATH.(j-1) .. PATH.1 were written and rotated
 * unseen.  Print them, oldest first, so that a burst loses nothing that is
 * still on disk.
 */
static int catch_up(const char *path, const struct stat *old)
{
        struct buf p = BUF_INIT;
        struct stat st;
        int j, r = 0;

        for (j = 1; j <= ROTATED_MAX; j++) {
                buf_reset(&p);
                buf_printf(&p, "%s.%d", path, j);
                if (stat(p.data, &st) < 0)
                        goto out; /* not kept any more: nothing to add */
                if (st.st_ino == old->st_ino && st.st_dev == old->st_dev)
                        break;
        }
        for (j--; j >= 1 && r == 0; j--) {
                int fd;

                buf_reset(&p);
                buf_printf(&p, "%s.%d", path, j);
                fd = file_open_read(p.data, 0, NULL);
                if (fd < 0)
                        continue;
                r = copy_to_end(fd);
                close(fd);
        }
out:
        buf_release(&p);
        return r;
}

/*
 * -f: print what is appended.  Every FOLLOW_POLL_MS the path is compared with
 * the open file: another inode means the writer rotated -- finish the old
 * file (and any rotated unseen since), then read the new one from its start;
 * a smaller size means it was truncated.  Ends on SIGINT/SIGTERM or when stdout closes.
 */
static int follow(const char *path, int fd)
{
        struct sigaction sa;
        struct stat cur, now;
        int r = 0;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (fstat(fd, &cur) < 0) {
                r = -errno;
                goto out;
        }
        while (!stop_requested) {
                r = copy_to_end(fd);
                if (r < 0 || stdout_closed(FOLLOW_POLL_MS) || stop_requested)
                        break;
                if (stat(path, &now) == 0 && (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev)) {
                        int nfd;

                        r = copy_to_end(fd); /* the last lines written before the rotation */
                        if (r == 0)
                                r = catch_up(path, &cur);
                        if (r < 0)
                                break;
                        nfd = file_open_read(path, 0, NULL);
                        if (nfd < 0)
                                continue; /* gone again; look next time */
                        close(fd);
                        fd = nfd;
                        if (fstat(fd, &cur) < 0) {
                                r = -errno;
                                break;
                        }
                } else if (fstat(fd, &now) == 0 && now.st_size < lseek(fd, 0, SEEK_CUR)) {
                        /* Truncated in place: start again from its beginning. */
                        if (lseek(fd, 0, SEEK_SET) < 0) {
                                r = -errno;
                                break;
                        }
                }
        }
out:
        close(fd);
        return r;
}

static int run_logs(const struct cli *cli, int argc, char **argv)
{
        const char *app_name = NULL, *instance = NULL;
        bool is_stderr = false, follow_on = false, options_done = false;
        uint64_t lines = DEFAULT_LINES;
        const struct app_config *app;
        struct buf path = BUF_INIT;
        struct config c;
        struct stat st;
        off_t start = 0;
        int n, fd = -1, r, ret = EXIT_FAIL;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (!options_done && strcmp(a, "--") == 0) {
                        options_done = true;
                } else if (!options_done && strcmp(a, "--stderr") == 0) {
                        is_stderr = true;
                } else if (!options_done && (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)) {
                        follow_on = true;
                } else if (!options_done && (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0)) {
                        if (i + 1 >= argc)
                                return cli_usage_error(&cmd_logs, "%s needs a number of LINES", a);
                        if (parse_u64(argv[++i], &lines) < 0)
                                return cli_usage_error(&cmd_logs, "LINES must be a number, got '%s'", argv[i]);
                } else if (!options_done && a[0] == '-' && a[1] != '\0') {
                        return cli_usage_error(&cmd_logs, "unknown option '%s'", a);
                } else if (!app_name) {
                        app_name = a;
                } else if (!instance) {
                        instance = a;
                } else {
                        return cli_usage_error(&cmd_logs, "unexpected argument '%s'", a);
                }
        }
        if (!instance)
                return cli_usage_error(&cmd_logs, "needs APP and an instance number N");
        if (parse_int(instance, &n) < 0)
                return cli_usage_error(&cmd_logs, "N must be an instance number, got '%s'", instance);

        if (cli_load_config(cli, &c) != EXIT_OK)
                return EXIT_FAIL;
        app = cli_find_app(&c, app_name);
        if (!app)
                goto out;
        if (n < 1 || n > app->replicas) {
                fprintf(stderr, "deployex logs: %s has no instance %d (it has %d replicas in %s)\n",
                        app->name, n, app->replicas, c.origin);
                goto out;
        }
        path_log_file(&c, app->name, n, is_stderr, &path);
        fd = file_open_read(path.data, 0, NULL);
        if (fd < 0) {
                if (fd == -ENOENT)
                        fprintf(stderr, "deployex logs: no log yet at %s\n", path.data);
                else
                        fprintf(stderr, "deployex logs: cannot open %s: %s\n", path.data,
                                file_strerror(fd));
                goto out;
        }
        /* A rotation between fstat and pread shows up as a short read: measure again. */
        for (int tries = 0;; tries++) {
                r = fstat(fd, &st) < 0 ? -errno : tail_offset(fd, st.st_size, lines, &start);
                if (r != -EIO || tries == 3)
                        break;
        }
        if (r == 0 && lseek(fd, start, SEEK_SET) < 0)
                r = -errno;
        if (r == 0)
                r = follow_on ? follow(path.data, fd) : copy_to_end(fd);
        if (follow_on)
                fd = -1; /* follow() owns and closes it */
        if (r == -EPIPE)
                r = 0; /* `deployex logs ... | head` */
        if (r < 0) {
                fprintf(stderr, "deployex logs: %s: %s\n", path.data, file_strerror(r));
                goto out;
        }
        ret = EXIT_OK;
out:
        if (fd >= 0)
                close(fd);
        buf_release(&path);
        config_release(&c);
        return ret;
}

const struct cli_command cmd_logs = {
        .name = "logs",
        .usage = "logs APP N [--stderr] [-f] [-n LINES]",
        .summary = "print the end of an instance's log; -f follows it",
        .help = "Prints the last LINES (default 50) lines of {log_path}/APP/APP-N-stdout.log, or of\n"
                "-stderr.log with --stderr.\n"
                "  -f, --follow       keep printing what is appended, across rotations, until\n"
                "                     interrupted (SIGINT/SIGTERM) or stdout is closed\n"
                "  -n, --lines LINES  how many lines to start with (0: only new ones)\n"
                "  --stderr           the instance's stderr log\n"
                "Exit status 1 for an unknown app, an instance outside 1..replicas or no log yet.\n",
        .run = run_logs,
};
