/*
 * SigV4 canonicalisation: RFC 3986 encoding of object keys (with and
 * without '/') and the canonical object URL, from NUL-separated fields
 * endpoint, region, bucket, key.  Encoding must be idempotent on its
 * output's unreserved form and never produce a byte outside the set.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "buckets/aws_sigv4.h"

static const char *field(const char **p, const char *end)
{
        const char *s = *p;

        if (s >= end)
                return "";
        *p = s + strnlen(s, (size_t)(end - s)) + 1;
        return s;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        char *copy = malloc(size + 1);
        const char *p = copy, *end, *endpoint, *region, *bucket, *key;
        struct buf out = BUF_INIT, url = BUF_INIT;

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = '\0';
        end = copy + size;
        endpoint = field(&p, end);
        region = field(&p, end);
        bucket = field(&p, end);
        key = field(&p, end);
        for (int keep = 0; keep < 2; keep++) {
                buf_reset(&out);
                aws_uri_encode(&out, key, keep);
                for (size_t i = 0; i < out.len; i++) {
                        unsigned char c = (unsigned char)out.data[i];

                        if (!(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%", c) ||
                              (keep && c == '/')) || c == '\0')
                                abort();
                }
        }
        aws_s3_object_url(endpoint[0] ? endpoint : NULL, region[0] ? region : "us-east-1", bucket, key,
                          &url);
        buf_release(&out);
        buf_release(&url);
        free(copy);
        return 0;
}
