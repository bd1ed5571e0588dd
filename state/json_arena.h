/*
 * json_arena: json_parse() for the many small documents that one command
 * reads in a row (status and the web UI read every instance record of every
 * app, and every app's otp.json).  The tree is the same yajl_val tree that
 * json_parse() builds (same checks first, same keys in the same order,
 * duplicates kept, the same number flags and values, the same error
 * message on bad input), but its nodes and yajl's own working memory come
 * from an arena: no malloc and free per node (yajl_tree_parse makes about
 * five per member and reallocs each object's arrays per member, which was
 * most of `status` at 1000 instances).
 *
 *     char mem[8192];
 *     struct json_arena a;
 *     json_arena_init(&a, mem, sizeof(mem));
 *     if (json_parse_arena(text, len, origin, &a, &root, err) == 0) { ...use root... }
 *     json_arena_release(&a);     (never yajl_tree_free() such a tree)
 *
 * The first block may be the caller's (the stack); further blocks are
 * malloc'ed and freed by json_arena_release().
 */
#ifndef DEPLOYEX_JSON_ARENA_H
#define DEPLOYEX_JSON_ARENA_H

#include <stddef.h>

#include "state/json.h"

struct json_arena_block;

struct json_arena {
        char *mem;                     /* the current block */
        size_t used, size;
        struct json_arena_block *more; /* malloc'ed blocks, newest first */
};

/* mem (size bytes, may be NULL/0) is the first block; it stays the caller's. */
void json_arena_init(struct json_arena *a, void *mem, size_t size);
/* Frees the malloc'ed blocks; every tree parsed into a is gone. */
void json_arena_release(struct json_arena *a);
/* size bytes, aligned for any type; never NULL (dies like xmalloc). */
void *json_arena_alloc(struct json_arena *a, size_t size);

/* json_parse() with the tree in a (see above); the same results and messages. */
int json_parse_arena(const char *text, size_t len, const char *origin, struct json_arena *a,
                     yajl_val *ret, struct buf *err);

/* json_parse_file() with the tree in arena (NULL: json_parse_file itself). */
int json_parse_file_in(const char *path, size_t max_bytes, struct json_arena *arena, yajl_val *ret,
                       struct buf *err);

#endif
