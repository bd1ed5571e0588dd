/*
 * release_fetch: bring a release tarball into the cache, once per version,
 * verified (DESIGN §4.4, §5 "The tarball is downloaded once per version").
 *
 *     {var_path}/cache/{app}/{app}-{version}.tar.gz
 *
 * The download streams from source_get_release() (any source: file://, s3://,
 * gs://) into a temporary file in the same directory while its sha256 is
 * computed; only a complete file whose sha256 matches current.json's (when
 * current.json has one) and that stays within max_release_bytes is fsync'ed
 * and renamed to the final name.  A partial, oversized or mismatched
 * download is removed: nothing but a verified tarball ever carries the final
 * name.  An already cached file is verified again (when a sha256 is known)
 * and reused; a cached file that no longer matches is replaced.
 *
 * Concurrent fetches of the same version (threads or processes, e.g. one
 * per replica) serialise on an flock of cache/{app}/.{app}-{version}.lock:
 * the first downloads, the others wait and then find the cached file.
 *
 * Blocking (network, disk): the daemon calls it from a worker.  Never logs.
 */
#ifndef DEPLOYEX_RELEASE_FETCH_H
#define DEPLOYEX_RELEASE_FETCH_H

#include <stdint.h>

#include "state/config.h"
#include "state/release.h"
#include "buckets/source.h"
#include "base/util.h"

enum release_fetch_outcome {
        RELEASE_FETCH_CACHED = 0,     /* verified and reused, nothing downloaded */
        RELEASE_FETCH_DOWNLOADED = 1, /* downloaded, verified, now cached */
};

/*
 * Make sure the tarball of rel->version for app is in the cache; its path
 * into ret_path.  Returns RELEASE_FETCH_CACHED / RELEASE_FETCH_DOWNLOADED, or
 * -errno with one line in err:  -EBADMSG (sha256 mismatch), -EFBIG (larger
 * than c->max_release_bytes), -EINVAL (bad version), -ENOENT (not in the
 * bucket), or the source's / the file system's error.  Safe to retry.
 */
int release_fetch(const struct config *c, struct source *src, const char *app,
                  const struct release_desc *rel, struct buf *ret_path, struct buf *err);

/* sha256 of a whole file as 64 lowercase hex digits. */
int release_file_sha256(const char *path, char ret[65]);

#endif
