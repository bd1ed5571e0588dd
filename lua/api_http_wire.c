/*
 * api_http_wire: the request deployex-hook hands to `deployex __http`
 * (api_http.h).  Text lines, then the body as bytes: the body may be binary,
 * and a header or a URL never holds a line break (api.c refuses them).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "lua/api_http.h"
#include "base/banned.h"

void api_http_wire_request(const struct api_http_request *req, struct buf *out)
{
        size_t n = 0;

        while (req->headers && req->headers[n])
                n++;
        buf_printf(out, "%s\n%s\n%s\n%" PRIu64 "\n%" PRIu64 "\n%zu\n", API_HTTP_WIRE_MAGIC,
                   req->method, req->url, req->timeout_ms, req->max_bytes, n);
        for (size_t i = 0; i < n; i++)
                buf_printf(out, "%s\n", req->headers[i]);
        buf_printf(out, "%zu\n", req->body ? req->body_len : 0);
        if (req->body)
                buf_append(out, req->body, req->body_len);
}

/* The next line of [*p, end), NUL-terminated in place; NULL when there is no '\n'. */
static char *next_line(char **p, char *end)
{
        char *line = *p, *nl = memchr(line, '\n', (size_t)(end - line));

        if (!nl)
                return NULL;
        *nl = '\0';
        *p = nl + 1;
        return line;
}

static int line_u64(char **p, char *end, uint64_t *ret)
{
        char *line = next_line(p, end);

        return line && parse_u64(line, ret) == 0 ? 0 : -EINVAL;
}

int api_http_wire_parse_request(char *text, size_t len, struct api_http_request *ret,
                                const char **ret_headers, struct buf *err)
{
        char *p = text, *end = text + len, *magic;
        uint64_t nheaders, body_len;

        memset(ret, 0, sizeof(*ret));
        magic = next_line(&p, end);
        if (!magic || strcmp(magic, API_HTTP_WIRE_MAGIC) != 0) {
                buf_puts(err, "__http: the request does not start with '" API_HTTP_WIRE_MAGIC "'");
                return -EINVAL;
        }
        ret->method = next_line(&p, end);
        ret->url = ret->method ? next_line(&p, end) : NULL;
        if (!ret->url || line_u64(&p, end, &ret->timeout_ms) < 0 ||
            line_u64(&p, end, &ret->max_bytes) < 0 || line_u64(&p, end, &nheaders) < 0 ||
            nheaders > API_HTTP_HEADERS_MAX) {
                buf_puts(err, "__http: a malformed request");
                return -EINVAL;
        }
        for (uint64_t i = 0; i < nheaders; i++)
                if (!(ret_headers[i] = next_line(&p, end))) {
                        buf_puts(err, "__http: a malformed request header");
                        return -EINVAL;
                }
        ret_headers[nheaders] = NULL;
        ret->headers = ret_headers;
        if (line_u64(&p, end, &body_len) < 0 || body_len != (uint64_t)(end - p)) {
                buf_puts(err, "__http: the request body is not the length it says");
                return -EINVAL;
        }
        ret->body = body_len ? p : NULL;
        ret->body_len = (size_t)body_len;
        return 0;
}
