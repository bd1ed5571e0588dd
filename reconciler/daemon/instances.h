/*
 * instances: the daemon's runtime view of its apps and their instances, the
 * data the executor and the supervisor act on.  An instance's record
 * (struct instance_record) is the truth the daemon persists after every
 * change (instance_save, supervisor.h); everything else in struct
 * instance_rt is runtime only and rebuilt on start (adoption).
 *
 * Ownership: the daemon owns its apps (daemon.c: app_new, app_free); an app
 * owns its instances (instance_get creates one, instance_free frees it); an
 * instance owns its op while a step is in flight.
 */
#ifndef DEPLOYEX_INSTANCES_H
#define DEPLOYEX_INSTANCES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/log.h"
#include "buckets/source.h"
#include "reconciler/core/fleet_gate.h"
#include "reconciler/core/plan.h"
#include "reconciler/daemon/jobs.h"
#include "reconciler/daemon/loop.h"
#include "reconciler/daemon/verified_cache.h"
#include "state/config.h"
#include "reconciler/daemon/hook_files.h"
#include "state/deferred.h"
#include "state/desired.h"
#include "state/ghosts.h"
#include "state/instance.h"
#include "state/release.h"

struct runtime;

enum op_phase {
        PHASE_FETCH,
        PHASE_UNPACK,
        PHASE_PREFLIGHT,        /* the release in new/ can start: before anything stops */
        PHASE_STOP,
        PHASE_ROTATE,
        PHASE_PRE_COMMANDS,
        PHASE_START,
        PHASE_DONE,
        /* Hot upgrades (executor.c): the hook decides, then the node upgrades in place. */
        PHASE_UPGRADE_KIND,     /* upgrade_kind hook: "hot" or "full" */
        PHASE_HOT_PRE_COMMANDS, /* pre_commands from new/, the node still on the old release */
        PHASE_HOT_UPGRADE,      /* hot_upgrade hook: release_handler on the node */
        PHASE_HOT_PREVIOUS,     /* previous/ rebuilt from the old release's tarball */
        PHASE_REPLACE,          /* fallback to full: current/ removed, new/ -> current/ */
};

/* A plan step being executed for one instance. */
struct op {
        struct plan_step step;
        enum op_phase phase;
        uint64_t started_at_ms;
        uint64_t phase_at_ms;         /* when the current phase began (logged at its end) */
        uint64_t retry_at_ms;         /* its job could not start (host fault): retry then; 0 = no */
        uint32_t not_executed;        /* its jobs' program could not be executed: times, for the backoff */
        bool recorded;                /* resumed: its history line was written before the crash */
        bool journal_drops;           /* the journal written names a phase recovery drops */
};

struct app_rt;

/*
 * The environment entry every instance's process carries,
 * "DEPLOYEX_INSTANCE={var_path}/service/{app}/{n}" (unique on the host, even
 * with several daemons): its descendants inherit it, so the daemon finds
 * what escaped the process group.
 */
#define INSTANCE_MARKER "DEPLOYEX_INSTANCE"

/* How to run an instance, as its start hook answered. */
struct start_cmd {
        char **argv;
        char **envp;
        char *cwd;
        char version[VERSION_MAX + 1]; /* the release it was asked for */
};

struct instance_rt {
        struct app_rt *app;
        struct instance_record rec;   /* persisted */
        struct op *op;                /* in flight, or NULL */
        struct loop_fd pidfd;         /* adopted process: readable on exit; fd -1 otherwise */
        bool own_child;               /* started by this daemon: SIGCHLD reports its exit */
        bool stop_requested;
        uint64_t kill_at_ms;          /* a stop's SIGKILL deadline, 0 = none */
        void (*stopped)(struct runtime *rt, struct instance_rt *in); /* continuation after a stop */
        bool starting_job;            /* a start hook job is in flight */
        struct job *ready_job;        /* the readiness job watching the process, or NULL */
        uint64_t ready_retry_at_ms;   /* after a readiness job that could not run */
        struct start_cmd last_start;  /* the start hook's last answer, for crash restarts */
        bool crash_event_pending;     /* on_event(crashed) not told yet */
        int log_fd[2];                /* write ends of the log writer's stdout/stderr pipes, -1 = none */
        pid_t log_pid;                /* the instance's one log writer (both streams), 0 = none */
        /*
         * The exec-failure pipe of the process just started (spawn_start_async):
         * read from the loop, never waited on.  fd -1 once the verdict is in.
         */
        struct loop_fd exec_fd;
        int exec_err;                 /* -errno when the start command could not be executed */
        bool rec_pending;             /* rec changed in memory, not saved yet (a crash) */
        bool sweep_pending;           /* a crash's escapees not swept yet (process_gone) */
        /*
         * Its two cgroups (cgroup.c), CGROUP_A {app}-{n} and CGROUP_B
         * {app}-{n}-b, CGROUP_NONE = neither: cur, the one its process was
         * created in; old, the one a crashed process ran in, emptied and
         * removed once the replacement runs; spare, made afresh off the
         * restart path and unused, where the next start is created.
         */
        unsigned char cgroup_cur, cgroup_old, cgroup_spare;
        bool cgroup_settle_pending;   /* cgroup_settle() has work: a start or a crash */
};

/* Fleet mode (fleet.c): this host's view of the rollout of the published version. */
struct fleet_rt {
        char version[VERSION_MAX + 1];       /* the version the view is about, "" = none */
        struct fleet_view view;              /* slots as the last __fleet job read them */
        bool job;                            /* a __fleet job is in flight */
        uint64_t job_started_ms;             /* monotonic: when it began (its read came after) */
        uint64_t next_job_ms;                /* wall clock */
        int failures;                        /* __fleet jobs failed in a row */
        struct fleet_gate gate;              /* recomputed every reconcile */
        struct plan_fleet plan;              /* what the planner gets */
        bool ghosted;                        /* the verdict was applied */
};

struct app_rt {
        struct runtime *rt;
        const struct app_config *cfg;       /* into rt->cfg->apps; updated on reload */
        char name[APP_NAME_MAX + 1];
        struct instance_rt *inst[REPLICAS_MAX + 1]; /* index = instance number */
        struct release_desc source;          /* last good current.json */
        bool have_source;
        char etag[ETAG_MAX + 1];
        char *source_error;
        struct desired desired;
        struct ghost_list ghosts;
        bool removed;                        /* gone from the config: stop, then forget */
        bool limits_warned;                  /* its limits cannot apply here: said once */
        struct app_config removed_cfg;       /* its timeouts, while its instances stop */
        int source_wd, state_wd;             /* inotify watches, -1 = none */
        /* A deploy that failed for a passing reason (fetch, disk): the planner's retry gate. */
        struct deferred deferred;
        /* The tarball the last fetch job verified: its replicas need no other (verified_cache.h). */
        struct verified_cache verified;
        struct fleet_rt fleet;
        bool dirty;                          /* one of its instances exited: plan this app */
        /*
         * An on_event job answered that the hooks define no on_event, having
         * loaded these files: while they stay the same, an event starts no job
         * (sup_hook_event).  on_event_probe: the files when the latest
         * on_event job (its arg: on_event_probe_id) started.
         */
        struct hook_files no_on_event;
        bool no_on_event_known;
        struct hook_files on_event_probe;
        int on_event_probe_id;
};

/*
 * The one prefix of a log line about an instance (log_inst.c):
 *
 *     app=myapp instance=2 version=1.0.1 MESSAGE
 *
 * the version the instance runs ("none" before its first), then the message
 * in words.  log_inst_errno appends ": strerror(r)" like log_errno and
 * returns r.
 */
void log_inst(enum log_level level, const struct instance_rt *in, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int log_inst_errno(int r, const struct instance_rt *in, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
