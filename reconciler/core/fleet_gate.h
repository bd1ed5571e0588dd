/*
 * fleet_gate: "may this host deploy D now, and if not, why" (DESIGN §10,
 * docs/fleet.md).  Pure, like plan.c: the slots of rollout/{app}/{env}/{D}/
 * as the last `__fleet` job read them, with the times at which this daemon
 * saw each one change and last found it unchanged (its own monotonic clock),
 * go in; the decision comes out.  No I/O, no clock: the daemon (fleet.c in
 * reconciler) does both.
 *
 * Rules, for this host holding slot k:
 *  - a failed verdict: D fails here too (FLEET_FAILED);
 *  - no slot yet: wait ("claiming a slot");
 *  - this host's slot already deploying or ready (a restarted daemon): go on;
 *  - walk down from k-1 over abandoned slots to the nearest live one j:
 *      absent            -> wait for someone to claim it (slot 0: a canary);
 *      ready             -> deploy once soak_ms passed since it was seen ready;
 *      failed            -> wait (its host writes the verdict);
 *      waiting/deploying -> wait, unless this daemon's reads found it
 *                           unchanged for stale_after_ms: then take it over
 *                           (abandon it; slot 0 fails D).  Reads, not the
 *                           clock alone: a daemon that was itself stopped or
 *                           starved has read nothing since, and decides
 *                           nothing on what it read before;
 *    no live slot below k (or k = 0): deploy.
 */
#ifndef DEPLOYEX_FLEET_GATE_H
#define DEPLOYEX_FLEET_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/fleet_slot.h"

enum fleet_decision {
        FLEET_WAIT,
        FLEET_GO,
        FLEET_FAILED,
};

struct fleet_gate {
        enum fleet_decision decision;
        char reason[FLEET_REASON_MAX];  /* "slot 2 waits for web-1"; "" when GO */
        int takeover;                   /* a stale slot to abandon, -1 = none */
        uint64_t takeover_fingerprint;
        uint64_t wake_at_ms;            /* monotonic: when the answer can change by itself, 0 = none */
};

void fleet_gate_compute(const struct fleet_view *v, uint64_t stale_after_ms, uint64_t soak_ms,
                        bool canaries, uint64_t now_ms, struct fleet_gate *out);

#endif
