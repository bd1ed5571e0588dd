/*
 * term: the bridge between Lua values and Erlang terms, for deployex.rpc and
 * for hooks that read Erlang term files (relup, sys.config, start_erl.data).
 *
 * Lua has no atoms, tuples or charlists, so hooks build them explicitly:
 * deployex.atom("ok"), deployex.tuple(a, b, ...), deployex.charlist("x"),
 * deployex.binary("x").  These are userdata of one metatable ("erlang
 * term"): t.type is "atom" | "tuple" | "charlist" | "binary" | "raw",
 * t.value the text of an atom/charlist/binary, #t and t[i] a tuple's
 * elements; tostring(t) prints Erlang syntax; == compares structurally.
 *
 * Lua -> Erlang (term_encode):  nil and functions are refused;
 *     true/false -> atoms, integer -> integer, float -> float,
 *     string -> binary (Elixir's strings; use charlist() for Erlang's),
 *     sequence table {a, b} and {} -> list, other table -> map,
 *     term userdata -> itself.
 * Erlang -> Lua (term_decode, consult):  true/false -> booleans, other atoms
 *     -> atom terms, integers/floats -> numbers, binaries and printable
 *     charlists -> strings, lists -> sequence tables, tuples -> tuple terms,
 *     maps -> tables; pids, refs, funs, bignums and the like -> "raw" terms
 *     that print as Erlang shows them and encode back unchanged.
 *
 * Functions that touch the Lua stack may raise Lua errors (memory) and so
 * must run inside a protected call, as all deployex.* functions do.
 */
#ifndef DEPLOYEX_TERM_H
#define DEPLOYEX_TERM_H

#include <stdbool.h>

#include <ei.h>
#include <lua.h>

#include "base/util.h"

#define TERM_DEPTH_MAX 64

/* Add atom, tuple, charlist, binary and consult to the table on top of the stack. */
void term_open(lua_State *L);

/* The kind of the term userdata at idx ("atom", ...), or NULL when it is not one. */
const char *term_kind(lua_State *L, int idx);

/*
 * Is the table at idx a sequence (keys exactly 1..n)?  *ret_n gets n.  An
 * empty table is a sequence of 0: it encodes as [] and prints as [].  The
 * hook values (hooks_values.c) take an empty table as an empty map instead.
 */
bool term_table_is_sequence(lua_State *L, int idx, lua_Integer *ret_n);

/*
 * Append the value at idx to x.  0, or -EINVAL with "what is wrong" (naming
 * the path inside the value, e.g. "args[2].key: a function") appended to err.
 */
int term_encode(lua_State *L, int idx, ei_x_buff *x, struct buf *err);

/* Decode one term at buf[*index] and push it; *index moves past it.  -EINVAL on bad input. */
int term_decode(lua_State *L, const char *buf, int *index);

/* The Erlang text of the value at idx (as tostring() of a term shows it) into out. */
void term_format(lua_State *L, int idx, struct buf *out);

/*
 * Parse Erlang terms as file:consult/1 reads them ("T1. T2.") from text and
 * push a sequence table of them; or push nothing, return -EINVAL and write
 * "NAME:LINE: what" into err (a fixed array: a Lua error may unwind through
 * this function, so it holds no heap memory).  text must stay alive (e.g. a
 * Lua string on the stack) during the call.
 */
int term_parse_text(lua_State *L, const char *text, size_t len, const char *name,
                    char *err, size_t errlen);

#endif
