/*
 * source_gcs: a bucket on Google Cloud Storage, gs://bucket[/prefix], through
 * the JSON API:  GET {endpoint}/storage/v1/b/BUCKET/o/OBJECT?alt=media with a
 * bearer token from gcp_auth.
 *
 * The tag we keep for current.json is the object generation ("g:123"), sent
 * back as ifGenerationNotMatch so that an unchanged object costs one 304;
 * when a store sends no generation, its ETag goes back as If-None-Match.
 * A 401 drops the cached token and retries once (revoked token, restarted
 * token service).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buckets/gcp_auth.h"
#include "state/json.h"
#include "buckets/source.h"
#include "buckets/source_remote.h"
#include "base/banned.h"

#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GENERATION_TAG "g:"

struct gcs_source {
        char *bucket;
        char *prefix;   /* "" or "a/b" */
        char *endpoint; /* without a trailing slash */
        struct gcp_auth *auth;
};

static struct gcs_source *impl_of(struct source *s)
{
        return s->impl;
}

/* The JSON error document's "error.message", or nothing. */
static void gcs_error_summary(const struct buf *body, struct buf *out)
{
        struct buf ignored = BUF_INIT;
        yajl_val tree = NULL, e, m;

        if (body->len == 0 || body->data[0] != '{' ||
            json_parse(body->data, body->len, "error", &tree, &ignored) < 0)
                goto out;
        e = json_get(tree, "error");
        m = json_get(e, "message");
        if (YAJL_IS_STRING(m))
                buf_printf(out, "%.512s", YAJL_GET_STRING(m));
        else if (YAJL_IS_STRING(e))
                buf_printf(out, "%.512s", YAJL_GET_STRING(e));
out:
        if (tree)
                yajl_tree_free(tree);
        buf_release(&ignored);
}

/*
 * A remote_get_fn (source_remote.h).  The tag held, req->if_none_match, is
 * "g:N" (sent as ifGenerationNotMatch) or an ETag; the tag to hold next,
 * resp->etag, is "g:N" when the store sent a generation.
 */
static int gcs_get(struct source *s, const char *rel, struct http_request *req,
                   struct http_response *resp, struct buf *name, struct buf *err)
{
        struct gcs_source *g = impl_of(s);
        struct buf object = BUF_INIT, url = BUF_INIT, auth = BUF_INIT, why = BUF_INIT;
        const char *headers[] = { NULL, NULL };
        const char *tag = req->if_none_match;
        int r;

        buf_reset(name);
        if (g->prefix[0])
                buf_printf(&object, "%s/", g->prefix);
        buf_puts(&object, rel);
        buf_printf(name, "gs://%s/%s", g->bucket, object.data);
        buf_printf(&url, "%s/storage/v1/b/", g->endpoint);
        http_url_encode(&url, g->bucket);
        buf_puts(&url, "/o/");
        http_url_encode(&url, object.data);
        buf_puts(&url, "?alt=media");
        if (!str_empty(tag) && strncmp(tag, GENERATION_TAG, strlen(GENERATION_TAG)) == 0) {
                buf_puts(&url, "&ifGenerationNotMatch=");
                http_url_encode(&url, tag + strlen(GENERATION_TAG));
                req->if_none_match = NULL; /* a generation is no ETag */
        }
        req->url = url.data;
        req->headers = headers;

        for (int attempt = 0;; attempt++) {
                r = gcp_auth_header(g->auth, time_now_ms(), &auth, &why);
                if (r < 0) {
                        buf_printf(err, "%s: %s", name->data, why.data);
                        goto out;
                }
                headers[0] = auth.data;
                r = http_perform(req, resp, &why);
                if (r < 0) {
                        buf_printf(err, "%s: %s", name->data, why.data);
                        goto out;
                }
                if (resp->status != 401 || attempt > 0)
                        break;
                gcp_auth_invalidate(g->auth);
        }
        if (resp->generation[0])
                snprintf(resp->etag, sizeof(resp->etag), GENERATION_TAG "%s", resp->generation);
        r = remote_status_to_errno(resp->status);
        if (r < 0 && r != -ENOENT) {
                struct buf summary = BUF_INIT;

                gcs_error_summary(&resp->body, &summary);
                remote_status_error(name->data, resp->status, summary.data, err);
                buf_release(&summary);
        }
out:
        /* Both point into this frame; the tag held goes back as it came. */
        req->url = NULL;
        req->headers = NULL;
        req->if_none_match = tag;
        if (auth.cap)
                explicit_bzero(auth.data, auth.cap);
        buf_release(&object);
        buf_release(&url);
        buf_release(&auth);
        buf_release(&why);
        return r;
}

static int gcs_get_current(struct source *s, const char *app, const char *etag, struct buf *body,
                           char ret_etag[ETAG_MAX + 1], bool *not_modified, struct buf *err)
{
        return remote_get_current(s, gcs_get, app, etag, body, ret_etag, not_modified, err);
}

static int gcs_get_release(struct source *s, const char *app, const char *version, int fd,
                           uint64_t max_bytes, struct buf *err)
{
        return remote_get_release(s, gcs_get, app, version, fd, max_bytes, err);
}

static void gcs_free(struct source *s)
{
        struct gcs_source *g = impl_of(s);

        if (!g)
                return;
        gcp_auth_free(g->auth);
        free(g->bucket);
        free(g->prefix);
        free(g->endpoint);
        free(g);
}

static const struct source_ops gcs_ops = {
        .scheme = "gs",
        .get_current = gcs_get_current,
        .get_release = gcs_get_release,
        .watch_dir = NULL, /* polled */
        .free = gcs_free,
};

int source_gcs_open(const struct config *c, struct source *s, struct buf *err)
{
        struct gcs_source *g = xcalloc(1, sizeof(*g));
        const char *ep = str_empty(c->gcs_endpoint) ? GCS_DEFAULT_ENDPOINT : c->gcs_endpoint;
        size_t n = strlen(ep);
        int r;

        r = remote_split_url(c->source, "gs://", &g->bucket, &g->prefix);
        if (r < 0) {
                buf_printf(err, "%s: source: '%s' is not gs://bucket[/prefix]", c->origin, c->source);
                free(g);
                return r;
        }
        while (n > 0 && ep[n - 1] == '/')
                n--;
        g->endpoint = xstrndup(ep, n);
        g->auth = gcp_auth_new(c->gcp_credentials, GCP_SCOPE_STORAGE_READ);
        s->impl = g;
        s->ops = &gcs_ops;
        return 0;
}
