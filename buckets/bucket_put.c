/*
 * bucket_put: one whole object at a time into file://, s3:// or gs://.
 * See bucket_put.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
/*
 * Rollout files are a few hundred bytes: a request about one that has not
 * ended by then is stuck, and the fleet job must fail and try again at the
 * next heartbeat rather than let this host's slot look stale to the others.
 */
#define SMALL_TIMEOUT_MS 10000

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

/* Extra headers of one request: at most a few, each "Name: value". */
#define EXTRA_MAX 4

/*
 * One signed S3 request on key (query: canonical, sorted, "" for none).
 * 0 when an answer came (resp->status says which), else -errno with err.
 */
static int s3_request(struct bucket_put *b, const char *method, const char *key, const char *query,
                      const char *const *extra, const void *data, size_t len, uint64_t max_bytes,
                      uint64_t timeout_ms, struct http_response *resp, struct buf *err)
{
        struct buf url = BUF_INIT, name = BUF_INIT, why = BUF_INIT;
        struct aws_creds creds;
        struct http_request req = {
                .method = method,
                .body = data,
                .body_len = len,
                .timeout_ms = timeout_ms,
                .low_speed_bytes = REMOTE_LOW_SPEED_BYTES,
                .low_speed_secs = REMOTE_LOW_SPEED_SECS,
                .max_bytes = max_bytes,
                .headers = extra,
        };
        int r;

        memset(&creds, 0, sizeof(creds));
        buf_printf(&name, "s3://%s/%s", b->bucket, key);
        r = aws_creds_get(&b->creds, time_now_ms(), &creds, &why);
        if (r < 0) {
                buf_printf(err, "%s: %s", name.data, why.data);
                goto out;
        }
        aws_s3_object_url(b->endpoint, b->region, b->bucket, key, &url);
        buf_puts(&url, query);
        req.url = url.data;
        r = aws_sigv4_perform(&creds, b->region, "s3", &req, resp, &why);
        if (r < 0)
                buf_printf(err, "%s: %s", name.data, why.data);
out:
        aws_creds_release(&creds);
        buf_release(&url);
        buf_release(&name);
        buf_release(&why);
        return r;
}

/* S3's answer while another conditional write of the same key is in flight. */
static bool s3_conflict(const struct http_response *resp)
{
        return resp->status == 409 && resp->body.data &&
               strstr(resp->body.data, "ConditionalRequestConflict") != NULL;
}

#define S3_CONFLICT_TRIES 5
#define S3_CONFLICT_DELAY_MS 100

static void pause_ms(uint64_t ms)
{
        struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
                               .tv_nsec = (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int put_s3(struct bucket_put *b, const char *rel, const void *data, size_t len,
                  const char *content_type, const char *cond_header,
                  char ret_tag[BUCKET_TAG_MAX + 1], struct buf *err)
{
        struct buf key = BUF_INIT, name = BUF_INIT, ct = BUF_INIT;
        const char *headers[] = { NULL, cond_header, NULL };
        struct http_response resp;
        int r;

        http_response_init(&resp);
        object_key(b, rel, &key);
        bucket_put_name(b, rel, &name);
        buf_printf(&ct, "Content-Type: %s", content_type);
        headers[0] = ct.data;
        for (int attempt = 1;; attempt++) {
                r = s3_request(b, "PUT", key.data, "", headers, data, len, 0,
                               cond_header ? SMALL_TIMEOUT_MS : PUT_TIMEOUT_MS, &resp, err);
                if (r < 0 || !cond_header || !s3_conflict(&resp))
                        break;
                if (attempt == S3_CONFLICT_TRIES) {
                        buf_printf(err, "%s: HTTP 409 (ConditionalRequestConflict) %d times "
                                   "in a row", name.data, attempt);
                        r = -EAGAIN;
                        goto out;
                }
                /* Another write of this key is in flight: its outcome decides ours. */
                pause_ms((uint64_t)S3_CONFLICT_DELAY_MS * (uint64_t)attempt);
        }
        if (r < 0)
                goto out;
        if (cond_header && resp.status == 412) {
                r = -ESTALE;
                goto out;
        }
        if (cond_header && resp.status == 404) {
                r = -ENOENT;
                goto out;
        }
        r = finish_remote(b, name.data, &resp, err);
        if (r == 0 && ret_tag && !str_copy(ret_tag, BUCKET_TAG_MAX + 1, resp.etag))
                ret_tag[0] = '\0';
out:
        http_response_release(&resp);
        buf_release(&key);
        buf_release(&name);
        buf_release(&ct);
        return r;
}

/*
 * One GCS request with a bearer token of the read_write scope; a revoked or
 * expired token gets one retry with a fresh one.
 */
static int gs_request(struct bucket_put *b, const char *method, const char *url, const char *name,
                      const char *content_type, const void *data, size_t len, uint64_t max_bytes,
                      uint64_t timeout_ms, struct http_response *resp, struct buf *err)
{
        struct buf auth = BUF_INIT, why = BUF_INIT, ct = BUF_INIT;
        const char *headers[] = { NULL, NULL, NULL };
        struct http_request req = {
                .method = method,
                .url = url,
                .body = data,
                .body_len = len,
                .timeout_ms = timeout_ms,
                .low_speed_bytes = REMOTE_LOW_SPEED_BYTES,
                .low_speed_secs = REMOTE_LOW_SPEED_SECS,
                .max_bytes = max_bytes,
                .headers = headers,
        };
        int r;

        if (content_type) {
                buf_printf(&ct, "Content-Type: %s", content_type);
                headers[1] = ct.data;
        }
        for (int attempt = 0;; attempt++) {
                r = gcp_auth_header(b->auth, time_now_ms(), &auth, &why);
                if (r < 0) {
                        buf_printf(err, "%s: %s", name, why.data);
                        break;
                }
                headers[0] = auth.data;
                r = http_perform(&req, resp, &why);
                if (r < 0) {
                        buf_printf(err, "%s: %s", name, why.data);
                        break;
                }
                if (resp->status != 401 || attempt > 0)
                        break;
                gcp_auth_invalidate(b->auth);
        }
        if (auth.cap)
                explicit_bzero(auth.data, auth.cap);
        buf_release(&auth);
        buf_release(&why);
        buf_release(&ct);
        return r;
}

/* The "generation" of an upload's answer: the header, else the JSON object resource's. */
static void gs_generation(const struct http_response *resp, char ret_tag[BUCKET_TAG_MAX + 1])
{
        struct buf ignored = BUF_INIT;
        yajl_val tree = NULL, g;

        ret_tag[0] = '\0';
        if (resp->generation[0]) {
                str_copy(ret_tag, BUCKET_TAG_MAX + 1, resp->generation);
                return;
        }
        if (resp->body.len &&
            json_parse(resp->body.data, resp->body.len, "upload", &tree, &ignored) == 0) {
                g = json_get(tree, "generation");
                if (YAJL_IS_STRING(g) && !str_copy(ret_tag, BUCKET_TAG_MAX + 1, YAJL_GET_STRING(g)))
                        ret_tag[0] = '\0';
                yajl_tree_free(tree);
        }
        buf_release(&ignored);
}

/* cond_gen: NULL (unconditional), "0" (create only) or the generation to replace. */
static int put_gs(struct bucket_put *b, const char *rel, const void *data, size_t len,
                  const char *content_type, const char *cond_gen, char ret_tag[BUCKET_TAG_MAX + 1],
                  struct buf *err)
{
        struct buf key = BUF_INIT, url = BUF_INIT, name = BUF_INIT;
        struct http_response resp;
        int r;

        http_response_init(&resp);
        object_key(b, rel, &key);
        bucket_put_name(b, rel, &name);
        buf_printf(&url, "%s/upload/storage/v1/b/", b->endpoint);
        http_url_encode(&url, b->bucket);
        buf_puts(&url, "/o?uploadType=media&name=");
        http_url_encode(&url, key.data);
        if (cond_gen) {
                buf_puts(&url, "&ifGenerationMatch=");
                http_url_encode(&url, cond_gen);
        }
        r = gs_request(b, "POST", url.data, name.data, content_type, data, len, 0,
                       cond_gen ? SMALL_TIMEOUT_MS : PUT_TIMEOUT_MS, &resp, err);
        if (r < 0)
                goto out;
        if (cond_gen && resp.status == 412) {
                r = -ESTALE;
                goto out;
        }
        r = finish_remote(b, name.data, &resp, err);
        if (r == 0 && ret_tag)
                gs_generation(&resp, ret_tag);
out:
        http_response_release(&resp);
        buf_release(&key);
        buf_release(&url);
        buf_release(&name);
        return r;
}

int bucket_put_object(struct bucket_put *b, const char *rel, const void *data, size_t len,
                      const char *content_type, struct buf *err)
{
        switch (b->kind) {
        case PUT_FILE:
                return put_file(b, rel, data, len, err);
        case PUT_S3:
                return put_s3(b, rel, data, len, content_type, NULL, NULL, err);
        case PUT_GS:
                return put_gs(b, rel, data, len, content_type, NULL, NULL, err);
        }
        return -EINVAL;
}

int bucket_put_object_if(struct bucket_put *b, const char *rel, const void *data, size_t len,
                         const char *content_type, enum bucket_cond cond, const char *tag,
                         char ret_tag[BUCKET_TAG_MAX + 1], struct buf *err)
{
        struct buf header = BUF_INIT;
        int r;

        ret_tag[0] = '\0';
        if (cond == BUCKET_IF_MATCH && str_empty(tag)) {
                buf_printf(err, "%s: a conditional write without the tag it must match", rel);
                return -EINVAL;
        }
        switch (b->kind) {
        case PUT_FILE:
                break;
        case PUT_S3:
                if (cond == BUCKET_IF_ABSENT)
                        buf_puts(&header, "If-None-Match: *");
                else
                        buf_printf(&header, "If-Match: %s", tag);
                r = put_s3(b, rel, data, len, content_type, header.data, ret_tag, err);
                buf_release(&header);
                return r;
        case PUT_GS:
                return put_gs(b, rel, data, len, content_type, cond == BUCKET_IF_ABSENT ? "0" : tag,
                              ret_tag, err);
        }
        buf_printf(err, "%s: file:// conditional writes are state/fleet.c's (link(2), flock)", rel);
        return -EOPNOTSUPP;
}

/* The GCS JSON API URL of an object (no query). */
static void gs_object_url(const struct bucket_put *b, const char *key, struct buf *url)
{
        buf_printf(url, "%s/storage/v1/b/", b->endpoint);
        http_url_encode(url, b->bucket);
        buf_puts(url, "/o/");
        http_url_encode(url, key);
}

int bucket_get_object(struct bucket_put *b, const char *rel, uint64_t max_bytes, struct buf *body,
                      char ret_tag[BUCKET_TAG_MAX + 1], struct buf *err)
{
        struct buf key = BUF_INIT, url = BUF_INIT, name = BUF_INIT;
        struct http_response resp;
        int r;

        ret_tag[0] = '\0';
        if (b->kind == PUT_FILE) {
                buf_printf(err, "%s: read file:// rollout files with state/fleet.c", rel);
                return -EOPNOTSUPP;
        }
        http_response_init(&resp);
        object_key(b, rel, &key);
        bucket_put_name(b, rel, &name);
        if (b->kind == PUT_S3) {
                r = s3_request(b, "GET", key.data, "", NULL, NULL, 0, max_bytes, SMALL_TIMEOUT_MS,
                               &resp, err);
        } else {
                gs_object_url(b, key.data, &url);
                buf_puts(&url, "?alt=media");
                r = gs_request(b, "GET", url.data, name.data, NULL, NULL, 0, max_bytes,
                               SMALL_TIMEOUT_MS, &resp, err);
        }
        if (r < 0)
                goto out;
        if (resp.status == 404) {
                r = -ENOENT;
                goto out;
        }
        if ((r = finish_remote(b, name.data, &resp, err)) < 0)
                goto out;
        buf_reset(body);
        buf_append(body, resp.body.data, resp.body.len);
        if (!str_copy(ret_tag, BUCKET_TAG_MAX + 1, b->kind == PUT_S3 ? resp.etag : resp.generation))
                ret_tag[0] = '\0';
out:
        http_response_release(&resp);
        buf_release(&key);
        buf_release(&url);
        buf_release(&name);
        return r;
}

int bucket_delete_object(struct bucket_put *b, const char *rel, struct buf *err)
{
        struct buf key = BUF_INIT, url = BUF_INIT, name = BUF_INIT;
        struct http_response resp;
        int r;

        if (b->kind == PUT_FILE) {
                buf_printf(err, "%s: delete file:// rollout files with state/fleet.c", rel);
                return -EOPNOTSUPP;
        }
        http_response_init(&resp);
        object_key(b, rel, &key);
        bucket_put_name(b, rel, &name);
        if (b->kind == PUT_S3) {
                r = s3_request(b, "DELETE", key.data, "", NULL, NULL, 0, 0, SMALL_TIMEOUT_MS, &resp,
                               err);
        } else {
                gs_object_url(b, key.data, &url);
                r = gs_request(b, "DELETE", url.data, name.data, NULL, NULL, 0, 0, SMALL_TIMEOUT_MS,
                               &resp, err);
        }
        if (r == 0 && resp.status != 404)
                r = finish_remote(b, name.data, &resp, err);
        http_response_release(&resp);
        buf_release(&key);
        buf_release(&url);
        buf_release(&name);
        return r;
}

/* Append s[0..n) to names as one line, without the folder prefix and a trailing '/'. */
static void add_name(struct buf *names, const char *s, size_t n, size_t skip)
{
        if (n <= skip)
                return;
        s += skip;
        n -= skip;
        if (n && s[n - 1] == '/')
                n--;
        if (n == 0 || memchr(s, '\n', n))
                return;
        buf_append(names, s, n);
        buf_putc(names, '\n');
}

/* Every <Key> and <Prefix> of a ListObjectsV2 answer (no XML escapes expected in these names). */
static void s3_list_names(const char *xml, size_t skip, struct buf *names)
{
        static const char *const tags[] = { "Key", "Prefix" };

        for (size_t t = 0; t < ARRAY_SIZE(tags); t++) {
                char open[16], close[16];
                const char *p = xml;

                snprintf(open, sizeof(open), "<%s>", tags[t]);
                snprintf(close, sizeof(close), "</%s>", tags[t]);
                while ((p = strstr(p, open))) {
                        const char *q = strstr(p += strlen(open), close);
                        if (!q)
                                break;
                        add_name(names, p, (size_t)(q - p), skip);
                        p = q;
                }
        }
}

static void gs_list_names(const struct buf *body, size_t skip, struct buf *names)
{
        struct buf ignored = BUF_INIT;
        yajl_val tree = NULL, items, prefixes;

        if (json_parse(body->data, body->len, "list", &tree, &ignored) < 0)
                goto out;
        items = json_get(tree, "items");
        prefixes = json_get(tree, "prefixes");
        for (size_t i = 0; YAJL_IS_ARRAY(items) && i < items->u.array.len; i++) {
                yajl_val n = json_get(items->u.array.values[i], "name");
                const char *str = YAJL_IS_STRING(n) ? n->u.string : NULL;
                if (str)
                        add_name(names, str, strlen(str), skip);
        }
        for (size_t i = 0; YAJL_IS_ARRAY(prefixes) && i < prefixes->u.array.len; i++) {
                yajl_val n = prefixes->u.array.values[i];
                const char *str = YAJL_IS_STRING(n) ? n->u.string : NULL;
                if (str)
                        add_name(names, str, strlen(str), skip);
        }
        yajl_tree_free(tree);
out:
        buf_release(&ignored);
}

int bucket_list_folder(struct bucket_put *b, const char *rel, struct buf *names, struct buf *err)
{
        struct buf folder = BUF_INIT, query = BUF_INIT, url = BUF_INIT, name = BUF_INIT;
        struct http_response resp;
        int r;

        if (b->kind == PUT_FILE) {
                buf_printf(err, "%s: list file:// folders with readdir", rel);
                return -EOPNOTSUPP;
        }
        http_response_init(&resp);
        object_key(b, rel, &folder);
        buf_putc(&folder, '/');
        bucket_put_name(b, rel, &name);
        if (b->kind == PUT_S3) {
                /* Canonical: parameters sorted, values RFC 3986-encoded. */
                buf_puts(&query, "?delimiter=%2F&list-type=2&prefix=");
                aws_uri_encode(&query, folder.data, false);
                r = s3_request(b, "GET", "", query.data, NULL, NULL, 0, 0, SMALL_TIMEOUT_MS, &resp,
                               err);
        } else {
                buf_printf(&url, "%s/storage/v1/b/", b->endpoint);
                http_url_encode(&url, b->bucket);
                buf_puts(&url, "/o?delimiter=%2F&prefix=");
                http_url_encode(&url, folder.data);
                r = gs_request(b, "GET", url.data, name.data, NULL, NULL, 0, 0, SMALL_TIMEOUT_MS,
                               &resp, err);
        }
        if (r == 0)
                r = finish_remote(b, name.data, &resp, err);
        if (r == 0 && b->kind == PUT_S3)
                s3_list_names(resp.body.data ? resp.body.data : "", folder.len, names);
        else if (r == 0)
                gs_list_names(&resp.body, folder.len, names);
        http_response_release(&resp);
        buf_release(&folder);
        buf_release(&query);
        buf_release(&url);
        buf_release(&name);
        return r;
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
