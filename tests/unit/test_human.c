/* human: durations with units; colour only when asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reconciler/shared/human.h"

static void test_durations(void **state)
{
        static const struct {
                uint64_t ms;
                const char *want;
        } cases[] = {
                { 0, "0ms" },          { 850, "850ms" },        { 1000, "1s" },
                { 59999, "59s" },      { 60000, "1m00s" },      { 125000, "2m05s" },
                { 3599000, "59m59s" }, { 3600000, "1h00m" },    { 11220000, "3h07m" },
                { 86399000, "23h59m" }, { 86400000, "1d00h" },  { 187200000, "2d04h" },
        };
        char out[32];

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                human_duration(cases[i].ms, out, sizeof(out));
                assert_string_equal(out, cases[i].want);
        }
}

static void test_paint(void **state)
{
        struct buf b = BUF_INIT;

        (void)state;
        human_paint(&b, false, HUMAN_RED, "x");
        assert_string_equal(b.data, "x");
        buf_reset(&b);
        human_paint(&b, true, HUMAN_RED, "x");
        assert_string_equal(b.data, "\033[31mx\033[0m");
        buf_release(&b);
        setenv("NO_COLOR", "1", 1);
        assert_false(human_colour_wanted(stdout));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_paint),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
