/*
 * crash_point: a debug-only fault injector for the journal's crash tests
 * (tests/integration/fault_injection.sh, docs/daemon.md).
 *
 *     DEPLOYEX_DEBUG_CRASH_AT=[ACTION/]POINT[:COUNT]     e.g. deploy-full/rotate:2
 *
 * makes the daemon kill itself with SIGKILL the COUNT-th time (1 by default)
 * it passes the named point: just after a journal write of a step's phase
 * (POINT is the phase; "begin" for a step's first write), or at the end of a
 * step ("finish" before its journal is removed, "cleared" after).  Without
 * ACTION (deploy-full, deploy-hot, rollback) the point is any action's.  Unset, a point costs one branch.  The variable is read once at
 * start and removed from the environment, so no job or instance inherits it.
 */
#ifndef DEPLOYEX_CRASH_POINT_H
#define DEPLOYEX_CRASH_POINT_H

/* Arms the injector from the environment; -EINVAL (logged) on a malformed value. */
int crash_point_init(void);
/* Dies by SIGKILL when point WHAT of ACTION is the armed one, at its COUNT-th pass. */
void crash_point(const char *action, const char *what);

#endif
