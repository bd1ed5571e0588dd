/*
 * plan: the pure planner.  See plan.h for the contract and docs/planner.md
 * for the rules in operator language.
 *
 * plan_compute() works in three passes over the app's instances:
 *  1. classify each instance on its own (in flight, to remove, to roll back,
 *     to deploy, crashed, stopped, coming up, settled, ...);
 *  2. hand out the one "slot" an app has for a disruptive step (rollback or
 *     stop of a ghosted version, then deploy, then token restart, in that
 *     priority), because the executor runs one step at a time per app;
 *  3. turn each instance into at most one step, runnable ones first.
 * Nothing here reads a clock, touches a file or allocates: the state headers
 * are used for their structs only, never their functions, so the test binary
 * links this file, backoff.c and libc.
 */
#include "reconciler/core/plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/core/backoff.h"
#include "reconciler/core/readiness.h"

#include "base/banned.h"

static const char *const action_names[PLAN_ACTION_COUNT] = {
        [PLAN_DEPLOY_FULL] = "deploy-full",
        [PLAN_DEPLOY_HOT] = "deploy-hot",
        [PLAN_START] = "start",
        [PLAN_STOP] = "stop",
        [PLAN_RESTART] = "restart",
        [PLAN_ROLLBACK] = "rollback",
        [PLAN_REMOVE] = "remove",
        [PLAN_WAIT] = "wait",
};

const char *plan_action_to_string(enum plan_action a)
{
        if ((unsigned)a >= PLAN_ACTION_COUNT)
                return "unknown";
        return action_names[a];
}

/* What an instance needs, judged on its own (pass 1). */
enum cls {
        CLS_INFLIGHT,      /* deploying, pre_commands, upgrading: wait */
        CLS_REMOVE,        /* n > replicas */
        CLS_ROLLBACK,      /* ghosted version or rollback deadline, previous usable */
        CLS_STOP,          /* same, nothing to fall back to */
        CLS_DEPLOY,        /* a deployable D and the instance does not run it */
        CLS_CRASHED,       /* backoff: start once the delay elapsed */
        CLS_STOPPED,       /* stopped with a release in place: start */
        CLS_COMING_UP,     /* runs D, process up, not ready yet: wait */
        CLS_SETTLED,       /* up and nothing to do, unless a restart token is pending */
        CLS_NO_VERSION,    /* never deployed and nothing deployable */
        CLS_FAILED_STOPPED, /* stopped on a failed version, no previous: wait */
        CLS_FAULT_HELD,    /* deadline or probation, but the host is at fault: wait */
};

/* Why a ROLLBACK, STOP or FAILED_STOPPED instance goes back. */
enum failure {
        FAIL_GHOSTED,              /* its version is ghosted (here or by another instance) */
        FAIL_DEADLINE,             /* not ready rollback_timeout_ms after its deployment */
        FAIL_PROBATION,            /* max_probation_crashes crashes on probation */
};

struct view {
        int n;
        const struct instance_record *r;
        enum cls cls;
        enum failure failure;      /* ROLLBACK, STOP, FAILED_STOPPED */
        const char *token;         /* SETTLED: restart token to apply, NULL = none */
        bool instance_token;
};

struct ctx {
        const struct plan_input *in;
        const struct app_config *app;
        const struct override *ov;
        uint64_t now;
        int replicas;
        const char *dv;            /* the desired version as published/pinned, "" = none */
        enum desired_origin origin;
        bool desired_ghosted;
        bool deployable;           /* dv can be deployed */
        bool paused;
        struct view v[PLAN_MAX_STEPS];
        size_t nv;                 /* v[0 .. nreplicas-1] are instances 1..replicas */
        size_t nreplicas;
        int in_flight;             /* first instance with a step in flight, 0 = none */
        int rollback_first;        /* first instance to roll back or stop, 0 = none */
        int rollback_winner;       /* the one that may run now, 0 = none */
        bool any_deploy;
        int deploy_k;              /* the instance whose deploy comes next, 0 = none */
        bool deploy_priority;      /* deploy_k was mid-deploy of an older D */
        bool deploy_runnable;
        bool deferred;             /* the deployment of dv waits for its retry time */
        bool fleet_wait;           /* the deployment of dv waits for this host's fleet turn */
        int restart_k;
        bool restart_runnable;
};

/* Zeroed: INSTANCE_STOPPED, no version, never deployed. */
static const struct instance_record no_record;
static const struct desired no_desired;

static bool is_up(const struct instance_record *r)
{
        return r->state == INSTANCE_STARTING || r->state == INSTANCE_RUNNING;
}

static bool is_ready(const struct instance_record *r)
{
        return is_up(r) && r->ready;
}

static bool is_coming_up(const struct instance_record *r)
{
        return is_up(r) && !r->ready;
}

static bool is_in_flight(const struct instance_record *r)
{
        return r->state == INSTANCE_DEPLOYING || r->state == INSTANCE_PRE_COMMANDS ||
               r->state == INSTANCE_UPGRADING;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void copy_str(char *dst, size_t n, const char *src)
{
        size_t len = strnlen(src, n - 1);

        memcpy(dst, src, len);
        dst[len] = '\0';
}

/*
 * Append to a step's reason, truncating at PLAN_REASON_MAX.  A macro rather
 * than a va_list function: the format string is checked at every call site.
 */
#define reason_add(s, ...)                                                                 \
        do {                                                                               \
                size_t len_ = strnlen((s)->reason, sizeof((s)->reason));                   \
                if (len_ + 1 < sizeof((s)->reason))                                        \
                        snprintf((s)->reason + len_, sizeof((s)->reason) - len_, __VA_ARGS__); \
        } while (0)

static bool version_ghosted(const struct ctx *c, const char *v)
{
        const struct ghost_list *g = c->in->ghosts;

        if (v[0] == '\0')
                return false;
        if (c->desired_ghosted && strcmp(v, c->dv) == 0)
                return true;
        for (size_t i = 0; g && i < g->n; i++)
                if (strcmp(g->items[i].version, v) == 0)
                        return true;
        return false;
}

/* previous_version when it is worth going back to, else NULL. */
static const char *rollback_target(const struct ctx *c, const struct instance_record *r)
{
        if (r->previous_version[0] == '\0' || strcmp(r->previous_version, r->version) == 0 ||
            version_ghosted(c, r->previous_version))
                return NULL;
        return r->previous_version;
}

static bool deadline_passed(const struct ctx *c, const struct instance_record *r)
{
        return r->deploy_started_at_ms != 0 && !is_ready(r) &&
               c->now >= add_sat(r->deploy_started_at_ms, c->app->rollback_timeout_ms);
}

static bool probation_over(const struct ctx *c, const struct instance_record *r)
{
        return probation_failed(r->probation_started_at_ms, r->probation_crashes,
                                c->app->max_probation_crashes);
}

static bool runs_d_ready(const struct ctx *c, const struct instance_record *r)
{
        return c->deployable && strcmp(r->version, c->dv) == 0 && is_ready(r);
}

static bool hot_possible(const struct ctx *c, const char *from, const char *to)
{
        if (from[0] == '\0')
                return false;
        for (size_t i = 0; c->in->hot && i < c->in->nhot; i++)
                if (strcmp(c->in->hot[i].from, from) == 0 && strcmp(c->in->hot[i].to, to) == 0)
                        return true;
        return false;
}

static const char *instance_token(const struct override *o, int n)
{
        for (size_t i = 0; o->restart_instances && i < o->nrestart_instances; i++)
                if (o->restart_instances[i].instance == n)
                        return o->restart_instances[i].token;
        return NULL;
}

static const struct instance_record *find_record(const struct plan_input *in, int n)
{
        for (size_t i = 0; in->instances && i < in->ninstances; i++)
                if (in->instances[i].instance == n)
                        return &in->instances[i];
        return NULL;
}

static bool view_exists(const struct ctx *c, int n)
{
        for (size_t i = 0; i < c->nv; i++)
                if (c->v[i].n == n)
                        return true;
        return false;
}

static const struct instance_record *rec(const struct ctx *c, int n)
{
        return c->v[n - 1].r; /* n in 1..replicas */
}

/* First instance before n that does not run D ready, 0 = none. */
static int blocker_not_on_d(const struct ctx *c, int n)
{
        for (int m = 1; m < n; m++)
                if (!runs_d_ready(c, rec(c, m)))
                        return m;
        return 0;
}

/* First instance before n that is not ready, 0 = none. */
static int blocker_not_ready(const struct ctx *c, int n)
{
        for (int m = 1; m < n; m++)
                if (!is_ready(rec(c, m)))
                        return m;
        return 0;
}

/*
 * Another instance whose process is up but not ready yet, 0 = none.  A step
 * that takes a ready instance down waits for it, so that a rollout never has
 * two instances out of service because of it.
 */
static int blocker_coming_up(const struct ctx *c, int n)
{
        for (int m = 1; m <= c->replicas; m++)
                if (m != n && is_coming_up(rec(c, m)))
                        return m;
        return 0;
}

static enum cls classify(const struct ctx *c, struct view *v)
{
        const struct instance_record *r = v->r;
        const char *tok;

        if (is_in_flight(r))
                return CLS_INFLIGHT;
        if (v->n > c->replicas)
                return CLS_REMOVE;
        if (r->version[0] != '\0') {
                if (version_ghosted(c, r->version)) {
                        if (rollback_target(c, r))
                                return CLS_ROLLBACK;
                        /* Stopping a stopped instance again would loop: leave it. */
                        if (r->state != INSTANCE_STOPPED)
                                return CLS_STOP;
                        return c->deployable ? CLS_DEPLOY : CLS_FAILED_STOPPED;
                }
                if (deadline_passed(c, r) || probation_over(c, r)) {
                        v->failure = deadline_passed(c, r) ? FAIL_DEADLINE : FAIL_PROBATION;
                        /* A host out of fds or memory is not the release's failure. */
                        if (c->in->host_fault)
                                return CLS_FAULT_HELD;
                        if (rollback_target(c, r))
                                return CLS_ROLLBACK;
                        if (r->state != INSTANCE_STOPPED)
                                return CLS_STOP;
                        /* Already stopped (the stop step ran): only a new version helps. */
                        if (c->deployable && strcmp(r->version, c->dv) != 0)
                                return CLS_DEPLOY;
                        return CLS_FAILED_STOPPED;
                }
        }
        if (c->deployable && strcmp(r->version, c->dv) != 0)
                return CLS_DEPLOY;
        if (r->version[0] == '\0')
                return CLS_NO_VERSION;
        if (r->state == INSTANCE_BACKOFF)
                return CLS_CRASHED;
        if (r->state == INSTANCE_STOPPED)
                return CLS_STOPPED;
        if (c->deployable && !r->ready)
                return CLS_COMING_UP;
        tok = instance_token(c->ov, v->n);
        if (tok && tok[0] != '\0' && strcmp(tok, r->instance_restart_token) != 0) {
                v->token = tok;
                v->instance_token = true;
        } else if (c->ov->restart[0] != '\0' && strcmp(c->ov->restart, r->restart_token) != 0) {
                v->token = c->ov->restart;
        }
        return CLS_SETTLED;
}

static void ctx_init(struct ctx *c, const struct plan_input *in, uint64_t now)
{
        const struct desired *d = in->desired ? in->desired : &no_desired;

        memset(c, 0, sizeof(*c));
        c->in = in;
        c->app = in->app;
        c->ov = &d->override;
        c->now = now;
        c->replicas = in->app->replicas < 0 ? 0 : in->app->replicas;
        if (c->replicas > PLAN_MAX_STEPS)
                c->replicas = PLAN_MAX_STEPS;
        c->origin = d->origin;
        c->dv = d->origin == DESIRED_NONE ? "" : d->release.version;
        c->desired_ghosted = d->ghosted;
        c->deployable = c->dv[0] != '\0' && !version_ghosted(c, c->dv);
        c->paused = d->override.paused;
        c->deferred = c->deployable && in->deferred && strcmp(in->deferred->version, c->dv) == 0 &&
                      now < in->deferred->retry_at_ms;
        /* No gate for dv yet counts as "not our turn": the gate is read before a deploy. */
        c->fleet_wait = c->deployable && in->fleet && d->origin != DESIRED_OVERRIDE &&
                        !(strcmp(in->fleet->version, c->dv) == 0 && in->fleet->go);

        for (int n = 1; n <= c->replicas; n++) {
                const struct instance_record *r = find_record(in, n);

                c->v[c->nv].n = n;
                c->v[c->nv].r = r ? r : &no_record;
                c->nv++;
        }
        c->nreplicas = c->nv;
        for (size_t i = 0; in->instances && i < in->ninstances && c->nv < PLAN_MAX_STEPS; i++) {
                int n = in->instances[i].instance;

                if (n <= c->replicas || view_exists(c, n))
                        continue;
                c->v[c->nv].n = n;
                c->v[c->nv].r = &in->instances[i];
                c->nv++;
        }
}

/*
 * Rolling back or stopping an instance that is still ready (it runs a version
 * ghosted elsewhere) waits while another instance is coming up, like a
 * deploy does; one that is not ready serves nobody and goes at once.
 */
static int rollback_held(const struct ctx *c, const struct view *v)
{
        return is_ready(v->r) ? blocker_coming_up(c, v->n) : 0;
}

/* Pass 2: who gets the app's one slot for a disruptive step. */
static void assign_slot(struct ctx *c)
{
        int priority = 0, first_deploy = 0;

        for (size_t i = 0; i < c->nv; i++) {
                struct view *v = &c->v[i];

                v->cls = classify(c, v);
                if (v->cls == CLS_INFLIGHT && !c->in_flight)
                        c->in_flight = v->n;
        }
        for (size_t i = 0; i < c->nreplicas; i++) {
                const struct view *v = &c->v[i];

                if (v->cls == CLS_ROLLBACK || v->cls == CLS_STOP) {
                        if (!c->rollback_first)
                                c->rollback_first = v->n;
                        /* A paused rollback holds; a stop still runs (pause is about deploys). */
                        if (!c->rollback_winner && !c->in_flight &&
                            !(c->paused && v->cls == CLS_ROLLBACK) && !rollback_held(c, v))
                                c->rollback_winner = v->n;
                } else if (v->cls == CLS_DEPLOY) {
                        c->any_deploy = true;
                        if (!first_deploy)
                                first_deploy = v->n;
                        /* Not serving yet on an older D: cancel its wait, redeploy it first. */
                        if (!priority && is_coming_up(v->r) && v->r->deploy_started_at_ms != 0)
                                priority = v->n;
                } else if (v->cls == CLS_SETTLED && v->token && !c->restart_k) {
                        c->restart_k = v->n;
                }
        }

        c->deploy_k = priority ? priority : first_deploy;
        c->deploy_priority = priority != 0;
        if (c->deploy_k && !c->paused && !c->in_flight && !c->rollback_first && !c->deferred &&
            !c->fleet_wait) {
                const struct instance_record *r = rec(c, c->deploy_k);

                c->deploy_runnable = (c->deploy_priority || !blocker_not_on_d(c, c->deploy_k)) &&
                                     (!is_ready(r) || !blocker_coming_up(c, c->deploy_k));
        }
        if (c->restart_k && !c->paused && !c->in_flight && !c->rollback_first && !c->any_deploy) {
                const struct view *v = &c->v[c->restart_k - 1];

                c->restart_runnable = (v->instance_token || !blocker_not_ready(c, v->n)) &&
                                      (!is_ready(v->r) || !blocker_coming_up(c, v->n));
        }
}

static void add_in_flight(const struct ctx *c, struct plan_step *s)
{
        reason_add(s, "; waits for the step in flight on instance %d", c->in_flight);
}

static void step_versions(struct plan_step *s, enum plan_action a, const char *from, const char *to)
{
        s->action = a;
        copy_str(s->from, sizeof(s->from), from);
        copy_str(s->to, sizeof(s->to), to);
}

static void add_deferred(const struct ctx *c, struct plan_step *s)
{
        const struct deferred *df = c->in->deferred;
        uint64_t left = df->retry_at_ms - c->now;

        reason_add(s, "; deferred: %.160s, retry in %" PRIu64 " s",
                   df->reason[0] ? df->reason : "failed", (left + 999) / 1000);
}

static void step_fleet_wait(const struct ctx *c, const struct view *v, struct plan_step *s)
{
        const struct plan_fleet *f = c->in->fleet;

        step_versions(s, PLAN_WAIT, v->r->version, c->dv);
        if (strcmp(f->version, c->dv) == 0 && f->reason[0])
                reason_add(s, "fleet: %.190s", f->reason);
        else
                reason_add(s, "fleet: reading the rollout of %s", c->dv);
}

/* The executor asks upgrade_kind for a ready BEAM release instance with a version. */
static bool hot_candidate(const struct ctx *c, const struct instance_record *r)
{
        return is_ready(r) && r->version[0] != '\0' && c->app->language != LANG_GLEAM;
}

static void step_deploy(const struct ctx *c, const struct view *v, struct plan_step *s,
                        bool runnable)
{
        const struct instance_record *r = v->r;
        bool hot = hot_possible(c, r->version, c->dv);

        step_versions(s, hot ? PLAN_DEPLOY_HOT : PLAN_DEPLOY_FULL, r->version, c->dv);
        /* A full deploy restarts the process: it satisfies the app's restart request too. */
        if (!hot)
                copy_str(s->token, sizeof(s->token), c->ov->restart);
        s->runnable = runnable;
        if (c->paused)
                reason_add(s, "paused: ");
        if (r->version[0] == '\0')
                reason_add(s, "first deploy of %s", c->dv);
        else if (c->deploy_priority && v->n == c->deploy_k)
                reason_add(s, "%s replaces %s before it was ready", c->dv, r->version);
        else
                reason_add(s, "update to %s %s",
                           c->origin == DESIRED_OVERRIDE ? "pinned" : "published", c->dv);
        if (!hot && hot_candidate(c, r))
                reason_add(s, ", hot if its relup upgrades from %s", r->version);
        if (c->paused)
                return;

        if (runnable) {
                if (!c->deploy_priority && v->n > 1)
                        reason_add(s, "; instance %d runs %s and is ready", v->n - 1, c->dv);
        } else if (c->in_flight) {
                add_in_flight(c, s);
        } else if (c->rollback_first) {
                reason_add(s, "; waits for the rollback of instance %d", c->rollback_first);
        } else if (c->deferred) {
                add_deferred(c, s);
        } else if (v->n != c->deploy_k) {
                int b = c->deploy_priority && v->n < c->deploy_k ? c->deploy_k
                                                                 : blocker_not_on_d(c, v->n);

                reason_add(s, "; waits for instance %d to run %s and be ready", b, c->dv);
        } else {
                int b = c->deploy_priority ? 0 : blocker_not_on_d(c, v->n);

                if (b)
                        reason_add(s, "; waits for instance %d to run %s and be ready", b, c->dv);
                else
                        reason_add(s, "; waits for instance %d to be ready",
                                   blocker_coming_up(c, v->n));
        }
}

static void step_crashed(const struct ctx *c, const struct view *v, struct plan_step *s)
{
        const struct instance_record *r = v->r;
        uint64_t delay = backoff_delay_ms(c->app->backoff_initial_ms, c->app->backoff_max_ms,
                                          r->consecutive_crashes);
        uint64_t due = add_sat(r->last_exit_at_ms, delay);

        if (r->consecutive_crashes <= 1)
                reason_add(s, "crashed once");
        else
                reason_add(s, "crashed %" PRIu32 " times in a row", r->consecutive_crashes);
        if (c->now >= due) {
                step_versions(s, PLAN_START, r->version, r->version);
                s->runnable = !c->in_flight;
                reason_add(s, "; restart after %" PRIu64 " ms backoff", delay);
                if (c->in_flight)
                        add_in_flight(c, s);
        } else {
                step_versions(s, PLAN_WAIT, r->version, r->version);
                reason_add(s, "; %" PRIu64 " ms backoff, restart in %" PRIu64 " ms", delay,
                           due - c->now);
        }
}

static void step_start(const struct ctx *c, const struct view *v, struct plan_step *s)
{
        step_versions(s, PLAN_START, v->r->version, v->r->version);
        s->runnable = !c->in_flight;
        reason_add(s, "stopped; start %s", v->r->version);
        if (c->in_flight)
                add_in_flight(c, s);
}

static void step_rollback(const struct ctx *c, const struct view *v, struct plan_step *s)
{
        const struct instance_record *r = v->r;
        const char *target = v->cls == CLS_ROLLBACK ? rollback_target(c, r) : NULL;

        step_versions(s, target ? PLAN_ROLLBACK : PLAN_STOP, r->version, target ? target : "");
        s->runnable = c->rollback_winner == v->n;
        if (!s->runnable && c->paused && target)
                reason_add(s, "paused: ");
        if (v->failure == FAIL_DEADLINE)
                reason_add(s, "not ready %" PRIu64 " ms after deploy of %s started; ghost %s",
                           c->app->rollback_timeout_ms, r->version, r->version);
        else if (v->failure == FAIL_PROBATION)
                reason_add(s, "%" PRIu32 " crashes within %" PRIu64 " ms of deploy of %s; ghost %s",
                           r->probation_crashes, c->app->rollback_timeout_ms, r->version,
                           r->version);
        else
                reason_add(s, "runs ghosted %s", r->version);
        if (!target)
                reason_add(s, "; no previous version to roll back to");
        if (s->runnable || (c->paused && target))
                return;
        if (c->in_flight)
                add_in_flight(c, s);
        else if (rollback_held(c, v))
                reason_add(s, "; waits for instance %d to be ready", rollback_held(c, v));
        else
                reason_add(s, "; waits for the %s of instance %d",
                           c->v[c->rollback_winner - 1].cls == CLS_ROLLBACK ? "rollback" : "stop",
                           c->rollback_winner);
}

static void step_restart(const struct ctx *c, const struct view *v, struct plan_step *s)
{
        const struct instance_record *r = v->r;

        step_versions(s, PLAN_RESTART, r->version, r->version);
        copy_str(s->token, sizeof(s->token), v->token);
        s->instance_token = v->instance_token;
        s->runnable = c->restart_k == v->n && c->restart_runnable;
        if (c->paused)
                reason_add(s, "paused: ");
        if (v->instance_token)
                reason_add(s, "restart of instance %d requested (token %s)", v->n, v->token);
        else
                reason_add(s, "restart requested (token %s)", v->token);
        if (s->runnable || c->paused)
                return;
        if (c->in_flight) {
                add_in_flight(c, s);
        } else if (c->rollback_first) {
                reason_add(s, "; waits for the rollback of instance %d", c->rollback_first);
        } else if (c->any_deploy) {
                reason_add(s, "; waits for the rollout of %s to finish", c->dv);
        } else if (v->n != c->restart_k) {
                reason_add(s, "; waits for the restart of instance %d", c->restart_k);
        } else {
                int b = v->instance_token ? 0 : blocker_not_ready(c, v->n);

                reason_add(s, "; waits for instance %d to be ready",
                           b ? b : blocker_coming_up(c, v->n));
        }
}

/* What an instance in the middle of a step is doing, as one clause of a sentence. */
static const char *in_flight_reason(enum instance_state st)
{
        switch (st) {
        case INSTANCE_DEPLOYING: return "a deployment is in progress";
        case INSTANCE_PRE_COMMANDS: return "its pre-commands are running";
        case INSTANCE_UPGRADING: return "a hot upgrade is in progress";
        default: return "a step is in progress";
        }
}

/* Pass 3: the step of one instance, if it has one. */
static bool decide(const struct ctx *c, const struct view *v, struct plan_step *s)
{
        const struct instance_record *r = v->r;

        memset(s, 0, sizeof(*s));
        s->instance = v->n;
        switch (v->cls) {
        case CLS_INFLIGHT:
                step_versions(s, PLAN_WAIT, r->version, r->version);
                reason_add(s, "%s", in_flight_reason(r->state));
                return true;
        case CLS_REMOVE:
                step_versions(s, PLAN_REMOVE, r->version, "");
                s->runnable = !c->in_flight;
                reason_add(s, "scaled down to %d replica%s", c->replicas,
                           c->replicas == 1 ? "" : "s");
                if (c->in_flight)
                        add_in_flight(c, s);
                return true;
        case CLS_ROLLBACK:
        case CLS_STOP:
                step_rollback(c, v, s);
                return true;
        case CLS_DEPLOY:
                if (v->n == c->deploy_k && c->deploy_runnable) {
                        step_deploy(c, v, s, true);
                } else if (r->version[0] != '\0' && !version_ghosted(c, r->version) &&
                           r->state == INSTANCE_BACKOFF) {
                        step_crashed(c, v, s); /* keep it supervised until its turn */
                        if (c->deferred && v->n == c->deploy_k)
                                add_deferred(c, s);
                } else if (r->version[0] != '\0' && !version_ghosted(c, r->version) &&
                           r->state == INSTANCE_STOPPED) {
                        step_start(c, v, s);
                } else if (c->fleet_wait && !c->paused && !c->in_flight && !c->rollback_first) {
                        step_fleet_wait(c, v, s);
                } else {
                        step_deploy(c, v, s, false);
                }
                return true;
        case CLS_CRASHED:
                step_crashed(c, v, s);
                return true;
        case CLS_STOPPED:
                step_start(c, v, s);
                return true;
        case CLS_COMING_UP:
                step_versions(s, PLAN_WAIT, r->version, r->version);
                reason_add(s, "runs %s and is not ready yet", r->version);
                if (r->deploy_started_at_ms != 0)
                        reason_add(s, "; rollback in %" PRIu64 " ms",
                                   add_sat(r->deploy_started_at_ms, c->app->rollback_timeout_ms) -
                                           c->now);
                return true;
        case CLS_SETTLED:
                if (!v->token)
                        return false;
                step_restart(c, v, s);
                return true;
        case CLS_NO_VERSION:
                step_versions(s, PLAN_WAIT, "", "");
                if (c->dv[0] != '\0')
                        reason_add(s, "%s is ghosted", c->dv);
                else
                        reason_add(s, "nothing published yet");
                return true;
        case CLS_FAULT_HELD:
                step_versions(s, PLAN_WAIT, r->version, r->version);
                reason_add(s, "%s; rollback held: the host is at fault (%.120s)",
                           v->failure == FAIL_DEADLINE ? "not ready past its rollback deadline"
                                                       : "crashed on probation",
                           c->in->host_fault);
                return true;
        case CLS_FAILED_STOPPED:
                step_versions(s, PLAN_WAIT, r->version, r->version);
                if (v->failure == FAIL_DEADLINE)
                        reason_add(s, "stopped: not ready %" PRIu64 " ms after deploy of %s "
                                      "started and there is no previous version",
                                   c->app->rollback_timeout_ms, r->version);
                else if (v->failure == FAIL_PROBATION)
                        reason_add(s, "stopped: %s crashed %" PRIu32 " times on probation and "
                                      "there is no previous version",
                                   r->version, r->probation_crashes);
                else
                        reason_add(s, "stopped: %s is ghosted and there is no previous version",
                                   r->version);
                return true;
        }
        return false;
}

static void wake_at(uint64_t t, uint64_t now, uint64_t *wake)
{
        if (t > now && t != UINT64_MAX && (*wake == 0 || t < *wake))
                *wake = t;
}

static uint64_t next_wake(const struct ctx *c)
{
        uint64_t wake = 0;

        for (size_t i = 0; i < c->nreplicas; i++) {
                const struct instance_record *r = c->v[i].r;

                /* The earliest moment the readiness job can call it ready. */
                if (is_coming_up(r) && r->started_at_ms != 0)
                        wake_at(add_sat(r->started_at_ms, c->app->healthy_after_ms), c->now, &wake);
                if (!is_ready(r) && r->deploy_started_at_ms != 0)
                        wake_at(add_sat(r->deploy_started_at_ms, c->app->rollback_timeout_ms),
                                c->now, &wake);
                if (r->state == INSTANCE_BACKOFF)
                        wake_at(add_sat(r->last_exit_at_ms,
                                        backoff_delay_ms(c->app->backoff_initial_ms,
                                                         c->app->backoff_max_ms,
                                                         r->consecutive_crashes)),
                                c->now, &wake);
        }
        if (c->deferred)
                wake_at(c->in->deferred->retry_at_ms, c->now, &wake);
        return wake;
}

void plan_compute(const struct plan_input *in, uint64_t now_ms, struct plan *out)
{
        struct ctx c;

        out->n = 0;
        out->next_wake_ms = 0;
        if (!in || !in->app)
                return;
        ctx_init(&c, in, now_ms);
        assign_slot(&c);
        /* Runnable steps first, then the waiting ones, each in instance order. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < c.nv && out->n < PLAN_MAX_STEPS; i++) {
                        struct plan_step *s = &out->steps[out->n];

                        if (decide(&c, &c.v[i], s) && s->runnable == (pass == 0))
                                out->n++;
                }
        }
        out->next_wake_ms = next_wake(&c);
}

void plan_step_format(const char *app, const struct plan_step *s, char *dst, size_t n)
{
        if (!dst || n == 0)
                return;
        snprintf(dst, n, "%s/%d  %s  %s -> %s  (%s)", app ? app : "", s->instance,
                 plan_action_to_string(s->action), s->from[0] ? s->from : "none",
                 s->to[0] ? s->to : "none", s->reason);
}
