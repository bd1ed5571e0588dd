/*
 * ghosts: versions that failed and must never be deployed again until an
 * operator unghosts them.  state/{app}/ghosts.json:
 *
 *     [{"version": "1.1.0", "hash": "abc", "at": "2026-11-26T05:00:00Z",
 *       "reason": "instance 1 not ready 600000 ms after deploy"}]
 *
 * The list owns its entries.
 */
#ifndef DEPLOYEX_GHOSTS_H
#define DEPLOYEX_GHOSTS_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"
#include "state/release.h"

#define REASON_MAX 512

struct ghost {
        char version[VERSION_MAX + 1];
        char hash[HASH_MAX + 1];
        uint64_t at_ms;
        char reason[REASON_MAX + 1];
};

struct ghost_list {
        struct ghost *items;
        size_t n, cap;
};

int ghosts_parse(const char *text, size_t len, const char *origin, struct ghost_list *ret,
                 struct buf *err);
int ghosts_load(const char *path, struct ghost_list *ret, struct buf *err); /* absent file = empty */
void ghosts_to_json(const struct ghost_list *l, struct buf *out);
int ghosts_save(const char *path, const struct ghost_list *l);
const struct ghost *ghosts_find(const struct ghost_list *l, const char *version);
/* Adds or replaces (same version). */
void ghosts_add(struct ghost_list *l, const struct ghost *g);
bool ghosts_remove(struct ghost_list *l, const char *version);
void ghosts_release(struct ghost_list *l);

#endif
