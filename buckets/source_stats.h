/*
 * source_stats: how the polls of an app's current.json went, for the
 * metrics (DESIGN §11): state/{app}/source.json
 *
 *     {"polls": 12, "errors": 1, "last_success_at": MS, "last_error_at": MS}
 *
 * Written by the `__poller` worker after each poll of s3:// or gs:// (one
 * per daemon, so there is one writer; `__poll` by hand is a second one that
 * may lose a count); read by `metrics`.
 * file:// sources are watched with inotify, not polled: no file.
 */
#ifndef DEPLOYEX_SOURCE_STATS_H
#define DEPLOYEX_SOURCE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"

struct source_stats {
        uint64_t polls;
        uint64_t errors;
        uint64_t last_success_ms; /* 0: never */
        uint64_t last_error_ms;   /* 0: never */
};

/* Absent or unreadable file: all zero, and -ENOENT / -EINVAL. */
int source_stats_load(const struct config *c, const char *app, struct source_stats *ret);
/* Count one poll at now_ms (ok or not) and save atomically. */
int source_stats_record(const struct config *c, const char *app, bool ok, uint64_t now_ms);

#endif
