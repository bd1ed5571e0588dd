/*
 * http: the one place deployex speaks HTTP as a client (buckets, token
 * endpoints, instance metadata, secret stores), a thin layer over libcurl.
 *
 * One call is one request: http_perform() blocks until the answer, a timeout
 * or the byte cap, so callers run it from a worker, never from the event
 * loop.  Every request has a connect timeout and either a total timeout or a
 * low-speed limit: a silent or slow peer ends the request, it never hangs it.
 * A long-lived caller calls http_keep_connections() first: connections are
 * then kept open in one cache for the process (a curl share) and the next
 * request to the same host reuses one, so the poller pays one handshake,
 * not one per poll.  Otherwise each request has its own connection.
 *
 * A 2xx body goes to req->on_data when set (streaming, e.g. into a file),
 * else into resp->body.  The body of any other status goes into resp->body
 * (capped at HTTP_ERROR_BODY_MAX) so that the caller can quote the peer's
 * error code; it never reaches on_data.
 *
 * Calling sequence: fill a struct http_request (designated initialisers; all
 * unset fields mean "none"), http_response_init(), http_perform(),
 * http_response_release().  Thread-safe (CURLOPT_NOSIGNAL, global init once).
 *
 * Secrets: headers, userpwd and body may carry credentials; http never puts
 * them into err or anywhere else.  err names the method and URL only, so
 * callers must not put secrets into URLs.
 */
#ifndef DEPLOYEX_HTTP_H
#define DEPLOYEX_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define HTTP_ETAG_MAX 256
#define HTTP_ERROR_BODY_MAX (64 * 1024)
#define HTTP_CONNECT_TIMEOUT_MS 5000

struct http_request {
        const char *method;          /* default "GET" */
        const char *url;
        const char *const *headers;  /* NULL-terminated "Name: value" list, or NULL */
        const char *body;            /* request body (POST/PUT), or NULL */
        size_t body_len;
        const char *if_none_match;   /* ETag we hold, or NULL / "" */
        /* libcurl SigV4: "aws:amz:REGION:SERVICE" with userpwd "KEY:SECRET". */
        const char *aws_sigv4;
        const char *userpwd;
        /* "HOST:PORT:CONNECT-HOST:CONNECT-PORT": connect elsewhere, keep the URL's Host (tests). */
        const char *connect_to;
        uint64_t connect_timeout_ms; /* 0: HTTP_CONNECT_TIMEOUT_MS */
        uint64_t timeout_ms;         /* whole request; 0: none (then set low_speed_*) */
        /* Abort when slower than low_speed_bytes/s for low_speed_secs (0: off). */
        long low_speed_bytes;
        long low_speed_secs;
        uint64_t max_bytes;          /* 2xx body cap; beyond it -EFBIG; 0: 1 MiB */
        /* Streaming sink for a 2xx body: return < 0 (-errno) to abort. */
        int (*on_data)(void *ctx, const void *data, size_t len);
        void *ctx;
};

struct http_response {
        long status;                     /* 0 when no answer came */
        char etag[HTTP_ETAG_MAX + 1];    /* "" when absent or too long */
        char generation[32];             /* x-goog-generation, "" when absent */
        struct buf body;
        uint64_t body_bytes;             /* 2xx bytes received (streamed or buffered) */
};

/* Keep connections between requests (before the first request; the __poller worker). */
void http_keep_connections(void);

void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);

/*
 * 0 when an HTTP answer came (any status: check resp->status); else
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (name or host), -EFBIG (cap),
 * the on_data error, or -EIO, with "METHOD URL: why" appended to err.
 */
int http_perform(const struct http_request *req, struct http_response *resp, struct buf *err);

/* An on_data sink writing everything to the fd *(int *)ctx (EINTR-safe). */
int http_sink_fd(void *ctx, const void *data, size_t len);

/* Percent-encode for application/x-www-form-urlencoded and query values (RFC 3986 unreserved kept). */
void http_url_encode(struct buf *out, const char *s);

#endif
