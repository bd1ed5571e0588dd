/*
 * runtime: what the executor and the supervisor are given instead of the
 * daemon.  The configuration in force, the loop, the child table, the paths
 * of the helper programs, whether the daemon is stopping, and the two pieces
 * of host state every start of a child needs: the host fault in force (a
 * job or a state write that could not happen because the host ran out of
 * something, host_faults.c) and where instances get their cgroups
 * (cgroup.c).
 *
 * Ownership: struct daemon embeds its runtime (daemon.h) and owns what the
 * pointers here point at; cfg points at the daemon's config, replaced in
 * place on a reload.  The runtime knows no app: loops over all apps are the
 * daemon's (daemon.c).
 */
#ifndef DEPLOYEX_RUNTIME_H
#define DEPLOYEX_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reconciler/daemon/jobs.h"
#include "reconciler/daemon/loop.h"
#include "state/config.h"
#include "state/host_fault.h"

struct instance_rt;

struct runtime {
        const struct config *cfg;            /* the daemon's, updated in place on reload */
        struct loop loop;
        struct jobs jobs;
        const char *cli_exe;                 /* the full deployex binary: jobs and __log run it */
        const char *log_exe;                 /* the lean deployex-log beside it, or NULL (__log) */
        bool stopping;                       /* SIGTERM: stop everything, then exit 0 */
        struct host_fault fault;             /* the host is at fault (host_faults.c); err 0 = no */
        bool fault_housekeeping;             /* host_faults_tick's own writes: not an attempt */
        /*
         * Where each instance gets its own cgroup (cgroup.c): a directory in a
         * writable cgroup v2 hierarchy, NULL without one.  limits: the
         * controllers ("memory", "pids") its children may use.
         */
        char *cgroup_root;
        bool cgroup_memory, cgroup_pids;
};

/* The runtime whose child table js is: what a job's done callback acts in. */
static inline struct runtime *runtime_of(struct jobs *js)
{
        return (struct runtime *)(void *)((char *)js - offsetof(struct runtime, jobs));
}

/* host_faults.c: noting a fault (the daemon ticks it and resumes it, host_faults.h) */
/* A failure with errno err: true (and recorded) when it is the host's fault. */
bool host_faults_note(struct runtime *rt, int err, const char *what);
bool host_faults_holding(const struct runtime *rt);     /* new steps wait for the retry time */
uint64_t host_faults_retry_at(const struct runtime *rt); /* 0 = no fault */

/* cgroup.c: one cgroup v2 per instance where the hierarchy can be written (docs/daemon.md) */
void cgroups_init(struct runtime *rt);
/*
 * The instance's cgroup to start it in, into path (spawn.h: its directory when
 * made for this start, else its cgroup.procs); false without cgroups.
 */
bool cgroup_prepare(struct runtime *rt, struct instance_rt *in, struct buf *path);
/*
 * The instance's process is gone.  A stop: kill whatever is left in its
 * cgroups (cgroup.kill), then remove them.  A crash: the same, deferred to
 * cgroup_settle() so that the replacement starts first (in the spare).
 */
void cgroup_kill(struct runtime *rt, struct instance_rt *in, bool crash);
/*
 * Off the restart path, once the replacement has executed or when the restart
 * waits: the crashed process's cgroup emptied and removed, and a spare made
 * for the next start.  Cheap when there is nothing to do.
 */
void cgroup_settle(struct runtime *rt, struct instance_rt *in);
/*
 * An adopted instance (a previous daemon started it): which of its cgroups
 * holds its process, so that cgroup_settle empties the other (what a crash
 * left there when that daemon died before settling it) and makes the spare.
 */
void cgroup_adopt(struct runtime *rt, struct instance_rt *in);
/*
 * The instance is removed (its process stopped): what a crash left in its old
 * cgroup is killed and that cgroup removed, and its spare removed.
 */
void cgroup_release(struct runtime *rt, struct instance_rt *in);
/* Every empty cgroup of the instances, and their root (the daemon stopped them all). */
void cgroups_remove(struct runtime *rt);

#endif
