/*
 * test_plan: the planner, table-driven.
 *
 * Each scenario is an app (replicas, timeouts, backoff), a desired state
 * (version, origin, ghosted, paused, restart tokens), instance records,
 * ghosts, hot-upgrade hints and a clock; the expected answer is the exact
 * list of steps (instance, action, from, to, runnable, a reason substring,
 * the token) and next_wake_ms.  A mismatch prints both plans.
 *
 * The sequence tests at the end drive the planner with a small model of the
 * executor (apply the first runnable step, let instances become ready,
 * advance the clock to next_wake_ms) and check that rollouts, rollbacks and
 * restarts converge one instance at a time and never loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reconciler/core/plan.h"
#include "reconciler/core/readiness.h"

#include "base/banned.h"

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))

#define NOW UINT64_C(10000000)
#define LONG_AGO (NOW - 3600000)
#define MAXR 6
#define MAXS 8

struct rspec {
        int n; /* 0 ends the list */
        enum instance_state st;
        const char *ver, *prev;
        bool ready;
        uint64_t started, deploy_started;
        uint32_t crashes;
        uint64_t last_exit;
        const char *tok, *itok;
        uint64_t probation;   /* probation_started_at_ms */
        uint32_t pcrashes;    /* probation_crashes */
};

struct sspec {
        int n; /* 0 ends the list */
        enum plan_action a;
        const char *from, *to;
        bool run;
        const char *reason; /* substring, NULL = not checked */
        const char *token;  /* NULL = not checked */
        bool itok;          /* checked with token */
};

struct scenario {
        const char *name;
        uint64_t healthy, rollback, binit, bmax; /* 0 = the defaults */
        const char *dv;                          /* NULL = nothing published */
        const char *restart;
        uint64_t now, wake;
        const char *ghosts[3];
        struct rspec recs[MAXR];
        struct sspec steps[MAXS];
        struct plan_hot hot[2];
        struct instance_token itoks[3];
        int replicas;
        bool pinned, ghosted, paused;
        bool gleam;
        struct deferred deferred; /* version "" = none */
        const char *host_fault;   /* NULL = the host is fine */
        bool fleet;               /* fleet mode: fleet_gate is the gate */
        struct plan_fleet fleet_gate;
};

#define READY(N, V, P) \
        { .n = (N), .st = INSTANCE_RUNNING, .ver = (V), .prev = (P), .ready = true, \
          .started = LONG_AGO }
#define STARTING(N, V, P, STARTED, DS) \
        { .n = (N), .st = INSTANCE_STARTING, .ver = (V), .prev = (P), .started = (STARTED), \
          .deploy_started = (DS) }
#define CRASHED(N, V, K, EXIT) \
        { .n = (N), .st = INSTANCE_BACKOFF, .ver = (V), .crashes = (K), .last_exit = (EXIT) }
#define STOPPED(N, V, P) { .n = (N), .st = INSTANCE_STOPPED, .ver = (V), .prev = (P) }
/* On probation since PS with K crashes counted; crashed (backoff) after the last one at EXIT. */
#define PROBATION_CRASHED(N, V, P, PS, K, EXIT) \
        { .n = (N), .st = INSTANCE_BACKOFF, .ver = (V), .prev = (P), .crashes = 1, \
          .last_exit = (EXIT), .probation = (PS), .pcrashes = (K) }
#define INSTATE(N, ST, V) { .n = (N), .st = (ST), .ver = (V), .prev = "1.0.0" }

#define RUN(N, A, F, T, R) \
        { .n = (N), .a = (A), .from = (F), .to = (T), .run = true, .reason = (R) }
#define HOLD(N, A, F, T, R) \
        { .n = (N), .a = (A), .from = (F), .to = (T), .run = false, .reason = (R) }

#define FULL PLAN_DEPLOY_FULL
#define HOT PLAN_DEPLOY_HOT
#define START PLAN_START
#define STOP PLAN_STOP
#define RESTART PLAN_RESTART
#define ROLLBACK PLAN_ROLLBACK
#define REMOVE PLAN_REMOVE
#define WAIT PLAN_WAIT

static const struct scenario scenarios[] = {
        /* ---- first deploy ---- */
        { .name = "first deploy, 1 replica", .replicas = 1, .dv = "1.0.0", .now = NOW,
          .steps = { RUN(1, FULL, "", "1.0.0", "first deploy of 1.0.0") } },
        { .name = "first deploy, 2 replicas: only instance 1 runnable", .replicas = 2,
          .dv = "1.0.0",
          .now = NOW,
          .steps = { RUN(1, FULL, "", "1.0.0", "first deploy of 1.0.0"),
                     HOLD(2, FULL, "", "1.0.0",
                          "waits for instance 1 to run 1.0.0 and be ready") } },
        { .name = "first deploy, 3 replicas: only instance 1 runnable", .replicas = 3,
          .dv = "1.0.0",
          .now = NOW,
          .steps = { RUN(1, FULL, "", "1.0.0", "first deploy of 1.0.0"),
                     HOLD(2, FULL, "", "1.0.0", "waits for instance 1 to run 1.0.0 and be ready"),
                     HOLD(3, FULL, "", "1.0.0",
                          "waits for instance 1 to run 1.0.0 and be ready") } },
        { .name = "first deploy: instance 1 starting, the others wait", .replicas = 3,
          .dv = "1.0.0",
          .recs = { STARTING(1, "1.0.0", "", NOW - 10000, NOW - 10000) }, .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.0",
                          "runs 1.0.0 and is not ready yet; rollback in 590000 ms"),
                     HOLD(2, FULL, "", "1.0.0", "waits for instance 1 to run 1.0.0 and be ready"),
                     HOLD(3, FULL, "", "1.0.0", "waits for instance 1 to run 1.0.0 and be ready") },
          .wake = NOW + 20000 },
        { .name = "first deploy: instance 2 once instance 1 is ready", .replicas = 3, .dv = "1.0.0",
          .recs = { READY(1, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(2, FULL, "", "1.0.0",
                         "first deploy of 1.0.0; instance 1 runs 1.0.0 and is ready"),
                     HOLD(3, FULL, "", "1.0.0",
                          "waits for instance 2 to run 1.0.0 and be ready") } },

        /* ---- rolling update ---- */
        { .name = "update: instance 1 first", .replicas = 3, .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", ""),
                    READY(3, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1"),
                     HOLD(2, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready"),
                     HOLD(3, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") } },
        { .name = "update: instance 2 after instance 1 is ready", .replicas = 3, .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.0", ""), READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(2, FULL, "1.0.0", "1.0.1", "instance 1 runs 1.0.1 and is ready"),
                     HOLD(3, FULL, "1.0.0", "1.0.1",
                          "waits for instance 2 to run 1.0.1 and be ready") } },
        { .name = "update: waits for readiness of instance 1", .replicas = 3, .dv = "1.0.1",
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 5000, NOW - 20000), READY(2, "1.0.0", ""),
                    READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1",
                          "runs 1.0.1 and is not ready yet; rollback in 580000 ms"),
                     HOLD(2, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready"),
                     HOLD(3, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") },
          .wake = NOW + 25000 },
        { .name = "update: the last instance", .replicas = 3, .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.1", "1.0.0"), READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(3, FULL, "1.0.0", "1.0.1", "instance 2 runs 1.0.1 and is ready") } },
        { .name = "update: a ready instance waits while another one is coming up", .replicas = 3,
          .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", ""),
                    STARTING(3, "1.0.0", "", NOW - 1000, 0) },
          .now = NOW,
          .steps = { HOLD(1, FULL, "1.0.0", "1.0.1", "waits for instance 3 to be ready"),
                     HOLD(2, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready"),
                     HOLD(3, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") },
          .wake = NOW + 29000 },
        { .name = "update: a crashed instance whose turn it is gets the deploy", .replicas = 2,
          .dv = "1.0.1", .recs = { CRASHED(1, "1.0.0", 3, NOW - 1), READY(2, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1"),
                     HOLD(2, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") },
          .wake = NOW + 7999 },
        { .name = "update: a crashed instance later in the order restarts on its version",
          .replicas = 2, .dv = "1.0.1",
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 1000, NOW - 1000),
                    CRASHED(2, "1.0.0", 1, NOW - 2000) },
          .now = NOW,
          .steps = { RUN(2, START, "1.0.0", "1.0.0", "crashed once; restart after 2000 ms backoff"),
                     HOLD(1, WAIT, "1.0.1", "1.0.1", "not ready yet") },
          .wake = NOW + 29000 },
        { .name = "update: a stopped instance later in the order is started", .replicas = 2,
          .dv = "1.0.1",
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 1000, NOW - 1000),
                    STOPPED(2, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(2, START, "1.0.0", "1.0.0", "stopped; start 1.0.0"),
                     HOLD(1, WAIT, "1.0.1", "1.0.1", "not ready yet") },
          .wake = NOW + 29000 },
        { .name = "converged: nothing to do", .replicas = 3, .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.1", "1.0.0"),
                    READY(3, "1.0.1", "1.0.0") },
          .now = NOW },

        /* ---- pin ---- */
        { .name = "pin: an older version rolls out like a published one", .replicas = 2,
          .dv = "1.0.0", .pinned = true,
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.1", "1.0.0") }, .now = NOW,
          .steps = { RUN(1, FULL, "1.0.1", "1.0.0", "update to pinned 1.0.0"),
                     HOLD(2, FULL, "1.0.1", "1.0.0",
                          "waits for instance 1 to run 1.0.0 and be ready") } },
        { .name = "pin: converged", .replicas = 2, .dv = "1.0.0", .pinned = true,
          .recs = { READY(1, "1.0.0", "1.0.1"), READY(2, "1.0.0", "1.0.1") }, .now = NOW },

        /* ---- desired ghosted / nothing published ---- */
        { .name = "desired ghosted: nothing to do", .replicas = 2, .dv = "1.0.1", .ghosted = true,
          .ghosts = { "1.0.1" }, .recs = { READY(1, "1.0.0", ""),
                                           READY(2, "1.0.0", "") }, .now = NOW },
        { .name = "desired ghosted: a never deployed instance waits", .replicas = 2, .dv = "1.0.1",
          .ghosted = true, .ghosts = { "1.0.1" }, .recs = { READY(1, "1.0.0", "") }, .now = NOW,
          .steps = { HOLD(2, WAIT, "", "", "1.0.1 is ghosted") } },
        { .name = "desired ghosted: a crash on another version still restarts", .replicas = 1,
          .dv = "1.0.1", .ghosted = true, .ghosts = { "1.0.1" },
          .recs = { CRASHED(1, "1.0.0", 1, NOW - 2000) }, .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0",
                         "crashed once; restart after 2000 ms backoff") } },
        { .name = "desired in the ghost list but not flagged: still not deployed", .replicas = 1,
          .dv = "1.0.1", .ghosts = { "1.0.1" }, .recs = { READY(1, "1.0.0", "") }, .now = NOW },
        { .name = "nothing published: only supervision", .replicas = 3,
          .recs = { CRASHED(1, "1.0.0", 2, NOW - 4000), STOPPED(2, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0",
                         "crashed 2 times in a row; restart after 4000 ms backoff"),
                     RUN(2, START, "1.0.0", "1.0.0", "stopped; start 1.0.0"),
                     HOLD(3, WAIT, "", "", "nothing published yet") } },
        { .name = "nothing published: running instances are left alone", .replicas = 2,
          .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", "") }, .now = NOW },

        /* ---- pause ---- */
        { .name = "paused: deploy steps shown, not runnable", .replicas = 2, .dv = "1.0.1",
          .paused = true, .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", "") }, .now = NOW,
          .steps = { HOLD(1, FULL, "1.0.0", "1.0.1", "paused: update to published 1.0.1"),
                     HOLD(2, FULL, "1.0.0", "1.0.1", "paused: update to published 1.0.1") } },
        { .name = "paused: first deploy held", .replicas = 1, .dv = "1.0.0", .paused = true,
          .now = NOW, .steps = { HOLD(1, FULL, "", "1.0.0", "paused: first deploy of 1.0.0") } },
        { .name = "paused: crash restart still runs", .replicas = 2, .dv = "1.0.1", .paused = true,
          .recs = { CRASHED(1, "1.0.0", 2, NOW - 4000), READY(2, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0",
                         "crashed 2 times in a row; restart after 4000 ms backoff"),
                     HOLD(2, FULL, "1.0.0", "1.0.1", "paused") } },
        { .name = "paused: a stopped instance is started", .replicas = 1, .dv = "1.0.0",
          .paused = true, .recs = { STOPPED(1, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0", "stopped; start 1.0.0") } },
        { .name = "paused: rollback held", .replicas = 1, .dv = "1.0.1", .ghosted = true,
          .paused = true, .ghosts = { "1.0.1" }, .recs = { READY(1, "1.0.1", "1.0.0") }, .now = NOW,
          .steps = { HOLD(1, ROLLBACK, "1.0.1", "1.0.0", "paused: runs ghosted 1.0.1") } },
        { .name = "paused: stop of a ghosted version still runs", .replicas = 2, .dv = "1.0.1",
          .ghosted = true, .paused = true, .ghosts = { "1.0.1" },
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.1", "") }, .now = NOW,
          .steps = { RUN(2, STOP, "1.0.1", "", "runs ghosted 1.0.1; no previous version"),
                     HOLD(1, ROLLBACK, "1.0.1", "1.0.0", "paused: runs ghosted 1.0.1") } },
        { .name = "paused: restart token held", .replicas = 1, .dv = "1.0.0", .paused = true,
          .restart = "abc", .recs = { READY(1, "1.0.0", "") }, .now = NOW,
          .steps = { HOLD(1, RESTART, "1.0.0", "1.0.0",
                          "paused: restart requested (token abc)") } },

        /* ---- restart tokens ---- */
        { .name = "restart token: rolling, instance 1 first", .replicas = 3, .dv = "1.0.1",
          .restart = "abc",
          .recs = { READY(1, "1.0.1", ""), READY(2, "1.0.1", ""),
                    READY(3, "1.0.1", "") }, .now = NOW,
          .steps = { { .n = 1, .a = RESTART, .from = "1.0.1", .to = "1.0.1", .run = true,
                       .reason = "restart requested (token abc)", .token = "abc", .itok = false },
                     HOLD(2, RESTART, "1.0.1", "1.0.1", "waits for the restart of instance 1"),
                     HOLD(3, RESTART, "1.0.1", "1.0.1", "waits for the restart of instance 1") } },
        { .name = "restart token: instance 2 once instance 1 is restarted and ready", .replicas = 3,
          .dv = "1.0.1", .restart = "abc",
          .recs = { { .n = 1, .st = INSTANCE_RUNNING, .ver = "1.0.1", .ready = true, .tok = "abc" },
                    READY(2, "1.0.1", ""), READY(3, "1.0.1", "") },
          .now = NOW,
          .steps = { RUN(2, RESTART, "1.0.1", "1.0.1", "restart requested (token abc)"),
                     HOLD(3, RESTART, "1.0.1", "1.0.1", "waits for the restart of instance 2") } },
        { .name = "restart token: waits for the restarted instance to be ready", .replicas = 3,
          .dv = "1.0.1", .restart = "abc",
          .recs = { { .n = 1, .st = INSTANCE_STARTING, .ver = "1.0.1", .started = NOW - 1000,
                      .tok = "abc" },
                    READY(2, "1.0.1", ""), READY(3, "1.0.1", "") },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1", "runs 1.0.1 and is not ready yet"),
                     HOLD(2, RESTART, "1.0.1", "1.0.1", "waits for instance 1 to be ready"),
                     HOLD(3, RESTART, "1.0.1", "1.0.1", "waits for the restart of instance 2") },
          .wake = NOW + 29000 },
        { .name = "restart token: already applied everywhere", .replicas = 2, .dv = "1.0.1",
          .restart = "abc",
          .recs = { { .n = 1, .st = INSTANCE_RUNNING, .ver = "1.0.1", .ready = true, .tok = "abc" },
                    { .n = 2, .st = INSTANCE_RUNNING, .ver = "1.0.1", .ready = true,
                      .tok = "abc" } },
          .now = NOW },
        { .name = "restart token: with nothing published", .replicas = 1, .restart = "abc",
          .recs = { READY(1, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, RESTART, "1.0.0", "1.0.0", "restart requested (token abc)") } },
        { .name = "restart token: waits for the rollout, deploy-full carries the token",
          .replicas = 2, .dv = "1.0.1", .restart = "abc",
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.0", "") }, .now = NOW,
          .steps = { { .n = 2, .a = FULL, .from = "1.0.0", .to = "1.0.1", .run = true,
                       .reason = "update to published 1.0.1", .token = "abc", .itok = false },
                     HOLD(1, RESTART, "1.0.1", "1.0.1",
                          "waits for the rollout of 1.0.1 to finish") } },
        { .name = "restart instance: only that instance", .replicas = 3, .dv = "1.0.1",
          .itoks = { { 2, "xyz" } },
          .recs = { READY(1, "1.0.1", ""), READY(2, "1.0.1", ""),
                    READY(3, "1.0.1", "") }, .now = NOW,
          .steps = { { .n = 2, .a = RESTART, .from = "1.0.1", .to = "1.0.1", .run = true,
                       .reason = "restart of instance 2 requested (token xyz)", .token = "xyz",
                       .itok = true } } },
        { .name = "restart instance: already applied", .replicas = 3, .dv = "1.0.1",
          .itoks = { { 2, "xyz" } },
          .recs = { READY(1, "1.0.1", ""),
                    { .n = 2, .st = INSTANCE_RUNNING, .ver = "1.0.1", .ready = true,
                      .itok = "xyz" },
                    READY(3, "1.0.1", "") },
          .now = NOW },
        { .name = "restart instance: does not wait for an earlier crashed instance", .replicas = 3,
          .dv = "1.0.1", .itoks = { { 3, "xyz" } },
          .recs = { CRASHED(1, "1.0.1", 3, NOW - 1000), READY(2, "1.0.1", ""),
                    READY(3, "1.0.1", "") },
          .now = NOW,
          .steps = { RUN(3, RESTART, "1.0.1", "1.0.1",
                         "restart of instance 3 requested (token xyz)"),
                     HOLD(1, WAIT, "1.0.1", "1.0.1",
                          "crashed 3 times in a row; 8000 ms backoff, restart in 7000 ms") },
          .wake = NOW + 7000 },

        /* ---- scale ---- */
        { .name = "scale up: the new instance deploys after the others", .replicas = 3,
          .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", ""), READY(2, "1.0.1", "") }, .now = NOW,
          .steps = { RUN(3, FULL, "", "1.0.1",
                         "first deploy of 1.0.1; instance 2 runs 1.0.1 and is ready") } },
        { .name = "scale up: waits while instance 2 is not ready", .replicas = 3, .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", ""), STARTING(2, "1.0.1", "", NOW - 1000, 0) }, .now = NOW,
          .steps = { HOLD(2, WAIT, "1.0.1", "1.0.1", "runs 1.0.1 and is not ready yet"),
                     HOLD(3, FULL, "", "1.0.1", "waits for instance 2 to run 1.0.1 and be ready") },
          .wake = NOW + 29000 },
        { .name = "scale down: remove the extra instances", .replicas = 2, .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", ""), READY(2, "1.0.1", ""), READY(3, "1.0.1", ""),
                    CRASHED(5, "1.0.1", 4, NOW) },
          .now = NOW,
          .steps = { RUN(3, REMOVE, "1.0.1", "", "scaled down to 2 replicas"),
                     RUN(5, REMOVE, "1.0.1", "", "scaled down to 2 replicas") } },
        { .name = "scale down to zero", .replicas = 0, .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", "") }, .now = NOW,
          .steps = { RUN(1, REMOVE, "1.0.1", "", "scaled down to 0 replicas") } },
        { .name = "scale down: remove runs alongside a rollout step", .replicas = 2, .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", ""),
                    READY(3, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1"),
                     RUN(3, REMOVE, "1.0.0", "", "scaled down to 2 replicas"),
                     HOLD(2, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") } },

        /* ---- rollback deadline ---- */
        { .name = "rollback: exactly at the timeout", .replicas = 2, .dv = "1.0.1",
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 600000, NOW - 600000),
                    READY(2, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0",
                         "not ready 600000 ms after deploy of 1.0.1 started; ghost 1.0.1"),
                     HOLD(2, FULL, "1.0.0", "1.0.1", "waits for the rollback of instance 1") } },
        { .name = "rollback: not 1 ms before the timeout", .replicas = 2, .dv = "1.0.1",
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 599999, NOW - 599999),
                    READY(2, "1.0.0", "") },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1", "rollback in 1 ms"),
                     HOLD(2, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") },
          .wake = NOW + 1 },
        { .name = "rollback: custom timeout", .replicas = 1, .dv = "1.0.1", .rollback = 5000,
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 5000, NOW - 5000) }, .now = NOW,
          .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0",
                         "not ready 5000 ms after deploy of 1.0.1 started") },
          .wake = NOW + 25000 },
        { .name = "rollback: not held by another instance coming up", .replicas = 2, .dv = "1.0.1",
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 1000, 0),
                    STARTING(2, "1.0.1", "1.0.0", NOW - 600000, NOW - 600000) },
          .now = NOW,
          .steps = { RUN(2, ROLLBACK, "1.0.1", "1.0.0", "ghost 1.0.1"),
                     HOLD(1, WAIT, "1.0.1", "1.0.1", "runs 1.0.1 and is not ready yet") },
          .wake = NOW + 29000 },
        { .name = "rollback: crash-looping past the deadline", .replicas = 1, .dv = "1.0.1",
          .recs = { { .n = 1, .st = INSTANCE_BACKOFF, .ver = "1.0.1", .prev = "1.0.0", .crashes = 5,
                      .last_exit = NOW - 10, .deploy_started = NOW - 600000 } },
          .now = NOW,
          .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0", "ghost 1.0.1") },
          .wake = NOW + 31990 },
        { .name = "rollback: first deploy never ready -> stop", .replicas = 2, .dv = "1.0.0",
          .recs = { STARTING(1, "1.0.0", "", NOW - 700000, NOW - 700000) }, .now = NOW,
          .steps = { RUN(1, STOP, "1.0.0", "",
                         "not ready 600000 ms after deploy of 1.0.0 started; ghost 1.0.0; "
                         "no previous version"),
                     HOLD(2, FULL, "", "1.0.0", "waits for the rollback of instance 1") } },

        /* ---- ghosted versions ---- */
        { .name = "ghosted: instances roll back one at a time", .replicas = 3, .dv = "1.0.1",
          .ghosted = true, .ghosts = { "1.0.1" },
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.1", "1.0.0"), READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0", "runs ghosted 1.0.1"),
                     HOLD(2, ROLLBACK, "1.0.1", "1.0.0",
                          "waits for the rollback of instance 1") } },
        { .name = "ghosted: the next rollback waits for the rolled back instance", .replicas = 3,
          .dv = "1.0.1", .ghosted = true, .ghosts = { "1.0.1" },
          .recs = { STARTING(1, "1.0.0", "", NOW - 1000, NOW - 1000), READY(2, "1.0.1", "1.0.0"),
                    READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { HOLD(2, ROLLBACK, "1.0.1", "1.0.0",
                          "runs ghosted 1.0.1; waits for instance 1 to be ready") },
          .wake = NOW + 29000 },
        { .name = "ghosted: a crashed instance on the ghost rolls back at once", .replicas = 2,
          .dv = "1.0.1", .ghosted = true, .ghosts = { "1.0.1" },
          .recs = { STARTING(1, "1.0.0", "", NOW - 1000, NOW - 1000),
                    { .n = 2, .st = INSTANCE_BACKOFF, .ver = "1.0.1", .prev = "1.0.0", .crashes = 1,
                      .last_exit = NOW } },
          .now = NOW,
          .steps = { RUN(2, ROLLBACK, "1.0.1", "1.0.0", "runs ghosted 1.0.1") },
          .wake = NOW + 2000 },
        { .name = "ghosted: no previous version -> stop", .replicas = 1, .dv = "1.0.1",
          .ghosted = true, .ghosts = { "1.0.1" }, .recs = { READY(1, "1.0.1", "") }, .now = NOW,
          .steps = { RUN(1, STOP, "1.0.1", "",
                         "runs ghosted 1.0.1; no previous version to roll back to") } },
        { .name = "ghosted: previous ghosted too -> stop", .replicas = 1, .dv = "1.0.2",
          .ghosted = true, .ghosts = { "1.0.1", "1.0.2" }, .recs = { READY(1, "1.0.2", "1.0.1") },
          .now = NOW, .steps = { RUN(1, STOP, "1.0.2", "", "runs ghosted 1.0.2") } },
        { .name = "rollback: stopped past the deadline with no previous waits (no loop)",
          .replicas = 2, .dv = "1.0.0",
          .recs = { { .n = 1, .st = INSTANCE_STOPPED, .ver = "1.0.0",
                      .deploy_started = NOW - 700000 } },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.0",
                          "stopped: not ready 600000 ms after deploy of 1.0.0 started and "
                          "there is no previous version"),
                     HOLD(2, FULL, "", "1.0.0",
                          "waits for instance 1 to run 1.0.0 and be ready") } },
        { .name = "rollback: stopped past the deadline takes a newer version", .replicas = 1,
          .dv = "1.0.1",
          .recs = { { .n = 1, .st = INSTANCE_STOPPED, .ver = "1.0.0",
                      .deploy_started = NOW - 700000 } },
          .now = NOW, .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1") } },
        { .name = "rollback: stopped past the deadline with a previous rolls back", .replicas = 1,
          .dv = "1.0.1",
          .recs = { { .n = 1, .st = INSTANCE_STOPPED, .ver = "1.0.1", .prev = "1.0.0",
                      .deploy_started = NOW - 700000 } },
          .now = NOW, .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0", "ghost 1.0.1") } },
        { .name = "ghosted: stopped with no previous version waits (no loop)", .replicas = 1,
          .dv = "1.0.1", .ghosted = true, .ghosts = { "1.0.1" }, .recs = { STOPPED(1, "1.0.1",
                                                                                   "") },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1",
                          "stopped: 1.0.1 is ghosted and there is no previous version") } },
        { .name = "ghosted: after the rollback, nothing to do (no loop)", .replicas = 2,
          .dv = "1.0.1",
          .ghosted = true, .ghosts = { "1.0.1" },
          .recs = { READY(1, "1.0.0", "1.0.1"), READY(2, "1.0.0", "") }, .now = NOW },
        { .name = "ghosted: rolled back and still starting, nothing to do", .replicas = 1,
          .dv = "1.0.1", .ghosted = true, .ghosts = { "1.0.1" },
          .recs = { STARTING(1, "1.0.0", "1.0.1", NOW - 1000, NOW - 1000) }, .now = NOW,
          .wake = NOW + 29000 },
        { .name = "ghosted: an older ghost rolls back even with a new desired version",
          .replicas = 2,
          .dv = "1.0.2", .ghosts = { "1.0.1" },
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0", "runs ghosted 1.0.1"),
                     HOLD(2, FULL, "1.0.0", "1.0.2", "waits for the rollback of instance 1") } },
        { .name = "ghosted: a stopped ghosted instance takes the new version", .replicas = 1,
          .dv = "1.0.2", .ghosts = { "1.0.1" }, .recs = { STOPPED(1, "1.0.1", "") }, .now = NOW,
          .steps = { RUN(1, FULL, "1.0.1", "1.0.2", "update to published 1.0.2") } },
        { .name = "ghosted: a stopped ghosted instance is never started", .replicas = 2,
          .dv = "1.0.2", .ghosts = { "1.0.1" },
          .recs = { STARTING(1, "1.0.2", "", NOW - 1000, NOW - 1000), STOPPED(2, "1.0.1", "") },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.2", "1.0.2", "not ready yet"),
                     HOLD(2, FULL, "1.0.1", "1.0.2",
                          "waits for instance 1 to run 1.0.2 and be ready") },
          .wake = NOW + 29000 },

        /* ---- crash backoff ---- */
        { .name = "backoff: restart at last exit + initial * 2^(k-1)", .replicas = 1, .dv = "1.0.0",
          .recs = { CRASHED(1, "1.0.0", 3, NOW - 8000) }, .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0",
                         "crashed 3 times in a row; restart after 8000 ms backoff") } },
        { .name = "backoff: not 1 ms before", .replicas = 1, .dv = "1.0.0",
          .recs = { CRASHED(1, "1.0.0", 3, NOW - 7999) }, .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.0",
                          "crashed 3 times in a row; 8000 ms backoff, restart in 1 ms") },
          .wake = NOW + 1 },
        { .name = "backoff: first crash waits the initial delay", .replicas = 1, .dv = "1.0.0",
          .binit = 500, .bmax = 60000, .recs = { CRASHED(1, "1.0.0", 1, NOW - 100) }, .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.0",
                          "crashed once; 500 ms backoff, restart in 400 ms") },
          .wake = NOW + 400 },
        { .name = "backoff: capped at max", .replicas = 1, .dv = "1.0.0", .binit = 1000,
          .bmax = 5000, .recs = { CRASHED(1, "1.0.0", 4, NOW - 5000) }, .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0",
                         "crashed 4 times in a row; restart after 5000 ms backoff") } },
        { .name = "backoff: capped, 1 ms before", .replicas = 1, .dv = "1.0.0", .binit = 1000,
          .bmax = 5000, .recs = { CRASHED(1, "1.0.0", 40, NOW - 4999) }, .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.0", "5000 ms backoff, restart in 1 ms") },
          .wake = NOW + 1 },
        { .name = "backoff: huge crash count", .replicas = 1, .dv = "1.0.0",
          .recs = { CRASHED(1, "1.0.0", UINT32_MAX, NOW - 300000) }, .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0", "restart after 300000 ms backoff") } },

        /* ---- steps in flight ---- */
        { .name = "in flight: deploying -> wait, nothing else runnable", .replicas = 3,
          .dv = "1.0.1",
          .recs = { INSTATE(1, INSTANCE_DEPLOYING, "1.0.1"), CRASHED(2, "1.0.0", 1, NOW - 10000),
                    READY(3, "1.0.0", ""), READY(4, "1.0.0", "") },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1", "a deployment is in progress"),
                     HOLD(2, START, "1.0.0", "1.0.0", "waits for the step in flight on instance 1"),
                     HOLD(3, FULL, "1.0.0", "1.0.1", "waits for the step in flight on instance 1"),
                     HOLD(4, REMOVE, "1.0.0", "", "waits for the step in flight on instance 1") } },
        { .name = "in flight: pre_commands", .replicas = 2, .dv = "1.0.1",
          .recs = { READY(1, "1.0.1", ""), INSTATE(2, INSTANCE_PRE_COMMANDS, "1.0.1") }, .now = NOW,
          .steps = { HOLD(2, WAIT, "1.0.1", "1.0.1", "its pre-commands are running") } },
        { .name = "in flight: upgrading blocks a rollback", .replicas = 2, .dv = "1.0.2",
          .ghosts = { "1.0.1" },
          .recs = { INSTATE(1, INSTANCE_UPGRADING, "1.0.1"),
                    READY(2, "1.0.1", "1.0.0") }, .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1", "a hot upgrade is in progress"),
                     HOLD(2, ROLLBACK, "1.0.1", "1.0.0",
                          "waits for the step in flight on instance 1") } },
        { .name = "in flight: a removed instance still in flight waits", .replicas = 1,
          .dv = "1.0.1", .recs = { READY(1, "1.0.1", ""), INSTATE(2, INSTANCE_DEPLOYING, "1.0.1") },
          .now = NOW, .steps = { HOLD(2, WAIT, "1.0.1", "1.0.1", "a deployment is in progress") } },

        /* ---- hot upgrades ---- */
        { .name = "hot: a known hot pair turns deploy-full into deploy-hot", .replicas = 2,
          .dv = "1.0.1", .restart = "abc", .hot = { { "1.0.0", "1.0.1" } },
          .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", "") }, .now = NOW,
          .steps = { { .n = 1, .a = HOT, .from = "1.0.0", .to = "1.0.1", .run = true,
                       .reason = "update to published 1.0.1", .token = "", .itok = false },
                     HOLD(2, HOT, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") } },
        { .name = "hot: another pair stays full", .replicas = 1, .dv = "1.0.1",
          .hot = { { "0.9.0", "1.0.1" }, { "1.0.0", "1.0.2" } }, .recs = { READY(1, "1.0.0", "") },
          .now = NOW, .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1") } },
        { .name = "hot: never for a first deploy", .replicas = 1, .dv = "1.0.1",
          .hot = { { "", "1.0.1" } }, .now = NOW,
          .steps = { RUN(1, FULL, "", "1.0.1", "first deploy of 1.0.1") } },

        /* ---- a newer desired version mid-rollout ---- */
        { .name = "newer D: the instance still starting the old one is redeployed at once",
          .replicas = 3, .dv = "1.0.2",
          .recs = { READY(1, "1.0.1", "1.0.0"),
                    STARTING(2, "1.0.1", "1.0.0", NOW - 1000, NOW - 1000),
                    READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(2, FULL, "1.0.1", "1.0.2", "1.0.2 replaces 1.0.1 before it was ready"),
                     HOLD(1, FULL, "1.0.1", "1.0.2",
                          "waits for instance 2 to run 1.0.2 and be ready"),
                     HOLD(3, FULL, "1.0.0", "1.0.2",
                          "waits for instance 1 to run 1.0.2 and be ready") },
          .wake = NOW + 29000 },
        { .name = "newer D: unless a step is in flight", .replicas = 3, .dv = "1.0.2",
          .recs = { READY(1, "1.0.1", "1.0.0"), INSTATE(2, INSTANCE_PRE_COMMANDS, "1.0.1"),
                    READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { HOLD(1, FULL, "1.0.1", "1.0.2", "waits for the step in flight on instance 2"),
                     HOLD(2, WAIT, "1.0.1", "1.0.1", "its pre-commands are running"),
                     HOLD(3, FULL, "1.0.0", "1.0.2",
                          "waits for the step in flight on instance 2") } },
        { .name = "newer D: then the rollout restarts from instance 1", .replicas = 3,
          .dv = "1.0.2",
          .recs = { READY(1, "1.0.1", "1.0.0"), READY(2, "1.0.2", "1.0.1"), READY(3, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(1, FULL, "1.0.1", "1.0.2", "update to published 1.0.2"),
                     HOLD(3, FULL, "1.0.0", "1.0.2",
                          "waits for instance 1 to run 1.0.2 and be ready") } },

        /* ---- probation: crashes soon after a deployment fail it ---- */
        { .name = "probation: the 3rd crash within the window rolls back and ghosts",
          .replicas = 2, .dv = "1.0.1",
          .recs = { PROBATION_CRASHED(1, "1.0.1", "1.0.0", NOW - 9000, 3, NOW - 10),
                    READY(2, "1.0.0", "") },
          .now = NOW,
          .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0",
                         "3 crashes within 600000 ms of deploy of 1.0.1; ghost 1.0.1"),
                     HOLD(2, FULL, "1.0.0", "1.0.1", "waits for the rollback of instance 1") },
          .wake = NOW + 1990 },
        { .name = "probation: 2 crashes are crash restarts with backoff", .replicas = 1,
          .dv = "1.0.1",
          .recs = { PROBATION_CRASHED(1, "1.0.1", "1.0.0", NOW - 9000, 2, NOW - 10) },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1", "2000 ms backoff, restart in 1990 ms") },
          .wake = NOW + 1990 },
        { .name = "probation: crashes count though the instance was ready in between",
          .replicas = 1, .dv = "1.0.1",
          .recs = { { .n = 1, .st = INSTANCE_RUNNING, .ver = "1.0.1", .prev = "1.0.0",
                      .ready = true, .started = NOW - 1000, .probation = NOW - 60000,
                      .pcrashes = 3 } },
          .now = NOW,
          .steps = { RUN(1, ROLLBACK, "1.0.1", "1.0.0", "3 crashes within 600000 ms") } },
        { .name = "probation: failed with nothing to go back to: stop", .replicas = 1,
          .dv = "1.0.0",
          .recs = { PROBATION_CRASHED(1, "1.0.0", "", NOW - 9000, 3, NOW - 10) },
          .now = NOW,
          .steps = { RUN(1, STOP, "1.0.0", "", "no previous version to roll back to") },
          .wake = NOW + 1990 },
        /* ---- deferred deployments: the retry gate is the planner's ---- */
        { .name = "deferred: the deploy waits for its retry time", .replicas = 2, .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", "") },
          .deferred = { .version = "1.0.1", .failures = 2, .retry_at_ms = NOW + 8000,
                        .reason = "fetch failed: HTTP 503" },
          .now = NOW,
          .steps = { HOLD(1, FULL, "1.0.0", "1.0.1", "deferred: fetch failed: HTTP 503, retry in 8 s"),
                     HOLD(2, FULL, "1.0.0", "1.0.1", "deferred: fetch failed: HTTP 503") },
          .wake = NOW + 8000 },
        { .name = "deferred: a crashed instance keeps its backoff meanwhile", .replicas = 1,
          .dv = "1.0.1",
          .recs = { CRASHED(1, "1.0.0", 3, NOW - 100) },
          .deferred = { .version = "1.0.1", .failures = 1, .retry_at_ms = NOW + 5000,
                        .reason = "fetch failed: timeout" },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.0", "8000 ms backoff, restart in 7900 ms; deferred") },
          .wake = NOW + 5000 },
        { .name = "deferred: a crashed instance restarts once its backoff is over", .replicas = 1,
          .dv = "1.0.1",
          .recs = { CRASHED(1, "1.0.0", 1, NOW - 3000) },
          .deferred = { .version = "1.0.1", .failures = 1, .retry_at_ms = NOW + 5000,
                        .reason = "fetch failed: timeout" },
          .now = NOW,
          .steps = { RUN(1, START, "1.0.0", "1.0.0", "restart after 2000 ms backoff; deferred") },
          .wake = NOW + 5000 },
        { .name = "deferred: runnable once the retry time has come", .replicas = 1, .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", "") },
          .deferred = { .version = "1.0.1", .failures = 1, .retry_at_ms = NOW,
                        .reason = "fetch failed: timeout" },
          .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1") } },
        { .name = "deferred: another version's delay does not hold this one", .replicas = 1,
          .dv = "1.0.2",
          .recs = { READY(1, "1.0.0", "") },
          .deferred = { .version = "1.0.1", .failures = 4, .retry_at_ms = NOW + 60000,
                        .reason = "fetch failed" },
          .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.2", "update to published 1.0.2") } },

        /* ---- host faults: never the release's failure ---- */
        { .name = "host fault: a readiness timeout is held", .replicas = 2, .dv = "1.0.1",
          .recs = { STARTING(1, "1.0.1", "1.0.0", NOW - 600000, NOW - 600000),
                    READY(2, "1.0.0", "") },
          .host_fault = "cannot start job 'readiness myapp/1': Too many open files",
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1",
                          "rollback held: the host is at fault (cannot start job"),
                     HOLD(2, FULL, "1.0.0", "1.0.1",
                          "waits for instance 1 to run 1.0.1 and be ready") } },
        { .name = "host fault: probation is held too", .replicas = 1, .dv = "1.0.1",
          .recs = { PROBATION_CRASHED(1, "1.0.1", "1.0.0", NOW - 9000, 3, NOW - 10) },
          .host_fault = "cannot save an instance record: No space left on device",
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.1", "1.0.1", "crashed on probation; rollback held") },
          .wake = NOW + 1990 },
        /* ---- fleet: the turn is the planner's input ---- */
        { .name = "fleet: not this host's turn: wait with the gate's reason", .replicas = 2,
          .dv = "1.0.1", .recs = { READY(1, "1.0.0", ""), READY(2, "1.0.0", "") },
          .fleet = true, .fleet_gate = { .version = "1.0.1", .go = false,
                                         .reason = "slot 2 waits for web-1" },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.1", "fleet: slot 2 waits for web-1"),
                     HOLD(2, WAIT, "1.0.0", "1.0.1", "fleet: slot 2 waits for web-1") } },
        { .name = "fleet: no gate for this version yet: wait", .replicas = 1, .dv = "1.0.2",
          .recs = { READY(1, "1.0.0", "") },
          .fleet = true, .fleet_gate = { .version = "1.0.1", .go = true },
          .now = NOW,
          .steps = { HOLD(1, WAIT, "1.0.0", "1.0.2", "fleet: reading the rollout of 1.0.2") } },
        { .name = "fleet: this host's turn: deploy", .replicas = 1, .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", "") },
          .fleet = true, .fleet_gate = { .version = "1.0.1", .go = true },
          .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1") } },
        { .name = "fleet: a pin is local, never gated", .replicas = 1, .dv = "1.0.1",
          .pinned = true, .recs = { READY(1, "1.0.0", "") },
          .fleet = true, .fleet_gate = { .version = "1.0.1", .go = false, .reason = "x" },
          .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to pinned 1.0.1") } },

        /* ---- hot or full: plan says what the executor may do ---- */
        { .name = "hot visibility: a ready Erlang instance may be upgraded hot", .replicas = 1,
          .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", "") }, .now = NOW,
          .steps = { RUN(1, FULL, "1.0.0", "1.0.1", "update to published 1.0.1, hot if its relup upgrades from 1.0.0") } },
        { .name = "hot visibility: known hot is deploy-hot", .replicas = 1, .dv = "1.0.1",
          .recs = { READY(1, "1.0.0", "") }, .hot = { { "1.0.0", "1.0.1" } }, .now = NOW,
          .steps = { RUN(1, HOT, "1.0.0", "1.0.1", "update to published 1.0.1") } },
};

/* ------------------------------------------------------------------ */

struct fixture {
        struct app_config app;
        struct desired d;
        struct instance_token itoks[3];
        struct instance_record recs[MAXR];
        size_t nrecs;
        struct ghost gitems[3];
        struct ghost_list ghosts;
        struct plan_hot hot[2];
        struct plan_input in;
        struct plan plan;
};

static void set_str(char *dst, size_t n, const char *src)
{
        snprintf(dst, n, "%s", src ? src : "");
}

static void app_defaults(struct app_config *app, int replicas)
{
        memset(app, 0, sizeof(*app));
        app->name = (char *)"myapp";
        app->replicas = replicas;
        app->healthy_after_ms = 30000;
        app->rollback_timeout_ms = 600000;
        app->stop_timeout_ms = 15000;
        app->backoff_initial_ms = 2000;
        app->backoff_max_ms = 300000;
        app->max_probation_crashes = 3;
        app->language = LANG_ERLANG;
}

static void build(const struct scenario *sc, struct fixture *f)
{
        size_t n;

        app_defaults(&f->app, sc->replicas);
        if (sc->healthy)
                f->app.healthy_after_ms = sc->healthy;
        if (sc->rollback)
                f->app.rollback_timeout_ms = sc->rollback;
        if (sc->binit)
                f->app.backoff_initial_ms = sc->binit;
        if (sc->bmax)
                f->app.backoff_max_ms = sc->bmax;
        if (sc->gleam)
                f->app.language = LANG_GLEAM;

        memset(&f->d, 0, sizeof(f->d));
        if (sc->dv) {
                set_str(f->d.release.version, sizeof(f->d.release.version), sc->dv);
                f->d.origin = sc->pinned ? DESIRED_OVERRIDE : DESIRED_SOURCE;
                if (sc->pinned)
                        set_str(f->d.override.version, sizeof(f->d.override.version), sc->dv);
        }
        f->d.ghosted = sc->ghosted;
        f->d.override.paused = sc->paused;
        set_str(f->d.override.restart, sizeof(f->d.override.restart), sc->restart);
        for (n = 0; n < N_ITEMS(sc->itoks) && sc->itoks[n].instance; n++)
                f->itoks[n] = sc->itoks[n];
        f->d.override.restart_instances = n ? f->itoks : NULL;
        f->d.override.nrestart_instances = n;

        f->nrecs = 0;
        for (size_t i = 0; i < MAXR && sc->recs[i].n; i++) {
                const struct rspec *s = &sc->recs[i];
                struct instance_record *r = &f->recs[f->nrecs++];

                memset(r, 0, sizeof(*r));
                r->instance = s->n;
                r->state = s->st;
                set_str(r->version, sizeof(r->version), s->ver);
                set_str(r->previous_version, sizeof(r->previous_version), s->prev);
                r->ready = s->ready;
                r->pid = s->st == INSTANCE_STOPPED || s->st == INSTANCE_BACKOFF ? 0 : 1000 + s->n;
                r->started_at_ms = s->started;
                r->deploy_started_at_ms = s->deploy_started;
                r->consecutive_crashes = s->crashes;
                r->last_exit_at_ms = s->last_exit;
                set_str(r->restart_token, sizeof(r->restart_token), s->tok);
                set_str(r->instance_restart_token, sizeof(r->instance_restart_token), s->itok);
                r->probation_started_at_ms = s->probation;
                r->probation_crashes = s->pcrashes;
        }

        memset(&f->ghosts, 0, sizeof(f->ghosts));
        for (n = 0; n < N_ITEMS(sc->ghosts) && sc->ghosts[n]; n++) {
                memset(&f->gitems[n], 0, sizeof(f->gitems[n]));
                set_str(f->gitems[n].version, sizeof(f->gitems[n].version), sc->ghosts[n]);
        }
        f->ghosts.items = n ? f->gitems : NULL;
        f->ghosts.n = f->ghosts.cap = n;

        for (n = 0; n < N_ITEMS(sc->hot) && sc->hot[n].to[0]; n++)
                f->hot[n] = sc->hot[n];

        f->in = (struct plan_input){
                .app = &f->app,
                .desired = &f->d,
                .instances = f->recs,
                .ninstances = f->nrecs,
                .ghosts = &f->ghosts,
                .hot = n ? f->hot : NULL,
                .nhot = n,
                .deferred = sc->deferred.version[0] ? &sc->deferred : NULL,
                .host_fault = sc->host_fault,
                .fleet = sc->fleet ? &sc->fleet_gate : NULL,
        };
}

static void dump_plan(const char *title, const struct plan *p)
{
        char line[512];

        print_message("%s (%zu steps, next_wake_ms %ju):\n", title, p->n,
                      (uintmax_t)p->next_wake_ms);
        for (size_t i = 0; i < p->n; i++) {
                plan_step_format("myapp", &p->steps[i], line, sizeof(line));
                print_message("  %s%s%s%s\n", p->steps[i].runnable ? "[run]  " : "[hold] ", line,
                              p->steps[i].token[0] ? "  token=" : "", p->steps[i].token);
        }
}

static bool step_matches(const struct plan_step *s, const struct sspec *w)
{
        if (s->instance != w->n || s->action != w->a || s->runnable != w->run)
                return false;
        if (strcmp(s->from, w->from) != 0 || strcmp(s->to, w->to) != 0)
                return false;
        if (w->reason && !strstr(s->reason, w->reason))
                return false;
        if (w->token && (strcmp(s->token, w->token) != 0 || s->instance_token != w->itok))
                return false;
        return strlen(s->reason) > 0 && !strchr(s->reason, '\n');
}

static void check_plan(const char *name, const struct plan *p, const struct sspec *want, size_t max,
                       uint64_t wake)
{
        size_t nwant = 0;
        bool ok;

        while (nwant < max && want[nwant].n)
                nwant++;
        ok = p->n == nwant && p->next_wake_ms == wake;
        for (size_t i = 0; ok && i < nwant; i++)
                ok = step_matches(&p->steps[i], &want[i]);
        if (ok)
                return;
        print_message("scenario: %s\n", name);
        dump_plan("got", p);
        print_message("want (%zu steps, next_wake_ms %ju):\n", nwant, (uintmax_t)wake);
        for (size_t i = 0; i < nwant; i++)
                print_message("  %s myapp/%d  %s  %s -> %s  (...%s...)\n",
                              want[i].run ? "[run] " : "[hold]", want[i].n,
                              plan_action_to_string(want[i].a),
                              want[i].from[0] ? want[i].from : "none",
                              want[i].to[0] ? want[i].to : "none",
                              want[i].reason ? want[i].reason : "");
        fail_msg("plan mismatch in '%s'", name);
}

static void run_scenario(void **state)
{
        /* static: large, and a failing assertion longjmps out without a free */
        static struct fixture fx;
        static struct plan again;
        const struct scenario *sc = *state;
        struct fixture *f = &fx;

        memset(f, 0, sizeof(*f));
        build(sc, f);
        plan_compute(&f->in, sc->now, &f->plan);
        check_plan(sc->name, &f->plan, sc->steps, MAXS, sc->wake);
        /* Pure: the same input gives the same plan. */
        memset(&again, 0xa5, sizeof(again));
        plan_compute(&f->in, sc->now, &again);
        assert_int_equal(again.n, f->plan.n);
        assert_int_equal(again.next_wake_ms, f->plan.next_wake_ms);
        for (size_t i = 0; i < f->plan.n; i++)
                assert_true(step_matches(&again.steps[i], &(struct sspec){
                        .n = f->plan.steps[i].instance, .a = f->plan.steps[i].action,
                        .from = f->plan.steps[i].from, .to = f->plan.steps[i].to,
                        .run = f->plan.steps[i].runnable, .reason = f->plan.steps[i].reason,
                        .token = f->plan.steps[i].token,
                        .itok = f->plan.steps[i].instance_token }));
}

/* ------------------------------------------------------------------ */

/* A Gleam shipment has no relup: its deploys never say "hot". */
static void test_gleam_plan_never_says_hot(void **state)
{
        static struct fixture fx;
        static const struct scenario sc = {
                .name = "gleam", .replicas = 1, .dv = "1.0.1", .gleam = true, .now = NOW,
                .recs = { READY(1, "1.0.0", "") },
        };

        (void)state;
        memset(&fx, 0, sizeof(fx));
        build(&sc, &fx);
        plan_compute(&fx.in, NOW, &fx.plan);
        assert_int_equal(fx.plan.n, 1);
        assert_int_equal(fx.plan.steps[0].action, PLAN_DEPLOY_FULL);
        assert_null(strstr(fx.plan.steps[0].reason, "hot"));
}

/* Probation: which crashes count, and when they fail the deployment. */
static void test_probation_arithmetic(void **state)
{
        (void)state;
        assert_true(probation_counts(NOW - 1000, 600000, NOW));
        assert_false(probation_counts(NOW - 600000, 600000, NOW)); /* the window is half-open */
        assert_false(probation_counts(0, 600000, NOW));            /* not on probation */
        assert_true(probation_failed(NOW, 3, 3));
        assert_false(probation_failed(NOW, 2, 3));
        assert_false(probation_failed(0, 9, 3));
}

static void test_action_names(void **state)
{
        static const char *const want[PLAN_ACTION_COUNT] = {
                [PLAN_DEPLOY_FULL] = "deploy-full", [PLAN_DEPLOY_HOT] = "deploy-hot",
                [PLAN_START] = "start",             [PLAN_STOP] = "stop",
                [PLAN_RESTART] = "restart",         [PLAN_ROLLBACK] = "rollback",
                [PLAN_REMOVE] = "remove",           [PLAN_WAIT] = "wait",
        };

        (void)state;
        for (int a = 0; a < PLAN_ACTION_COUNT; a++)
                assert_string_equal(plan_action_to_string((enum plan_action)a), want[a]);
        assert_string_equal(plan_action_to_string((enum plan_action)PLAN_ACTION_COUNT), "unknown");
}

static void test_step_format(void **state)
{
        struct fmt_case {
                int instance;
                enum plan_action a;
                const char *from, *to, *reason;
                const char *want;
        };
        static const struct fmt_case cases[] = {
                { 2, PLAN_DEPLOY_FULL, "1.0.0", "1.0.1", "instance 1 runs 1.0.1 and is ready",
                  "myapp/2  deploy-full  1.0.0 -> 1.0.1  (instance 1 runs 1.0.1 and is ready)" },
                { 1, PLAN_DEPLOY_FULL, "", "1.0.0", "first deploy of 1.0.0",
                  "myapp/1  deploy-full  none -> 1.0.0  (first deploy of 1.0.0)" },
                { 3, PLAN_REMOVE, "1.0.1", "", "scaled down to 2 replicas",
                  "myapp/3  remove  1.0.1 -> none  (scaled down to 2 replicas)" },
                { 1, PLAN_START, "1.0.0", "1.0.0", "stopped; start 1.0.0",
                  "myapp/1  start  1.0.0 -> 1.0.0  (stopped; start 1.0.0)" },
                { 12, PLAN_WAIT, "", "", "nothing published yet",
                  "myapp/12  wait  none -> none  (nothing published yet)" },
        };
        char buf[512];

        (void)state;
        for (size_t i = 0; i < N_ITEMS(cases); i++) {
                struct plan_step s;

                memset(&s, 0, sizeof(s));
                s.instance = cases[i].instance;
                s.action = cases[i].a;
                set_str(s.from, sizeof(s.from), cases[i].from);
                set_str(s.to, sizeof(s.to), cases[i].to);
                set_str(s.reason, sizeof(s.reason), cases[i].reason);
                plan_step_format("myapp", &s, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].want);
        }

        /* Truncates, always terminated, never writes past n. */
        {
                struct plan_step s;
                char small[16];

                memset(&s, 0, sizeof(s));
                memset(small, 'x', sizeof(small));
                s.instance = 2;
                s.action = PLAN_DEPLOY_FULL;
                set_str(s.from, sizeof(s.from), "1.0.0");
                set_str(s.to, sizeof(s.to), "1.0.1");
                set_str(s.reason, sizeof(s.reason), "r");
                plan_step_format("myapp", &s, small, 10);
                assert_string_equal(small, "myapp/2  ");
                assert_int_equal(small[10], 'x');
                plan_step_format("myapp", &s, small, 0);
                assert_string_equal(small, "myapp/2  ");
        }
}

/* Long versions and tokens: every reason stays one terminated line. */
static void test_long_strings(void **state)
{
        static struct fixture fx;
        struct fixture *f = &fx;
        char v1[VERSION_MAX + 1], v2[VERSION_MAX + 1], tok[TOKEN_MAX + 1];

        (void)state;
        memset(v1, 'a', VERSION_MAX);
        v1[VERSION_MAX] = '\0';
        memset(v2, 'b', VERSION_MAX);
        v2[VERSION_MAX] = '\0';
        memset(tok, 't', TOKEN_MAX);
        tok[TOKEN_MAX] = '\0';

        app_defaults(&f->app, 3);
        set_str(f->d.release.version, sizeof(f->d.release.version), v2);
        f->d.origin = DESIRED_SOURCE;
        set_str(f->d.override.restart, sizeof(f->d.override.restart), tok);
        for (int i = 0; i < 3; i++) {
                struct instance_record *r = &f->recs[i];

                r->instance = i + 1;
                r->state = INSTANCE_STARTING;
                set_str(r->version, sizeof(r->version), v1);
                r->started_at_ms = NOW - 1;
                r->deploy_started_at_ms = NOW - 1;
        }
        f->in = (struct plan_input){ .app = &f->app, .desired = &f->d, .instances = f->recs,
                                     .ninstances = 3 };
        plan_compute(&f->in, NOW, &f->plan);
        assert_int_equal(f->plan.n, 3);
        for (size_t i = 0; i < f->plan.n; i++) {
                const struct plan_step *s = &f->plan.steps[i];

                assert_true(strlen(s->reason) < PLAN_REASON_MAX);
                assert_string_equal(s->to, v2);
                assert_string_equal(s->token, tok);
        }
        assert_true(strstr(f->plan.steps[0].reason, "replaces") != NULL);
}

/* No desired at all (NULL), and no app: nothing planned, nothing crashes. */
static void test_null_inputs(void **state)
{
        static struct fixture fx;
        struct fixture *f = &fx;

        (void)state;
        app_defaults(&f->app, 1);
        f->recs[0].instance = 1;
        f->recs[0].state = INSTANCE_STOPPED;
        set_str(f->recs[0].version, sizeof(f->recs[0].version), "1.0.0");
        f->in = (struct plan_input){ .app = &f->app, .instances = f->recs, .ninstances = 1 };
        plan_compute(&f->in, NOW, &f->plan);
        assert_int_equal(f->plan.n, 1);
        assert_int_equal(f->plan.steps[0].action, PLAN_START);
        assert_true(f->plan.steps[0].runnable);

        f->plan.n = 99;
        f->plan.next_wake_ms = 99;
        f->in.app = NULL;
        plan_compute(&f->in, NOW, &f->plan);
        assert_int_equal(f->plan.n, 0);
        assert_int_equal(f->plan.next_wake_ms, 0);
}

/* ------------------------------------------------------------------ */
/* Sequences: a model of the executor applies the first runnable step. */

struct sim {
        struct fixture f;
        int bad_instance; /* 0 = the bad version fails everywhere */
        const char *bad;  /* this version never becomes ready (NULL = none) */
        bool stop_keeps;  /* a stop neither ghosts nor clears deploy_started_at */
        uint64_t now;
        char log[1024];
        int steps;
};

static bool sim_ghosted(const struct sim *s, const char *v)
{
        for (size_t i = 0; i < s->f.ghosts.n; i++)
                if (strcmp(s->f.gitems[i].version, v) == 0)
                        return true;
        return false;
}

static void sim_ghost(struct sim *s, const char *v)
{
        if (sim_ghosted(s, v))
                return;
        assert_true(s->f.ghosts.n < N_ITEMS(s->f.gitems));
        set_str(s->f.gitems[s->f.ghosts.n].version, sizeof(s->f.gitems[0].version), v);
        s->f.ghosts.n++;
        s->f.ghosts.items = s->f.gitems;
}

static struct instance_record *sim_record(struct sim *s, int n)
{
        struct instance_record *r;
        size_t at = 0;

        for (size_t i = 0; i < s->f.nrecs; i++) {
                if (s->f.recs[i].instance == n)
                        return &s->f.recs[i];
                if (s->f.recs[i].instance < n)
                        at = i + 1;
        }
        assert_true(s->f.nrecs < MAXR);
        memmove(&s->f.recs[at + 1], &s->f.recs[at], (s->f.nrecs - at) * sizeof(s->f.recs[0]));
        s->f.nrecs++;
        r = &s->f.recs[at];
        memset(r, 0, sizeof(*r));
        r->instance = n;
        return r;
}

static void sim_set_desired(struct sim *s, const char *v)
{
        set_str(s->f.d.release.version, sizeof(s->f.d.release.version), v);
        s->f.d.origin = DESIRED_SOURCE;
}

static void sim_init(struct sim *s, int replicas, const char *dv)
{
        memset(s, 0, sizeof(*s));
        app_defaults(&s->f.app, replicas);
        sim_set_desired(s, dv);
        s->now = NOW;
}

static void sim_add_ready(struct sim *s, int n, const char *v)
{
        struct instance_record *r = sim_record(s, n);

        r->state = INSTANCE_RUNNING;
        set_str(r->version, sizeof(r->version), v);
        r->ready = true;
        r->started_at_ms = LONG_AGO;
}

static bool sim_bad(const struct sim *s, const struct instance_record *r)
{
        return s->bad && strcmp(r->version, s->bad) == 0 &&
               (s->bad_instance == 0 || s->bad_instance == r->instance);
}

static void sim_begin_start(struct instance_record *r, uint64_t now)
{
        r->state = INSTANCE_STARTING;
        r->ready = false;
        r->started_at_ms = now;
}

static void sim_apply(struct sim *s, const struct plan_step *st)
{
        struct instance_record *r = sim_record(s, st->instance);
        size_t len = strlen(s->log);

        snprintf(s->log + len, sizeof(s->log) - len, "%s%d:%s:%s", len ? " " : "", st->instance,
                 plan_action_to_string(st->action), st->to);
        switch (st->action) {
        case PLAN_DEPLOY_FULL:
        case PLAN_DEPLOY_HOT:
                set_str(r->previous_version, sizeof(r->previous_version), r->version);
                set_str(r->version, sizeof(r->version), st->to);
                sim_begin_start(r, s->now);
                r->deploy_started_at_ms = s->now;
                if (st->token[0])
                        set_str(r->restart_token, sizeof(r->restart_token), st->token);
                break;
        case PLAN_START:
                sim_begin_start(r, s->now);
                break;
        case PLAN_RESTART:
                sim_begin_start(r, s->now);
                if (st->instance_token)
                        set_str(r->instance_restart_token, sizeof(r->instance_restart_token),
                                st->token);
                else
                        set_str(r->restart_token, sizeof(r->restart_token), st->token);
                break;
        case PLAN_ROLLBACK:
                sim_ghost(s, r->version);
                set_str(r->version, sizeof(r->version), st->to);
                r->previous_version[0] = '\0';
                sim_begin_start(r, s->now);
                r->deploy_started_at_ms = s->now;
                break;
        case PLAN_STOP:
                r->state = INSTANCE_STOPPED;
                r->ready = false;
                if (s->stop_keeps)
                        break;
                sim_ghost(s, r->version);
                r->deploy_started_at_ms = 0;
                break;
        case PLAN_REMOVE: {
                size_t i = (size_t)(r - s->f.recs);

                memmove(r, r + 1, (s->f.nrecs - i - 1) * sizeof(*r));
                s->f.nrecs--;
                break;
        }
        case PLAN_WAIT:
                fail_msg("a wait step is never runnable");
        }
}

/* Executor's observation: an instance up healthy_after without restart is ready. */
static void sim_observe(struct sim *s)
{
        for (size_t i = 0; i < s->f.nrecs; i++) {
                struct instance_record *r = &s->f.recs[i];

                if (r->state == INSTANCE_STARTING && !sim_bad(s, r) &&
                    s->now >= r->started_at_ms + s->f.app.healthy_after_ms) {
                        r->state = INSTANCE_RUNNING;
                        r->ready = true;
                        r->deploy_started_at_ms = 0;
                        r->consecutive_crashes = 0;
                }
        }
}

static bool is_slot_action(enum plan_action a)
{
        return a == PLAN_DEPLOY_FULL || a == PLAN_DEPLOY_HOT || a == PLAN_ROLLBACK ||
               a == PLAN_RESTART || a == PLAN_STOP;
}

/*
 * Runs until nothing is runnable and nothing is due, or max_steps applied.
 * Checks on every plan: at most one rollout step runnable, and a rollout
 * never has two instances that were serving out of service at once.
 */
static void sim_run(struct sim *s, int max_steps)
{
        for (int iter = 0; iter < 500; iter++) {
                struct plan *p = &s->f.plan;
                int slot = 0, not_ready = 0;

                sim_observe(s);
                s->f.d.ghosted = sim_ghosted(s, s->f.d.release.version);
                s->f.in = (struct plan_input){ .app = &s->f.app, .desired = &s->f.d,
                                               .instances = s->f.recs, .ninstances = s->f.nrecs,
                                               .ghosts = &s->f.ghosts };
                plan_compute(&s->f.in, s->now, p);
                for (size_t i = 0; i < p->n; i++) {
                        if (p->steps[i].runnable && is_slot_action(p->steps[i].action))
                                slot++;
                        if (i > 0 && p->steps[i].runnable && !p->steps[i - 1].runnable)
                                fail_msg("runnable step after a waiting one");
                }
                for (size_t i = 0; i < s->f.nrecs; i++)
                        if (s->f.recs[i].state != INSTANCE_STOPPED && !s->f.recs[i].ready &&
                            !sim_bad(s, &s->f.recs[i]))
                                not_ready++;
                if (slot > 1 || not_ready > 1) {
                        dump_plan("plan", p);
                        fail_msg("%d rollout steps runnable, %d instances not ready", slot,
                                 not_ready);
                }
                if (s->steps == max_steps)
                        return;
                if (p->n > 0 && p->steps[0].runnable) {
                        sim_apply(s, &p->steps[0]);
                        s->steps++;
                } else if (p->next_wake_ms) {
                        assert_true(p->next_wake_ms > s->now);
                        s->now = p->next_wake_ms;
                } else {
                        return;
                }
        }
        fail_msg("no convergence after 500 rounds: %s", s->log);
}

static void sim_expect_versions(const struct sim *s, const char *const *want, size_t n)
{
        assert_int_equal(s->f.nrecs, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(s->f.recs[i].instance, (int)i + 1);
                if (want[i])
                        assert_string_equal(s->f.recs[i].version, want[i]);
        }
}

static void test_seq_first_deploy_and_update(void **state)
{
        static struct sim s;
        static const char *const v100[] = { "1.0.0", "1.0.0", "1.0.0" };
        static const char *const v101[] = { "1.0.1", "1.0.1", "1.0.1" };

        (void)state;
        sim_init(&s, 3, "1.0.0");
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.0 2:deploy-full:1.0.0 3:deploy-full:1.0.0");
        sim_expect_versions(&s, v100, 3);
        assert_int_equal(s.f.plan.n, 0);

        s.log[0] = '\0';
        sim_set_desired(&s, "1.0.1");
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.1 2:deploy-full:1.0.1 3:deploy-full:1.0.1");
        sim_expect_versions(&s, v101, 3);
        assert_int_equal(s.f.plan.n, 0);
        assert_int_equal(s.f.plan.next_wake_ms, 0);
}

/* Instance 2 never gets ready on 1.0.1: ghost it, roll 2 then 1 back, stop there. */
static void test_seq_rollback_no_loop(void **state)
{
        static struct sim s;
        static const char *const v100[] = { "1.0.0", "1.0.0" };

        (void)state;
        sim_init(&s, 2, "1.0.1");
        sim_add_ready(&s, 1, "1.0.0");
        sim_add_ready(&s, 2, "1.0.0");
        s.bad = "1.0.1";
        s.bad_instance = 2;
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.1 2:deploy-full:1.0.1 2:rollback:1.0.0 "
                                   "1:rollback:1.0.0");
        sim_expect_versions(&s, v100, 2);
        assert_true(sim_ghosted(&s, "1.0.1"));
        assert_int_equal(s.f.plan.n, 0);
        assert_int_equal(s.f.plan.next_wake_ms, 0);

        /* A fixed version published next rolls out normally. */
        s.log[0] = '\0';
        sim_set_desired(&s, "1.0.2");
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.2 2:deploy-full:1.0.2");
}

/* A first deploy that never gets ready: stop, ghost, wait; then a good version. */
static void test_seq_first_deploy_fails(void **state)
{
        static struct sim s;

        (void)state;
        sim_init(&s, 2, "1.0.0");
        s.bad = "1.0.0";
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.0 1:stop:");
        assert_true(sim_ghosted(&s, "1.0.0"));
        assert_int_equal(s.f.plan.n, 2);
        assert_int_equal(s.f.plan.steps[0].action, PLAN_WAIT);
        assert_int_equal(s.f.plan.steps[1].action, PLAN_WAIT);
        assert_non_null(strstr(s.f.plan.steps[1].reason, "1.0.0 is ghosted"));
        assert_int_equal(s.f.plan.next_wake_ms, 0);

        s.log[0] = '\0';
        sim_set_desired(&s, "1.0.1");
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.1 2:deploy-full:1.0.1");

        /* An executor whose stop does not ghost still does not loop. */
        sim_init(&s, 2, "1.0.0");
        s.bad = "1.0.0";
        s.stop_keeps = true;
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.0 1:stop:");
        assert_int_equal(s.f.plan.n, 2);
        assert_false(s.f.plan.steps[0].runnable);
        assert_int_equal(s.f.plan.next_wake_ms, 0);
}

/* 1.0.2 is published while instance 2 is still starting 1.0.1. */
static void test_seq_newer_desired_mid_rollout(void **state)
{
        static struct sim s;
        static const char *const v102[] = { "1.0.2", "1.0.2", "1.0.2" };

        (void)state;
        sim_init(&s, 3, "1.0.1");
        sim_add_ready(&s, 1, "1.0.0");
        sim_add_ready(&s, 2, "1.0.0");
        sim_add_ready(&s, 3, "1.0.0");
        sim_run(&s, 2);
        assert_string_equal(s.log, "1:deploy-full:1.0.1 2:deploy-full:1.0.1");
        sim_set_desired(&s, "1.0.2");
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:deploy-full:1.0.1 2:deploy-full:1.0.1 2:deploy-full:1.0.2 "
                                   "1:deploy-full:1.0.2 3:deploy-full:1.0.2");
        sim_expect_versions(&s, v102, 3);
}

/* A rolling restart, then a restart of instance 2 alone; then scale 3 -> 1. */
static void test_seq_restarts_and_scale(void **state)
{
        static struct sim s;
        static struct instance_token it = { 2, "only-2" };

        (void)state;
        sim_init(&s, 3, "1.0.0");
        sim_add_ready(&s, 1, "1.0.0");
        sim_add_ready(&s, 2, "1.0.0");
        sim_add_ready(&s, 3, "1.0.0");
        set_str(s.f.d.override.restart, sizeof(s.f.d.override.restart), "r1");
        sim_run(&s, -1);
        assert_string_equal(s.log, "1:restart:1.0.0 2:restart:1.0.0 3:restart:1.0.0");

        s.log[0] = '\0';
        s.f.d.override.restart_instances = &it;
        s.f.d.override.nrestart_instances = 1;
        sim_run(&s, -1);
        assert_string_equal(s.log, "2:restart:1.0.0");

        s.log[0] = '\0';
        s.f.app.replicas = 1;
        sim_run(&s, -1);
        assert_string_equal(s.log, "2:remove: 3:remove:");
        assert_int_equal(s.f.nrecs, 1);
}

int main(void)
{
        static struct CMUnitTest tests[N_ITEMS(scenarios) + 16];
        static const struct CMUnitTest extra[] = {
                cmocka_unit_test(test_action_names),
                cmocka_unit_test(test_gleam_plan_never_says_hot),
                cmocka_unit_test(test_probation_arithmetic),
                cmocka_unit_test(test_step_format),
                cmocka_unit_test(test_long_strings),
                cmocka_unit_test(test_null_inputs),
                cmocka_unit_test(test_seq_first_deploy_and_update),
                cmocka_unit_test(test_seq_rollback_no_loop),
                cmocka_unit_test(test_seq_first_deploy_fails),
                cmocka_unit_test(test_seq_newer_desired_mid_rollout),
                cmocka_unit_test(test_seq_restarts_and_scale),
        };
        size_t n = 0;

        for (size_t i = 0; i < N_ITEMS(scenarios); i++) {
                tests[n] = (struct CMUnitTest){ .name = scenarios[i].name,
                                                .test_func = run_scenario,
                                                .initial_state = (void *)&scenarios[i] };
                n++;
        }
        for (size_t i = 0; i < N_ITEMS(extra); i++)
                tests[n++] = extra[i];
        return _cmocka_run_group_tests("plan", tests, n, NULL, NULL);
}
