/*
 * test_backoff: the crash-restart delay min(initial * 2^(k-1), max) for every
 * k, including the ones where the product would wrap a uint64_t, and the
 * series of initial 0 (0 once, then 1, 2, 4 ... ms).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "reconciler/core/backoff.h"

#include "base/banned.h"

struct backoff_case {
        uint64_t initial, max;
        uint32_t k;
        uint64_t want;
};

static const struct backoff_case cases[] = {
        /* no crash yet: no delay */
        { 2000, 300000, 0, 0 },
        { UINT64_MAX, UINT64_MAX, 0, 0 },
        /* the doubling series with the defaults, then the cap */
        { 2000, 300000, 1, 2000 },
        { 2000, 300000, 2, 4000 },
        { 2000, 300000, 3, 8000 },
        { 2000, 300000, 4, 16000 },
        { 2000, 300000, 7, 128000 },
        { 2000, 300000, 8, 256000 },
        { 2000, 300000, 9, 300000 },
        { 2000, 300000, 10, 300000 },
        { 2000, 300000, 64, 300000 },
        { 2000, 300000, 65, 300000 },
        { 2000, 300000, UINT32_MAX, 300000 },
        /* exactly reaching the cap is the cap, one below doubles */
        { 1000, 8000, 4, 8000 },
        { 1000, 8000, 3, 4000 },
        { 1000, 7999, 4, 7999 },
        /* initial above max: max from the first crash */
        { 5000, 3000, 1, 3000 },
        { 5000, 3000, 2, 3000 },
        /* zero initial: the first crash at once, then 1, 2, 4 ... ms (never a spin) */
        { 0, 300000, 1, 0 },
        { 0, 300000, 2, 1 },
        { 0, 300000, 3, 2 },
        { 0, 300000, 5, 8 },
        { 0, 300000, 20, 262144 },
        { 0, 300000, 21, 300000 },
        { 0, 1, 1, 0 },
        { 0, 1, 2, 1 },
        { 0, 1, UINT32_MAX, 1 },
        { 0, UINT64_MAX, 65, UINT64_C(1) << 63 },
        { 0, UINT64_MAX, UINT32_MAX, UINT64_MAX },
        /* zero max */
        { 0, 0, 5, 0 },
        { 2000, 0, 1, 0 },
        { 2000, 0, 30, 0 },
        /* no wrap: 2^63 fits, 2^64 would wrap to 0 */
        { 1, UINT64_MAX, 64, UINT64_C(1) << 63 },
        { 1, UINT64_MAX, 65, UINT64_MAX },
        { 1, UINT64_MAX, UINT32_MAX, UINT64_MAX },
        { UINT64_MAX / 2, UINT64_MAX, 2, UINT64_MAX - 1 },
        { UINT64_MAX / 2 + 1, UINT64_MAX, 2, UINT64_MAX },
        { UINT64_C(3) << 62, UINT64_MAX, 2, UINT64_MAX },
        { UINT64_MAX, UINT64_MAX, 1, UINT64_MAX },
        { UINT64_MAX, UINT64_MAX, UINT32_MAX, UINT64_MAX },
        { UINT64_C(1) << 40, UINT64_C(1) << 50, 11, UINT64_C(1) << 50 },
        { UINT64_C(1) << 40, UINT64_C(1) << 50, 10, UINT64_C(1) << 49 },
};

static void test_backoff_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct backoff_case *t = &cases[i];
                uint64_t got = backoff_delay_ms(t->initial, t->max, t->k);

                if (got != t->want)
                        fail_msg("case %zu: backoff_delay_ms(%ju, %ju, %u) = %ju, want %ju", i,
                                 (uintmax_t)t->initial, (uintmax_t)t->max, (unsigned)t->k,
                                 (uintmax_t)got, (uintmax_t)t->want);
        }
}

/* Never decreasing in k and never above max, for a sweep of k. */
static void test_backoff_monotonic(void **state)
{
        static const uint64_t initials[] = { 0, 1, 3, 2000, 999999, UINT64_C(1) << 62 };
        static const uint64_t maxes[] = { 1, 300000, UINT64_MAX };

        (void)state;
        for (size_t i = 0; i < sizeof(initials) / sizeof(initials[0]); i++) {
                for (size_t j = 0; j < sizeof(maxes) / sizeof(maxes[0]); j++) {
                        uint64_t prev = 0;

                        for (uint32_t k = 0; k < 200; k++) {
                                uint64_t d = backoff_delay_ms(initials[i], maxes[j], k);

                                assert_true(d >= prev);
                                assert_true(d <= maxes[j]);
                                prev = d;
                        }
                        assert_int_equal(prev, maxes[j]);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_table),
                cmocka_unit_test(test_backoff_monotonic),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
