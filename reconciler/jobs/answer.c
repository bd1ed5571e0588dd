/*
 * answer: {"result": VALUE}, written by a hook job, read by the daemon
 * (answer.h).
 */
#include <errno.h>
#include <string.h>

#include "reconciler/jobs/answer.h"
#include "state/json.h"
#include "base/banned.h"

#define ANSWER_KEY "result"

void answer_true(struct buf *out)
{
        buf_puts(out, "{\"" ANSWER_KEY "\":true}");
}

void answer_string(struct buf *out, const char *value)
{
        yajl_gen g = json_gen_new(out);

        answer_gen_open(g);
        json_gen_str(g, value);
        answer_gen_close(g);
        yajl_gen_free(g);
}

void answer_gen_open(yajl_gen g)
{
        yajl_gen_map_open(g);
        json_gen_str(g, ANSWER_KEY);
}

void answer_gen_close(yajl_gen g)
{
        yajl_gen_map_close(g);
}

int answer_parse(const char *text, size_t len, const char *what, yajl_val *ret_tree,
                 yajl_val *ret_result, struct buf *err)
{
        yajl_val tree = NULL, result;

        if (json_parse(text ? text : "", text ? len : 0, what, &tree, err) < 0)
                return -EINVAL;
        result = YAJL_IS_OBJECT(tree) ? json_get(tree, ANSWER_KEY) : NULL;
        if (!result) {
                buf_printf(err, "%s: the answer has no \"" ANSWER_KEY "\"", what);
                yajl_tree_free(tree);
                return -EINVAL;
        }
        *ret_tree = tree;
        *ret_result = result;
        return 0;
}

bool answer_is(yajl_val result, const char *value)
{
        return YAJL_IS_STRING(result) && strcmp(result->u.string, value) == 0;
}
