/*
 * secret_env: the environment variables that carry the daemon's secrets to
 * its jobs (the env secrets adapter, DESIGN §8): `deployex run` and the
 * daemon set them, buckets/secrets.c reads them.  A process started as an
 * app's user must not inherit them: that user may read its
 * /proc/PID/environ: such a process gets secret_env_scrubbed().
 */
#ifndef DEPLOYEX_SECRET_ENV_H
#define DEPLOYEX_SECRET_ENV_H

#define SECRET_ENV_COOKIE "DEPLOYEX_ERLANG_COOKIE"
#define SECRET_ENV_PASSWORD_HASH "DEPLOYEX_ADMIN_HASHED_PASSWORD"
#define SECRET_ENV_KEY_BASE "DEPLOYEX_SECRET_KEY_BASE"

/* The inherited environment without the three, for spawn_opts.envp; free with spawn_strv_free. */
char **secret_env_scrubbed(void);

#endif
