/*
 * api_http_curl: deployex.http in this process, through libcurl (api_http.h).
 */
#include "lua/api_http.h"
#include "buckets/http.h"
#include "base/banned.h"

int api_http_curl(const struct api_http_request *req, long *ret_status, struct buf *ret_body,
                  struct buf *err)
{
        const struct http_request hr = { .method = req->method, .url = req->url,
                                         .headers = req->headers, .body = req->body,
                                         .body_len = req->body_len,
                                         .connect_timeout_ms = req->timeout_ms,
                                         .timeout_ms = req->timeout_ms,
                                         .max_bytes = req->max_bytes };
        struct http_response resp;
        int r;

        http_response_init(&resp);
        r = http_perform(&hr, &resp, err);
        if (r == 0) {
                *ret_status = resp.status;
                buf_append(ret_body, resp.body.data, resp.body.len);
        }
        http_response_release(&resp); /* wipes: a body may hold a token */
        return r;
}
