/*
 * Unit tests: the secrets adapters (buckets/secrets.c): payload parsing, the
 * env adapter, adapter selection, precedence over the config, and the AWS
 * adapter's request against a loopback Secrets Manager.  The GCP adapter
 * and SigV4 verification run against the Node peers (bucket_secrets.sh).
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
#include "buckets/secrets.h"
#include "base/util.h"

#include "base/banned.h"

#define HASH "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

static void clear_env(void)
{
        unsetenv("DEPLOYEX_SECRETS_ADAPTER");
        unsetenv("DEPLOYEX_SECRETS_PATH");
        unsetenv("DEPLOYEX_SECRETS_ENDPOINT");
        unsetenv("DEPLOYEX_ERLANG_COOKIE");
        unsetenv("DEPLOYEX_ADMIN_HASHED_PASSWORD");
        unsetenv("DEPLOYEX_SECRET_KEY_BASE");
        unsetenv("AWS_PROFILE");
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void test_parse(void **state)
{
        static const struct {
                const char *text;
                int want;
                const char *cookie, *hash, *base, *err;
        } cases[] = {
                { "{\"DEPLOYEX_ERLANG_COOKIE\":\"c00kie\",\"DEPLOYEX_ADMIN_HASHED_PASSWORD\":\"" HASH "\","
                  "\"DEPLOYEX_SECRET_KEY_BASE\":\"kb\",\"OTHER\":1}", 0, "c00kie", HASH, "kb", "" },
                { "{\"DEPLOYEX_ERLANG_COOKIE\":\"only\"}", 0, "only", NULL, NULL, "" },
                { "{\"OTHER\":\"x\"}", -EINVAL, NULL, NULL, NULL, "W: has none of DEPLOYEX_ERLANG_COOKIE" },
                { "not json TOPSECRET", -EINVAL, NULL, NULL, NULL, "W: the secret is not a JSON object" },
                { "[\"TOPSECRET\"]", -EINVAL, NULL, NULL, NULL, "W: the secret is not a JSON object" },
                { "{\"DEPLOYEX_ERLANG_COOKIE\":\"TOP SECRET\"}", -EINVAL, NULL, NULL, NULL,
                  "W: DEPLOYEX_ERLANG_COOKIE: must be 1 to 255 printable" },
                { "{\"DEPLOYEX_ERLANG_COOKIE\":7}", -EINVAL, NULL, NULL, NULL, "W: DEPLOYEX_ERLANG_COOKIE: must be" },
                { "{\"DEPLOYEX_ADMIN_HASHED_PASSWORD\":\"TOPSECRET\"}", -EINVAL, NULL, NULL, NULL,
                  "W: DEPLOYEX_ADMIN_HASHED_PASSWORD: must be a bcrypt hash" },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct secrets s;
                struct buf err = BUF_INIT;

                memset(&s, 0, sizeof(s));
                assert_int_equal(secrets_parse(cases[i].text, strlen(cases[i].text), "W", &s, &err),
                                 cases[i].want);
                assert_non_null(strstr(err.data, cases[i].err));
                /* Whatever went wrong, the value is not in the message. */
                assert_null(strstr(err.data, "TOPSECRET"));
                assert_null(strstr(err.data, "TOP SECRET"));
                if (cases[i].want == 0) {
                        if (cases[i].cookie)
                                assert_string_equal(s.erlang_cookie, cases[i].cookie);
                        else
                                assert_null(s.erlang_cookie);
                        if (cases[i].hash)
                                assert_string_equal(s.admin_password_hash, cases[i].hash);
                        else
                                assert_null(s.admin_password_hash);
                        if (cases[i].base)
                                assert_string_equal(s.secret_key_base, cases[i].base);
                        else
                                assert_null(s.secret_key_base);
                }
                secrets_release(&s);
                buf_release(&err);
        }
}

static void test_adapter_selection(void **state)
{
        struct config c;
        struct secrets s;
        struct buf err = BUF_INIT;

        (void)state;
        clear_env();
        memset(&c, 0, sizeof(c));
        memset(&s, 0, sizeof(s));
        assert_int_equal(secrets_fetch(&c, &s, &err), -ENOENT);
        assert_int_equal(secrets_load(&c, &err), 0);
        assert_null(c.cookie);

        setenv("DEPLOYEX_SECRETS_ADAPTER", "vault", 1);
        assert_int_equal(secrets_load(&c, &err), -EINVAL);
        assert_non_null(strstr(err.data, "DEPLOYEX_SECRETS_ADAPTER: must be \"aws\", \"gcp\" or \"env\""));

        buf_reset(&err);
        setenv("DEPLOYEX_SECRETS_ADAPTER", "aws", 1);
        assert_int_equal(secrets_load(&c, &err), -EINVAL);
        assert_non_null(strstr(err.data, "DEPLOYEX_SECRETS_PATH is required"));

        buf_reset(&err);
        setenv("DEPLOYEX_SECRETS_ADAPTER", "gcp", 1);
        setenv("DEPLOYEX_SECRETS_PATH", "a/b", 1);
        assert_int_equal(secrets_load(&c, &err), -EINVAL);
        assert_non_null(strstr(err.data, "projects/P/secrets/S"));
        clear_env();
        buf_release(&err);
}

/* The env adapter fills what the config leaves unset, and only that. */
static void test_env_adapter_precedence(void **state)
{
        struct config c;
        struct buf err = BUF_INIT;

        (void)state;
        clear_env();
        setenv("DEPLOYEX_SECRETS_ADAPTER", "env", 1);
        setenv("DEPLOYEX_ERLANG_COOKIE", "from-env", 1);
        setenv("DEPLOYEX_ADMIN_HASHED_PASSWORD", HASH, 1);

        memset(&c, 0, sizeof(c));
        assert_int_equal(secrets_load(&c, &err), 0);
        assert_string_equal(c.cookie, "from-env");
        assert_string_equal(c.admin_password_hash, HASH);
        free(c.cookie);
        free(c.admin_password_hash);

        memset(&c, 0, sizeof(c));
        c.cookie_file = "/etc/deployex/cookie";
        c.admin_password_hash = "$2b$configured";
        assert_int_equal(secrets_load(&c, &err), 0);
        assert_null(c.cookie);
        assert_string_equal(c.admin_password_hash, "$2b$configured");

        setenv("DEPLOYEX_ERLANG_COOKIE", "bad cookie", 1);
        memset(&c, 0, sizeof(c));
        assert_int_equal(secrets_load(&c, &err), -EINVAL);
        assert_null(strstr(err.data, "bad cookie"));
        assert_null(c.cookie);
        clear_env();
        buf_release(&err);
}

/* The AWS adapter: one signed GetSecretValue, SecretString parsed. */
static void test_aws_adapter_request(void **state)
{
        static const char body[] = "{\"Name\":\"deployex-prod\",\"SecretString\":"
                                   "\"{\\\"DEPLOYEX_ERLANG_COOKIE\\\":\\\"c00kie\\\"}\"}";
        struct buf resp = BUF_INIT, ep = BUF_INIT, err = BUF_INIT;
        struct loopback lb;
        struct config c;

        (void)state;
        clear_env();
        buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
        loopback_start(&lb, resp.data, resp.len);
        buf_printf(&ep, "http://127.0.0.1:%d", lb.port);
        setenv("DEPLOYEX_SECRETS_ADAPTER", "aws", 1);
        setenv("DEPLOYEX_SECRETS_PATH", "deployex-prod", 1);
        setenv("DEPLOYEX_SECRETS_ENDPOINT", ep.data, 1);
        setenv("AWS_ACCESS_KEY_ID", "AKIATEST", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
        memset(&c, 0, sizeof(c));
        c.aws_region = "eu-west-3";
        assert_int_equal(secrets_load(&c, &err), 0);
        loopback_stop(&lb);
        assert_string_equal(c.cookie, "c00kie");
        assert_non_null(strstr(lb.request, "POST / HTTP/1.1\r\n"));
        assert_non_null(strstr(lb.request, "X-Amz-Target: secretsmanager.GetSecretValue\r\n"));
        assert_non_null(strstr(lb.request, "Credential=AKIATEST/"));
        assert_non_null(strstr(lb.request, "/eu-west-3/secretsmanager/aws4_request"));
        assert_non_null(strstr(lb.request, "\r\n\r\n{\"SecretId\":\"deployex-prod\"}"));
        free(c.cookie);
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        clear_env();
        buf_release(&resp);
        buf_release(&ep);
        buf_release(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_adapter_selection),
                cmocka_unit_test(test_env_adapter_precedence),
                cmocka_unit_test(test_aws_adapter_request),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
