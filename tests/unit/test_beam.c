/*
 * beam: the C node against real Erlang nodes -- connect, a bad cookie, a name
 * epmd does not know, rpc round trips of every term type, badrpc, the rpc
 * timeout, terms parsed by the node, and a SIGSTOPped node that costs one
 * timeout and no more.
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

#include "tests/unit/test_beam_nodes.h"
#include "beam/beam.h"
#include "beam/etf.h"
#include "base/banned.h"

static struct test_node node;

static int setup(void **state)
{
        char cookie[64];

        (void)state;
        signal(SIGPIPE, SIG_IGN);
        snprintf(cookie, sizeof(cookie), "cookie%ld", (long)getpid());
        return test_node_start(&node, "a", cookie) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        test_node_stop(&node);
        return 0;
}

static struct beam_opts opts(void)
{
        return (struct beam_opts){ node.cookie, 2000, NULL };
}

static void connect_ok(struct beam_conn *c)
{
        struct buf err = BUF_INIT;
        struct beam_opts o = opts();

        if (beam_connect(c, node.node, &o, &err) != 0)
                fail_msg("connect %s: %s", node.node, err.data);
        buf_release(&err);
}

/* Call mod:fun with args given as Erlang text (parsed by the node); the reply's text. */
static int call_text(struct beam_conn *c, const char *mod, const char *fun, const char *const *args,
                     size_t nargs, unsigned timeout_ms, struct buf *out, struct buf *err)
{
        ei_x_buff a, reply;
        int r = 0, index = 0;

        ei_x_new(&a);
        ei_x_new(&reply);
        if (nargs)
                ei_x_encode_list_header(&a, (long)nargs);
        for (size_t i = 0; i < nargs && r == 0; i++)
                r = beam_parse_term(c, args[i], 2000, &a, err);
        ei_x_encode_empty_list(&a);
        if (r == 0)
                r = beam_rpc(c, mod, fun, a.buff, a.index, timeout_ms, &reply, err);
        if (r == 0)
                assert_int_equal(etf_format(reply.buff, &index, c->node, out), 0);
        ei_x_free(&a);
        ei_x_free(&reply);
        return r;
}

static void test_connect_and_call(void **state)
{
        struct beam_conn c;
        struct buf out = BUF_INIT, err = BUF_INIT;

        (void)state;
        connect_ok(&c);
        assert_true(c.fd >= 0);
        assert_int_equal(call_text(&c, "erlang", "node", NULL, 0, 2000, &out, &err), 0);
        assert_string_equal(out.data, node.node); /* dxtPID_a@host: a bare atom */
        /* The C node is hidden: nodes() does not list it, nodes(hidden) does. */
        buf_reset(&out);
        assert_int_equal(call_text(&c, "erlang", "nodes", NULL, 0, 2000, &out, &err), 0);
        assert_string_equal(out.data, "[]");
        beam_close(&c);
        assert_int_equal(c.fd, -1);
        beam_close(&c); /* twice is harmless */
        buf_release(&out);
        buf_release(&err);
}

/* Every connection gets a name of its own: two at once both work. */
static void test_unique_names(void **state)
{
        struct beam_conn a, b;
        struct buf out = BUF_INIT, err = BUF_INIT;

        (void)state;
        connect_ok(&a);
        connect_ok(&b);
        assert_string_not_equal(a.ec.thisnodename, b.ec.thisnodename);
        assert_non_null(strstr(a.ec.thisnodename, "deployex_"));
        assert_int_equal(call_text(&a, "erlang", "node", NULL, 0, 2000, &out, &err), 0);
        assert_int_equal(call_text(&b, "erlang", "node", NULL, 0, 2000, &out, &err), 0);
        /* The node sees both, by their names. */
        buf_reset(&out);
        {
                const char *args[] = { "hidden" };
                char quoted[300];

                assert_int_equal(call_text(&a, "erlang", "nodes", args, 1, 2000, &out, &err), 0);
                assert_non_null(strstr(out.data, a.ec.thisnodename));
                snprintf(quoted, sizeof(quoted), "%s", b.ec.thisnodename);
                assert_non_null(strstr(out.data, quoted));
        }
        beam_close(&a);
        beam_close(&b);
        buf_release(&out);
        buf_release(&err);
}

static void test_bad_cookie(void **state)
{
        struct beam_conn c;
        struct buf err = BUF_INIT;
        struct beam_opts o = { "not-the-cookie", 2000, NULL };
        char want[300];

        (void)state;
        assert_int_equal(beam_connect(&c, node.node, &o, &err), -EACCES);
        assert_int_equal(c.fd, -1);
        snprintf(want, sizeof(want), "node %s refused the handshake (bad cookie?)", node.node);
        assert_string_equal(err.data, want);
        /* The cookie is never part of an error. */
        assert_null(strstr(err.data, "not-the-cookie"));
        buf_release(&err);
}

static void test_not_registered(void **state)
{
        struct beam_conn c;
        struct buf err = BUF_INIT, host = BUF_INIT, name = BUF_INIT;
        struct beam_opts o = opts();
        char want[300];

        (void)state;
        node_short_host(&host);
        buf_printf(&name, "nosuch%ld-1@%s", (long)getpid(), host.data);
        assert_int_equal(beam_connect(&c, name.data, &o, &err), -ESRCH);
        snprintf(want, sizeof(want), "node %s is not running (not registered with epmd)", name.data);
        assert_string_equal(err.data, want);
        buf_release(&err);
        buf_release(&host);
        buf_release(&name);
}

static void test_unknown_host(void **state)
{
        struct beam_conn c;
        struct buf err = BUF_INIT;
        struct beam_opts o = opts();

        (void)state;
        assert_int_equal(beam_connect(&c, "x@no-such-host.invalid", &o, &err), -EHOSTUNREACH);
        assert_string_equal(err.data, "cannot reach the host of node x@no-such-host.invalid "
                                      "(unknown host or no route)");
        assert_int_equal(c.fd, -1);
        buf_release(&err);
}

static void test_bad_arguments(void **state)
{
        static const char *const names[] = { "nohost", "@host", "alive@", "a@b@c", "" };
        struct beam_conn c;
        struct buf err = BUF_INIT;
        struct beam_opts o = opts(), nocookie = { "", 1000, NULL };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                buf_reset(&err);
                assert_int_equal(beam_connect(&c, names[i], &o, &err), -EINVAL);
                assert_non_null(strstr(err.data, "is not a node name"));
        }
        buf_reset(&err);
        assert_int_equal(beam_connect(&c, node.node, &nocookie, &err), -EINVAL);
        assert_non_null(strstr(err.data, "no cookie"));
        /* rpc on a closed connection */
        buf_reset(&err);
        c.fd = -1;
        str_copy(c.node, sizeof(c.node), "x@y");
        {
                ei_x_buff reply;

                ei_x_new(&reply);
                assert_int_equal(beam_rpc(&c, "erlang", "node", NULL, 0, 100, &reply, &err), -ENOTCONN);
                ei_x_free(&reply);
        }
        buf_release(&err);
}

/*
 * Every term type goes to the node and back unchanged: the node echoes it
 * (erlang:hd([X])), confirms it equals what it parsed (=:=), and prints it
 * the way our printer does (io_lib:print on one line).
 */
static void test_round_trip_every_type(void **state)
{
        static const char *const terms[] = {
                "ok", "'Quoted Atom'", "'été'", "[]", "0", "-1", "255", "256", "-2147483649",
                "9223372036854775807", "1180591620717411303424", "-1180591620717411303424",
                "1.5", "0.1", "-0.5", "100.0", "1.0e3", "1.0e-5", "0.0001", "1.2345678901234567e19",
                "<<>>", "<<\"bin\">>", "<<1,2,255>>", "<<\"tëxt\"/utf8>>", "<<1:3>>", "<<7,1:2>>",
                "\"charlist\"", "\"a\\nb\\t\\\"q\\\"\"", "[1,2,300]", "[104,105]", "[a|b]", "[1,[2,[3]]]",
                "{}", "{ok,1,<<\"x\">>}", "#{}", "#{a => 1}", "#{<<\"k\">> => [x,{y}]}",
                "{'EXIT',{undef,[{m,f,[],[]}]}}", "\"\\x{442}\"", "'т'", "'\\001'", "'\\d'", "'it\\'s'",
                "ß", "'a×'", "'a b'", "'Été'", "'\\\\'", "<<\"é\">>", "<<\"т\"/utf8>>", "[233,127]",
                "\"\\e\\v\\b\\f\\r\"", "<<0>>", "fun erlang:hd/1",
        };
        struct beam_conn c;
        struct buf out = BUF_INIT, err = BUF_INIT;

        (void)state;
        connect_ok(&c);
        for (size_t i = 0; i < ARRAY_SIZE(terms); i++) {
                ei_x_buff x, args, reply, text;
                struct buf mine = BUF_INIT, theirs = BUF_INIT;
                int index = 0;

                ei_x_new(&x);
                ei_x_new(&args);
                ei_x_new(&reply);
                ei_x_new(&text);
                if (beam_parse_term(&c, terms[i], 2000, &x, &err) != 0)
                        fail_msg("parse %s: %s", terms[i], err.data);
                /* echo: erlang:hd([X]) */
                ei_x_encode_list_header(&args, 1);
                ei_x_encode_list_header(&args, 1);
                ei_x_append_buf(&args, x.buff, x.index);
                ei_x_encode_empty_list(&args);
                ei_x_encode_empty_list(&args);
                assert_int_equal(beam_rpc(&c, "erlang", "hd", args.buff, args.index, 2000, &reply, &err), 0);
                assert_int_equal(etf_format(reply.buff, &index, c.node, &mine), 0);
                assert_int_equal(index, reply.index);
                /* =:=(X, Echo) */
                args.index = 0;
                ei_x_encode_list_header(&args, 2);
                ei_x_append_buf(&args, x.buff, x.index);
                ei_x_append_buf(&args, reply.buff, reply.index);
                ei_x_encode_empty_list(&args);
                text.index = 0;
                assert_int_equal(beam_rpc(&c, "erlang", "=:=", args.buff, args.index, 2000, &text, &err), 0);
                index = 0;
                assert_int_equal(etf_format(text.buff, &index, NULL, &theirs), 0);
                if (strcmp(theirs.data, "true") != 0)
                        fail_msg("%s did not come back equal: %s", terms[i], mine.data);
                /* The node's own printing: unicode:characters_to_binary(io_lib:format("~tp", [X])) */
                args.index = 0;
                ei_x_encode_list_header(&args, 2);
                ei_x_encode_string(&args, "~tp");
                ei_x_encode_list_header(&args, 1);
                ei_x_append_buf(&args, x.buff, x.index);
                ei_x_encode_empty_list(&args);
                ei_x_encode_empty_list(&args);
                text.index = 0;
                assert_int_equal(beam_rpc(&c, "io_lib", "format", args.buff, args.index, 2000, &text, &err), 0);
                args.index = 0;
                ei_x_encode_list_header(&args, 1);
                ei_x_append_buf(&args, text.buff, text.index);
                ei_x_encode_empty_list(&args);
                reply.index = 0;
                assert_int_equal(beam_rpc(&c, "unicode", "characters_to_binary", args.buff, args.index,
                                          2000, &reply, &err), 0);
                {
                        int type, size, j = 0;
                        long len;
                        char *s;

                        assert_int_equal(ei_get_type(reply.buff, &j, &type, &size), 0);
                        s = calloc(1, (size_t)size + 1);
                        assert_int_equal(ei_decode_binary(reply.buff, &j, s, &len), 0);
                        buf_reset(&theirs);
                        buf_append(&theirs, s, (size_t)len);
                        free(s);
                }
                if (strcmp(mine.data, theirs.data) != 0)
                        fail_msg("%s: we print %s, Erlang prints %s", terms[i], mine.data, theirs.data);
                ei_x_free(&x);
                ei_x_free(&args);
                ei_x_free(&reply);
                ei_x_free(&text);
                buf_release(&mine);
                buf_release(&theirs);
        }
        beam_close(&c);
        buf_release(&out);
        buf_release(&err);
}

/* Pids and refs made by the C node itself travel and come back as they were. */
static void test_round_trip_pid_ref(void **state)
{
        struct beam_conn c;
        struct buf err = BUF_INIT, text = BUF_INIT;
        ei_x_buff args, reply;
        erlang_ref ref;
        int index = 0;

        (void)state;
        connect_ok(&c);
        ei_x_new(&args);
        ei_x_new(&reply);
        assert_int_equal(ei_make_ref(&c.ec, &ref), 0);
        ei_x_encode_list_header(&args, 1);
        ei_x_encode_tuple_header(&args, 2);
        ei_x_encode_pid(&args, ei_self(&c.ec));
        ei_x_encode_ref(&args, &ref);
        ei_x_encode_empty_list(&args);
        assert_int_equal(beam_rpc(&c, "erlang", "tuple_to_list", args.buff, args.index, 2000,
                                  &reply, &err), 0);
        assert_int_equal(etf_format(reply.buff, &index, c.node, &text), 0);
        /* [<C node.N.S>, #Ref<C node....>]: not the home node, so the node's name shows. */
        assert_non_null(strstr(text.data, c.ec.thisnodename));
        assert_non_null(strstr(text.data, "#Ref<"));
        /* A pid of the node itself prints as <0.N.S>. */
        reply.index = 0;
        buf_reset(&text);
        index = 0;
        args.index = 0;
        ei_x_encode_list_header(&args, 1);
        ei_x_encode_atom(&args, "erl_prim_loader");
        ei_x_encode_empty_list(&args);
        assert_int_equal(beam_rpc(&c, "erlang", "whereis", args.buff, args.index, 2000, &reply, &err), 0);
        assert_int_equal(etf_format(reply.buff, &index, c.node, &text), 0);
        assert_true(strncmp(text.data, "<0.", 3) == 0);
        ei_x_free(&args);
        ei_x_free(&reply);
        beam_close(&c);
        buf_release(&err);
        buf_release(&text);
}

static void test_badrpc(void **state)
{
        static const struct {
                const char *mod, *fun, *arg, *prefix;
        } cases[] = {
                { "erlang", "error", "boom", "badrpc: {'EXIT',{boom,[{erlang,error,[boom]" },
                { "nosuchmod", "f", "1", "badrpc: {'EXIT',{undef,[{nosuchmod,f,[1],[]}" },
                { "erlang", "exit", "{shutdown,x}", "badrpc: {'EXIT',{shutdown,x}}" },
        };
        struct beam_conn c;
        struct buf out = BUF_INIT, err = BUF_INIT;

        (void)state;
        connect_ok(&c);
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                const char *args[] = { cases[i].arg };

                buf_reset(&err);
                assert_int_equal(call_text(&c, cases[i].mod, cases[i].fun, args, 1, 2000, &out, &err),
                                 -EREMOTEIO);
                if (strncmp(err.data, cases[i].prefix, strlen(cases[i].prefix)) != 0)
                        fail_msg("%s:%s: got '%s'", cases[i].mod, cases[i].fun, err.data);
                assert_null(strchr(err.data, '\n'));
                /* A badrpc leaves the connection usable. */
                assert_true(c.fd >= 0);
        }
        buf_reset(&out);
        assert_int_equal(call_text(&c, "erlang", "length", (const char *const[]){ "[a,b]" }, 1, 2000,
                                   &out, &err), 0);
        assert_string_equal(out.data, "2");
        beam_close(&c);
        buf_release(&out);
        buf_release(&err);
}

static void test_rpc_timeout(void **state)
{
        struct beam_conn c;
        struct buf out = BUF_INIT, err = BUF_INIT;
        const char *args[] = { "3000" };
        uint64_t start;
        char want[300];

        (void)state;
        connect_ok(&c);
        start = test_mono_ms();
        assert_int_equal(call_text(&c, "timer", "sleep", args, 1, 300, &out, &err), -ETIMEDOUT);
        assert_in_range(test_mono_ms() - start, 250, 1500);
        snprintf(want, sizeof(want), "rpc %s timer:sleep/1 timed out after 300 ms", node.node);
        assert_string_equal(err.data, want);
        /* Closed: the late reply must not be read as the answer to another call. */
        assert_int_equal(c.fd, -1);
        buf_reset(&err);
        assert_int_equal(call_text(&c, "erlang", "node", NULL, 0, 300, &out, &err), -ENOTCONN);
        buf_release(&out);
        buf_release(&err);
}

static void test_parse_errors(void **state)
{
        static const struct {
                const char *text, *want;
        } cases[] = {
                { "{a,", "syntax error" },
                { "foo(1)", "bad term" },
                { "\"open", "unterminated string" },
                { "X", "" }, /* a variable is not a term */
        };
        struct beam_conn c;
        struct buf err = BUF_INIT;

        (void)state;
        connect_ok(&c);
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ei_x_buff x;

                ei_x_new(&x);
                buf_reset(&err);
                assert_int_equal(beam_parse_term(&c, cases[i].text, 2000, &x, &err), -EINVAL);
                if (!strstr(err.data, cases[i].want))
                        fail_msg("'%s': got '%s'", cases[i].text, err.data);
                assert_int_equal(x.index, 0);
                ei_x_free(&x);
        }
        /* Not UTF-8 */
        {
                ei_x_buff x;

                ei_x_new(&x);
                buf_reset(&err);
                assert_int_equal(beam_parse_term(&c, "\"\xff\"", 2000, &x, &err), -EINVAL);
                assert_non_null(strstr(err.data, "not UTF-8"));
                ei_x_free(&x);
        }
        /* A comment cannot swallow the end of the term. */
        {
                ei_x_buff x;
                struct buf t = BUF_INIT;
                int index = 0;

                ei_x_new(&x);
                assert_int_equal(beam_parse_term(&c, "{a, 1} % note", 2000, &x, &err), 0);
                assert_int_equal(etf_format(x.buff, &index, NULL, &t), 0);
                assert_string_equal(t.data, "{a,1}");
                ei_x_free(&x);
                buf_release(&t);
        }
        beam_close(&c);
        buf_release(&err);
}

/* A stopped node costs one timeout: connect and rpc alike, then it recovers. */
static void test_stopped_node(void **state)
{
        struct beam_conn c, c2;
        struct buf out = BUF_INIT, err = BUF_INIT;
        struct beam_opts o = { node.cookie, 500, NULL };
        uint64_t start;

        (void)state;
        connect_ok(&c2); /* connected before the stop */
        assert_int_equal(spawn_kill_group(node.pid, SIGSTOP), 0);
        start = test_mono_ms();
        assert_int_equal(beam_connect(&c, node.node, &o, &err), -ETIMEDOUT);
        assert_in_range(test_mono_ms() - start, 400, 1500);
        assert_non_null(strstr(err.data, "timed out after 500 ms"));
        start = test_mono_ms();
        buf_reset(&err);
        assert_int_equal(call_text(&c2, "erlang", "node", NULL, 0, 500, &out, &err), -ETIMEDOUT);
        assert_in_range(test_mono_ms() - start, 400, 1500);
        assert_int_equal(spawn_kill_group(node.pid, SIGCONT), 0);
        /* Back: a fresh connection works. */
        connect_ok(&c);
        buf_reset(&out);
        assert_int_equal(call_text(&c, "erlang", "length", (const char *const[]){ "[1]" }, 1, 2000,
                                   &out, &err), 0);
        assert_string_equal(out.data, "1");
        beam_close(&c);
        buf_release(&out);
        buf_release(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_connect_and_call),
                cmocka_unit_test(test_unique_names),
                cmocka_unit_test(test_bad_cookie),
                cmocka_unit_test(test_not_registered),
                cmocka_unit_test(test_unknown_host),
                cmocka_unit_test(test_bad_arguments),
                cmocka_unit_test(test_round_trip_every_type),
                cmocka_unit_test(test_round_trip_pid_ref),
                cmocka_unit_test(test_badrpc),
                cmocka_unit_test(test_rpc_timeout),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_stopped_node),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
