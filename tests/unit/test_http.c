/*
 * Unit tests: the libcurl wrapper (buckets/http.c) against a loopback server:
 * status, ETag, conditional requests, the byte cap, streaming, error bodies,
 * timeouts and refused connections.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/loopback.h"
#include "buckets/http.h"
#include "base/util.h"

#include "base/banned.h"

static int get(struct loopback *lb, struct http_request *req, struct http_response *resp,
               struct buf *err)
{
        struct buf url = BUF_INIT;
        int r;

        buf_printf(&url, "http://127.0.0.1:%d/o/current.json", lb->port);
        req->url = url.data;
        r = http_perform(req, resp, err);
        buf_release(&url);
        return r;
}

static void test_ok_and_etag(void **state)
{
        static const char resp_text[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"v1\"\r\n"
                                        "x-goog-generation: 1712\r\nConnection: close\r\n\r\nhello";
        struct loopback lb;
        struct http_response resp;
        struct buf err = BUF_INIT;
        struct http_request req = { .if_none_match = "\"v0\"", .timeout_ms = 5000 };

        (void)state;
        loopback_start(&lb, resp_text, strlen(resp_text));
        http_response_init(&resp);
        assert_int_equal(get(&lb, &req, &resp, &err), 0);
        loopback_stop(&lb);
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.etag, "\"v1\"");
        assert_string_equal(resp.generation, "1712");
        assert_string_equal(resp.body.data, "hello");
        assert_int_equal(resp.body_bytes, 5);
        assert_non_null(strstr(lb.request, "GET /o/current.json HTTP/1.1\r\n"));
        assert_non_null(strstr(lb.request, "If-None-Match: \"v0\"\r\n"));
        http_response_release(&resp);
        buf_release(&err);
}

static void test_not_modified(void **state)
{
        static const char resp_text[] = "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n";
        struct loopback lb;
        struct http_response resp;
        struct buf err = BUF_INIT;
        struct http_request req = { .if_none_match = "\"v1\"", .timeout_ms = 5000 };

        (void)state;
        loopback_start(&lb, resp_text, strlen(resp_text));
        http_response_init(&resp);
        assert_int_equal(get(&lb, &req, &resp, &err), 0);
        loopback_stop(&lb);
        assert_int_equal(resp.status, 304);
        assert_string_equal(resp.etag, "\"v1\"");
        assert_int_equal(resp.body.len, 0);
        http_response_release(&resp);
        buf_release(&err);
}

static void test_cap(void **state)
{
        static const char resp_text[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789";
        struct loopback lb;
        struct http_response resp;
        struct buf err = BUF_INIT;
        struct http_request req = { .timeout_ms = 5000, .max_bytes = 9 };

        (void)state;
        loopback_start(&lb, resp_text, strlen(resp_text));
        http_response_init(&resp);
        assert_int_equal(get(&lb, &req, &resp, &err), -EFBIG);
        assert_non_null(strstr(err.data, "larger than 9 bytes"));
        req.max_bytes = 10;
        buf_reset(&err);
        assert_int_equal(get(&lb, &req, &resp, &err), 0);
        assert_string_equal(resp.body.data, "0123456789");
        loopback_stop(&lb);
        http_response_release(&resp);
        buf_release(&err);
}

struct sink {
        struct buf got;
        int fail_with;
};

static int sink(void *ctx, const void *data, size_t len)
{
        struct sink *s = ctx;

        if (s->fail_with)
                return s->fail_with;
        buf_append(&s->got, data, len);
        return 0;
}

/* A 2xx body streams to on_data; an error document never does. */
static void test_streaming_and_error_body(void **state)
{
        static const char ok_text[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndata";
        static const char denied[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 40\r\nConnection: close\r\n\r\n"
                                     "<Error><Code>AccessDenied</Code></Error>";
        struct loopback lb;
        struct http_response resp;
        struct buf err = BUF_INIT;
        struct sink s = { BUF_INIT, 0 };
        struct http_request req = { .timeout_ms = 5000, .on_data = sink, .ctx = &s };

        (void)state;
        loopback_start(&lb, ok_text, strlen(ok_text));
        http_response_init(&resp);
        assert_int_equal(get(&lb, &req, &resp, &err), 0);
        assert_string_equal(s.got.data, "data");
        assert_int_equal(resp.body.len, 0);
        /* The sink refusing (disk full, say) aborts with its error. */
        s.fail_with = -ENOSPC;
        assert_int_equal(get(&lb, &req, &resp, &err), -ENOSPC);
        loopback_stop(&lb);

        s.fail_with = 0;
        buf_reset(&s.got);
        loopback_start(&lb, denied, strlen(denied));
        assert_int_equal(get(&lb, &req, &resp, &err), 0);
        loopback_stop(&lb);
        assert_int_equal(resp.status, 403);
        assert_int_equal(s.got.len, 0);
        assert_non_null(strstr(resp.body.data, "AccessDenied"));
        http_response_release(&resp);
        buf_release(&err);
        buf_release(&s.got);
}

static uint64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A peer that accepts and never answers ends the request at the deadline. */
static void test_timeout(void **state)
{
        struct loopback lb;
        struct http_response resp;
        struct buf err = BUF_INIT;
        struct http_request req = { .timeout_ms = 300 };
        uint64_t start;

        (void)state;
        loopback_start(&lb, "", 0);
        lb.hang = true;
        http_response_init(&resp);
        start = mono_ms();
        assert_int_equal(get(&lb, &req, &resp, &err), -ETIMEDOUT);
        assert_true(mono_ms() - start < 3000);
        assert_int_equal(resp.status, 0);
        assert_non_null(strstr(err.data, "GET http://127.0.0.1:"));
        loopback_stop(&lb);
        http_response_release(&resp);
        buf_release(&err);
}

static void test_refused(void **state)
{
        struct loopback lb;
        struct http_response resp;
        struct buf err = BUF_INIT;
        struct http_request req = { .timeout_ms = 2000 };

        (void)state;
        /* Learn a free port, then close it: nobody listens there. */
        loopback_start(&lb, "", 0);
        loopback_stop(&lb);
        http_response_init(&resp);
        assert_int_equal(get(&lb, &req, &resp, &err), -ECONNREFUSED);
        http_response_release(&resp);
        buf_release(&err);
}

static void test_url_encode(void **state)
{
        struct buf out = BUF_INIT;

        (void)state;
        http_url_encode(&out, "urn:ietf:params a/b+c~");
        assert_string_equal(out.data, "urn%3Aietf%3Aparams%20a%2Fb%2Bc~");
        buf_release(&out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ok_and_etag),
                cmocka_unit_test(test_not_modified),
                cmocka_unit_test(test_cap),
                cmocka_unit_test(test_streaming_and_error_body),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_url_encode),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
