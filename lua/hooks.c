/*
 * hooks: load an app's hooks (the default layer -- common.lua, then the
 * language file -- and the per-app file) into a sandbox, check them, call
 * one with its ctx.  See hooks.h.
 */
#include "lua/hooks.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/api.h"
#include "base/fsutil.h"
#include "lua/term.h"
#include "state/json.h"
#include "state/node.h"
#include "state/paths.h"
#include "base/spawn.h"
#include "state/tls.h"
#include "beam/tls.h"
#include "base/banned.h"

const char *const hooks_names[] = {
        "start", "pre_commands", "upgrade_kind", "hot_upgrade", "health", "on_event", NULL,
};
const char *const hooks_required[] = { "start", "pre_commands", "upgrade_kind", NULL };

/* Registry keys. */
#define REG_ASSIGNED "deployex.assigned" /* name -> "FILE:LINE", for the file being loaded */
#define VALUE_DEPTH_MAX 32

int hooks_default_dir(struct buf *ret)
{
        const char *env = getenv("DEPLOYEX_HOOKS_PATH");
        char exe[PATH_MAX];
        struct buf dir = BUF_INIT;
        struct stat st;
        ssize_t n;
        char *slash;

        if (!str_empty(env)) {
                buf_reset(ret);
                buf_puts(ret, env);
                return 0;
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return -ENOENT;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (!slash)
                return -ENOENT;
        *slash = '\0';
        buf_printf(&dir, "%s/../share/deployex/hooks", exe);
        if (stat(dir.data, &st) < 0 || !S_ISDIR(st.st_mode)) {
                buf_release(&dir);
                return -ENOENT;
        }
        buf_release(ret);
        *ret = dir;
        return 0;
}

int hooks_default_file(const char *dir, enum language lang, struct buf *ret)
{
        struct buf d = BUF_INIT;
        int r = 0;

        if (!dir) {
                r = hooks_default_dir(&d);
                if (r < 0)
                        goto out;
                dir = d.data;
        }
        buf_reset(ret);
        buf_printf(ret, "%s/%s.lua", dir, language_to_string(lang));
out:
        buf_release(&d);
        return r;
}

void hooks_default_limits(const char *function, struct sandbox_limits *ret)
{
        static const struct {
                const char *name;
                uint64_t time_ms;
        } times[] = {
                { "start", 30000 },          { "upgrade_kind", 30000 }, { "health", 60000 },
                { "on_event", 60000 },       { "hot_upgrade", 600000 },
                /* Migrations may take long; each command also has its own timeout. */
                { "pre_commands", 3600000 },
        };

        ret->mem_bytes = SANDBOX_MEM_DEFAULT;
        ret->instructions = SANDBOX_INSTRUCTIONS_DEFAULT;
        ret->time_ms = SANDBOX_TIME_DEFAULT_MS;
        for (size_t i = 0; i < ARRAY_SIZE(times); i++)
                if (function && strcmp(function, times[i].name) == 0)
                        ret->time_ms = times[i].time_ms;
}

/* ---- loading ------------------------------------------------------------ */

/*
 * __newindex of the environment a hook file runs in: the global goes into
 * _G as usual, and while files load, the line that assigned it is noted so
 * that a type error can point at it.
 */
static int env_newindex(lua_State *L)
{
        lua_pushglobaltable(L);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_rawset(L, -3);
        if (lua_type(L, 2) == LUA_TSTRING &&
            lua_getfield(L, LUA_REGISTRYINDEX, REG_ASSIGNED) == LUA_TTABLE) {
                struct buf *where = sandbox_push_buf(L);

                sandbox_where(L, where);
                lua_pushlstring(L, where->data, where->len);
                lua_setfield(L, -3, lua_tostring(L, 2));
        }
        return 0;
}

struct load_ctx {
        struct sandbox *sb;
        const char *common_path;  /* {hooks dir}/common.lua; NULL when there is none */
        const char *default_path; /* {hooks dir}/{language}.lua */
        const char *app_path; /* or NULL */
        struct buf *err;
        int nerrors;
};

static void load_error(struct load_ctx *lc, struct buf *msg)
{
        buf_append(lc->err, msg->data, msg->len);
        buf_putc(lc->err, '\n');
        buf_reset(msg);
        lc->nerrors++;
}

/* "FILE:LINE" where the function at idx is defined. */
static void function_where(lua_State *L, int idx, struct buf *out)
{
        lua_Debug ar;

        lua_pushvalue(L, idx);
        if (lua_getinfo(L, ">S", &ar) && ar.source[0] == '@')
                buf_printf(out, "%s:%d", ar.source + 1, ar.linedefined);
        else
                buf_printf(out, "%s:%d", ar.short_src, ar.linedefined);
}

/*
 * Run one hook file with a tracking environment.  Afterwards
 * registry[REG_ASSIGNED] holds the names it defined.  false when it could
 * not be loaded or run (the error is reported).
 */
static bool load_one(lua_State *L, struct load_ctx *lc, const char *path, struct buf *msg)
{
        int chunk;

        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, REG_ASSIGNED);
        if (sandbox_load_file(lc->sb, path, msg) < 0) {
                load_error(lc, msg);
                return false;
        }
        chunk = lua_gettop(L);
        lua_newtable(L); /* the proxy _ENV: empty, so every assignment goes through __newindex */
        lua_createtable(L, 0, 2);
        lua_pushglobaltable(L);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, env_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_setmetatable(L, -2);
        if (!lua_setupvalue(L, chunk, 1))
                lua_pop(L, 1);
        if (sandbox_pcall(lc->sb, 0, 1, msg) < 0) {
                load_error(lc, msg);
                return false;
        }
        /* `return {start = ...}`: the fields are definitions too. */
        if (lua_istable(L, -1)) {
                int t = lua_gettop(L), assigned, g;

                lua_getfield(L, LUA_REGISTRYINDEX, REG_ASSIGNED);
                assigned = lua_gettop(L);
                lua_pushglobaltable(L);
                g = lua_gettop(L);
                lua_pushnil(L);
                while (lua_next(L, t)) {
                        if (lua_type(L, -2) == LUA_TSTRING) {
                                struct buf *where;

                                lua_pushvalue(L, -2);
                                lua_pushvalue(L, -2);
                                lua_rawset(L, g);
                                where = sandbox_push_buf(L);
                                if (lua_isfunction(L, -2))
                                        function_where(L, -2, where);
                                else
                                        buf_puts(where, path);
                                lua_pushvalue(L, -3);
                                lua_pushlstring(L, where->data, where->len);
                                lua_rawset(L, assigned);
                                lua_pop(L, 1);
                        }
                        lua_pop(L, 1);
                }
                lua_pop(L, 2);
        }
        lua_pop(L, 1);
        return true;
}

/* Report hook names the last file bound to something other than a function. */
static void check_types(lua_State *L, struct load_ctx *lc, struct buf *msg)
{
        lua_getfield(L, LUA_REGISTRYINDEX, REG_ASSIGNED);
        for (size_t i = 0; hooks_names[i]; i++) {
                int t;

                if (lua_getfield(L, -1, hooks_names[i]) != LUA_TSTRING) {
                        lua_pop(L, 1);
                        continue;
                }
                t = lua_getglobal(L, hooks_names[i]);
                if (t != LUA_TFUNCTION && t != LUA_TNIL) {
                        buf_printf(msg, "%s: hook '%s' must be a function, got %s",
                                   lua_tostring(L, -2), hooks_names[i], lua_typename(L, t));
                        load_error(lc, msg);
                }
                lua_pop(L, 2);
        }
        lua_pop(L, 1);
}

/*
 * deployex.default (at index defaults): for every name the file just loaded
 * assigned, the function the global now holds, or nothing.  Called after
 * each file of the default layer, so that a name the language file
 * redefines is its own, not common.lua's.
 */
static void note_defaults(lua_State *L, int defaults)
{
        lua_getfield(L, LUA_REGISTRYINDEX, REG_ASSIGNED);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
                lua_pop(L, 1);
                if (lua_type(L, -1) != LUA_TSTRING)
                        continue;
                lua_pushvalue(L, -1);
                if (lua_getglobal(L, lua_tostring(L, -1)) != LUA_TFUNCTION) {
                        lua_pop(L, 1);
                        lua_pushnil(L);
                }
                lua_rawset(L, defaults); /* assigned, name */
        }
        lua_pop(L, 1);
}

/* Compile a file without running it: its syntax errors are reported all the same. */
static void check_syntax(lua_State *L, struct load_ctx *lc, const char *path, struct buf *msg)
{
        if (sandbox_load_file(lc->sb, path, msg) < 0)
                load_error(lc, msg);
        else
                lua_pop(L, 1);
}

static int load_all(lua_State *L)
{
        struct load_ctx *lc = lua_touserdata(L, 1);
        struct buf *msg = sandbox_push_buf(L);
        int defaults;
        bool ok = true;

        lua_newtable(L);
        defaults = lua_gettop(L);
        /* The default layer: common.lua first, so that the language file can redefine its functions. */
        if (lc->common_path) {
                ok = load_one(L, lc, lc->common_path, msg);
                if (ok) {
                        check_types(L, lc, msg);
                        note_defaults(L, defaults);
                } else {
                        check_syntax(L, lc, lc->default_path, msg);
                }
        }
        if (ok)
                ok = load_one(L, lc, lc->default_path, msg);
        if (!ok) {
                /* Without the defaults the app file cannot run; still report its syntax. */
                if (lc->app_path)
                        check_syntax(L, lc, lc->app_path, msg);
                return 0;
        }
        check_types(L, lc, msg);
        note_defaults(L, defaults);
        lua_getglobal(L, "deployex");
        lua_pushvalue(L, defaults);
        lua_setfield(L, -2, "default");
        lua_pop(L, 1);

        if (lc->app_path && load_one(L, lc, lc->app_path, msg))
                check_types(L, lc, msg);

        for (size_t i = 0; hooks_required[i]; i++) {
                if (lua_getglobal(L, hooks_required[i]) != LUA_TFUNCTION) {
                        buf_printf(msg, "%s: required hook '%s' is not defined", lc->default_path,
                                   hooks_required[i]);
                        load_error(lc, msg);
                }
                lua_pop(L, 1);
        }
        /* From now on assignments are plain: nothing is loading. */
        lua_pushnil(L);
        lua_setfield(L, LUA_REGISTRYINDEX, REG_ASSIGNED);
        return 0;
}

static void stderr_log(void *data, const char *level, const char *msg)
{
        const struct hook_call *call = data;

        fprintf(stderr, "deployex: hook %s/%d %s: %s\n", call->app->name, call->instance, level, msg);
}

/*
 * {the language default's directory}/common.lua, and whether to load it:
 * when it exists (installs older than common.lua have none) or cannot be
 * looked at (then loading it reports why).
 */
static bool common_file(const char *default_path, struct buf *ret)
{
        const char *slash = strrchr(default_path, '/');
        struct stat st;

        buf_reset(ret);
        if (slash)
                buf_append(ret, default_path, (size_t)(slash - default_path) + 1);
        buf_puts(ret, "common.lua");
        return stat(ret->data, &st) == 0 || errno != ENOENT;
}

/*
 * A sandbox with the API bound to env and the app's hooks loaded.  Load
 * problems are appended to err (one line each) and give -EINVAL.
 */
static int hooks_open(const struct config *c, const struct app_config *app, const char *dir,
                      const struct sandbox_limits *limits, struct api_env *env,
                      struct sandbox **ret, struct buf *err)
{
        struct buf default_path = BUF_INIT, common_path = BUF_INIT, msg = BUF_INIT;
        struct load_ctx lc = { NULL, NULL, NULL, app->hooks, &msg, 0 };
        struct sandbox *sb = NULL;
        int r;

        (void)c;
        r = hooks_default_file(dir, app->language, &default_path);
        if (r < 0) {
                buf_printf(err, "%s: no hooks directory (set DEPLOYEX_HOOKS_PATH or install "
                                "share/deployex/hooks next to bin/deployex)\n", app->name);
                goto out;
        }
        r = sandbox_new(limits, &sb);
        if (r < 0 || api_open(sandbox_state(sb)) < 0) {
                buf_printf(err, "%s: cannot create a Lua state within the memory limit\n", app->name);
                r = -ENOMEM;
                goto out;
        }
        api_bind(sb, env);
        lc.sb = sb;
        lc.default_path = default_path.data;
        if (common_file(default_path.data, &common_path))
                lc.common_path = common_path.data;
        lua_pushcfunction(sandbox_state(sb), load_all);
        lua_pushlightuserdata(sandbox_state(sb), &lc);
        if (sandbox_pcall(sb, 1, 0, &msg) < 0) {
                buf_putc(&msg, '\n');
                lc.nerrors++;
        }
        if (lc.nerrors) {
                buf_append(err, msg.data, msg.len);
                r = -EINVAL;
                goto out;
        }
        *ret = sb;
        sb = NULL;
out:
        sandbox_free(sb);
        buf_release(&default_path);
        buf_release(&common_path);
        buf_release(&msg);
        return r;
}

int hooks_check_app_dir(const struct config *c, const struct app_config *app, const char *dir,
                        struct buf *err)
{
        struct api_env env = { NULL, NULL, NULL, NULL, NULL, NULL, NULL };
        struct sandbox_limits limits;
        struct sandbox *sb = NULL;
        size_t mark = err->len;
        int r;

        hooks_default_limits(NULL, &limits);
        r = hooks_open(c, app, dir, &limits, &env, &sb, err);
        sandbox_free(sb);
        /* The contract is one problem a line, without a trailing newline on the last. */
        if (err->len > mark && err->data[err->len - 1] == '\n')
                err->data[--err->len] = '\0';
        return r < 0 ? -EINVAL : 0;
}

int hooks_check_app(const struct config *c, const struct app_config *app, struct buf *err)
{
        return hooks_check_app_dir(c, app, NULL, err);
}

/* ---- calling ------------------------------------------------------------ */

struct ctx_data {
        const struct hook_call *call;
        const char *cookie;
        const char *node, *sname, *host;
        const char *dir_current, *dir_new, *dir_previous, *dir_tmp, *dir_service;
        const char *log_stdout, *log_stderr;
        const char *tarball;
        const char *tls_dist_file; /* NULL without tls */
        uint64_t time_ms;
};

static void set_str(lua_State *L, const char *key, const char *value)
{
        if (str_empty(value))
                return;
        lua_pushstring(L, value);
        lua_setfield(L, -2, key);
}

/* Pushes ctx and ev (nil when the call has no event). */
static int build_ctx(lua_State *L)
{
        const struct ctx_data *cd = lua_touserdata(L, 1);
        const struct hook_call *call = cd->call;
        const struct app_config *app = call->app;

        lua_createtable(L, 0, 20);
        set_str(L, "app", app->name);
        lua_pushinteger(L, call->instance);
        lua_setfield(L, -2, "instance");
        set_str(L, "language", language_to_string(app->language));
        set_str(L, "version", call->version);
        set_str(L, "from_version", call->from_version);
        set_str(L, "node", cd->node);
        set_str(L, "sname", cd->sname);
        set_str(L, "host", cd->host);
        set_str(L, "cookie", cd->cookie);
        set_str(L, "hooks_file", app->hooks);
        set_str(L, "tarball", cd->tarball);
        set_str(L, "tls_dist_file", cd->tls_dist_file);
        lua_pushboolean(L, call->hot);
        lua_setfield(L, -2, "hot");
        lua_pushinteger(L, (lua_Integer)cd->time_ms);
        lua_setfield(L, -2, "time_limit_ms");

        lua_createtable(L, 0, (int)app->nports);
        for (size_t i = 0; i < app->nports; i++) {
                lua_pushinteger(L, app->ports[i].base + call->instance - 1);
                lua_setfield(L, -2, app->ports[i].name);
        }
        lua_setfield(L, -2, "ports");

        lua_createtable(L, 0, (int)app->nenv);
        for (size_t i = 0; i < app->nenv; i++) {
                lua_pushstring(L, app->env[i].value);
                lua_setfield(L, -2, app->env[i].key);
        }
        lua_setfield(L, -2, "env");

        lua_createtable(L, 0, 5);
        set_str(L, "current", cd->dir_current);
        set_str(L, "new", cd->dir_new);
        set_str(L, "previous", cd->dir_previous);
        set_str(L, "tmp", cd->dir_tmp);
        set_str(L, "service", cd->dir_service);
        lua_setfield(L, -2, "dirs");

        lua_createtable(L, 0, 2);
        set_str(L, "stdout", cd->log_stdout);
        set_str(L, "stderr", cd->log_stderr);
        lua_setfield(L, -2, "logs");

        lua_createtable(L, (int)call->npre_commands, 0);
        for (size_t i = 0; i < call->npre_commands; i++) {
                lua_pushstring(L, call->pre_commands[i]);
                lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "pre_commands");

        if (!call->event) {
                lua_pushnil(L);
                return 2;
        }
        lua_createtable(L, 0, (int)call->nevent);
        for (size_t i = 0; i < call->nevent; i++) {
                lua_pushstring(L, call->event[i].value);
                lua_setfield(L, -2, call->event[i].key);
        }
        return 2;
}

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

static void limits_for(const struct hook_call *call, const char *function, struct sandbox_limits *ret)
{
        hooks_default_limits(function, ret);
        if (call->limits.mem_bytes)
                ret->mem_bytes = call->limits.mem_bytes;
        if (call->limits.instructions)
                ret->instructions = call->limits.instructions;
        if (call->limits.time_ms)
                ret->time_ms = call->limits.time_ms;
}

int hooks_call(const struct hook_call *call, const char *function, struct hook_result *ret,
               struct buf *err)
{
        const struct config *c = call->config;
        const struct app_config *app = call->app;
        struct buf cookie = BUF_INIT, node = BUF_INIT, sname = BUF_INIT, host = BUF_INIT;
        struct buf cur = BUF_INIT, new_ = BUF_INIT, prev = BUF_INIT, tmp = BUF_INIT;
        struct buf svc = BUF_INIT, out_log = BUF_INIT, err_log = BUF_INIT, where = BUF_INIT;
        struct buf tarball = BUF_INIT, msg = BUF_INIT, tls_file = BUF_INIT;
        struct hook_result res = { NULL, 0, NULL, NULL };
        struct api_tls tls = { c->tls_cert, c->tls_key, c->tls_ca, NULL };
        struct sandbox_limits limits;
        struct sandbox *sb = NULL;
        struct api_env env;
        struct ctx_data cd;
        lua_State *L;
        int r, nargs, base, top;

        r = config_read_cookie(c, &cookie);
        if (r < 0) {
                buf_printf(err, "%s: cannot read the cookie%s%s: %s", c->origin ? c->origin : "config",
                           c->cookie_file ? " from " : "", c->cookie_file ? c->cookie_file : "",
                           file_strerror(r));
                goto out;
        }
        /* With tls every VM of the app starts with the options file, and rpc speaks TLS. */
        if (c->has_tls && (r = tls_dist_write(c, app->name, &tls_file, err)) < 0)
                goto out;
        node_name(app->name, call->instance, &node);
        buf_printf(&sname, "%s-%d", app->name, call->instance);
        node_short_host(&host);
        path_release_dir(c, app->name, call->instance, call->new_as_current ? "new" : "current",
                         &cur);
        path_release_dir(c, app->name, call->instance, "new", &new_);
        path_release_dir(c, app->name, call->instance, "previous", &prev);
        path_release_dir(c, app->name, call->instance, "tmp", &tmp);
        path_service_dir(c, app->name, call->instance, &svc);
        path_log_file(c, app->name, call->instance, false, &out_log);
        path_log_file(c, app->name, call->instance, true, &err_log);
        if (!str_empty(call->version))
                path_cache_file(c, app->name, call->version, &tarball);
        limits_for(call, function, &limits);

        env = (struct api_env){ cookie.data, out_log.data, err_log.data,
                                call->log ? call->log : stderr_log,
                                call->log ? call->log_data : (void *)call,
                                c->has_tls ? &tls : NULL, call->log_fds };
        /* Errors go through msg: a hook may have put the cookie into its error message. */
        r = hooks_open(c, app, call->hooks_dir, &limits, &env, &sb, &msg);
        if (r < 0) {
                if (msg.len && msg.data[msg.len - 1] == '\n')
                        msg.data[--msg.len] = '\0';
                goto out;
        }
        L = sandbox_state(sb);
        if (lua_getglobal(L, function) != LUA_TFUNCTION) {
                buf_printf(&msg, "%s: hook '%s' is not defined (in %s.lua%s%s)", app->name, function,
                           language_to_string(app->language), app->hooks ? " or " : "",
                           app->hooks ? app->hooks : "");
                r = -ENOENT;
                goto out;
        }
        base = lua_gettop(L) - 1;
        function_where(L, -1, &where);

        cd = (struct ctx_data){ call, cookie.data, node.data, sname.data, host.data,
                                cur.data, new_.data, prev.data, tmp.data, svc.data,
                                out_log.data, err_log.data, tarball.data,
                                c->has_tls ? tls_file.data : NULL, limits.time_ms };
        lua_pushcfunction(L, build_ctx);
        lua_pushlightuserdata(L, &cd);
        r = sandbox_pcall(sb, 1, 2, &msg);
        if (r < 0)
                goto out;
        nargs = 2;
        if (!call->event) {
                lua_pop(L, 1);
                nargs = 1;
        }
        r = sandbox_pcall(sb, nargs, LUA_MULTRET, &msg);
        if (r < 0)
                goto out;
        top = lua_gettop(L);
        res.n = (size_t)(top - base);
        res.values = xcalloc(res.n ? res.n : 1, sizeof(*res.values));
        for (int i = 0; i < top - base; i++)
                to_value(L, base + 1 + i, &res.values[i], 0);
        res.where = buf_detach(&where);
        res.secret = xstrdup(cookie.data);
        *ret = res;
out:
        sandbox_free(sb);
        if (msg.len)
                api_mask(cookie.data, msg.data, msg.len, err);
        buf_release(&msg);
        if (cookie.cap)
                explicit_bzero(cookie.data, cookie.cap);
        buf_release(&cookie);
        buf_release(&node);
        buf_release(&sname);
        buf_release(&host);
        buf_release(&cur);
        buf_release(&new_);
        buf_release(&prev);
        buf_release(&tmp);
        buf_release(&svc);
        buf_release(&out_log);
        buf_release(&err_log);
        buf_release(&where);
        buf_release(&tarball);
        buf_release(&tls_file);
        beam_tls_free(tls.ctx);
        return r;
}

/* ---- typed answers ------------------------------------------------------- */

/* A hook answered `nil, err`: its message (masked), else what it returned. */
static void describe_failure(const struct hook_result *res, const char *function, struct buf *err)
{
        const char *msg = hook_result_string(res, 1);

        if (msg)
                api_mask(res->secret, msg, strlen(msg), err);
        else
                buf_printf(err, "%s: %s() returned %s", res->where, function,
                           res->n == 0 || res->values[0].type == HOOK_NIL ? "nil" : "false");
}

static bool string_list(const struct hook_value *v, bool allow_absent)
{
        if (!v)
                return allow_absent;
        /* {} converts to an empty map: an empty list all the same. */
        if (v->type == HOOK_MAP && v->n == 0)
                return true;
        if (v->type != HOOK_LIST)
                return false;
        for (size_t i = 0; i < v->n; i++)
                if (v->items[i].type != HOOK_STRING || strlen(v->items[i].s) != v->items[i].len)
                        return false;
        return true;
}

int hooks_start(const struct hook_call *call, struct hook_command *ret, struct buf *err)
{
        struct hook_result res;
        const struct hook_value *argv, *env, *unset, *cwd;
        const char **unset_list = NULL;
        struct kv *set = NULL;
        struct buf dir = BUF_INIT;
        size_t nset = 0, nunset = 0;
        int r;

        r = hooks_call(call, "start", &res, err);
        if (r < 0)
                return r;
        if (!hook_result_ok(&res)) {
                describe_failure(&res, "start", err);
                r = -EIO;
                goto out;
        }
        argv = hook_value_get(&res.values[0], "argv");
        env = hook_value_get(&res.values[0], "env");
        unset = hook_value_get(&res.values[0], "unset");
        cwd = hook_value_get(&res.values[0], "cwd");
        r = -EINVAL;
        if (res.values[0].type != HOOK_MAP || !argv || argv->type != HOOK_LIST || argv->n == 0 ||
            !string_list(argv, false)) {
                buf_printf(err, "%s: start() must return {argv = {\"prog\", \"arg\", ...}, env = {...}}",
                           res.where);
                goto out;
        }
        if (env && !(env->type == HOOK_MAP || (env->type == HOOK_LIST && env->n == 0))) {
                buf_printf(err, "%s: start(): env must be a table of NAME = \"value\"", res.where);
                goto out;
        }
        for (size_t i = 0; env && env->type == HOOK_MAP && i < env->n; i++) {
                if (env->items[i].type != HOOK_STRING && env->items[i].type != HOOK_INT) {
                        buf_printf(err, "%s: start(): env.%s must be a string", res.where, env->keys[i]);
                        goto out;
                }
        }
        if (!string_list(unset, true)) {
                buf_printf(err, "%s: start(): unset must be a list of name patterns", res.where);
                goto out;
        }
        if (cwd && cwd->type != HOOK_STRING) {
                buf_printf(err, "%s: start(): cwd must be a string", res.where);
                goto out;
        }

        if (env && env->type == HOOK_MAP) {
                set = xcalloc(env->n + 1, sizeof(*set));
                for (size_t i = 0; i < env->n; i++) {
                        set[nset].key = env->keys[i];
                        if (env->items[i].type == HOOK_INT) {
                                char num[32];

                                snprintf(num, sizeof(num), "%lld", env->items[i].i);
                                free(env->items[i].s);
                                env->items[i].s = xstrdup(num);
                        }
                        set[nset++].value = env->items[i].s;
                }
        }
        if (unset && unset->type == HOOK_LIST) {
                unset_list = xcalloc(unset->n + 1, sizeof(*unset_list));
                for (size_t i = 0; i < unset->n; i++)
                        unset_list[nunset++] = unset->items[i].s;
        }
        ret->argv = xcalloc(argv->n + 1, sizeof(*ret->argv));
        for (size_t i = 0; i < argv->n; i++)
                ret->argv[i] = xstrdup(argv->items[i].s);
        ret->envp = spawn_env_build(NULL, unset_list, nunset, set, nset);
        if (cwd) {
                ret->cwd = xstrdup(cwd->s);
        } else {
                path_release_dir(call->config, call->app->name, call->instance,
                                 call->new_as_current ? "new" : "current", &dir);
                ret->cwd = buf_detach(&dir);
        }
        r = 0;
out:
        free(set);
        free(unset_list);
        buf_release(&dir);
        hook_result_release(&res);
        return r;
}

void hook_command_release(struct hook_command *c)
{
        spawn_strv_free(c->argv);
        spawn_strv_free(c->envp);
        free(c->cwd);
        memset(c, 0, sizeof(*c));
}

int hooks_upgrade_kind(const struct hook_call *call, bool *ret_hot, struct buf *err)
{
        struct hook_result res;
        const char *kind;
        int r;

        r = hooks_call(call, "upgrade_kind", &res, err);
        if (r < 0)
                return r;
        kind = hook_result_string(&res, 0);
        if (kind && (strcmp(kind, "hot") == 0 || strcmp(kind, "full") == 0)) {
                *ret_hot = kind[0] == 'h';
        } else if (!hook_result_ok(&res)) {
                describe_failure(&res, "upgrade_kind", err);
                r = -EIO;
        } else {
                buf_printf(err, "%s: upgrade_kind() must return \"hot\" or \"full\"", res.where);
                r = -EINVAL;
        }
        hook_result_release(&res);
        return r;
}

int hooks_call_ok(const struct hook_call *call, const char *function, struct buf *err,
                  char *stage, size_t stage_len)
{
        struct hook_result res;
        const char *s;
        int r;

        if (stage && stage_len)
                stage[0] = '\0';
        r = hooks_call(call, function, &res, err);
        if (r < 0)
                return r;
        if (!hook_result_ok(&res)) {
                describe_failure(&res, function, err);
                s = hook_result_string(&res, 2);
                if (stage && stage_len && s)
                        str_copy(stage, stage_len, s);
                r = -EIO;
        }
        hook_result_release(&res);
        return r;
}
