/*
 * fleet: the files of a fleet rollout (DESIGN §10, docs/fleet.md) and the
 * file:// store of them.
 *
 *   {bucket}/rollout/{app}/{env}/{D}/slot-NNN.json
 *       {"host": "web-1", "state": "waiting"|"deploying"|"ready"|"failed"|"abandoned",
 *        "ready": 1, "total": 3, "beat": 17, "at": "2026-12-02T18:00:00Z", "at_ms": 1796234400000}
 *   {bucket}/rollout/{app}/{env}/{D}/verdict.json
 *       {"result": "failed", "by": "web-1", "reason": "...", "at": "..."}
 *   {var_path}/state/{app}/rollout.json      this host's claim
 *       {"version": "D", "slot": 2, "fingerprint": "hex", "beat": 17}
 *
 * Writes are conditional only: a slot or the verdict is created with link(2)
 * of a fully written temporary file (create-if-absent), and a slot is changed
 * under flock(rollout dir/.lock) only when its bytes still have the
 * fingerprint the writer saw (If-Match).  Readers never lock.
 */
#ifndef DEPLOYEX_FLEET_H
#define DEPLOYEX_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"
#include "state/fleet_slot.h"
#include "base/util.h"

/* The claim this host persisted; slot -1 = none. */
struct fleet_claim {
        char version[VERSION_MAX + 1];
        int slot;
        uint64_t fingerprint; /* of the slot bytes this host wrote last */
        uint64_t beat;
};

uint64_t fleet_fingerprint(const char *data, size_t len);

void fleet_slot_format(const char *host, enum fleet_slot_state st, int ready, int total,
                       uint64_t beat, uint64_t at_ms, struct buf *out);
/* Fills host, state, ready, total, beat, fingerprint; -EINVAL with err. */
int fleet_slot_parse(const char *text, size_t len, const char *origin, struct fleet_slot *ret,
                     uint64_t *ret_at_ms, struct buf *err);

/* verdict.json: {"result": "failed", "by", "reason", "at"}. */
void fleet_verdict_format(const char *by, const char *reason, uint64_t at_ms, struct buf *out);
/* A failed verdict sets v->verdict_failed, verdict_reason ("BY: REASON") and verdict_by. */
void fleet_verdict_parse(const char *text, size_t len, struct fleet_view *v,
                         char verdict_by[FLEET_HOST_MAX + 1]);
/* The largest slot or verdict file a reader accepts. */
#define FLEET_FILE_MAX 4096

int fleet_claim_load(const char *path, struct fleet_claim *ret); /* absent: slot -1, 0 */
int fleet_claim_save(const char *path, const struct fleet_claim *c);

/*
 * state/{app}/fleet.json: the daemon's last gate for the version, so that
 * `plan` and `status` show what the daemon decides: {"version", "go", "reason"}.
 */
int fleet_turn_save(const char *path, const char *version, bool go, const char *reason);
/* Absent: version "" and 0. */
int fleet_turn_load(const char *path, char version[VERSION_MAX + 1], bool *go, char *reason,
                    size_t reason_size);

/* file:// store.  dir = {root}/rollout/{app}/{env}/{D}. */
void fleet_dir(const char *root, const char *app, const char *env, const char *version, struct buf *out);
/* Claim the lowest free slot >= first; *ret_slot, *ret_fp. */
int fleet_file_claim(const char *dir, int first, const char *text, size_t len, int *ret_slot,
                     uint64_t *ret_fp);
/* Replace slot k if its bytes still have fingerprint `seen`: -ESTALE otherwise, -ENOENT gone. */
int fleet_file_replace(const char *dir, int k, uint64_t seen, const char *text, size_t len);
/* Create verdict.json unless it exists (then 0 as well: the first verdict stands). */
int fleet_file_verdict(const char *dir, const char *by, const char *reason, uint64_t at_ms);
/*
 * Read every slot and the verdict into v (slots' changed/ready times left 0);
 * per slot its writer's "at" into at_ms[k].  A malformed slot reads as absent.
 */
int fleet_file_read(const char *dir, struct fleet_view *v, uint64_t at_ms[FLEET_SLOTS_MAX],
                    char verdict_by[FLEET_HOST_MAX + 1]);

#endif
