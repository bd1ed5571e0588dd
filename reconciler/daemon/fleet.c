/*
 * fleet: the daemon's side of a fleet rollout (DESIGN §10, docs/fleet.md).
 *
 * While a published version D is the desired one, a `__fleet` job runs every
 * fleet.heartbeat_ms: it claims or refreshes this host's slot with what the
 * instances show (waiting, deploying, ready/total, failed), abandons a slot
 * the gate found stale, and prints every slot.  The loop never touches the
 * bucket.  Here, each slot's bytes are compared with the previous read to
 * note when it last changed and when a read last found it unchanged, on this
 * daemon's monotonic clock (staleness is never judged on another host's
 * clock, nor on time this daemon spent reading nothing), and
 * fleet_gate_compute() turns that into the planner's input: go, or wait with
 * the reason.  A failed verdict ghosts D here (the planner then rolls back and
 * never fetches it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reconciler/daemon/executor.h"
#include "reconciler/daemon/fleet.h"
#include "base/log.h"
#include "reconciler/jobs/answer.h"
#include "state/json.h"
#include "state/fleet.h"
#include "state/paths.h"
#include "base/banned.h"

#define VERDICT_PREFIX "fleet verdict: "

static bool runs_or_deploys(const struct instance_rt *in, const char *v)
{
        return strcmp(in->rec.version, v) == 0 || (in->op && strcmp(in->op->step.to, v) == 0);
}

/* What this host shows for D: its slot's state, and how many instances are ready on D. */
static enum fleet_slot_state my_state(struct app_rt *a, const char *v, int *ready, int *total,
                                      const char **reason)
{
        const struct ghost *g = ghosts_find(&a->ghosts, v);
        bool started = a->fleet.gate.decision == FLEET_GO;

        *ready = 0;
        *total = a->cfg->replicas;
        *reason = "";
        for (int n = 1; n <= a->cfg->replicas && n <= REPLICAS_MAX; n++) {
                const struct instance_rt *in = a->inst[n];

                if (!in || !runs_or_deploys(in, v))
                        continue;
                started = true;
                if (!in->op && in->rec.ready && strcmp(in->rec.version, v) == 0 &&
                    (in->rec.state == INSTANCE_RUNNING || in->rec.state == INSTANCE_STARTING))
                        (*ready)++;
        }
        if (g && strncmp(g->reason, VERDICT_PREFIX, strlen(VERDICT_PREFIX)) != 0) {
                *reason = g->reason;
                return FLEET_SLOT_FAILED;
        }
        if (!started)
                return FLEET_SLOT_WAITING;
        return *ready >= *total ? FLEET_SLOT_READY : FLEET_SLOT_DEPLOYING;
}

/*
 * Merge a read made between read_start and now into the view.  Both ends
 * lean towards a live holder: bytes that changed are taken as written at the
 * end of the read ("changed now"), bytes that did not as seen unchanged at
 * its start.
 */
static void merge_slot(struct fleet_view *v, int k, const struct fleet_slot *s, uint64_t read_start,
                       uint64_t now)
{
        struct fleet_slot *old = &v->slots[k];
        struct fleet_slot n = *s;

        bool same = old->state != FLEET_SLOT_ABSENT && old->fingerprint == s->fingerprint;

        n.changed_at_ms = same ? old->changed_at_ms : now;
        n.seen_at_ms = same && read_start > old->changed_at_ms ? read_start : n.changed_at_ms;
        n.ready_at_ms = 0;
        if (s->state == FLEET_SLOT_READY)
                n.ready_at_ms =
                        old->state == FLEET_SLOT_READY && old->ready_at_ms ? old->ready_at_ms : now;
        *old = n;
}

/* One slot of the __fleet answer (answer.h) into *ret_k and *s: false when it is not one. */
static bool answer_slot(yajl_val o, int *ret_k, struct fleet_slot *s)
{
        const char *st = answer_str(o, "state"), *host = answer_str(o, "host");
        const char *fp = answer_str(o, "fingerprint");
        long long k, ready, total, beat;
        char *end;

        memset(s, 0, sizeof(*s));
        if (!answer_int(o, "slot", &k) || k < 0 || k >= FLEET_SLOTS_MAX ||
            !answer_int(o, "ready", &ready) || !answer_int(o, "total", &total) ||
            !answer_int(o, "beat", &beat) || !st || !host || !fp ||
            fleet_slot_state_from_string(st, &s->state) < 0)
                return false;
        errno = 0;
        s->fingerprint = strtoull(fp, &end, 16);
        if (errno || end == fp || *end)
                return false;
        str_copy(s->host, sizeof(s->host), host);
        s->ready = (int)ready;
        s->total = (int)total;
        s->beat = (uint64_t)beat;
        *ret_k = (int)k;
        return true;
}

static void take_answer(struct app_rt *a, yajl_val result, uint64_t read_start, uint64_t now)
{
        struct fleet_view *v = &a->fleet.view;
        bool seen[FLEET_SLOTS_MAX] = { false };
        yajl_val verdict = json_get(result, "verdict"), slots = json_get(result, "slots");
        long long mine;

        if (answer_int(result, "mine", &mine))
                v->mine = (int)mine;
        v->verdict_failed = YAJL_IS_OBJECT(verdict);
        if (v->verdict_failed) {
                const char *why = answer_str(verdict, "reason");

                snprintf(v->verdict_reason, sizeof(v->verdict_reason), "%.190s", why ? why : "");
        }
        for (size_t i = 0; YAJL_IS_ARRAY(slots) && i < slots->u.array.len; i++) {
                struct fleet_slot s;
                int k;

                if (!answer_slot(slots->u.array.values[i], &k, &s))
                        continue;
                merge_slot(v, k, &s, read_start, now);
                seen[k] = true;
                if (k + 1 > v->nslots)
                        v->nslots = k + 1;
        }
        for (int k = 0; k < v->nslots; k++)
                if (!seen[k])
                        memset(&v->slots[k], 0, sizeof(v->slots[k]));
}

/* The answer of the job about the version still rolling out; one about an older one is dropped. */
static void parse_answer(struct app_rt *a, const struct job *j, uint64_t read_start, uint64_t now)
{
        struct buf err = BUF_INIT;
        yajl_val tree, result;

        if (answer_parse(j->out_buf.data, j->out_buf.len, "fleet job", &tree, &result, &err) < 0) {
                log_warn("app=%s: fleet: %s", a->name, err.data);
                buf_release(&err);
                return;
        }
        take_answer(a, result, read_start, now);
        yajl_tree_free(tree);
}

static void fleet_done(struct jobs *js, struct job *j)
{
        struct runtime *rt = runtime_of(js);
        struct app_rt *a = j->owner;
        struct buf why = BUF_INIT;
        uint64_t interval = rt->cfg->fleet_heartbeat_ms;

        a->fleet.job = false;
        if (!job_ok(j)) {
                job_describe_failure(j, &why);
                /* Once per run of failures: the bucket may be away for a while. */
                if (a->fleet.failures++ == 0)
                        log_warn("app=%s: fleet: %s; retrying every heartbeat", a->name, why.data);
                else
                        log_debug("app=%s: fleet: %s", a->name, why.data);
                buf_release(&why);
        } else {
                if (j->err_buf.len)
                        log_info("app=%s: fleet: %.*s", a->name,
                                 (int)strcspn(j->err_buf.data, "\n"), j->err_buf.data);
                if (a->fleet.failures)
                        log_info("app=%s: fleet: the rollout files are readable again", a->name);
                a->fleet.failures = 0;
                if (strcmp(j->what + strlen(j->what) - strlen(a->fleet.version),
                           a->fleet.version) == 0 &&
                    strlen(j->what) > strlen(a->fleet.version) &&
                    j->what[strlen(j->what) - strlen(a->fleet.version) - 1] == ' ')
                        parse_answer(a, j, a->fleet.job_started_ms, time_mono_ms());
        }
        a->fleet.next_job_ms = loop_now(&rt->loop) + interval;
        rt->loop.dirty = true;
}

static void start_job(struct runtime *rt, struct app_rt *a, const char *v)
{
        const char *reason;
        char ready_s[16], total_s[16], take_s[16], fp_s[24], what[128];
        int ready, total;
        enum fleet_slot_state st = my_state(a, v, &ready, &total, &reason);
        const char *args[] = { "__fleet", a->name, v, fleet_slot_state_to_string(st), ready_s,
                               total_s, take_s, fp_s, reason[0] ? reason : NULL, NULL };

        snprintf(ready_s, sizeof(ready_s), "%d", ready);
        snprintf(total_s, sizeof(total_s), "%d", total);
        snprintf(take_s, sizeof(take_s), "%d", a->fleet.gate.takeover);
        snprintf(fp_s, sizeof(fp_s), "%016" PRIx64, a->fleet.gate.takeover_fingerprint);
        snprintf(what, sizeof(what), "fleet %s %s", a->name, v);
        a->fleet.job_started_ms = time_mono_ms();
        if (job_start_self(&rt->jobs, what, args, rt->cfg->fleet_heartbeat_ms + 30000, fleet_done,
                           a, 0))
                a->fleet.job = true;
        else
                a->fleet.next_job_ms = loop_now(&rt->loop) + rt->cfg->fleet_heartbeat_ms;
}

const struct plan_fleet *fleet_tick(struct runtime *rt, struct app_rt *a, uint64_t *ret_deadline)
{
        struct fleet_rt *f = &a->fleet;
        const char *v = a->desired.release.version;
        uint64_t now = time_mono_ms();

        *ret_deadline = 0;
        if (!rt->cfg->has_fleet)
                return NULL;
        /* Pins are local (DESIGN §10): only a published version rolls out host by host. */
        if (a->desired.origin != DESIRED_SOURCE || !v[0])
                return NULL;
        if (strcmp(f->version, v) != 0) {
                bool job =
                        f->job; /* a job about the old version still runs: its answer is dropped */

                memset(f, 0, sizeof(*f));
                f->job = job;
                str_copy(f->version, sizeof(f->version), v);
                f->view.mine = -1;
                f->gate.takeover = -1;
        }
        fleet_gate_compute(&f->view, rt->cfg->fleet_stale_after_ms, rt->cfg->fleet_soak_ms,
                           rt->cfg->fleet_canaries, now, &f->gate);
        if (f->gate.decision == FLEET_FAILED && !f->ghosted) {
                char reason[REASON_MAX + 1];

                snprintf(reason, sizeof(reason), VERDICT_PREFIX "%.400s", f->view.verdict_reason);
                if (!ghosts_find(&a->ghosts, v))
                        exec_ghost(rt, a, v, reason);
                f->ghosted = true;
        }
        if (strcmp(f->plan.version, v) != 0 || f->plan.go != (f->gate.decision == FLEET_GO) ||
            strcmp(f->plan.reason, f->gate.reason) != 0) {
                struct buf path = BUF_INIT;
                int r;

                str_copy(f->plan.version, sizeof(f->plan.version), v);
                f->plan.go = f->gate.decision == FLEET_GO;
                str_copy(f->plan.reason, sizeof(f->plan.reason), f->gate.reason);
                /* For `plan` and `status`: what this daemon decided, not a guess. */
                path_fleet_turn(rt->cfg, a->name, &path);
                if ((r = fleet_turn_save(path.data, v, f->plan.go, f->plan.reason)) < 0)
                        log_errno(r, "app=%s: cannot write '%s'", a->name, path.data);
                else if (f->plan.reason[0])
                        log_info("app=%s version=%s fleet: %s", a->name, v, f->plan.reason);
                else
                        log_info("app=%s version=%s fleet: this host's turn", a->name, v);
                buf_release(&path);
        }

        /* A takeover runs at once; after a verdict was applied nothing more is read. */
        if (f->gate.takeover >= 0 && !f->job)
                f->next_job_ms = 0;
        if (!f->job && !f->ghosted && loop_now(&rt->loop) >= f->next_job_ms)
                start_job(rt, a, v);
        if (!f->job && !f->ghosted)
                *ret_deadline = f->next_job_ms;
        if (f->gate.wake_at_ms > now) {
                uint64_t wall = loop_now(&rt->loop) + (f->gate.wake_at_ms - now);
                if (!*ret_deadline || wall < *ret_deadline)
                        *ret_deadline = wall;
        }
        return &f->plan;
}
