/*
 * poll: the poller's next delay, with jitter and backoff.  See poll.h.
 */
#include "reconciler/core/poll.h"

#include "reconciler/core/backoff.h"
#include "base/banned.h"

uint64_t poll_next_delay_ms(uint64_t interval, unsigned failures, uint32_t random)
{
        uint64_t ceiling, cap, low, span;

        if (interval == 0)
                interval = 1;
        if (failures == 0) {
                span = interval / 5; /* +-10 % */
                return interval - interval / 10 + (span ? random % (span + 1) : 0);
        }
        cap = interval > POLL_BACKOFF_MAX_MS ? interval : POLL_BACKOFF_MAX_MS;
        /* min(interval * 2^failures, cap): the crash-restart series, one step on. */
        ceiling = backoff_delay_ms(interval, cap, failures < UINT32_MAX ? failures + 1 : UINT32_MAX);
        low = ceiling / 2;
        if (low < interval)
                low = interval;
        span = ceiling - low;
        return low + (span ? random % (span + 1) : 0);
}
