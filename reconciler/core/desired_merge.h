/*
 * desired_merge: what an app should run, from the last good current.json,
 * the operator's override and the ghosts (DESIGN §4.2, §4.3, §5).  Pure:
 * no I/O, no clock (`make core-check`); desired_load()
 * (reconciler/shared/desired_load.h) reads what it merges.
 */
#ifndef DEPLOYEX_DESIRED_MERGE_H
#define DEPLOYEX_DESIRED_MERGE_H

#include "state/desired.h"

/*
 * source: the last good current.json or NULL; source_error / override_error:
 * why the newest one was not used, or NULL.  ov may be NULL (no override).
 */
void desired_merge(const struct release_desc *source, const char *source_error,
                   const struct override *ov, const char *override_error,
                   const struct ghost_list *ghosts, struct desired *ret);

#endif
