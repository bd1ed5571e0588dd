/*
 * term: Erlang terms in Lua -- the term userdata, its constructors and
 * metamethods, and deployex.consult.  The printer is term_print.c, the
 * external format both ways term_etf.c, the Erlang text reader
 * term_parse.c.  See term.h.
 */
#include "lua/term.h"
#include "lua/term_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/sandbox.h"
#include "base/fsutil.h"
#include "base/banned.h"

#define CONSULT_MAX (4u << 20)

static const char *const kind_names[] = { "atom", "tuple", "charlist", "binary", "raw" };

struct term *term_userdata(lua_State *L, int idx)
{
        return luaL_testudata(L, idx, TERM_MT);
}

const char *term_kind(lua_State *L, int idx)
{
        struct term *t = term_userdata(L, idx);

        return t ? kind_names[t->kind] : NULL;
}

void term_push(lua_State *L, enum kind kind, int idx)
{
        struct term *t;

        idx = lua_absindex(L, idx);
        t = lua_newuserdatauv(L, sizeof(*t), 2);
        t->kind = kind;
        luaL_setmetatable(L, TERM_MT);
        lua_pushvalue(L, idx);
        lua_setiuservalue(L, -2, 1);
}

static int l_text_term(lua_State *L, enum kind kind)
{
        size_t len;

        luaL_checklstring(L, 1, &len);
        if (kind == K_ATOM && len > ATOM_MAX)
                return luaL_error(L, "atom: longer than %d bytes", ATOM_MAX);
        lua_settop(L, 1);
        /* A number argument becomes its text, as Erlang would print it. */
        lua_tostring(L, 1);
        term_push(L, kind, 1);
        return 1;
}

static int l_atom(lua_State *L)
{
        return l_text_term(L, K_ATOM);
}

static int l_charlist(lua_State *L)
{
        return l_text_term(L, K_CHARLIST);
}

static int l_binary(lua_State *L)
{
        return l_text_term(L, K_BINARY);
}

static int l_tuple(lua_State *L)
{
        int n = lua_gettop(L);

        for (int i = 1; i <= n; i++)
                if (lua_isnil(L, i))
                        return luaL_error(L, "tuple: element %d is nil", i);
        lua_createtable(L, n, 0);
        for (int i = 1; i <= n; i++) {
                lua_pushvalue(L, i);
                lua_rawseti(L, -2, i);
        }
        term_push(L, K_TUPLE, -1);
        return 1;
}

static int m_index(lua_State *L)
{
        struct term *t = luaL_checkudata(L, 1, TERM_MT);
        const char *key;

        if (lua_type(L, 2) == LUA_TNUMBER) {
                if (t->kind != K_TUPLE)
                        return 0;
                lua_getiuservalue(L, 1, 1);
                lua_rawgeti(L, -1, lua_tointeger(L, 2));
                return 1;
        }
        key = lua_tostring(L, 2);
        if (!key)
                return 0;
        if (strcmp(key, "type") == 0) {
                lua_pushstring(L, kind_names[t->kind]);
                return 1;
        }
        if (strcmp(key, "value") == 0 && t->kind != K_TUPLE) {
                lua_getiuservalue(L, 1, t->kind == K_RAW ? 2 : 1);
                return 1;
        }
        return 0;
}

static int m_len(lua_State *L)
{
        struct term *t = luaL_checkudata(L, 1, TERM_MT);

        lua_getiuservalue(L, 1, t->kind == K_RAW ? 2 : 1);
        lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
        return 1;
}

static int m_tostring(lua_State *L)
{
        struct buf *b = sandbox_push_buf(L);

        term_format(L, 1, b);
        lua_pushlstring(L, b->data, b->len);
        buf_release(b);
        return 1;
}

/* Structural equality: same kind and equal contents (tuples element by element). */
static int m_eq(lua_State *L)
{
        struct term *a = term_userdata(L, 1), *b = term_userdata(L, 2);
        bool eq = false;

        if (a && b && a->kind == b->kind) {
                lua_getiuservalue(L, 1, 1);
                lua_getiuservalue(L, 2, 1);
                if (a->kind != K_TUPLE) {
                        eq = lua_rawequal(L, -1, -2);
                } else {
                        lua_Integer n = (lua_Integer)lua_rawlen(L, -2);

                        eq = n == (lua_Integer)lua_rawlen(L, -1);
                        for (lua_Integer i = 1; eq && i <= n; i++) {
                                lua_rawgeti(L, -2, i);
                                lua_rawgeti(L, -2, i);
                                eq = lua_compare(L, -1, -2, LUA_OPEQ);
                                lua_pop(L, 2);
                        }
                }
        }
        lua_pushboolean(L, eq);
        return 1;
}

static int l_consult(lua_State *L);

void term_open(lua_State *L)
{
        static const luaL_Reg meta[] = {
                { "__index", m_index }, { "__len", m_len }, { "__tostring", m_tostring },
                { "__eq", m_eq },       { NULL, NULL },
        };
        static const luaL_Reg funcs[] = {
                { "atom", l_atom },     { "tuple", l_tuple }, { "charlist", l_charlist },
                { "binary", l_binary }, { "consult", l_consult }, { NULL, NULL },
        };

        if (luaL_newmetatable(L, TERM_MT)) {
                luaL_setfuncs(L, meta, 0);
                lua_pushliteral(L, "erlang term");
                lua_setfield(L, -2, "__name");
                lua_pushboolean(L, 0);
                lua_setfield(L, -2, "__metatable"); /* hooks cannot replace it */
        }
        lua_pop(L, 1);
        luaL_setfuncs(L, funcs, 0);
}

/* deployex.consult(path) -> {term, ...} | nil, err: what file:consult/1 would read. */
static int l_consult(lua_State *L)
{
        const char *path = luaL_checkstring(L, 1);
        struct buf *text = sandbox_push_buf(L);
        char err[512];
        int r;

        r = file_read_all_flags(path, FILE_FOLLOW, CONSULT_MAX, text);
        if (r < 0) {
                luaL_pushfail(L);
                lua_pushfstring(L, "cannot read '%s': %s", path,
                                r == -EFBIG ? "larger than 4 MiB" : file_strerror(r));
                return 2;
        }
        if (term_parse_text(L, text->data, text->len, path, err, sizeof(err)) < 0) {
                luaL_pushfail(L);
                lua_pushstring(L, err);
                return 2;
        }
        return 1;
}
