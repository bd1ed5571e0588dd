/*
 * api_http_exec: deployex.http through `deployex __http` (api_http.h), for
 * the hook runner that links no libcurl.
 *
 * The child reads the whole request before it sends anything and answers
 * only then, so writing the request and then reading the answer cannot
 * deadlock on full pipes.  The child's own timeout (curl's) ends a slow
 * request; this side waits that long plus START_GRACE_MS (the child's start)
 * and kills it after, so a stuck child never outlives the hook's time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lua/api_http.h"
#include "base/fsutil.h"
#include "base/spawn.h"
#include "state/secret_env.h"
#include "base/banned.h"

#define START_GRACE_MS 5000
#define ANSWER_HEAD_MAX 64

static const char *program;

void api_http_exec_program(const char *path)
{
        program = path;
}

/* Read fd to EOF into out, at most max bytes, until deadline (monotonic ms). */
static int read_until(int fd, struct buf *out, size_t max, uint64_t deadline)
{
        char chunk[16384];

        for (;;) {
                uint64_t now = time_mono_ms();
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;
                int k;

                if (now >= deadline)
                        return -ETIMEDOUT;
                k = poll(&p, 1, (int)(deadline - now < 60000 ? deadline - now : 60000));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        continue;
                n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if (out->len + (size_t)n > max)
                        return -EFBIG;
                buf_append(out, chunk, (size_t)n);
        }
}

/* The child's answer in text: "status N\nBODY" or "error\nMESSAGE". */
static int parse_answer(const struct api_http_request *req, struct buf *text, long *ret_status,
                        struct buf *ret_body, struct buf *err)
{
        const char *nl = memchr(text->data, '\n', text->len < ANSWER_HEAD_MAX ? text->len : ANSWER_HEAD_MAX);
        char head[ANSWER_HEAD_MAX];
        uint64_t status;
        size_t hl;

        if (!nl) {
                buf_printf(err, "%s %s: no answer from '%s __http'", req->method, req->url, program);
                return -EIO;
        }
        hl = (size_t)(nl - text->data);
        memcpy(head, text->data, hl);
        head[hl] = '\0';
        if (strcmp(head, "error") == 0) {
                buf_append(err, nl + 1, text->len - hl - 1);
                return -EIO;
        }
        if (strncmp(head, "status ", 7) != 0 || parse_u64(head + 7, &status) < 0 || status > 999) {
                buf_printf(err, "%s %s: a malformed answer from '%s __http'", req->method, req->url,
                           program);
                return -EIO;
        }
        *ret_status = (long)status;
        buf_append(ret_body, nl + 1, text->len - hl - 1);
        return 0;
}

int api_http_exec(const struct api_http_request *req, long *ret_status, struct buf *ret_body,
                  struct buf *err)
{
        char *argv[] = { (char *)program, (char *)"__http", NULL };
        int in[2] = { -1, -1 }, out[2] = { -1, -1 };
        struct buf wire = BUF_INIT, answer = BUF_INIT;
        struct spawn_opts o;
        char **envp;
        pid_t pid = -1;
        int r, status;

        if (!program) {
                buf_printf(err, "%s %s: this program has no HTTP client", req->method, req->url);
                return -ENOSYS;
        }
        for (size_t k = 0; req->headers && req->headers[k]; k++)
                if (k == API_HTTP_HEADERS_MAX) {
                        buf_printf(err, "%s %s: more than %d headers", req->method, req->url,
                                   API_HTTP_HEADERS_MAX);
                        return -E2BIG;
                }
        if (strpbrk(req->url, "\r\n")) {
                buf_printf(err, "%s: the URL holds a line break", req->method);
                return -EINVAL;
        }
        api_http_wire_request(req, &wire);
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                buf_printf(err, "%s %s: pipe: %s", req->method, req->url, strerror(-r));
                goto out;
        }
        memset(&o, 0, sizeof(o));
        o.argv = argv;
        /* It runs as the hook's user, who may read its environ: none of the daemon's secrets. */
        envp = secret_env_scrubbed();
        o.envp = envp;
        o.stdin_fd = in[0];
        o.stdout_fd = out[1];
        o.stderr_fd = STDERR_FILENO;
        o.die_with_parent = true;
        r = spawn_start(&o, &pid);
        spawn_strv_free(envp);
        close(in[0]);
        close(out[1]);
        in[0] = out[1] = -1;
        if (r < 0) {
                pid = -1;
                buf_printf(err, "%s %s: cannot run '%s __http': %s", req->method, req->url, program,
                           strerror(-r));
                goto out;
        }
        r = write_all(in[1], wire.data, wire.len, NULL);
        close(in[1]);
        in[1] = -1;
        if (r == 0)
                r = read_until(out[0], &answer, req->max_bytes + ANSWER_HEAD_MAX,
                               time_mono_ms() + req->timeout_ms + START_GRACE_MS);
        if (r == -ETIMEDOUT)
                buf_printf(err, "%s %s: timed out after %llu ms", req->method, req->url,
                           (unsigned long long)req->timeout_ms);
        else if (r == -EFBIG)
                buf_printf(err, "%s %s: the answer is larger than %llu bytes", req->method, req->url,
                           (unsigned long long)req->max_bytes);
        else if (r < 0)
                buf_printf(err, "%s %s: '%s __http': %s", req->method, req->url, program, strerror(-r));
        else
                r = parse_answer(req, &answer, ret_status, ret_body, err);
out:
        if (pid > 0) {
                /* Its work is done or abandoned: nothing of it stays. */
                (void)spawn_kill_group(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
        }
        for (int k = 0; k < 2; k++) {
                if (in[k] >= 0)
                        close(in[k]);
                if (out[k] >= 0)
                        close(out[k]);
        }
        if (wire.cap)
                explicit_bzero(wire.data, wire.cap); /* headers and bodies may hold credentials */
        if (answer.cap)
                explicit_bzero(answer.data, answer.cap);
        buf_release(&wire);
        buf_release(&answer);
        return r;
}
