/*
 * daemon: the reconciler, the program deployexd (deployexd.c; `deployex
 * run`, reconciler/cmd/run.c, execs it) until daemon_main returns.  The
 * daemon owns the configuration, the apps and their instances, the loop (its
 * signalfd, timerfd, inotify fd) and the child table.  It plans every app
 * and hands the executor and the supervisor a runtime (runtime.h), never
 * itself: dependencies run one way,
 *
 *     daemon -> executor -> supervisor -> jobs -> loop
 *
 * The other parts get narrow interfaces too, and every loop over all apps
 * is here, in daemon.c: the fleet turn is one app's (fleet.h), the metrics
 * and notify jobs get the runtime and their own state (host_jobs.h), the
 * long-lived workers their table (workers.h: one poller for every app, its
 * answers handed back to the daemon), and the host-fault tick moves each
 * instance's deadlines on through the daemon's loop (host_faults.h).
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
#include "reconciler/daemon/host_jobs.h"
#include "reconciler/daemon/instances.h"
#include "reconciler/daemon/runtime.h"
#include "reconciler/daemon/supervisor.h"
#include "reconciler/daemon/workers.h"
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
        struct workers workers;              /* long-lived children (workers.h) */
        struct loop_fd sig, timer, ino;
        int overrides_wd, config_wd;
        int lock_fd;
        bool quitting;                       /* SIGQUIT: exit, leave instances running */
        bool reload;                         /* SIGHUP or the config file changed */
        uint64_t armed_ms;                   /* the deadline the timer is armed for */
        uint64_t next_resync_ms;
        struct host_job metrics;             /* metrics_textfile: a `metrics -o` job */
        struct host_job notify;              /* notify targets and watchdogs: a `__notify` job */
};

/* The daemon whose runtime rt is (a callback of the daemon's own finds it so). */
static inline struct daemon *daemon_of(struct runtime *rt)
{
        return (struct daemon *)(void *)((char *)rt - offsetof(struct daemon, rt));
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

#endif
