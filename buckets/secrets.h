/*
 * secrets: the DeployEx secrets adapters.  The Erlang cookie, the admin
 * password hash and the secret key base come from a secret store instead of
 * the config file:
 *
 *   DEPLOYEX_SECRETS_ADAPTER=aws   AWS Secrets Manager, GetSecretValue of the
 *                                  secret named DEPLOYEX_SECRETS_PATH (name or
 *                                  ARN), SigV4 with the aws_creds.h chain;
 *                                  its SecretString is a JSON object.
 *   DEPLOYEX_SECRETS_ADAPTER=gcp   GCP Secret Manager,
 *                                  DEPLOYEX_SECRETS_PATH = projects/P/secrets/S
 *                                  [/versions/V] (default version "latest");
 *                                  payload.data is a base64 JSON object.
 *                                  A bare secret name S takes the project from
 *                                  $GOOGLE_CLOUD_PROJECT.
 *   DEPLOYEX_SECRETS_ADAPTER=env   the process environment.
 *
 * The JSON object's keys are the DeployEx variable names:
 * DEPLOYEX_ERLANG_COOKIE, DEPLOYEX_ADMIN_HASHED_PASSWORD and
 * DEPLOYEX_SECRET_KEY_BASE; each is optional, unknown keys are ignored.
 * Endpoints: $DEPLOYEX_SECRETS_ENDPOINT (tests, VPC endpoints), for AWS also
 * $AWS_ENDPOINT_URL_SECRETS_MANAGER; else the public ones.
 *
 * Secret values never reach err, logs, status or history: errors name the
 * adapter, the secret path and the key at fault, never a value.  Buffers that
 * held values are wiped.
 *
 * Calling sequence: the daemon (and CLI commands that need the cookie) call
 * secrets_load() once after config_load(), before the cookie is read.
 */
#ifndef DEPLOYEX_SECRETS_H
#define DEPLOYEX_SECRETS_H

#include "state/config.h"
#include "base/util.h"

struct secrets {
        char *erlang_cookie;       /* NULL when the store has none */
        char *admin_password_hash;
        char *secret_key_base;
};

/*
 * Fetch from the adapter named by DEPLOYEX_SECRETS_ADAPTER.  -ENOENT (err
 * untouched) when no adapter is configured; -EINVAL for a bad adapter, path
 * or payload; -EACCES when the store refuses our credentials; other -errno
 * for an unreachable store.
 */
int secrets_fetch(const struct config *c, struct secrets *ret, struct buf *err);
void secrets_release(struct secrets *s); /* wipes */

/*
 * secrets_fetch(), then fill c->cookie (when neither cookie nor cookie_file
 * is set) and c->admin_password_hash (when unset).  Values already in the
 * config win.  0 when no adapter is configured.
 */
int secrets_load(struct config *c, struct buf *err);

/*
 * Parse a secret's JSON object (exported for tests).  where names it in err.
 * -EINVAL when it is not an object, holds none of the keys, or a value is
 * not a valid cookie / bcrypt hash.
 */
int secrets_parse(const char *text, size_t len, const char *where, struct secrets *ret,
                  struct buf *err);

#endif
