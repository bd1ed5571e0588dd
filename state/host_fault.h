/*
 * host_fault: the host is at fault, not a release (DESIGN §5, §8): the
 * daemon cannot start a process or write a file because file descriptors,
 * memory, processes or disk ran out (EMFILE, ENFILE, EAGAIN, ENOMEM,
 * ENOSPC, EDQUOT, EROFS).  The daemon keeps {var_path}/run/host_fault.json
 * while such a fault lasts, so that `status` shows it:
 *
 *     {"error": "Too many open files", "what": "cannot start job 'readiness demo/2'",
 *      "since": "2026-11-26T05:00:00Z", "count": 27, "paused_to": "2026-11-26T05:01:00Z"}
 *
 * and removes it once the host has been quiet for a while.
 */
#ifndef DEPLOYEX_HOST_FAULT_H
#define DEPLOYEX_HOST_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/util.h"

#define HOST_FAULT_WHAT_MAX 200

struct host_fault {
        int err;                          /* errno, 0 = none */
        char what[HOST_FAULT_WHAT_MAX + 1];
        uint64_t since_ms;                /* the first fault of this episode */
        uint64_t last_ms;                 /* the latest one */
        uint32_t count;                   /* faults in this episode */
        /*
         * Deadlines (rollback, probation) have been moved on up to this time:
         * a daemon that starts after one died mid-fault moves them on from
         * here to its start.
         */
        uint64_t paused_to_ms;
};

/* err (an errno, either sign) is the host's, not a release's. */
bool host_fault_errno(int err);

int host_fault_save(const char *path, const struct host_fault *f);
/* -ENOENT when there is none (f zeroed). */
int host_fault_load(const char *path, struct host_fault *f, struct buf *err);
int host_fault_clear(const char *path);

#endif
