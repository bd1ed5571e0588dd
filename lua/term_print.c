/*
 * term_print: a Lua value as Erlang text (term_format), the one printer of
 * terms for hooks, tostring() and rpc output; and the sequence test the
 * printer and the encoder share.  See term.h.
 */
#include "lua/term.h"
#include "lua/term_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "base/banned.h"

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
                if ((t = term_userdata(L, idx))) {
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
