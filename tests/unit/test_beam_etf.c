/*
 * etf: the Erlang-text printer on terms built here (no node needed; the
 * agreement with Erlang's own ~tp is checked against a real node in
 * test_beam.c) and UTF-8 -> charlist encoding.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "beam/etf.h"
#include "base/banned.h"

static void assert_prints(const ei_x_buff *x, const char *home, const char *want)
{
        struct buf out = BUF_INIT;
        int index = 0;

        assert_int_equal(etf_format(x->buff, &index, home, &out), 0);
        if (strcmp(out.data, want) != 0)
                fail_msg("printed %s, expected %s", out.data, want);
        assert_int_equal(index, x->index); /* the whole term was consumed */
        buf_release(&out);
}

static void test_floats(void **state)
{
        static const struct {
                double d;
                const char *want;
        } cases[] = {
                { 0.0, "0.0" },         { 1.0, "1.0" },          { -1.5, "-1.5" },
                { 0.1, "0.1" },         { 100.0, "100.0" },      { 1000.0, "1.0e3" },
                { 0.001, "0.001" },     { 0.0001, "0.0001" },    { 1.0e-5, "1.0e-5" },
                { 1.2e-4, "1.2e-4" },   { 0.0012345, "0.0012345" }, { 123456.789, "123456.789" },
                { 1.5e300, "1.5e300" }, { 1.25e21, "1.25e21" },  { 12345678901234567890.0, "1.2345678901234567e19" },
                { 0.5, "0.5" },         { 1.0 / 3, "0.3333333333333333" }, { 5e-324, "5.0e-324" },
                { 1.7976931348623157e308, "1.7976931348623157e308" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ei_x_buff x;

                ei_x_new(&x);
                ei_x_encode_double(&x, cases[i].d);
                assert_prints(&x, NULL, cases[i].want);
                ei_x_free(&x);
        }
        {
                ei_x_buff x;

                ei_x_new(&x);
                ei_x_encode_double(&x, -0.0);
                assert_prints(&x, NULL, "-0.0");
                ei_x_free(&x);
        }
}

static void test_atoms(void **state)
{
        static const struct {
                const char *atom, *want;
        } cases[] = {
                { "ok", "ok" },           { "Ok", "'Ok'" },         { "a b", "'a b'" },
                { "node-1@host", "'node-1@host'" }, { "n_1@h", "n_1@h" }, { "after", "'after'" },
                { "receive", "'receive'" }, { "it's", "'it\\'s'" },   { "a\\b", "'a\\\\b'" },
                { "\n", "'\\n'" },        { "\x01", "'\\001'" },    { "\x7f", "'\\d'" },
                { "été", "été" },         { "Été", "'Été'" },       { "a×", "'a×'" },
                { "т", "'т'" },           { "", "''" },             { "_x", "'_x'" },
                { "1a", "'1a'" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ei_x_buff x;

                ei_x_new(&x);
                ei_x_encode_atom_len_as(&x, cases[i].atom, (int)strlen(cases[i].atom), ERLANG_UTF8,
                                        ERLANG_UTF8);
                assert_prints(&x, NULL, cases[i].want);
                ei_x_free(&x);
        }
}

static void test_binaries_and_strings(void **state)
{
        static const struct {
                const char *bytes;
                size_t len;
                const char *want;
        } bins[] = {
                { "", 0, "<<>>" },
                { "bin", 3, "<<\"bin\">>" },
                { "a\"b\\c\n", 6, "<<\"a\\\"b\\\\c\\n\">>" },
                { "\x01\x02\xff", 3, "<<1,2,255>>" },
                { "\xc3\xa9t\xc3\xa9", 5, "<<\"été\"/utf8>>" },
                { "\xe9", 1, "<<\"é\">>" },
                { "\xd1\x82", 2, "<<209,130>>" }, /* т: beyond Latin-1, so bytes (as Erlang) */
                { "a\0", 2, "<<97,0>>" },
        };
        static const struct {
                const char *s;
                const char *want;
        } strs[] = {
                { "abc", "\"abc\"" },
                { "a\tb", "\"a\\tb\"" },
                { "\x01\x02", "[1,2]" },
                { "\xe9", "\"é\"" },
                { "", "[]" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(bins); i++) {
                ei_x_buff x;

                ei_x_new(&x);
                ei_x_encode_binary(&x, bins[i].bytes, (long)bins[i].len);
                assert_prints(&x, NULL, bins[i].want);
                ei_x_free(&x);
        }
        for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
                ei_x_buff x;

                ei_x_new(&x);
                ei_x_encode_string(&x, strs[i].s);
                assert_prints(&x, NULL, strs[i].want);
                ei_x_free(&x);
        }
        /* A bitstring: whole bytes, then VALUE:BITS. */
        {
                ei_x_buff x;
                const char bits[] = { 7, (char)0xc0 };

                ei_x_new(&x);
                ei_x_encode_bitstring(&x, bits, 0, 10);
                assert_prints(&x, NULL, "<<7,3:2>>");
                x.index = 0;
                ei_x_encode_bitstring(&x, bits + 1, 0, 3);
                assert_prints(&x, NULL, "<<6:3>>");
                ei_x_free(&x);
        }
}

static void test_integers(void **state)
{
        /* 2^70 as a SMALL_BIG_EXT: 9 little-endian bytes. */
        static const unsigned char big[] = { ERL_SMALL_BIG_EXT, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40 };
        static const unsigned char negbig[] = { ERL_SMALL_BIG_EXT, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x40 };
        static const unsigned char zero[] = { ERL_SMALL_BIG_EXT, 1, 0, 0 };
        ei_x_buff x;
        (void)state;

        ei_x_new(&x);
        ei_x_encode_long(&x, -42);
        assert_prints(&x, NULL, "-42");
        x.index = 0;
        ei_x_encode_longlong(&x, 9223372036854775807LL);
        assert_prints(&x, NULL, "9223372036854775807");
        x.index = 0;
        ei_x_encode_ulonglong(&x, 18446744073709551615ULL);
        assert_prints(&x, NULL, "18446744073709551615");
        x.index = 0;
        ei_x_append_buf(&x, (const char *)big, sizeof(big));
        assert_prints(&x, NULL, "1180591620717411303424");
        x.index = 0;
        ei_x_append_buf(&x, (const char *)negbig, sizeof(negbig));
        assert_prints(&x, NULL, "-1180591620717411303424");
        x.index = 0;
        ei_x_append_buf(&x, (const char *)zero, sizeof(zero));
        assert_prints(&x, NULL, "0");
        ei_x_free(&x);
        /* Past the decimal limit: hexadecimal, still valid Erlang. */
        {
                size_t n = 2000;
                unsigned char *huge = calloc(1, n + 6);

                huge[0] = ERL_LARGE_BIG_EXT;
                huge[1] = 0;
                huge[2] = 0;
                huge[3] = (unsigned char)(n >> 8);
                huge[4] = (unsigned char)(n & 0xff);
                huge[5] = 0;
                huge[6 + n - 1] = 0x1f;
                ei_x_new(&x);
                ei_x_append_buf(&x, (const char *)huge, (int)(n + 6));
                {
                        struct buf out = BUF_INIT;
                        int index = 0;

                        assert_int_equal(etf_format(x.buff, &index, NULL, &out), 0);
                        assert_int_equal(strncmp(out.data, "16#1F00", 7), 0);
                        assert_int_equal(out.len, 3 + 2 + 2 * (n - 1));
                        buf_release(&out);
                }
                ei_x_free(&x);
                free(huge);
        }
}

static void test_compound(void **state)
{
        ei_x_buff x;
        erlang_pid pid;
        erlang_ref ref;
        (void)state;

        ei_x_new(&x);
        /* {ok, [1, "two", <<3>>], #{k => []}, [a | b]} */
        ei_x_encode_tuple_header(&x, 4);
        ei_x_encode_atom(&x, "ok");
        ei_x_encode_list_header(&x, 3);
        ei_x_encode_long(&x, 1);
        ei_x_encode_string(&x, "two");
        ei_x_encode_binary(&x, "\x03", 1);
        ei_x_encode_empty_list(&x);
        ei_x_encode_map_header(&x, 1);
        ei_x_encode_atom(&x, "k");
        ei_x_encode_empty_list(&x);
        ei_x_encode_list_header(&x, 1);
        ei_x_encode_atom(&x, "a");
        ei_x_encode_atom(&x, "b");
        assert_prints(&x, NULL, "{ok,[1,\"two\",<<3>>],#{k => []},[a|b]}");

        /* A list of printable integers is a string; one that is not stays a list. */
        x.index = 0;
        ei_x_encode_list_header(&x, 2);
        ei_x_encode_long(&x, 104);
        ei_x_encode_long(&x, 105);
        ei_x_encode_empty_list(&x);
        assert_prints(&x, NULL, "\"hi\"");
        x.index = 0;
        ei_x_encode_list_header(&x, 2);
        ei_x_encode_long(&x, 104);
        ei_x_encode_long(&x, 1090);
        ei_x_encode_empty_list(&x);
        assert_prints(&x, NULL, "[104,1090]");
        x.index = 0;
        ei_x_encode_list_header(&x, 1);
        ei_x_encode_long(&x, 104);
        ei_x_encode_long(&x, 105);
        assert_prints(&x, NULL, "[104|105]");

        /* Pids, refs and ports: "0" on the home node, the node's name elsewhere. */
        memset(&pid, 0, sizeof(pid));
        str_copy(pid.node, sizeof(pid.node), "app-1@h");
        pid.num = 85;
        pid.serial = 2;
        pid.creation = 1;
        x.index = 0;
        ei_x_encode_pid(&x, &pid);
        assert_prints(&x, "app-1@h", "<0.85.2>");
        assert_prints(&x, "other@h", "<app-1@h.85.2>");
        memset(&ref, 0, sizeof(ref));
        str_copy(ref.node, sizeof(ref.node), "app-1@h");
        ref.len = 3;
        ref.n[0] = 1;
        ref.n[1] = 2;
        ref.n[2] = 3;
        ref.creation = 1;
        x.index = 0;
        ei_x_encode_ref(&x, &ref);
        assert_prints(&x, "app-1@h", "#Ref<0.3.2.1>");
        ei_x_free(&x);
}

static void test_depth_and_bad_input(void **state)
{
        ei_x_buff x;
        struct buf out = BUF_INIT;
        int index = 0;
        (void)state;

        /* Nesting beyond the limit prints "..." and the whole term is still consumed. */
        ei_x_new(&x);
        for (int i = 0; i < ETF_DEPTH_MAX + 10; i++)
                ei_x_encode_tuple_header(&x, 1);
        ei_x_encode_atom(&x, "deep");
        assert_int_equal(etf_format(x.buff, &index, NULL, &out), 0);
        assert_int_equal(index, x.index);
        assert_non_null(strstr(out.data, "{...}"));
        assert_null(strstr(out.data, "deep"));
        ei_x_free(&x);

        /* An unknown tag is refused. */
        buf_reset(&out);
        index = 0;
        assert_int_equal(etf_format("\x01\x02", &index, NULL, &out), -EINVAL);
        buf_release(&out);
}

static void test_charlist(void **state)
{
        static const struct {
                const char *text;
                int ok;
                long first, count;
        } cases[] = {
                { "abc", 1, 'a', 3 },           { "é", 1, 233, 1 },
                { "т", 1, 1090, 1 },            { "\xf0\x9f\x98\x80", 1, 0x1f600, 1 },
                { "", 1, 0, 0 },                { "\xff", 0, 0, 0 },
                { "\xc3", 0, 0, 0 },            /* truncated */
                { "\xc0\xaf", 0, 0, 0 },        /* overlong */
                { "\xed\xa0\x80", 0, 0, 0 },    /* a surrogate */
                { "\xf4\x90\x80\x80", 0, 0, 0 }, /* beyond U+10FFFF */
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ei_x_buff x;
                int index = 0, arity = -1;
                long v = 0;

                ei_x_new(&x);
                if (!cases[i].ok) {
                        assert_int_equal(etf_encode_charlist(&x, cases[i].text, strlen(cases[i].text)),
                                         -EINVAL);
                        ei_x_free(&x);
                        continue;
                }
                assert_int_equal(etf_encode_charlist(&x, cases[i].text, strlen(cases[i].text)), 0);
                assert_int_equal(ei_decode_list_header(x.buff, &index, &arity), 0);
                assert_int_equal(arity, cases[i].count);
                if (arity > 0) {
                        assert_int_equal(ei_decode_long(x.buff, &index, &v), 0);
                        assert_int_equal(v, cases[i].first);
                }
                ei_x_free(&x);
        }
}

/* etf_check_depth: every kind of term passes; too deep or truncated does not (issue 10 item 9). */
static void test_check_depth(void **state)
{
        ei_x_buff x;
        erlang_pid pid;
        erlang_ref ref;
        (void)state;

        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 9);
        ei_x_encode_atom(&x, "ok");
        ei_x_encode_long(&x, -5);
        ei_x_encode_longlong(&x, 1LL << 40);
        ei_x_encode_double(&x, 2.5);
        ei_x_encode_binary(&x, "bin", 3);
        ei_x_encode_string(&x, "text");
        ei_x_encode_map_header(&x, 1);
        ei_x_encode_atom(&x, "k");
        ei_x_encode_list_header(&x, 2);
        ei_x_encode_long(&x, 1);
        ei_x_encode_long(&x, 2);
        ei_x_encode_empty_list(&x);
        memset(&pid, 0, sizeof(pid));
        str_copy(pid.node, sizeof(pid.node), "a@b");
        ei_x_encode_pid(&x, &pid);
        memset(&ref, 0, sizeof(ref));
        str_copy(ref.node, sizeof(ref.node), "a@b");
        ref.len = 3;
        ei_x_encode_ref(&x, &ref);
        assert_int_equal(etf_check_depth(x.buff, x.index, 0, 10), 0);
        assert_int_equal(etf_check_depth(x.buff, x.index, 0, 2), -E2BIG);  /* tuple > map > list */
        for (int cut = 1; cut < x.index; cut++)
                assert_int_equal(etf_check_depth(x.buff, cut, 0, 10), -EINVAL);
        ei_x_free(&x);

        /* 100000 nested lists: refused at the bound, no recursion anywhere. */
        ei_x_new_with_version(&x);
        for (int i = 0; i < 100000; i++)
                ei_x_encode_list_header(&x, 1);
        ei_x_encode_empty_list(&x);
        for (int i = 0; i < 100000; i++)
                ei_x_encode_empty_list(&x);
        assert_int_equal(etf_check_depth(x.buff, x.index, 0, ETF_REPLY_DEPTH_MAX), -E2BIG);
        assert_int_equal(etf_check_depth(x.buff, x.index, 0, 100000), 0);
        ei_x_free(&x);

        /* A list claiming 2^32-1 elements in a few bytes, and an unknown tag. */
        {
                static const char huge[] = { (char)131, 108, (char)255, (char)255, (char)255, (char)255, 106 };
                static const char unknown[] = { (char)131, 1, 2, 3 };

                assert_int_equal(etf_check_depth(huge, sizeof(huge), 0, 10), -EINVAL);
                assert_int_equal(etf_check_depth(unknown, sizeof(unknown), 0, 10), -EINVAL);
        }
}

/* The walk both decoders share: a list's tail after its elements, and atoms of every tag. */
static void test_list_tail_and_atoms(void **state)
{
        char atom[MAXATOMLEN_UTF8];
        int index, arity, type, size;
        ei_x_buff x;
        (void)state;

        ei_x_new(&x);
        ei_x_encode_list_header(&x, 1); /* [a] */
        ei_x_encode_atom(&x, "a");
        ei_x_encode_empty_list(&x);
        ei_x_encode_list_header(&x, 1); /* [b|c] */
        ei_x_encode_atom(&x, "b");
        ei_x_encode_atom(&x, "c");
        ei_x_encode_empty_list(&x);     /* [] */
        index = 0;
        assert_int_equal(ei_decode_list_header(x.buff, &index, &arity), 0);
        assert_int_equal(ei_get_type(x.buff, &index, &type, &size), 0);
        assert_true(etf_is_atom(type));
        assert_int_equal(etf_decode_atom(x.buff, &index, atom), 0);
        assert_string_equal(atom, "a");
        assert_int_equal(etf_list_tail(x.buff, &index, arity), 1); /* proper: [] skipped */
        assert_int_equal(ei_decode_list_header(x.buff, &index, &arity), 0);
        assert_int_equal(etf_decode_atom(x.buff, &index, atom), 0);
        assert_int_equal(etf_list_tail(x.buff, &index, arity), 0); /* improper: c left */
        assert_int_equal(etf_decode_atom(x.buff, &index, atom), 0);
        assert_string_equal(atom, "c");
        assert_int_equal(ei_decode_list_header(x.buff, &index, &arity), 0);
        assert_int_equal(arity, 0);
        assert_int_equal(etf_list_tail(x.buff, &index, arity), 1); /* the header was the [] */
        assert_int_equal(index, x.index);
        index = 0; /* a list is no atom */
        assert_int_equal(etf_decode_atom(x.buff, &index, atom), -EINVAL);
        assert_false(etf_is_atom(ERL_NIL_EXT));
        ei_x_free(&x);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_floats),
                cmocka_unit_test(test_atoms),
                cmocka_unit_test(test_binaries_and_strings),
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_compound),
                cmocka_unit_test(test_depth_and_bad_input),
                cmocka_unit_test(test_charlist),
                cmocka_unit_test(test_check_depth),
                cmocka_unit_test(test_list_tail_and_atoms),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
