/*
 * release: the current.json a bucket publishes for an app (DESIGN §4.2).
 *
 *     {"version": "1.0.1", "hash": "git-sha", "pre_commands": ["eval Mod.fun()"],
 *      "sha256": "64 hex chars of the tarball"}
 *
 * version is required ([A-Za-z0-9._+-]{1,64}); hash, pre_commands and sha256
 * are optional; unknown keys are ignored.  The struct owns pre_commands.
 */
#ifndef DEPLOYEX_RELEASE_H
#define DEPLOYEX_RELEASE_H

#include <stddef.h>

#include "state/config.h"

#define HASH_MAX 128
#define PRE_COMMANDS_MAX 32
#define PRE_COMMAND_LEN_MAX 4096

struct release_desc {
        char version[VERSION_MAX + 1];
        char hash[HASH_MAX + 1];  /* "" when absent */
        char sha256[64 + 1];      /* lowercase hex, "" when absent */
        char **pre_commands;
        size_t npre_commands;
};

int release_desc_parse(const char *text, size_t len, const char *origin, struct release_desc *ret,
                       struct buf *err);
/* Serialise back (used for state/{app}/desired.json). */
void release_desc_to_json(const struct release_desc *r, struct buf *out);
void release_desc_copy(struct release_desc *dst, const struct release_desc *src);
void release_desc_release(struct release_desc *r);

#endif
