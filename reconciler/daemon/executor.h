/*
 * executor: carries out the planner's runnable steps, one enter_<phase>()
 * per enum op_phase (executor.c says the sequences).  Each step and its
 * phase are journaled before the phase runs, so that a daemon that dies
 * mid-step finishes it on its next start (exec_recover); phases that leave
 * the instance untouched share one write (executor.c, recovery_drops).
 *
 * It is given the runtime (runtime.h) and one app at a time, never the
 * daemon; it acts on instances through the supervisor (supervisor.h) and
 * starts its blocking phases as jobs (jobs.h).
 */
#ifndef DEPLOYEX_EXECUTOR_H
#define DEPLOYEX_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "reconciler/core/plan.h"
#include "reconciler/daemon/instances.h"
#include "reconciler/daemon/runtime.h"

void exec_begin(struct runtime *rt, struct app_rt *a, const struct plan_step *s);
void exec_recover(struct runtime *rt, struct app_rt *a);  /* finish or undo the journal */
bool exec_app_busy(const struct app_rt *a);
void exec_ghost(struct runtime *rt, struct app_rt *a, const char *version, const char *reason);
void exec_tick(struct runtime *rt, struct app_rt *a);     /* phases waiting out a host fault */
uint64_t exec_next_retry(const struct app_rt *a);         /* the app's; 0 = none */

#endif
