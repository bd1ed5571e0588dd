/*
 * readiness: the arithmetic of "ready" and "probation" (DESIGN §5), pure.
 *
 * Ready: every condition (process up, node answering with the release
 * booted, health hook true) held continuously for healthy_after_ms.  The
 * readiness job samples the conditions and feeds each sample to
 * readiness_observe(); a failed sample restarts the clock.
 *
 *     struct readiness r = READINESS_INIT;
 *     for (;;) {
 *             bool ok = sample();                  // connect + init:get_status() + health
 *             if (readiness_observe(&r, ok, now_ms(), healthy_after_ms))
 *                     break;                       // ready
 *             sleep until readiness_next_check_ms(&r, now_ms(), healthy_after_ms, step)
 *     }
 *
 * Probation: for rollback_timeout_ms after the deployment of a version began
 * on an instance, each crash counts; max_probation_crashes of them fail the
 * deployment like a readiness timeout.
 */
#ifndef DEPLOYEX_READINESS_H
#define DEPLOYEX_READINESS_H

#include <stdbool.h>
#include <stdint.h>

struct readiness {
        uint64_t since_ms; /* start of the current run of good samples; 0 = none */
};
#define READINESS_INIT ((struct readiness){ 0 })

/* Feed one sample taken at now_ms; true once the good run lasts healthy_after_ms. */
bool readiness_observe(struct readiness *r, bool ok, uint64_t now_ms, uint64_t healthy_after_ms);

/*
 * When to sample next: step_ms from now, but not after the moment the run
 * would become long enough (so a short healthy_after_ms is not rounded up).
 */
uint64_t readiness_next_check_ms(const struct readiness *r, uint64_t now_ms,
                                 uint64_t healthy_after_ms, uint64_t step_ms);

/* A crash at now_ms counts toward probation (the window is still open). */
bool probation_counts(uint64_t probation_started_at_ms, uint64_t window_ms, uint64_t now_ms);

/* The crashes counted have failed the deployment. */
bool probation_failed(uint64_t probation_started_at_ms, uint32_t crashes, uint32_t max_crashes);

#endif
