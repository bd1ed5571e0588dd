/* crash_point: DEPLOYEX_DEBUG_CRASH_AT, the journal's fault injector (crash_point.h). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconciler/daemon/crash_point.h"
#include "base/log.h"
#include "base/banned.h"

#define CRASH_POINT_ENV "DEPLOYEX_DEBUG_CRASH_AT"

static bool armed;
static char armed_at[80];
static unsigned long armed_count, passes;

int crash_point_init(void)
{
        const char *v = getenv(CRASH_POINT_ENV);
        const char *colon;
        size_t len;

        if (!v)
                return 0;
        colon = strchr(v, ':');
        len = colon ? (size_t)(colon - v) : strlen(v);
        armed_count = 1;
        if (colon) {
                char *end;
                errno = 0;
                armed_count = strtoul(colon + 1, &end, 10);
                if (errno || *end || end == colon + 1 || armed_count == 0)
                        armed_count = 0;
        }
        if (len == 0 || len >= sizeof(armed_at) || armed_count == 0) {
                log_err("%s: expected [ACTION/]POINT[:COUNT] (e.g. deploy-full/rotate:2), "
                        "got '%.80s'; unset it", CRASH_POINT_ENV, v);
                return -EINVAL;
        }
        memcpy(armed_at, v, len);
        armed_at[len] = '\0';
        armed = true;
        log_warn("debug: %s=%s:%lu: this daemon kills itself there (a test, never production)",
                 CRASH_POINT_ENV, armed_at, armed_count);
        unsetenv(CRASH_POINT_ENV);
        return 0;
}

void crash_point(const char *action, const char *what)
{
        const char *slash;
        size_t n;

        if (!armed)
                return;
        /* A bare POINT is any action's (a deployment turns from full to hot on the way). */
        slash = strchr(armed_at, '/');
        if (slash) {
                n = strlen(action);
                if ((size_t)(slash - armed_at) != n || strncmp(armed_at, action, n) != 0)
                        return;
        }
        if (strcmp(slash ? slash + 1 : armed_at, what) != 0 || ++passes < armed_count)
                return;
        log_warn("debug: crash point %s:%lu reached; SIGKILL", armed_at, armed_count);
        raise(SIGKILL);
}
