/*
 * source: scheme dispatch for release sources over a table of openers
 * (source_open.c has every transport; source_unfetched.c the daemon's, which
 * links no HTTP client), and the calls every implementation answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buckets/source.h"
#include "base/banned.h"

int source_open_from(const struct source_opener *openers, size_t n, const struct config *c,
                     struct source **ret, struct buf *err)
{
        for (size_t i = 0; i < n; i++) {
                if (strncmp(c->source, openers[i].prefix, strlen(openers[i].prefix)) != 0)
                        continue;
                struct source *s = xcalloc(1, sizeof(*s));
                s->url = xstrdup(c->source);
                s->env = xstrdup(c->env);
                int r = openers[i].open(c, s, err);
                if (r < 0) {
                        free(s->url);
                        free(s->env);
                        free(s);
                        return r;
                }
                *ret = s;
                return 0;
        }
        buf_printf(err, "%s: source: no support for '%s' (use file://, s3:// or gs://)", c->origin,
                   c->source);
        return -EPROTONOSUPPORT;
}

int source_get_current(struct source *s, const char *app, const char *etag, struct buf *body,
                       char ret_etag[ETAG_MAX + 1], bool *not_modified, struct buf *err)
{
        *not_modified = false;
        return s->ops->get_current(s, app, etag ? etag : "", body, ret_etag, not_modified, err);
}

int source_get_release(struct source *s, const char *app, const char *version, int fd,
                       uint64_t max_bytes, struct buf *err)
{
        return s->ops->get_release(s, app, version, fd, max_bytes, err);
}

int source_watch_dir(struct source *s, const char *app, struct buf *ret)
{
        if (!s->ops->watch_dir)
                return -EOPNOTSUPP;
        return s->ops->watch_dir(s, app, ret);
}

void source_free(struct source *s)
{
        if (!s)
                return;
        if (s->ops && s->ops->free)
                s->ops->free(s);
        free(s->url);
        free(s->env);
        free(s);
}
