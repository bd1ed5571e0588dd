/*
 * source_unfetched: the sources as the daemon (deployexd) holds them.  file://
 * opens as in source_open(): the daemon reads current.json in place and
 * watches its folder.  s3:// and gs:// are only checked and named: their
 * polls and fetches run in jobs of the full binary, so the daemon links no
 * HTTP client, TLS or signing code (docs/daemon.md, "Programs").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buckets/source.h"
#include "buckets/source_remote.h"
#include "base/banned.h"

struct named_source {
        char *bucket;
        char *prefix;
};

static int not_here(struct source *s, struct buf *err)
{
        buf_printf(err, "%s: read by the poll and fetch jobs, not by the daemon", s->url);
        return -EOPNOTSUPP;
}

static int named_get_current(struct source *s, const char *app, const char *etag, struct buf *body,
                             char ret_etag[ETAG_MAX + 1], bool *not_modified, struct buf *err)
{
        (void)app, (void)etag, (void)body, (void)ret_etag, (void)not_modified;
        return not_here(s, err);
}

static int named_get_release(struct source *s, const char *app, const char *version, int fd,
                             uint64_t max_bytes, struct buf *err)
{
        (void)app, (void)version, (void)fd, (void)max_bytes;
        return not_here(s, err);
}

static void named_free(struct source *s)
{
        struct named_source *n = s->impl;

        if (!n)
                return;
        free(n->bucket);
        free(n->prefix);
        free(n);
}

static const struct source_ops s3_named_ops = {
        .scheme = "s3", .get_current = named_get_current, .get_release = named_get_release,
        .free = named_free,
};
static const struct source_ops gs_named_ops = {
        .scheme = "gs", .get_current = named_get_current, .get_release = named_get_release,
        .free = named_free,
};

/* The same check, and the same line, as source_s3_open / source_gcs_open. */
static int named_open(const struct config *c, struct source *s, const char *scheme,
                      const struct source_ops *ops, struct buf *err)
{
        struct named_source *n = xcalloc(1, sizeof(*n));
        int r = remote_split_url(c->source, scheme, &n->bucket, &n->prefix);

        if (r < 0) {
                buf_printf(err, "%s: source: '%s' is not %sbucket[/prefix]", c->origin, c->source, scheme);
                free(n);
                return r;
        }
        s->impl = n;
        s->ops = ops;
        return 0;
}

static int s3_named_open(const struct config *c, struct source *s, struct buf *err)
{
        return named_open(c, s, "s3://", &s3_named_ops, err);
}

static int gs_named_open(const struct config *c, struct source *s, struct buf *err)
{
        return named_open(c, s, "gs://", &gs_named_ops, err);
}

static const struct source_opener openers[] = {
        { "file://", source_file_open },
        { "s3://", s3_named_open },
        { "gs://", gs_named_open },
};

int source_open_unfetched(const struct config *c, struct source **ret, struct buf *err)
{
        return source_open_from(openers, ARRAY_SIZE(openers), c, ret, err);
}
