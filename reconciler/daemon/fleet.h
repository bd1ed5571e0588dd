/*
 * fleet: this host's side of a fleet rollout (DESIGN §10, docs/fleet.md),
 * one app at a time: its `__fleet` job, the slots it read, and the planner's
 * fleet gate (go, or wait with the reason).  Given the runtime and the app,
 * never the daemon; a failed verdict ghosts the version through the
 * executor (exec_ghost).
 */
#ifndef DEPLOYEX_DAEMON_FLEET_H
#define DEPLOYEX_DAEMON_FLEET_H

#include <stdint.h>

#include "reconciler/core/plan.h"
#include "reconciler/daemon/instances.h"
#include "reconciler/daemon/runtime.h"

/* The planner's fleet gate for the app (NULL: no fleet); *ret_deadline the next tick. */
const struct plan_fleet *fleet_tick(struct runtime *rt, struct app_rt *a, uint64_t *ret_deadline);

#endif
