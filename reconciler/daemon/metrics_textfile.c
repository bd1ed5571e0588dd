/*
 * metrics_textfile: when the configuration sets metrics_textfile, the daemon
 * rewrites that file every METRICS_TEXTFILE_MS for node_exporter's textfile
 * collector.  The file is rendered and written by a job (`deployex metrics
 * -o FILE`, atomically), never by the loop: reading every state file and
 * /proc is I/O the loop does not wait on.
 */
#include "reconciler/daemon/host_jobs.h"
#include "base/log.h"
#include "base/banned.h"

#define METRICS_TEXTFILE_MS 10000
#define METRICS_JOB_TIMEOUT_MS 15000

static void metrics_done(struct jobs *js, struct job *j)
{
        struct runtime *rt = runtime_of(js);
        struct host_job *hj = j->owner;
        struct buf why = BUF_INIT;

        hj->running = false;
        if (!job_ok(j)) {
                job_describe_failure(j, &why);
                log_warn("writing metrics_textfile failed: %s", why.data);
        }
        hj->next_ms = loop_now(&rt->loop) + METRICS_TEXTFILE_MS;
        rt->loop.dirty = true; /* re-arm the timer for the next write */
        buf_release(&why);
}

uint64_t metrics_textfile_tick(struct runtime *rt, struct host_job *hj)
{
        const char *args[] = { "metrics", "-o", rt->cfg->metrics_textfile, NULL };

        if (!rt->cfg->metrics_textfile || hj->running)
                return 0;
        if (loop_now(&rt->loop) < hj->next_ms)
                return hj->next_ms;
        if (job_start_self(&rt->jobs, "metrics", args, METRICS_JOB_TIMEOUT_MS, metrics_done, hj,
                           0)) {
                hj->running = true;
                return 0;
        }
        hj->next_ms = loop_now(&rt->loop) + METRICS_TEXTFILE_MS;
        return hj->next_ms;
}
