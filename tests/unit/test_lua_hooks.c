/*
 * Hook loading and calling: the default layer (common.lua, then the
 * language file) under a per-app file, deployex.default, ctx, JSON output
 * with the cookie masked, the typed answers the daemon uses, `check` errors
 * at file:line -- and the shipped default hooks
 * (hooks/{common,elixir,erlang,gleam}.lua) against release directories laid out like
 * real ones, with stand-in release scripts (the integration tests run real
 * releases).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lua/hooks.h"
#include "state/config.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/node.h"
#include "base/banned.h"

static char root[64];
static struct buf logged;

static void capture_log(void *data, const char *level, const char *msg)
{
        (void)data;
        buf_printf(&logged, "%s: %s\n", level, msg);
}

static void put(const char *rel, const char *text)
{
        struct buf path = BUF_INIT, dir = BUF_INIT;

        buf_printf(&path, "%s/%s", root, rel);
        buf_append(&dir, path.data, (size_t)(strrchr(path.data, '/') - path.data));
        assert_int_equal(mkdir_p(dir.data, 0700), 0);
        assert_int_equal(atomic_write_file(path.data, text, strlen(text)), 0);
        buf_release(&path);
        buf_release(&dir);
}

static void drop(const char *rel)
{
        struct buf path = BUF_INIT;

        buf_printf(&path, "%s/%s", root, rel);
        if (unlink(path.data) < 0)
                assert_int_equal(errno, ENOENT);
        buf_release(&path);
}

static void put_exec(const char *rel, const char *text)
{
        struct buf path = BUF_INIT;

        put(rel, text);
        buf_printf(&path, "%s/%s", root, rel);
        assert_int_equal(chmod(path.data, 0755), 0);
        buf_release(&path);
}

/* A config with app "myapp" of `language`, hooks file `hooks` (relative to root, or NULL). */
static void load_config(struct config *c, const char *language, const char *hooks)
{
        struct buf text = BUF_INIT, err = BUF_INIT;

        buf_printf(&text,
                   "{\"source\": \"file://%s/bucket\", \"cookie\": \"m0nster-cookie\", "
                   "\"var_path\": \"%s/var\", \"log_path\": \"%s/log\", \"overrides_path\": \"%s/ov\", "
                   "\"apps\": [{\"name\": \"myapp\", \"language\": \"%s\", \"replicas\": 3, "
                   "\"ports\": {\"PORT\": 47100, \"METRICS\": 47200}, \"env\": {\"MODE\": \"test\"}",
                   root, root, root, root, language);
        if (hooks)
                buf_printf(&text, ", \"hooks\": \"%s/%s\"", root, hooks);
        buf_puts(&text, "}]}");
        if (config_parse(text.data, text.len, "test.json", c, &err) != 0)
                fail_msg("config: %s", err.data);
        buf_release(&text);
        buf_release(&err);
}

static void init_call(struct hook_call *call, const struct config *c, int n, const char *dir)
{
        memset(call, 0, sizeof(*call));
        call->config = c;
        call->app = &c->apps[0];
        call->instance = n;
        call->hooks_dir = dir;
        call->log = capture_log;
}

static char test_hooks_dir[96];

static const char default_hooks[] =
        "function start(ctx)\n"
        "  return {argv = {'bin/' .. ctx.app, 'foreground'}, unset = {'RELEASE_*'},\n"
        "          env = {RELEASE_NODE = ctx.sname, RELEASE_COOKIE = ctx.cookie, PORT = ctx.ports.PORT}}\n"
        "end\n"
        "function pre_commands(ctx) return true end\n"
        "function upgrade_kind(ctx) return 'full' end\n"
        "function describe(ctx) return 'default of ' .. ctx.app end\n";

static void test_override_and_default(void **state)
{
        struct config c;
        struct hook_call call;
        struct hook_result res;
        struct buf err = BUF_INIT, json = BUF_INIT;
        bool hot = false;
        char stage[32];
        (void)state;

        put("hooks/erlang.lua", default_hooks);
        put("app.lua",
            "-- the app's hooks\n"
            "function upgrade_kind(ctx)\n"
            "  return deployex.default.upgrade_kind(ctx) == 'full' and 'hot' or 'full'\n"
            "end\n"
            "function health(ctx) return nil, 'not ready: cookie ' .. ctx.cookie, 'probe' end\n"
            "function describe(ctx) return 'app, ' .. deployex.default.describe(ctx) end\n"
            "function dump(ctx) return ctx end\n"
            "function many(ctx) return 1, 'two', {3}, nil end\n"
            "function leak(ctx) error('cookie is ' .. ctx.cookie) end\n");
        load_config(&c, "erlang", "app.lua");
        init_call(&call, &c, 2, test_hooks_dir);
        call.version = "1.0.1";

        /* The app's function replaced the default one, which it still reached. */
        assert_int_equal(hooks_upgrade_kind(&call, &hot, &err), 0);
        assert_true(hot);
        assert_int_equal(hooks_call(&call, "describe", &res, &err), 0);
        hook_result_to_json(&res, &json);
        assert_string_equal(json.data, "\"app, default of myapp\"");
        hook_result_release(&res);

        /* A failure answer comes back with its message (cookie masked) and stage. */
        assert_int_equal(hooks_call_ok(&call, "health", &err, stage, sizeof(stage)), -EIO);
        assert_string_equal(err.data, "not ready: cookie ********");
        assert_string_equal(stage, "probe");
        buf_reset(&err);

        /* Several values print as an array; nothing defined is -ENOENT. */
        assert_int_equal(hooks_call(&call, "many", &res, &err), 0);
        buf_reset(&json);
        hook_result_to_json(&res, &json);
        assert_string_equal(json.data, "[1,\"two\",[3],null]");
        hook_result_release(&res);
        /* An error message that carries the cookie is masked too. */
        assert_int_equal(hooks_call(&call, "leak", &res, &err), -EINVAL);
        assert_true(strstr(err.data, "app.lua:9: cookie is ********") != NULL);
        assert_null(strstr(err.data, "m0nster"));
        buf_reset(&err);
        assert_int_equal(hooks_call(&call, "on_event", &res, &err), -ENOENT);
        assert_non_null(strstr(err.data, "hook 'on_event' is not defined"));
        buf_reset(&err);

        /* Defaults alone (no app file). */
        config_release(&c);
        load_config(&c, "erlang", NULL);
        init_call(&call, &c, 2, test_hooks_dir);
        assert_int_equal(hooks_upgrade_kind(&call, &hot, &err), 0);
        assert_false(hot);
        config_release(&c);
        buf_release(&err);
        buf_release(&json);
}

static void test_ctx(void **state)
{
        struct config c;
        struct hook_call call;
        struct hook_result res;
        struct buf err = BUF_INIT, json = BUF_INIT, want = BUF_INIT, node = BUF_INIT, host = BUF_INIT;
        char *pre[] = { "eval A.b()", "eval C.d()" };
        struct kv ev = { "kind", "crashed" };
        (void)state;

        put("hooks/erlang.lua", default_hooks);
        put("app.lua", "function dump(ctx, ev) ctx.time_limit_ms = nil; ctx.ev = ev; return ctx end\n");
        load_config(&c, "erlang", "app.lua");
        init_call(&call, &c, 2, test_hooks_dir);
        call.version = "1.0.1";
        call.from_version = "1.0.0";
        call.pre_commands = pre;
        call.npre_commands = 2;
        call.event = &ev;
        call.nevent = 1;
        assert_int_equal(hooks_call(&call, "dump", &res, &err), 0);
        hook_result_to_json(&res, &json);

        node_name("myapp", 2, &node);
        node_short_host(&host);
        {
                yajl_val v = NULL, x;
                const char *p_node[] = { "node", NULL }, *p_cookie[] = { "cookie", NULL };
                const char *p_port[] = { "ports", "PORT", NULL }, *p_metrics[] = { "ports", "METRICS", NULL };
                const char *p_cur[] = { "dirs", "current", NULL }, *p_new[] = { "dirs", "new", NULL };
                const char *p_tmp[] = { "dirs", "tmp", NULL }, *p_out[] = { "logs", "stdout", NULL };
                const char *p_pre[] = { "pre_commands", NULL }, *p_env[] = { "env", "MODE", NULL };
                const char *p_ev[] = { "ev", "kind", NULL }, *p_tar[] = { "tarball", NULL };
                const char *p_from[] = { "from_version", NULL }, *p_sname[] = { "sname", NULL };

                if (json_parse(json.data, json.len, "result", &v, &err) != 0)
                        fail_msg("%s", err.data);
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_node, yajl_t_string)), node.data);
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_sname, yajl_t_string)), "myapp-2");
                /* Readable by the hook, masked in the output. */
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_cookie, yajl_t_string)), "********");
                assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, p_port, yajl_t_number)), 47101);
                assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, p_metrics, yajl_t_number)), 47201);
                buf_printf(&want, "%s/var/service/myapp/2/current", root);
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_cur, yajl_t_string)), want.data);
                buf_reset(&want);
                buf_printf(&want, "%s/var/service/myapp/2/new", root);
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_new, yajl_t_string)), want.data);
                buf_reset(&want);
                buf_printf(&want, "%s/var/service/myapp/2/tmp", root);
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_tmp, yajl_t_string)), want.data);
                buf_reset(&want);
                buf_printf(&want, "%s/log/myapp/myapp-2-stdout.log", root);
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_out, yajl_t_string)), want.data);
                buf_reset(&want);
                buf_printf(&want, "%s/var/cache/myapp/myapp-1.0.1.tar.gz", root);
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_tar, yajl_t_string)), want.data);
                x = yajl_tree_get(v, p_pre, yajl_t_array);
                assert_non_null(x);
                assert_int_equal(YAJL_GET_ARRAY(x)->len, 2);
                assert_string_equal(YAJL_GET_STRING(YAJL_GET_ARRAY(x)->values[1]), "eval C.d()");
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_env, yajl_t_string)), "test");
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_ev, yajl_t_string)), "crashed");
                assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, p_from, yajl_t_string)), "1.0.0");
                assert_string_equal(YAJL_GET_STRING(json_get(v, "language")), "erlang");
                assert_int_equal(YAJL_GET_INTEGER(json_get(v, "instance")), 2);
                yajl_tree_free(v);
        }
        assert_null(strstr(json.data, "m0nster"));
        hook_result_release(&res);
        config_release(&c);
        buf_release(&err);
        buf_release(&json);
        buf_release(&want);
        buf_release(&node);
        buf_release(&host);
}

static void test_start_command(void **state)
{
        struct config c;
        struct hook_call call;
        struct hook_command cmd;
        struct buf err = BUF_INIT, want = BUF_INIT;
        bool node = false, cookie = false, port = false, leaked = false;
        (void)state;

        put("hooks/erlang.lua", default_hooks);
        load_config(&c, "erlang", NULL);
        init_call(&call, &c, 3, test_hooks_dir);
        setenv("RELEASE_DISTRIBUTION", "name", 1);
        assert_int_equal(hooks_start(&call, &cmd, &err), 0);
        unsetenv("RELEASE_DISTRIBUTION");
        assert_string_equal(cmd.argv[0], "bin/myapp");
        assert_string_equal(cmd.argv[1], "foreground");
        assert_null(cmd.argv[2]);
        for (char **e = cmd.envp; *e; e++) {
                node = node || strcmp(*e, "RELEASE_NODE=myapp-3") == 0;
                cookie = cookie || strcmp(*e, "RELEASE_COOKIE=m0nster-cookie") == 0; /* real, not masked */
                port = port || strcmp(*e, "PORT=47102") == 0;
                leaked = leaked || strncmp(*e, "RELEASE_DISTRIBUTION=", 21) == 0;
        }
        assert_true(node && cookie && port);
        assert_false(leaked);
        buf_printf(&want, "%s/var/service/myapp/3/current", root);
        assert_string_equal(cmd.cwd, want.data);
        hook_command_release(&cmd);
        config_release(&c);

        /* A malformed answer is reported at the line where the hook is defined. */
        {
                static const struct {
                        const char *hook;
                        const char *error;
                } cases[] = {
                        { "\nfunction start(ctx) return {argv = {}} end", "app.lua:2: start() must return {argv" },
                        { "function start(ctx) return {argv = {'x', 1}} end", "app.lua:1: start() must return {argv" },
                        { "function start(ctx) return 'bin/x' end", "app.lua:1: start() must return {argv" },
                        { "function start(ctx)\n return {argv = {'x'}, env = {A = {}}}\nend", "app.lua:1: start(): env.A must be a string" },
                        { "function start(ctx) return {argv = {'x'}, unset = 'RELEASE_*'} end", "app.lua:1: start(): unset must be a list" },
                        { "function start(ctx) return nil, 'no release in current/' end", "no release in current/" },
                        { "function start(ctx) error('broken') end", "app.lua:1: broken" },
                };

                for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                        put("app.lua", cases[i].hook);
                        load_config(&c, "erlang", "app.lua");
                        init_call(&call, &c, 1, test_hooks_dir);
                        buf_reset(&err);
                        assert_true(hooks_start(&call, &cmd, &err) < 0);
                        if (!strstr(err.data, cases[i].error))
                                fail_msg("%s\nexpected %s\ngot %s", cases[i].hook, cases[i].error, err.data);
                        config_release(&c);
                }
        }
        buf_release(&err);
        buf_release(&want);
}

static void test_check(void **state)
{
        static const struct {
                const char *app_file;      /* NULL: no per-app file */
                const char *default_file;  /* NULL: the good default */
                const char *errors;        /* "" = no error; @ = root */
                const char *common_file;   /* NULL: no hooks/common.lua */
        } cases[] = {
                { "function health(ctx) return true end\n", NULL, "", NULL },
                { "return {health = function(ctx) return true end}\n", NULL, "", NULL },
                { "local x = 1\nfunction health(ctx)\n  return x +\nend\n", NULL,
                  "@/app.lua:4: unexpected symbol near 'end'", NULL },
                { "health = 42\n\nstart = 'bin/app'\n", NULL,
                  "@/app.lua:3: hook 'start' must be a function, got string\n"
                  "@/app.lua:1: hook 'health' must be a function, got number", NULL },
                { "return {on_event = true}", NULL,
                  "@/app.lua: hook 'on_event' must be a function, got boolean", NULL },
                { "local t = nil\nt.x = 1\n", NULL, "@/app.lua:2: attempt to index a nil value (local 't')", NULL },
                { "error('refusing to load')", NULL, "@/app.lua:1: refusing to load", NULL },
                { NULL, "function start(ctx) end\n", "@/hooks/erlang.lua: required hook 'pre_commands' is not defined\n"
                                                    "@/hooks/erlang.lua: required hook 'upgrade_kind' is not defined", NULL },
                { "x = (\n", "function start(ctx\n", "@/hooks/erlang.lua:2: ')' expected near <eof>\n"
                                                      "@/app.lua:2: unexpected symbol near <eof>", NULL },
                { "", "while true do end", "@/hooks/erlang.lua:1: instruction limit exceeded", NULL },
                /* common.lua is part of the default layer: its errors at its own file:line. */
                { NULL, NULL, "", "function health(ctx) return true end\n" },
                { "x = (\n", NULL, "@/hooks/common.lua:3: unexpected symbol near <eof>\n"
                                   "@/app.lua:2: unexpected symbol near <eof>",
                  "-- shared\ny = (\n" },
                { NULL, "function start(ctx\n", "@/hooks/common.lua:3: ')' expected near <eof>\n"
                                                "@/hooks/erlang.lua:2: ')' expected near <eof>",
                  "\nfunction f(a\n" },
                { "function health(ctx) return true end\n", NULL, "@/hooks/common.lua:2: common broke",
                  "local x = 1\nerror('common broke')\n" },
                { NULL, NULL, "@/hooks/common.lua:1: hook 'on_event' must be a function, got number",
                  "on_event = 1\n" },
                /* A required hook common.lua defines is not missing from the language file. */
                { NULL, "function start(ctx) end\nfunction pre_commands(ctx) return true end\n", "",
                  "function upgrade_kind(ctx) return 'full' end\n" },
                { NULL, "function start(ctx) end\n", "@/hooks/erlang.lua: required hook 'pre_commands' is not defined",
                  "function upgrade_kind(ctx) return 'full' end\n" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct config c;
                struct buf err = BUF_INIT, want = BUF_INIT;
                int r;

                put("hooks/erlang.lua", cases[i].default_file ? cases[i].default_file : default_hooks);
                if (cases[i].common_file)
                        put("hooks/common.lua", cases[i].common_file);
                else
                        drop("hooks/common.lua");
                if (cases[i].app_file)
                        put("app.lua", cases[i].app_file);
                load_config(&c, "erlang", cases[i].app_file ? "app.lua" : NULL);
                r = hooks_check_app_dir(&c, &c.apps[0], test_hooks_dir, &err);
                for (const char *p = cases[i].errors; *p; p++) {
                        if (*p == '@')
                                buf_puts(&want, root);
                        else
                                buf_putc(&want, *p);
                }
                if (strncmp(err.data, want.data, want.len) != 0 || (want.len == 0 && err.len != 0))
                        fail_msg("case %zu\nexpected: %s\ngot: %s", i, want.data, err.data);
                assert_int_equal(r, want.len ? -EINVAL : 0);
                config_release(&c);
                buf_release(&err);
                buf_release(&want);
        }
        {
                struct config c;
                struct buf err = BUF_INIT, want = BUF_INIT;

                put("hooks/erlang.lua", default_hooks);
                load_config(&c, "erlang", "missing.lua");
                assert_int_equal(hooks_check_app_dir(&c, &c.apps[0], test_hooks_dir, &err), -EINVAL);
                buf_printf(&want, "%s/missing.lua: cannot read: No such file or directory", root);
                assert_string_equal(err.data, want.data);
                config_release(&c);
                buf_release(&err);
                buf_release(&want);
        }
}

/*
 * hooks/common.lua loads before the language file, as part of the default
 * layer: its functions are globals and deployex.default.NAME; the language
 * file's definition of the same name wins in both; an older install without
 * common.lua still loads.
 */
static void test_common_layer(void **state)
{
        static const struct {
                const char *function;
                const char *json;  /* what it answers */
                const char *where; /* where it is defined, after root */
        } with_common[] = {
                /* A language file calls what common.lua defines. */
                { "via_language", "\"language, only in common\"", "/hooks/erlang.lua:5" },
                /* The app file reaches both layers through deployex.default: the language file's wins. */
                { "via_default", "\"common myapp|language|nil\"", "/app.lua:1" },
                { "upgrade_kind", "\"full\"", "/hooks/erlang.lua:4" },
                { "shared", "\"app\"", "/app.lua:4" },
                { "only_common", "\"only in common\"", "/hooks/common.lua:3" },
        }, without_common[] = {
                { "via_default", "\"nil|language|nil\"", "/app.lua:1" },
                { "upgrade_kind", "\"full\"", "/hooks/erlang.lua:4" },
        };
        static const char language[] =
                "function start(ctx) return {argv = {'bin/x'}} end\n"
                "function pre_commands(ctx) return true end\n"
                "retired = nil\n"
                "function upgrade_kind(ctx) return 'full' end\n"
                "function via_language(ctx) return 'language, ' .. only_common(ctx) end\n"
                "function kind_name(ctx) return 'language' end\n";
        struct buf err = BUF_INIT, json = BUF_INIT, want = BUF_INIT;
        (void)state;

        put("hooks/common.lua",
            "function shared(ctx) return 'common ' .. ctx.app end\n"
            "function upgrade_kind(ctx) return 'hot' end\n"
            "function only_common(ctx) return 'only in common' end\n"
            "function kind_name(ctx) return 'common' end\n"
            "function retired(ctx) return 'common' end\n");
        put("hooks/erlang.lua", language);
        put("app.lua",
            "function via_default(ctx) local d = deployex.default\n"
            "  return (d.shared and d.shared(ctx) or 'nil') .. '|' .. d.kind_name(ctx) .. '|' .. tostring(d.retired)\n"
            "end\n"
            "function shared(ctx) return 'app' end\n");
        for (int pass = 0; pass < 2; pass++) {
                struct config c;
                struct hook_call call;
                size_t n = pass == 0 ? ARRAY_SIZE(with_common) : ARRAY_SIZE(without_common);

                if (pass == 1)
                        drop("hooks/common.lua"); /* an install older than common.lua */
                load_config(&c, "erlang", "app.lua");
                init_call(&call, &c, 1, test_hooks_dir);
                for (size_t i = 0; i < n; i++) {
                        const char *function = pass == 0 ? with_common[i].function : without_common[i].function;
                        const char *answer = pass == 0 ? with_common[i].json : without_common[i].json;
                        const char *where = pass == 0 ? with_common[i].where : without_common[i].where;
                        struct hook_result res;

                        buf_reset(&err);
                        if (hooks_call(&call, function, &res, &err) != 0)
                                fail_msg("pass %d %s: %s", pass, function, err.data);
                        buf_reset(&json);
                        hook_result_to_json(&res, &json);
                        buf_reset(&want);
                        buf_printf(&want, "%s%s", root, where);
                        if (strcmp(json.data, answer) != 0 || strcmp(res.where, want.data) != 0)
                                fail_msg("pass %d %s: expected %s at %s, got %s at %s", pass, function, answer,
                                         want.data, json.data, res.where);
                        hook_result_release(&res);
                }
                /* Both layers and the app file check clean, with common.lua or without. */
                buf_reset(&err);
                assert_int_equal(hooks_check_app_dir(&c, &c.apps[0], test_hooks_dir, &err), 0);
                config_release(&c);
        }
        buf_release(&err);
        buf_release(&json);
        buf_release(&want);
}

static void test_default_dir(void **state)
{
        struct buf dir = BUF_INIT, want = BUF_INIT, exe = BUF_INIT;
        const char *saved = getenv("DEPLOYEX_HOOKS_PATH");
        char *keep = saved ? xstrdup(saved) : NULL;
        char self[512];
        ssize_t n;
        (void)state;

        setenv("DEPLOYEX_HOOKS_PATH", "/opt/hooks", 1);
        assert_int_equal(hooks_default_dir(&dir), 0);
        assert_string_equal(dir.data, "/opt/hooks");
        unsetenv("DEPLOYEX_HOOKS_PATH");

        /* Next to the binary: ../share/deployex/hooks, when it exists. */
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        assert_true(n > 0);
        self[n] = '\0';
        *strrchr(self, '/') = '\0';
        buf_printf(&want, "%s/../share/deployex/hooks", self);
        buf_printf(&exe, "%s/../share", self);
        if (access(exe.data, F_OK) != 0) {
                assert_int_equal(hooks_default_dir(&dir), -ENOENT);
                assert_string_equal(dir.data, "/opt/hooks"); /* untouched */
                assert_int_equal(mkdir_p(want.data, 0700), 0);
                assert_int_equal(hooks_default_dir(&dir), 0);
                assert_string_equal(dir.data, want.data);
                remove_tree(exe.data);
        }
        if (keep)
                setenv("DEPLOYEX_HOOKS_PATH", keep, 1);
        free(keep);
        buf_release(&dir);
        buf_release(&want);
        buf_release(&exe);
}

/* ---- the shipped default hooks ----------------------------------------- */

static const char *shipped_dir(void)
{
        const char *env = getenv("DEPLOYEX_HOOKS_PATH");

        return env && *env ? env : "hooks";
}

static void test_shipped_hooks_check(void **state)
{
        static const char *const langs[] = { "elixir", "erlang", "gleam" };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(langs); i++) {
                struct config c;
                struct buf err = BUF_INIT;

                load_config(&c, langs[i], NULL);
                if (hooks_check_app_dir(&c, &c.apps[0], shipped_dir(), &err) != 0)
                        fail_msg("%s: %s", langs[i], err.data);
                config_release(&c);
                buf_release(&err);
        }
}

static char *argv_text(char **argv)
{
        struct buf b = BUF_INIT;

        for (size_t i = 0; argv[i]; i++)
                buf_printf(&b, "%s%s", i ? " " : "", argv[i]);
        return buf_detach(&b);
}

static void test_shipped_start(void **state)
{
        static const struct {
                const char *lang;
                const char *argv; /* R = the release root; no cookie anywhere */
        } cases[] = {
                /* What bin/myapp start runs, minus --cookie (issue 10 item 2). */
                { "elixir", "R/releases/1.0.1/elixir --sname myapp-1 --erl -mode embedded "
                            "--erl-config R/releases/1.0.1/sys --boot R/releases/1.0.1/start "
                            "--boot-var RELEASE_LIB R/lib --vm-args R/releases/1.0.1/vm.args --no-halt" },
                { "erlang", "bin/myapp-1.0.1 foreground" },
                { "gleam", "erl -pa erlang-shipment/myapp/ebin erlang-shipment/myapp_web/ebin "
                           "-eval myapp@@main:run(myapp) -noshell -sname myapp-1" },
        };
        struct buf rel = BUF_INIT;
        (void)state;

        put("var/service/myapp/1/current/releases/start_erl.data", "13.1.5 1.0.1");
        put_exec("var/service/myapp/1/current/bin/myapp-1.0.1", "#!/bin/sh\n");
        put("var/service/myapp/1/current/erlang-shipment/myapp/ebin/myapp@@main.beam", "");
        put("var/service/myapp/1/current/erlang-shipment/myapp_web/ebin/myapp_web.beam", "");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct config c;
                struct hook_call call;
                struct hook_command cmd;
                struct buf err = BUF_INIT;
                bool tmp = false, dist = false, relx = false, home = false;
                char *text;

                load_config(&c, cases[i].lang, NULL);
                init_call(&call, &c, 1, shipped_dir());
                if (hooks_start(&call, &cmd, &err) != 0)
                        fail_msg("%s: %s", cases[i].lang, err.data);
                text = argv_text(cmd.argv);
                buf_reset(&rel);
                for (const char *p = text; *p;) {
                        size_t n = strlen(root) + strlen("/var/service/myapp/1/current");

                        if (strncmp(p, root, strlen(root)) == 0 &&
                            strncmp(p + strlen(root), "/var/service/myapp/1/current", n - strlen(root)) == 0) {
                                buf_putc(&rel, 'R');
                                p += n;
                        } else {
                                buf_putc(&rel, *p++);
                        }
                }
                free(text);
                text = buf_detach(&rel);
                if (strcmp(text, cases[i].argv) != 0)
                        fail_msg("%s\nexpected %s\ngot      %s", cases[i].lang, cases[i].argv, text);
                for (char **e = cmd.envp; *e; e++) {
                        tmp = tmp || strstr(*e, "RELEASE_TMP=") == *e;
                        dist = dist || strcmp(*e, "RELEASE_DISTRIBUTION=sname") == 0;
                        relx = relx || strcmp(*e, "RELX_REPLACE_OS_VARS=true") == 0;
                        home = home || (strstr(*e, "HOME=") == *e && strstr(*e, "/var/service/myapp/1/home"));
                        assert_null(strstr(*e, "-setcookie"));
                }
                assert_true(tmp);
                assert_true(home); /* the cookie reaches the VM through HOME/.erlang.cookie */
                assert_true(dist); /* DESIGN §5: every language, Gleam included */
                assert_int_equal(relx, strcmp(cases[i].lang, "erlang") == 0);
                free(text);
                hook_command_release(&cmd);
                config_release(&c);
                buf_release(&err);
        }
        buf_release(&rel);
}

/* Pre-commands through a stand-in bin/myapp that records its argv. */
static void test_shipped_pre_commands(void **state)
{
        struct config c;
        struct hook_call call;
        struct buf err = BUF_INIT, calls = BUF_INIT, path = BUF_INIT;
        char *ok_cmds[] = { "eval MyApp.Release.migrate()", "eval MyApp.Release.seed()" };
        char *bad_cmds[] = { "eval MyApp.Release.migrate()", "eval MyApp.Release.fail()", "eval Never.run()" };
        (void)state;

        /* "eval" runs the release's elixir launcher directly (no --cookie): the stand-in records it. */
        put_exec("var/service/myapp/1/current/releases/1.0.1/elixir",
                 "#!/bin/sh\n"
                 "for a; do last=$a; done\n"
                 "case \"$*\" in *cookie*) echo cookie on argv >&2; exit 3;; esac\n"
                 "echo \"$RELEASE_COMMAND|$last|$RELEASE_NODE|$PORT\" >> calls.txt\n"
                 "case \"$last\" in *fail*) echo \"** (RuntimeError) migration failed\" >&2; exit 1;; esac\n"
                 "echo ok\n");
        buf_printf(&path, "%s/var/service/myapp/1/current/calls.txt", root);
        load_config(&c, "elixir", NULL);
        init_call(&call, &c, 1, shipped_dir());
        call.version = "1.0.1";
        call.pre_commands = ok_cmds;
        call.npre_commands = 2;
        assert_int_equal(hooks_call_ok(&call, "pre_commands", &err, NULL, 0), 0);
        assert_int_equal(file_read_all(path.data, 4096, &calls), 0);
        assert_string_equal(calls.data, "eval|MyApp.Release.migrate()|myapp-1|47100\n"
                                        "eval|MyApp.Release.seed()|myapp-1|47100\n");
        unlink(path.data);

        /* Stops at the first failure, which names the command, its status and output. */
        call.pre_commands = bad_cmds;
        call.npre_commands = 3;
        assert_int_equal(hooks_call_ok(&call, "pre_commands", &err, NULL, 0), -EIO);
        assert_string_equal(err.data, "pre-command 2 'eval MyApp.Release.fail()' exited with status 1: "
                                      "** (RuntimeError) migration failed");
        assert_int_equal(file_read_all(path.data, 4096, &calls), 0);
        assert_null(strstr(calls.data, "Never.run"));
        config_release(&c);

        /* Gleam runs only "eval EXPR". */
        load_config(&c, "gleam", NULL);
        init_call(&call, &c, 1, shipped_dir());
        {
                char *cmds[] = { "migrate now" };

                call.pre_commands = cmds;
                call.npre_commands = 1;
                buf_reset(&err);
                assert_int_equal(hooks_call_ok(&call, "pre_commands", &err, NULL, 0), -EIO);
                assert_string_equal(err.data, "pre-command 'migrate now': a Gleam app only runs 'eval EXPR'");
        }
        config_release(&c);
        buf_release(&err);
        buf_release(&calls);
        buf_release(&path);
}

static void test_shipped_upgrade_kind(void **state)
{
        static const char relup[] = "{\"1.0.1\",[{\"1.0.0\",[],[point_of_no_return]}],[{\"1.0.0\",[],[]}]}.\n";
        static const char relup_other[] = "{\"1.0.1\",[{\"0.9.0\",[],[]}],[]}.\n";
        static const struct {
                const char *lang;
                const char *relup;     /* NULL: none */
                bool sys_config;
                const char *erts_new;
                bool rpc;              /* deployex.rpc present */
                const char *node_erts; /* what the node says it runs */
                const char *node_rel;
                const char *node_init; /* init:get_status()'s first element */
                const char *kind;
        } cases[] = {
                { "erlang", relup, true, "13.1.5", true, "13.1.5", "1.0.0", "started", "hot" },
                { "elixir", relup, true, "13.1.5", true, "13.1.5", "1.0.0", "started", "hot" },
                { "erlang", relup, true, "13.1.5", false, "13.1.5", "1.0.0", "started", "full" }, /* no rpc */
                { "erlang", relup_other, true, "13.1.5", true, "13.1.5", "1.0.0", "started", "full" },
                { "erlang", NULL, true, "13.1.5", true, "13.1.5", "1.0.0", "started", "full" },
                { "erlang", relup, false, "13.1.5", true, "13.1.5", "1.0.0", "started", "full" },
                { "erlang", relup, true, "13.2", true, "13.1.5", "1.0.0", "started", "full" },
                { "elixir", relup, true, "13.1.5", true, "13.2", "1.0.0", "started", "full" }, /* node's ERTS */
                { "erlang", relup, true, "13.1.5", true, "13.1.5", "0.9.0", "started", "full" }, /* node's release */
                { "erlang", relup, true, "13.1.5", true, "13.1.5", "1.0.0", "starting", "full" }, /* booting */
                { "erlang", relup, true, "13.1.5", true, NULL, "1.0.0", "started", "full" }, /* unreachable */
                { "gleam", relup, true, "13.1.5", true, "13.1.5", "1.0.0", "started", "full" },
        };
        (void)state;

        put("var/service/myapp/1/current/releases/start_erl.data", "13.1.5 1.0.0\n");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct config c;
                struct hook_call call;
                struct buf err = BUF_INIT, path = BUF_INIT;
                bool hot = false;

                buf_printf(&path, "%s/var/service/myapp/1/new", root);
                remove_tree(path.data);
                buf_reset(&path);
                buf_printf(&path, "%s 1.0.1\n", cases[i].erts_new);
                put("var/service/myapp/1/new/releases/start_erl.data", path.data);
                if (cases[i].relup)
                        put("var/service/myapp/1/new/releases/1.0.1/relup", cases[i].relup);
                if (cases[i].sys_config)
                        put("var/service/myapp/1/new/releases/1.0.1/sys.config", "[].\n");
                /*
                 * The rpc stub stands in for the node: its ERTS version and the release
                 * which_releases calls permanent; nil, err when it is unreachable.
                 */
                buf_reset(&path);
                if (cases[i].rpc && cases[i].node_erts)
                        buf_printf(&path,
                                   "deployex.rpc = function(node, mod, fun, args, timeout)\n"
                                   "  if fun == deployex.atom('system_info') then return '%s' end\n"
                                   "  if fun == deployex.atom('which_releases') then\n"
                                   "    return {deployex.tuple('myapp', '%s', {}, deployex.atom('permanent'))}\n"
                                   "  end\n"
                                   "  if fun == deployex.atom('get_status') then\n"
                                   "    return deployex.tuple(deployex.atom('%s'), deployex.atom('started'))\n"
                                   "  end\n"
                                   "  return nil, 'badrpc: unexpected call'\n"
                                   "end\n", cases[i].node_erts, cases[i].node_rel, cases[i].node_init);
                else if (cases[i].rpc)
                        buf_puts(&path, "deployex.rpc = function() return nil, 'node down' end\n");
                else
                        buf_puts(&path, "deployex.rpc = nil\n");
                put("app.lua", path.data);
                load_config(&c, cases[i].lang, "app.lua");
                init_call(&call, &c, 1, shipped_dir());
                call.version = "1.0.1";
                call.from_version = "1.0.0";
                if (hooks_upgrade_kind(&call, &hot, &err) != 0)
                        fail_msg("case %zu: %s", i, err.data);
                if (strcmp(hot ? "hot" : "full", cases[i].kind) != 0)
                        fail_msg("case %zu (%s): expected %s", i, cases[i].lang, cases[i].kind);
                config_release(&c);
                buf_release(&err);
                buf_release(&path);
        }
}

/* Which file of the shipped layers defines what; Gleam never runs common.lua's hot upgrade. */
static void test_shipped_layers(void **state)
{
        static const struct {
                const char *lang;
                const char *function;
                const char *file; /* the basename that defines it */
        } cases[] = {
                { "erlang", "upgrade_kind", "common.lua" }, { "elixir", "upgrade_kind", "common.lua" },
                { "gleam", "upgrade_kind", "gleam.lua" },   { "erlang", "hot_upgrade", "common.lua" },
                { "elixir", "hot_upgrade", "common.lua" },  { "gleam", "hot_upgrade", "gleam.lua" },
                { "erlang", "release_root", "common.lua" }, { "gleam", "release_root", "common.lua" },
                { "erlang", "start", "erlang.lua" },        { "elixir", "pre_commands", "elixir.lua" },
        };
        struct config c;
        struct hook_call call;
        struct buf err = BUF_INIT, want = BUF_INIT;
        char stage[32];
        (void)state;

        /* Any question to the node fails the call: nothing here may reach one. */
        put("app.lua", "deployex.rpc = function() error('the node was asked') end\n");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct hook_result res;

                load_config(&c, cases[i].lang, "app.lua");
                init_call(&call, &c, 1, shipped_dir());
                buf_reset(&err);
                if (hooks_call(&call, cases[i].function, &res, &err) != 0)
                        fail_msg("%s %s: %s", cases[i].lang, cases[i].function, err.data);
                buf_reset(&want);
                buf_printf(&want, "/%s:", cases[i].file);
                if (!strstr(res.where, want.data))
                        fail_msg("%s %s: defined at %s, expected in %s", cases[i].lang, cases[i].function,
                                 res.where, cases[i].file);
                hook_result_release(&res);
                config_release(&c);
        }

        /* Even asked directly with versions to go between, Gleam refuses before touching the node. */
        load_config(&c, "gleam", "app.lua");
        init_call(&call, &c, 1, shipped_dir());
        call.version = "1.0.1";
        call.from_version = "1.0.0";
        buf_reset(&err);
        assert_int_equal(hooks_call_ok(&call, "hot_upgrade", &err, stage, sizeof(stage)), -EIO);
        assert_non_null(strstr(err.data, "cannot be hot-upgraded"));
        assert_string_equal(stage, "not_installed");
        config_release(&c);
        buf_release(&err);
        buf_release(&want);
}

static int setup(void **state)
{
        (void)state;
        snprintf(root, sizeof(root), "/tmp/test_lua_hooks_XXXXXX");
        if (!mkdtemp(root))
                return -1;
        snprintf(test_hooks_dir, sizeof(test_hooks_dir), "%s/hooks", root);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        remove_tree(root);
        buf_release(&logged);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_override_and_default),
                cmocka_unit_test(test_ctx),
                cmocka_unit_test(test_start_command),
                cmocka_unit_test(test_check),
                cmocka_unit_test(test_common_layer),
                cmocka_unit_test(test_default_dir),
                cmocka_unit_test(test_shipped_hooks_check),
                cmocka_unit_test(test_shipped_start),
                cmocka_unit_test(test_shipped_pre_commands),
                cmocka_unit_test(test_shipped_upgrade_kind),
                cmocka_unit_test(test_shipped_layers),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
