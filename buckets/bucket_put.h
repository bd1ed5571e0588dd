/*
 * bucket_put: writing objects into the configured source (DESIGN §4.2): for
 * `deployex publish`, and the conditional writes of fleet rollouts (DESIGN
 * §10, docs/fleet.md), the only bucket objects a host ever writes.
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
 * Conditional writes (s3:// and gs://; file:// rollout files are written
 * by state/fleet.c with link(2) and flock):
 *   - BUCKET_IF_ABSENT: create only.  S3 `If-None-Match: *`, GCS
 *     `ifGenerationMatch=0`;
 *   - BUCKET_IF_MATCH: replace only the object whose tag a read returned.
 *     S3 `If-Match: ETAG`, GCS `ifGenerationMatch=GENERATION`.
 * A failed precondition (HTTP 412) is -ESTALE: another writer won the race;
 * the caller re-reads and decides again.  S3 answers 409
 * ConditionalRequestConflict while a conflicting write is in flight: that is
 * retried here after a short delay, a few times, then -EAGAIN.  These
 * requests, and the reads, lists and deletes below, are about objects of a
 * few hundred bytes: each ends after 10 s (a stuck request must not stop a
 * host's heartbeat for longer).
 *
 * Calling sequence: bucket_put_open(config) -> bucket_put_object() /
 * bucket_get_object() / bucket_put_object_if().. -> bucket_put_free().
 */
#ifndef DEPLOYEX_BUCKET_PUT_H
#define DEPLOYEX_BUCKET_PUT_H

#include <stddef.h>
#include <stdint.h>

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
/* An S3 ETag (with its quotes) or a GCS generation (decimal). */
#define BUCKET_TAG_MAX 256

enum bucket_cond {
        BUCKET_IF_ABSENT,
        BUCKET_IF_MATCH,
};

/*
 * Write data as rel under cond (tag: the one a read returned, for
 * BUCKET_IF_MATCH).  0 with the object's new tag in ret_tag ("" when the
 * store sent none); -ESTALE when the precondition failed (lost a race);
 * -ENOENT for BUCKET_IF_MATCH on an object that is gone; -EAGAIN when S3
 * kept answering 409; -EOPNOTSUPP for file://; other -errno with err.
 */
int bucket_put_object_if(struct bucket_put *b, const char *rel, const void *data, size_t len,
                         const char *content_type, enum bucket_cond cond, const char *tag,
                         char ret_tag[BUCKET_TAG_MAX + 1], struct buf *err);
/*
 * Read object rel whole (at most max_bytes) into body, with its tag (the
 * If-Match of a later conditional write).  -ENOENT when absent (err left
 * alone); -EOPNOTSUPP for file://; other -errno with err.
 */
int bucket_get_object(struct bucket_put *b, const char *rel, uint64_t max_bytes, struct buf *body,
                      char ret_tag[BUCKET_TAG_MAX + 1], struct buf *err);
/* Delete object rel.  0 also when it was absent; -EOPNOTSUPP for file://. */
int bucket_delete_object(struct bucket_put *b, const char *rel, struct buf *err);
/*
 * The names directly below folder rel ("rollout/app/env"): objects and
 * subfolders alike, without rel and without a trailing '/', appended to
 * names one per line.  -EOPNOTSUPP for file://.
 */
int bucket_list_folder(struct bucket_put *b, const char *rel, struct buf *names, struct buf *err);
/* "file:///srv/bucket/REL", "s3://bucket/prefix/REL" ... for messages. */
void bucket_put_name(const struct bucket_put *b, const char *rel, struct buf *out);
void bucket_put_free(struct bucket_put *b);

#endif
