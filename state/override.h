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

#include "config.h"

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

int override_parse(const char *text, size_t len, const char *origin, struct override *ret,
                   struct buf *err);
/* -ENOENT when the file is absent (then *ret is an empty override). */
int override_load(const char *path, struct override *ret, struct buf *err);
void override_to_json(const struct override *o, struct buf *out);
int override_save(const char *path, const struct override *o);
const char *override_instance_token(const struct override *o, int instance); /* NULL if none */
void override_set_instance_token(struct override *o, int instance, const char *token);
void override_copy(struct override *dst, const struct override *src);
void override_release(struct override *o);

#endif
