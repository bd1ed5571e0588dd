/*
 * source: where releases come from (DESIGN §4.2).  A bucket holds
 *
 *     {source}/versions/{app}/{env}/current.json
 *     {source}/dist/{app}/{app}-{version}.tar.gz
 *
 * source_open() picks the implementation from the URL scheme; file:// is
 * here, s3:// and gs:// slot in through the same ops table without the
 * planner or the daemon knowing which one runs.
 *
 * Calling sequence: source_open -> source_get_current / source_get_release
 * (blocking: the daemon calls them from workers) -> source_free.
 */
#ifndef DEPLOYEX_SOURCE_H
#define DEPLOYEX_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"
#include "base/util.h"

#define ETAG_MAX 256

struct source;

struct source_ops {
        const char *scheme; /* "file", "s3", "gs" */
        /*
         * Fetch current.json.  etag: the one we hold ("" = none); on a match the
         * implementation sets *not_modified and leaves body empty.  -ENOENT when
         * the object does not exist; other -errno with err filled.
         */
        int (*get_current)(struct source *s, const char *app, const char *etag, struct buf *body,
                           char ret_etag[ETAG_MAX + 1], bool *not_modified, struct buf *err);
        /* Write the tarball of app-version into fd, at most max_bytes (-EFBIG beyond). */
        int (*get_release)(struct source *s, const char *app, const char *version, int fd,
                           uint64_t max_bytes, struct buf *err);
        /* The local directory holding current.json (for inotify), or -EOPNOTSUPP. */
        int (*watch_dir)(struct source *s, const char *app, struct buf *ret);
        void (*free)(struct source *s);
};

struct source {
        const struct source_ops *ops;
        char *url;  /* as configured */
        char *env;  /* the {env} path segment */
        void *impl; /* implementation data */
};

/* -EPROTONOSUPPORT (with err) for a scheme without an implementation. */
int source_open(const struct config *c, struct source **ret, struct buf *err); /* source_open.c */
/*
 * The daemon's: file:// as above; s3:// and gs:// checked (the same errors)
 * but without a transport: get_current and get_release answer -EOPNOTSUPP,
 * watch_dir is NULL.  Links no HTTP client (source_unfetched.c).
 */
int source_open_unfetched(const struct config *c, struct source **ret, struct buf *err);

/* A row of a scheme table: the URL prefix ("s3://") and its open function. */
struct source_opener {
        const char *prefix;
        int (*open)(const struct config *c, struct source *s, struct buf *err);
};
/* source_open over the n openers given (source.c). */
int source_open_from(const struct source_opener *openers, size_t n, const struct config *c,
                     struct source **ret, struct buf *err);
int source_get_current(struct source *s, const char *app, const char *etag, struct buf *body,
                       char ret_etag[ETAG_MAX + 1], bool *not_modified, struct buf *err);
int source_get_release(struct source *s, const char *app, const char *version, int fd,
                       uint64_t max_bytes, struct buf *err);
int source_watch_dir(struct source *s, const char *app, struct buf *ret);
void source_free(struct source *s);

/* Implementations register here. */
int source_file_open(const struct config *c, struct source *s, struct buf *err);
int source_s3_open(const struct config *c, struct source *s, struct buf *err);  /* source_s3.c */
int source_gcs_open(const struct config *c, struct source *s, struct buf *err); /* source_gcs.c */

#endif
