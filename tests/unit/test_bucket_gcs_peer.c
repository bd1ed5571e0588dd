/*
 * Peer test: the gs:// source end to end against the GCS peer
 * (tests/peers/peers.js gcp): service-account JWT -> token endpoint, JSON API
 * media downloads with generations, the metadata-server fallback.  Run by
 * tests/integration/bucket_gcs.sh, which exports:
 *
 *   DEPLOYEX_TEST_GCS_ENDPOINT  the peer               DEPLOYEX_TEST_GCS_LOG  its request log
 *   DEPLOYEX_TEST_GCS_DIR       its objects (publish)  DEPLOYEX_TEST_ROOT     a scratch dir
 *   GOOGLE_APPLICATION_CREDENTIALS  the service account the peer trusts
 *   DEPLOYEX_TEST_GCS_BAD_KEY   a service-account file signed with another key
 *
 * Exits 77 (a skip) when they are unset.  The tests run in order and build on each other.
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

#define SOURCE "gs://releases/pfx x"
#define OBJECT_PREFIX "pfx%20x%2F" /* as the JSON API path carries it */
#define TARBALL_BYTES (200 * 1024 + 3)

static struct peer_config pc;
static struct source *src;
static char *tarball;
static char tar_sha[65];

static void publish(const char *rel, const void *data, size_t len)
{
        struct buf path = BUF_INIT, dir = BUF_INIT;

        buf_printf(&path, "%s/releases/pfx x/%s", getenv("DEPLOYEX_TEST_GCS_DIR"), rel);
        buf_append(&dir, path.data, (size_t)(strrchr(path.data, '/') - path.data));
        assert_int_equal(mkdir_p(dir.data, 0700), 0);
        /* A new generation needs a new mtime: never two writes in one microsecond. */
        usleep(2000);
        assert_int_equal(atomic_write_file(path.data, data, len), 0);
        buf_release(&path);
        buf_release(&dir);
}

static void publish_current(const char *version, const char *sha)
{
        struct buf text = BUF_INIT;

        buf_printf(&text, "{\"version\": \"%s\", \"sha256\": \"%s\"}", version, sha);
        publish("versions/myapp/prod/current.json", text.data, text.len);
        buf_release(&text);
}

static int log_count(const char *a, const char *b)
{
        return peer_log_count(getenv("DEPLOYEX_TEST_GCS_LOG"), a, b, NULL);
}

#define CURRENT_PATH "/storage/v1/b/releases/o/" OBJECT_PREFIX "versions%2Fmyapp%2Fprod%2Fcurrent.json"

static void load(struct source *s, struct desired *d)
{
        desired_release(d);
        assert_int_equal(desired_load(&pc.c, &pc.app, s, NULL, true, d), 0);
}

static int group_setup(void **state)
{
        struct buf err = BUF_INIT;

        (void)state;
        if (!getenv("DEPLOYEX_TEST_GCS_ENDPOINT") || !getenv("DEPLOYEX_TEST_ROOT"))
                return 0;
        peer_config_init(&pc, getenv("DEPLOYEX_TEST_ROOT"), SOURCE);
        pc.c.gcs_endpoint = getenv("DEPLOYEX_TEST_GCS_ENDPOINT");
        if (source_open(&pc.c, &src, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                return -1;
        }
        tarball = xmalloc(TARBALL_BYTES);
        for (size_t i = 0; i < TARBALL_BYTES; i++)
                tarball[i] = (char)((i * 40503u) >> 7);
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
        PEER_ENV("DEPLOYEX_TEST_GCS_ENDPOINT");
        desired_init(&d);
        publish("dist/myapp/myapp-1.0.0.tar.gz", tarball, TARBALL_BYTES);
        publish_current("1.0.0", tar_sha);
        load(src, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.0.0");
        path_desired(&pc.c, "myapp", &path);
        assert_int_equal(file_read_all(path.data, 65536, &text), 0);
        assert_non_null(strstr(text.data, "\"etag\":\"g:"));
        /* One token for everything so far. */
        assert_int_equal(log_count("\"path\":\"/token\"", "\"status\":200"), 1);
        desired_release(&d);
        buf_release(&path);
        buf_release(&text);
}

static void test_unchanged_poll_is_304(void **state)
{
        struct desired d;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_GCS_ENDPOINT");
        desired_init(&d);
        load(src, &d);
        load(src, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.0.0");
        assert_int_equal(log_count(CURRENT_PATH "?alt=media&ifGenerationNotMatch=", "\"status\":304"), 2);
        assert_int_equal(log_count("\"path\":\"/token\"", "\"status\":200"), 1);
        desired_release(&d);
}

/* A new version, then a revoked token: one 401, a new token, the request again. */
static void test_republish_and_revoked_token(void **state)
{
        struct desired d;
        struct buf url = BUF_INIT;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_GCS_ENDPOINT");
        desired_init(&d);
        publish_current("1.0.1", tar_sha);
        load(src, &d);
        assert_string_equal(d.release.version, "1.0.1");

        buf_printf(&url, "%s/__admin/revoke", getenv("DEPLOYEX_TEST_GCS_ENDPOINT"));
        assert_int_equal(peer_http("POST", url.data, "", 0, NULL), 204);
        publish_current("1.0.2", tar_sha);
        load(src, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.0.2");
        assert_int_equal(log_count(CURRENT_PATH, "\"status\":401"), 1);
        assert_int_equal(log_count("\"path\":\"/token\"", "\"status\":200"), 2);
        desired_release(&d);
        buf_release(&url);
}

/* A key the token endpoint does not trust: refused with its reason, last good kept. */
static void test_wrong_key_keeps_last_good(void **state)
{
        struct config bad;
        struct source *s2;
        struct desired d;
        struct buf err = BUF_INIT;

        (void)state;
        desired_init(&d);
        bad = pc.c;
        bad.gcp_credentials = (char *)PEER_ENV("DEPLOYEX_TEST_GCS_BAD_KEY");
        assert_int_equal(source_open(&bad, &s2, &err), 0);
        publish_current("1.0.3", tar_sha);
        load(s2, &d);
        assert_non_null(d.error);
        assert_non_null(strstr(d.error, "gs://releases/pfx x/versions/myapp/prod/current.json: gcp token: "));
        assert_non_null(strstr(d.error, "HTTP 400 (invalid_grant: Invalid JWT Signature."));
        assert_null(strstr(d.error, "PRIVATE KEY"));
        assert_string_equal(d.release.version, "1.0.2");
        source_free(s2);
        publish_current("1.0.2", tar_sha);
        desired_release(&d);
        buf_release(&err);
}

static void test_outage_keeps_last_good(void **state)
{
        struct config dead;
        struct source *s2;
        struct desired d;
        struct buf err = BUF_INIT;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_GCS_ENDPOINT");
        desired_init(&d);
        dead = pc.c;
        dead.gcs_endpoint = "http://127.0.0.1:1";
        assert_int_equal(source_open(&dead, &s2, &err), 0);
        load(s2, &d);
        assert_non_null(d.error);
        assert_non_null(strstr(d.error, "GET http://127.0.0.1:1/storage/v1/b/releases/o/"));
        assert_string_equal(d.release.version, "1.0.2");
        source_free(s2);
        load(NULL, &d);
        assert_string_equal(d.release.version, "1.0.2");
        desired_release(&d);
        buf_release(&err);
}

static void test_fetch(void **state)
{
        struct release_desc r;
        struct buf path = BUF_INIT, err = BUF_INIT, cached = BUF_INIT;

        (void)state;
        PEER_ENV("DEPLOYEX_TEST_GCS_ENDPOINT");
        memset(&r, 0, sizeof(r));
        str_copy(r.version, sizeof(r.version), "1.0.0");
        str_copy(r.sha256, sizeof(r.sha256), tar_sha);
        assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), RELEASE_FETCH_DOWNLOADED);
        assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), RELEASE_FETCH_CACHED);
        assert_int_equal(log_count("dist%2Fmyapp%2Fmyapp-1.0.0.tar.gz", "\"status\":200"), 1);

        publish("dist/myapp/myapp-1.0.9.tar.gz", "tampered", 8);
        str_copy(r.version, sizeof(r.version), "1.0.9");
        assert_int_equal(release_fetch(&pc.c, src, "myapp", &r, &path, &err), -EBADMSG);
        path_cache_file(&pc.c, "myapp", "1.0.9", &cached);
        assert_int_equal(access(cached.data, F_OK), -1);
        buf_release(&path);
        buf_release(&err);
        buf_release(&cached);
}

/* No key file: the metadata server's token works the same. */
static void test_metadata_server(void **state)
{
        char *key = xstrdup(PEER_ENV("GOOGLE_APPLICATION_CREDENTIALS"));
        const char *ep = PEER_ENV("DEPLOYEX_TEST_GCS_ENDPOINT");
        struct source *s2;
        struct desired d;
        struct buf err = BUF_INIT;

        (void)state;
        desired_init(&d);
        unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
        setenv("DEPLOYEX_GCE_METADATA_HOST", ep + strlen("http://"), 1);
        assert_int_equal(source_open(&pc.c, &s2, &err), 0);
        publish_current("1.1.0", tar_sha);
        load(s2, &d);
        assert_null(d.error);
        assert_string_equal(d.release.version, "1.1.0");
        assert_int_equal(log_count("/computeMetadata/v1/instance/service-accounts/default/token", "\"status\":200"), 1);
        source_free(s2);
        unsetenv("DEPLOYEX_GCE_METADATA_HOST");
        setenv("GOOGLE_APPLICATION_CREDENTIALS", key, 1);
        free(key);
        desired_release(&d);
        buf_release(&err);
}

/* Fleet rollouts' conditional writes: ifGenerationMatch=0 and =GENERATION, 412. */
static void test_conditional_writes(void **state)
{
        const char *log = PEER_ENV("DEPLOYEX_TEST_GCS_LOG");

        (void)state;
        peer_check_conditional_writes(&pc.c);
        assert_int_equal(peer_log_count(log, "\"POST\"", "slot-001.json", "\"igm\":\"0\"", "\"status\":412", NULL), 1);
        assert_int_equal(peer_log_count(log, "\"POST\"", "slot-001.json", "\"status\":412", NULL), 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_publish_then_desired),
                cmocka_unit_test(test_unchanged_poll_is_304),
                cmocka_unit_test(test_republish_and_revoked_token),
                cmocka_unit_test(test_wrong_key_keeps_last_good),
                cmocka_unit_test(test_outage_keeps_last_good),
                cmocka_unit_test(test_fetch),
                cmocka_unit_test(test_metadata_server),
                cmocka_unit_test(test_conditional_writes),
        };

        peer_skip_unless("DEPLOYEX_TEST_GCS_ENDPOINT", "tests/integration/bucket_gcs.sh");
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
