/*
 * fleet_verdict_parse: DESIGN §4.2/§10 define verdict.json as "the version
 * failed: by, reason".  Its presence fails the version; "result" is ours and
 * optional.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "state/fleet.h"

static bool parse(const char *text, struct fleet_view *v, char by[FLEET_HOST_MAX + 1])
{
        memset(v, 0, sizeof(*v));
        by[0] = '\0';
        fleet_verdict_parse(text, strlen(text), v, by);
        return v->verdict_failed;
}

static void test_ours_round_trips(void **state)
{
        struct fleet_view v;
        char by[FLEET_HOST_MAX + 1];
        struct buf out = BUF_INIT;

        (void)state;
        fleet_verdict_format("web-1", "not ready", 1000, &out);
        assert_true(parse(out.data, &v, by));
        assert_string_equal(by, "web-1");
        assert_string_equal(v.verdict_reason, "web-1: not ready");
        buf_release(&out);
}

static void test_design_shape_without_result_fails(void **state)
{
        struct fleet_view v;
        char by[FLEET_HOST_MAX + 1];

        (void)state;
        assert_true(parse("{\"by\": \"web-2\", \"reason\": \"boot loop\"}", &v, by));
        assert_string_equal(by, "web-2");
        assert_string_equal(v.verdict_reason, "web-2: boot loop");
        assert_true(parse("{}", &v, by));
        assert_string_equal(v.verdict_reason, "?: failed");
}

static void test_unreadable_verdict_fails(void **state)
{
        struct fleet_view v;
        char by[FLEET_HOST_MAX + 1];

        (void)state;
        assert_true(parse("{\"by\": \"web-2\"", &v, by));
        assert_string_equal(v.verdict_reason, "?: verdict.json is not a JSON object");
        assert_true(parse("[1]", &v, by));
}

static void test_other_result_is_not_a_failure(void **state)
{
        struct fleet_view v;
        char by[FLEET_HOST_MAX + 1];

        (void)state;
        assert_false(parse("{\"result\": \"ok\", \"by\": \"web-1\"}", &v, by));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ours_round_trips),
                cmocka_unit_test(test_design_shape_without_result_fails),
                cmocka_unit_test(test_unreadable_verdict_fails),
                cmocka_unit_test(test_other_result_is_not_a_failure),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
