/*
 * json_arena: json_parse_arena() builds the tree json_parse() builds (types,
 * keys in order with duplicates, strings with escapes, every number's text,
 * value and flags), refuses what it refuses with the same message, and
 * grows past its first block.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/json.h"
#include "state/json_arena.h"
#include "base/banned.h"

/* The two trees are the same, node by node. */
static void assert_same_tree(yajl_val a, yajl_val b)
{
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(a->type, b->type);
        switch (a->type) {
        case yajl_t_string:
                assert_string_equal(a->u.string, b->u.string);
                break;
        case yajl_t_number:
                assert_string_equal(a->u.number.r, b->u.number.r);
                assert_int_equal(a->u.number.flags, b->u.number.flags);
                assert_true(a->u.number.i == b->u.number.i);
                /* Bit for bit: -0.0 and 0.0 differ. */
                assert_memory_equal(&a->u.number.d, &b->u.number.d, sizeof(double));
                break;
        case yajl_t_object:
                assert_int_equal(a->u.object.len, b->u.object.len);
                for (size_t i = 0; i < a->u.object.len; i++) {
                        assert_string_equal(a->u.object.keys[i], b->u.object.keys[i]);
                        assert_same_tree(a->u.object.values[i], b->u.object.values[i]);
                }
                break;
        case yajl_t_array:
                assert_int_equal(a->u.array.len, b->u.array.len);
                for (size_t i = 0; i < a->u.array.len; i++)
                        assert_same_tree(a->u.array.values[i], b->u.array.values[i]);
                break;
        default:
                break;
        }
}

/* Parse text both ways with a first block of first_block bytes (0: none). */
static void check_same(const char *text, size_t first_block)
{
        char *mem = first_block ? malloc(first_block) : NULL;
        struct buf e1 = BUF_INIT, e2 = BUF_INIT;
        yajl_val plain = NULL, fast = NULL;
        struct json_arena a;

        json_arena_init(&a, mem, first_block);
        assert_int_equal(json_parse(text, strlen(text), "x.json", &plain, &e1), 0);
        assert_int_equal(json_parse_arena(text, strlen(text), "x.json", &a, &fast, &e2), 0);
        assert_string_equal(e2.data, "");
        assert_same_tree(plain, fast);
        yajl_tree_free(plain);
        json_arena_release(&a);
        free(mem);
        buf_release(&e1);
        buf_release(&e2);
}

static void test_same_trees(void **state)
{
        static const char *const docs[] = {
                "{}",
                "[]",
                "null",
                "true",
                "\"a string at the root\"",
                "42",
                "{\"a\": 1, \"b\": [1, 2, {\"c\": null}], \"d\": {}, \"e\": [], \"f\": false}",
                /* A key twice: both kept, in order (json_get finds the first). */
                "{\"k\": 1, \"k\": 2, \"other\": \"x\", \"k\": 3}",
                /* Escapes, a NUL inside a string, UTF-8 as \\u and as bytes. */
                "{\"s\": \"tab\\tquote\\\"slash\\/back\\\\ \\u00e9 \\ud83d\\ude00 caf\xc3\xa9\", "
                "\"nul\": \"a\\u0000b\", \"\": \"empty key\"}",
                /* Every kind of number yajl_tree leaves its own way. */
                "[0, -0, 1, -1, 9007199254740991, 9007199254740992, 9007199254740993, "
                "9223372036854775807, -9223372036854775807, -9223372036854775808, "
                "9223372036854775808, 99999999999999999999999, -99999999999999999999999, "
                "1.5, -1.5, 0.1, 1e3, 1E-3, -2.5e+10, 1e400, -1e400, 1e-400, 123456789012]",
                /* Comments, as json_parse accepts them. */
                "// a comment\n{\"a\": /* inline */ 1, \"b\": [1, /* x */ 2]}\n",
                /* An instance record as the daemon writes it. */
                "{\"instance\":1,\"state\":\"running\",\"version\":\"1.0.0\",\"previous_version\":null,"
                "\"pid\":13939,\"proc_start_time\":5198792,\"started_at_ms\":1796282232652,"
                "\"ready\":true,\"last_deploy\":{\"kind\":\"full\",\"result\":\"ok\",\"at_ms\":1796282231652},"
                "\"last_error\":null}",
        };

        (void)state;
        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
                check_same(docs[i], 8192);
                check_same(docs[i], 0);
                check_same(docs[i], 16); /* smaller than anything: every piece in a new block */
        }
}

/* Nesting to the limit, and a document far larger than the first block. */
static void test_deep_and_large(void **state)
{
        struct buf text = BUF_INIT;

        (void)state;
        for (int i = 0; i < JSON_MAX_DEPTH; i++)
                buf_puts(&text, i % 2 ? "{\"k\":" : "[");
        buf_puts(&text, "1");
        for (int i = JSON_MAX_DEPTH - 1; i >= 0; i--)
                buf_puts(&text, i % 2 ? "}" : "]");
        check_same(text.data, 512);
        buf_reset(&text);
        buf_puts(&text, "{\"instances\": {");
        for (int i = 1; i <= 3000; i++)
                buf_printf(&text, "%s\"%d\": {\"pid\": %d, \"otp\": \"connected\", \"release\": \"1.0.%d\"}",
                           i > 1 ? ", " : "", i, 1000 + i, i);
        buf_puts(&text, "}}");
        check_same(text.data, 4096);
        check_same(text.data, 0);
        buf_release(&text);
}

/* Bad input: the same code and the same words as json_parse. */
static void test_same_errors(void **state)
{
        static const char *const bad[] = {
                "",
                "{\"a\": 1,}",
                "[1, 2,]",
                "{'a': 1}",
                "{a: 1}",
                "{\"a\": 1} trailing",
                "{\"a\": tru}",
                "[1, 2",
                "{\"a\" 1}",
                "-",
        };
        struct buf deep = BUF_INIT;

        (void)state;
        for (size_t i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
                const char *text;
                size_t len;
                struct buf e1 = BUF_INIT, e2 = BUF_INIT;
                yajl_val v = NULL;
                struct json_arena a;
                char mem[1024];
                int r1, r2;

                if (i < sizeof(bad) / sizeof(bad[0])) {
                        text = bad[i];
                        len = strlen(text);
                } else {
                        for (int d = 0; d <= JSON_MAX_DEPTH; d++)
                                buf_putc(&deep, '[');
                        text = deep.data;
                        len = deep.len;
                }
                json_arena_init(&a, mem, sizeof(mem));
                r1 = json_parse(text, len, "bad.json", &v, &e1);
                assert_null(v);
                r2 = json_parse_arena(text, len, "bad.json", &a, &v, &e2);
                assert_true(r1 < 0);
                assert_int_equal(r1, r2);
                assert_string_equal(e1.data, e2.data);
                json_arena_release(&a);
                buf_release(&e1);
                buf_release(&e2);
        }
        /* A NUL byte in the text (not in a string escape) is refused before yajl. */
        {
                struct buf e1 = BUF_INIT, e2 = BUF_INIT;
                struct json_arena a;
                yajl_val v = NULL;

                json_arena_init(&a, NULL, 0);
                assert_int_equal(json_parse("[1]\0x", 5, "nul.json", &v, &e1), -EINVAL);
                assert_int_equal(json_parse_arena("[1]\0x", 5, "nul.json", &a, &v, &e2), -EINVAL);
                assert_string_equal(e1.data, e2.data);
                assert_non_null(strstr(e2.data, "NUL"));
                json_arena_release(&a);
                buf_release(&e1);
                buf_release(&e2);
        }
        buf_release(&deep);
}

/* Allocations are aligned and distinct, across blocks. */
static void test_arena_alloc(void **state)
{
        char mem[256];
        struct json_arena a;
        char *prev = NULL;

        (void)state;
        json_arena_init(&a, mem, sizeof(mem));
        for (int i = 0; i < 2000; i++) {
                size_t size = (size_t)(i % 97) + 1;
                char *p = json_arena_alloc(&a, size);

                assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
                memset(p, i & 0xff, size);
                if (prev)
                        assert_true(p != prev);
                prev = p;
        }
        /* One piece larger than a block. */
        memset(json_arena_alloc(&a, 1 << 20), 1, 1 << 20);
        json_arena_release(&a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_trees),
                cmocka_unit_test(test_deep_and_large),
                cmocka_unit_test(test_same_errors),
                cmocka_unit_test(test_arena_alloc),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
