/*
 * bucket_put: one whole object at a time into file://, s3:// or gs://.
 * See bucket_put.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buckets/aws_sigv4.h"
#include "buckets/bucket_put.h"
#include "base/fsutil.h"
#include "buckets/gcp_auth.h"
#include "state/json.h"
#include "buckets/source_remote.h"
#include "base/banned.h"

#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
/* An upload may be large: end it when it stalls, not after a fixed time. */
#define PUT_TIMEOUT_MS (60 * 60 * 1000)

enum put_kind { PUT_FILE, PUT_S3, PUT_GS };

struct bucket_put {
        enum put_kind kind;
        char *root;     /* file://: the directory */
        char *bucket;   /* s3://, gs:// */
        char *prefix;   /* "" or "a/b" */
        char *region;   /* s3:// */
        char *endpoint; /* s3:// (NULL: AWS) or gs:// (never NULL) */
        struct aws_creds_cache creds;
        struct gcp_auth *auth;
};

static void object_key(const struct bucket_put *b, const char *rel, struct buf *out)
{
        buf_reset(out);
        if (b->prefix[0])
                buf_printf(out, "%s/", b->prefix);
        buf_puts(out, rel);
}

void bucket_put_name(const struct bucket_put *b, const char *rel, struct buf *out)
{
        struct buf key = BUF_INIT;

        buf_reset(out);
        switch (b->kind) {
        case PUT_FILE:
                buf_printf(out, "%s/%s", b->root, rel);
                break;
        case PUT_S3:
        case PUT_GS:
                object_key(b, rel, &key);
                buf_printf(out, "%s://%s/%s", b->kind == PUT_S3 ? "s3" : "gs", b->bucket, key.data);
                break;
        }
        buf_release(&key);
}

/* A bucket object is read by other users (the daemon, a web server in front of the folder). */
static int put_file(struct bucket_put *b, const char *rel, const void *data, size_t len,
                    struct buf *err)
{
        struct buf path = BUF_INIT;
        char *slash;
        int r;

        buf_printf(&path, "%s/%s", b->root, rel);
        slash = strrchr(path.data, '/');
        *slash = '\0';
        r = mkdir_p(path.data, 0755);
        *slash = '/';
        if (r < 0)
                buf_printf(err, "%s: cannot create its directory: %s", path.data, strerror(-r));
        else if ((r = atomic_write_file_mode(path.data, data, len, 0644)) < 0)
                buf_printf(err, "%s: %s", path.data, strerror(-r));
        buf_release(&path);
        return r;
}

static int finish_remote(const struct bucket_put *b, const char *name, const struct http_response *resp,
                         struct buf *err)
{
        struct buf summary = BUF_INIT;
        int r = remote_status_to_errno(resp->status);

        if (r < 0) {
                if (b->kind == PUT_S3) {
                        aws_error_summary(resp->body.data, &summary);
                } else if (resp->body.len && resp->body.data[0] == '{') {
                        struct buf ignored = BUF_INIT;
                        yajl_val tree = NULL;

                        if (json_parse(resp->body.data, resp->body.len, "error", &tree, &ignored) == 0) {
                                yajl_val m = json_get(json_get(tree, "error"), "message");
                                if (YAJL_IS_STRING(m))
                                        buf_printf(&summary, "%.512s", YAJL_GET_STRING(m));
                                yajl_tree_free(tree);
                        }
                        buf_release(&ignored);
                }
                remote_status_error(name, resp->status, summary.data, err);
        }
        buf_release(&summary);
        return r;
}

static int put_s3(struct bucket_put *b, const char *rel, const void *data, size_t len,
                  const char *content_type, struct buf *err)
{
        struct buf key = BUF_INIT, url = BUF_INIT, name = BUF_INIT, why = BUF_INIT, ct = BUF_INIT;
        const char *headers[] = { NULL, NULL };
        struct http_response resp;
        struct aws_creds creds;
        struct http_request req = {
                .method = "PUT",
                .body = data,
                .body_len = len,
                .timeout_ms = PUT_TIMEOUT_MS,
                .low_speed_bytes = REMOTE_LOW_SPEED_BYTES,
                .low_speed_secs = REMOTE_LOW_SPEED_SECS,
                .headers = headers,
        };
        int r;

        memset(&creds, 0, sizeof(creds));
        http_response_init(&resp);
        object_key(b, rel, &key);
        bucket_put_name(b, rel, &name);
        buf_printf(&ct, "Content-Type: %s", content_type);
        headers[0] = ct.data;
        r = aws_creds_get(&b->creds, time_now_ms(), &creds, &why);
        if (r < 0) {
                buf_printf(err, "%s: %s", name.data, why.data);
                goto out;
        }
        aws_s3_object_url(b->endpoint, b->region, b->bucket, key.data, &url);
        req.url = url.data;
        r = aws_sigv4_perform(&creds, b->region, "s3", &req, &resp, &why);
        if (r < 0)
                buf_printf(err, "%s: %s", name.data, why.data);
        else
                r = finish_remote(b, name.data, &resp, err);
out:
        aws_creds_release(&creds);
        http_response_release(&resp);
        buf_release(&key);
        buf_release(&url);
        buf_release(&name);
        buf_release(&why);
        buf_release(&ct);
        return r;
}

static int put_gs(struct bucket_put *b, const char *rel, const void *data, size_t len,
                  const char *content_type, struct buf *err)
{
        struct buf key = BUF_INIT, url = BUF_INIT, name = BUF_INIT, why = BUF_INIT, ct = BUF_INIT,
                   auth = BUF_INIT;
        const char *headers[] = { NULL, NULL, NULL };
        struct http_response resp;
        struct http_request req = {
                .method = "POST",
                .body = data,
                .body_len = len,
                .timeout_ms = PUT_TIMEOUT_MS,
                .low_speed_bytes = REMOTE_LOW_SPEED_BYTES,
                .low_speed_secs = REMOTE_LOW_SPEED_SECS,
                .headers = headers,
        };
        int r;

        http_response_init(&resp);
        object_key(b, rel, &key);
        bucket_put_name(b, rel, &name);
        buf_printf(&url, "%s/upload/storage/v1/b/", b->endpoint);
        http_url_encode(&url, b->bucket);
        buf_puts(&url, "/o?uploadType=media&name=");
        http_url_encode(&url, key.data);
        req.url = url.data;
        buf_printf(&ct, "Content-Type: %s", content_type);
        headers[1] = ct.data;
        for (int attempt = 0;; attempt++) {
                r = gcp_auth_header(b->auth, time_now_ms(), &auth, &why);
                if (r < 0) {
                        buf_printf(err, "%s: %s", name.data, why.data);
                        goto out;
                }
                headers[0] = auth.data;
                r = http_perform(&req, &resp, &why);
                if (r < 0) {
                        buf_printf(err, "%s: %s", name.data, why.data);
                        goto out;
                }
                /* A revoked or expired token: one retry with a fresh one. */
                if (resp.status != 401 || attempt > 0)
                        break;
                gcp_auth_invalidate(b->auth);
        }
        r = finish_remote(b, name.data, &resp, err);
out:
        if (auth.cap)
                explicit_bzero(auth.data, auth.cap);
        http_response_release(&resp);
        buf_release(&key);
        buf_release(&url);
        buf_release(&name);
        buf_release(&why);
        buf_release(&ct);
        buf_release(&auth);
        return r;
}

int bucket_put_object(struct bucket_put *b, const char *rel, const void *data, size_t len,
                      const char *content_type, struct buf *err)
{
        switch (b->kind) {
        case PUT_FILE:
                return put_file(b, rel, data, len, err);
        case PUT_S3:
                return put_s3(b, rel, data, len, content_type, err);
        case PUT_GS:
                return put_gs(b, rel, data, len, content_type, err);
        }
        return -EINVAL;
}

int bucket_put_open(const struct config *c, struct bucket_put **ret, struct buf *err)
{
        struct bucket_put *b = xcalloc(1, sizeof(*b));
        const char *src = c->source ? c->source : "";
        int r = 0;

        if (strncmp(src, "file://", 7) == 0) {
                const char *path = src + 7;
                size_t n = strlen(path);

                if (path[0] != '/') {
                        buf_printf(err, "%s: source: file:// needs an absolute path, got '%s'",
                                   c->origin, src);
                        r = -EINVAL;
                        goto out;
                }
                while (n > 1 && path[n - 1] == '/')
                        n--;
                b->kind = PUT_FILE;
                b->root = xstrndup(path, n);
                b->prefix = xstrdup("");
        } else if (strncmp(src, "s3://", 5) == 0) {
                b->kind = PUT_S3;
                r = remote_split_url(src, "s3://", &b->bucket, &b->prefix);
                b->region = xstrdup(aws_region_or_default(c->aws_region));
                b->endpoint = c->s3_endpoint ? xstrdup(c->s3_endpoint) : NULL;
                aws_creds_cache_init(&b->creds);
        } else if (strncmp(src, "gs://", 5) == 0) {
                const char *ep = str_empty(c->gcs_endpoint) ? GCS_DEFAULT_ENDPOINT : c->gcs_endpoint;
                size_t n = strlen(ep);

                b->kind = PUT_GS;
                r = remote_split_url(src, "gs://", &b->bucket, &b->prefix);
                while (n > 0 && ep[n - 1] == '/')
                        n--;
                b->endpoint = xstrndup(ep, n);
                b->auth = gcp_auth_new(c->gcp_credentials, GCP_SCOPE_STORAGE_WRITE);
        } else {
                buf_printf(err, "%s: source: '%s' is not file://, s3:// or gs://", c->origin, src);
                r = -EPROTONOSUPPORT;
                goto out;
        }
        if (r < 0)
                buf_printf(err, "%s: source: '%s' names no bucket", c->origin, src);
out:
        if (r < 0) {
                bucket_put_free(b);
                return r;
        }
        *ret = b;
        return 0;
}

void bucket_put_free(struct bucket_put *b)
{
        if (!b)
                return;
        if (b->kind == PUT_S3)
                aws_creds_cache_release(&b->creds);
        gcp_auth_free(b->auth);
        free(b->root);
        free(b->bucket);
        free(b->prefix);
        free(b->region);
        free(b->endpoint);
        free(b);
}
