/*
 * host_jobs: the jobs the daemon runs for the whole host, one at a time and
 * again a while after the last one ended: the metrics textfile
 * (metrics_textfile.c, `deployex metrics -o FILE`) and the notify job
 * (notify_job.c, `deployex __notify`: webhooks and watchdogs).
 *
 * Each is given the runtime (runtime.h: the configuration, the child table,
 * the loop) and its own small state, never the daemon, which keeps one
 * struct host_job per kind and arms its timer for the deadline returned.
 */
#ifndef DEPLOYEX_HOST_JOBS_H
#define DEPLOYEX_HOST_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "reconciler/daemon/runtime.h"

struct host_job {
        bool running;                        /* its job is in flight */
        uint64_t next_ms;                    /* wall clock: when it runs again */
};

/* metrics_textfile.c: start the job when due; the next deadline (0: none). */
uint64_t metrics_textfile_tick(struct runtime *rt, struct host_job *hj);
/* notify_job.c: the same for the notify job. */
uint64_t notify_job_tick(struct runtime *rt, struct host_job *hj);

#endif
