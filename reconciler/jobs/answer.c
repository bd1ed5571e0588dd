/*
 * answer: {"result": VALUE}, written by a job, read by the daemon
 * (answer.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/jobs/answer.h"
#include "base/fsutil.h"
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

int answer_print(const struct buf *out)
{
        int r;

        /* Whatever stdio still holds goes first: the answer is the last line. */
        if (fflush(stdout) == EOF)
                return -EPIPE;
        r = write_all(STDOUT_FILENO, out->data, out->len, NULL);
        return r < 0 ? r : write_all(STDOUT_FILENO, "\n", 1, NULL);
}

yajl_gen answer_object_begin(struct answer_object *a)
{
        buf_init(&a->out);
        a->g = json_gen_new(&a->out);
        answer_gen_open(a->g);
        yajl_gen_map_open(a->g);
        return a->g;
}

int answer_object_end(struct answer_object *a)
{
        int r;

        yajl_gen_map_close(a->g);
        answer_gen_close(a->g);
        yajl_gen_free(a->g);
        r = answer_print(&a->out);
        buf_release(&a->out);
        return r;
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

const char *answer_str(yajl_val obj, const char *key)
{
        yajl_val v = json_get(obj, key);

        return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

bool answer_int(yajl_val obj, const char *key, long long *ret)
{
        yajl_val v = json_get(obj, key);

        if (!YAJL_IS_INTEGER(v))
                return false;
        *ret = YAJL_GET_INTEGER(v);
        return true;
}
