/*
 * term_parse: Erlang term text, as file:consult/1 reads it, into Lua values
 * (term_parse_text), for hooks that read relup, sys.config and the like.
 * See term.h.
 */
#include "lua/term.h"
#include "lua/term_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "base/banned.h"

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
                term_push(L, K_TUPLE, -1);
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
                term_push(L, K_ATOM, -1);
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
                term_push(L, K_ATOM, -1);
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
