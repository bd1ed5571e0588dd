/*
 * sandbox: a Lua state with a memory cap, an instruction and time limit and
 * only safe libraries.  See sandbox.h.
 */
#include "lua/sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "state/json.h"
#include "base/banned.h"

/* The count hook runs every HOOK_EVERY VM instructions: cheap, and fine-grained enough. */
#define HOOK_EVERY 1000

struct sandbox {
        lua_State *L;
        size_t mem_max;
        size_t mem_used;
        bool mem_exceeded;
        uint64_t instr_max;
        uint64_t instr_count;
        uint64_t time_ms;
        uint64_t deadline_ms;
        /* Where the count hook last saw Lua code run: the best answer for a memory error. */
        char where[512];
        char **files; /* loaded hook files, to give back full paths Lua shortened */
        size_t nfiles;
        void *user;
};

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
        struct sandbox *sb = ud;
        size_t old = ptr ? osize : 0; /* with ptr NULL, osize is a type tag */
        void *p;

        if (nsize == 0) {
                free(ptr);
                sb->mem_used -= old;
                return NULL;
        }
        if (nsize > old && nsize - old > sb->mem_max - sb->mem_used) {
                sb->mem_exceeded = true;
                return NULL; /* Lua collects garbage, retries, then raises LUA_ERRMEM */
        }
        p = realloc(ptr, nsize);
        if (!p)
                return NULL;
        sb->mem_used = sb->mem_used - old + nsize;
        return p;
}

struct sandbox *sandbox_of(lua_State *L)
{
        void *ud = NULL;

        lua_getallocf(L, &ud);
        return ud;
}

lua_State *sandbox_state(struct sandbox *sb)
{
        return sb->L;
}

void sandbox_set_user(struct sandbox *sb, void *user)
{
        sb->user = user;
}

void *sandbox_user(lua_State *L)
{
        return sandbox_of(L)->user;
}

size_t sandbox_mem_used(const struct sandbox *sb)
{
        return sb->mem_used;
}

uint64_t sandbox_remaining_ms(lua_State *L)
{
        struct sandbox *sb = sandbox_of(L);
        uint64_t now = time_mono_ms();

        return now >= sb->deadline_ms ? 0 : sb->deadline_ms - now;
}

/* The chunk name Lua keeps in full ("@path" -> path); short_src may be cut to 60 bytes. */
static void describe_frame(const lua_Debug *ar, struct buf *out)
{
        if (ar->source && ar->source[0] == '@')
                buf_printf(out, "%s:%d", ar->source + 1, ar->currentline);
        else
                buf_printf(out, "%s:%d", ar->short_src, ar->currentline);
}

void sandbox_where(lua_State *L, struct buf *out)
{
        lua_Debug ar;

        for (int level = 0; lua_getstack(L, level, &ar); level++) {
                if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
                        continue;
                describe_frame(&ar, out);
                return;
        }
        buf_puts(out, "?");
}

static int raise_at(lua_State *L, const lua_Debug *ar, const char *what)
{
        struct buf b = BUF_INIT;

        if (ar)
                describe_frame(ar, &b);
        else
                sandbox_where(L, &b);
        buf_printf(&b, ": %s", what);
        lua_pushlstring(L, b.data, b.len);
        buf_release(&b);
        return lua_error(L);
}

int sandbox_time_error(lua_State *L)
{
        char what[96];

        snprintf(what, sizeof(what), "time limit exceeded (%llu ms)",
                 (unsigned long long)sandbox_of(L)->time_ms);
        raise_at(L, NULL, what);
        abort(); /* lua_error does not return */
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
        struct sandbox *sb = sandbox_of(L);
        struct buf b = BUF_INIT;
        char what[96];

        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
                describe_frame(ar, &b);
                str_copy(sb->where, sizeof(sb->where), b.data);
        }
        buf_release(&b);
        sb->instr_count += HOOK_EVERY;
        if (sb->instr_count > sb->instr_max) {
                snprintf(what, sizeof(what), "instruction limit exceeded (%llu instructions)",
                         (unsigned long long)sb->instr_max);
                raise_at(L, ar, what);
        }
        if (time_mono_ms() >= sb->deadline_ms) {
                snprintf(what, sizeof(what), "time limit exceeded (%llu ms)",
                         (unsigned long long)sb->time_ms);
                raise_at(L, ar, what);
        }
}

/* "PATH:LINE: ..." already says where: a ':' then digits then ':'. */
static bool has_location(const char *msg)
{
        const char *colon = strchr(msg, ':');
        const char *nl = strchr(msg, '\n');

        if (!colon || colon == msg || (nl && nl < colon))
                return false;
        colon++;
        if (*colon < '0' || *colon > '9')
                return false;
        while (*colon >= '0' && *colon <= '9')
                colon++;
        return *colon == ':';
}

/*
 * Lua cuts long chunk names to "...tail" in the messages it formats itself
 * (syntax and runtime errors).  Give back the full path of the hook file.
 */
static void fix_source(const struct sandbox *sb, const char *msg, struct buf *out)
{
        if (strncmp(msg, "...", 3) == 0 && has_location(msg)) {
                const char *tail = msg + 3;
                size_t tlen = (size_t)(strchr(tail, ':') - tail);

                for (size_t i = 0; i < sb->nfiles; i++) {
                        size_t plen = strlen(sb->files[i]);

                        if (plen >= tlen && memcmp(sb->files[i] + plen - tlen, tail, tlen) == 0) {
                                buf_puts(out, sb->files[i]);
                                buf_puts(out, tail + tlen);
                                return;
                        }
                }
        }
        buf_puts(out, msg);
}

/* The message handler: one string that starts with the hook file and line. */
static int message_handler(lua_State *L)
{
        struct sandbox *sb = sandbox_of(L);
        struct buf b = BUF_INIT;
        const char *msg;

        if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
                msg = lua_tostring(L, 1);
        else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
                msg = lua_tostring(L, -1);
        else
                msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        if (!has_location(msg)) {
                sandbox_where(L, &b);
                buf_puts(&b, ": ");
        }
        fix_source(sb, msg, &b);
        lua_pushlstring(L, b.data, b.len);
        buf_release(&b);
        return 1;
}

/* load() for text only: a binary chunk would bypass the compiler's checks. */
static int safe_load(lua_State *L)
{
        size_t len;
        const char *s, *name;
        int st;

        if (lua_type(L, 1) != LUA_TSTRING)
                return luaL_error(L, "load: only string chunks are allowed in hooks");
        s = lua_tolstring(L, 1, &len);
        name = luaL_optstring(L, 2, "=(load)");
        st = luaL_loadbufferx(L, s, len, name, "t");
        if (st != LUA_OK) {
                luaL_pushfail(L);
                lua_insert(L, -2);
                return 2;
        }
        if (!lua_isnone(L, 4)) {
                lua_pushvalue(L, 4);
                if (!lua_setupvalue(L, -2, 1))
                        lua_pop(L, 1);
        }
        return 1;
}

#define BUF_MT "deployex.buf"

static int buf_gc(lua_State *L)
{
        buf_release(luaL_checkudata(L, 1, BUF_MT));
        return 0;
}

struct buf *sandbox_push_buf(lua_State *L)
{
        struct buf *b = lua_newuserdatauv(L, sizeof(*b), 0);

        buf_init(b);
        luaL_setmetatable(L, BUF_MT);
        return b;
}

static void set_fields_nil(lua_State *L, int t, const char *const *names, size_t n)
{
        t = lua_absindex(L, t);
        for (size_t i = 0; i < n; i++) {
                lua_pushnil(L);
                lua_setfield(L, t, names[i]);
        }
}

static int setup(lua_State *L)
{
        static const char *const base_banned[] = { "dofile", "loadfile", "collectgarbage", "print" };
        static const char *const os_kept[] = { "time", "clock", "date", "difftime" };

        luaL_newmetatable(L, BUF_MT);
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
        lua_pop(L, 1);

        luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
        set_fields_nil(L, -1, base_banned, ARRAY_SIZE(base_banned));
        lua_pushcfunction(L, safe_load);
        lua_setfield(L, -2, "load");
        lua_pop(L, 1);

        luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
        lua_pushnil(L);
        lua_setfield(L, -2, "dump");
        lua_pop(L, 1);
        luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
        luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
        luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
        lua_pop(L, 3);

        /* os: only the clock and calendar functions, in a table of their own. */
        luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
        lua_createtable(L, 0, (int)ARRAY_SIZE(os_kept));
        for (size_t i = 0; i < ARRAY_SIZE(os_kept); i++) {
                lua_getfield(L, -2, os_kept[i]);
                lua_setfield(L, -2, os_kept[i]);
        }
        lua_setglobal(L, LUA_OSLIBNAME);
        lua_pop(L, 1);
        return 0;
}

int sandbox_new(const struct sandbox_limits *limits, struct sandbox **ret)
{
        struct sandbox *sb = xcalloc(1, sizeof(*sb));

        sb->mem_max = limits && limits->mem_bytes ? limits->mem_bytes : SANDBOX_MEM_DEFAULT;
        sb->instr_max = limits && limits->instructions ? limits->instructions
                                                        : SANDBOX_INSTRUCTIONS_DEFAULT;
        sb->time_ms = limits && limits->time_ms ? limits->time_ms : SANDBOX_TIME_DEFAULT_MS;
        sb->deadline_ms = time_mono_ms() + sb->time_ms;
        sb->L = lua_newstate(sandbox_alloc, sb);
        if (!sb->L) {
                free(sb);
                return -ENOMEM;
        }
        lua_pushcfunction(sb->L, setup);
        if (lua_pcall(sb->L, 0, 0, 0) != LUA_OK) {
                sandbox_free(sb);
                return -ENOMEM;
        }
        lua_sethook(sb->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
        *ret = sb;
        return 0;
}

void sandbox_free(struct sandbox *sb)
{
        if (!sb)
                return;
        if (sb->L)
                lua_close(sb->L);
        for (size_t i = 0; i < sb->nfiles; i++)
                free(sb->files[i]);
        free(sb->files);
        free(sb);
}

static void format_error(struct sandbox *sb, int status, struct buf *err)
{
        lua_State *L = sb->L;

        if (status == LUA_ERRMEM) {
                if (sb->mem_exceeded)
                        buf_printf(err, "%s: memory limit exceeded (%zu MiB)",
                                   sb->where[0] ? sb->where : (sb->nfiles ? sb->files[sb->nfiles - 1] : "?"),
                                   sb->mem_max >> 20);
                else
                        buf_puts(err, "out of memory");
        } else if (lua_type(L, -1) == LUA_TSTRING) {
                fix_source(sb, lua_tostring(L, -1), err);
        } else {
                buf_printf(err, "%s: error object is a %s value",
                           sb->where[0] ? sb->where : "?", luaL_typename(L, -1));
        }
        sb->mem_exceeded = false;
        lua_pop(L, 1);
}

static void remember_file(struct sandbox *sb, const char *path)
{
        for (size_t i = 0; i < sb->nfiles; i++)
                if (strcmp(sb->files[i], path) == 0)
                        return;
        sb->files = xrealloc(sb->files, (sb->nfiles + 1) * sizeof(*sb->files));
        sb->files[sb->nfiles++] = xstrdup(path);
}

int sandbox_load_string(struct sandbox *sb, const char *text, size_t len, const char *chunkname,
                        struct buf *err)
{
        int st;

        if (chunkname[0] == '@')
                remember_file(sb, chunkname + 1);
        if (!lua_checkstack(sb->L, 4)) {
                buf_puts(err, "out of memory");
                return -ENOMEM;
        }
        st = luaL_loadbufferx(sb->L, text, len, chunkname, "t");
        if (st != LUA_OK) {
                format_error(sb, st, err);
                return -EINVAL;
        }
        return 0;
}

int sandbox_load_file(struct sandbox *sb, const char *path, struct buf *err)
{
        struct buf text = BUF_INIT, name = BUF_INIT;
        int r;

        r = file_read_all_flags(path, FILE_FOLLOW, SANDBOX_FILE_MAX, &text);
        if (r < 0) {
                buf_printf(err, "%s: cannot read: %s", path,
                           r == -EFBIG ? "larger than 1 MiB" : file_strerror(r));
                return r;
        }
        buf_printf(&name, "@%s", path);
        r = sandbox_load_string(sb, text.data, text.len, name.data, err);
        buf_release(&name);
        buf_release(&text);
        return r;
}

int sandbox_pcall(struct sandbox *sb, int nargs, int nresults, struct buf *err)
{
        lua_State *L = sb->L;
        int base = lua_gettop(L) - nargs;
        int st;

        if (!lua_checkstack(L, 8)) {
                lua_pop(L, nargs + 1);
                buf_puts(err, "out of memory");
                return -ENOMEM;
        }
        lua_pushcfunction(L, message_handler);
        lua_insert(L, base);
        st = lua_pcall(L, nargs, nresults, base);
        lua_remove(L, base);
        if (st != LUA_OK) {
                format_error(sb, st, err);
                return -EINVAL;
        }
        return 0;
}
