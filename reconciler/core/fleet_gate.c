/*
 * fleet_gate: the turn decision of a fleet rollout.  See fleet_gate.h.
 */
#include "reconciler/core/fleet_gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/banned.h"

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void fleet_gate_compute(const struct fleet_view *v, uint64_t stale_after_ms, uint64_t soak_ms,
                        bool canaries, uint64_t now_ms, struct fleet_gate *out)
{
        int k = v->mine;

        memset(out, 0, sizeof(*out));
        out->takeover = -1;
        if (v->verdict_failed) {
                out->decision = FLEET_FAILED;
                snprintf(out->reason, sizeof(out->reason), "failed verdict: %.150s", v->verdict_reason);
                return;
        }
        if (k < 0 || k >= FLEET_SLOTS_MAX) {
                out->decision = FLEET_WAIT;
                snprintf(out->reason, sizeof(out->reason), "claiming a slot");
                return;
        }
        /* A turn that started (before a restart, say) is not taken back. */
        if (k < v->nslots && (v->slots[k].state == FLEET_SLOT_DEPLOYING ||
                              v->slots[k].state == FLEET_SLOT_READY)) {
                out->decision = FLEET_GO;
                return;
        }
        for (int j = k - 1; j >= 0; j--) {
                const struct fleet_slot *s = j < v->nslots ? &v->slots[j] : NULL;
                uint64_t unchanged;

                if (!s || s->state == FLEET_SLOT_ABSENT) {
                        out->decision = FLEET_WAIT;
                        if (j == 0 && canaries)
                                snprintf(out->reason, sizeof(out->reason),
                                         "slot %d waits for a canary host to take slot 0", k);
                        else
                                snprintf(out->reason, sizeof(out->reason),
                                         "slot %d waits for a host to take slot %d", k, j);
                        return;
                }
                switch (s->state) {
                case FLEET_SLOT_ABANDONED:
                        continue;
                case FLEET_SLOT_READY:
                        if (now_ms >= add_sat(s->ready_at_ms, soak_ms)) {
                                out->decision = FLEET_GO;
                                return;
                        }
                        out->decision = FLEET_WAIT;
                        out->wake_at_ms = add_sat(s->ready_at_ms, soak_ms);
                        snprintf(out->reason, sizeof(out->reason),
                                 "slot %d soaks after %s, %" PRIu64 " ms left", k, s->host,
                                 out->wake_at_ms - now_ms);
                        return;
                case FLEET_SLOT_FAILED:
                        out->decision = FLEET_WAIT;
                        snprintf(out->reason, sizeof(out->reason),
                                 "slot %d waits for the verdict of %s", k, s->host);
                        return;
                default:
                        /* Only a read can show it unchanged: the next one decides, no timer. */
                        unchanged = s->seen_at_ms > s->changed_at_ms
                                            ? s->seen_at_ms - s->changed_at_ms
                                            : 0;
                        if (unchanged >= stale_after_ms) {
                                out->takeover = j;
                                out->takeover_fingerprint = s->fingerprint;
                                out->decision = FLEET_WAIT;
                                snprintf(out->reason, sizeof(out->reason),
                                         "slot %d takes over slot %d of %s (unchanged %" PRIu64 " ms)",
                                         k, j, s->host, unchanged);
                                return;
                        }
                        out->decision = FLEET_WAIT;
                        snprintf(out->reason, sizeof(out->reason), "slot %d waits for %s", k, s->host);
                        return;
                }
        }
        out->decision = FLEET_GO;
}
