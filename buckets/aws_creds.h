/*
 * aws_creds: where AWS credentials come from, in the order AWS's own tools
 * use:
 *
 *   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 *      optionally AWS_SESSION_TOKEN;
 *   2. the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, else
 *      ~/.aws/credentials), section [$AWS_PROFILE] (else [default]);
 *   3. EC2 instance metadata, IMDSv2: PUT /latest/api/token, then
 *      GET /latest/meta-data/iam/security-credentials/[ROLE].  The endpoint is
 *      $DEPLOYEX_IMDS_ENDPOINT, else $AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 *      http://169.254.169.254; AWS_EC2_METADATA_DISABLED=true skips it.
 *
 * A step that is configured but broken (a half-set environment, a profile
 * missing from the file) is an error, not a reason to fall through: using
 * some other identity than the operator meant is worse than failing.
 *
 * Instance-metadata credentials are temporary: struct aws_creds_cache keeps
 * them until five minutes before they expire (thread-safe).  Environment and
 * file credentials are re-read on every call, so a rotated key is picked up
 * without a restart.
 *
 * Secrets: the struct holds them; aws_creds_release() wipes it.  Error texts
 * name the step and the file or variable, never a key.
 */
#ifndef DEPLOYEX_AWS_CREDS_H
#define DEPLOYEX_AWS_CREDS_H

#include <pthread.h>
#include <stdint.h>

#include "base/util.h"

#define AWS_KEY_ID_MAX 128
#define AWS_SECRET_MAX 128
#define AWS_TOKEN_MAX 4096

enum aws_creds_origin {
        AWS_CREDS_ENV,
        AWS_CREDS_FILE,
        AWS_CREDS_IMDS,
};
const char *aws_creds_origin_to_string(enum aws_creds_origin o);

struct aws_creds {
        char key_id[AWS_KEY_ID_MAX + 1];
        char secret[AWS_SECRET_MAX + 1];
        char token[AWS_TOKEN_MAX + 1]; /* "" when none */
        uint64_t expires_ms;           /* 0: does not expire */
        enum aws_creds_origin origin;
};

struct aws_creds_cache {
        pthread_mutex_t lock;
        struct aws_creds creds; /* valid when have */
        int have;
};

void aws_creds_cache_init(struct aws_creds_cache *c);
void aws_creds_cache_release(struct aws_creds_cache *c);

/*
 * Resolve credentials at now_ms (wall clock).  cache may be NULL (no caching).
 * 0, or -ENOKEY when no step has any, -EINVAL for a broken step, other
 * -errno for an unreachable metadata service; err says which.
 */
int aws_creds_get(struct aws_creds_cache *cache, uint64_t now_ms, struct aws_creds *ret,
                  struct buf *err);
void aws_creds_release(struct aws_creds *c);

/*
 * The shared-credentials-file step alone, on text (INI): exported for tests.
 * -ENOENT when the profile has no section, -EINVAL when it lacks a key.
 */
int aws_creds_parse_file(const char *text, const char *profile, struct aws_creds *ret);

#endif
