/*
 * aws_sigv4: canonical URLs and the headers libcurl's SigV4 signer leaves to
 * us.  See aws_sigv4.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buckets/aws_sigv4.h"
#include "state/json.h"
#include "base/banned.h"

void aws_sha256_hex(const void *data, size_t len, char ret[65])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        (void)EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
        for (unsigned int i = 0; i < 32; i++) {
                ret[2 * i] = hex[md[i] >> 4];
                ret[2 * i + 1] = hex[md[i] & 15];
        }
        ret[64] = '\0';
}

void aws_uri_encode(struct buf *out, const char *s, bool keep_slash)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
                        buf_putc(out, (char)c);
                } else {
                        buf_putc(out, '%');
                        buf_putc(out, hex[c >> 4]);
                        buf_putc(out, hex[c & 15]);
                }
        }
}

void aws_s3_object_url(const char *endpoint, const char *region, const char *bucket,
                       const char *key, struct buf *out)
{
        buf_reset(out);
        if (!str_empty(endpoint)) {
                size_t n = strlen(endpoint);

                while (n > 0 && endpoint[n - 1] == '/')
                        n--;
                buf_append(out, endpoint, n);
                buf_putc(out, '/');
                aws_uri_encode(out, bucket, false);
        } else if (strchr(bucket, '.')) {
                buf_printf(out, "https://s3.%s.amazonaws.com/", region);
                aws_uri_encode(out, bucket, false);
        } else {
                buf_printf(out, "https://%s.s3.%s.amazonaws.com", bucket, region);
        }
        buf_putc(out, '/');
        aws_uri_encode(out, key, true);
}

const char *aws_region_or_default(const char *configured)
{
        const char *r;

        if (!str_empty(configured))
                return configured;
        if (!str_empty(r = getenv("AWS_REGION")))
                return r;
        if (!str_empty(r = getenv("AWS_DEFAULT_REGION")))
                return r;
        return AWS_DEFAULT_REGION;
}

int aws_sigv4_perform(const struct aws_creds *creds, const char *region, const char *service,
                      const struct http_request *req, struct http_response *resp, struct buf *err)
{
        struct buf sigv4 = BUF_INIT, userpwd = BUF_INIT, sha = BUF_INIT, token = BUF_INIT;
        const char **headers;
        size_t n = 0, i = 0;
        char payload[65];
        struct http_request signed_req = *req;
        int r;

        for (const char *const *h = req->headers; h && *h; h++)
                n++;
        headers = xcalloc(n + 3, sizeof(*headers));
        for (const char *const *h = req->headers; h && *h; h++)
                headers[i++] = *h;
        /* S3 refuses a request without it; libcurl 7.88 does not add it. */
        aws_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, payload);
        buf_printf(&sha, "x-amz-content-sha256: %s", payload);
        headers[i++] = sha.data;
        if (creds->token[0]) {
                buf_printf(&token, "x-amz-security-token: %s", creds->token);
                headers[i++] = token.data;
        }
        headers[i] = NULL;

        buf_printf(&sigv4, "aws:amz:%s:%s", region, service);
        buf_printf(&userpwd, "%s:%s", creds->key_id, creds->secret);
        signed_req.headers = headers;
        signed_req.aws_sigv4 = sigv4.data;
        signed_req.userpwd = userpwd.data;
        r = http_perform(&signed_req, resp, err);

        explicit_bzero(userpwd.data, userpwd.len);
        explicit_bzero(token.data, token.len);
        free(headers);
        buf_release(&sigv4);
        buf_release(&userpwd);
        buf_release(&sha);
        buf_release(&token);
        return r;
}

/* The text between <tag> and </tag>, or false. */
static bool xml_element(const char *body, const char *tag, struct buf *out)
{
        struct buf open = BUF_INIT, close = BUF_INIT;
        const char *a, *b = NULL;

        buf_printf(&open, "<%s>", tag);
        buf_printf(&close, "</%s>", tag);
        a = strstr(body, open.data);
        if (a) {
                a += open.len;
                b = strstr(a, close.data);
                if (b)
                        buf_append(out, a, (size_t)(b - a) > 512 ? 512 : (size_t)(b - a));
        }
        buf_release(&open);
        buf_release(&close);
        return b != NULL;
}

void aws_error_summary(const char *body, struct buf *out)
{
        struct buf ignored = BUF_INIT;
        yajl_val tree = NULL;

        if (xml_element(body, "Code", out)) {
                size_t mark = out->len;

                buf_puts(out, ": ");
                if (!xml_element(body, "Message", out)) {
                        out->len = mark;
                        out->data[mark] = '\0';
                }
                return;
        }
        if (body[0] != '{' || json_parse(body, strlen(body), "error", &tree, &ignored) < 0)
                goto out;
        {
                yajl_val type = json_get(tree, "__type");
                yajl_val msg = json_get(tree, "message");

                if (!msg)
                        msg = json_get(tree, "Message");
                if (YAJL_IS_STRING(type)) {
                        /* "namespace#ExceptionName" in the JSON protocols: keep the name. */
                        const char *t = YAJL_GET_STRING(type), *hash = strrchr(t, '#');
                        buf_puts(out, hash ? hash + 1 : t);
                        if (YAJL_IS_STRING(msg))
                                buf_printf(out, ": %.512s", YAJL_GET_STRING(msg));
                }
        }
out:
        if (tree)
                yajl_tree_free(tree);
        buf_release(&ignored);
}
