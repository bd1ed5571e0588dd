/*
 * source_open: every transport.  Adding a scheme means one more row here;
 * nothing else in the project changes (the daemon's table, in
 * source_unfetched.c, names the scheme too).
 */
#include "buckets/source.h"
#include "base/banned.h"

static const struct source_opener openers[] = {
        { "file://", source_file_open },
        { "s3://", source_s3_open },
        { "gs://", source_gcs_open },
};

int source_open(const struct config *c, struct source **ret, struct buf *err)
{
        return source_open_from(openers, ARRAY_SIZE(openers), c, ret, err);
}
