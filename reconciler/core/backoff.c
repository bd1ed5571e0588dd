/*
 * backoff: min(initial * 2^(k-1), max) without ever computing a product that
 * could wrap.  Doubling stops as soon as the next doubling would pass max, so
 * the loop runs at most 64 times whatever k is.  initial 0 is "no delay
 * once": 0 for the first crash, then the series of initial 1 ms, one crash
 * behind (backoff.h).
 */
#include "reconciler/core/backoff.h"

#include "base/banned.h"

uint64_t backoff_delay_ms(uint64_t initial_ms, uint64_t max_ms, uint32_t consecutive_crashes)
{
        uint64_t d = initial_ms;

        if (consecutive_crashes == 0 || max_ms == 0)
                return 0;
        if (initial_ms == 0) {
                if (consecutive_crashes == 1)
                        return 0;
                d = 1;
                consecutive_crashes--;
        }
        if (d >= max_ms)
                return max_ms;
        for (uint32_t i = 1; i < consecutive_crashes; i++) {
                /* d * 2 > max  <=>  d > max / 2 (integer division), and d * 2 cannot wrap */
                if (d > max_ms / 2)
                        return max_ms;
                d *= 2;
        }
        return d;
}
