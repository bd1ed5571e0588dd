/*
 * override: the operator's file {overrides_path}/{app}.json (DESIGN §4.3).
 *
 *     {"version": "1.0.0", "paused": true, "restart": "any-token",
 *      "restart_instances": {"2": "any-token"}}
 *
 * Every key is optional.  Tokens are 1..64 printable characters.  Writers
 * (CLI, UI) change one key and keep the others.  The struct owns its strings.
 */
#ifndef DEPLOYEX_OVERRIDE_H
#define DEPLOYEX_OVERRIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "state/config.h"

#define TOKEN_MAX 64

struct instance_token {
        int instance;
        char token[TOKEN_MAX + 1];
};

struct override {
        char version[VERSION_MAX + 1]; /* pin, "" when none */
        bool paused;
        char restart[TOKEN_MAX + 1];   /* "" when none */
        struct instance_token *restart_instances;
        size_t nrestart_instances;
};

/* Operators in this group write overrides (DESIGN §8: overrides_path is 2770 root:deployex). */
#define OVERRIDE_GROUP "deployex"
gid_t override_group(void); /* (gid_t)-1 when the host has no such group */
/*
 * Whether an override file's type, owner and mode fit that model: a regular
 * file, not writable by every user nor by a group other than deployex (or
 * root's), owned by root, by this process's user, or by group deployex.
 * 0, or -EPERM with the reason appended to why.
 */
int override_check_file(const struct stat *st, struct buf *why);
int override_parse(const char *text, size_t len, const char *origin, struct override *ret,
                   struct buf *err);
/*
 * -ENOENT when the file is absent (then *ret is an empty override); -EPERM
 * (reason in err) when override_check_file() refuses it.
 */
int override_load(const char *path, struct override *ret, struct buf *err);
void override_to_json(const struct override *o, struct buf *out);
/* Written 0640 and given to group deployex when the host has it (the CLI's writers). */
int override_save(const char *path, const struct override *o);
const char *override_instance_token(const struct override *o, int instance); /* NULL if none */
void override_set_instance_token(struct override *o, int instance, const char *token);
void override_copy(struct override *dst, const struct override *src);
void override_release(struct override *o);

#endif
