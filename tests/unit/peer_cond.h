/*
 * peer_cond: the conditional writes of bucket_put.h (DESIGN §10) against a
 * test peer, shared by test_bucket_s3_peer and test_bucket_gcs_peer.
 * Include after cmocka.h and peer_util.h.  Header-only.
 */
#ifndef DEPLOYEX_TEST_PEER_COND_H
#define DEPLOYEX_TEST_PEER_COND_H

#include "buckets/bucket_put.h"

#define COND_FOLDER "rollout/myapp/prod"
#define COND_KEY COND_FOLDER "/1.0.0/slot-001.json"

/*
 * Create-if-absent once only; read returns the tag; replace with the tag
 * read, not with an older one; list and delete.
 */
static inline void peer_check_conditional_writes(const struct config *c)
{
        struct bucket_put *bp = NULL;
        struct buf err = BUF_INIT, body = BUF_INIT, names = BUF_INIT;
        char t1[BUCKET_TAG_MAX + 1], t2[BUCKET_TAG_MAX + 1], t3[BUCKET_TAG_MAX + 1], got[BUCKET_TAG_MAX + 1];

        assert_int_equal(bucket_put_open(c, &bp, &err), 0);
        assert_int_equal(bucket_get_object(bp, COND_KEY, 4096, &body, got, &err), -ENOENT);
        assert_int_equal(bucket_put_object_if(bp, COND_KEY, "one", 3, "application/json",
                                              BUCKET_IF_ABSENT, NULL, t1, &err), 0);
        assert_true(t1[0]);
        /* A second creator loses the race. */
        assert_int_equal(bucket_put_object_if(bp, COND_KEY, "two", 3, "application/json",
                                              BUCKET_IF_ABSENT, NULL, t2, &err), -ESTALE);
        assert_int_equal(bucket_get_object(bp, COND_KEY, 4096, &body, got, &err), 0);
        assert_int_equal(body.len, 3);
        assert_memory_equal(body.data, "one", 3);
        assert_string_equal(got, t1);
        /* Compare-and-swap on the tag read. */
        assert_int_equal(bucket_put_object_if(bp, COND_KEY, "three", 5, "application/json",
                                              BUCKET_IF_MATCH, t1, t2, &err), 0);
        assert_true(t2[0]);
        assert_string_not_equal(t1, t2);
        /* A writer still holding the old tag loses. */
        assert_int_equal(bucket_put_object_if(bp, COND_KEY, "four", 4, "application/json",
                                              BUCKET_IF_MATCH, t1, t3, &err), -ESTALE);
        assert_int_equal(bucket_get_object(bp, COND_KEY, 4096, &body, got, &err), 0);
        assert_int_equal(body.len, 5);
        assert_memory_equal(body.data, "three", 5);
        assert_string_equal(got, t2);
        /* The folder listing names the version's folder; delete empties it. */
        assert_int_equal(bucket_list_folder(bp, COND_FOLDER, &names, &err), 0);
        assert_string_equal(names.data, "1.0.0\n");
        buf_reset(&names);
        assert_int_equal(bucket_list_folder(bp, COND_FOLDER "/1.0.0", &names, &err), 0);
        assert_string_equal(names.data, "slot-001.json\n");
        assert_int_equal(bucket_delete_object(bp, COND_KEY, &err), 0);
        assert_int_equal(bucket_get_object(bp, COND_KEY, 4096, &body, got, &err), -ENOENT);
        assert_int_equal(bucket_delete_object(bp, COND_KEY, &err), 0); /* absent: fine */
        bucket_put_free(bp);
        buf_release(&err);
        buf_release(&body);
        buf_release(&names);
}

#endif
