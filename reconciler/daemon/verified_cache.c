/*
 * verified_cache: the last tarball a fetch job verified (verified_cache.h).
 */
#include <string.h>
#include <sys/stat.h>

#include "reconciler/daemon/verified_cache.h"
#include "base/util.h"
#include "base/banned.h"

void verified_cache_forget(struct verified_cache *vc)
{
        memset(vc, 0, sizeof(*vc));
}

void verified_cache_note(struct verified_cache *vc, const char *version, const char *sha256,
                         const char *path)
{
        struct stat st;

        verified_cache_forget(vc);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || strlen(sha256) >= sizeof(vc->sha256))
                return;
        str_copy(vc->version, sizeof(vc->version), version);
        str_copy(vc->sha256, sizeof(vc->sha256), sha256);
        vc->dev = st.st_dev;
        vc->ino = st.st_ino;
        vc->size = st.st_size;
        vc->mtime = st.st_mtim;
}

bool verified_cache_holds(const struct verified_cache *vc, const char *version,
                          const char *sha256, const char *path)
{
        struct stat st;

        if (!vc->version[0] || strcmp(vc->version, version) != 0 ||
            strcmp(vc->sha256, sha256) != 0)
                return false;
        /* The fetch job accepts an unverified cached file only when it is not empty. */
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
                return false;
        return st.st_dev == vc->dev && st.st_ino == vc->ino && st.st_size == vc->size &&
               st.st_mtim.tv_sec == vc->mtime.tv_sec && st.st_mtim.tv_nsec == vc->mtime.tv_nsec;
}
