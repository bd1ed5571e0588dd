/*
 * journal: the step in flight for an app, state/{app}/journal.json, written
 * before a step starts and removed when it ends, so that a daemon that died
 * mid-step can finish or undo it on its next start (git's sequencer).
 *
 *     {"app": "myapp", "instance": 2, "action": "deploy-full",
 *      "from": "1.0.0", "to": "1.0.1", "phase": "rotated",
 *      "started_at": "2026-11-26T05:00:00Z"}
 *
 * action and phase are free strings owned by the executor.
 */
#ifndef DEPLOYEX_JOURNAL_H
#define DEPLOYEX_JOURNAL_H

#include <stdint.h>

#include "state/config.h"

struct journal {
        char app[APP_NAME_MAX + 1];
        int instance;
        char action[32];
        char from[VERSION_MAX + 1];
        char to[VERSION_MAX + 1];
        char phase[32];
        uint64_t started_at_ms;
};

int journal_parse(const char *text, size_t len, const char *origin, struct journal *ret,
                  struct buf *err);
int journal_load(const char *path, struct journal *ret, struct buf *err); /* -ENOENT: none in flight */
void journal_to_json(const struct journal *j, struct buf *out);
int journal_save(const char *path, const struct journal *j);
int journal_clear(const char *path); /* unlink + fsync dir; absent is fine */

#endif
