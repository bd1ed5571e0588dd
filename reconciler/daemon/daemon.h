/*
 * daemon: `deployex run`, the reconciler.  This header holds the runtime
 * structs shared by the event loop (daemon.c), the jobs that run blocking
 * work as children (jobs.c), the supervisor of instance processes
 * (supervisor.c) and the executor of plan steps (executor.c).
 *
 * Ownership: struct daemon owns the config, the apps, their instances and
 * the jobs.  An instance's record (struct instance_record) is the truth the
 * daemon persists after every change (instance_save); everything else in
 * struct instance_rt is runtime only and rebuilt on start (adoption).
 *
 * One thread.  Nothing in the loop blocks on the network, a hook, a
 * download or an unpack: those are jobs, whose completions arrive as events.
 */
#ifndef DEPLOYEX_DAEMON_H
#define DEPLOYEX_DAEMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reconciler/core/fleet_gate.h"
#include "reconciler/core/plan.h"
#include "state/config.h"
#include "state/deferred.h"
#include "state/host_fault.h"
#include "state/desired.h"
#include "state/ghosts.h"
#include "state/instance.h"
#include "state/journal.h"
#include "state/release.h"
#include "buckets/source.h"

struct daemon;

/* An fd in the loop's epoll; data.ptr points at it. */
struct loop_fd {
        int fd;
        void (*on_ready)(struct daemon *d, struct loop_fd *lfd, uint32_t events);
        void *owner;
};

struct job;
typedef void (*job_done_fn)(struct daemon *d, struct job *j);

/* A child doing blocking work for the loop: a hook call, a fetch, an unpack. */
struct job {
        struct job *next;
        pid_t pid;
        char what[256];              /* "hook start myapp/2", for logs */
        struct loop_fd out, err;     /* fd -1 once at EOF */
        struct buf out_buf;          /* all of stdout (capped) */
        struct buf err_buf;          /* the tail of stderr */
        uint64_t deadline_ms;        /* wall clock; SIGKILL to the group after it */
        bool timed_out;
        bool exited;
        int wstatus;
        bool cancelled;              /* owner gone: no callback */
        job_done_fn done;
        void *owner;                 /* the instance or app it works for */
        int arg;
};

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
        bool recorded;                /* resumed: its history line was written before the crash */
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
void start_cmd_release(struct start_cmd *cmd);

struct instance_rt {
        struct app_rt *app;
        struct instance_record rec;   /* persisted */
        struct op *op;                /* in flight, or NULL */
        struct loop_fd pidfd;         /* adopted process: readable on exit; fd -1 otherwise */
        bool own_child;               /* started by this daemon: SIGCHLD reports its exit */
        bool stop_requested;
        uint64_t kill_at_ms;          /* a stop's SIGKILL deadline, 0 = none */
        void (*stopped)(struct daemon *d, struct instance_rt *in); /* continuation after a stop */
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
        struct daemon *d;
        const struct app_config *cfg;       /* into d->cfg.apps; updated on reload */
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
        struct fleet_rt fleet;
        bool dirty;                          /* one of its instances exited: plan this app */
};

struct daemon {
        const char *config_path;             /* -c, or NULL */
        char *watch_path;                    /* the file an operator edits; NULL in environment mode */
        char *job_config;                    /* run/config.json: what the jobs load (-c), or NULL */
        char *config_text;                   /* the text accepted last, until written there */
        char *cli_exe;                       /* the full deployex binary (deployexd --cli): jobs run it */
        char *log_exe;                       /* the lean deployex-log beside it, or NULL (__log) */
        struct config cfg;
        struct source *src;
        struct app_rt **apps;
        size_t napps;
        struct job *jobs;
        struct worker *workers;              /* long-lived children (workers.h) */
        int epfd;
        struct loop_fd sig, timer, ino;
        int overrides_wd, config_wd;
        int lock_fd;
        bool stopping;                       /* SIGTERM: stop everything, then exit 0 */
        bool quitting;                       /* SIGQUIT: exit, leave instances running */
        bool reload;                         /* SIGHUP or the config file changed */
        bool dirty;                          /* something changed: reconcile */
        bool apps_dirty;                     /* only some apps changed (app_rt.dirty) */
        uint64_t armed_ms;                   /* the deadline the timer is armed for */
        uint64_t next_resync_ms;
        uint64_t now_ms;                     /* wall clock at the top of this iteration */
        struct host_fault fault;             /* the host is at fault (host_faults.c); err 0 = no */
        bool fault_housekeeping;             /* host_faults_tick's own writes: not an attempt */
        /*
         * Where each instance gets its own cgroup (cgroup.c): a directory in a
         * writable cgroup v2 hierarchy, NULL without one.  limits: the
         * controllers ("memory", "pids") its children may use.
         */
        char *cgroup_root;
        bool cgroup_memory, cgroup_pids;
        /* metrics_textfile, rewritten by a `metrics -o` job (metrics_textfile.c). */
        bool metrics_job;
        uint64_t next_metrics_ms;
        /* notify targets and watchdogs: a `__notify` job (notify_job.c). */
        bool notify_job;
        uint64_t next_notify_ms;
};

/* daemon.c */
/*
 * The daemon until it stops: deployexd's main (deployexd.c).  cli_exe: the
 * full deployex binary its jobs run; config_path: -c, or NULL.  The exit status.
 */
int daemon_main(const char *cli_exe, const char *config_path, bool debug);
int daemon_watch(struct daemon *d, struct loop_fd *lfd, uint32_t events);
void daemon_unwatch(struct daemon *d, struct loop_fd *lfd);
uint64_t daemon_now(struct daemon *d);
struct app_rt *daemon_find_app(struct daemon *d, const char *name);

/* fleet.c: the planner's fleet gate for the app (NULL: no fleet); *ret_deadline the next tick. */
const struct plan_fleet *fleet_tick(struct daemon *d, struct app_rt *a, uint64_t *ret_deadline);

/* metrics_textfile.c: start the job when due; the next deadline (0: none). */
uint64_t metrics_textfile_tick(struct daemon *d);
/* notify_job.c: the same for the notify job. */
uint64_t notify_job_tick(struct daemon *d);

/* jobs.c */
/* Start `cli_exe [-c CONFIG] args...` (NULL-terminated) as a job. */
struct job *job_start_self(struct daemon *d, const char *what, const char *const *args,
                           uint64_t timeout_ms, job_done_fn done, void *owner, int arg);
/*
 * The same, running as ids from its exec on (NULL = the daemon's own): for
 * a job that needs nothing of the daemon's privileges (unpacking a release as
 * its app's user).  Jobs that first read root-only state drop by themselves
 * (state/app_user.h, app_user_become()).
 */
struct job *job_start_as(struct daemon *d, const struct proc_ids *ids, const char *what,
                         const char *const *args, uint64_t timeout_ms, job_done_fn done,
                         void *owner, int arg);
bool job_reap(struct daemon *d, pid_t pid, int wstatus); /* true when pid was a job */
void jobs_tick(struct daemon *d);                         /* deadlines */
void jobs_cancel_owner(struct daemon *d, void *owner);
void jobs_kill_all(struct daemon *d);
uint64_t jobs_next_deadline(struct daemon *d);
bool job_ok(const struct job *j);                         /* exited 0, not timed out */
/* The last stderr line starting with prefix, without it, appended to out; false when none. */
bool job_err_line(const struct job *j, const char *prefix, struct buf *out);
/* "exited with status 1: <last line of stderr>" */
void job_describe_failure(const struct job *j, struct buf *out);

/* supervisor.c */
/*
 * The one way a job is started for an instance (a step's phase, a hook, the
 * readiness watch): `deployex CMD [APP N] ARGS...`, named after what_fmt in
 * the logs, owned by the instance (cancelled with it) unless fire_and_forget.
 * NULL with errno set when it could not start; jobs.c has logged it (and
 * noted a host fault).
 */
struct inst_job {
        const char *cmd;              /* "__hook", "__ready", "__fetch", "__unpack" */
        bool app_and_number;          /* the app's name and the instance number follow cmd */
        const char *const *args;      /* then these, NULL-terminated; NULL = none */
        bool as_app_user;             /* runs as the app's user from its exec on (DESIGN §8) */
        uint64_t timeout_ms;
        job_done_fn done;
        bool fire_and_forget;         /* no owner: outlives the instance (on_event) */
        int arg;                      /* job->arg: the pid the answer is about, for instance */
};
struct job *inst_job_start(struct daemon *d, struct instance_rt *in, const struct inst_job *spec,
                           const char *what_fmt, ...) __attribute__((format(printf, 4, 5)));
struct job *inst_job_startv(struct daemon *d, struct instance_rt *in, const struct inst_job *spec,
                            const char *what_fmt, va_list ap) __attribute__((format(printf, 4, 0)));
void instance_set_state(struct daemon *d, struct instance_rt *in, enum instance_state s,
                        const char *why);
int instance_save(struct daemon *d, struct instance_rt *in);
/* Save the records a crash changed in memory only (the restart came first). */
void sup_save_pending(struct daemon *d, struct app_rt *a);
struct instance_rt *instance_get(struct app_rt *a, int n, bool create);
void instance_free(struct daemon *d, struct instance_rt *in);
void sup_start(struct daemon *d, struct instance_rt *in);
void sup_stop(struct daemon *d, struct instance_rt *in,
              void (*stopped)(struct daemon *d, struct instance_rt *in));
bool sup_reap(struct daemon *d, pid_t pid, int wstatus);  /* true when pid was an instance */
bool sup_reap_log_writer(struct daemon *d, pid_t pid);
void sup_close_logs(struct instance_rt *in);              /* the writers end at EOF */
void sup_adopt(struct daemon *d, struct instance_rt *in);
void sup_tick(struct daemon *d, struct app_rt *a);        /* readiness, kill deadlines */
uint64_t sup_next_deadline(struct daemon *d);
bool sup_is_running(const struct instance_rt *in);
void sup_record_history(struct daemon *d, struct instance_rt *in, enum history_kind kind,
                        const char *from, const char *version, bool ok, const char *reason);
void sup_hook_event(struct daemon *d, struct instance_rt *in, const char *event);
/* Record a failure as the instance's last_error (saved with the record). */
void sup_set_error(struct daemon *d, struct instance_rt *in, const char *text);
/* Why the instance is not ready yet, as its readiness job said last; "" when unknown. */
void sup_not_ready_reason(const struct instance_rt *in, struct buf *out);

/* cgroup.c: one cgroup v2 per instance where the hierarchy can be written (docs/daemon.md) */
void cgroups_init(struct daemon *d);
/* The instance's cgroup.procs to start it in, into path; false without cgroups. */
bool cgroup_prepare(struct daemon *d, struct instance_rt *in, struct buf *path);
/* Kill whatever is left in the instance's cgroup (cgroup.kill), then remove it. */
void cgroup_kill(struct daemon *d, struct instance_rt *in);
/* Every empty cgroup of the instances, and their root (the daemon stopped them all). */
void cgroups_remove(struct daemon *d);

/* host_faults.c */
/* A failure with errno err: true (and recorded) when it is the host's fault. */
bool host_faults_note(struct daemon *d, int err, const char *what);
bool host_faults_holding(struct daemon *d);            /* new steps wait for the retry time */
uint64_t host_faults_retry_at(const struct daemon *d);  /* 0 = no fault */
uint64_t host_faults_tick(struct daemon *d);            /* clears a quiet fault; next wake */
void host_faults_resume(struct daemon *d);              /* at start: a predecessor's fault */

/* executor.c */
void exec_begin(struct daemon *d, struct app_rt *a, const struct plan_step *s);
void exec_recover(struct daemon *d, struct app_rt *a);    /* finish or undo the journal */
bool exec_app_busy(const struct app_rt *a);
void exec_ghost(struct daemon *d, struct app_rt *a, const char *version, const char *reason);
void exec_tick(struct daemon *d, struct app_rt *a);       /* phases waiting out a host fault */
uint64_t exec_next_retry(struct daemon *d);

#endif
