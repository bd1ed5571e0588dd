/*
 * backoff: the crash-restart delay, pure arithmetic (DESIGN §5).
 *
 * After k consecutive crashes (k >= 1) the instance restarts after
 * min(initial * 2^(k-1), max); no overflow for any k.
 */
#ifndef DEPLOYEX_BACKOFF_H
#define DEPLOYEX_BACKOFF_H

#include <stdint.h>

uint64_t backoff_delay_ms(uint64_t initial_ms, uint64_t max_ms, uint32_t consecutive_crashes);

#endif
