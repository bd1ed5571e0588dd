#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "../state/banned.h"

static enum log_level max_level = LOG_INFO;
static const char *const names[] = { "error", "warning", "info", "debug" };

void log_set_level(enum log_level max)
{
        max_level = max;
}

__attribute__((format(printf, 3, 0)))
static void vlog(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
        char line[2048];
        int n = vsnprintf(line, sizeof(line), fmt, ap);

        if (n < 0)
                return;
        /* One event, one line: a newline inside a message would forge a second entry. */
        for (char *p = line; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        fprintf(stderr, "deployex: %s: %s%s\n", names[level], line, suffix ? suffix : "");
        fflush(stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
        va_list ap;

        if (level > max_level)
                return;
        va_start(ap, fmt);
        vlog(level, NULL, fmt, ap);
        va_end(ap);
}

int log_errno(int r, const char *fmt, ...)
{
        char suffix[128];
        va_list ap;

        snprintf(suffix, sizeof(suffix), ": %s", strerror(r < 0 ? -r : r));
        va_start(ap, fmt);
        vlog(LOG_ERR, suffix, fmt, ap);
        va_end(ap);
        return r;
}
