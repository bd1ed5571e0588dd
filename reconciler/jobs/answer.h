/*
 * answer: the one format of a hook job's answer (`__hook`, jobs.c), written
 * by the job and read by the daemon (supervisor.c, executor.c).
 *
 *     {"result": VALUE}            on stdout, one line, exit status 0
 *
 * VALUE is what the hook function answered: true for the hooks that only
 * succeed or fail (preflight, pre_commands, hot_upgrade, health), "hot" or
 * "full" for upgrade_kind, {"argv": [...], "envp": [...], "cwd": "..."} for
 * start.  A failure is no answer: a non-zero exit status and the reason on
 * the last line of stderr ("STAGE: why" when the hook named its stage).
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

#define ANSWER_HOT "hot"
#define ANSWER_FULL "full"

/* The job's side: {"result": true} or {"result": "VALUE"} into out. */
void answer_true(struct buf *out);
void answer_string(struct buf *out, const char *value);
/* For a structured VALUE: opens {"result": ; the caller generates VALUE, then answer_gen_close. */
void answer_gen_open(yajl_gen g);
void answer_gen_close(yajl_gen g);

/*
 * The daemon's side: the answer in text (a job's stdout) of the job `what`.
 * 0 with *ret_tree (free with yajl_tree_free) and *ret_result (inside it), or
 * -EINVAL with why in err ("WHAT: the answer is not ...").
 */
int answer_parse(const char *text, size_t len, const char *what, yajl_val *ret_tree,
                 yajl_val *ret_result, struct buf *err);
/* true when result is the string value. */
bool answer_is(yajl_val result, const char *value);

#endif
