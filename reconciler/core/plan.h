/*
 * plan: the pure planner, deployex's functional core.
 *
 * plan_compute() looks at one app's configuration, desired state, observed
 * instances and ghosts at time `now_ms`, and returns the ordered steps that
 * would bring what runs to what is desired, each with a one-line reason.  It
 * does no I/O, reads no clock, allocates nothing (steps go into the caller's
 * struct plan) and links against nothing but libc, so it is tested with an
 * injected clock and no daemon.
 *
 * Steps are ordered: what can run now (runnable) first in instance order,
 * then the steps that wait on an earlier one (runnable = false) with the
 * reason they wait.  The daemon executes runnable steps only; `plan` shows
 * all of them.  next_wake_ms is the earliest future time at which the answer
 * can change without any event (readiness due, backoff elapsed, rollback
 * deadline); 0 = none.
 *
 * Rules (DESIGN §5), per instance n = 1..max(replicas, highest observed):
 *  - n > replicas: remove (stop, delete its directories).
 *  - crashed (state backoff): start once last_exit_at + backoff(k) <= now,
 *    else wait until then.  Crash restarts run even when paused.
 *  - a step already in flight (deploying, pre_commands, upgrading): wait.
 *  - rollback: an instance whose deployment started rollback_timeout_ms ago
 *    or more and is not ready, or whose version failed its probation
 *    (max_probation_crashes crashes within rollback_timeout_ms of its
 *    deployment, ready or not in between) -> rollback to previous_version
 *    (the executor ghosts the version); an instance whose version is
 *    ghosted -> rollback to previous_version, or stop when there is none.
 *    One at a time.
 *  - host fault: while the host is at fault (out of fds, memory, disk), a
 *    readiness timeout or probation rolls nothing back: the instance waits
 *    ("rollback held: the host is at fault: ...").  The daemon moves the
 *    deadlines on by the fault's duration once it clears.
 *  - deferred: a deployment of D that failed for a passing reason (fetch,
 *    checksum, disk) is not runnable before deferred->retry_at_ms; a crashed
 *    instance meanwhile restarts on what it ran, with its backoff.
 *  - hot or full: deploy-hot when `hot` lists from -> D; otherwise a
 *    deploy-full of a ready Elixir or Erlang instance says that the
 *    executor upgrades it hot when the release has a relup from its version
 *    (the upgrade_kind hook decides after unpacking).
 *  - rolling update to D (desired, not ghosted) in order 1..N: the first
 *    instance not running D gets deploy-full (deploy-hot when `hot` lists
 *    its from -> D), runnable only when every instance before it runs D and
 *    is ready; an instance running D but not yet ready -> wait (readiness
 *    or rollback deadline).  Later instances show their step, not runnable.
 *  - stopped with a version and nothing else to do: start.
 *  - restart tokens: an override `restart` token differing from an
 *    instance's restart_token -> rolling restart (first such instance,
 *    once all before it are ready); restart_instances["n"] differing from
 *    instance_restart_token -> restart of that instance alone.  The step
 *    carries the token the executor records once done.
 *  - fleet (DESIGN §10): a deployment of a published D waits while the
 *    fleet gate for D says so: the step is `wait` with the gate's reason
 *    ("fleet: slot 2 waits for web-1").  Pins are local: a pinned D is not
 *    gated.  Crashed instances still restart on what they ran.
 *  - paused: deploy-full, deploy-hot, rollback and token restarts are shown
 *    with runnable = false ("paused"); start, stop and remove still run.
 */
#ifndef DEPLOYEX_PLAN_H
#define DEPLOYEX_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/config.h"
#include "state/deferred.h"
#include "state/desired.h"
#include "state/ghosts.h"
#include "state/instance.h"

enum plan_action {
        PLAN_DEPLOY_FULL,
        PLAN_DEPLOY_HOT,
        PLAN_START,
        PLAN_STOP,
        PLAN_RESTART,
        PLAN_ROLLBACK,
        PLAN_REMOVE,
        PLAN_WAIT,
};
#define PLAN_ACTION_COUNT 8
const char *plan_action_to_string(enum plan_action a); /* "deploy-full", ... */

#define PLAN_REASON_MAX 256
#define PLAN_MAX_STEPS 256

struct plan_step {
        int instance;
        enum plan_action action;
        char from[VERSION_MAX + 1]; /* "" = none */
        char to[VERSION_MAX + 1];   /* "" = none */
        bool runnable;
        char token[TOKEN_MAX + 1];  /* restart: the token to record as applied */
        bool instance_token;        /* restart: token is a restart_instances one */
        char reason[PLAN_REASON_MAX];
};

struct plan {
        struct plan_step steps[PLAN_MAX_STEPS];
        size_t n;
        uint64_t next_wake_ms;
};

/* A hot upgrade from -> to is known to be possible (the executor asked the hook). */
struct plan_hot {
        char from[VERSION_MAX + 1];
        char to[VERSION_MAX + 1];
};

/* Fleet mode: may this host deploy `version` now (fleet_gate.h decides). */
struct plan_fleet {
        char version[VERSION_MAX + 1];
        bool go;
        char reason[200];                         /* why not, e.g. "slot 2 waits for web-1" */
};

struct plan_input {
        const struct app_config *app;
        const struct desired *desired;
        const struct instance_record *instances; /* sorted by instance, any count */
        size_t ninstances;
        const struct ghost_list *ghosts;
        const struct plan_hot *hot;
        size_t nhot;
        const struct deferred *deferred;          /* the retry gate; NULL = nothing deferred */
        const char *host_fault;                   /* the host is at fault (why); NULL = no */
        const struct plan_fleet *fleet;           /* the fleet gate; NULL = not in fleet mode */
};

/* Fills *out (always; out->n may be 0).  Pure. */
void plan_compute(const struct plan_input *in, uint64_t now_ms, struct plan *out);

/* "myapp/2  deploy-full  1.0.0 -> 1.0.1  (reason)" — no newline. */
void plan_step_format(const char *app, const struct plan_step *s, char *dst, size_t n);

#endif
