/*
 * host_faults: the daemon's side of host faults (state/host_fault.h).
 *
 * A job that cannot start, or a state write that fails, because the host
 * ran out of something is not a release's failure.  host_faults_note()
 * records it: logged once per distinct cause (not once per attempt), kept in
 * run/host_fault.json for `status`, and it holds every new step for a
 * backoff (1 s doubling to 30 s) so that nothing busy-loops on it.  While a
 * fault lasts the planner holds rollbacks for a readiness timeout or
 * probation (plan_input.host_fault), and every deployment's rollback
 * deadline and probation window are moved on by the time the fault lasts
 * (at every tick, and at the start of a daemon that finds the file of one
 * that died mid-fault): the time the host was at fault does not count
 * against a release.  Once the host has been quiet for HOST_FAULT_QUIET_MS
 * the fault is cleared.
 *
 * Noting a fault needs only the runtime (runtime.h: the executor, the
 * supervisor and the child table note them); the tick and the resume
 * (host_faults.h) move every instance's deadlines through the daemon's loop
 * over its apps, handed in as extend_all: nothing here knows the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/core/backoff.h"
#include "reconciler/daemon/host_faults.h"
#include "reconciler/daemon/supervisor.h"
#include "base/log.h"
#include "state/paths.h"
#include "base/banned.h"

#define HOST_FAULT_RETRY_MS 1000
#define HOST_FAULT_RETRY_MAX_MS 30000
#define HOST_FAULT_QUIET_MS 30000

static void persist(struct runtime *rt)
{
        struct buf path = BUF_INIT;

        path_host_fault(rt->cfg, &path);
        /* On a full disk this fails too: the log line stands in for it. */
        if (rt->fault.err)
                (void)host_fault_save(path.data, &rt->fault);
        else
                (void)host_fault_clear(path.data);
        buf_release(&path);
}

bool host_faults_note(struct runtime *rt, int err, const char *what)
{
        struct host_fault *f = &rt->fault;
        uint64_t now = loop_now(&rt->loop);
        bool changed;

        if (!host_fault_errno(err))
                return false;
        /* The deadlines' own record writes (host_faults_extend) are no new attempt. */
        if (rt->fault_housekeeping && f->err)
                return true;
        err = err < 0 ? -err : err;
        changed = f->err != err || strncmp(f->what, what, strcspn(what, "'")) != 0;
        if (!f->err)
                f->since_ms = f->paused_to_ms = now;
        f->err = err;
        f->last_ms = now;
        f->count++;
        str_copy(f->what, sizeof(f->what), what);
        if (changed)
                log_err("host fault: %s: %s; holding new steps, never blaming a release "
                        "(retry with backoff; status shows it)", what, strerror(err));
        /* status sees the count grow without a write per attempt. */
        if (changed || (f->count & (f->count - 1)) == 0)
                persist(rt);
        rt->loop.dirty = true;
        return true;
}

bool host_faults_holding(const struct runtime *rt)
{
        return rt->fault.err && loop_now(&rt->loop) < host_faults_retry_at(rt);
}

uint64_t host_faults_retry_at(const struct runtime *rt)
{
        const struct host_fault *f = &rt->fault;

        if (!f->err)
                return 0;
        return f->last_ms + backoff_delay_ms(HOST_FAULT_RETRY_MS, HOST_FAULT_RETRY_MAX_MS,
                                             f->count);
}

/* The time the host was at fault does not count against a deployment. */
void host_faults_extend(struct runtime *rt, struct instance_rt *in, uint64_t by)
{
        if (!in || (!in->rec.deploy_started_at_ms && !in->rec.probation_started_at_ms))
                return;
        if (in->rec.deploy_started_at_ms)
                in->rec.deploy_started_at_ms += by;
        if (in->rec.probation_started_at_ms)
                in->rec.probation_started_at_ms += by;
        instance_save(rt, in);
}

uint64_t host_faults_tick(struct runtime *rt, host_faults_extend_fn extend_all)
{
        struct host_fault *f = &rt->fault;
        uint64_t now = loop_now(&rt->loop), quiet_at;

        if (!f->err)
                return 0;
        if (now > f->paused_to_ms) {
                /* Their failing record writes must not put the next retry off forever. */
                rt->fault_housekeeping = true;
                extend_all(rt, now - f->paused_to_ms);
                rt->fault_housekeeping = false;
                f->paused_to_ms = now;
                persist(rt);
        }
        quiet_at = f->last_ms + HOST_FAULT_QUIET_MS;
        if (now < quiet_at)
                return quiet_at;
        log_info("host fault cleared: %s: %s, %u failed attempts over %llu ms; rollback deadlines "
                 "were paused meanwhile", f->what, strerror(f->err), f->count,
                 (unsigned long long)(now - f->since_ms));
        memset(f, 0, sizeof(*f));
        persist(rt);
        rt->loop.dirty = true;
        return 0;
}

void host_faults_resume(struct runtime *rt, host_faults_extend_fn extend_all)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct host_fault f;
        uint64_t now = loop_now(&rt->loop);

        path_host_fault(rt->cfg, &path);
        if (host_fault_load(path.data, &f, &err) == 0) {
                uint64_t from = f.paused_to_ms ? f.paused_to_ms : f.since_ms;
                if (now > from)
                        extend_all(rt, now - from);
                log_warn("the previous daemon stopped during a host fault (%s, since %llu ms); "
                         "rollback deadlines moved on by %llu ms", f.what,
                         (unsigned long long)(now - f.since_ms),
                         (unsigned long long)(now > from ? now - from : 0));
                (void)host_fault_clear(path.data);
        }
        buf_release(&path);
        buf_release(&err);
}
