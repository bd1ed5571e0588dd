/*
 * backoff: the crash-restart delay, pure arithmetic (DESIGN §5).
 *
 * After k consecutive crashes (k >= 1) the instance restarts after
 * min(initial * 2^(k-1), max); no overflow for any k.
 *
 * initial 0 restarts the first crash at once, and backs off from the second
 * as if initial were 1 ms one crash later: 0, 1, 2, 4, ... ms, capped by max.
 * A crash loop therefore never spins: after 20 crashes in a row the delay is
 * 2^18 ms (about 4 min) or max, whichever is smaller.
 */
#ifndef DEPLOYEX_BACKOFF_H
#define DEPLOYEX_BACKOFF_H

#include <stdint.h>

uint64_t backoff_delay_ms(uint64_t initial_ms, uint64_t max_ms, uint32_t consecutive_crashes);

#endif
