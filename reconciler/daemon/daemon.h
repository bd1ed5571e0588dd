/*
 * daemon: the reconciler, the program deployexd (deployexd.c; `deployex
 * run`, reconciler/cmd/run.c, execs it) until daemon_main returns.  The
 * daemon owns the configuration, the apps and their instances, the loop (its
 * signalfd, timerfd, inotify fd) and the child table.  It plans every app and hands the executor and the supervisor a
 * runtime (runtime.h), never itself: dependencies run one way,
 *
 *     daemon -> executor -> supervisor -> jobs -> loop
 *
 * The pieces that work across all apps are the daemon's and take it whole:
 * the fleet view (fleet.c, it reads the app's desired state and source),
 * the metrics and notify jobs (metrics_textfile.c, notify_job.c: one job
 * for the whole host), the long-lived workers (workers.c: one poller for
 * every app) and the host-fault tick (host_faults.c, it moves every app's
 * deadlines on).
 *
 * One thread.  Nothing in the loop blocks on the network, a hook, a
 * download or an unpack: those are jobs, whose completions arrive as events.
 */
#ifndef DEPLOYEX_DAEMON_H
#define DEPLOYEX_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buckets/source.h"
#include "reconciler/core/plan.h"
#include "reconciler/daemon/executor.h"
#include "reconciler/daemon/instances.h"
#include "reconciler/daemon/runtime.h"
#include "reconciler/daemon/supervisor.h"
#include "state/config.h"

struct daemon {
        const char *config_path;             /* -c, or NULL */
        char *watch_path;                    /* the file an operator edits; NULL in environment mode */
        char *job_config;                    /* run/config.json: what the jobs load (-c), or NULL */
        char *config_text;                   /* the text accepted last, until written there */
        struct runtime rt;                   /* what the executor and the supervisor get */
        char *cli_exe;                       /* the full deployex binary (deployexd --cli): rt.cli_exe */
        char *log_exe;                       /* the lean deployex-log beside it: rt.log_exe */
        char *hook_exe;                      /* the hook runner beside it: rt.jobs.hook_exe */
        char *unpack_exe;                    /* the unpacker beside it: rt.jobs.unpack_exe */
        struct config cfg;                   /* rt.cfg points here */
        struct source *src;
        struct app_rt **apps;
        size_t napps;
        struct worker *workers;              /* long-lived children (workers.h) */
        struct loop_fd sig, timer, ino;
        int overrides_wd, config_wd;
        int lock_fd;
        bool quitting;                       /* SIGQUIT: exit, leave instances running */
        bool reload;                         /* SIGHUP or the config file changed */
        uint64_t armed_ms;                   /* the deadline the timer is armed for */
        uint64_t next_resync_ms;
        /* metrics_textfile, rewritten by a `metrics -o` job (metrics_textfile.c). */
        bool metrics_job;
        uint64_t next_metrics_ms;
        /* notify targets and watchdogs: a `__notify` job (notify_job.c). */
        bool notify_job;
        uint64_t next_notify_ms;
};

/* The daemon whose runtime rt is (a job of the daemon's own finds it so). */
static inline struct daemon *daemon_of(struct runtime *rt)
{
        return (struct daemon *)(void *)((char *)rt - offsetof(struct daemon, rt));
}

static inline struct daemon *daemon_of_jobs(struct jobs *js)
{
        return daemon_of(runtime_of(js));
}

static inline uint64_t daemon_now(const struct daemon *d)
{
        return loop_now(&d->rt.loop);
}

/* daemon.c */
/*
 * The daemon until it stops: deployexd's main (deployexd.c).  cli_exe: the
 * full deployex binary its jobs run; config_path: -c, or NULL.  The exit status.
 */
int daemon_main(const char *cli_exe, const char *config_path, bool debug);
struct app_rt *daemon_find_app(struct daemon *d, const char *name);

/* fleet.c: the planner's fleet gate for the app (NULL: no fleet); *ret_deadline the next tick. */
const struct plan_fleet *fleet_tick(struct daemon *d, struct app_rt *a, uint64_t *ret_deadline);

/* metrics_textfile.c: start the job when due; the next deadline (0: none). */
uint64_t metrics_textfile_tick(struct daemon *d);
/* notify_job.c: the same for the notify job. */
uint64_t notify_job_tick(struct daemon *d);

/* host_faults.c: the daemon's side, over every app */
uint64_t host_faults_tick(struct daemon *d);            /* clears a quiet fault; next wake */
void host_faults_resume(struct daemon *d);              /* at start: a predecessor's fault */

#endif
