/*
 * audit: state/audit.jsonl, one line per operator action from the CLI
 * writers and the web UI (DESIGN §4.4, §8): what, when, from where, and
 * whether it was done.
 *
 *     {"at": "2026-12-02T17:00:00Z", "via": "web", "from": "127.0.0.1",
 *      "action": "pin", "app": "demo", "detail": "1.0.1", "result": "ok",
 *      "error": null}
 *
 * Appended with O_APPEND (one write per line), read back by `deployex audit`.
 */
#ifndef DEPLOYEX_AUDIT_H
#define DEPLOYEX_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/config.h"

#define AUDIT_FIELD_MAX 256

struct audit_entry {
        uint64_t at_ms;
        char via[16];                    /* "cli" | "web" */
        char from[AUDIT_FIELD_MAX];      /* "127.0.0.1", "uid 1000 (alice)" */
        char action[32];                 /* pin, unpin, pause, resume, restart, unghost, login, logout */
        char app[APP_NAME_MAX + 1];      /* "" when none */
        char detail[AUDIT_FIELD_MAX];    /* version, instance, ... */
        bool ok;
        char error[AUDIT_FIELD_MAX];     /* "" when ok */
};

struct audit_list {
        struct audit_entry *items;
        size_t n, cap;
        size_t skipped; /* malformed lines */
};

void audit_entry_to_json(const struct audit_entry *e, struct buf *out); /* no newline */
/* Append one entry (at_ms 0 = now).  0 or -errno. */
int audit_append(const struct config *c, const struct audit_entry *e);
/* The last `last` entries (0 = all), oldest first; an absent file is empty. */
int audit_load(const char *path, size_t last, struct audit_list *ret, struct buf *err);
void audit_release(struct audit_list *l);

#endif
