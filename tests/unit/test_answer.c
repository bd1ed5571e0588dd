/*
 * answer: the one format of a job's answer, as a job writes it and as the
 * daemon reads it (reconciler/jobs/answer.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "reconciler/jobs/answer.h"
#include "state/json.h"
#include "base/banned.h"

/* What a job prints on stdout, read back from a pipe. */
static void printed(struct answer_object *a, struct buf *out)
{
        char chunk[4096];
        int fds[2], saved;
        ssize_t n;

        assert_int_equal(pipe(fds), 0);
        saved = dup(STDOUT_FILENO);
        assert_true(saved >= 0);
        assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
        close(fds[1]);
        assert_int_equal(answer_object_end(a), 0);
        assert_true(dup2(saved, STDOUT_FILENO) >= 0);
        close(saved);
        while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
                buf_append(out, chunk, (size_t)n);
        close(fds[0]);
}

/* An object answer is one line the daemon's parser takes back, member by member. */
static void test_object_round_trip(void **state)
{
        struct buf out = BUF_INIT, err = BUF_INIT;
        struct answer_object a;
        yajl_val tree, result;
        long long n = 0;
        yajl_gen g;

        (void)state;
        g = answer_object_begin(&a);
        json_gen_kv_str(g, "app", "demo");
        json_gen_kv_str(g, "error", "a reason\nover two lines");
        json_gen_kv_int(g, "round_ms", -7);
        printed(&a, &out);
        assert_non_null(memchr(out.data, '\n', out.len));
        assert_ptr_equal(strchr(out.data, '\n'), out.data + out.len - 1); /* one line */
        assert_int_equal(answer_parse(out.data, out.len, "test job", &tree, &result, &err), 0);
        assert_string_equal(answer_str(result, "app"), "demo");
        assert_string_equal(answer_str(result, "error"), "a reason\nover two lines");
        assert_null(answer_str(result, "round_ms")); /* not a string */
        assert_null(answer_str(result, "missing"));
        assert_true(answer_int(result, "round_ms", &n));
        assert_int_equal(n, -7);
        assert_false(answer_int(result, "app", &n)); /* not an integer */
        assert_int_equal(n, -7);                     /* untouched */
        yajl_tree_free(tree);
        buf_release(&out);
        buf_release(&err);
}

/* What is not an answer is refused with the job's name, never half-read. */
static void test_not_an_answer(void **state)
{
        static const struct {
                const char *text, *why;
        } cases[] = {
                { "", "poller" },
                { "demo ok 1.0.0", "poller" },
                { "{\"slots\": []}", "poller: the answer has no \"result\"" },
                { "[1, 2]", "poller: the answer has no \"result\"" },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct buf err = BUF_INIT;
                yajl_val tree = NULL, result = NULL;

                assert_int_equal(answer_parse(cases[i].text, strlen(cases[i].text), "poller", &tree,
                                              &result, &err),
                                 -EINVAL);
                assert_null(tree);
                assert_non_null(strstr(err.data, cases[i].why));
                buf_release(&err);
        }
}

/* The hook jobs' scalar answers read back the same way. */
static void test_scalar_answers(void **state)
{
        struct buf out = BUF_INIT, err = BUF_INIT;
        yajl_val tree, result;

        (void)state;
        answer_string(&out, ANSWER_HOT);
        assert_int_equal(answer_parse(out.data, out.len, "upgrade_kind", &tree, &result, &err), 0);
        assert_true(answer_is(result, ANSWER_HOT));
        assert_false(answer_is(result, ANSWER_FULL));
        yajl_tree_free(tree);
        buf_reset(&out);
        answer_true(&out);
        assert_int_equal(answer_parse(out.data, out.len, "health", &tree, &result, &err), 0);
        assert_true(YAJL_IS_TRUE(result));
        assert_false(answer_is(result, ANSWER_HOT));
        yajl_tree_free(tree);
        buf_release(&out);
        buf_release(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_object_round_trip),
                cmocka_unit_test(test_not_an_answer),
                cmocka_unit_test(test_scalar_answers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
