/*
 * verified_cache: the daemon's memory of the last release tarball a fetch job
 * verified for an app, so that the other replicas deploying the same version
 * start no fetch job (issue 12 item 6; docs/performance.md, "Scale").
 *
 * A fetch job re-reads and re-hashes a cached tarball before every use
 * (release_fetch.h): with 20 replicas that is 20 processes and 20 hashes of
 * the same bytes.  After a fetch job succeeds the daemon notes the version,
 * the sha256 the job verified against (current.json's, "" when it has none)
 * and the cache file's identity: device, inode, size and modification time
 * (nanoseconds).  A later deploy of that version skips the fetch only when
 *
 *   - the sha256 current.json gives for it now is the one verified (a
 *     republish with another sha256 is fetched and verified again), and
 *   - the file is still the one verified: the same inode, size and mtime.
 *     Anything written into it or renamed over it changes one of them.
 *
 * Otherwise the fetch job runs as before: it hashes the file again and
 * replaces a cached file that no longer matches.  The memory is the daemon's
 * own (a restart starts with none) and holds one version per app: a rollout
 * deploys one version to all replicas.
 */
#ifndef DEPLOYEX_VERIFIED_CACHE_H
#define DEPLOYEX_VERIFIED_CACHE_H

#include <stdbool.h>
#include <sys/stat.h>

#include "state/config.h"

struct verified_cache {
        char version[VERSION_MAX + 1]; /* "" = nothing verified yet */
        char sha256[64 + 1];           /* what the fetch job verified against; "" = none known */
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
};

/*
 * A fetch job verified `path` (the cache file of version) against sha256:
 * remember the file as it is now.  Forgets instead when it cannot be stat'ed
 * or is not a regular file.
 */
void verified_cache_note(struct verified_cache *vc, const char *version, const char *sha256,
                         const char *path);
/* Is `path` still the verified tarball of version, for the sha256 current.json gives now? */
bool verified_cache_holds(const struct verified_cache *vc, const char *version,
                          const char *sha256, const char *path);
/* Forget it (an unpack refused the file, say). */
void verified_cache_forget(struct verified_cache *vc);

#endif
