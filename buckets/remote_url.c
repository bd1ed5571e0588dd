/*
 * remote_url: "s3://bucket/prefix" split (source_remote.h).  On its own, with
 * libc alone, because the daemon checks a remote source's URL without
 * linking the HTTP client the rest of source_remote.c needs.
 */
#include <errno.h>
#include <string.h>

#include "buckets/source_remote.h"
#include "base/banned.h"

int remote_split_url(const char *url, const char *scheme, char **ret_bucket, char **ret_prefix)
{
        const char *p, *slash;
        size_t n;

        if (strncmp(url, scheme, strlen(scheme)) != 0)
                return -EINVAL;
        p = url + strlen(scheme);
        slash = strchr(p, '/');
        n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0)
                return -EINVAL;
        *ret_bucket = xstrndup(p, n);
        p += n;
        while (*p == '/')
                p++;
        n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
                n--;
        *ret_prefix = xstrndup(p, n);
        return 0;
}
