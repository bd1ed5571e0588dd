/*
 * metrics_textfile: when the configuration sets metrics_textfile, the daemon
 * rewrites that file every METRICS_TEXTFILE_MS for node_exporter's textfile
 * collector.  The file is rendered and written by a job (`deployex metrics
 * -o FILE`, atomically), never by the loop: reading every state file and
 * /proc is I/O the loop does not wait on.
 */
#include "reconciler/daemon/daemon.h"
#include "base/log.h"
#include "base/banned.h"

#define METRICS_TEXTFILE_MS 10000
#define METRICS_JOB_TIMEOUT_MS 15000

static void metrics_done(struct jobs *js, struct job *j)
{
        struct daemon *d = daemon_of_jobs(js);
        struct buf why = BUF_INIT;

        d->metrics_job = false;
        if (!job_ok(j)) {
                job_describe_failure(j, &why);
                log_warn("writing metrics_textfile failed: %s", why.data);
        }
        d->next_metrics_ms = daemon_now(d) + METRICS_TEXTFILE_MS;
        d->rt.loop.dirty = true; /* re-arm the timer for the next write */
        buf_release(&why);
}

uint64_t metrics_textfile_tick(struct daemon *d)
{
        const char *args[] = { "metrics", "-o", d->cfg.metrics_textfile, NULL };

        if (!d->cfg.metrics_textfile || d->metrics_job)
                return 0;
        if (daemon_now(d) < d->next_metrics_ms)
                return d->next_metrics_ms;
        if (job_start_self(&d->rt.jobs, "metrics", args, METRICS_JOB_TIMEOUT_MS, metrics_done, d,
                           0)) {
                d->metrics_job = true;
                return 0;
        }
        d->next_metrics_ms = daemon_now(d) + METRICS_TEXTFILE_MS;
        return d->next_metrics_ms;
}
