/*
 * Unit tests: SigV4 requests (buckets/aws_sigv4.c) and the AWS credential chain
 * (buckets/aws_creds.c) without a network: a loopback server stands in for S3
 * and sees exactly what libcurl sends.
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

#include "tests/unit/loopback.h"
#include "buckets/aws_creds.h"
#include "buckets/aws_sigv4.h"
#include "buckets/http.h"
#include "base/util.h"

#include "base/banned.h"

static const char OK_RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"abc\"\r\n"
                                  "Connection: close\r\n\r\nok";

static void test_uri_encode(void **state)
{
        static const struct {
                const char *in;
                bool keep_slash;
                const char *want;
        } cases[] = {
                { "dist/app/app-1.0.0.tar.gz", true, "dist/app/app-1.0.0.tar.gz" },
                { "a b+c", true, "a%20b%2Bc" },
                { "x/y", false, "x%2Fy" },
                { "~_-.", true, "~_-." },
                { "é=*!'()", true, "%C3%A9%3D%2A%21%27%28%29" },
                { "", true, "" },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct buf out = BUF_INIT;
                aws_uri_encode(&out, cases[i].in, cases[i].keep_slash);
                assert_string_equal(out.data, cases[i].want);
                buf_release(&out);
        }
}

static void test_object_url(void **state)
{
        static const struct {
                const char *endpoint, *region, *bucket, *key, *want;
        } cases[] = {
                { NULL, "eu-west-1", "rel", "versions/app/prod/current.json",
                  "https://rel.s3.eu-west-1.amazonaws.com/versions/app/prod/current.json" },
                { "http://127.0.0.1:48100", "us-east-1", "rel", "p q/current.json",
                  "http://127.0.0.1:48100/rel/p%20q/current.json" },
                { "http://127.0.0.1:48100/", "us-east-1", "rel", "k", "http://127.0.0.1:48100/rel/k" },
                /* A dotted bucket breaks *.s3 wildcard certificates: path style. */
                { NULL, "us-east-2", "my.releases", "k+1", "https://s3.us-east-2.amazonaws.com/my.releases/k%2B1" },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct buf out = BUF_INIT;
                aws_s3_object_url(cases[i].endpoint, cases[i].region, cases[i].bucket, cases[i].key, &out);
                assert_string_equal(out.data, cases[i].want);
                buf_release(&out);
        }
}

static void test_sha256(void **state)
{
        char hex[65];

        (void)state;
        aws_sha256_hex("", 0, hex);
        assert_string_equal(hex, AWS_EMPTY_SHA256);
        aws_sha256_hex("abc", 3, hex);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/*
 * AWS's published "GET Object" example (S3 API reference, SigV4 header
 * examples): fixed date, example keys, a Range header.  The signature libcurl
 * computes for our request must be the one AWS documents.
 */
static void test_documented_signature(void **state)
{
        struct loopback lb;
        struct aws_creds creds;
        struct http_response resp;
        struct buf err = BUF_INIT, connect_to = BUF_INIT;
        const char *headers[] = { "Range: bytes=0-9", "X-Amz-Date: 20130524T000000Z", NULL };
        int r;

        (void)state;
        memset(&creds, 0, sizeof(creds));
        str_copy(creds.key_id, sizeof(creds.key_id), "AKIAIOSFODNN7EXAMPLE");
        str_copy(creds.secret, sizeof(creds.secret), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        loopback_start(&lb, OK_RESPONSE, strlen(OK_RESPONSE));
        buf_printf(&connect_to, "examplebucket.s3.amazonaws.com:80:127.0.0.1:%d", lb.port);
        http_response_init(&resp);
        {
                struct http_request req = {
                        .url = "http://examplebucket.s3.amazonaws.com/test.txt",
                        .headers = headers,
                        .connect_to = connect_to.data,
                        .timeout_ms = 5000,
                };
                r = aws_sigv4_perform(&creds, "us-east-1", "s3", &req, &resp, &err);
        }
        loopback_stop(&lb);
        assert_int_equal(r, 0);
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.etag, "\"abc\"");
        assert_string_equal(resp.body.data, "ok");
        assert_non_null(strstr(lb.request, "x-amz-content-sha256: " AWS_EMPTY_SHA256 "\r\n"));
        assert_non_null(strstr(lb.request,
                "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41\r\n"));
        /* No session token: no token header. */
        assert_null(strcasestr(lb.request, "x-amz-security-token"));
        http_response_release(&resp);
        buf_release(&err);
        buf_release(&connect_to);
}

/* A session token is sent and signed; a POST body's hash is the payload hash. */
static void test_session_token_and_body(void **state)
{
        struct loopback lb;
        struct aws_creds creds;
        struct http_response resp;
        struct buf err = BUF_INIT, url = BUF_INIT;
        const char *headers[] = { "X-Amz-Target: secretsmanager.GetSecretValue",
                                  "Content-Type: application/x-amz-json-1.1", NULL };
        char want[65], line[128];
        int r;

        (void)state;
        memset(&creds, 0, sizeof(creds));
        str_copy(creds.key_id, sizeof(creds.key_id), "ASIAEXAMPLE");
        str_copy(creds.secret, sizeof(creds.secret), "s3cr3t");
        str_copy(creds.token, sizeof(creds.token), "TOKEN/with+chars=");
        loopback_start(&lb, OK_RESPONSE, strlen(OK_RESPONSE));
        buf_printf(&url, "http://127.0.0.1:%d/", lb.port);
        http_response_init(&resp);
        {
                struct http_request req = {
                        .method = "POST",
                        .url = url.data,
                        .headers = headers,
                        .body = "{\"SecretId\":\"x\"}",
                        .body_len = 16,
                        .timeout_ms = 5000,
                };
                r = aws_sigv4_perform(&creds, "eu-central-1", "secretsmanager", &req, &resp, &err);
        }
        loopback_stop(&lb);
        assert_int_equal(r, 0);
        aws_sha256_hex("{\"SecretId\":\"x\"}", 16, want);
        snprintf(line, sizeof(line), "x-amz-content-sha256: %s\r\n", want);
        assert_non_null(strstr(lb.request, line));
        assert_non_null(strstr(lb.request, "x-amz-security-token: TOKEN/with+chars=\r\n"));
        assert_non_null(strstr(lb.request, "/eu-central-1/secretsmanager/aws4_request"));
        assert_non_null(strstr(lb.request, "x-amz-security-token;x-amz-target"));
        assert_non_null(strstr(lb.request, "\r\n\r\n{\"SecretId\":\"x\"}"));
        http_response_release(&resp);
        buf_release(&err);
        buf_release(&url);
}

static void test_error_summary(void **state)
{
        static const struct {
                const char *body, *want;
        } cases[] = {
                { "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request "
                  "signature we calculated does not match</Message></Error>",
                  "SignatureDoesNotMatch: The request signature we calculated does not match" },
                { "<Error><Code>AccessDenied</Code></Error>", "AccessDenied" },
                { "{\"__type\":\"com.amazonaws#ResourceNotFoundException\",\"message\":\"not here\"}",
                  "ResourceNotFoundException: not here" },
                { "{\"__type\":\"UnrecognizedClientException\",\"Message\":\"bad key\"}",
                  "UnrecognizedClientException: bad key" },
                { "<html>proxy error</html>", "" },
                { "", "" },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct buf out = BUF_INIT;
                aws_error_summary(cases[i].body, &out);
                assert_string_equal(out.data, cases[i].want);
                buf_release(&out);
        }
}

static void test_parse_credentials_file(void **state)
{
        static const char text[] =
                "# comment\n"
                "[default]\n"
                "aws_access_key_id = AKIADEFAULT\n"
                "aws_secret_access_key=defaultsecret\n"
                "\n"
                "[profile ci]\n"
                "  aws_access_key_id = AKIACI  \r\n"
                "aws_secret_access_key = ci/secret+x\n"
                "aws_session_token = citoken\n"
                "[broken]\n"
                "aws_access_key_id = AKIAONLY\n";
        static const struct {
                const char *profile;
                int want;
                const char *id, *secret, *token;
        } cases[] = {
                { "default", 0, "AKIADEFAULT", "defaultsecret", "" },
                { "ci", 0, "AKIACI", "ci/secret+x", "citoken" },
                { "broken", -EINVAL, NULL, NULL, NULL },
                { "absent", -ENOENT, NULL, NULL, NULL },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct aws_creds c;

                memset(&c, 0x5a, sizeof(c));
                assert_int_equal(aws_creds_parse_file(text, cases[i].profile, &c), cases[i].want);
                if (cases[i].want < 0)
                        continue;
                assert_string_equal(c.key_id, cases[i].id);
                assert_string_equal(c.secret, cases[i].secret);
                assert_string_equal(c.token, cases[i].token);
                assert_int_equal(c.origin, AWS_CREDS_FILE);
        }
}

static void clear_aws_env(void)
{
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
        unsetenv("AWS_PROFILE");
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        unsetenv("DEPLOYEX_IMDS_ENDPOINT");
        unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        /* Never reach for a real metadata service from a unit test. */
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        setenv("HOME", "/nonexistent-deployex-home", 1);
}

/* The chain: environment first, then the file, and a broken step is an error. */
static void test_chain_order(void **state)
{
        static const char file[] = "[default]\naws_access_key_id=FILEKEY\naws_secret_access_key=filesecret\n"
                                   "[other]\naws_access_key_id=OTHERKEY\naws_secret_access_key=o\n";
        char path[] = "/tmp/deployex-creds-XXXXXX";
        struct aws_creds c;
        struct buf err = BUF_INIT;
        int fd;

        (void)state;
        clear_aws_env();
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_true(write(fd, file, strlen(file)) == (ssize_t)strlen(file));
        close(fd);

        /* Nothing anywhere: -ENOKEY and a message naming the places looked at. */
        assert_int_equal(aws_creds_get(NULL, 0, &c, &err), -ENOKEY);
        assert_non_null(strstr(err.data, "AWS_ACCESS_KEY_ID"));
        buf_reset(&err);

        setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
        assert_int_equal(aws_creds_get(NULL, 0, &c, &err), 0);
        assert_string_equal(c.key_id, "FILEKEY");
        assert_int_equal(c.origin, AWS_CREDS_FILE);

        setenv("AWS_PROFILE", "other", 1);
        assert_int_equal(aws_creds_get(NULL, 0, &c, &err), 0);
        assert_string_equal(c.key_id, "OTHERKEY");

        /* A named profile that is not there: refused, not replaced by another identity. */
        setenv("AWS_PROFILE", "nope", 1);
        assert_int_equal(aws_creds_get(NULL, 0, &c, &err), -EINVAL);
        assert_non_null(strstr(err.data, "[nope]"));
        buf_reset(&err);
        unsetenv("AWS_PROFILE");

        /* The environment wins over the file. */
        setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
        setenv("AWS_SESSION_TOKEN", "envtoken", 1);
        assert_int_equal(aws_creds_get(NULL, 0, &c, &err), 0);
        assert_string_equal(c.key_id, "ENVKEY");
        assert_string_equal(c.token, "envtoken");
        assert_int_equal(c.origin, AWS_CREDS_ENV);

        /* Half an environment is a mistake to report. */
        unsetenv("AWS_SECRET_ACCESS_KEY");
        assert_int_equal(aws_creds_get(NULL, 0, &c, &err), -EINVAL);
        assert_non_null(strstr(err.data, "AWS_SECRET_ACCESS_KEY is not"));
        assert_null(strstr(err.data, "ENVKEY"));

        aws_creds_release(&c);
        clear_aws_env();
        unlink(path);
        buf_release(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uri_encode),
                cmocka_unit_test(test_object_url),
                cmocka_unit_test(test_sha256),
                cmocka_unit_test(test_documented_signature),
                cmocka_unit_test(test_session_token_and_body),
                cmocka_unit_test(test_error_summary),
                cmocka_unit_test(test_parse_credentials_file),
                cmocka_unit_test(test_chain_order),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
