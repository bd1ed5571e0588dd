/*
 * source_s3: a bucket on S3 or an S3-compatible store, s3://bucket[/prefix].
 *
 * Requests are signed with SigV4 (aws_sigv4.h) using the credential chain of
 * aws_creds.h.  current.json is fetched with If-None-Match so that an
 * unchanged object costs one 304 and no parse; tarballs stream into the
 * caller's fd under a byte cap.  No state beyond the instance-metadata
 * credential cache: every call is independent, so the daemon may call from
 * several workers at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buckets/aws_sigv4.h"
#include "buckets/source.h"
#include "buckets/source_remote.h"
#include "base/banned.h"

struct s3_source {
        char *bucket;
        char *prefix;   /* "" or "a/b" (no leading or trailing slash) */
        char *region;
        char *endpoint; /* NULL: AWS itself */
        struct aws_creds_cache creds;
};

static struct s3_source *impl_of(struct source *s)
{
        return s->impl;
}

/* Key and printable name ("s3://bucket/key") of an object. */
static void object_key(struct source *s, const char *rel, struct buf *key, struct buf *name)
{
        struct s3_source *b = impl_of(s);

        buf_reset(key);
        if (b->prefix[0])
                buf_printf(key, "%s/", b->prefix);
        buf_puts(key, rel);
        buf_reset(name);
        buf_printf(name, "s3://%s/%s", b->bucket, key->data);
}

static int s3_get(struct source *s, const char *rel, struct http_request *req,
                  struct http_response *resp, struct buf *name, struct buf *err)
{
        struct s3_source *b = impl_of(s);
        struct buf key = BUF_INIT, url = BUF_INIT, why = BUF_INIT;
        struct aws_creds creds;
        int r;

        memset(&creds, 0, sizeof(creds));
        object_key(s, rel, &key, name);
        r = aws_creds_get(&b->creds, time_now_ms(), &creds, &why);
        if (r < 0) {
                buf_printf(err, "%s: %s", name->data, why.data);
                goto out;
        }
        aws_s3_object_url(b->endpoint, b->region, b->bucket, key.data, &url);
        req->url = url.data;
        r = aws_sigv4_perform(&creds, b->region, "s3", req, resp, &why);
        if (r < 0) {
                buf_printf(err, "%s: %s", name->data, why.data);
                goto out;
        }
        r = remote_status_to_errno(resp->status);
        if (r < 0 && r != -ENOENT) {
                struct buf summary = BUF_INIT;

                aws_error_summary(resp->body.data, &summary);
                remote_status_error(name->data, resp->status, summary.data, err);
                buf_release(&summary);
        }
out:
        req->url = NULL; /* it pointed into url, freed here */
        aws_creds_release(&creds);
        buf_release(&key);
        buf_release(&url);
        buf_release(&why);
        return r;
}

static int s3_get_current(struct source *s, const char *app, const char *etag, struct buf *body,
                          char ret_etag[ETAG_MAX + 1], bool *not_modified, struct buf *err)
{
        return remote_get_current(s, s3_get, app, etag, body, ret_etag, not_modified, err);
}

static int s3_get_release(struct source *s, const char *app, const char *version, int fd,
                          uint64_t max_bytes, struct buf *err)
{
        return remote_get_release(s, s3_get, app, version, fd, max_bytes, err);
}

static void s3_free(struct source *s)
{
        struct s3_source *b = impl_of(s);

        if (!b)
                return;
        aws_creds_cache_release(&b->creds);
        free(b->bucket);
        free(b->prefix);
        free(b->region);
        free(b->endpoint);
        free(b);
}

static const struct source_ops s3_ops = {
        .scheme = "s3",
        .get_current = s3_get_current,
        .get_release = s3_get_release,
        .watch_dir = NULL, /* polled */
        .free = s3_free,
};

int source_s3_open(const struct config *c, struct source *s, struct buf *err)
{
        struct s3_source *b = xcalloc(1, sizeof(*b));
        int r;

        r = remote_split_url(c->source, "s3://", &b->bucket, &b->prefix);
        if (r < 0) {
                buf_printf(err, "%s: source: '%s' is not s3://bucket[/prefix]", c->origin, c->source);
                free(b);
                return r;
        }
        b->region = xstrdup(aws_region_or_default(c->aws_region));
        b->endpoint = c->s3_endpoint ? xstrdup(c->s3_endpoint) : NULL;
        aws_creds_cache_init(&b->creds);
        s->impl = b;
        s->ops = &s3_ops;
        return 0;
}
