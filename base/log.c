#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "base/banned.h"

static enum log_level max_level = LOG_INFO;
static const char *const names[] = { "error", "warning", "info", "debug" };

void log_set_level(enum log_level max)
{
        max_level = max;
}

/*
 * journald stamps every line itself, and says stderr is its stream through
 * JOURNAL_STREAM=DEV:INODE (systemd.exec(5)); anywhere else a line carries
 * its own RFC 3339 time.
 */
static bool stderr_is_journal(void)
{
        static int cached = -1;
        const char *js;
        unsigned long long dev, ino;
        struct stat st;

        if (cached < 0) {
                js = getenv("JOURNAL_STREAM");
                cached = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
                         (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
        }
        return cached;
}

static void stamp(char *dst, size_t n)
{
        struct timespec ts;
        struct tm tm;
        size_t len;

        dst[0] = '\0';
        if (stderr_is_journal())
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        len = strftime(dst, n, "%Y-%m-%dT%H:%M:%S", &tm);
        if (len)
                snprintf(dst + len, n - len, ".%03ldZ ", ts.tv_nsec / 1000000);
}

__attribute__((format(printf, 3, 0)))
static void vlog(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
        char line[2048], at[48];
        int n = vsnprintf(line, sizeof(line), fmt, ap);

        if (n < 0)
                return;
        /* One event, one line: a newline inside a message would forge a second entry. */
        for (char *p = line; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        stamp(at, sizeof(at));
        fprintf(stderr, "%sdeployex: %s: %s%s\n", at, names[level], line, suffix ? suffix : "");
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
