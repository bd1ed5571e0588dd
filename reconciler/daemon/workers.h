/*
 * workers: the daemon's long-lived children -- the poller of a remote
 * source (`__poller`), the OTP probe (`__otp --worker`) -- that keep
 * connections, tokens and credentials between rounds instead of costing a
 * process start each time.
 *
 * Each runs `deployex [-c CONFIG] ARGS...` (cli_exe, as jobs do) in its own
 * process group, as the daemon's user, and dies with the daemon
 * (PR_SET_PDEATHSIG); the daemon itself links none of its code.
 * It is supervised like an instance: when it exits without being asked,
 * the reason (status and last stderr line) is logged and it is started again
 * after min(1 s * 2^(k-1), 60 s), k counting exits in a row; k resets once
 * a run lasted WORKER_STABLE_MS.  Its stdout is read line by line, each
 * line one answer (reconciler/jobs/answer.h) whose VALUE is handed to the
 * owner's callback; stderr's tail explains a death.
 *
 * worker_want() is called on every reconcile pass with the worker's
 * arguments and a key naming what it was started for (the settings it
 * reads): a different key (a config reload) kills the running one and
 * starts the new one at once.
 */
#ifndef DEPLOYEX_WORKERS_H
#define DEPLOYEX_WORKERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <yajl/yajl_tree.h>

#include "reconciler/daemon/runtime.h"

#define WORKER_BACKOFF_INITIAL_MS 1000
#define WORKER_BACKOFF_MAX_MS 60000
#define WORKER_STABLE_MS 60000

struct worker;
/* result: the VALUE of one answer, valid during the call; ctx as given to worker_want. */
typedef void (*worker_answer_fn)(void *ctx, yajl_val result);

/*
 * The workers of one daemon.  They run rt->cli_exe with the -c CONFIG its
 * jobs get (rt->jobs.config), and their pipes sit in rt->loop: the runtime
 * is all they know of the daemon.  Ownership: the table owns its workers.
 */
struct workers {
        struct worker *list;
        struct runtime *rt;
};

/* Keep worker name running with args (NULL-terminated) for key; start it when due. */
void worker_want(struct workers *ws, const char *name, const char *const *args, const char *key,
                 worker_answer_fn on_answer, void *ctx);
/* Stop worker name (SIGKILL to its group) and do not restart it. */
void worker_unwant(struct workers *ws, const char *name);
/* The pid of worker name, 0 when none runs (tests, status). */
pid_t worker_pid(const struct workers *ws, const char *name);
/* true when pid was a worker: its restart is scheduled. */
bool worker_reap(struct workers *ws, pid_t pid, int wstatus);
/* Start the wanted workers that are due; the next restart deadline (0: none). */
uint64_t workers_tick(struct workers *ws);
/* The daemon exits: kill every worker and forget them. */
void workers_kill_all(struct workers *ws);

#endif
