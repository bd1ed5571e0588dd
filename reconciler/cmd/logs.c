/*
 * deployex logs APP [N] [--stderr] [-f] [-n LINES] [--since T]: the end of
 * an instance's log file, or of every instance's merged by the time stamps
 * the log writer puts on each line (logwriter.h), each line shown as
 * "TIME [N] text", and with -f what is appended from then on, across
 * rotations (DESIGN §3, §4.4).  Reads the files only; no daemon involved.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/logwriter.h"
#include "state/json.h"
#include "base/fsutil.h"
#include "state/paths.h"
#include "base/banned.h"

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

/* ---- every instance interleaved, or one (logs APP [N]) ----------------------- */

/* --as-stored: each line as the file holds it, without the [N] (the web UI's one-instance view). */
static bool show_instance = true;
/* --json: one object a line, {"at", "instance", "stream", "line"}. */
static bool json_out;
static const char *stream_name = "stdout";

/* Log text is bytes: invalid UTF-8 becomes U+FFFD so that the JSON stays valid. */
static void utf8_clean(const char *p, size_t len, struct buf *out)
{
        const unsigned char *u = (const unsigned char *)p;

        for (size_t i = 0; i < len;) {
                size_t n = u[i] < 0x80 ? 1 : (u[i] & 0xE0) == 0xC0 ? 2 : (u[i] & 0xF0) == 0xE0 ? 3
                         : (u[i] & 0xF8) == 0xF0 ? 4 : 0;
                bool ok = n > 0 && i + n <= len && !(n == 2 && u[i] < 0xC2);

                for (size_t k = 1; ok && k < n; k++)
                        ok = (u[i + k] & 0xC0) == 0x80;
                if (ok && n == 3)
                        ok = !(u[i] == 0xE0 && u[i + 1] < 0xA0) && !(u[i] == 0xED && u[i + 1] >= 0xA0);
                if (ok && n == 4)
                        ok = !(u[i] == 0xF0 && u[i + 1] < 0x90) && !(u[i] == 0xF4 && u[i + 1] >= 0x90) &&
                             u[i] <= 0xF4;
                if (ok) {
                        buf_append(out, p + i, n);
                        i += n;
                } else {
                        buf_puts(out, "\xEF\xBF\xBD");
                        i++;
                }
        }
}

static int print_json(int instance, uint64_t ms, const char *text, size_t len)
{
        struct buf out = BUF_INIT, clean = BUF_INIT;
        char at[32];
        yajl_gen g = json_gen_new(&out);
        int r;

        utf8_clean(text, len, &clean);
        yajl_gen_map_open(g);
        if (ms) {
                logwriter_format_stamp(ms, at);
                at[LOGWRITER_STAMP_LEN - 1] = '\0'; /* no trailing space */
        }
        json_gen_kv_str(g, "at", ms ? at : NULL);
        json_gen_kv_int(g, "instance", instance);
        json_gen_kv_str(g, "stream", stream_name);
        json_gen_str(g, "line");
        yajl_gen_string(g, (const unsigned char *)clean.data, clean.len);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(&out, '\n');
        r = write_out(out.data, out.len) < 0 ? -EPIPE : 0;
        buf_release(&out);
        buf_release(&clean);
        return r;
}

/* One instance's file while reading it line by line. */
struct tail {
        int instance;
        char *path;
        int fd;              /* -1: not open (no file yet) */
        struct stat cur;
        struct buf pending;  /* the start of a line whose end has not come yet */
        uint64_t last_ms;    /* the time of its last stamped line */
};

/* A backlog line: its time, instance and text (owned). */
struct entry {
        uint64_t ms;
        int instance;
        size_t seq;
        char *text;
};

struct entries {
        struct entry *items;
        size_t n, cap;
};

static int by_time_then_order(const void *a, const void *b)
{
        const struct entry *x = a, *y = b;

        if (x->ms != y->ms)
                return x->ms < y->ms ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * "TIME [N] text": the writer's stamp, else (output the daemon copied in
 * itself) the time of the line before it.
 */
static int print_line(int instance, uint64_t ms, const char *text, size_t len)
{
        char stamp[LOGWRITER_STAMP_LEN + 1], head[64];
        int n;

        if (json_out)
                return print_json(instance, ms, text, len);
        if (ms)
                logwriter_format_stamp(ms, stamp);
        else
                snprintf(stamp, sizeof(stamp), "%-*s", LOGWRITER_STAMP_LEN, "-");
        /* DESIGN §3: one instance or all, each line prefixed with time and instance. */
        n = show_instance ? snprintf(head, sizeof(head), "%s[%d] ", stamp, instance)
                          : snprintf(head, sizeof(head), "%s", ms ? stamp : "");
        if (write_out(head, (size_t)n) < 0)
                return -EPIPE;
        if (write_out(text, len) < 0 || write_out("\n", 1) < 0)
                return -EPIPE;
        return 0;
}

/* The time and text of one line (without its newline), per the tail's stamps. */
static const char *split_line(struct tail *t, const char *line, size_t len, uint64_t *ret_ms,
                              size_t *ret_len)
{
        uint64_t ms;

        if (logwriter_parse_stamp(line, len, &ms)) {
                t->last_ms = ms;
                line += LOGWRITER_STAMP_LEN;
                len -= LOGWRITER_STAMP_LEN;
        }
        *ret_ms = t->last_ms;
        *ret_len = len;
        return line;
}

/*
 * Feed bytes read from t's file: complete lines go to the entries (backlog,
 * when e is set) or straight out (following), from since_ms on.
 */
static int take_lines(struct tail *t, const char *data, size_t len, struct entries *e,
                      uint64_t since_ms, size_t *seq)
{
        int r = 0;

        buf_append(&t->pending, data, len);
        for (;;) {
                char *nl = memchr(t->pending.data, '\n', t->pending.len);
                size_t n, text_len;
                const char *text;
                uint64_t ms;

                if (!nl)
                        break;
                n = (size_t)(nl - t->pending.data);
                text = split_line(t, t->pending.data, n, &ms, &text_len);
                if (ms >= since_ms || !since_ms) {
                        if (e) {
                                xgrow((void **)&e->items, &e->cap, e->n + 1, sizeof(*e->items));
                                e->items[e->n++] = (struct entry){ ms, t->instance, (*seq)++,
                                                                   xstrndup(text, text_len) };
                        } else if (r == 0) {
                                r = print_line(t->instance, ms, text, text_len);
                        }
                }
                memmove(t->pending.data, nl + 1, t->pending.len - n - 1);
                t->pending.len -= n + 1;
                t->pending.data[t->pending.len] = '\0';
        }
        return r;
}

/* Read fd from its offset to its end through take_lines. */
static int drain(struct tail *t, int fd, struct entries *e, uint64_t since_ms, size_t *seq)
{
        char buf[CHUNK];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                int r;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                r = take_lines(t, buf, (size_t)n, e, since_ms, seq);
                if (r < 0)
                        return r;
        }
}

/* Rotated files written unseen between two looks (see catch_up), through take_lines. */
static int catch_up_lines(struct tail *t, const struct stat *old, uint64_t since_ms, size_t *seq)
{
        struct buf p = BUF_INIT;
        struct stat st;
        int j, r = 0;

        for (j = 1; j <= ROTATED_MAX; j++) {
                buf_reset(&p);
                buf_printf(&p, "%s.%d", t->path, j);
                if (stat(p.data, &st) < 0)
                        goto out;
                if (st.st_ino == old->st_ino && st.st_dev == old->st_dev)
                        break;
        }
        for (j--; j >= 1 && r == 0; j--) {
                int fd;

                buf_reset(&p);
                buf_printf(&p, "%s.%d", t->path, j);
                fd = file_open_read(p.data, 0, NULL);
                if (fd < 0)
                        continue;
                r = drain(t, fd, NULL, since_ms, seq);
                close(fd);
        }
out:
        buf_release(&p);
        return r;
}

/* One look at a followed file: new lines, a rotation, a truncation, a file that appeared. */
static int follow_step(struct tail *t, uint64_t since_ms, size_t *seq)
{
        struct stat now;
        int r;

        if (t->fd < 0) {
                t->fd = file_open_read(t->path, 0, NULL);
                if (t->fd < 0) {
                        t->fd = -1;
                        return 0; /* not there yet: look again next time */
                }
                if (fstat(t->fd, &t->cur) < 0)
                        return -errno;
        }
        r = drain(t, t->fd, NULL, since_ms, seq);
        if (r < 0)
                return r;
        if (stat(t->path, &now) == 0 && (now.st_ino != t->cur.st_ino || now.st_dev != t->cur.st_dev)) {
                int nfd;

                r = drain(t, t->fd, NULL, since_ms, seq); /* the last lines before the rotation */
                if (r == 0)
                        r = catch_up_lines(t, &t->cur, since_ms, seq);
                if (r < 0)
                        return r;
                nfd = file_open_read(t->path, 0, NULL);
                if (nfd < 0)
                        return 0;
                close(t->fd);
                t->fd = nfd;
                if (fstat(t->fd, &t->cur) < 0)
                        return -errno;
                return drain(t, t->fd, NULL, since_ms, seq);
        }
        if (fstat(t->fd, &now) == 0 && now.st_size < lseek(t->fd, 0, SEEK_CUR) &&
            lseek(t->fd, 0, SEEK_SET) < 0)
                return -errno;
        return 0;
}

/*
 * logs APP: the last `lines` lines of every instance's log, merged by time,
 * then (follow) what each appends, as it comes.
 */
static int logs_all(const struct config *c, const struct app_config *app, int only, bool is_stderr,
                    uint64_t lines, uint64_t since_ms, bool follow_on)
{
        int count = only ? 1 : app->replicas;
        struct tail *tails = xcalloc((size_t)count + 1, sizeof(*tails));
        struct entries e = { NULL, 0, 0 };
        struct buf path = BUF_INIT;
        size_t seq = 0, first;
        int found = 0, r = 0;

        for (int i = 0; i <= count; i++)
                tails[i].fd = -1;
        for (int i = 0; i < count; i++) {
                struct tail *t = &tails[i];
                off_t start = 0;

                t->instance = only ? only : i + 1;
                buf_init(&t->pending);
                path_log_file(c, app->name, t->instance, is_stderr, &path);
                t->path = xstrdup(path.data);
                t->fd = file_open_read(t->path, 0, NULL);
                if (t->fd == -EACCES) {
                        fprintf(stderr, "deployex logs: cannot read %s: permission denied; are you "
                                        "in group deployex?\n", t->path);
                        t->fd = -1;
                        r = -EACCES;
                        goto out;
                }
                if (t->fd < 0) {
                        t->fd = -1;
                        continue;
                }
                found++;
                /* Each instance's last `lines` lines are enough for the merged last `lines`. */
                if (fstat(t->fd, &t->cur) < 0 ||
                    tail_offset(t->fd, t->cur.st_size, lines, &start) < 0 ||
                    lseek(t->fd, start, SEEK_SET) < 0)
                        continue;
                if ((r = drain(t, t->fd, &e, since_ms, &seq)) < 0)
                        goto out;
                /* Not following: a last line without its newline yet is shown all the same. */
                if (!follow_on && t->pending.len > 0 &&
                    (r = take_lines(t, "\n", 1, &e, since_ms, &seq)) < 0)
                        goto out;
        }
        if (!found && !follow_on) {
                if (only)
                        fprintf(stderr, "deployex logs: no log yet at %s\n", path.data);
                else
                        fprintf(stderr, "deployex logs: no log yet for any instance of %s (like %s)\n",
                                app->name, path.data);
                r = -ENOENT;
                goto out;
        }
        if (e.n > 1)
                qsort(e.items, e.n, sizeof(*e.items), by_time_then_order);
        first = e.n > lines ? e.n - (size_t)lines : 0;
        for (size_t i = first; i < e.n && r == 0; i++)
                r = print_line(e.items[i].instance, e.items[i].ms, e.items[i].text, strlen(e.items[i].text));
        if (r < 0 || !follow_on)
                goto out;
        {
                struct sigaction sa;

                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = on_stop_signal;
                sigemptyset(&sa.sa_mask);
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);
        }
        while (!stop_requested && r == 0) {
                for (int i = 0; i < count && r == 0; i++)
                        r = follow_step(&tails[i], since_ms, &seq);
                if (r < 0 || stdout_closed(FOLLOW_POLL_MS))
                        break;
        }
out:
        for (size_t i = 0; i < e.n; i++)
                free(e.items[i].text);
        free(e.items);
        for (int i = 0; i < count; i++) {
                if (tails[i].fd >= 0)
                        close(tails[i].fd);
                free(tails[i].path);
                buf_release(&tails[i].pending);
        }
        free(tails);
        buf_release(&path);
        return r == -EPIPE ? 0 : r;
}

static int run_logs(const struct cli *cli, int argc, char **argv)
{
        const char *app_name = NULL, *instance = NULL;
        bool is_stderr = false, follow_on = false, options_done = false;
        uint64_t lines = DEFAULT_LINES, since_ms = 0;
        const struct app_config *app;
        struct config c;
        int n = 0, r, ret = EXIT_FAIL;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (!options_done && strcmp(a, "--") == 0) {
                        options_done = true;
                } else if (!options_done && strcmp(a, "--stderr") == 0) {
                        is_stderr = true;
                } else if (!options_done && strcmp(a, "--as-stored") == 0) {
                        show_instance = false;
                } else if (!options_done && strcmp(a, "--json") == 0) {
                        json_out = true;
                } else if (!options_done && (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)) {
                        follow_on = true;
                } else if (!options_done && (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0)) {
                        if (i + 1 >= argc)
                                return cli_usage_error(&cmd_logs, "%s needs a number of LINES", a);
                        if (parse_u64(argv[++i], &lines) < 0)
                                return cli_usage_error(&cmd_logs, "LINES must be a number, got '%s'", argv[i]);
                } else if (!options_done && strcmp(a, "--since") == 0) {
                        if (i + 1 >= argc)
                                return cli_usage_error(&cmd_logs, "--since needs a time or a duration");
                        if (cli_parse_since(argv[++i], time_now_ms(), &since_ms) < 0)
                                return cli_usage_error(&cmd_logs, "--since: '%s' is neither a time "
                                                       "(2026-11-26T05:00:00Z) nor a duration (90s, 15m, 2h, 3d)",
                                                       argv[i]);
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
        if (!app_name)
                return cli_usage_error(&cmd_logs, "needs APP (and an instance number N for one instance)");
        if (!show_instance && !instance)
                return cli_usage_error(&cmd_logs, "--as-stored needs an instance number N");
        if (instance && parse_int(instance, &n) < 0)
                return cli_usage_error(&cmd_logs, "N must be an instance number, got '%s'", instance);

        if (cli_load_config(cli, &c) != EXIT_OK)
                return EXIT_FAIL;
        app = cli_find_app(&c, app_name);
        if (!app)
                goto out;
        if (instance && (n < 1 || n > app->replicas)) {
                fprintf(stderr, "deployex logs: %s has no instance %d (it has %d replicas in %s)\n",
                        app->name, n, app->replicas, c.origin);
                goto out;
        }
        stream_name = is_stderr ? "stderr" : "stdout";
        r = logs_all(&c, app, n, is_stderr, since_ms && lines == DEFAULT_LINES ? UINT64_MAX : lines,
                     since_ms, follow_on);
        if (r < 0) {
                if (r != -ENOENT && r != -EACCES)
                        fprintf(stderr, "deployex logs: %s: %s\n", app->name, strerror(-r));
                goto out;
        }
        ret = EXIT_OK;
out:
        config_release(&c);
        return ret;
}

const struct cli_command cmd_logs = {
        .name = "logs",
        .usage = "logs APP [N] [--stderr] [-f] [-n LINES] [--since T] [--json]",
        .summary = "the end of an app's logs, every instance interleaved (or one); -f follows",
        .help = "Without N: the last LINES lines of every instance of APP, merged by time, each\n"
                "prefixed with its time and [instance]:\n"
                "  2026-11-26T05:00:00.123Z [2] GET /health 200\n"
                "With N: the last LINES (default 50) lines of {log_path}/APP/APP-N-stdout.log,\n"
                "prefixed the same way.\n"
                "  -f, --follow       keep printing what is appended, across rotations, until\n"
                "                     interrupted (SIGINT/SIGTERM) or stdout is closed\n"
                "  -n, --lines LINES  how many lines to start with (0: only new ones; with\n"
                "                     --since, every line since T unless given)\n"
                "  --since T          lines written at or after T: a time (2026-11-26T05:00:00Z)\n"
                "                     or a duration before now (90s, 15m, 2h, 3d)\n"
                "  --stderr           the instances' stderr logs\n"
                "  --as-stored        with N: each line as the file holds it, without [N]\n"
                "  --json             one object a line: {\"at\", \"instance\", \"stream\", \"line\"}\n"
                "                     (a line without a stamp has the time of the one before;\n"
                "                     null before any; bad UTF-8 as U+FFFD)\n"
                "Exit status 1 for an unknown app, an instance outside 1..replicas or no log yet.\n",
        .run = run_logs,
};
