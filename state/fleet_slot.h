/*
 * fleet_slot: a fleet rollout's slots and verdict as read into memory
 * (DESIGN §10; the files: state/fleet.h).  The gate (reconciler/core/
 * fleet_gate.h) decides on these; state/fleet.c reads and writes them.
 */
#ifndef DEPLOYEX_FLEET_SLOT_H
#define DEPLOYEX_FLEET_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#define FLEET_HOST_MAX 63
#define FLEET_SLOTS_MAX 256
#define FLEET_REASON_MAX 200

enum fleet_slot_state {
        FLEET_SLOT_ABSENT,
        FLEET_SLOT_WAITING,
        FLEET_SLOT_DEPLOYING,
        FLEET_SLOT_READY,
        FLEET_SLOT_FAILED,
        FLEET_SLOT_ABANDONED,
};
const char *fleet_slot_state_to_string(enum fleet_slot_state s);
int fleet_slot_state_from_string(const char *s, enum fleet_slot_state *ret);

/* One slot as read, plus what this daemon observed of it. */
struct fleet_slot {
        enum fleet_slot_state state;
        char host[FLEET_HOST_MAX + 1];
        int ready, total;
        uint64_t beat;
        uint64_t fingerprint;     /* of the file's bytes: the If-Match of a takeover */
        uint64_t changed_at_ms;   /* monotonic: when this daemon last saw it change */
        uint64_t seen_at_ms;      /* monotonic: when the last read that found it unchanged began */
        uint64_t ready_at_ms;     /* monotonic: when this daemon first saw it ready, 0 = not */
};

struct fleet_view {
        struct fleet_slot slots[FLEET_SLOTS_MAX]; /* index = slot number */
        int nslots;                               /* highest slot + 1 */
        int mine;                                 /* this host's slot, -1 = none yet */
        bool verdict_failed;
        char verdict_reason[FLEET_REASON_MAX];
};

#endif
