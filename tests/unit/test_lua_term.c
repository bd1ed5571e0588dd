/*
 * Erlang terms in Lua: the constructors hooks use, their printed form,
 * encoding to the external term format and back (checked with libei's own
 * printer, independently of our code), and the reader for Erlang term files.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ei.h>
#include <lauxlib.h>

#include "beam/etf.h"
#include "lua/api.h"
#include "lua/sandbox.h"
#include "lua/term.h"
#include "base/fsutil.h"
#include "base/banned.h"

static struct api_env env = { NULL, NULL, NULL, NULL, NULL, NULL, NULL };

static struct sandbox *new_sandbox(void)
{
        struct sandbox *sb;

        assert_int_equal(sandbox_new(NULL, &sb), 0);
        assert_int_equal(api_open(sandbox_state(sb)), 0);
        api_bind(sb, &env);
        return sb;
}

/* Evaluate `return EXPR` and leave the value on the stack. */
static void eval(struct sandbox *sb, const char *code)
{
        struct buf err = BUF_INIT;

        if (sandbox_load_string(sb, code, strlen(code), "=test", &err) < 0 ||
            sandbox_pcall(sb, 0, 1, &err) < 0)
                fail_msg("%s: %s", code, err.data);
        buf_release(&err);
}

static void test_constructors_print(void **state)
{
        static const struct {
                const char *code;
                const char *printed;
        } cases[] = {
                { "return tostring(deployex.atom('ok'))", "ok" },
                { "return tostring(deployex.atom('Elixir.MyApp.Repo'))", "'Elixir.MyApp.Repo'" },
                { "return tostring(deployex.atom('end'))", "'end'" },
                { "return tostring(deployex.atom(\"it's\"))", "'it\\'s'" },
                { "return tostring(deployex.charlist('1.0.1'))", "\"1.0.1\"" },
                { "return tostring(deployex.binary('a\"b'))", "<<\"a\\\"b\">>" },
                { "return tostring(deployex.binary('\\0\\1'))", "<<0,1>>" },
                { "return tostring(deployex.tuple(deployex.atom('error'), 'why', 42, 1.5, true, {1, 2}, {k = 'v'}))",
                  "{error,<<\"why\">>,42,1.5,true,[1,2],#{<<\"k\">> => <<\"v\">>}}" },
                { "return tostring(deployex.tuple())", "{}" },
                { "local t = deployex.tuple(deployex.atom('a'), 'b') return t.type .. #t .. tostring(t[1]) .. t[2]", "tuple2ab" },
                { "local a = deployex.atom('ok') return a.type .. ':' .. a.value", "atom:ok" },
                { "return tostring(deployex.atom('ok') == deployex.atom('ok')) .. tostring(deployex.atom('ok') == deployex.atom('error'))"
                  " .. tostring(deployex.tuple(1, deployex.atom('x')) == deployex.tuple(1, deployex.atom('x')))"
                  " .. tostring(deployex.binary('x') == deployex.charlist('x'))",
                  "truefalsetruefalse" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct sandbox *sb = new_sandbox();

                eval(sb, cases[i].code);
                if (strcmp(lua_tostring(sandbox_state(sb), -1), cases[i].printed) != 0)
                        fail_msg("%s\nexpected %s\ngot      %s", cases[i].code, cases[i].printed,
                                 lua_tostring(sandbox_state(sb), -1));
                sandbox_free(sb);
        }
}

static void test_constructor_errors(void **state)
{
        static const struct {
                const char *code;
                const char *error;
        } cases[] = {
                { "return deployex.atom(string.rep('a', 256))", "atom: longer than 255 bytes" },
                { "return deployex.tuple(1, nil, 3)", "tuple: element 2 is nil" },
                { "return deployex.atom()", "bad argument #1 to 'atom'" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct sandbox *sb = new_sandbox();
                struct buf err = BUF_INIT;
                const char *code = cases[i].code;

                assert_int_equal(sandbox_load_string(sb, code, strlen(code), "=test", &err), 0);
                assert_int_equal(sandbox_pcall(sb, 0, 1, &err), -EINVAL);
                if (!strstr(err.data, cases[i].error))
                        fail_msg("%s: %s", code, err.data);
                buf_release(&err);
                sandbox_free(sb);
        }
}

/* Encode the value of `code`, print it with libei (the reference), decode it back and re-encode. */
static void test_encode_decode(void **state)
{
        static const struct {
                const char *code;
                const char *ei_printed;
        } cases[] = {
                { "return deployex.tuple(deployex.atom('ok'), 'bin', deployex.charlist('cl'), 7, -1, true, false)",
                  "{ok, #Bin<98,105,110>, \"cl\", 7, -1, true, false}" },
                { "return {1, 'two', {3}}", "[1, #Bin<116,119,111>, [3]]" },
                { "return {}", "[]" },
                { "return {name = 'x'}", "#{#Bin<110,97,109,101> => #Bin<120>}" },
                { "return deployex.tuple(deployex.atom('release_handler'), {deployex.charlist('1.0.1')})",
                  "{release_handler, [\"1.0.1\"]}" },
                { "return 2.5", "2.500000" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct sandbox *sb = new_sandbox();
                lua_State *L = sandbox_state(sb);
                struct buf err = BUF_INIT, first = BUF_INIT, again = BUF_INIT;
                ei_x_buff x, y;
                char *s = NULL;
                int idx = 0, ver = 0;

                eval(sb, cases[i].code);
                ei_x_new(&x);
                assert_int_equal(term_encode(L, -1, &x, &err), 0);
                term_format(L, -1, &first);
                assert_true(ei_s_print_term(&s, x.buff, &idx) >= 0);
                if (strcmp(s, cases[i].ei_printed) != 0)
                        fail_msg("%s\nexpected %s\ngot      %s", cases[i].code, cases[i].ei_printed, s);
                free(s);
                /* Back into Lua: the same value, which encodes to the same bytes. */
                idx = 0;
                assert_int_equal(term_decode(L, x.buff, &idx), 0);
                assert_int_equal(idx, x.index);
                (void)ver;
                ei_x_new(&y);
                assert_int_equal(term_encode(L, -1, &y, &err), 0);
                term_format(L, -1, &again);
                if (strstr(cases[i].code, "charlist") == NULL) {
                        assert_int_equal(x.index, y.index);
                        assert_memory_equal(x.buff, y.buff, (size_t)x.index);
                        assert_string_equal(first.data, again.data);
                }
                ei_x_free(&x);
                ei_x_free(&y);
                buf_release(&err);
                buf_release(&first);
                buf_release(&again);
                sandbox_free(sb);
        }
}

static void test_encode_refusals(void **state)
{
        static const struct {
                const char *code;
                const char *error;
        } cases[] = {
                { "return print", "a function has no Erlang form" },
                { "return {1, {k = print}}", "[2].k: a function has no Erlang form" },
                { "local t = {} t.self = t return t", "nested too deeply (or a cycle)" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct sandbox *sb = new_sandbox();
                struct buf err = BUF_INIT;
                ei_x_buff x;

                eval(sb, cases[i].code);
                ei_x_new(&x);
                assert_int_equal(term_encode(sandbox_state(sb), -1, &x, &err), -EINVAL);
                if (!strstr(err.data, cases[i].error))
                        fail_msg("%s: %s", cases[i].code, err.data);
                ei_x_free(&x);
                buf_release(&err);
                sandbox_free(sb);
        }
}

/* Terms Lua has no form for come back as "raw": printable, and sent back byte for byte. */
/* A raw term prints as `deployex rpc` prints it (beam/etf.c): one printer. */
static void test_raw_prints_like_rpc(void **state)
{
        struct sandbox *sb = new_sandbox();
        lua_State *L = sandbox_state(sb);
        struct buf lua_text = BUF_INIT, rpc_text = BUF_INIT;
        erlang_ref ref;
        ei_x_buff x;
        int idx = 0, ridx;
        (void)state;

        memset(&ref, 0, sizeof(ref));
        str_copy(ref.node, sizeof(ref.node), "myapp-1@host");
        ref.len = 3;
        ref.n[0] = 1;
        ref.n[1] = 2;
        ref.n[2] = 3;
        ref.creation = 5;
        ei_x_new_with_version(&x);
        ei_x_encode_ref(&x, &ref);
        assert_int_equal(ei_decode_version(x.buff, &idx, NULL), 0);
        ridx = idx;
        assert_int_equal(etf_format(x.buff, &ridx, NULL, &rpc_text), 0);
        assert_int_equal(term_decode(L, x.buff, &idx), 0);
        term_format(L, -1, &lua_text);
        assert_string_equal(lua_text.data, rpc_text.data);
        ei_x_free(&x);
        buf_release(&lua_text);
        buf_release(&rpc_text);
        sandbox_free(sb);
}

static void test_decode_raw(void **state)
{
        struct sandbox *sb = new_sandbox();
        lua_State *L = sandbox_state(sb);
        struct buf err = BUF_INIT, text = BUF_INIT;
        erlang_pid pid;
        ei_x_buff x, y;
        int idx = 0;
        (void)state;

        memset(&pid, 0, sizeof(pid));
        str_copy(pid.node, sizeof(pid.node), "myapp-1@host");
        pid.num = 77;
        pid.serial = 0;
        pid.creation = 3;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 3);
        ei_x_encode_atom(&x, "ok");
        ei_x_encode_pid(&x, &pid);
        ei_x_encode_string(&x, "1.0.0");
        assert_int_equal(ei_decode_version(x.buff, &idx, NULL), 0);
        assert_int_equal(term_decode(L, x.buff, &idx), 0);
        term_format(L, -1, &text);
        assert_string_equal(text.data, "{ok,<myapp-1@host.77.0>,<<\"1.0.0\">>}");
        lua_setglobal(L, "reply");
        eval(sb, "return reply[1] == deployex.atom('ok') and reply[2].type == 'raw' and reply[3] == '1.0.0'");
        assert_true(lua_toboolean(L, -1));
        lua_pop(L, 1);
        /* The raw pid goes back out unchanged. */
        eval(sb, "return reply[2]");
        ei_x_new(&y);
        assert_int_equal(term_encode(L, -1, &y, &err), 0);
        idx = 0;
        {
                erlang_pid back;

                assert_int_equal(ei_decode_pid(y.buff, &idx, &back), 0);
                assert_string_equal(back.node, "myapp-1@host");
                assert_int_equal(back.num, 77);
        }
        ei_x_free(&x);
        ei_x_free(&y);
        buf_release(&err);
        buf_release(&text);
        sandbox_free(sb);
}

/* Erlang sends [1,2,3] in its string encoding: only printable ones become Lua strings. */
static void test_decode_small_int_lists(void **state)
{
        struct sandbox *sb = new_sandbox();
        lua_State *L = sandbox_state(sb);
        ei_x_buff x;
        int idx = 0;
        (void)state;

        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_string_len(&x, "\x01\x02\x03", 3);
        ei_x_encode_string(&x, "release 1.0.0\n");
        assert_int_equal(ei_decode_version(x.buff, &idx, NULL), 0);
        assert_int_equal(term_decode(L, x.buff, &idx), 0);
        lua_setglobal(L, "reply");
        eval(sb, "local l = reply[1]; return type(l) == 'table' and #l == 3 and l[1] == 1 "
                 "and l[3] == 3 and reply[2] == 'release 1.0.0\\n'");
        assert_true(lua_toboolean(L, -1));
        lua_pop(L, 1);
        ei_x_free(&x);
        sandbox_free(sb);
}

static void test_consult(void **state)
{
        static const char relup[] =
                "%% relup written by systools\n"
                "{\"1.1.0\",\n"
                " [{\"1.0.0\",[],\n"
                "   [{load_object_code,{myapp,\"1.1.0\",[myapp_server]}},\n"
                "    point_of_no_return,\n"
                "    {load,{myapp_server,brutal_purge,brutal_purge}}]}],\n"
                " [{\"1.0.0\",[],[point_of_no_return]}]}.\n"
                "{extra, 'Quoted Atom', 16#ff, -3, 2.5e1, $a, <<\"b\">>, <<1,2>>, #{k => [v]}, \"x\" \"y\"}.\n";
        char dir[] = "/tmp/test_lua_term_XXXXXX";
        char path[64], bad[64];
        struct buf code = BUF_INIT;
        struct sandbox *sb = new_sandbox();
        lua_State *L = sandbox_state(sb);
        (void)state;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/relup", dir);
        snprintf(bad, sizeof(bad), "%s/bad", dir);
        assert_int_equal(atomic_write_file(path, relup, sizeof(relup) - 1), 0);
        assert_int_equal(atomic_write_file(bad, "{ok,\n [1,2 3]}.\n", 16), 0);

        buf_printf(&code, "local t = assert(deployex.consult('%s'))\n"
                          "local rel = t[1]\n"
                          "local ups = {}\n"
                          "for _, up in ipairs(rel[2]) do ups[#ups + 1] = up[1] end\n"
                          "return #t .. '|' .. rel[1] .. '|' .. table.concat(ups, ',') .. '|' .. tostring(t[2])",
                   path);
        eval(sb, code.data);
        assert_string_equal(lua_tostring(L, -1),
                            "2|1.1.0|1.0.0|{extra,'Quoted Atom',255,-3,25.0,97,<<\"b\">>,<<1,2>>,"
                            "#{k => [v]},<<\"xy\">>}");
        lua_pop(L, 1);

        buf_reset(&code);
        buf_printf(&code, "local t, e = deployex.consult('%s') return tostring(t) .. '|' .. e", bad);
        eval(sb, code.data);
        buf_reset(&code);
        buf_printf(&code, "nil|%s:2: expected ',' or ']'", bad);
        assert_string_equal(lua_tostring(L, -1), code.data);
        lua_pop(L, 1);

        eval(sb, "local t, e = deployex.consult('/nonexistent/relup') return e");
        assert_string_equal(lua_tostring(L, -1), "cannot read '/nonexistent/relup': No such file or directory");

        sandbox_free(sb);
        buf_release(&code);
        remove_tree(dir);
}

static void test_parse_errors(void **state)
{
        static const struct {
                const char *text;
                const char *error;
        } cases[] = {
                { "{a, b}", "f:1: expected '.' after a term" },
                { "\n\n\"open", "f:3: unterminated string" },
                { "[a | b].", "f:1: improper lists are not supported" },
                { "{a,, b}.", "f:1: unexpected ','" },
                { "#{a => }.", "f:1: unexpected '}'" },
                { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[.",
                  "f:1: nested too deeply" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct sandbox *sb = new_sandbox();
                lua_State *L = sandbox_state(sb);
                char err[256] = "";
                int top = lua_gettop(L);

                assert_int_equal(term_parse_text(L, cases[i].text, strlen(cases[i].text), "f", err,
                                                 sizeof(err)), -EINVAL);
                assert_int_equal(lua_gettop(L), top);
                assert_string_equal(err, cases[i].error);
                sandbox_free(sb);
        }
}

/* Every Erlang escape maps to its character (the table was misaligned: \\b, \\e, ... were wrong). */
static void test_escapes(void **state)
{
        static const char text[] = "\"\\n\\t\\r\\s\\e\\b\\f\\v\\d\\101\\x42\\\\\".\n";
        static const char want[] = "\n\t\r \x1b\b\f\v\x7f" "AB\\";
        struct sandbox *sb = new_sandbox();
        lua_State *L = sandbox_state(sb);
        char err[256] = "";
        size_t len;
        const char *got;
        (void)state;

        assert_int_equal(term_parse_text(L, text, strlen(text), "f", err, sizeof(err)), 0);
        lua_rawgeti(L, -1, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
                lua_getfield(L, -1, "value"); /* a charlist's text */
        got = lua_tolstring(L, -1, &len);
        if (!got || len != strlen(want) || memcmp(got, want, len) != 0)
                fail_msg("escapes: got %zu bytes, want %zu (err %s)", got ? len : 0, strlen(want), err);
        sandbox_free(sb);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_constructors_print),
                cmocka_unit_test(test_constructor_errors),
                cmocka_unit_test(test_encode_decode),
                cmocka_unit_test(test_encode_refusals),
                cmocka_unit_test(test_decode_raw),
                cmocka_unit_test(test_raw_prints_like_rpc),
                cmocka_unit_test(test_decode_small_int_lists),
                cmocka_unit_test(test_consult),
                cmocka_unit_test(test_parse_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
