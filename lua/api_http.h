/*
 * api_http: how deployex.http (api.h) sends its request.  The sandbox checks
 * the arguments; a sender, chosen once per process with api_set_http(),
 * carries the request out:
 *
 *   api_http_curl   in this process through libcurl (buckets/http.h): the
 *                   full deployex binary (`deployex hook`, `check`, its jobs)
 *   api_http_exec   through a child, `DEPLOYEX __http`, which is the full
 *                   binary: the lean hook runner deployex-hook links no
 *                   libcurl (docs/daemon.md, PROGRAMS), and a hook that calls
 *                   deployex.http is rare, so only such a call pays for
 *                   starting libcurl (about 7 ms of CPU).
 *
 * No sender set: deployex.http fails with a line that says so.  Through the
 * child a request carries at most API_HTTP_HEADERS_MAX headers.
 *
 * The child gets the request on its stdin and answers on its stdout (the
 * wire format below), never on argv: headers and bodies may carry
 * credentials.  It runs as whoever runs the hook (the app's user), with the
 * hook's environment, and inherits its stderr.
 *
 *   request:   "deployex-http 1\n" METHOD "\n" URL "\n" TIMEOUT_MS "\n"
 *              MAX_BYTES "\n" NHEADERS "\n" (HEADER "\n")* BODY_LEN "\n" BODY
 *   answer:    "status " STATUS "\n" BODY      an HTTP answer (any status)
 *              "error\n" MESSAGE               no answer: why, one line
 *
 * Functions return 0 or -errno with one line appended to err; they never
 * log and make no Lua call (api.c runs them with buffers the collector owns).
 */
#ifndef DEPLOYEX_API_HTTP_H
#define DEPLOYEX_API_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define API_HTTP_WIRE_MAGIC "deployex-http 1"
#define API_HTTP_HEADERS_MAX 100

struct api_http_request {
        const char *method;
        const char *url;
        const char *const *headers; /* NULL-terminated "Name: value" list (no CR or LF) */
        const char *body;           /* NULL = none */
        size_t body_len;
        uint64_t timeout_ms;        /* connect and whole request */
        uint64_t max_bytes;         /* answer body cap */
};

/* Send req: 0 with *ret_status and the body appended to ret_body, or -errno and err. */
typedef int api_http_fn(const struct api_http_request *req, long *ret_status,
                        struct buf *ret_body, struct buf *err);

void api_set_http(api_http_fn *fn);
api_http_fn *api_get_http(void);

api_http_fn api_http_curl; /* api_http_curl.c */
api_http_fn api_http_exec; /* api_http_exec.c */
/* The full binary api_http_exec runs (an absolute path; the runner's --cli). */
void api_http_exec_program(const char *path);

/* The wire (api_http_wire.c). */
void api_http_wire_request(const struct api_http_request *req, struct buf *out);
/*
 * Parse a request read whole into text (changed in place: the strings of
 * *ret point into it; headers into ret_headers, API_HTTP_HEADERS_MAX + 1
 * entries).  0 or -EINVAL with err.
 */
int api_http_wire_parse_request(char *text, size_t len, struct api_http_request *ret,
                                const char **ret_headers, struct buf *err);

#endif
