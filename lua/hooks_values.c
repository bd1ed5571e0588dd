/*
 * hooks_values: what a hook returned, copied out of Lua into struct
 * hook_value trees that outlive the sandbox, read back by the typed answers,
 * and written as JSON for `deployex hook` (the cookie masked).  See hooks.h.
 */
#include "lua/hooks.h"
#include "lua/hooks_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/term.h"
#include "state/json.h"
#include "base/banned.h"

#define VALUE_DEPTH_MAX 32

static void set_string(struct hook_value *v, const char *s, size_t len)
{
        v->type = HOOK_STRING;
        v->s = xmalloc(len + 1);
        memcpy(v->s, s, len);
        v->s[len] = '\0';
        v->len = len;
}

static void key_text(lua_State *L, int idx, struct buf *out)
{
        switch (lua_type(L, idx)) {
        case LUA_TSTRING:
                buf_puts(out, lua_tostring(L, idx));
                break;
        case LUA_TNUMBER:
                if (lua_isinteger(L, idx))
                        buf_printf(out, "%lld", (long long)lua_tointeger(L, idx));
                else
                        buf_printf(out, "%.17g", lua_tonumber(L, idx));
                break;
        case LUA_TBOOLEAN:
                buf_puts(out, lua_toboolean(L, idx) ? "true" : "false");
                break;
        default:
                term_format(L, idx, out);
                break;
        }
}

/* Copy a Lua value into C.  Makes no Lua call that can raise. */
static void to_value(lua_State *L, int idx, struct hook_value *v, int depth)
{
        struct buf text = BUF_INIT;
        lua_Integer n;

        idx = lua_absindex(L, idx);
        memset(v, 0, sizeof(*v));
        if (depth > VALUE_DEPTH_MAX || !lua_checkstack(L, 4)) {
                set_string(v, "<too deep>", 10);
                return;
        }
        switch (lua_type(L, idx)) {
        case LUA_TNIL:
                v->type = HOOK_NIL;
                break;
        case LUA_TBOOLEAN:
                v->type = HOOK_BOOL;
                v->b = lua_toboolean(L, idx);
                break;
        case LUA_TNUMBER:
                if (lua_isinteger(L, idx)) {
                        v->type = HOOK_INT;
                        v->i = (long long)lua_tointeger(L, idx);
                } else {
                        v->type = HOOK_FLOAT;
                        v->f = lua_tonumber(L, idx);
                }
                break;
        case LUA_TSTRING: {
                size_t len;
                const char *s = lua_tolstring(L, idx, &len);

                set_string(v, s, len);
                break;
        }
        case LUA_TTABLE:
                if (term_table_is_sequence(L, idx, &n) && n > 0) { /* {} is an empty map */
                        v->type = HOOK_LIST;
                        v->items = xcalloc((size_t)n, sizeof(*v->items));
                        for (lua_Integer i = 1; i <= n; i++) {
                                lua_rawgeti(L, idx, i);
                                to_value(L, -1, &v->items[v->n++], depth + 1);
                                lua_pop(L, 1);
                        }
                        break;
                }
                v->type = HOOK_MAP;
                n = 0;
                lua_pushnil(L);
                while (lua_next(L, idx)) {
                        n++;
                        lua_pop(L, 1);
                }
                v->items = xcalloc((size_t)n, sizeof(*v->items));
                v->keys = xcalloc((size_t)n, sizeof(*v->keys));
                lua_pushnil(L);
                while (lua_next(L, idx)) {
                        buf_reset(&text);
                        key_text(L, -2, &text);
                        v->keys[v->n] = xstrdup(text.data);
                        to_value(L, -1, &v->items[v->n++], depth + 1);
                        lua_pop(L, 1);
                }
                break;
        default:
                /* Erlang terms print as Erlang; functions and the like as <function>. */
                term_format(L, idx, &text);
                set_string(v, text.data, text.len);
                break;
        }
        buf_release(&text);
}

static void hook_value_release(struct hook_value *v)
{
        for (size_t i = 0; i < v->n; i++) {
                hook_value_release(&v->items[i]);
                if (v->keys)
                        free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
        free(v->s);
        memset(v, 0, sizeof(*v));
}

void hook_result_release(struct hook_result *r)
{
        for (size_t i = 0; i < r->n; i++)
                hook_value_release(&r->values[i]);
        free(r->values);
        free(r->where);
        if (r->secret) {
                explicit_bzero(r->secret, strlen(r->secret));
                free(r->secret);
        }
        memset(r, 0, sizeof(*r));
}

bool hook_result_ok(const struct hook_result *r)
{
        const struct hook_value *v = r->n ? &r->values[0] : NULL;

        return v && v->type != HOOK_NIL && !(v->type == HOOK_BOOL && !v->b);
}

const char *hook_result_string(const struct hook_result *r, size_t i)
{
        return i < r->n && r->values[i].type == HOOK_STRING ? r->values[i].s : NULL;
}

const struct hook_value *hook_value_get(const struct hook_value *map, const char *key)
{
        if (!map || map->type != HOOK_MAP)
                return NULL;
        for (size_t i = 0; i < map->n; i++)
                if (strcmp(map->keys[i], key) == 0)
                        return &map->items[i];
        return NULL;
}

static void gen_masked(yajl_gen g, const char *secret, const char *s, size_t len)
{
        struct buf m = BUF_INIT;

        api_mask(secret, s, len, &m);
        json_gen_str(g, m.data);
        buf_release(&m);
}

static void gen_value(yajl_gen g, const struct hook_value *v, const char *secret)
{
        switch (v->type) {
        case HOOK_NIL:
                yajl_gen_null(g);
                break;
        case HOOK_BOOL:
                yajl_gen_bool(g, v->b);
                break;
        case HOOK_INT:
                yajl_gen_integer(g, v->i);
                break;
        case HOOK_FLOAT:
                if (yajl_gen_double(g, v->f) != yajl_gen_status_ok)
                        yajl_gen_null(g); /* inf and nan have no JSON form */
                break;
        case HOOK_STRING:
                gen_masked(g, secret, v->s, v->len);
                break;
        case HOOK_LIST:
                yajl_gen_array_open(g);
                for (size_t i = 0; i < v->n; i++)
                        gen_value(g, &v->items[i], secret);
                yajl_gen_array_close(g);
                break;
        case HOOK_MAP:
                yajl_gen_map_open(g);
                for (size_t i = 0; i < v->n; i++) {
                        gen_masked(g, secret, v->keys[i], strlen(v->keys[i]));
                        gen_value(g, &v->items[i], secret);
                }
                yajl_gen_map_close(g);
                break;
        }
}

void hook_result_to_json(const struct hook_result *r, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        if (r->n == 0) {
                yajl_gen_null(g);
        } else if (r->n == 1) {
                gen_value(g, &r->values[0], r->secret);
        } else {
                yajl_gen_array_open(g);
                for (size_t i = 0; i < r->n; i++)
                        gen_value(g, &r->values[i], r->secret);
                yajl_gen_array_close(g);
        }
        yajl_gen_free(g);
}


void hooks_value_from_lua(lua_State *L, int idx, struct hook_value *v)
{
        to_value(L, idx, v, 0);
}
