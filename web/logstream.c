/*
 * logstream: GET /api/apps/{app}/instances/{n}/logs, an instance's log as
 * Server-Sent Events: the last `lines` lines, then (follow=1) every line
 * appended, across rotations.  Each stream runs `deployex logs APP N
 * [--stderr] -n LINES [-f]` -- the CLI's own reader, so the UI shows exactly
 * what `deployex logs` shows -- and turns its output into one `data:` event
 * per line.  The child ends with the stream (SIGTERM to its group).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web/http.h"
#include "base/spawn.h"
#include "base/banned.h"

#define LOG_STREAMS_MAX 32
#define LINES_MAX 10000
#define LINE_MAX_BYTES 8192

static atomic_int streams;

struct logstream {
        pid_t pid;
        int fd;            /* the child's stdout+stderr; -1 at EOF */
        int client_fd;     /* the browser's socket: its hang-up ends the stream at once */
        unsigned char session[32]; /* SHA-256 of the session token: logout ends the stream */
        struct buf line;   /* a partial line */
        struct buf out;
        size_t off;
        bool ended;
};

static void put_line(struct logstream *s, const char *p, size_t n)
{
        buf_puts(&s->out, "data: ");
        for (size_t i = 0; i < n; i++)
                buf_putc(&s->out, p[i] == '\r' ? ' ' : p[i]);
        buf_puts(&s->out, "\n\n");
}

/* Complete lines of s->line become events; a line over LINE_MAX_BYTES is cut. */
static void flush_lines(struct logstream *s, bool all)
{
        size_t start = 0;

        for (size_t i = 0; i < s->line.len; i++)
                if (s->line.data[i] == '\n') {
                        put_line(s, s->line.data + start, i - start);
                        start = i + 1;
                }
        if (start < s->line.len && (all || s->line.len - start >= LINE_MAX_BYTES)) {
                put_line(s, s->line.data + start, s->line.len - start);
                start = s->line.len;
        }
        memmove(s->line.data, s->line.data + start, s->line.len - start);
        s->line.len -= start;
        s->line.data[s->line.len] = '\0';
}

static ssize_t log_read(void *cls, uint64_t pos, char *dst, size_t max)
{
        struct logstream *s = cls;
        uint64_t idle_since = time_now_ms();
        size_t n;

        (void)pos;
        while (s->off == s->out.len) {
                struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN },
                                       { .fd = s->client_fd, .events = POLLRDHUP } };
                char b[16384];
                ssize_t k;

                buf_reset(&s->out);
                s->off = 0;
                /* Ends with the server, at EOF, or with its session (logout, expiry). */
                if (s->ended || events_stopping() || !session_touch(s->session))
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (poll(p, s->client_fd >= 0 ? 2 : 1, 1000) <= 0) {
                        if (time_now_ms() - idle_since >= WEB_SSE_KEEPALIVE_MS) {
                                buf_puts(&s->out, ": keepalive\n\n");
                                idle_since = time_now_ms();
                        }
                        continue;
                }
                if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
                        return MHD_CONTENT_READER_END_WITH_ERROR; /* nobody reads any more */
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                k = read(s->fd, b, sizeof(b));
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k <= 0) {
                        flush_lines(s, true);
                        buf_puts(&s->out, "event: end\ndata: \n\n");
                        s->ended = true;
                        continue;
                }
                buf_append(&s->line, b, (size_t)k);
                flush_lines(s, false);
        }
        n = s->out.len - s->off < max ? s->out.len - s->off : max;
        memcpy(dst, s->out.data + s->off, n);
        s->off += n;
        return (ssize_t)n;
}

static void log_free(void *cls)
{
        struct logstream *s = cls;
        int wstatus;

        if (s->pid > 0)
                (void)spawn_stop(s->pid, 1000, &wstatus);
        if (s->fd >= 0)
                close(s->fd);
        buf_release(&s->line);
        buf_release(&s->out);
        free(s);
        atomic_fetch_sub(&streams, 1);
}

enum MHD_Result logstream_serve(struct MHD_Connection *c, const struct app_config *app, int n)
{
        const char *stream = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "stream");
        const char *lines = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lines");
        const char *follow = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow");
        char inst[16], nlines[16];
        const char *argv[14];
        struct logstream *s;
        struct MHD_Response *r;
        enum MHD_Result ret;
        int nl = 100, fds[2], k = 0, e;

        if (stream && strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0)
                return http_error(c, MHD_HTTP_BAD_REQUEST, "stream must be stdout or stderr");
        if (lines && (parse_int(lines, &nl) < 0 || nl < 0 || nl > LINES_MAX))
                return http_error(c, MHD_HTTP_BAD_REQUEST, "lines must be 0 to %d", LINES_MAX);
        if (atomic_fetch_add(&streams, 1) >= LOG_STREAMS_MAX) {
                atomic_fetch_sub(&streams, 1);
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "%d log streams are open already; close one", LOG_STREAMS_MAX);
        }
        snprintf(inst, sizeof(inst), "%d", n);
        snprintf(nlines, sizeof(nlines), "%d", nl);
        argv[k++] = web_g.o->self_exe;
        if (web_g.o->config_path) {
                argv[k++] = "-c";
                argv[k++] = web_g.o->config_path;
        }
        argv[k++] = "logs";
        argv[k++] = app->name;
        argv[k++] = inst;
        if (stream && strcmp(stream, "stderr") == 0)
                argv[k++] = "--stderr";
        argv[k++] = "-n";
        argv[k++] = nlines;
        if (follow && strcmp(follow, "1") == 0)
                argv[k++] = "-f";
        argv[k++] = "--as-stored"; /* one instance's page: no [N] on every line */
        argv[k] = NULL;
        if (pipe2(fds, O_CLOEXEC) < 0) {
                e = errno;
                atomic_fetch_sub(&streams, 1);
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot open a pipe: %s",
                                  strerror(e));
        }
        s = xcalloc(1, sizeof(*s));
        buf_init(&s->line);
        buf_init(&s->out);
        s->fd = fds[0];
        (void)session_hash(c, s->session); /* the caller checked the session */
        {
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                s->client_fd = ci ? ci->connect_fd : -1;
        }
        e = spawn_start(&(struct spawn_opts){ .argv = (char *const *)argv, .stdin_fd = -1,
                                              .stdout_fd = fds[1], .stderr_fd = fds[1],
                                              .die_with_parent = true },
                        &s->pid);
        close(fds[1]);
        if (e < 0) {
                s->pid = 0;
                log_free(s);
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot run 'deployex logs': %s",
                                  strerror(-e));
        }
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, log_read, s, log_free);
        if (!r) {
                log_free(s);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        http_secure(r, false);
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}
