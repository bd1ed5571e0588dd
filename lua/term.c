/*
 * term: Erlang terms in Lua -- constructors, printing, the external format
 * both ways and a reader for Erlang term files.  See term.h.
 */
#include "lua/term.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "beam/etf.h"
#include "lua/sandbox.h"
#include "state/json.h"
#include "base/banned.h"

#define TERM_MT "deployex.term"
#define ATOM_MAX 255
#define CONSULT_MAX (4u << 20)

enum kind { K_ATOM, K_TUPLE, K_CHARLIST, K_BINARY, K_RAW };
static const char *const kind_names[] = { "atom", "tuple", "charlist", "binary", "raw" };

/* Uservalue 1: the text (atom, charlist, binary), the element table (tuple) or the
 * external-format bytes (raw); uservalue 2: a raw term's printed form. */
struct term {
        enum kind kind;
};

static struct term *to_term(lua_State *L, int idx)
{
        return luaL_testudata(L, idx, TERM_MT);
}

const char *term_kind(lua_State *L, int idx)
{
        struct term *t = to_term(L, idx);

        return t ? kind_names[t->kind] : NULL;
}

/* Push a term of `kind` whose uservalue 1 is the value at idx. */
static void push_term(lua_State *L, enum kind kind, int idx)
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
        push_term(L, kind, 1);
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
        push_term(L, K_TUPLE, -1);
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
        struct term *a = to_term(L, 1), *b = to_term(L, 2);
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

/* ---- printing ---------------------------------------------------------- */

static const char *const reserved_words[] = {
        "after", "and",  "andalso", "band", "begin", "bnot",  "bor",     "bsl", "bsr",
        "bxor",  "case", "catch",   "cond", "div",   "end",   "fun",     "if",  "let",
        "not",   "of",   "or",      "orelse", "receive", "rem", "try", "when", "xor",
};

static bool atom_is_bare(const char *s, size_t len)
{
        if (len == 0 || s[0] < 'a' || s[0] > 'z')
                return false;
        for (size_t i = 1; i < len; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '@'))
                        return false;
        }
        for (size_t i = 0; i < ARRAY_SIZE(reserved_words); i++)
                if (strlen(reserved_words[i]) == len && memcmp(reserved_words[i], s, len) == 0)
                        return false;
        return true;
}

static void put_escaped(struct buf *out, const char *s, size_t len, char quote)
{
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == (unsigned char)quote || c == '\\')
                        buf_printf(out, "\\%c", c);
                else if (c == '\n')
                        buf_puts(out, "\\n");
                else if (c == '\t')
                        buf_puts(out, "\\t");
                else if (c < 0x20 || c == 0x7f)
                        buf_printf(out, "\\%03o", c);
                else
                        buf_putc(out, (char)c);
        }
}

static void format_atom(struct buf *out, const char *s, size_t len)
{
        if (atom_is_bare(s, len)) {
                buf_append(out, s, len);
                return;
        }
        buf_putc(out, '\'');
        put_escaped(out, s, len, '\'');
        buf_putc(out, '\'');
}

static void format_binary(struct buf *out, const char *s, size_t len)
{
        bool printable = true;

        for (size_t i = 0; i < len && printable; i++) {
                unsigned char c = (unsigned char)s[i];

                printable = (c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t' || c == '\r';
        }
        buf_puts(out, "<<");
        if (printable && len > 0) {
                buf_putc(out, '"');
                put_escaped(out, s, len, '"');
                buf_putc(out, '"');
        } else {
                for (size_t i = 0; i < len; i++)
                        buf_printf(out, "%s%u", i ? "," : "", (unsigned char)s[i]);
        }
        buf_puts(out, ">>");
}

bool term_table_is_sequence(lua_State *L, int idx, lua_Integer *ret_n)
{
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
        bool seq = true;

        lua_pushnil(L);
        while (lua_next(L, idx)) {
                lua_Integer k;
                int isint = 0;

                lua_pop(L, 1);
                k = lua_tointegerx(L, -1, &isint);
                if (lua_type(L, -1) != LUA_TNUMBER || !isint || k < 1 || k > n)
                        seq = false;
                count++;
        }
        *ret_n = n;
        return seq && count == n;
}

static void format_value(lua_State *L, int idx, struct buf *out, int depth);

static void format_elements(lua_State *L, int tidx, lua_Integer n, struct buf *out, int depth)
{
        for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1)
                        buf_putc(out, ',');
                lua_rawgeti(L, tidx, i);
                format_value(L, -1, out, depth + 1);
                lua_pop(L, 1);
        }
}

static void format_term(lua_State *L, int idx, const struct term *t, struct buf *out, int depth)
{
        size_t len;
        const char *s;

        lua_getiuservalue(L, idx, t->kind == K_RAW ? 2 : 1);
        switch (t->kind) {
        case K_ATOM:
                s = lua_tolstring(L, -1, &len);
                format_atom(out, s, len);
                break;
        case K_CHARLIST:
                s = lua_tolstring(L, -1, &len);
                buf_putc(out, '"');
                put_escaped(out, s, len, '"');
                buf_putc(out, '"');
                break;
        case K_BINARY:
                s = lua_tolstring(L, -1, &len);
                format_binary(out, s, len);
                break;
        case K_TUPLE:
                buf_putc(out, '{');
                format_elements(L, lua_gettop(L), (lua_Integer)lua_rawlen(L, -1), out, depth);
                buf_putc(out, '}');
                break;
        case K_RAW:
                s = lua_tolstring(L, -1, &len);
                buf_append(out, s, len);
                break;
        }
        lua_pop(L, 1);
}

static void format_value(lua_State *L, int idx, struct buf *out, int depth)
{
        struct term *t;
        lua_Integer n;

        idx = lua_absindex(L, idx);
        if (depth > TERM_DEPTH_MAX || !lua_checkstack(L, 4)) {
                buf_puts(out, "...");
                return;
        }
        switch (lua_type(L, idx)) {
        case LUA_TNIL:
                buf_puts(out, "nil");
                break;
        case LUA_TBOOLEAN:
                buf_puts(out, lua_toboolean(L, idx) ? "true" : "false");
                break;
        case LUA_TNUMBER:
                if (lua_isinteger(L, idx)) {
                        buf_printf(out, "%lld", (long long)lua_tointeger(L, idx));
                } else {
                        char num[64];
                        double d = lua_tonumber(L, idx);

                        snprintf(num, sizeof(num), "%.17g", d);
                        buf_puts(out, num);
                        if (isfinite(d) && !strpbrk(num, ".e"))
                                buf_puts(out, ".0");
                }
                break;
        case LUA_TSTRING: {
                size_t len;
                const char *s = lua_tolstring(L, idx, &len);

                format_binary(out, s, len);
                break;
        }
        case LUA_TTABLE:
                if (term_table_is_sequence(L, idx, &n)) {
                        buf_putc(out, '[');
                        format_elements(L, idx, n, out, depth);
                        buf_putc(out, ']');
                        break;
                }
                buf_puts(out, "#{");
                n = 0;
                lua_pushnil(L);
                while (lua_next(L, idx)) {
                        if (n++)
                                buf_putc(out, ',');
                        format_value(L, -2, out, depth + 1);
                        buf_puts(out, " => ");
                        format_value(L, -1, out, depth + 1);
                        lua_pop(L, 1);
                }
                buf_putc(out, '}');
                break;
        case LUA_TUSERDATA:
                if ((t = to_term(L, idx))) {
                        format_term(L, idx, t, out, depth);
                        break;
                }
                /* fallthrough */
        default:
                buf_printf(out, "<%s>", lua_typename(L, lua_type(L, idx)));
                break;
        }
}

void term_format(lua_State *L, int idx, struct buf *out)
{
        format_value(L, idx, out, 0);
}

/* ---- Lua -> external term format ---------------------------------------- */

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
                if ((t = to_term(L, idx)))
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

/* ---- external term format -> Lua ---------------------------------------- */

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
        push_term(L, K_RAW, -1);
        lua_pushlstring(L, text->data, text->len);
        lua_setiuservalue(L, -2, 2);
        lua_replace(L, -3); /* drop the bytes and the text box under the term */
        lua_pop(L, 1);
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
        switch (type) {
        case ERL_ATOM_EXT:
        case ERL_SMALL_ATOM_EXT:
        case ERL_ATOM_UTF8_EXT:
        case ERL_SMALL_ATOM_UTF8_EXT: {
                char atom[MAXATOMLEN_UTF8];

                if (ei_decode_atom_as(buf, index, atom, sizeof(atom), ERLANG_UTF8, NULL, NULL) < 0)
                        return -EINVAL;
                if (strcmp(atom, "true") == 0 || strcmp(atom, "false") == 0) {
                        lua_pushboolean(L, atom[0] == 't');
                } else {
                        lua_pushstring(L, atom);
                        push_term(L, K_ATOM, -1);
                        lua_remove(L, -2);
                }
                return 0;
        }
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
                lua_createtable(L, arity, 0);
                for (int i = 1; i <= arity; i++) {
                        if ((r = decode_value(L, buf, index, depth + 1)) < 0)
                                return r;
                        lua_rawseti(L, -2, i);
                }
                if (arity > 0) {
                        if (ei_get_type(buf, index, &type, &size) < 0)
                                return -EINVAL;
                        if (type != ERL_NIL_EXT) {
                                /* An improper list: Lua has no form for it. */
                                lua_pop(L, 1);
                                *index = save;
                                return decode_raw(L, buf, index);
                        }
                        if (ei_skip_term(buf, index) < 0)
                                return -EINVAL;
                }
                return 0;
        }
        case ERL_SMALL_TUPLE_EXT:
        case ERL_LARGE_TUPLE_EXT:
                if (ei_decode_tuple_header(buf, index, &arity) < 0)
                        return -EINVAL;
                lua_createtable(L, arity, 0);
                for (int i = 1; i <= arity; i++) {
                        if ((r = decode_value(L, buf, index, depth + 1)) < 0)
                                return r;
                        lua_rawseti(L, -2, i);
                }
                push_term(L, K_TUPLE, -1);
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

/* ---- Erlang term text (file:consult) -> Lua ------------------------------ */

struct parser {
        lua_State *L;
        const char *p, *end;
        const char *name;
        int line;
        char *err;
        size_t errlen;
};

static int __attribute__((format(printf, 2, 3))) perr(struct parser *ps, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->name, ps->line);

        if (n < 0 || (size_t)n >= ps->errlen)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static void skip_space(struct parser *ps)
{
        while (ps->p < ps->end) {
                char c = *ps->p;

                if (c == '\n') {
                        ps->line++;
                        ps->p++;
                } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
                        ps->p++;
                } else if (c == '%') {
                        while (ps->p < ps->end && *ps->p != '\n')
                                ps->p++;
                } else {
                        break;
                }
        }
}

static bool at(struct parser *ps, char c)
{
        return ps->p < ps->end && *ps->p == c;
}

static bool is_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '@';
}

static void put_utf8(luaL_Buffer *b, unsigned long cp)
{
        char u[4];

        luaL_addlstring(b, u, utf8_encode((uint32_t)cp, u));
}

/* One escape after '\' (Erlang's set); the code point into *ret. */
static int parse_escape(struct parser *ps, unsigned long *ret)
{
        /* Pairs: the letter after '\\', then what it stands for (found by fuzz/fuzz_term). */
        static const char simple[] = "n\n" "t\t" "r\r" "s " "e\x1b" "b\b" "f\f" "v\v" "d\x7f";
        char c;

        if (ps->p >= ps->end)
                return perr(ps, "unterminated escape");
        c = *ps->p++;
        for (size_t i = 0; simple[i]; i += 2)
                if (simple[i] == c) {
                        *ret = (unsigned char)simple[i + 1];
                        return 0;
                }
        if (c >= '0' && c <= '7') {
                unsigned long v = (unsigned long)(c - '0');

                for (int i = 0; i < 2 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7'; i++)
                        v = v * 8 + (unsigned long)(*ps->p++ - '0');
                *ret = v;
                return 0;
        }
        if (c == 'x') {
                bool brace = at(ps, '{');
                unsigned long v = 0;
                int digits = 0;

                if (brace)
                        ps->p++;
                while (ps->p < ps->end && (brace || digits < 2)) {
                        char h = *ps->p;
                        int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                                : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;

                        if (d < 0 || v > 0x10ffff)
                                break;
                        v = v * 16 + (unsigned long)d;
                        digits++;
                        ps->p++;
                }
                if (digits == 0 || (brace && !at(ps, '}')))
                        return perr(ps, "bad \\x escape");
                if (brace)
                        ps->p++;
                *ret = v;
                return 0;
        }
        if (c == '\n')
                ps->line++;
        *ret = (unsigned char)c; /* \\ \" \' and any other char stand for themselves */
        return 0;
}

/* A quoted run ("..." or '...') appended to b; adjacent "..." "..." concatenate. */
static int parse_quoted(struct parser *ps, luaL_Buffer *b, char quote)
{
        do {
                ps->p++; /* the opening quote */
                while (ps->p < ps->end && *ps->p != quote) {
                        unsigned long cp = 0;

                        if (*ps->p == '\\') {
                                ps->p++;
                                if (parse_escape(ps, &cp) < 0)
                                        return -EINVAL;
                                put_utf8(b, cp);
                                continue;
                        }
                        if (*ps->p == '\n')
                                ps->line++;
                        luaL_addchar(b, *ps->p++);
                }
                if (ps->p >= ps->end)
                        return perr(ps, "unterminated %s", quote == '"' ? "string" : "quoted atom");
                ps->p++;
                if (quote != '"')
                        return 0;
                skip_space(ps);
        } while (at(ps, '"'));
        return 0;
}

static int parse_number(struct parser *ps)
{
        const char *start = ps->p;
        char num[128];
        bool is_float = false;
        size_t len;
        char *endp;

        if (at(ps, '-') || at(ps, '+'))
                ps->p++;
        while (ps->p < ps->end && ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '_'))
                ps->p++;
        if (at(ps, '#')) {
                /* Base#Digits, e.g. 16#ff */
                ps->p++;
                while (ps->p < ps->end && is_name_char(*ps->p))
                        ps->p++;
        } else if (ps->p + 1 < ps->end && *ps->p == '.' && ps->p[1] >= '0' && ps->p[1] <= '9') {
                is_float = true;
                ps->p++;
                while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                        ps->p++;
                if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
                        ps->p++;
                        if (at(ps, '-') || at(ps, '+'))
                                ps->p++;
                        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                                ps->p++;
                }
        }
        len = (size_t)(ps->p - start);
        if (len == 0 || len >= sizeof(num))
                return perr(ps, "bad number");
        /* Drop the digit separators Erlang allows (1_000). */
        {
                size_t n = 0;

                for (size_t i = 0; i < len; i++)
                        if (start[i] != '_')
                                num[n++] = start[i];
                num[n] = '\0';
        }
        errno = 0;
        if (is_float) {
                double d = strtod(num, &endp);

                if (*endp || errno)
                        return perr(ps, "bad float '%s'", num);
                lua_pushnumber(ps->L, d);
        } else if (strchr(num, '#')) {
                char *hash = strchr(num, '#');
                long base;
                long long v;

                *hash = '\0';
                base = strtol(num[0] == '-' || num[0] == '+' ? num + 1 : num, &endp, 10);
                if (*endp || base < 2 || base > 36)
                        /* start is not NUL-terminated: the text is (found by fuzz_term). */
                        return perr(ps, "bad base in '%.*s'", (int)len, start);
                v = strtoll(hash + 1, &endp, (int)base);
                if (*endp || errno || hash[1] == '\0')
                        return perr(ps, "bad integer");
                lua_pushinteger(ps->L, num[0] == '-' ? -v : v);
        } else {
                long long v = strtoll(num, &endp, 10);

                if (*endp || errno)
                        return perr(ps, "bad integer '%s'", num);
                lua_pushinteger(ps->L, v);
        }
        return 0;
}

static int parse_value(struct parser *ps, int depth);

/* Elements up to `close`, comma separated, into the table on top. */
static int parse_sequence(struct parser *ps, char close, int depth)
{
        int n = 0;

        ps->p++;
        skip_space(ps);
        if (at(ps, close)) {
                ps->p++;
                return 0;
        }
        for (;;) {
                if (parse_value(ps, depth + 1) < 0)
                        return -EINVAL;
                lua_rawseti(ps->L, -2, ++n);
                skip_space(ps);
                if (at(ps, ',')) {
                        ps->p++;
                        skip_space(ps);
                        continue;
                }
                if (at(ps, close)) {
                        ps->p++;
                        return 0;
                }
                if (at(ps, '|'))
                        return perr(ps, "improper lists are not supported");
                return perr(ps, "expected ',' or '%c'", close);
        }
}

static int parse_binary(struct parser *ps)
{
        luaL_Buffer b;

        ps->p += 2;
        luaL_buffinit(ps->L, &b);
        for (;;) {
                skip_space(ps);
                if (ps->p + 1 < ps->end && ps->p[0] == '>' && ps->p[1] == '>') {
                        ps->p += 2;
                        break;
                }
                if (at(ps, '"')) {
                        if (parse_quoted(ps, &b, '"') < 0)
                                return -EINVAL;
                } else if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
                        /* Not strtol: the text is not NUL-terminated (found by fuzz_term). */
                        long v = 0;

                        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
                                v = v * 10 + (*ps->p++ - '0');
                                if (v > 255)
                                        return perr(ps, "binary segment above 255");
                        }
                        luaL_addchar(&b, (char)v);
                } else {
                        return perr(ps, "unsupported binary syntax");
                }
                skip_space(ps);
                if (at(ps, ','))
                        ps->p++;
        }
        luaL_pushresult(&b);
        return 0;
}

static int parse_value(struct parser *ps, int depth)
{
        lua_State *L = ps->L;
        char c;

        if (depth > TERM_DEPTH_MAX)
                return perr(ps, "nested too deeply");
        if (!lua_checkstack(L, 6))
                return perr(ps, "out of stack space");
        skip_space(ps);
        if (ps->p >= ps->end)
                return perr(ps, "unexpected end of file");
        c = *ps->p;
        if (c == '{') {
                lua_newtable(L);
                if (parse_sequence(ps, '}', depth) < 0)
                        return -EINVAL;
                push_term(L, K_TUPLE, -1);
                lua_remove(L, -2);
                return 0;
        }
        if (c == '[') {
                lua_newtable(L);
                return parse_sequence(ps, ']', depth);
        }
        if (c == '#' && ps->p + 1 < ps->end && ps->p[1] == '{') {
                ps->p++;
                lua_newtable(L);
                ps->p++;
                for (;;) {
                        skip_space(ps);
                        if (at(ps, '}')) {
                                ps->p++;
                                return 0;
                        }
                        if (parse_value(ps, depth + 1) < 0)
                                return -EINVAL;
                        skip_space(ps);
                        if (!(ps->p + 1 < ps->end && ps->p[0] == '=' && ps->p[1] == '>'))
                                return perr(ps, "expected '=>' in a map");
                        ps->p += 2;
                        if (parse_value(ps, depth + 1) < 0)
                                return -EINVAL;
                        lua_rawset(L, -3);
                        skip_space(ps);
                        if (at(ps, ','))
                                ps->p++;
                        else if (!at(ps, '}'))
                                return perr(ps, "expected ',' or '}' in a map");
                }
        }
        if (c == '"') {
                luaL_Buffer b;

                luaL_buffinit(L, &b);
                if (parse_quoted(ps, &b, '"') < 0)
                        return -EINVAL;
                luaL_pushresult(&b);
                return 0;
        }
        if (c == '\'') {
                luaL_Buffer b;

                luaL_buffinit(L, &b);
                if (parse_quoted(ps, &b, '\'') < 0)
                        return -EINVAL;
                luaL_pushresult(&b);
                push_term(L, K_ATOM, -1);
                lua_remove(L, -2);
                return 0;
        }
        if (c == '<' && ps->p + 1 < ps->end && ps->p[1] == '<')
                return parse_binary(ps);
        if (c == '$') {
                unsigned long cp = 0;

                ps->p++;
                if (ps->p >= ps->end)
                        return perr(ps, "unexpected end of file");
                if (*ps->p == '\\') {
                        ps->p++;
                        if (parse_escape(ps, &cp) < 0)
                                return -EINVAL;
                } else {
                        cp = (unsigned char)*ps->p++;
                }
                lua_pushinteger(L, (lua_Integer)cp);
                return 0;
        }
        if ((c >= '0' && c <= '9') || c == '-' || c == '+')
                return parse_number(ps);
        if (c >= 'a' && c <= 'z') {
                const char *start = ps->p;
                size_t len;

                while (ps->p < ps->end && is_name_char(*ps->p))
                        ps->p++;
                len = (size_t)(ps->p - start);
                if ((len == 4 && memcmp(start, "true", 4) == 0) ||
                    (len == 5 && memcmp(start, "false", 5) == 0)) {
                        lua_pushboolean(L, len == 4);
                        return 0;
                }
                lua_pushlstring(L, start, len);
                push_term(L, K_ATOM, -1);
                lua_remove(L, -2);
                return 0;
        }
        return perr(ps, "unexpected '%c'", c);
}

int term_parse_text(lua_State *L, const char *text, size_t len, const char *name,
                    char *err, size_t errlen)
{
        struct parser ps = { L, text, text + len, name, 1, err, errlen };
        int top = lua_gettop(L), n = 0;

        lua_newtable(L);
        for (;;) {
                skip_space(&ps);
                if (ps.p >= ps.end)
                        return 0;
                if (parse_value(&ps, 0) < 0)
                        break;
                lua_rawseti(L, -2, ++n);
                skip_space(&ps);
                if (!at(&ps, '.')) {
                        perr(&ps, "expected '.' after a term");
                        break;
                }
                ps.p++;
        }
        lua_settop(L, top);
        return -EINVAL;
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
