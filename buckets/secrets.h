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
 * Calling sequence: CLI commands that need the cookie call secrets_load()
 * once after config_load(), before the cookie is read.  `deployex run` fetches
 * from a store and hands the values to the daemon (deployexd) in its
 * environment, as the env adapter reads them; the daemon, which links no
 * HTTP client, calls secrets_load_with(c, NULL, err).
 *
 * secrets.c (libc, yajl): the parser and the env adapter.  secrets_store.c
 * (libcurl, OpenSSL): the aws and gcp adapters, secrets_fetch, secrets_load.
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

/* A store adapter: adapter is "aws" or "gcp", path DEPLOYEX_SECRETS_PATH. */
typedef int secrets_store_fn(const struct config *c, const char *adapter, const char *path,
                             struct secrets *ret, struct buf *err);
/*
 * secrets_fetch / secrets_load with the store adapters given (secrets_store.c
 * passes its own).  store NULL: aws and gcp are refused with a line that
 * says to start the daemon with `deployex run`.
 */
int secrets_fetch_with(const struct config *c, secrets_store_fn *store, struct secrets *ret,
                       struct buf *err);
int secrets_load_with(struct config *c, secrets_store_fn *store, struct buf *err);

/* The env adapter: DEPLOYEX_ERLANG_COOKIE and the others, checked. */
int secrets_from_env(struct secrets *ret, struct buf *err);

/* Shared by the adapters: the non-empty variable a (else b, NULL for none), or NULL. */
const char *secrets_env(const char *a, const char *b);
/* Zero a buffer that held a secret, then release it. */
void secrets_wipe_buf(struct buf *b);

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
