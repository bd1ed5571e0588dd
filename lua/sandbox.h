/*
 * sandbox: a fresh, bounded Lua 5.4 state for one hook call (DESIGN §6).
 *
 * What a sandboxed chunk can reach: the safe base functions (no dofile,
 * loadfile, collectgarbage; `load` accepts text chunks only), string (without
 * string.dump), table, math, utf8 and os.time/clock/date/difftime.  No io,
 * no os.execute/os.remove/os.getenv, no package/require, no debug.  The
 * deployex.* API is added on top by api_open().
 *
 * Bounds: a custom allocator refuses to grow the state past mem_bytes; a
 * count hook stops a chunk after `instructions` VM instructions or once the
 * wall-clock deadline (now + time_ms at sandbox_new) has passed.  C functions
 * that block (exec, sleep, http) ask sandbox_remaining_ms() and clip their
 * own timeouts to it, so the deadline bounds the whole call.
 *
 * Errors: every failure of sandbox_load_file()/sandbox_pcall() appends one
 * line "FILE:LINE: message" to err (the file and line of the hook code at
 * fault, also for limits hit inside a C function) and returns -EINVAL.
 *
 * Calling sequence:
 *     sandbox_new(&limits, &sb);  L = sandbox_state(sb);
 *     api_open(L, &env);                         (lua/api.h)
 *     sandbox_load_file(sb, path, err);          pushes the chunk
 *     sandbox_pcall(sb, nargs, nresults, err);
 *     sandbox_free(sb);
 */
#ifndef DEPLOYEX_SANDBOX_H
#define DEPLOYEX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "base/util.h"

#define SANDBOX_MEM_DEFAULT (64u << 20)
#define SANDBOX_INSTRUCTIONS_DEFAULT 50000000ull
#define SANDBOX_TIME_DEFAULT_MS 60000ull
#define SANDBOX_FILE_MAX (1u << 20) /* a hook file larger than this is refused */

struct sandbox_limits {
        size_t mem_bytes;      /* 0 = SANDBOX_MEM_DEFAULT */
        uint64_t instructions; /* 0 = SANDBOX_INSTRUCTIONS_DEFAULT */
        uint64_t time_ms;      /* 0 = SANDBOX_TIME_DEFAULT_MS */
};

struct sandbox;

/* -ENOMEM when even an empty state does not fit in the memory cap. */
int sandbox_new(const struct sandbox_limits *limits, struct sandbox **ret);
void sandbox_free(struct sandbox *sb); /* NULL-safe; closes the state */
lua_State *sandbox_state(struct sandbox *sb);
/* The sandbox a state belongs to (from its allocator). */
struct sandbox *sandbox_of(lua_State *L);

/* A pointer for the API layer (its environment), kept with the sandbox. */
void sandbox_set_user(struct sandbox *sb, void *user);
void *sandbox_user(lua_State *L);

/* Milliseconds left before the deadline (0 when passed). */
uint64_t sandbox_remaining_ms(lua_State *L);
/* Raise the "time limit exceeded" error at the caller's hook line. */
int sandbox_time_error(lua_State *L) __attribute__((noreturn));
/* Bytes the state holds now. */
size_t sandbox_mem_used(const struct sandbox *sb);

/* Read a text chunk (binary chunks are refused) and push it as a function; chunk name "@path". */
int sandbox_load_file(struct sandbox *sb, const char *path, struct buf *err);
/* Compile a text chunk from memory under the given chunk name ("@file" or "=name"). */
int sandbox_load_string(struct sandbox *sb, const char *text, size_t len, const char *chunkname,
                        struct buf *err);
/* lua_pcall with the sandbox's message handler; on error the error object is popped. */
int sandbox_pcall(struct sandbox *sb, int nargs, int nresults, struct buf *err);
/*
 * Push a userdata owning an empty struct buf and return the buf: C code that
 * must build text while Lua may raise (and unwind past it) keeps the text
 * there, and the collector frees it if the function never gets to.
 */
struct buf *sandbox_push_buf(lua_State *L);

/* "FILE:LINE" of the innermost Lua function running (or "?" when none) into out. */
void sandbox_where(lua_State *L, struct buf *out);

#endif
