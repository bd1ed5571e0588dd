/*
 * notify_job: with "notify" targets or an app's "watchdog" configured, the
 * daemon runs `deployex __notify` (jobs/notify.c) one at a time, NOTIFY_JOB_MS
 * after the last one ended: it queues events from the state files, delivers
 * due webhooks and checks the watchdogs -- network and thresholds out of the
 * loop.  What the job answered (deliveries, watchdog crossings) is logged.
 */
#include <string.h>

#include "reconciler/daemon/host_jobs.h"
#include "reconciler/jobs/answer.h"
#include "state/json.h"
#include "base/log.h"
#include "base/banned.h"

#define NOTIFY_JOB_MS 1000
/* Each delivery has its own timeout (webhook.h); a queue of slow receivers ends here. */
#define NOTIFY_JOB_TIMEOUT_MS 120000

static bool wanted(const struct config *c)
{
        if (c->nnotify > 0)
                return true;
        for (size_t i = 0; i < c->napps; i++)
                if (c->apps[i].watchdog.set)
                        return true;
        return false;
}

/* One line per delivery, failure or watchdog crossing: also from a job that then failed. */
static void log_answer(const struct job *j)
{
        struct buf err = BUF_INIT;
        yajl_val tree, result, lines;

        if (j->out_buf.len == 0)
                return; /* it failed before answering: its failure says why */
        if (answer_parse(j->out_buf.data, j->out_buf.len, "notify job", &tree, &result, &err) < 0) {
                log_warn("%s", err.data);
                buf_release(&err);
                return;
        }
        lines = json_get(result, "lines");
        for (size_t i = 0; YAJL_IS_ARRAY(lines) && i < lines->u.array.len; i++)
                if (YAJL_IS_STRING(lines->u.array.values[i]))
                        log_info("%s", lines->u.array.values[i]->u.string);
        yajl_tree_free(tree);
}

static void notify_done(struct jobs *js, struct job *j)
{
        struct runtime *rt = runtime_of(js);
        struct host_job *hj = j->owner;
        struct buf why = BUF_INIT;

        hj->running = false;
        log_answer(j);
        if (!job_ok(j)) {
                job_describe_failure(j, &why);
                log_warn("the notify job failed: %s", why.data);
        }
        hj->next_ms = loop_now(&rt->loop) + NOTIFY_JOB_MS;
        rt->loop.dirty = true;
        buf_release(&why);
}

uint64_t notify_job_tick(struct runtime *rt, struct host_job *hj)
{
        const char *args[] = { "__notify", NULL };

        if (!wanted(rt->cfg) || hj->running)
                return 0;
        if (loop_now(&rt->loop) < hj->next_ms)
                return hj->next_ms;
        if (job_start_self(&rt->jobs, "notify", args, NOTIFY_JOB_TIMEOUT_MS, notify_done, hj, 0)) {
                hj->running = true;
                return 0;
        }
        hj->next_ms = loop_now(&rt->loop) + NOTIFY_JOB_MS;
        return hj->next_ms;
}
