/*
 * bucket_put: writing objects into the configured source (DESIGN §4.2), for
 * `deployex publish`.  The daemon never writes to the bucket; only CI does.
 *
 * Each call writes one object whole, so a reader sees the old or the new
 * object, never a torn one:
 *   - file://  a temporary file beside the object (mode 0644), fsync,
 *              rename over it, fsync of the directory;
 *   - s3://    one PUT signed with SigV4 (aws_sigv4.h), payload hash included;
 *   - gs://    one media upload (POST /upload/storage/v1/b/B/o?uploadType=media)
 *              with a read_write OAuth2 token (gcp_auth.h).
 *
 * rel is the object's path below the source root, e.g.
 * "dist/myapp/myapp-1.0.0.tar.gz".  Blocking (it is a CLI path).
 *
 * Calling sequence: bucket_put_open(config) -> bucket_put_object().. ->
 * bucket_put_free().
 */
#ifndef DEPLOYEX_BUCKET_PUT_H
#define DEPLOYEX_BUCKET_PUT_H

#include <stddef.h>

#include "state/config.h"
#include "base/util.h"

struct bucket_put;

/* -EPROTONOSUPPORT/-EINVAL with err for a source that cannot be written. */
int bucket_put_open(const struct config *c, struct bucket_put **ret, struct buf *err);
/*
 * Write data as object rel.  0, or -errno with "NAME: why" in err (NAME:
 * the object's path or URL; credentials never appear).
 */
int bucket_put_object(struct bucket_put *b, const char *rel, const void *data, size_t len,
                      const char *content_type, struct buf *err);
/* "file:///srv/bucket/REL", "s3://bucket/prefix/REL" ... for messages. */
void bucket_put_name(const struct bucket_put *b, const char *rel, struct buf *out);
void bucket_put_free(struct bucket_put *b);

#endif
