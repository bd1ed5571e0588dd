/*
 * source_remote: what the polled sources (s3://, gs://) share: URL
 * splitting, HTTP status to -errno, error lines, the conditional-GET
 * bookkeeping of current.json and the tarball download (each store brings
 * only its own signed GET).
 *
 * Timeouts: current.json is small, so its whole request has a deadline; a
 * tarball may be large, so its request ends when the transfer stalls (below
 * REMOTE_LOW_SPEED_BYTES/s for REMOTE_LOW_SPEED_SECS) and in any case after
 * REMOTE_RELEASE_TIMEOUT_MS.
 */
#ifndef DEPLOYEX_SOURCE_REMOTE_H
#define DEPLOYEX_SOURCE_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "buckets/http.h"
#include "buckets/source.h"
#include "base/util.h"

#define REMOTE_CURRENT_TIMEOUT_MS 20000
#define REMOTE_CURRENT_MAX_BYTES (64 * 1024)
#define REMOTE_RELEASE_TIMEOUT_MS (60 * 60 * 1000)
#define REMOTE_LOW_SPEED_BYTES 1024L
#define REMOTE_LOW_SPEED_SECS 30L

/*
 * "s3://bucket/a/b/" -> bucket "bucket", prefix "a/b".  -EINVAL when the
 * bucket is empty.  The caller owns both strings.
 */
int remote_split_url(const char *url, const char *scheme, char **ret_bucket, char **ret_prefix);

/*
 * 2xx and 304: 0; 404: -ENOENT; 401/403: -EACCES; 408, 429, 5xx: -EAGAIN
 * (worth a retry); anything else: -EPROTO.
 */
int remote_status_to_errno(long status);

/* "NAME: HTTP 403 (SUMMARY)", or without the parenthesis when summary is "". */
void remote_status_error(const char *name, long status, const char *summary, struct buf *err);

/*
 * A successful conditional GET of current.json: 304, or a 200 whose tag is
 * the one we hold, sets *not_modified and leaves body alone; else the body
 * is copied into body and ret_etag is new_tag ("" when the store sent none:
 * the next GET is then unconditional).  new_tag: the response's ETag or
 * generation.
 */
void remote_finish_current(long status, const char *new_tag, const struct buf *resp_body,
                           const char *held, struct buf *body, char ret_etag[ETAG_MAX + 1],
                           bool *not_modified);

/*
 * One GET of the object REL (relative to the bucket's prefix) through a
 * store's signed or authorised request: fills resp, names the object in name
 * ("s3://b/k", "gs://b/k"), and returns remote_status_to_errno() of the answer
 * with err filled for every error but -ENOENT.  req->if_none_match is the
 * tag held ("" = none) and resp->etag the tag to hold next: a store that
 * tags otherwise (GCS's generation) translates both ways.
 */
typedef int (*remote_get_fn)(struct source *s, const char *rel, struct http_request *req,
                             struct http_response *resp, struct buf *name, struct buf *err);

/*
 * get_current for a polled store: the conditional GET of
 * versions/APP/ENV/current.json through get, with the timeout above, then
 * remote_finish_current().
 */
int remote_get_current(struct source *s, remote_get_fn get, const char *app, const char *etag,
                       struct buf *body, char ret_etag[ETAG_MAX + 1], bool *not_modified,
                       struct buf *err);

/*
 * get_release for a polled store: streams dist/APP/APP-VERSION.tar.gz into
 * fd under max_bytes through get, with the tarball timeouts above.  -ENOENT
 * says "NAME: not found".
 */
int remote_get_release(struct source *s, remote_get_fn get, const char *app, const char *version,
                       int fd, uint64_t max_bytes, struct buf *err);

#endif
