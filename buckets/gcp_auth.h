/*
 * gcp_auth: OAuth2 access tokens for Google Cloud (GCS, Secret Manager).
 *
 * With a service-account key file (the config's gcp_credentials, else
 * $GOOGLE_APPLICATION_CREDENTIALS): a JWT signed RS256 with the file's
 * private key (iss = client_email, scope, aud = token_uri, iat, exp = iat +
 * 1 h) is posted to the file's token_uri (grant type jwt-bearer), which
 * answers an access token.  Without a key file: the GCE metadata server,
 * http://HOST/computeMetadata/v1/instance/service-accounts/default/token with
 * "Metadata-Flavor: Google", HOST = $DEPLOYEX_GCE_METADATA_HOST, else
 * $GCE_METADATA_HOST, else metadata.google.internal.
 *
 * A token is cached until 60 s before it expires; the key file is read again
 * for each new token, so a rotated key is picked up without a restart.
 *
 * Calling sequence: gcp_auth_new(path or NULL, scope) once per source or
 * secret store; gcp_auth_header() before each request (thread-safe);
 * gcp_auth_free().  Tokens and keys never reach err.
 */
#ifndef DEPLOYEX_GCP_AUTH_H
#define DEPLOYEX_GCP_AUTH_H

#include <stdint.h>

#include "base/util.h"

#define GCP_SCOPE_STORAGE_READ "https://www.googleapis.com/auth/devstorage.read_only"
#define GCP_SCOPE_STORAGE_WRITE "https://www.googleapis.com/auth/devstorage.read_write"
#define GCP_SCOPE_CLOUD_PLATFORM "https://www.googleapis.com/auth/cloud-platform"
/* A cached token is renewed this long before it expires. */
#define GCP_TOKEN_MARGIN_MS 60000

struct gcp_auth;

/* credentials_path NULL or "": $GOOGLE_APPLICATION_CREDENTIALS, else the metadata server. */
struct gcp_auth *gcp_auth_new(const char *credentials_path, const char *scope);
void gcp_auth_free(struct gcp_auth *a);

/*
 * "Authorization: Bearer TOKEN" into ret (reset first), from the cache or a
 * new token at now_ms (wall clock).  0, or -errno with err naming the key
 * file or the endpoint and what went wrong.
 */
int gcp_auth_header(struct gcp_auth *a, uint64_t now_ms, struct buf *ret, struct buf *err);

/* Drop the cached token (after a 401: it was revoked or the peer restarted). */
void gcp_auth_invalidate(struct gcp_auth *a);

/* How many tokens were fetched so far (tests and status). */
unsigned gcp_auth_fetches(struct gcp_auth *a);

/*
 * The signed assertion alone: header.claims.signature, base64url.  -EINVAL
 * (with err) when the PEM key cannot be read or signing fails.
 */
int gcp_jwt_build(const char *client_email, const char *key_id, const char *private_key_pem,
                  const char *scope, const char *audience, uint64_t now_s, struct buf *ret,
                  struct buf *err);

/* base64url without padding (RFC 4648 §5). */
void gcp_base64url(const void *data, size_t len, struct buf *out);

#endif
