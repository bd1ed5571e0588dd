/*
 * deferred: a deployment put off for a reason that may pass (the tarball
 * cannot be fetched, its checksum does not match yet, the disk is full),
 * state/{app}/deferred.json.  The daemon writes it when such a deployment
 * fails and removes it once the version is deployed; the planner reads it
 * as the retry gate ("deferred: fetch failed, retry in 8 s"), so `plan` and
 * the daemon agree and a restarted daemon keeps the delay.
 *
 *     {"version": "1.0.2", "failures": 3, "retry_at": "2026-11-26T05:00:00Z",
 *      "reason": "fetch failed: HTTP 503"}
 *
 * The delay after k failures is backoff_delay_ms(DEFERRED_INITIAL_MS,
 * DEFERRED_MAX_MS, k), the crash-restart arithmetic.
 */
#ifndef DEPLOYEX_DEFERRED_H
#define DEPLOYEX_DEFERRED_H

#include <stdint.h>

#include "state/config.h"
#include "state/ghosts.h"

#define DEFERRED_INITIAL_MS 5000
#define DEFERRED_MAX_MS (5 * 60 * 1000)

struct deferred {
        char version[VERSION_MAX + 1]; /* "" = nothing deferred */
        uint32_t failures;
        uint64_t retry_at_ms;
        char reason[REASON_MAX + 1];
};

int deferred_parse(const char *text, size_t len, const char *origin, struct deferred *ret,
                   struct buf *err);
/* -ENOENT (nothing deferred, *ret zeroed) or -EINVAL/... with err. */
int deferred_load(const char *path, struct deferred *ret, struct buf *err);
int deferred_save(const char *path, const struct deferred *d);
int deferred_clear(const char *path); /* absent is fine */

#endif
