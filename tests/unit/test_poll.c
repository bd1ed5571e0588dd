/* Unit tests: the poller's delay with jitter and backoff (reconciler/core/poll.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "reconciler/core/poll.h"
#include "base/util.h"

#include "base/banned.h"

static void test_table(void **state)
{
        static const struct {
                uint64_t interval;
                unsigned failures;
                uint32_t random;
                uint64_t want;
        } cases[] = {
                /* Steady polling: interval +-10 %. */
                { 5000, 0, 0, 4500 },
                { 5000, 0, 1000, 5500 },
                { 5000, 0, 1001, 4500 },     /* random wraps within the span */
                { 5000, 0, 500, 5000 },
                { 1, 0, 12345, 1 },          /* too small to jitter */
                /* First failure: [interval, 2 * interval]. */
                { 5000, 1, 0, 5000 },
                { 5000, 1, 5000, 10000 },
                /* Third: ceiling 40 s, equal jitter [20 s, 40 s]. */
                { 5000, 3, 0, 20000 },
                { 5000, 3, 20000, 40000 },
                /* Many failures: capped at five minutes, never overflowing. */
                { 5000, 200, 0, 150000 },
                { 5000, 200, 150000, 300000 },
                { 5000, 4294967295u, 4294967295u, 150000 + 4294967295u % 150001 },
                /* An interval above the cap: backoff never goes below the interval. */
                { 600000, 5, 0, 600000 },
                { 600000, 5, 999, 600000 },
                { 0, 0, 7, 1 },              /* a zero interval is treated as 1 ms */
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                uint64_t got = poll_next_delay_ms(cases[i].interval, cases[i].failures, cases[i].random);
                if (got != cases[i].want)
                        fail_msg("case %zu: interval %llu failures %u random %u: got %llu, want %llu", i,
                                 (unsigned long long)cases[i].interval, cases[i].failures,
                                 cases[i].random, (unsigned long long)got,
                                 (unsigned long long)cases[i].want);
        }
}

/* Over every random value class the delay stays within its band, and grows with failures. */
static void test_bounds(void **state)
{
        uint64_t prev_low = 0;

        (void)state;
        for (unsigned f = 0; f < 12; f++) {
                uint64_t lo = UINT64_MAX, hi = 0;

                for (uint32_t r = 0; r < 400000; r += 997) {
                        uint64_t d = poll_next_delay_ms(2000, f, r * 2654435761u);
                        lo = d < lo ? d : lo;
                        hi = d > hi ? d : hi;
                }
                assert_true(lo >= (f == 0 ? 1800 : 2000));
                assert_true(hi <= (f == 0 ? 2200 : POLL_BACKOFF_MAX_MS));
                assert_true(lo >= prev_low);
                prev_low = lo;
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_bounds),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
