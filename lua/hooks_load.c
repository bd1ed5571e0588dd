/*
 * hooks_load: find the default hooks, load an app's hooks (the default
 * layer -- common.lua, then the language file -- and the per-app file) into
 * a sandbox and check them.  Calling them is hooks_call.c, the values they
 * return hooks_values.c.  See hooks.h.
 */
#include "lua/hooks.h"
#include "lua/hooks_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/term.h"
#include "base/proc.h"
#include "base/banned.h"

const char *const hooks_names[] = {
        "start", "pre_commands", "upgrade_kind", "hot_upgrade", "health", "on_event", NULL,
};
const char *const hooks_required[] = { "start", "pre_commands", "upgrade_kind", NULL };

/* Registry keys. */
#define REG_ASSIGNED "deployex.assigned" /* name -> "FILE:LINE", for the file being loaded */

int hooks_default_dir(struct buf *ret)
{
        return proc_share_dir("DEPLOYEX_HOOKS_PATH", "hooks", ret);
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
void hooks_function_where(lua_State *L, int idx, struct buf *out)
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
                                        hooks_function_where(L, -2, where);
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

int hooks_open(const struct config *c, const struct app_config *app, const char *dir,
               const struct sandbox_limits *limits, struct api_env *env, struct sandbox **ret,
               struct buf *err)
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
