/*
 * term_impl: the term userdata as lua/term*.c see it (internal to them; the
 * rest of deployex uses term.h).  A term is a userdata with the metatable
 * TERM_MT and
 *   uservalue 1: the text (atom, charlist, binary), the element table
 *                (tuple) or the external-format bytes (raw);
 *   uservalue 2: a raw term's printed form.
 */
#ifndef DEPLOYEX_TERM_IMPL_H
#define DEPLOYEX_TERM_IMPL_H

#include <lua.h>

#define TERM_MT "deployex.term"
#define ATOM_MAX 255

enum kind { K_ATOM, K_TUPLE, K_CHARLIST, K_BINARY, K_RAW };

struct term {
        enum kind kind;
};

/* The term at idx, or NULL when the value there is not one. */
struct term *term_userdata(lua_State *L, int idx);
/* Push a term of `kind` whose uservalue 1 is the value at idx. */
void term_push(lua_State *L, enum kind kind, int idx);

#endif
