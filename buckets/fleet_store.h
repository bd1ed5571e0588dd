/*
 * fleet_store: the rollout files of one version, rollout/{app}/{env}/{D}/
 * (DESIGN §10, docs/fleet.md), in whichever bucket the source names.  The
 * `__fleet` job and `deployex rollout` use it without knowing the scheme:
 *
 *   file://  state/fleet.c: link(2) of a written file (create-if-absent),
 *            flock + fingerprint check + rename (compare-and-swap);
 *   s3://    bucket_put.h: If-None-Match: * and If-Match: ETAG;
 *   gs://    bucket_put.h: ifGenerationMatch=0 and =GENERATION.
 *
 * The daemon knows a slot by the fingerprint of its bytes (fleet.h), the
 * same on every scheme.  A compare-and-swap on a bucket reads the slot (its
 * bytes and tag), checks the fingerprint, and writes If-Match that tag; a 412
 * means someone wrote in between, so it reads and decides again.
 *
 * Reads on a bucket need no LIST: claims take the lowest free slot from 0
 * (canaries) or 1 (the others), so slots 1..n are contiguous and the read
 * stops at the first absent slot after slot 0.
 *
 * Calling sequence: fleet_store_open -> read / claim / replace / verdict /
 * prune .. -> fleet_store_free.  Blocking: jobs and CLI only.
 */
#ifndef DEPLOYEX_FLEET_STORE_H
#define DEPLOYEX_FLEET_STORE_H

#include <stdint.h>

#include "state/fleet_slot.h"
#include "state/config.h"
#include "base/util.h"

/* Rollout folders kept per app and env: the newest ones (docs/fleet.md). */
#define FLEET_KEEP_VERSIONS 5

struct fleet_store;

/* -errno with err for a source that cannot hold rollout files. */
int fleet_store_open(const struct config *c, const char *app, const char *version,
                     struct fleet_store **ret, struct buf *err);
/* Every slot and the verdict (see fleet_file_read); a malformed slot reads as absent. */
int fleet_store_read(struct fleet_store *s, struct fleet_view *v, uint64_t at_ms[FLEET_SLOTS_MAX],
                     char verdict_by[FLEET_HOST_MAX + 1], struct buf *err);
/*
 * Only the verdict and slot k (the rest of v absent): all a host whose turn
 * is over needs each heartbeat, 2 requests on a bucket instead of n + 2.
 */
int fleet_store_read_mine(struct fleet_store *s, int k, struct fleet_view *v,
                          uint64_t at_ms[FLEET_SLOTS_MAX], char verdict_by[FLEET_HOST_MAX + 1],
                          struct buf *err);
/* Create the lowest free slot >= first with text: *ret_slot and the fingerprint of text. */
int fleet_store_claim(struct fleet_store *s, int first, const char *text, size_t len, int *ret_slot,
                      uint64_t *ret_fp, struct buf *err);
/* Replace slot k if its bytes still have fingerprint seen: -ESTALE if not, -ENOENT when gone. */
int fleet_store_replace(struct fleet_store *s, int k, uint64_t seen, const char *text, size_t len,
                        struct buf *err);
/* Create verdict.json (failed) unless one exists: the first verdict stands (0 then too). */
int fleet_store_verdict(struct fleet_store *s, const char *by, const char *reason, uint64_t at_ms,
                        struct buf *err);
/*
 * Delete the rollout folders of this app and env but the FLEET_KEEP_VERSIONS
 * newest (by their first slot's "at"), never the open version's.  The
 * number deleted in *ret_deleted.
 */
int fleet_store_prune(struct fleet_store *s, int *ret_deleted, struct buf *err);
void fleet_store_free(struct fleet_store *s);

#endif
