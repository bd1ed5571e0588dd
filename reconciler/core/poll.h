/*
 * poll: when to ask a bucket again (s3://, gs://).  Pure arithmetic, no
 * clock, no I/O: the daemon passes the configured interval, how many polls
 * in a row have failed and a random number, and arms its timer with the
 * result.
 *
 *   failures == 0   interval with +-10 % jitter, so that a fleet of daemons
 *                   started together does not poll in lock step;
 *   failures  > 0   exponential backoff: a ceiling of interval * 2^failures,
 *                   capped at POLL_BACKOFF_MAX_MS (or the interval when that
 *                   is larger), and "equal jitter" below it: a delay in
 *                   [ceiling / 2, ceiling].  It never drops below the
 *                   interval, so a failing bucket is asked less often, never
 *                   more.
 */
#ifndef DEPLOYEX_POLL_H
#define DEPLOYEX_POLL_H

#include <stdint.h>

#define POLL_BACKOFF_MAX_MS (5 * 60 * 1000)

uint64_t poll_next_delay_ms(uint64_t interval, unsigned failures, uint32_t random);

#endif
