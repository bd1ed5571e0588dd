/*
 * Peer test: the s3:// source end to end against s3rver behind the
 * SigV4-verifying front (tests/peers/peers.js s3), and the IMDSv2 step of the
 * credential chain against the aws peer.  Run by
 * tests/integration/bucket_s3.sh, which starts the peers and exports:
 *
 *   DEPLOYEX_TEST_S3_ENDPOINT  the verifying front     DEPLOYEX_TEST_S3_LOG  its request log
 *   DEPLOYEX_TEST_S3_BACKEND   s3rver itself (publish) DEPLOYEX_TEST_ROOT    a scratch dir
 *   DEPLOYEX_TEST_IMDS_ENDPOINT the IMDSv2 peer         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 *
 * Exits 77 (a skip) when they are unset.  The tests run in order and build on each other
 * (publish, poll, republish, break things, recover), like a daemon's life.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/peer_util.h"
#include "tests/unit/peer_cond.h"
#include "buckets/aws_sigv4.h"
#include "reconciler/shared/desired_load.h"
#include "state/paths.h"
#include "buckets/release_fetch.h"
#include "buckets/source.h"

#include "base/banned.h"

#define SOURCE "s3://releases/team a"
#define KEY_PREFIX "/releases/team%20a"
#define TARBALL_BYTES (300 * 1024)

static struct peer_config pc;
static struct source *src;
static char *tarball;
static char tar_sha[65];

static void publish(const char *rel, const void *data, size_t len)
{
        const char *headers[] = { "x-amz-content-sha256: UNSIGNED-PAYLOAD", NULL };
        struct buf url = BUF_INIT;

        buf_printf(&url, "%s%s/%s", getenv("DEPLOYEX_TEST_S3_BACKEND"), KEY_PREFIX, rel);
        assert_int_equal(peer_http("PUT", url.data, data, len, headers), 200);
        buf_release(&url);
}

static void publish_current(const char *version, const char *sha)
{
        struct buf text = BUF_INIT;

        buf_printf(&text, "{\"version\": \"%s\", \"hash\": \"h-%s\"%s%s%s}", version, version,
                   sha ? ", \"sha256\": \"" : "", sha ? sha : "", sha ? "\"" : "");
        publish("versions/myapp/prod/current.json", text.data, text.len);
        buf_release(&text);
}

static void publish_tarball(const char *version, const void *data, size_t len)
{
        struct buf rel = BUF_INIT;

        buf_printf(&rel, "dist/myapp/myapp-%s.tar.gz", version);
        publish(rel.data, data, len);
        buf_release(&rel);
}

static int current_requests(const char *status)
{
        return peer_log_count(getenv("DEPLOYEX_TEST_S3_LOG"), "\"GET\"",
                              KEY_PREFIX "/versions/myapp/prod/current.json", status, NULL);
}

/* desired_load as the daemon calls it (persist), into a fresh struct. */
static void load(struct source *s, struct desired *d)
{
        desired_release(d);
        assert_int_equal(desired_load(&pc.c, &pc.app, s, NULL, true, d), 0);
}

static int group_setup(void **state)
{
        struct buf err = BUF_INIT;

        (void)state;
        if (!getenv("DEPLOYEX_TEST_S3_ENDPOINT") || !getenv("DEPLOYEX_TEST_ROOT"))
                return 0;
        peer_config_init(&pc, getenv("DEPLOYEX_TEST_ROOT"), SOURCE);
        pc.c.s3_endpoint = getenv("DEPLOYEX_TEST_S3_ENDPOINT");
        pc.c.aws_region = "us-east-1";
        if (source_open(&pc.c, &src, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                return -1;
        }
        tarball = xmalloc(TARBALL_BYTES);
        for (size_t i = 0; i < TARBALL_BYTES; i++)
                tarball[i] = (char)((i * 2654435761u) >> 13);
        aws_sha256_hex(tarball, TARBALL_BYTES, tar_sha);
        buf_release(&err);
        return 0;
}

static int group_teardown(void **state)
{
        (void)state;
        source_free(src);
        free(tarball);
        if (pc.var.cap)
                peer_config_release(&pc);
        return 0;
}

static void test_publish_then_desired(void **state)
{
        struct desired d;
        struct buf path = BUF_INIT, text = BUF_INIT;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_S3_ENDPOINT");
        desired_init(&d);
        publish_tarball("1.0.0", tarball, TARBALL_BYTES);
        publish_current("1.0.0", tar_sha);
        load(src, &d);
        assert_null(d.error);
        assert_int_equal(d.origin, DESIRED_SOURCE);
        assert_string_equal(d.release.version, "1.0.0");
        assert_string_equal(d.release.sha256, tar_sha);
        /* The daemon's memory of it, with the ETag, survives a restart. */
        path_desired(&pc.c, "myapp", &path);
        assert_int_equal(file_read_all(path.data, 65536, &text), 0);
        assert_non_null(strstr(text.data, "\"version\":\"1.0.0\""));
        assert_non_null(strstr(text.data, "\"etag\":\"\\\""));
        desired_release(&d);
        buf_release(&path);
        buf_release(&text);
}

/* An unchanged current.json costs one conditional GET answered 304, nothing else. */
static void test_unchanged_poll_is_304(void **state)
{
        struct desired d;
        int before;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_S3_ENDPOINT");
        desired_init(&d);
        before = current_requests("\"status\":304");
        load(src, &d);
        load(src, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.0.0");
        assert_int_equal(current_requests("\"status\":304"), before + 2);
        assert_int_equal(peer_log_count(getenv("DEPLOYEX_TEST_S3_LOG"), "\"status\":304",
                                        "\"inm\":\"\\\"", NULL), before + 2);
        desired_release(&d);
}

static void test_republish(void **state)
{
        struct desired d;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_S3_ENDPOINT");
        desired_init(&d);
        publish_tarball("1.0.1", tarball, TARBALL_BYTES);
        publish_current("1.0.1", tar_sha);
        load(src, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.0.1");
        assert_string_equal(d.release.hash, "h-1.0.1");
        desired_release(&d);
}

/* A wrong secret is refused by the peer; the error says so; 1.0.1 stays desired. */
static void test_wrong_secret_keeps_last_good(void **state)
{
        char *good = xstrdup(PEER_ENV("AWS_SECRET_ACCESS_KEY"));
        struct desired d;
        struct source *s2;
        struct buf err = BUF_INIT;

        (void)state;
        desired_init(&d);
        publish_current("1.0.2", tar_sha);
        setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
        assert_int_equal(source_open(&pc.c, &s2, &err), 0);
        load(s2, &d);
        assert_non_null(d.error);
        assert_non_null(strstr(d.error, "HTTP 403 (SignatureDoesNotMatch"));
        assert_non_null(strstr(d.error, "s3://releases/team a/versions/myapp/prod/current.json"));
        assert_null(strstr(d.error, "not-the-secret"));
        assert_string_equal(d.release.version, "1.0.1");
        source_free(s2);
        setenv("AWS_SECRET_ACCESS_KEY", good, 1);
        /* Back with the right key: the new version arrives. */
        load(src, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.0.2");
        publish_current("1.0.1", tar_sha);
        load(src, &d);
        assert_string_equal(d.release.version, "1.0.1");
        free(good);
        desired_release(&d);
        buf_release(&err);
}

/* Bucket down (nobody listening), then a 503: errors, last good kept, also across a restart. */
static void test_outage_keeps_last_good(void **state)
{
        struct config dead;
        struct source *s2;
        struct desired d;
        struct buf err = BUF_INIT;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_S3_ENDPOINT");
        desired_init(&d);
        dead = pc.c;
        dead.s3_endpoint = "http://127.0.0.1:1";
        assert_int_equal(source_open(&dead, &s2, &err), 0);
        load(s2, &d);
        assert_non_null(d.error);
        assert_non_null(strstr(d.error, "s3://releases/team a/versions/myapp/prod/current.json: GET http://127.0.0.1:1/"));
        assert_string_equal(d.release.version, "1.0.1");
        source_free(s2);

        {
                struct buf url = BUF_INIT;
                buf_printf(&url, "%s/__admin/fail?status=503&count=1", getenv("DEPLOYEX_TEST_S3_ENDPOINT"));
                assert_int_equal(peer_http("POST", url.data, "", 0, NULL), 204);
                buf_release(&url);
        }
        load(src, &d);
        assert_non_null(d.error);
        assert_non_null(strstr(d.error, "HTTP 503"));
        assert_string_equal(d.release.version, "1.0.1");

        /* A restart while the bucket is unreachable: state/myapp/desired.json carries on. */
        load(NULL, &d);
        assert_string_equal(d.release.version, "1.0.1");
        assert_string_equal(d.release.sha256, tar_sha);
        desired_release(&d);
        buf_release(&err);
}

/* N replicas, one download; the cache holds the verified tarball. */
static void test_fetch_once_per_version(void **state)
{
        struct release_desc r;
        struct buf path = BUF_INIT, err = BUF_INIT;
        char sha[65];

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_S3_ENDPOINT");
        memset(&r, 0, sizeof(r));
        str_copy(r.version, sizeof(r.version), "1.0.1");
        str_copy(r.sha256, sizeof(r.sha256), tar_sha);
        assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), RELEASE_FETCH_DOWNLOADED);
        for (int replica = 2; replica <= 3; replica++)
                assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), RELEASE_FETCH_CACHED);
        assert_int_equal(release_file_sha256(path.data, sha), 0);
        assert_string_equal(sha, tar_sha);
        assert_int_equal(peer_log_count(getenv("DEPLOYEX_TEST_S3_LOG"), "\"GET\"",
                                        KEY_PREFIX "/dist/myapp/myapp-1.0.1.tar.gz", "\"status\":200", NULL), 1);
        buf_release(&path);
        buf_release(&err);
}

static void test_fetch_refusals(void **state)
{
        struct release_desc r;
        struct buf path = BUF_INIT, err = BUF_INIT, cached = BUF_INIT;
        char *evil;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_S3_ENDPOINT");
        evil = xmalloc(TARBALL_BYTES);
        memcpy(evil, tarball, TARBALL_BYTES);
        evil[1000] ^= 1;
        publish_tarball("2.0.0", evil, TARBALL_BYTES);
        memset(&r, 0, sizeof(r));
        str_copy(r.version, sizeof(r.version), "2.0.0");
        str_copy(r.sha256, sizeof(r.sha256), tar_sha);

        /* Tampered in the bucket: refused, nothing cached. */
        assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), -EBADMSG);
        assert_non_null(strstr(err.data, "sha256 mismatch"));
        path_cache_file(&pc.c, "myapp", "2.0.0", &cached);
        assert_int_equal(access(cached.data, F_OK), -1);

        /* Over the size cap: refused, nothing cached. */
        pc.c.max_release_bytes = TARBALL_BYTES / 2;
        buf_reset(&err);
        r.sha256[0] = '\0';
        assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), -EFBIG);
        assert_int_equal(access(cached.data, F_OK), -1);
        pc.c.max_release_bytes = 64 * 1024 * 1024;

        /* Not in the bucket. */
        str_copy(r.version, sizeof(r.version), "3.0.0");
        buf_reset(&err);
        assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), -ENOENT);
        assert_non_null(strstr(err.data, "dist/myapp/myapp-3.0.0.tar.gz"));
        free(evil);
        buf_release(&path);
        buf_release(&err);
        buf_release(&cached);
}

/* No key in the environment or a file: IMDSv2 hands out temporary credentials with a token. */
static void test_imds_credentials(void **state)
{
        char *id = xstrdup(PEER_ENV("AWS_ACCESS_KEY_ID"));
        char *secret = xstrdup(PEER_ENV("AWS_SECRET_ACCESS_KEY"));
        struct source *s2;
        struct desired d;
        struct buf err = BUF_INIT;

        (void)state;
        desired_init(&d);
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        setenv("HOME", getenv("DEPLOYEX_TEST_ROOT"), 1);
        unsetenv("AWS_EC2_METADATA_DISABLED");
        setenv("DEPLOYEX_IMDS_ENDPOINT", PEER_ENV("DEPLOYEX_TEST_IMDS_ENDPOINT"), 1);
        assert_int_equal(source_open(&pc.c, &s2, &err), 0);
        publish_current("1.1.0", tar_sha);
        load(s2, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.1.0");
        assert_true(peer_log_count(getenv("DEPLOYEX_TEST_S3_LOG"), "\"key\":\"ASIAIMDS\"", NULL) >= 1);
        source_free(s2);
        unsetenv("DEPLOYEX_IMDS_ENDPOINT");
        setenv("AWS_ACCESS_KEY_ID", id, 1);
        setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
        free(id);
        free(secret);
        desired_release(&d);
        buf_release(&err);
}

/* Fleet rollouts' conditional writes: If-None-Match: *, If-Match, 412, and 409 retried. */
static void test_conditional_writes(void **state)
{
        const char *ep = PEER_ENV("DEPLOYEX_TEST_S3_ENDPOINT");
        const char *log = PEER_ENV("DEPLOYEX_TEST_S3_LOG");
        struct bucket_put *bp = NULL;
        struct buf err = BUF_INIT, url = BUF_INIT, body = BUF_INIT;
        char t1[BUCKET_TAG_MAX + 1], t2[BUCKET_TAG_MAX + 1];
        uint64_t started;

        (void)state;
        peer_check_conditional_writes(&pc.c);
        assert_true(peer_log_count(log, "\"PUT\"", "slot-001.json", "\"status\":412", NULL) == 2);
        assert_true(peer_log_count(log, "\"PUT\"", "slot-001.json", "\"inm\":\"*\"", NULL) == 2);

        /* 409 ConditionalRequestConflict: retried after a delay, and the write lands. */
        assert_int_equal(bucket_put_open(&pc.c, &bp, &err), 0);
        assert_int_equal(bucket_put_object_if(bp, "rollout/x/409.json", "a", 1, "application/json",
                                              BUCKET_IF_ABSENT, NULL, t1, &err), 0);
        buf_printf(&url, "%s/__admin/fail?status=409&count=2&method=PUT&match=409.json&code=ConditionalRequestConflict", ep);
        assert_int_equal(peer_http("POST", url.data, NULL, 0, NULL), 204);
        assert_int_equal(bucket_put_object_if(bp, "rollout/x/409.json", "b", 1, "application/json",
                                              BUCKET_IF_MATCH, t1, t2, &err), 0);
        assert_int_equal(peer_log_count(log, "409.json", "\"status\":409", NULL), 2);
        assert_int_equal(bucket_get_object(bp, "rollout/x/409.json", 16, &body, t1, &err), 0);
        assert_string_equal(t1, t2);
        /* A conflict that does not end: -EAGAIN, the next heartbeat tries again. */
        buf_reset(&url);
        buf_printf(&url, "%s/__admin/fail?status=409&count=50&method=PUT&match=409.json&code=ConditionalRequestConflict", ep);
        assert_int_equal(peer_http("POST", url.data, NULL, 0, NULL), 204);
        buf_reset(&err);
        assert_int_equal(bucket_put_object_if(bp, "rollout/x/409.json", "c", 1, "application/json",
                                              BUCKET_IF_MATCH, t2, t1, &err), -EAGAIN);
        assert_non_null(strstr(err.data, "ConditionalRequestConflict"));
        buf_reset(&url);
        buf_printf(&url, "%s/__admin/fail?status=409&count=0", ep);
        assert_int_equal(peer_http("POST", url.data, NULL, 0, NULL), 204);
        /* A rollout request that gets no answer ends after 10 s (not the 1 h of an upload). */
        buf_reset(&url);
        buf_printf(&url, "%s/__admin/delay?ms=12000", ep);
        assert_int_equal(peer_http("POST", url.data, NULL, 0, NULL), 204);
        started = time_now_ms();
        buf_reset(&err);
        assert_int_equal(bucket_get_object(bp, "rollout/x/409.json", 16, &body, t1, &err), -ETIMEDOUT);
        assert_true(time_now_ms() - started < 11500);
        buf_reset(&url);
        buf_printf(&url, "%s/__admin/delay?ms=0", ep);
        assert_int_equal(peer_http("POST", url.data, NULL, 0, NULL), 204);
        /* If-Match on an object that is gone. */
        assert_int_equal(bucket_delete_object(bp, "rollout/x/409.json", &err), 0);
        assert_int_equal(bucket_put_object_if(bp, "rollout/x/409.json", "d", 1, "application/json",
                                              BUCKET_IF_MATCH, t2, t1, &err), -ENOENT);
        bucket_put_free(bp);
        buf_release(&err);
        buf_release(&url);
        buf_release(&body);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_publish_then_desired),
                cmocka_unit_test(test_unchanged_poll_is_304),
                cmocka_unit_test(test_republish),
                cmocka_unit_test(test_wrong_secret_keeps_last_good),
                cmocka_unit_test(test_outage_keeps_last_good),
                cmocka_unit_test(test_fetch_once_per_version),
                cmocka_unit_test(test_fetch_refusals),
                cmocka_unit_test(test_imds_credentials),
                cmocka_unit_test(test_conditional_writes),
        };

        peer_skip_unless("DEPLOYEX_TEST_S3_ENDPOINT", "tests/integration/bucket_s3.sh");
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
