/* readiness: see readiness.h.  No I/O, no clock: time is a parameter. */
#include "reconciler/core/readiness.h"

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

bool readiness_observe(struct readiness *r, bool ok, uint64_t now_ms, uint64_t healthy_after_ms)
{
        if (!ok) {
                r->since_ms = 0;
                return false;
        }
        /* A sample at time 0 would read as "no run": start the run at 1 ms instead. */
        if (r->since_ms == 0)
                r->since_ms = now_ms ? now_ms : 1;
        return now_ms >= add_sat(r->since_ms, healthy_after_ms);
}

uint64_t readiness_next_check_ms(const struct readiness *r, uint64_t now_ms,
                                 uint64_t healthy_after_ms, uint64_t step_ms)
{
        uint64_t next = add_sat(now_ms, step_ms);

        if (r->since_ms != 0) {
                uint64_t due = add_sat(r->since_ms, healthy_after_ms);
                if (due > now_ms && due < next)
                        next = due;
        }
        return next;
}

bool probation_counts(uint64_t probation_started_at_ms, uint64_t window_ms, uint64_t now_ms)
{
        return probation_started_at_ms != 0 && now_ms >= probation_started_at_ms &&
               now_ms < add_sat(probation_started_at_ms, window_ms);
}

bool probation_failed(uint64_t probation_started_at_ms, uint32_t crashes, uint32_t max_crashes)
{
        return probation_started_at_ms != 0 && max_crashes > 0 && crashes >= max_crashes;
}
