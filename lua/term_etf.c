/*
 * term_etf: Lua values to the external term format (term_encode) and back
 * (term_decode), for deployex.rpc.  See term.h for the mapping.
 */
#include "lua/term.h"
#include "lua/term_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "beam/etf.h"
#include "lua/sandbox.h"
#include "base/banned.h"

static int encode_value(lua_State *L, int idx, ei_x_buff *x, struct buf *path, struct buf *err,
                        int depth);

static int encode_fail(struct buf *path, struct buf *err, const char *what)
{
        buf_printf(err, "%s%s%s", path->len ? path->data : "", path->len ? ": " : "", what);
        return -EINVAL;
}

static int encode_elements(lua_State *L, int tidx, lua_Integer n, ei_x_buff *x, struct buf *path,
                           struct buf *err, int depth)
{
        size_t mark = path->len;
        int r = 0;

        for (lua_Integer i = 1; i <= n && r == 0; i++) {
                buf_printf(path, "[%lld]", (long long)i);
                lua_rawgeti(L, tidx, i);
                r = encode_value(L, -1, x, path, err, depth + 1);
                lua_pop(L, 1);
                path->len = mark;
                path->data[mark] = '\0';
        }
        return r;
}

static int encode_term(lua_State *L, int idx, const struct term *t, ei_x_buff *x, struct buf *path,
                       struct buf *err, int depth)
{
        size_t len;
        const char *s;
        int r = 0;

        lua_getiuservalue(L, idx, 1);
        s = lua_tolstring(L, -1, &len);
        switch (t->kind) {
        case K_ATOM:
                r = ei_x_encode_atom_len_as(x, s, (int)len, ERLANG_UTF8, ERLANG_UTF8);
                break;
        case K_CHARLIST:
                r = ei_x_encode_string_len(x, s, (int)len);
                break;
        case K_BINARY:
                r = ei_x_encode_binary(x, s, (long)len);
                break;
        case K_RAW:
                r = ei_x_append_buf(x, s, (int)len);
                break;
        case K_TUPLE: {
                lua_Integer n = (lua_Integer)lua_rawlen(L, -1);

                r = ei_x_encode_tuple_header(x, (long)n);
                if (r == 0) {
                        r = encode_elements(L, lua_gettop(L), n, x, path, err, depth);
                        lua_pop(L, 1);
                        return r;
                }
                break;
        }
        }
        lua_pop(L, 1);
        if (r < 0)
                return encode_fail(path, err, "cannot be encoded");
        return 0;
}

static int encode_table(lua_State *L, int idx, ei_x_buff *x, struct buf *path, struct buf *err,
                        int depth)
{
        lua_Integer n, count = 0;
        size_t mark = path->len;
        int r = 0;

        if (term_table_is_sequence(L, idx, &n)) {
                if (n > 0 && (ei_x_encode_list_header(x, (long)n) < 0 ||
                              (r = encode_elements(L, idx, n, x, path, err, depth)) < 0))
                        return r < 0 ? r : encode_fail(path, err, "cannot be encoded");
                return ei_x_encode_empty_list(x) < 0 ? encode_fail(path, err, "cannot be encoded") : 0;
        }
        lua_pushnil(L);
        while (lua_next(L, idx)) {
                count++;
                lua_pop(L, 1);
        }
        if (ei_x_encode_map_header(x, (long)count) < 0)
                return encode_fail(path, err, "cannot be encoded");
        lua_pushnil(L);
        while (r == 0 && lua_next(L, idx)) {
                if (lua_type(L, -2) == LUA_TSTRING)
                        buf_printf(path, ".%s", lua_tostring(L, -2));
                else
                        buf_puts(path, ".<key>");
                r = encode_value(L, -2, x, path, err, depth + 1);
                if (r == 0)
                        r = encode_value(L, -1, x, path, err, depth + 1);
                lua_pop(L, 1);
                path->len = mark;
                path->data[mark] = '\0';
        }
        if (r < 0)
                lua_pop(L, 1); /* the key lua_next left */
        return r;
}

static int encode_value(lua_State *L, int idx, ei_x_buff *x, struct buf *path, struct buf *err,
                        int depth)
{
        struct term *t;
        int r = 0;

        idx = lua_absindex(L, idx);
        if (depth > TERM_DEPTH_MAX)
                return encode_fail(path, err, "nested too deeply (or a cycle)");
        if (!lua_checkstack(L, 4))
                return encode_fail(path, err, "out of stack space");
        switch (lua_type(L, idx)) {
        case LUA_TBOOLEAN:
                r = ei_x_encode_boolean(x, lua_toboolean(L, idx));
                break;
        case LUA_TNUMBER:
                if (lua_isinteger(L, idx))
                        r = ei_x_encode_longlong(x, (long long)lua_tointeger(L, idx));
                else
                        r = ei_x_encode_double(x, lua_tonumber(L, idx));
                break;
        case LUA_TSTRING: {
                size_t len;
                const char *s = lua_tolstring(L, idx, &len);

                r = ei_x_encode_binary(x, s, (long)len);
                break;
        }
        case LUA_TTABLE:
                return encode_table(L, idx, x, path, err, depth);
        case LUA_TUSERDATA:
                if ((t = term_userdata(L, idx)))
                        return encode_term(L, idx, t, x, path, err, depth);
                return encode_fail(path, err, "a userdata has no Erlang form");
        case LUA_TNIL:
                return encode_fail(path, err, "nil has no Erlang form (use deployex.atom(\"undefined\"))");
        default: {
                char what[64];

                snprintf(what, sizeof(what), "a %s has no Erlang form", lua_typename(L, lua_type(L, idx)));
                return encode_fail(path, err, what);
        }
        }
        return r < 0 ? encode_fail(path, err, "cannot be encoded") : 0;
}

int term_encode(lua_State *L, int idx, ei_x_buff *x, struct buf *err)
{
        struct buf path = BUF_INIT;
        int r = encode_value(L, idx, x, &path, err, 0);

        buf_release(&path);
        return r;
}



/* A term Lua has no form for: keep its bytes (to send back) and its printed text. */
static int decode_raw(lua_State *L, const char *buf, int *index)
{
        int start = *index, pidx = start; /* etf_format moves its own index */
        struct buf *text;

        if (ei_skip_term(buf, index) < 0)
                return -EINVAL;
        text = sandbox_push_buf(L);
        /* The same printer as `deployex rpc`: a term reads alike everywhere. */
        (void)etf_format(buf, &pidx, NULL, text);
        lua_pushlstring(L, buf + start, (size_t)(*index - start));
        term_push(L, K_RAW, -1);
        lua_pushlstring(L, text->data, text->len);
        lua_setiuservalue(L, -2, 2);
        lua_replace(L, -3); /* drop the bytes and the text box under the term */
        lua_pop(L, 1);
        return 0;
}

static int decode_value(lua_State *L, const char *buf, int *index, int depth);

/* Push a table of the next arity terms (a list's or a tuple's elements). */
static int decode_elements(lua_State *L, const char *buf, int *index, int arity, int depth)
{
        lua_createtable(L, arity, 0);
        for (int i = 1; i <= arity; i++) {
                int r = decode_value(L, buf, index, depth + 1);

                if (r < 0)
                        return r;
                lua_rawseti(L, -2, i);
        }
        return 0;
}

static int decode_value(lua_State *L, const char *buf, int *index, int depth)
{
        int type, size, arity, r;
        long long ll;
        double d;

        if (depth > TERM_DEPTH_MAX || !lua_checkstack(L, 6))
                return -EINVAL;
        if (ei_get_type(buf, index, &type, &size) < 0)
                return -EINVAL;
        if (etf_is_atom(type)) {
                char atom[MAXATOMLEN_UTF8];

                if (etf_decode_atom(buf, index, atom) < 0)
                        return -EINVAL;
                if (strcmp(atom, "true") == 0 || strcmp(atom, "false") == 0) {
                        lua_pushboolean(L, atom[0] == 't');
                } else {
                        lua_pushstring(L, atom);
                        term_push(L, K_ATOM, -1);
                        lua_remove(L, -2);
                }
                return 0;
        }
        switch (type) {
        case ERL_SMALL_INTEGER_EXT:
        case ERL_INTEGER_EXT:
        case ERL_SMALL_BIG_EXT:
        case ERL_LARGE_BIG_EXT: {
                int save = *index;

                if (ei_decode_longlong(buf, index, &ll) == 0) {
                        lua_pushinteger(L, (lua_Integer)ll);
                        return 0;
                }
                *index = save;
                return decode_raw(L, buf, index);
        }
        case ERL_FLOAT_EXT:
        case NEW_FLOAT_EXT:
                if (ei_decode_double(buf, index, &d) < 0)
                        return -EINVAL;
                lua_pushnumber(L, d);
                return 0;
        case ERL_STRING_EXT: {
                char *s = lua_newuserdatauv(L, (size_t)size + 1, 0);

                if (ei_decode_string(buf, index, s) < 0)
                        return -EINVAL;
                /*
                 * Erlang sends every list of small integers this way, [1,2,3] too:
                 * only a printable one is text; the others stay lists of integers.
                 */
                bool printable = true;
                for (int i = 0; i < size && printable; i++) {
                        unsigned char ch = (unsigned char)s[i];
                        printable = (ch >= 0x20 && ch < 0x7f) || ch == '\t' || ch == '\n' ||
                                    ch == '\r';
                }
                if (printable) {
                        lua_pushlstring(L, s, (size_t)size);
                } else {
                        lua_createtable(L, size, 0);
                        for (int i = 0; i < size; i++) {
                                lua_pushinteger(L, (unsigned char)s[i]);
                                lua_rawseti(L, -2, (lua_Integer)i + 1);
                        }
                }
                lua_remove(L, -2);
                return 0;
        }
        case ERL_BINARY_EXT: {
                char *s = lua_newuserdatauv(L, (size_t)size + 1, 0);
                long len;

                if (ei_decode_binary(buf, index, s, &len) < 0)
                        return -EINVAL;
                lua_pushlstring(L, s, (size_t)len);
                lua_remove(L, -2);
                return 0;
        }
        case ERL_NIL_EXT:
        case ERL_LIST_EXT: {
                int save = *index;

                if (ei_decode_list_header(buf, index, &arity) < 0)
                        return -EINVAL;
                if ((r = decode_elements(L, buf, index, arity, depth)) < 0)
                        return r;
                if ((r = etf_list_tail(buf, index, arity)) < 0)
                        return r;
                if (r == 0) {
                        /* An improper list: Lua has no form for it. */
                        lua_pop(L, 1);
                        *index = save;
                        return decode_raw(L, buf, index);
                }
                return 0;
        }
        case ERL_SMALL_TUPLE_EXT:
        case ERL_LARGE_TUPLE_EXT:
                if (ei_decode_tuple_header(buf, index, &arity) < 0)
                        return -EINVAL;
                if ((r = decode_elements(L, buf, index, arity, depth)) < 0)
                        return r;
                term_push(L, K_TUPLE, -1);
                lua_remove(L, -2);
                return 0;
        case ERL_MAP_EXT:
                if (ei_decode_map_header(buf, index, &arity) < 0)
                        return -EINVAL;
                lua_createtable(L, 0, arity);
                for (int i = 0; i < arity; i++) {
                        r = decode_value(L, buf, index, depth + 1); /* the key */
                        if (r < 0)
                                return r;
                        r = decode_value(L, buf, index, depth + 1); /* the value */
                        if (r < 0)
                                return r;
                        lua_rawset(L, -3);
                }
                return 0;
        default:
                return decode_raw(L, buf, index);
        }
}

int term_decode(lua_State *L, const char *buf, int *index)
{
        int top = lua_gettop(L);
        int r = decode_value(L, buf, index, 0);

        if (r < 0)
                lua_settop(L, top);
        return r;
}
