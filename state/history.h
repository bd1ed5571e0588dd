/*
 * history: the append-only deployment log state/{app}/history.jsonl, one
 * JSON object a line, oldest first (DESIGN §3 "history --json"):
 *
 *     {"at": "...Z", "app": "myapp", "instance": 1, "kind": "full",
 *      "from": "1.0.0", "version": "1.0.1", "hash": "abc",
 *      "result": "ok", "reason": "..."}
 *
 * A torn or malformed line (power loss mid-append) is skipped by the reader
 * and counted, never fatal.
 */
#ifndef DEPLOYEX_HISTORY_H
#define DEPLOYEX_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"
#include "state/ghosts.h"
#include "state/release.h"

enum history_kind {
        HISTORY_FULL,
        HISTORY_HOT,
        HISTORY_ROLLBACK,
        HISTORY_RESTART,
};
const char *history_kind_to_string(enum history_kind k);
int history_kind_from_string(const char *s, enum history_kind *ret);

struct history_event {
        uint64_t at_ms;
        char app[APP_NAME_MAX + 1];
        int instance;
        enum history_kind kind;
        char from[VERSION_MAX + 1];    /* "" = none */
        char version[VERSION_MAX + 1];
        char hash[HASH_MAX + 1];
        bool ok;                       /* result "ok" | "failed" */
        char reason[REASON_MAX + 1];
};

struct history_list {
        struct history_event *items;
        size_t n, cap;
        size_t skipped; /* malformed lines */
};

void history_event_to_json(const struct history_event *e, struct buf *out); /* no newline */
int history_append(const char *path, const struct history_event *e);
int history_load(const char *path, struct history_list *ret, struct buf *err); /* absent = empty */
/* One line of history.jsonl (no newline); -EINVAL when it is not a valid event.  Public for fuzz/. */
int history_parse_event(const char *text, size_t len, struct history_event *ret);
void history_release(struct history_list *l);

#endif
