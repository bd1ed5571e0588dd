/*
 * log_inst: the one prefix of a log line about an instance (instances.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "reconciler/daemon/instances.h"
#include "base/banned.h"

__attribute__((format(printf, 4, 0)))
static void vlog_inst(enum log_level level, int r, const struct instance_rt *in, const char *fmt,
                      va_list ap)
{
        char msg[1024];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        if (r)
                (void)log_errno(r, "app=%s instance=%d version=%s %s", in->app->name,
                                in->rec.instance, in->rec.version[0] ? in->rec.version : "none",
                                msg);
        else
                log_msg(level, "app=%s instance=%d version=%s %s", in->app->name, in->rec.instance,
                        in->rec.version[0] ? in->rec.version : "none", msg);
}

void log_inst(enum log_level level, const struct instance_rt *in, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vlog_inst(level, 0, in, fmt, ap);
        va_end(ap);
}

int log_inst_errno(int r, const struct instance_rt *in, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vlog_inst(LOG_ERR, r, in, fmt, ap);
        va_end(ap);
        return r;
}
