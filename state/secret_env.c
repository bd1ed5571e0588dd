/*
 * secret_env: the environment a process started as an app's user gets
 * (secret_env.h).
 */
#include "state/secret_env.h"

#include "base/spawn.h"
#include "base/util.h"
#include "base/banned.h"

char **secret_env_scrubbed(void)
{
        static const char *const names[] = { SECRET_ENV_COOKIE, SECRET_ENV_PASSWORD_HASH,
                                             SECRET_ENV_KEY_BASE };

        return spawn_env_build(NULL, names, ARRAY_SIZE(names), NULL, 0);
}
