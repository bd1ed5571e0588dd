/*
 * host_faults: the daemon's side of a host fault (host_faults.c), beside
 * noting one (runtime.h, what the executor, the supervisor and the child
 * table do).  The time the host was at fault does not count against a
 * deployment: at every tick, and at the start of a daemon whose predecessor
 * died mid-fault, every instance's rollback deadline and probation window
 * move on by it.  The loop over the apps is the daemon's: it is handed in
 * as extend_all, which calls host_faults_extend() for each instance.
 */
#ifndef DEPLOYEX_HOST_FAULTS_H
#define DEPLOYEX_HOST_FAULTS_H

#include <stdint.h>

#include "reconciler/daemon/runtime.h"

/* Move every instance's deadlines on by `by` ms (the daemon's loop over its apps). */
typedef void (*host_faults_extend_fn)(struct runtime *rt, uint64_t by);

/* Move the instance's rollback deadline and probation window on by `by` ms (saved). */
void host_faults_extend(struct runtime *rt, struct instance_rt *in, uint64_t by);
/* Pause the deadlines for the time since the last tick; clear a quiet fault; the next wake. */
uint64_t host_faults_tick(struct runtime *rt, host_faults_extend_fn extend_all);
/* At start: the fault a predecessor died in (run/host_fault.json) paused the deadlines too. */
void host_faults_resume(struct runtime *rt, host_faults_extend_fn extend_all);

#endif
