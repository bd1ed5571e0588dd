/*
 * hooks_call: call one hook of an app with its ctx in a fresh sandbox
 * (hooks_call), and the typed answers the daemon and the CLI ask for
 * (hooks_start, hooks_upgrade_kind, hooks_call_ok).  See hooks.h.
 */
#include "lua/hooks.h"
#include "lua/hooks_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "base/fsutil.h"
#include "lua/term.h"
#include "state/node.h"
#include "state/paths.h"
#include "base/spawn.h"
#include "state/tls.h"
#include "beam/tls.h"
#include "base/banned.h"

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

static void stderr_log(void *data, const char *level, const char *msg)
{
        const struct hook_call *call = data;

        fprintf(stderr, "deployex: hook %s/%d %s: %s\n", call->app->name, call->instance, level, msg);
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
                goto local;
        }
        /* With tls every VM of the app starts with the options file, and rpc speaks TLS. */
        if (c->has_tls && (r = tls_dist_write(c, app->name, &tls_file, err)) < 0)
                goto local;
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
                /* The hooks files are the installation's and the operator's, not the release's. */
                goto local;
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
        hooks_function_where(L, -1, &where);

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
                hooks_value_from_lua(L, base + 1 + i, &res.values[i]);
        res.where = buf_detach(&where);
        res.secret = xstrdup(cookie.data);
        *ret = res;
        goto out;
local:
        if (call->local_fault)
                *call->local_fault = true;
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
