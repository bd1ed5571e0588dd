/*
 * Peer test: the secrets adapters against a local AWS Secrets Manager (SigV4
 * verified), IMDSv2, and a local GCP Secret Manager with its OAuth2 token
 * endpoint (tests/peers/peers.js aws / gcp).  Run by
 * tests/integration/bucket_secrets.sh, which stores the secrets and exports:
 *
 *   DEPLOYEX_TEST_AWS_ENDPOINT   Secrets Manager + IMDS   DEPLOYEX_TEST_GCP_ENDPOINT  Secret Manager
 *   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY             GOOGLE_APPLICATION_CREDENTIALS
 *
 * Exits 77 (a skip) when they are unset.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/peer_util.h"
#include "buckets/secrets.h"

#include "base/banned.h"

#define AWS_HASH "$2b$12$awsawsawsawsawsawsawsuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

struct outcome {
        int r;
        char *cookie, *hash;
        struct buf err;
};

static void load(const char *adapter, const char *path, struct outcome *o)
{
        struct config c;

        memset(&c, 0, sizeof(c));
        c.aws_region = "us-east-1";
        buf_init(&o->err);
        setenv("DEPLOYEX_SECRETS_ADAPTER", adapter, 1);
        setenv("DEPLOYEX_SECRETS_PATH", path, 1);
        o->r = secrets_load(&c, &o->err);
        o->cookie = c.cookie;
        o->hash = c.admin_password_hash;
}

static void outcome_release(struct outcome *o)
{
        free(o->cookie);
        free(o->hash);
        buf_release(&o->err);
}

static void use_aws(void)
{
        setenv("DEPLOYEX_SECRETS_ENDPOINT", PEER_ENV("DEPLOYEX_TEST_AWS_ENDPOINT"), 1);
}

static void test_aws(void **state)
{
        struct outcome o;

        (void)state;
        use_aws();
        load("aws", "deployex/prod", &o);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.cookie, "aws-cookie");
        assert_string_equal(o.hash, AWS_HASH);
        outcome_release(&o);
}

static void test_aws_refusals(void **state)
{
        char *good;
        struct outcome o;

        (void)state;
        use_aws();
        good = xstrdup(PEER_ENV("AWS_SECRET_ACCESS_KEY"));
        setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
        load("aws", "deployex/prod", &o);
        setenv("AWS_SECRET_ACCESS_KEY", good, 1);
        assert_int_equal(o.r, -EACCES);
        assert_non_null(strstr(o.err.data, "secrets (aws): deployex/prod: HTTP 400 (InvalidSignatureException"));
        assert_null(o.cookie);
        assert_null(strstr(o.err.data, "aws-cookie"));
        outcome_release(&o);

        load("aws", "no/such/secret", &o);
        assert_int_equal(o.r, -ENOENT);
        assert_non_null(strstr(o.err.data, "ResourceNotFoundException"));
        outcome_release(&o);

        /* A payload that is not the JSON object we need: said without quoting it. */
        load("aws", "deployex/garbled", &o);
        assert_int_equal(o.r, -EINVAL);
        assert_non_null(strstr(o.err.data, "the secret is not a JSON object"));
        assert_null(strstr(o.err.data, "TOPSECRET"));
        outcome_release(&o);
        free(good);
}

/* No key anywhere but the instance: IMDSv2 credentials with their session token. */
static void test_aws_imds(void **state)
{
        char *id, *secret;
        struct outcome o;

        (void)state;
        use_aws();
        id = xstrdup(PEER_ENV("AWS_ACCESS_KEY_ID"));
        secret = xstrdup(PEER_ENV("AWS_SECRET_ACCESS_KEY"));
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_EC2_METADATA_DISABLED");
        setenv("DEPLOYEX_IMDS_ENDPOINT", getenv("DEPLOYEX_TEST_AWS_ENDPOINT"), 1);
        load("aws", "deployex/prod", &o);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.cookie, "aws-cookie");
        outcome_release(&o);
        unsetenv("DEPLOYEX_IMDS_ENDPOINT");
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        setenv("AWS_ACCESS_KEY_ID", id, 1);
        setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
        free(id);
        free(secret);
}

static void test_gcp(void **state)
{
        struct outcome o;

        (void)state;
        setenv("DEPLOYEX_SECRETS_ENDPOINT", PEER_ENV("DEPLOYEX_TEST_GCP_ENDPOINT"), 1);
        load("gcp", "projects/test-project/secrets/deployex-prod", &o);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.cookie, "gcp-cookie");
        assert_null(o.hash);
        outcome_release(&o);

        setenv("GOOGLE_CLOUD_PROJECT", "test-project", 1);
        load("gcp", "deployex-prod", &o);
        unsetenv("GOOGLE_CLOUD_PROJECT");
        assert_int_equal(o.r, 0);
        assert_string_equal(o.cookie, "gcp-cookie");
        outcome_release(&o);

        load("gcp", "projects/test-project/secrets/absent", &o);
        assert_int_equal(o.r, -ENOENT);
        assert_non_null(strstr(o.err.data, "secrets (gcp): projects/test-project/secrets/absent/versions/latest: HTTP 404"));
        outcome_release(&o);

        load("gcp", "projects/test-project/secrets/garbled", &o);
        assert_int_equal(o.r, -EINVAL);
        assert_null(strstr(o.err.data, "TOPSECRET"));
        outcome_release(&o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_aws),
                cmocka_unit_test(test_aws_refusals),
                cmocka_unit_test(test_aws_imds),
                cmocka_unit_test(test_gcp),
        };

        peer_skip_unless("DEPLOYEX_TEST_AWS_ENDPOINT", "tests/integration/bucket_secrets.sh");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
