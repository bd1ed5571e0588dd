/*
 * util: struct buf invariants, strict number parsing, ISO time.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/util.h"
#include "base/banned.h"

static void test_buf_empty_is_shared_and_terminated(void **state)
{
        struct buf a = BUF_INIT, b;

        (void)state;
        buf_init(&b);
        assert_ptr_equal(a.data, buf_empty_);
        assert_ptr_equal(b.data, buf_empty_);
        assert_string_equal(a.data, "");
        assert_int_equal(a.len, 0);
        /* Resetting or releasing an empty buf must not write through buf_empty_. */
        buf_reset(&a);
        buf_release(&b);
        assert_ptr_equal(b.data, buf_empty_);
        /* Appending nothing keeps it on the shared byte. */
        buf_append(&a, "x", 0);
        assert_ptr_equal(a.data, buf_empty_);
        assert_int_equal(buf_empty_[0], '\0');
}

static void test_buf_append_grow_and_detach(void **state)
{
        struct buf b = BUF_INIT;
        char *s;

        (void)state;
        buf_puts(&b, "hello");
        buf_putc(&b, ' ');
        buf_printf(&b, "%s-%d", "world", 42);
        assert_string_equal(b.data, "hello world-42");
        assert_int_equal(b.len, strlen("hello world-42"));
        assert_true(b.cap > b.len);

        /* Force several reallocations; the content must survive them. */
        for (int i = 0; i < 1000; i++)
                buf_putc(&b, (char)('a' + i % 26));
        assert_int_equal(b.len, 14 + 1000);
        assert_int_equal(b.data[b.len], '\0');
        assert_int_equal(b.data[14], 'a');
        assert_int_equal(b.data[14 + 25], 'z');

        buf_reset(&b);
        assert_int_equal(b.len, 0);
        assert_string_equal(b.data, "");

        buf_puts(&b, "owned");
        s = buf_detach(&b);
        assert_string_equal(s, "owned");
        assert_ptr_equal(b.data, buf_empty_);
        assert_int_equal(b.len, 0);
        free(s);

        /* Detaching an empty buf still hands over a freeable string. */
        s = buf_detach(&b);
        assert_non_null(s);
        assert_string_equal(s, "");
        assert_ptr_not_equal(s, buf_empty_);
        free(s);
        buf_release(&b);
}

static void test_buf_printf_large(void **state)
{
        struct buf b = BUF_INIT;
        char big[5000];

        (void)state;
        memset(big, 'q', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        buf_puts(&b, "<");
        buf_printf(&b, "%s>", big);
        assert_int_equal(b.len, 1 + 4999 + 1);
        assert_int_equal(b.data[0], '<');
        assert_int_equal(b.data[b.len - 1], '>');
        assert_int_equal(b.data[b.len], '\0');
        buf_release(&b);
}

static void test_str_helpers(void **state)
{
        char small[4];

        (void)state;
        assert_true(str_copy(small, sizeof(small), "abc"));
        assert_string_equal(small, "abc");
        assert_false(str_copy(small, sizeof(small), "abcd"));
        assert_string_equal(small, "abc");
        assert_true(str_eq(NULL, NULL));
        assert_false(str_eq("a", NULL));
        assert_false(str_eq(NULL, "a"));
        assert_true(str_eq("a", "a"));
        assert_true(str_empty(NULL));
        assert_true(str_empty(""));
        assert_false(str_empty(" "));
}

static void test_xgrow(void **state)
{
        int *items = NULL;
        size_t cap = 0;

        (void)state;
        xgrow((void **)&items, &cap, 1, sizeof(*items));
        assert_true(cap >= 1);
        xgrow((void **)&items, &cap, 100, sizeof(*items));
        assert_true(cap >= 100);
        for (int i = 0; i < 100; i++)
                items[i] = i;
        xgrow((void **)&items, &cap, 50, sizeof(*items)); /* no shrink */
        assert_true(cap >= 100);
        assert_int_equal(items[99], 99);
        free(items);
}

struct u64_case {
        const char *in;
        int r;
        uint64_t v;
};

/* A stream kept as a tail: never more than twice max, always its last bytes, cut to max. */
static void test_buf_append_tail(void **state)
{
        struct buf b = BUF_INIT;
        char c;

        (void)state;
        for (int i = 0; i < 100; i++) {
                c = (char)('a' + i % 26);
                buf_append_tail(&b, &c, 1, 8);
                assert_true(b.len <= 16);
                assert_int_equal(b.data[b.len - 1], c);
                assert_int_equal(b.data[b.len], '\0');
        }
        buf_keep_tail(&b, 8);
        assert_string_equal(b.data, "opqrstuv");
        assert_int_equal(b.len, 8);
        buf_keep_tail(&b, 100); /* shorter than max: untouched */
        assert_int_equal(b.len, 8);
        buf_release(&b);
}

static void test_str_last_line_table(void **state)
{
        static const struct {
                const char *text, *line;
        } cases[] = {
                { "", "" },
                { "\n\n  \n", "" },
                { "one", "one" },
                { "one\ntwo\n", "two" },
                { "one\ntwo \n\n ", "two" },
                { "first\n\nlast line  \n", "last line" },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                size_t start, end = str_last_line(cases[i].text, strlen(cases[i].text), &start);

                assert_true(start <= end);
                assert_int_equal(end - start, strlen(cases[i].line));
                assert_memory_equal(cases[i].text + start, cases[i].line, end - start);
        }
}

static void test_parse_u64_table(void **state)
{
        static const struct u64_case cases[] = {
                { "0", 0, 0 },
                { "42", 0, 42 },
                { "007", 0, 7 },
                { "18446744073709551615", 0, UINT64_MAX },
                { "18446744073709551616", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "1a", -EINVAL, 0 },
                { "0x10", -EINVAL, 0 },
                { "1.0", -EINVAL, 0 },
                { NULL, -EINVAL, 0 },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                uint64_t v = 12345;
                int r = parse_u64(cases[i].in, &v);

                if (r != cases[i].r)
                        fail_msg("parse_u64(\"%s\") = %d, want %d", cases[i].in ? cases[i].in : "(null)", r,
                                 cases[i].r);
                /* ret untouched on failure */
                assert_true(v == (r == 0 ? cases[i].v : 12345));
        }
}

struct int_case {
        const char *in;
        int r;
        int v;
};

static void test_parse_int_table(void **state)
{
        static const struct int_case cases[] = {
                { "0", 0, 0 },
                { "-1", 0, -1 },
                { "+5", 0, 5 },
                { "2147483647", 0, INT_MAX },
                { "-2147483648", 0, INT_MIN },
                { "2147483648", -ERANGE, 0 },
                { "-2147483649", -ERANGE, 0 },
                { "9223372036854775808", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "-", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "- 1", -EINVAL, 0 },
                { "1x", -EINVAL, 0 },
                { "3.0", -EINVAL, 0 },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                int v = 777;
                int r = parse_int(cases[i].in, &v);

                if (r != cases[i].r)
                        fail_msg("parse_int(\"%s\") = %d, want %d", cases[i].in, r, cases[i].r);
                assert_int_equal(v, r == 0 ? cases[i].v : 777);
        }
}

struct iso_case {
        const char *in;
        int r;
        uint64_t ms;
};

static void test_time_parse_iso_table(void **state)
{
        static const struct iso_case cases[] = {
                { "1970-01-01T00:00:00Z", 0, 0 },
                { "2026-11-26T05:00:00Z", 0, 1795669200000ull },
                { "2026-11-26T05:00:00.250Z", 0, 1795669200250ull },
                { "2026-11-26T05:00:00.5Z", 0, 1795669200500ull },
                { "2026-11-26T05:00:00", 0, 1795669200000ull },
                { "2024-02-29T00:00:00Z", 0, 1709164800000ull },
                { "2023-02-29T00:00:00Z", -EINVAL, 0 },
                { "2026-13-01T00:00:00Z", -EINVAL, 0 },
                { "2026-11-26 05:00:00Z", -EINVAL, 0 },
                { "2026-11-26T05:00:00+01:00", -EINVAL, 0 },
                { "2026-11-26T05:00:00Zjunk", -EINVAL, 0 },
                { "2026-11-26T05:00:00.Z", -EINVAL, 0 },
                { "2026-11-26T25:00:00Z", -EINVAL, 0 },
                { "1969-12-31T23:59:59Z", -EINVAL, 0 },
                { "", -EINVAL, 0 },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                uint64_t ms = 1;
                int r = time_parse_iso(cases[i].in, &ms);

                if (r != cases[i].r)
                        fail_msg("time_parse_iso(\"%s\") = %d, want %d", cases[i].in, r, cases[i].r);
                assert_true(ms == (r == 0 ? cases[i].ms : 1));
        }
}

static void test_time_iso_round_trip(void **state)
{
        static const uint64_t values[] = { 0, 1795669200000ull, 951782400000ull, 4102444799000ull };
        char s[32];

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
                uint64_t back = 0;

                time_format_iso(values[i], s, sizeof(s));
                assert_int_equal(strlen(s), 20);
                assert_int_equal(time_parse_iso(s, &back), 0);
                assert_true(back == values[i]);
        }
        time_format_iso(1795669200999ull, s, sizeof(s));
        assert_string_equal(s, "2026-11-26T05:00:00Z"); /* second precision */
}

static void test_time_now_is_plausible(void **state)
{
        uint64_t a = time_now_ms(), b;

        (void)state;
        assert_true(a > 1700000000000ull); /* after 2023 */
        b = time_now_ms();
        assert_true(b >= a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_buf_empty_is_shared_and_terminated),
                cmocka_unit_test(test_buf_append_grow_and_detach),
                cmocka_unit_test(test_buf_printf_large),
                cmocka_unit_test(test_str_helpers),
                cmocka_unit_test(test_xgrow),
                cmocka_unit_test(test_buf_append_tail),
                cmocka_unit_test(test_str_last_line_table),
                cmocka_unit_test(test_parse_u64_table),
                cmocka_unit_test(test_parse_int_table),
                cmocka_unit_test(test_time_parse_iso_table),
                cmocka_unit_test(test_time_iso_round_trip),
                cmocka_unit_test(test_time_now_is_plausible),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
