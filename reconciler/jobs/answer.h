/*
 * answer: the one format of a job's answer, written by the job (a hidden
 * command the daemon runs, reconciler/jobs, __fleet in cmd/rollout.c, __otp
 * in cmd/rpc.c) and read by the daemon:
 *
 *     {"result": VALUE}            on stdout, one line
 *
 * A job answers once, as it ends with exit status 0; a worker (the daemon's
 * long-lived children, workers.h) answers once per event, a line each.
 * VALUE, per job:
 *
 *   __hook      what the hook function answered: true for the hooks that
 *               only succeed or fail (preflight, pre_commands, hot_upgrade,
 *               health), "hot" or "full" for upgrade_kind,
 *               {"argv": [...], "envp": [...], "cwd": "..."} for start
 *   __ready     {"healthy_ms": N, "ready_ms": N, "cpu_ms": N}: when the node
 *               was first healthy, when it was ready, since the check began
 *   __fleet     {"mine": K, "verdict": null | {"by": HOST, "reason": WHY},
 *                "slots": [{"slot": K, "state": STATE, "ready": N, "total": N,
 *                           "beat": N, "fingerprint": "HEX16", "host": HOST}]}
 *   __notify    {"lines": [LINE, ...]}: what to log (deliveries, failures,
 *               watchdog crossings); the one job that answers even when it
 *               then fails, since what it delivered was delivered
 *   __poller    {"app": APP, "event": "ok" | "changed", "version": V} or
 *               {"app": APP, "event": "error", "error": WHY}
 *   __otp --worker  {"round_ms": N, "open": N, "new": N}
 *   __fetch     {"path": CACHED_FILE, "sha256": HEX | null}: the sha256 the
 *               file was verified against (null: current.json gives none)
 *
 * __unpack and `metrics -o` answer by their exit status alone: the daemon
 * reads nothing on their stdout.
 *
 * A failure is no answer: a non-zero exit status and the reason on the last
 * line of stderr ("STAGE: why" when a hook named its stage).  The status is
 * JOB_EXIT_LOCAL when the failure is this host's, not the release's (__unpack:
 * a full disk; __hook: the hooks files cannot be loaded, the cookie cannot be
 * read): the daemon defers the deployment and retries it, nothing is ghosted.
 *
 * The daemon parses every answer with answer_parse(); nothing looks into a
 * job's stdout by other means.
 */
#ifndef DEPLOYEX_ANSWER_H
#define DEPLOYEX_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "base/util.h"

/* EX_TEMPFAIL: this host failed, not the release (see above). */
#define JOB_EXIT_LOCAL 75

#define ANSWER_HOT "hot"
#define ANSWER_FULL "full"
/* on_event's answer when the hooks define no on_event (the daemon then skips its jobs). */
#define ANSWER_UNDEFINED "undefined"

/* The job's side: {"result": true} or {"result": "VALUE"} into out. */
void answer_true(struct buf *out);
void answer_string(struct buf *out, const char *value);
/* For a structured VALUE: opens {"result": ; the caller generates VALUE, then answer_gen_close. */
void answer_gen_open(yajl_gen g);
void answer_gen_close(yajl_gen g);
/*
 * The answer in out and its newline to stdout, at once (a worker's daemon
 * reads it while the worker lives on): 0, or -errno when the daemon stopped
 * reading.
 */
int answer_print(const struct buf *out);
/*
 * An object VALUE printed at once: answer_object_begin() opens
 * {"result": { and returns the generator for the caller's members;
 * answer_object_end() closes it, prints it (answer_print) and frees it.
 */
struct answer_object {
        struct buf out;
        yajl_gen g;
};
yajl_gen answer_object_begin(struct answer_object *a);
int answer_object_end(struct answer_object *a);

/*
 * The daemon's side: the answer in text (a job's stdout, or one line of a
 * worker's) of the job `what`.  0 with *ret_tree (free with yajl_tree_free)
 * and *ret_result (inside it), or -EINVAL with why in err ("WHAT: the answer
 * is not ...").
 */
int answer_parse(const char *text, size_t len, const char *what, yajl_val *ret_tree,
                 yajl_val *ret_result, struct buf *err);
/* true when result is the string value. */
bool answer_is(yajl_val result, const char *value);
/* The member key of an object VALUE when it is a string, else NULL. */
const char *answer_str(yajl_val obj, const char *key);
/* The member key of an object VALUE into *ret when it is an integer: true; else false. */
bool answer_int(yajl_val obj, const char *key, long long *ret);

#endif
