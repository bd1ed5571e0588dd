/*
 * etf: Erlang's external term format as Erlang text, for what deployex shows
 * an operator (`deployex rpc` replies, badrpc reasons) -- and UTF-8 text as a
 * charlist for the node's parser.
 *
 * etf_format() prints on one line, as the Erlang shell prints with ~tp:
 * atoms bare or quoted ('Foo', 'a b'), integers of any size, floats in
 * Erlang's shortest form (0.1, 100.0, 1.0e-5), lists of printable characters
 * as "strings", binaries as <<"text">>, <<"tëxt"/utf8>> or <<1,2,3>>,
 * bitstrings as <<1,2:3>>, maps as #{k => v}, improper lists as [a|b].
 * Values Erlang prints without a readable syntax come out the way the shell
 * shows them: pids <0.N.S>, refs #Ref<0.A.B.C>, ports #Port<0.N>, funs
 * fun m:f/1 or #Fun<m.I.U>; "0" when the pid/ref/port lives on home_node,
 * else the node's name.
 *
 * This works on encoded terms; lua/term_print.c prints Lua values (which no
 * longer know a charlist from a binary) and stays the printer inside hooks.
 */
#ifndef DEPLOYEX_ETF_H
#define DEPLOYEX_ETF_H

#include <stdbool.h>
#include <stddef.h>

#include <ei.h>

#include "base/util.h"

/* Deeper nesting prints as "..." (the rest of the term is skipped). */
#define ETF_DEPTH_MAX 200

/*
 * Append the term at buf[*index] to out and move *index past it.  home_node
 * may be NULL.  -EINVAL on a malformed term (out then holds a prefix).
 */
int etf_format(const char *buf, int *index, const char *home_node, struct buf *out);

/*
 * Walk the term at buf[index..len) without recursion and check that it is
 * well formed and nests at most max_depth containers deep (tuples, lists,
 * maps, funs, exports).  libei's decoders (ei_skip_term, ei_decode_*)
 * recurse once per level: a reply nested a million deep would overflow the
 * stack, so every reply from a node is checked here before anything decodes
 * it.  0, -E2BIG (too deep) or -EINVAL (malformed, truncated, unknown tag).
 */
#define ETF_REPLY_DEPTH_MAX 1000
int etf_check_depth(const char *buf, int len, int index, int max_depth);

/*
 * For the decoders of encoded terms (this printer, lua/term_etf.c):
 * etf_is_atom() says whether a tag from ei_get_type() is one of the four
 * atom tags; etf_decode_atom() decodes the atom at buf[*index] as UTF-8 into
 * atom (MAXATOMLEN_UTF8 bytes) and moves *index past it: 0 or -EINVAL.
 */
bool etf_is_atom(int type);
int etf_decode_atom(const char *buf, int *index, char atom[MAXATOMLEN_UTF8]);
/*
 * After the arity elements of a list (ei_decode_list_header), its tail:
 * 1 when it is [] (skipped: a proper list, also for arity 0, whose [] the
 * header was), 0 when it is another term (an improper list's tail, left at
 * *index), -EINVAL when malformed.
 */
int etf_list_tail(const char *buf, int *index, int arity);

/* Encode UTF-8 text as a list of code points ("é" -> [233]).  -EINVAL on bad UTF-8. */
int etf_encode_charlist(ei_x_buff *x, const char *s, size_t len);

#endif
