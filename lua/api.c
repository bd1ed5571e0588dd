/*
 * api: the deployex.* functions of the hook sandbox.  See api.h.
 *
 * Memory discipline: a Lua error (a bad argument, the memory cap) unwinds
 * with longjmp past any C frame.  So each function reads and checks all of
 * its Lua arguments first, keeps C-allocated text in boxes the collector
 * owns (sandbox_push_buf) or in Lua userdata, and holds malloc'ed memory,
 * descriptors or handles only across code that makes no Lua call.
 */
#include "lua/api.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/term.h"
#include "beam/beam.h"
#include "beam/tls.h"
#include "state/cookie_home.h"
#include "base/fsutil.h"
#include "lua/api_http.h"
#include "state/json.h"
#include "base/spawn.h"
#include "base/banned.h"

#define ARGV_MAX 1024
#define GLOB_MAX 10000
#define ENV_NAME_MAX 255

static struct api_env *env_of(lua_State *L)
{
        struct api_env *env = sandbox_user(L);

        if (!env)
                luaL_error(L, "deployex: the API is not bound to an environment");
        return env;
}

void api_mask(const char *secret, const char *in, size_t len, struct buf *out)
{
        size_t slen = secret ? strlen(secret) : 0;
        const char *end = in + len;

        if (slen == 0) {
                buf_append(out, in, len);
                return;
        }
        while (in < end) {
                const char *hit = memmem(in, (size_t)(end - in), secret, slen);

                if (!hit) {
                        buf_append(out, in, (size_t)(end - in));
                        return;
                }
                buf_append(out, in, (size_t)(hit - in));
                buf_puts(out, API_MASK);
                in = hit + slen;
        }
}

void api_mask_cut(const char *secret, const char *in, size_t len, struct buf *out)
{
        size_t slen = secret ? strlen(secret) : 0;
        /* The longest end of the secret the text starts with, down to 4 bytes. */
        size_t longest = slen > 0 ? slen - 1 : 0;

        for (size_t n = longest < len ? longest : len; n >= 4; n--) {
                if (memcmp(in, secret + slen - n, n) == 0) {
                        buf_puts(out, API_MASK);
                        in += n;
                        len -= n;
                        break;
                }
        }
        api_mask(secret, in, len, out);
}

static void emit_log(struct api_env *env, const char *level, const char *msg)
{
        if (env->log)
                env->log(env->log_data, level, msg);
        else
                fprintf(stderr, "deployex: hook %s: %s\n", level, msg);
}

static const char *const levels[] = { "debug", "info", "warn", "error", NULL };

static int l_log(lua_State *L)
{
        struct api_env *env = env_of(L);
        const char *level = levels[luaL_checkoption(L, 1, NULL, levels)];
        size_t len;
        const char *msg = luaL_tolstring(L, 2, &len);
        struct buf *b = sandbox_push_buf(L);

        api_mask(env->cookie, msg, len, b);
        emit_log(env, level, b->data);
        return 0;
}

/* print(...) logs at "info": a hook's stdout is not a place anyone reads. */
static int l_print(lua_State *L)
{
        struct api_env *env = env_of(L);
        int n = lua_gettop(L);
        struct buf *b = sandbox_push_buf(L);
        struct buf *masked = sandbox_push_buf(L);

        for (int i = 1; i <= n; i++) {
                size_t len;
                const char *s = luaL_tolstring(L, i, &len);

                if (i > 1)
                        buf_putc(b, '\t');
                buf_append(b, s, len);
                lua_pop(L, 1);
        }
        api_mask(env->cookie, b->data, b->len, masked);
        emit_log(env, "info", masked->data);
        return 0;
}

/* ---- exec ----------------------------------------------------------------- */

static bool env_name_ok(const char *s, size_t len)
{
        if (len == 0 || len > ENV_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_'))
                        return false;
        }
        return true;
}

/* A string argument with no NUL inside (it would silently cut an argv entry). */
static const char *check_cstring(lua_State *L, int idx, const char *what)
{
        size_t len;
        const char *s;

        if (lua_type(L, idx) != LUA_TSTRING)
                luaL_error(L, "%s must be a string, got %s", what, luaL_typename(L, idx));
        s = lua_tolstring(L, idx, &len);
        if (strlen(s) != len)
                luaL_error(L, "%s contains a NUL byte", what);
        return s;
}

/* Shell-like quoting, for the log line only: the command never goes through a shell. */
static void quote_arg(struct buf *out, const char *s)
{
        bool plain = *s != '\0';

        for (const char *p = s; *p && plain; p++)
                plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "_./:=@%+,-", *p) != NULL;
        if (plain) {
                buf_puts(out, s);
                return;
        }
        buf_putc(out, '\'');
        for (; *s; s++) {
                if (*s == '\'')
                        buf_puts(out, "'\\''");
                else
                        buf_putc(out, *s);
        }
        buf_putc(out, '\'');
}

int api_open_log(const char *path)
{
        struct buf dir = BUF_INIT;
        const char *slash;
        int fd;

        if (!path)
                return -1;
        slash = strrchr(path, '/');
        if (slash && slash != path) {
                buf_append(&dir, path, (size_t)(slash - path));
                (void)mkdir_p(dir.data, 0750);
        }
        buf_release(&dir);
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0640);
        return fd < 0 ? -1 : fd;
}

/* Log k (0 stdout, 1 stderr) of the instance: a copy of the one given, or opened now. */
static int open_log(const struct api_env *env, int k)
{
        if (env->log_fds)
                return env->log_fds[k] < 0 ? -1 : fcntl(env->log_fds[k], F_DUPFD_CLOEXEC, 3);
        return api_open_log(k ? env->stderr_log : env->stdout_log);
}

/* Best effort: a log that cannot be written does not fail the hook. */
static void write_str(int fd, const char *s)
{
        if (fd >= 0)
                (void)write_all(fd, s, strlen(s), NULL);
}

static void stamp(char *out, size_t n)
{
        time_format_iso(time_now_ms(), out, n);
}

/*
 * deployex.exec(argv, opts): the arguments and the result live on the Lua
 * stack at fixed slots, in the order the steps below push them:
 *   1 argv, 2 opts, 3 the argv array, 4 cwd, 5 timeout_ms, 6 env, 7 unset,
 *   8 the set array, 9 the unset array, 10 anchors of converted numbers,
 *   11.. the buffers of the log line, the masked text, the tail, the error.
 * Lua owns every array: an error raised while filling them frees them.
 */
struct exec_call {
        lua_Integer argc;
        char **argv;
        const char *cwd;             /* NULL: the hook's */
        lua_Integer timeout;         /* 0: none but the hook's own */
        struct kv *set;
        size_t nset;
        const char **unset;
        size_t nunset;
        uint64_t limit;              /* ms: the smaller of timeout and the hook's time left */
        struct buf *line, *masked, *tail, *what;
};

/* Slot 3: argv as a NULL-terminated array of the caller's strings. */
static void exec_read_argv(lua_State *L, struct exec_call *x)
{
        x->argc = (lua_Integer)lua_rawlen(L, 1);
        if (x->argc < 1 || x->argc > ARGV_MAX)
                luaL_error(L, "exec: argv must be a list of 1 to %d strings", ARGV_MAX);
        x->argv = lua_newuserdatauv(L, (size_t)(x->argc + 1) * sizeof(*x->argv), 0);
        for (lua_Integer k = 1; k <= x->argc; k++) {
                char what_arg[32];

                snprintf(what_arg, sizeof(what_arg), "exec: argv[%lld]", (long long)k);
                lua_rawgeti(L, 1, k);
                /* The string stays reachable through argv's table, which the caller holds. */
                x->argv[k - 1] = (char *)check_cstring(L, -1, what_arg);
                lua_pop(L, 1);
        }
        x->argv[x->argc] = NULL;
}

/* Slots 4 and 5: opts.cwd and opts.timeout_ms. */
static void exec_read_options(lua_State *L, struct exec_call *x)
{
        lua_getfield(L, 2, "cwd");
        if (!lua_isnil(L, 4))
                x->cwd = check_cstring(L, 4, "exec: cwd");
        lua_getfield(L, 2, "timeout_ms");
        if (!lua_isnil(L, 5)) {
                int isint = 0;

                x->timeout = lua_tointegerx(L, 5, &isint);
                if (!isint || x->timeout <= 0)
                        luaL_error(L, "exec: timeout_ms must be a positive integer");
        }
}

/* How many entries of env (slot 6) set a value and how many unset a name (false). */
static void exec_count_env(lua_State *L, size_t *ret_nset, size_t *ret_nunset)
{
        lua_pushnil(L);
        while (lua_next(L, 6)) {
                size_t klen;
                const char *k;

                if (lua_type(L, -2) != LUA_TSTRING)
                        luaL_error(L, "exec: env keys must be strings");
                k = lua_tolstring(L, -2, &klen);
                if (!env_name_ok(k, klen))
                        luaL_error(L, "exec: env: bad variable name '%s'", k);
                if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
                        (*ret_nset)++;
                else if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
                        (*ret_nunset)++;
                else
                        luaL_error(L, "exec: env.%s must be a string or false", k);
                lua_pop(L, 1);
        }
}

/* Fill set and unset from env (slot 6, checked by exec_count_env) and unset (slot 7). */
static void exec_fill_env(lua_State *L, struct exec_call *x)
{
        if (lua_istable(L, 6)) {
                lua_pushnil(L);
                while (lua_next(L, 6)) {
                        if (lua_type(L, -1) == LUA_TBOOLEAN) {
                                x->unset[x->nunset++] = lua_tostring(L, -2);
                        } else {
                                char what_env[ENV_NAME_MAX + 16];

                                snprintf(what_env, sizeof(what_env), "exec: env.%s", lua_tostring(L, -2));
                                lua_tostring(L, -1); /* a number becomes its text, on the stack */
                                x->set[x->nset].value = (char *)check_cstring(L, -1, what_env);
                                x->set[x->nset].key = (char *)lua_tostring(L, -2);
                                /* lua_next's copy of the value goes away: anchor the text. */
                                lua_pushvalue(L, -1);
                                lua_rawseti(L, 10, (lua_Integer)lua_rawlen(L, 10) + 1);
                                x->nset++;
                        }
                        lua_pop(L, 1);
                }
        }
        if (lua_istable(L, 7)) {
                size_t n = lua_rawlen(L, 7);

                for (size_t i = 1; i <= n; i++) {
                        lua_rawgeti(L, 7, (lua_Integer)i);
                        x->unset[x->nunset++] = check_cstring(L, -1, "exec: unset[]");
                        lua_pop(L, 1);
                }
        }
}

/* Slots 6 to 10: opts.env and opts.unset, counted, then copied into arrays. */
static void exec_read_env(lua_State *L, struct exec_call *x)
{
        size_t nset = 0, nunset = 0;

        lua_getfield(L, 2, "env");
        lua_getfield(L, 2, "unset");
        if (!lua_isnil(L, 6) && !lua_istable(L, 6))
                luaL_error(L, "exec: env must be a table of NAME = value");
        if (!lua_isnil(L, 7) && !lua_istable(L, 7))
                luaL_error(L, "exec: unset must be a list of name patterns");
        if (lua_istable(L, 6))
                exec_count_env(L, &nset, &nunset);
        if (lua_istable(L, 7))
                nunset += lua_rawlen(L, 7);
        x->set = lua_newuserdatauv(L, (nset + 1) * sizeof(*x->set), 0);
        x->unset = lua_newuserdatauv(L, (nunset + 1) * sizeof(*x->unset), 0);
        lua_newtable(L);
        exec_fill_env(L, x);
}

/* x->masked: the command line as the log shows it, quoted, the cookie masked. */
static void exec_describe(const struct api_env *env, struct exec_call *x)
{
        for (lua_Integer k = 0; k < x->argc; k++) {
                if (k)
                        buf_putc(x->line, ' ');
                /* Quoting splits a cookie holding a quote: then it is masked before. */
                buf_reset(x->what);
                quote_arg(x->what, x->argv[k]);
                if (!str_empty(env->cookie) && strstr(x->argv[k], env->cookie) &&
                    !strstr(x->what->data, env->cookie)) {
                        buf_reset(x->what);
                        api_mask(env->cookie, x->argv[k], strlen(x->argv[k]), x->masked);
                        quote_arg(x->what, x->masked->data);
                        buf_reset(x->masked);
                }
                buf_append(x->line, x->what->data, x->what->len);
        }
        buf_reset(x->what);
        if (x->cwd)
                buf_printf(x->line, " (in %s)", x->cwd);
        api_mask(env->cookie, x->line->data, x->line->len, x->masked);
}

/*
 * Run the command with its output into the instance's logs, between two
 * stamped lines.  No Lua calls: C owns the fds and envp here.  x->what gets
 * why it failed ("" when it exited 0), x->tail the end of its output.
 */
static int exec_spawn(const struct api_env *env, struct exec_call *x, struct spawn_result *res)
{
        char **envp = spawn_env_build(NULL, x->unset, x->nunset, x->set, x->nset);
        int out_fd = open_log(env, 0), err_fd = open_log(env, 1);
        struct spawn_opts o;
        struct spawn_run run;
        char when[32];
        int r;

        stamp(when, sizeof(when));
        buf_reset(x->line);
        buf_printf(x->line, "[deployex %s] exec: %s\n", when, x->masked->data);
        write_str(out_fd, x->line->data);

        /* A command dies with the hook that runs it (and so with the daemon's job). */
        o = (struct spawn_opts){ x->argv, envp, x->cwd, -1, -1, -1, true, NULL, NULL };
        run = (struct spawn_run){ x->limit, API_EXEC_GRACE_MS, out_fd, err_fd, API_OUTPUT_TAIL };
        r = spawn_run(&o, &run, res);
        if (r < 0) {
                buf_printf(x->what, "cannot execute '%s': %s", x->argv[0], strerror(-r));
        } else {
                buf_release(x->tail);
                *x->tail = res->tail; /* the box owns it now */
                buf_init(&res->tail);
                if (res->timed_out || !WIFEXITED(res->wstatus) || WEXITSTATUS(res->wstatus) != 0)
                        spawn_describe_status(res->wstatus, res->timed_out, x->limit, x->what);
        }
        stamp(when, sizeof(when));
        buf_reset(x->line);
        buf_printf(x->line, "[deployex %s] %s\n", when,
                   x->what->len ? x->what->data : "exited with status 0");
        write_str(out_fd, x->line->data);
        if (out_fd >= 0)
                close(out_fd);
        if (err_fd >= 0)
                close(err_fd);
        spawn_strv_free(envp);
        return r;
}

/* The result table: ok, status or signal, timed_out, output (cookie masked), error. */
static void exec_push_result(lua_State *L, const struct api_env *env, struct exec_call *x, int r,
                             const struct spawn_result *res)
{
        lua_createtable(L, 0, 6);
        lua_pushboolean(L, r == 0 && x->what->len == 0);
        lua_setfield(L, -2, "ok");
        if (r == 0 && !res->timed_out && WIFEXITED(res->wstatus)) {
                lua_pushinteger(L, WEXITSTATUS(res->wstatus));
                lua_setfield(L, -2, "status");
        }
        if (r == 0 && WIFSIGNALED(res->wstatus)) {
                lua_pushinteger(L, WTERMSIG(res->wstatus));
                lua_setfield(L, -2, "signal");
        }
        lua_pushboolean(L, r == 0 && res->timed_out);
        lua_setfield(L, -2, "timed_out");
        buf_reset(x->masked);
        /* A full tail was cut from longer output: maybe inside the cookie. */
        if (x->tail->len >= API_OUTPUT_TAIL)
                api_mask_cut(env->cookie, x->tail->data, x->tail->len, x->masked);
        else
                api_mask(env->cookie, x->tail->data, x->tail->len, x->masked);
        lua_pushlstring(L, x->masked->data, x->masked->len);
        lua_setfield(L, -2, "output");
        if (x->what->len) {
                lua_pushlstring(L, x->what->data, x->what->len);
                lua_setfield(L, -2, "error");
        }
}

static int l_exec(lua_State *L)
{
        struct api_env *env = env_of(L);
        struct exec_call x = { 0 };
        struct spawn_result res;
        uint64_t remaining;
        int r;

        luaL_checktype(L, 1, LUA_TTABLE);
        if (lua_isnoneornil(L, 2)) {
                lua_settop(L, 1);
                lua_newtable(L);
        }
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_settop(L, 2);
        exec_read_argv(L, &x);
        exec_read_options(L, &x);
        exec_read_env(L, &x);

        remaining = sandbox_remaining_ms(L);
        if (remaining == 0)
                sandbox_time_error(L);
        x.limit = x.timeout > 0 && (uint64_t)x.timeout < remaining ? (uint64_t)x.timeout : remaining;
        x.line = sandbox_push_buf(L);
        x.masked = sandbox_push_buf(L);
        x.tail = sandbox_push_buf(L);
        x.what = sandbox_push_buf(L);
        exec_describe(env, &x);
        r = exec_spawn(env, &x, &res);
        exec_push_result(L, env, &x, r, &res);
        return 1;
}

/* ---- files ---------------------------------------------------------------- */

static int l_glob(lua_State *L)
{
        const char *pattern = check_cstring(L, 1, "glob: pattern");
        struct buf *found = sandbox_push_buf(L);
        size_t count = 0;
        glob_t g;
        int r;

        memset(&g, 0, sizeof(g));
        r = glob(pattern, 0, NULL, &g);
        if (r == 0) {
                count = g.gl_pathc;
                for (size_t i = 0; i < g.gl_pathc && i < GLOB_MAX; i++)
                        buf_append(found, g.gl_pathv[i], strlen(g.gl_pathv[i]) + 1);
        }
        globfree(&g);
        if (r != 0 && r != GLOB_NOMATCH)
                return luaL_error(L, "glob: cannot read a directory for '%s'", pattern);
        if (count > GLOB_MAX)
                return luaL_error(L, "glob: more than %d matches for '%s'", GLOB_MAX, pattern);
        lua_createtable(L, (int)count, 0);
        for (size_t i = 0, off = 0; i < count; i++) {
                const char *p = found->data + off;

                lua_pushstring(L, p);
                lua_rawseti(L, -2, (lua_Integer)i + 1);
                off += strlen(p) + 1;
        }
        return 1;
}

static int l_read_file(lua_State *L)
{
        const char *path = check_cstring(L, 1, "read_file: path");
        struct buf *text = sandbox_push_buf(L);
        int r = file_read_all_flags(path, FILE_FOLLOW, API_READ_MAX, text);

        if (r < 0) {
                luaL_pushfail(L);
                lua_pushfstring(L, "cannot read '%s': %s", path,
                                r == -EFBIG ? "larger than 16 MiB" : file_strerror(r));
                return 2;
        }
        lua_pushlstring(L, text->data, text->len);
        return 1;
}

/*
 * deployex.cookie_home(dir) -> dir | nil, err: DIR (0700) holding the
 * cookie as .erlang.cookie (0400), for HOME=DIR: the VM reads its cookie
 * there, so it never goes on a command line.  See state/cookie_home.h.
 */
static int l_cookie_home(lua_State *L)
{
        struct api_env *env = env_of(L);
        const char *dir = check_cstring(L, 1, "cookie_home: dir");
        int r;

        if (str_empty(env->cookie)) {
                luaL_pushfail(L);
                lua_pushstring(L, "cookie_home: no cookie configured");
                return 2;
        }
        r = cookie_home_write(dir, env->cookie);
        if (r < 0) {
                luaL_pushfail(L);
                lua_pushfstring(L, "cookie_home: cannot prepare '%s': %s", dir,
                                r == -EPERM ? "owned by another user" : file_strerror(r));
                return 2;
        }
        lua_pushstring(L, dir);
        return 1;
}

/* ---- time ----------------------------------------------------------------- */

static void sleep_for(uint64_t ms)
{
        struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int l_sleep_ms(lua_State *L)
{
        lua_Integer ms = luaL_checkinteger(L, 1);
        uint64_t remaining = sandbox_remaining_ms(L);

        if (ms < 0)
                return luaL_error(L, "sleep_ms: negative duration");
        if ((uint64_t)ms > remaining) {
                sleep_for(remaining);
                sandbox_time_error(L);
        }
        sleep_for((uint64_t)ms);
        return 0;
}

/* The timeout a blocking call may use: what it asks for (or dflt), within the hook's time. */
static uint64_t clip_timeout(lua_State *L, lua_Integer asked, uint64_t dflt)
{
        uint64_t remaining = sandbox_remaining_ms(L);
        uint64_t t = asked > 0 ? (uint64_t)asked : dflt;

        if (remaining == 0)
                sandbox_time_error(L);
        return t < remaining ? t : remaining;
}

/* ---- network -------------------------------------------------------------- */

static lua_Integer opt_int_field(lua_State *L, int t, const char *key, const char *fn)
{
        lua_Integer v = 0;
        int isint = 0;

        if (lua_isnoneornil(L, t))
                return 0;
        lua_getfield(L, t, key);
        if (!lua_isnil(L, -1)) {
                v = lua_tointegerx(L, -1, &isint);
                if (!isint || v <= 0)
                        luaL_error(L, "%s: %s must be a positive integer", fn, key);
        }
        lua_pop(L, 1);
        return v;
}

static bool header_text_ok(const char *s)
{
        return strpbrk(s, "\r\n") == NULL;
}

/* How deployex.http sends (api_http.h): chosen once per process, before any hook runs. */
static api_http_fn *http_send;

void api_set_http(api_http_fn *fn)
{
        http_send = fn;
}

api_http_fn *api_get_http(void)
{
        return http_send;
}

static int l_http(lua_State *L)
{
        const char *method = check_cstring(L, 1, "http: method");
        const char *url = check_cstring(L, 2, "http: url");
        const char *body = NULL;
        size_t body_len = 0, nheaders = 0;
        const char **headers;
        struct buf *hdr_text, *err, *resp_body;
        struct api_http_request req;
        long status = 0;
        uint64_t timeout;
        int r;

        for (const char *p = method; *p; p++)
                if (*p < 'A' || *p > 'Z')
                        return luaL_error(L, "http: method must be upper case letters, got '%s'", method);
        if (!lua_isnoneornil(L, 3))
                luaL_checktype(L, 3, LUA_TTABLE);
        timeout = clip_timeout(L, opt_int_field(L, 3, "timeout_ms", "http"), API_HTTP_TIMEOUT_MS);
        lua_settop(L, 3);
        hdr_text = sandbox_push_buf(L); /* 4: "Name: value\0" ... */
        err = sandbox_push_buf(L);      /* 5 */
        resp_body = sandbox_push_buf(L); /* 6 */
        if (lua_istable(L, 3)) {
                lua_getfield(L, 3, "body"); /* 7 */
                if (!lua_isnil(L, 7)) {
                        if (lua_type(L, 7) != LUA_TSTRING)
                                return luaL_error(L, "http: body must be a string");
                        body = lua_tolstring(L, 7, &body_len);
                }
                lua_getfield(L, 3, "headers"); /* 8 */
                if (lua_istable(L, 8)) {
                        lua_pushnil(L);
                        while (lua_next(L, 8)) {
                                const char *k, *v;

                                if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                                        return luaL_error(L, "http: headers must be name = value strings");
                                k = lua_tostring(L, -2);
                                v = lua_tostring(L, -1);
                                if (!header_text_ok(k) || !header_text_ok(v) || strchr(k, ':'))
                                        return luaL_error(L, "http: bad header '%s'", k);
                                buf_printf(hdr_text, "%s: %s", k, v);
                                buf_putc(hdr_text, '\0');
                                nheaders++;
                                lua_pop(L, 1);
                        }
                } else if (!lua_isnil(L, 8)) {
                        return luaL_error(L, "http: headers must be a table");
                }
        }
        headers = lua_newuserdatauv(L, (nheaders + 1) * sizeof(*headers), 0);
        for (size_t i = 0, off = 0; i < nheaders; i++) {
                headers[i] = hdr_text->data + off;
                off += strlen(headers[i]) + 1;
        }
        headers[nheaders] = NULL;

        /* No Lua calls until the sender returns: it writes into boxes the collector owns. */
        req = (struct api_http_request){ .method = method, .url = url, .headers = headers,
                                         .body = body, .body_len = body_len,
                                         .timeout_ms = timeout, .max_bytes = API_HTTP_BODY_MAX };
        r = http_send ? http_send(&req, &status, resp_body, err) : -ENOSYS;
        if (r == 0) {
                lua_pushinteger(L, status);
                lua_pushlstring(L, resp_body->data, resp_body->len);
                return 2;
        }
        if (!http_send)
                buf_printf(err, "%s %s: this program has no HTTP client", method, url);
        luaL_pushfail(L);
        lua_pushlstring(L, err->data, err->len);
        return 2;
}

static int l_tcp_check(lua_State *L)
{
        const char *host = check_cstring(L, 1, "tcp_check: host");
        lua_Integer port = luaL_checkinteger(L, 2);
        lua_Integer asked = luaL_optinteger(L, 3, 0);
        struct addrinfo hints, *res = NULL;
        char portstr[16], why[160] = "";
        uint64_t timeout, start;
        bool ok = false;
        int r;

        if (port < 1 || port > 65535)
                return luaL_error(L, "tcp_check: port must be 1..65535");
        timeout = clip_timeout(L, asked, API_TCP_TIMEOUT_MS);
        snprintf(portstr, sizeof(portstr), "%lld", (long long)port);
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;

        /* No Lua calls until res is freed. */
        start = time_mono_ms();
        r = getaddrinfo(host, portstr, &hints, &res);
        if (r != 0)
                snprintf(why, sizeof(why), "%s", gai_strerror(r));
        for (struct addrinfo *ai = r == 0 ? res : NULL; ai && !ok; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                ai->ai_protocol);
                int soerr = 0;
                socklen_t len = sizeof(soerr);

                if (fd < 0) {
                        snprintf(why, sizeof(why), "%s", strerror(errno));
                        continue;
                }
                if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
                        ok = true;
                } else if (errno == EINPROGRESS) {
                        struct pollfd pfd = { fd, POLLOUT, 0 };
                        uint64_t now, left;

                        now = time_mono_ms();
                        left = now - start < timeout ? timeout - (now - start) : 0;
                        r = poll(&pfd, 1, (int)left);
                        if (r == 0)
                                snprintf(why, sizeof(why), "timed out after %llu ms",
                                         (unsigned long long)timeout);
                        else if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
                                 soerr == 0)
                                ok = true;
                        else
                                snprintf(why, sizeof(why), "%s", strerror(soerr ? soerr : errno));
                } else {
                        snprintf(why, sizeof(why), "%s", strerror(errno));
                }
                close(fd);
        }
        if (res)
                freeaddrinfo(res);
        if (ok) {
                lua_pushboolean(L, 1);
                return 1;
        }
        luaL_pushfail(L);
        lua_pushfstring(L, "tcp %s:%d: %s", host, (int)port, why);
        return 2;
}

/* ---- distribution ------------------------------------------------------------ */

#define EIX_MT "deployex.ei_x_buff"

static int eix_gc(lua_State *L)
{
        ei_x_buff *x = luaL_checkudata(L, 1, EIX_MT);

        if (x->buff)
                ei_x_free(x);
        x->buff = NULL;
        return 0;
}

/* An ei_x_buff the collector frees: term_encode/decode may raise past this frame. */
static ei_x_buff *push_eix(lua_State *L)
{
        ei_x_buff *x = lua_newuserdatauv(L, sizeof(*x), 0);

        memset(x, 0, sizeof(*x));
        if (luaL_newmetatable(L, EIX_MT)) {
                lua_pushcfunction(L, eix_gc);
                lua_setfield(L, -2, "__gc");
        }
        lua_setmetatable(L, -2);
        if (ei_x_new(x) < 0)
                luaL_error(L, "rpc: out of memory");
        return x;
}

/* A module or function name: a string or deployex.atom(); the text replaces the argument. */
static const char *rpc_name(lua_State *L, int idx, const char *what)
{
        const char *kind = term_kind(L, idx);
        size_t len;

        if (kind && strcmp(kind, "atom") == 0) {
                lua_getfield(L, idx, "value");
                lua_replace(L, idx);
        }
        if (lua_type(L, idx) != LUA_TSTRING)
                luaL_error(L, "rpc: %s must be a string or an atom, got %s", what, luaL_typename(L, idx));
        lua_tolstring(L, idx, &len);
        if (len == 0 || len >= MAXATOMLEN)
                luaL_error(L, "rpc: %s must be 1 to %d bytes", what, MAXATOMLEN - 1);
        return check_cstring(L, idx, what);
}

/*
 * deployex.rpc(node, mod, fun, args, timeout_ms) -> reply | nil, err
 * One connection per call (beam.h).  args is a list of Lua values (term.h
 * says how they become terms); nil means [].  A {badrpc, R} reply is an
 * error: nil, "badrpc: R" with R in Erlang syntax.  Each call leaves one
 * line in the instance's stdout log (never the arguments).
 */
static int l_rpc(lua_State *L)
{
        struct api_env *env = env_of(L);
        const char *node = check_cstring(L, 1, "rpc: node");
        const char *mod = rpc_name(L, 2, "rpc: mod");
        const char *fun = rpc_name(L, 3, "rpc: fun");
        lua_Integer asked = 0, nargs = 0;
        struct buf *err, *line;
        ei_x_buff *args, *reply;
        struct beam_opts o;
        struct beam_conn c;
        uint64_t timeout, start, spent;
        int r, index = 0, out_fd;
        char when[32];

        if (!lua_isnoneornil(L, 5)) {
                int isint = 0;

                asked = lua_tointegerx(L, 5, &isint);
                if (!isint || asked <= 0)
                        return luaL_error(L, "rpc: timeout_ms must be a positive integer");
        }
        if (!lua_isnoneornil(L, 4)) {
                lua_Integer count = 0;

                luaL_checktype(L, 4, LUA_TTABLE);
                nargs = (lua_Integer)lua_rawlen(L, 4);
                lua_pushnil(L);
                while (lua_next(L, 4)) {
                        count++;
                        lua_pop(L, 1);
                }
                if (count != nargs)
                        return luaL_error(L, "rpc: args must be a list {a, b, ...}");
        }
        lua_settop(L, 4);
        args = push_eix(L);  /* 5 */
        reply = push_eix(L); /* 6 */
        err = sandbox_push_buf(L);
        line = sandbox_push_buf(L);
        if (lua_isnil(L, 4) || nargs == 0) {
                if (ei_x_encode_empty_list(args) < 0)
                        return luaL_error(L, "rpc: out of memory");
        } else if (term_encode(L, 4, args, err) < 0) {
                return luaL_error(L, "rpc: args%s", err->data);
        }
        if (str_empty(env->cookie)) {
                luaL_pushfail(L);
                lua_pushfstring(L, "rpc %s: no cookie to connect with", node);
                return 2;
        }
        timeout = clip_timeout(L, asked, API_RPC_TIMEOUT_MS);

        if (env->tls && !env->tls->ctx &&
            beam_tls_new(env->tls->cert, env->tls->key, env->tls->ca, &env->tls->ctx, err) < 0) {
                luaL_pushfail(L);
                lua_pushfstring(L, "rpc %s: %s", node, err->data);
                return 2;
        }

        /* From here to the result: no Lua calls, C owns the connection. */
        start = time_mono_ms();
        o = (struct beam_opts){ env->cookie,
                                (unsigned)(timeout < API_RPC_CONNECT_MS ? timeout : API_RPC_CONNECT_MS),
                                env->tls ? beam_tls_transport(env->tls->ctx) : NULL };
        r = beam_connect(&c, node, &o, err);
        if (r == 0) {
                /* The call gets its whole timeout, within what the hook has left. */
                uint64_t left = sandbox_remaining_ms(L);

                r = beam_rpc(&c, mod, fun, args->buff, args->index,
                             (unsigned)(timeout < left ? timeout : left ? left : 1), reply, err);
                beam_close(&c);
        }
        spent = time_mono_ms() - start;
        out_fd = open_log(env, 0);
        stamp(when, sizeof(when));
        buf_printf(line, "[deployex %s] rpc %s %s:%s/%lld: %s (%llu ms)\n", when, node, mod, fun,
                   (long long)nargs, r == 0 ? "ok" : err->data, (unsigned long long)spent);
        write_str(out_fd, line->data);
        if (out_fd >= 0)
                close(out_fd);

        if (r < 0) {
                buf_reset(line);
                api_mask(env->cookie, err->data, err->len, line);
                luaL_pushfail(L);
                lua_pushlstring(L, line->data, line->len);
                return 2;
        }
        if (term_decode(L, reply->buff, &index) < 0) {
                luaL_pushfail(L);
                lua_pushfstring(L, "rpc %s %s:%s: cannot decode the reply", node, mod, fun);
                return 2;
        }
        return 1;
}

static int open_all(lua_State *L)
{
        static const luaL_Reg funcs[] = {
                { "exec", l_exec },           { "log", l_log },
                { "glob", l_glob },           { "read_file", l_read_file },
                { "sleep_ms", l_sleep_ms },   { "http", l_http },
                { "tcp_check", l_tcp_check }, { "rpc", l_rpc },
                { "cookie_home", l_cookie_home },
                { NULL, NULL },
        };

        lua_newtable(L);
        luaL_setfuncs(L, funcs, 0);
        term_open(L);
        lua_setglobal(L, "deployex");
        lua_pushcfunction(L, l_print);
        lua_setglobal(L, "print");
        return 0;
}

void api_bind(struct sandbox *sb, struct api_env *env)
{
        sandbox_set_user(sb, env);
}

int api_open(lua_State *L)
{
        lua_pushcfunction(L, open_all);
        return lua_pcall(L, 0, 0, 0) == LUA_OK ? 0 : (lua_pop(L, 1), -ENOMEM);
}
