/*
 * json: bounds (size, depth) checked before yajl, one-line errors, files, and
 * the buf-backed generator.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/json.h"
#include "base/banned.h"

/* depth levels of '[' (or '{"k":'), a 1, then the closers. */
static void nested(struct buf *out, int depth, bool objects)
{
        buf_reset(out);
        for (int i = 0; i < depth; i++)
                buf_puts(out, objects ? "{\"k\":" : "[");
        buf_puts(out, "1");
        for (int i = 0; i < depth; i++)
                buf_puts(out, objects ? "}" : "]");
}

static int parse(const char *text, struct buf *err)
{
        yajl_val v = NULL;
        int r = json_parse(text, strlen(text), "in.json", &v, err);

        if (r == 0) {
                assert_non_null(v);
                yajl_tree_free(v);
        } else {
                assert_null(v);
        }
        return r;
}

struct depth_case {
        int depth;
        bool objects;
        int r;
};

static void test_depth_limit(void **state)
{
        static const struct depth_case cases[] = {
                { 1, false, 0 },
                { JSON_MAX_DEPTH, false, 0 },
                { JSON_MAX_DEPTH, true, 0 },
                { JSON_MAX_DEPTH + 1, false, -EINVAL },
                { JSON_MAX_DEPTH + 1, true, -EINVAL },
                { 100000, false, -EINVAL },
        };
        struct buf text = BUF_INIT, err = BUF_INIT;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                int r;

                buf_reset(&err);
                nested(&text, cases[i].depth, cases[i].objects);
                r = parse(text.data, &err);
                if (r != cases[i].r)
                        fail_msg("depth %d (%s): %d, want %d: %s", cases[i].depth,
                                 cases[i].objects ? "objects" : "arrays", r, cases[i].r, err.data);
                if (r < 0)
                        assert_non_null(strstr(err.data, "in.json: nested deeper than 32"));
                else
                        assert_int_equal(err.len, 0);
        }
        buf_release(&text);
        buf_release(&err);
}

/* Brackets inside strings, after escaped quotes and backslashes, and in comments. */
static void test_depth_scan_skips_strings(void **state)
{
        struct buf text = BUF_INIT, err = BUF_INIT, deep = BUF_INIT;

        (void)state;
        /* 40 '[' inside a string plus an escaped quote: not nesting. */
        buf_puts(&text, "{\"s\": \"\\\"");
        for (int i = 0; i < 40; i++)
                buf_puts(&text, "[{");
        buf_puts(&text, "\", \"t\": [1]}");
        assert_int_equal(parse(text.data, &err), 0);

        /* A string ending in an escaped backslash: the nesting after it counts. */
        nested(&deep, JSON_MAX_DEPTH, false);
        buf_reset(&text);
        buf_printf(&text, "[\"x\\\\\", %s]", deep.data);
        assert_int_equal(parse(text.data, &err), -EINVAL);
        assert_non_null(strstr(err.data, "nested deeper"));

        /* Comments (yajl_tree accepts them): a quote inside must not hide nesting. */
        buf_reset(&err);
        buf_reset(&text);
        buf_printf(&text, "[ // say \"\n %s]", deep.data);
        assert_int_equal(parse(text.data, &err), -EINVAL);
        buf_reset(&err);
        buf_reset(&text);
        buf_puts(&text, "/* [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ */ [1]");
        assert_int_equal(parse(text.data, &err), 0);

        buf_release(&text);
        buf_release(&err);
        buf_release(&deep);
}

static void test_size_limit(void **state)
{
        struct buf err = BUF_INIT;
        size_t n = JSON_MAX_BYTES;
        char *text = xmalloc(n + 2);
        yajl_val v = NULL;

        (void)state;
        /* Exactly JSON_MAX_BYTES: one long string, accepted. */
        memset(text, 'a', n + 1);
        text[0] = '"';
        text[n - 1] = '"';
        assert_int_equal(json_parse(text, n, "big.json", &v, &err), 0);
        assert_true(YAJL_IS_STRING(v));
        assert_int_equal(strlen(v->u.string), n - 2);
        yajl_tree_free(v);
        v = NULL;

        /* One more byte: refused before parsing. */
        text[n] = '"';
        text[n - 1] = 'a';
        assert_int_equal(json_parse(text, n + 1, "big.json", &v, &err), -EFBIG);
        assert_null(v);
        assert_non_null(strstr(err.data, "big.json: larger than"));
        free(text);
        buf_release(&err);
}

struct syntax_case {
        const char *text;
        const char *want; /* substring of the one-line message */
};

static void test_syntax_errors_are_one_line(void **state)
{
        static const struct syntax_case cases[] = {
                { "{\"a\": 1,}", "in.json: trailing comma before '}' (JSON allows none: remove it) at line 1, column 9" },
                { "[1,\n 2,\n]", "in.json: trailing comma before ']'" },
                { "{\"apps\": [{\"a\": 1},\n  ]}", "trailing comma before ']'" },
                { "{'a': 1}", "in.json: strings take double quotes" },
                { "{a: 1}", "in.json: object keys take double quotes at line 1, column 2" },
                { "{\n  \"a\": 1,\n  b: 2\n}", "at line 3, column 3" },
                { "[1, 2", "premature EOF" },
                { "", "in.json: " },
                { "{\"a\": tru}", "in.json: " },
                { "\"\\x\"", "in.json: " },
        };
        struct buf err = BUF_INIT;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                buf_reset(&err);
                assert_int_equal(parse(cases[i].text, &err), -EINVAL);
                if (!strstr(err.data, cases[i].want))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err.data, cases[i].want);
                assert_true(strncmp(err.data, "in.json: ", 9) == 0);
                assert_null(strchr(err.data, '\n'));
        }
        /* A second error goes on its own line after the first. */
        buf_reset(&err);
        assert_int_equal(parse("[", &err), -EINVAL);
        assert_int_equal(parse("]", &err), -EINVAL);
        assert_non_null(strchr(err.data, '\n'));
        assert_null(strchr(strchr(err.data, '\n') + 1, '\n'));
        buf_release(&err);
}

static void test_input_not_nul_terminated(void **state)
{
        struct buf err = BUF_INIT;
        char *text = xmalloc(7);
        yajl_val v = NULL;

        (void)state;
        /* No terminator after the 7 bytes: ASan catches any read past them. */
        memcpy(text, "[1,2,3]", 7);
        assert_int_equal(json_parse(text, 7, "t", &v, &err), 0);
        assert_true(YAJL_IS_ARRAY(v));
        assert_int_equal(v->u.array.len, 3);
        yajl_tree_free(v);
        v = NULL;

        /* Only the first len bytes count. */
        assert_int_equal(json_parse(text, 4, "t", &v, &err), -EINVAL);
        free(text);

        /* An embedded NUL would hide the rest from yajl: refused. */
        assert_int_equal(json_parse("{}\0[[[", 6, "nul.json", &v, &err), -EINVAL);
        assert_non_null(strstr(err.data, "nul.json: contains a NUL byte"));
        buf_release(&err);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
        (void)state;
        str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_json.XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        struct buf cmd = BUF_INIT;
        int r;

        (void)state;
        buf_printf(&cmd, "rm -rf '%s'", tmpdir);
        r = system(cmd.data);
        buf_release(&cmd);
        return r == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_parse_file(void **state)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        yajl_val v = NULL;

        (void)state;
        buf_printf(&path, "%s/missing.json", tmpdir);
        assert_int_equal(json_parse_file(path.data, 1000, &v, &err), -ENOENT);
        assert_int_equal(err.len, 0);
        assert_null(v);

        buf_reset(&path);
        buf_printf(&path, "%s/ok.json", tmpdir);
        write_file(path.data, "{\"a\": [1, \"two\", true, null], \"b\": 1.5}");
        assert_int_equal(json_parse_file(path.data, 1000, &v, &err), 0);
        assert_int_equal(err.len, 0);
        assert_true(YAJL_IS_ARRAY(json_get(v, "a")));
        assert_string_equal(json_type_name(json_get(v, "b")), "a number");
        assert_null(json_get(v, "c"));
        assert_null(json_get(json_get(v, "a"), "x")); /* not an object */
        yajl_tree_free(v);
        v = NULL;

        /* Above max_bytes: refused, naming the file. */
        assert_int_equal(json_parse_file(path.data, 10, &v, &err), -EFBIG);
        assert_null(v);
        assert_true(strncmp(err.data, path.data, path.len) == 0);
        assert_non_null(strstr(err.data, "larger than 10 bytes"));

        /* Syntax errors name the path as the origin. */
        buf_reset(&err);
        write_file(path.data, "{\"a\": }");
        assert_int_equal(json_parse_file(path.data, 1000, &v, &err), -EINVAL);
        assert_true(strncmp(err.data, path.data, path.len) == 0);

        /* A directory is not a JSON file. */
        buf_reset(&err);
        assert_int_equal(json_parse_file(tmpdir, 1000, &v, &err), -EISDIR);
        assert_non_null(strstr(err.data, "cannot read"));
        buf_release(&path);
        buf_release(&err);
}

static void test_file_read_all(void **state)
{
        struct buf path = BUF_INIT, out = BUF_INIT;

        (void)state;
        buf_printf(&path, "%s/r.txt", tmpdir);
        write_file(path.data, "line1\nline2\n");
        buf_puts(&out, "old content");
        assert_int_equal(file_read_all(path.data, 100, &out), 0);
        assert_string_equal(out.data, "line1\nline2\n");
        /* On failure out is untouched. */
        assert_int_equal(file_read_all(path.data, 5, &out), -EFBIG);
        assert_string_equal(out.data, "line1\nline2\n");
        buf_reset(&path);
        buf_printf(&path, "%s/none", tmpdir);
        assert_int_equal(file_read_all(path.data, 100, &out), -ENOENT);
        assert_string_equal(out.data, "line1\nline2\n");
        buf_release(&out);
        buf_release(&path);
}

static void test_generator(void **state)
{
        struct buf out = BUF_INIT, err = BUF_INIT;
        yajl_gen g;
        yajl_val v = NULL;

        (void)state;
        g = json_gen_new(&out);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "name", "my\"app\"\n");
        json_gen_kv_int(g, "n", -42);
        json_gen_kv_int(g, "big", 9007199254740993ll);
        json_gen_kv_bool(g, "ok", true);
        json_gen_kv_bool(g, "paused", false);
        json_gen_kv_str(g, "error", NULL);
        json_gen_kv_str(g, "bad", "a\xff\xfe" "b");
        json_gen_str(g, "list");
        yajl_gen_array_open(g);
        json_gen_str(g, "x");
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        yajl_gen_free(g);

        assert_string_equal(out.data, "{\"name\":\"my\\\"app\\\"\\n\",\"n\":-42,\"big\":9007199254740993,"
                                      "\"ok\":true,\"paused\":false,\"error\":null,\"bad\":\"a??b\","
                                      "\"list\":[\"x\"]}");
        /* And it parses back to the same values. */
        assert_int_equal(json_parse(out.data, out.len, "gen", &v, &err), 0);
        assert_string_equal(json_get(v, "name")->u.string, "my\"app\"\n");
        assert_true(json_get(v, "big")->u.number.i == 9007199254740993ll);
        assert_true(YAJL_IS_NULL(json_get(v, "error")));
        yajl_tree_free(v);
        buf_release(&out);
        buf_release(&err);
}

/* json_gen_int writes what yajl_gen_integer writes, separators and all. */
static void test_gen_int_as_yajl(void **state)
{
        static const long long values[] = { 0, 1, -1, 9, 10, -10, 42, 2147483647LL, -2147483648LL,
                                            9007199254740993LL, 9223372036854775807LL,
                                            -9223372036854775807LL - 1 };
        struct buf a = BUF_INIT, b = BUF_INIT;
        yajl_gen ga = json_gen_new(&a), gb = json_gen_new(&b);

        (void)state;
        yajl_gen_map_open(ga);
        yajl_gen_map_open(gb);
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                char key[16];

                snprintf(key, sizeof(key), "k%zu", i);
                json_gen_str(ga, key);
                json_gen_int(ga, values[i]);
                json_gen_str(gb, key);
                yajl_gen_integer(gb, values[i]);
        }
        json_gen_str(ga, "list");
        json_gen_str(gb, "list");
        yajl_gen_array_open(ga);
        yajl_gen_array_open(gb);
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                json_gen_int(ga, values[i]);
                yajl_gen_integer(gb, values[i]);
        }
        yajl_gen_array_close(ga);
        yajl_gen_array_close(gb);
        yajl_gen_map_close(ga);
        yajl_gen_map_close(gb);
        assert_string_equal(a.data, b.data);
        assert_non_null(strstr(a.data, "\"k11\":-9223372036854775808,"));
        yajl_gen_free(ga);
        yajl_gen_free(gb);
        buf_release(&a);
        buf_release(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_depth_limit),
                cmocka_unit_test(test_depth_scan_skips_strings),
                cmocka_unit_test(test_size_limit),
                cmocka_unit_test(test_syntax_errors_are_one_line),
                cmocka_unit_test(test_input_not_nul_terminated),
                cmocka_unit_test(test_parse_file),
                cmocka_unit_test(test_file_read_all),
                cmocka_unit_test(test_generator),
                cmocka_unit_test(test_gen_int_as_yajl),
        };

        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
