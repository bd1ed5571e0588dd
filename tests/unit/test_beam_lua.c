/*
 * deployex.rpc in the hook sandbox, against a real Erlang node: values of
 * every kind go there and back, atoms or strings name the function, badrpc /
 * timeout / unknown node / bad cookie come back as nil, err, the hook's own
 * time limit bounds a call, and each call leaves a line in the instance log.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>

#include "tests/unit/test_beam_nodes.h"
#include "lua/api.h"
#include "lua/sandbox.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "base/banned.h"

static struct test_node node;
static char log_path[128];
static struct api_env env;

static int setup(void **state)
{
        char cookie[64];

        (void)state;
        signal(SIGPIPE, SIG_IGN);
        snprintf(cookie, sizeof(cookie), "lcookie%ld", (long)getpid());
        snprintf(log_path, sizeof(log_path), "/tmp/deployex-test-beam-lua-%ld.log", (long)getpid());
        if (test_node_start(&node, "l", cookie) != 0)
                return -1;
        env = (struct api_env){ node.cookie, log_path, NULL, NULL, NULL, NULL, NULL };
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        test_node_stop(&node);
        unlink(log_path);
        return 0;
}

/*
 * Run `code` with NODE set to the test node's name; the chunk's return value
 * as a string into out (tostring).  0, or -EINVAL with the error in err.
 */
static int run(const char *code, const struct api_env *e, uint64_t time_ms, struct buf *out,
               struct buf *err)
{
        struct sandbox_limits lim = { 0, 0, time_ms };
        struct sandbox *sb;
        struct buf text = BUF_INIT;
        lua_State *L;
        int r;

        assert_int_equal(sandbox_new(&lim, &sb), 0);
        L = sandbox_state(sb);
        assert_int_equal(api_open(L), 0);
        api_bind(sb, (struct api_env *)e);
        buf_printf(&text, "local NODE = '%s'\n%s", node.node, code);
        r = sandbox_load_string(sb, text.data, text.len, "=test", err);
        if (r == 0)
                r = sandbox_pcall(sb, 0, 1, err);
        if (r == 0)
                buf_puts(out, luaL_tolstring(L, -1, NULL));
        sandbox_free(sb);
        buf_release(&text);
        return r;
}

static void expect(const char *code, const char *want)
{
        struct buf out = BUF_INIT, err = BUF_INIT;

        if (run(code, &env, 0, &out, &err) != 0)
                fail_msg("%s\nfailed: %s", code, err.data);
        if (strcmp(out.data, want) != 0)
                fail_msg("%s\nexpected %s\ngot      %s", code, want, out.data);
        buf_release(&out);
        buf_release(&err);
}

static void expect_error(const char *code, const char *needle)
{
        struct buf out = BUF_INIT, err = BUF_INIT;

        if (run(code, &env, 0, &out, &err) == 0)
                fail_msg("%s\nsucceeded: %s", code, out.data);
        if (!strstr(err.data, needle))
                fail_msg("%s\nexpected an error with '%s', got: %s", code, needle, err.data);
        buf_release(&out);
        buf_release(&err);
}

/*
 * Each value goes to the node (erlang:hd([V])) and back; the reply prints as
 * expected and, sent again, the node finds it equal to the original (=:=).
 */
static void test_round_trip(void **state)
{
        static const struct {
                const char *value, *printed;
                int equal; /* the reply, sent back, =:= the original */
        } cases[] = {
                { "deployex.atom('ok')", "ok", 1 },
                { "deployex.atom('Elixir.MyApp')", "'Elixir.MyApp'", 1 },
                { "42", "42", 1 },
                { "-7", "-7", 1 },
                { "math.maxinteger", "9223372036854775807", 1 },
                { "1.5", "1.5", 1 },
                { "'bin'", "<<\"bin\">>", 1 },
                { "deployex.binary('\\0\\1')", "<<0,1>>", 1 },
                /* a printable charlist comes back as a Lua string (term.h), i.e. a binary */
                { "deployex.charlist('abc')", "<<\"abc\">>", 0 },
                { "{1, 2, 300}", "[1,2,300]", 1 },
                { "{}", "[]", 1 },
                { "deployex.tuple(deployex.atom('a'), 1, {2000})", "{a,1,[2000]}", 1 },
                { "{k = 'v'}", "#{<<\"k\">> => <<\"v\">>}", 1 },
                { "true", "true", 1 },
                { "false", "false", 1 },
                { "{deployex.tuple(deployex.atom('ok'), {x = {1.25, deployex.atom('y')}})}",
                  "[{ok,#{<<\"x\">> => [1.25,y]}}]", 1 },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char code[1024];

                snprintf(code, sizeof(code),
                         "local v = %s\n"
                         "local r, err = deployex.rpc(NODE, 'erlang', 'hd', {{v}})\n"
                         "assert(err == nil, err)\n"
                         "local same = deployex.rpc(NODE, 'erlang', '=:=', {v, r})\n"
                         "return tostring(deployex.tuple(r)) .. (same and ' equal' or ' different')",
                         cases[i].value);
                {
                        char want[512];

                        snprintf(want, sizeof(want), "{%s} %s", cases[i].printed,
                                 cases[i].equal ? "equal" : "different");
                        expect(code, want);
                }
        }
}

static void test_names_and_results(void **state)
{
        char want[256];
        (void)state;

        /* mod and fun as atoms or strings */
        snprintf(want, sizeof(want), "%s", node.node);
        expect("return deployex.rpc(NODE, deployex.atom('erlang'), deployex.atom('node')).value", want);
        expect("return deployex.rpc(NODE, 'erlang', 'node') == deployex.atom(NODE)", "true");
        /* false is a reply, not an error: callers test reply == nil */
        expect("local r, e = deployex.rpc(NODE, 'erlang', 'is_pid', {1}) return tostring(r) .. ' ' .. tostring(e)",
               "false nil");
        /* nil args = [] */
        expect("return deployex.rpc(NODE, 'erlang', 'length', {{}})", "0");
        expect("return #deployex.rpc(NODE, 'erlang', 'processes', nil) > 10", "true");
        /* pids and refs: raw values that go back unchanged */
        expect("local p = deployex.rpc(NODE, 'erlang', 'self') return p.type .. ' ' .. "
               "tostring(deployex.rpc(NODE, 'erlang', 'is_pid', {p}))",
               "raw true");
        expect("local r = deployex.rpc(NODE, 'erlang', 'make_ref') return r.type .. ' ' .. "
               "tostring(deployex.rpc(NODE, 'erlang', 'is_reference', {r}))",
               "raw true");
        /* {ok, ...} tuples as release_handler returns them */
        expect("local r = deployex.rpc(NODE, 'erlang', 'list_to_tuple', {{deployex.atom('ok'), "
               "deployex.charlist('1.0.1')}}) return tostring(r[1] == deployex.atom('ok')) .. ' ' .. r[2]",
               "true 1.0.1");
}

static void test_errors(void **state)
{
        struct buf out = BUF_INIT, err = BUF_INIT, host = BUF_INIT;
        struct api_env bad = env;
        char code[512];
        uint64_t start;
        (void)state;

        expect("local r, e = deployex.rpc(NODE, 'erlang', 'error', {deployex.atom('boom')}) "
               "return tostring(r) .. ' | ' .. tostring(e:find(\"badrpc: {'EXIT',{boom,[\", 1, true))",
               "nil | 1");
        expect("local r, e = deployex.rpc(NODE, 'nosuchmod', 'f', {1}) return e:match('^badrpc: .-undef') ~= nil",
               "true");
        start = test_mono_ms();
        expect("local r, e = deployex.rpc(NODE, 'timer', 'sleep', {3000}, 200) "
               "return tostring(r) .. ' | ' .. e:gsub('^rpc %S+ ', '')",
               "nil | timer:sleep/1 timed out after 200 ms");
        assert_in_range(test_mono_ms() - start, 150, 1500);

        node_short_host(&host);
        snprintf(code, sizeof(code),
                 "local r, e = deployex.rpc('nosuch%ld@%s', 'erlang', 'node') return e",
                 (long)getpid(), host.data);
        {
                char want[256];

                snprintf(want, sizeof(want),
                         "node nosuch%ld@%s is not running (not registered with epmd)", (long)getpid(),
                         host.data);
                expect(code, want);
        }
        bad.cookie = "wrong-cookie";
        assert_int_equal(run("local r, e = deployex.rpc(NODE, 'erlang', 'node') return e", &bad, 0,
                             &out, &err), 0);
        assert_non_null(strstr(out.data, "refused the handshake (bad cookie?)"));
        assert_null(strstr(out.data, "wrong-cookie"));

        /* Misuse is a Lua error at the hook's line. */
        expect_error("return deployex.rpc(NODE, 'erlang', 'node', {a = 1})", "rpc: args must be a list");
        expect_error("return deployex.rpc(NODE, 'erlang', 'node', {print})", "a function has no Erlang form");
        expect_error("return deployex.rpc(NODE, 42, 'node')", "rpc: mod must be a string or an atom");
        expect_error("return deployex.rpc(NODE, 'erlang', 'node', {}, -1)", "timeout_ms must be a positive integer");
        expect_error("return deployex.rpc(nil, 'erlang', 'node')", "rpc: node must be a string");
        buf_release(&out);
        buf_release(&err);
        buf_release(&host);
}

/* The hook's own time limit bounds a call that asked for more. */
static void test_hook_time_limit(void **state)
{
        struct buf out = BUF_INIT, err = BUF_INIT;
        uint64_t start = test_mono_ms();
        int r;
        (void)state;

        r = run("local r, e = deployex.rpc(NODE, 'timer', 'sleep', {5000}, 60000) return e", &env, 500,
                &out, &err);
        assert_in_range(test_mono_ms() - start, 300, 2000);
        /* Either the rpc timed out at the deadline, or the limit struck right after. */
        if (r == 0)
                assert_non_null(strstr(out.data, "timed out"));
        else
                assert_non_null(strstr(err.data, "time limit"));
        buf_release(&out);
        buf_release(&err);
}

/* A stopped node costs the call its timeout, not the hook. */
static void test_stopped_node(void **state)
{
        uint64_t start;
        (void)state;

        assert_int_equal(spawn_kill_group(node.pid, SIGSTOP), 0);
        start = test_mono_ms();
        expect("local r, e = deployex.rpc(NODE, 'erlang', 'node', {}, 400) return e:match('timed out after 400 ms') ~= nil",
               "true");
        assert_in_range(test_mono_ms() - start, 300, 1500);
        assert_int_equal(spawn_kill_group(node.pid, SIGCONT), 0);
        expect("return deployex.rpc(NODE, 'erlang', 'length', {{1, 2}})", "2");
}

static void test_log_line(void **state)
{
        struct buf text = BUF_INIT;
        char want[300];
        (void)state;

        unlink(log_path);
        expect("return deployex.rpc(NODE, 'erlang', 'length', {{1, 2}}, 1000)", "2");
        expect("local r, e = deployex.rpc(NODE, 'erlang', 'error', {deployex.atom('boom')}) return 1", "1");
        assert_int_equal(file_read_all(log_path, 1 << 20, &text), 0);
        snprintf(want, sizeof(want), "] rpc %s erlang:length/1: ok (", node.node);
        assert_non_null(strstr(text.data, want));
        snprintf(want, sizeof(want), "] rpc %s erlang:error/1: badrpc: {'EXIT',{boom,", node.node);
        assert_non_null(strstr(text.data, want));
        /* Never the cookie. */
        assert_null(strstr(text.data, node.cookie));
        buf_release(&text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_names_and_results),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_hook_time_limit),
                cmocka_unit_test(test_stopped_node),
                cmocka_unit_test(test_log_line),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
