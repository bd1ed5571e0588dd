/*
 * test_readiness: the readiness clock, with time injected.  A run of good
 * samples lasting healthy_after_ms makes an instance ready; one bad sample
 * restarts the clock; the next check is never later than the moment the run
 * would be long enough.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "reconciler/core/readiness.h"

#define T0 UINT64_C(5000000)

struct sample {
        uint64_t at;  /* ms after T0 */
        bool ok;
        bool ready;   /* expected answer */
};

static void run_samples(const struct sample *s, size_t n, uint64_t healthy)
{
        struct readiness r = READINESS_INIT;

        for (size_t i = 0; i < n; i++)
                assert_int_equal(readiness_observe(&r, s[i].ok, T0 + s[i].at, healthy), s[i].ready);
}

static void test_continuous_run_is_ready(void **state)
{
        static const struct sample s[] = {
                { 0, true, false }, { 250, true, false }, { 999, true, false }, { 1000, true, true },
        };

        (void)state;
        run_samples(s, sizeof(s) / sizeof(s[0]), 1000);
}

/* A release that dies while booting answers only now and then: never ready. */
static void test_bad_sample_restarts_the_clock(void **state)
{
        static const struct sample s[] = {
                { 0, true, false },   { 600, true, false },  { 800, false, false },
                { 1000, true, false }, { 1900, true, false }, { 2000, true, true },
        };

        (void)state;
        run_samples(s, sizeof(s) / sizeof(s[0]), 1000);
}

static void test_no_good_sample_never_ready(void **state)
{
        struct readiness r = READINESS_INIT;

        (void)state;
        for (uint64_t t = 0; t < 60000; t += 250)
                assert_false(readiness_observe(&r, false, T0 + t, 500));
}

static void test_zero_healthy_after_is_ready_at_once(void **state)
{
        struct readiness r = READINESS_INIT;

        (void)state;
        assert_false(readiness_observe(&r, false, T0, 0));
        assert_true(readiness_observe(&r, true, T0 + 1, 0));
}

static void test_next_check_is_not_rounded_up(void **state)
{
        struct readiness r = READINESS_INIT;

        (void)state;
        /* Nothing good yet: one step. */
        assert_int_equal(readiness_next_check_ms(&r, T0, 1000, 250), T0 + 250);
        readiness_observe(&r, true, T0, 100);
        /* Ready would be due at T0 + 100, before the step. */
        assert_int_equal(readiness_next_check_ms(&r, T0 + 10, 100, 250), T0 + 100);
        /* Due later than one step: one step. */
        assert_int_equal(readiness_next_check_ms(&r, T0 + 10, 10000, 250), T0 + 260);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_continuous_run_is_ready),
                cmocka_unit_test(test_bad_sample_restarts_the_clock),
                cmocka_unit_test(test_no_good_sample_never_ready),
                cmocka_unit_test(test_zero_healthy_after_is_ready_at_once),
                cmocka_unit_test(test_next_check_is_not_rounded_up),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
