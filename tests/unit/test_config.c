/*
 * config: every rejection names the file and the field, all problems are
 * reported at once, defaults are filled, the DeployEx 0.3 environment mode
 * maps and validates its variables; paths follow DESIGN §4.4.
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

#include "state/config.h"
#include "base/fsutil.h"
#include "state/paths.h"
#include "base/banned.h"

#define ORIGIN "/tmp/x.json"
#define BASE "\"source\": \"file:///srv/bucket\", \"cookie\": \"secret\""
#define APP(extra) "{\"name\": \"web\", \"language\": \"elixir\"" extra "}"
#define ONE_APP(extra) "{" BASE ", \"apps\": [" APP(extra) "]}"
#define TOP(extra) "{" BASE ", \"apps\": []" extra "}"
#define HASH "$2b$12$abcdefghijklmnopqrstuuQGjPBqgIyxJ4K0rIQv5pW9rQh9n3Juq"

static int parse(const char *text, struct config *c, struct buf *err)
{
        return config_parse(text, strlen(text), ORIGIN, c, err);
}

static size_t count_lines(const struct buf *b)
{
        size_t n = b->len ? 1 : 0;

        for (size_t i = 0; i + 1 < b->len; i++)
                n += b->data[i] == '\n';
        return n;
}

struct bad_case {
        const char *text;
        const char *want; /* substring of the message */
};

static void test_invalid_configs(void **state)
{
        static const struct bad_case cases[] = {
                /* replicas */
                { ONE_APP(", \"replicas\": -1"), ORIGIN ": apps[0].replicas: must be an integer from 0 to 100, got -1" },
                { ONE_APP(", \"replicas\": 101"), "apps[0].replicas: must be an integer from 0 to 100, got 101" },
                { ONE_APP(", \"replicas\": 1.5"), "apps[0].replicas: must be an integer from 0 to 100, got 1.5" },
                { ONE_APP(", \"replicas\": \"3\""), "apps[0].replicas: must be an integer from 0 to 100, got the string '3'" },
                { ONE_APP(", \"replicas\": 1e2"), "apps[0].replicas: must be an integer" },
                { ONE_APP(", \"replicas\": 99999999999999999999"), "apps[0].replicas: must be an integer" },
                /* user and group (DESIGN §4.1) */
                { ONE_APP(", \"user\": \"\""), "apps[0].user: must not be empty" },
                { ONE_APP(", \"user\": \"-x\""), "apps[0].user: must be a user or group name" },
                { ONE_APP(", \"user\": \"a/b\""), "apps[0].user: must be a user or group name" },
                { ONE_APP(", \"user\": 5"), "apps[0].user: must be a string, got 5" },
                { ONE_APP(", \"group\": \"g\""), "apps[0]: group is set but user is not" },
                /* unknown and duplicate keys */
                { ONE_APP(", \"replica\": 2"), "apps[0]: unknown key 'replica' (did you mean 'replicas'?)" },
                { TOP(", \"sorce\": 1"), ORIGIN ": unknown key 'sorce' (did you mean 'source'?)" },
                { TOP(", \"zzzzzzzz\": 1"), ORIGIN ": unknown key 'zzzzzzzz'" },
                { TOP(", \"env\": \"a\", \"env\": \"b\""), ORIGIN ": duplicate key 'env'" },
                /* required */
                { "{\"cookie\": \"c\", \"apps\": []}", ORIGIN ": source: required" },
                { "{" BASE "}", ORIGIN ": apps: required" },
                { "{\"source\": \"s3://b\", \"apps\": []}", ORIGIN ": cookie: set \"cookie\" or \"cookie_file\"" },
                { TOP(", \"cookie_file\": \"/etc/c\""), "cookie: set \"cookie\" or \"cookie_file\", not both" },
                { "{" BASE ", \"apps\": [{\"language\": \"erlang\"}]}", "apps[0].name: required" },
                { "{" BASE ", \"apps\": [{\"name\": \"web\"}]}", "apps[0].language: required" },
                /* types */
                { "[]", ORIGIN ": must be a JSON object, got an array" },
                { "{" BASE ", \"apps\": {}}", "apps: must be an array, got an object" },
                { "{" BASE ", \"apps\": [3]}", "apps[0]: must be an object, got 3" },
                { TOP(", \"env\": 5"), ORIGIN ": env: must be a string, got 5" },
                { TOP(", \"var_path\": \"\""), "var_path: must not be empty" },
                /* source */
                { "{\"source\": \"ftp://x\", \"cookie\": \"c\", \"apps\": []}", "source: must start with file://, s3:// or gs://" },
                { "{\"source\": \"file://srv/b\", \"cookie\": \"c\", \"apps\": []}", "source: file:// needs an absolute path" },
                { "{\"source\": \"s3://\", \"cookie\": \"c\", \"apps\": []}", "source: needs a bucket name" },
                { "{\"source\": \"gs://b/../x\", \"cookie\": \"c\", \"apps\": []}", "source: the prefix may not contain '..'" },
                /* top-level values */
                { TOP(", \"env\": \"../prod\""), "env: must be 1 to 64 letters" },
                { TOP(", \"poll_interval_ms\": 0"), "poll_interval_ms: must be an integer from 100 to 86400000, got 0" },
                { TOP(", \"var_path\": \"var/lib\""), "var_path: must be an absolute path, got 'var/lib'" },
                { TOP(", \"log_path\": \"logs\""), "log_path: must be an absolute path" },
                { TOP(", \"overrides_path\": \"o\""), "overrides_path: must be an absolute path" },
                { TOP(", \"s3_endpoint\": \"localhost:9000\""), "s3_endpoint: must be an http:// or https:// URL" },
                { TOP(", \"log_keep\": -1"), "log_keep: must be an integer from 0 to 1000, got -1" },
                { TOP(", \"log_max_bytes\": 10"), "log_max_bytes: must be an integer from 4096" },
                { TOP(", \"max_release_bytes\": 0"), "max_release_bytes: must be an integer from 1" },
                { TOP(", \"max_unpacked_bytes\": true"), "max_unpacked_bytes: must be an integer from 1 to 1125899906842624, got true" },
                { "{\"source\": \"s3://b\", \"cookie\": \"has space\", \"apps\": []}", "cookie: must be 1 to 255 printable characters" },
                { "{\"source\": \"s3://b\", \"cookie_file\": \"rel\", \"apps\": []}", "cookie_file: must be an absolute path" },
                /* fleet */
                { TOP(", \"fleet\": true"), "fleet: must be an object, got true" },
                { TOP(", \"fleet\": {\"hots\": \"a\"}"), "fleet: unknown key 'hots' (did you mean 'host'?)" },
                { TOP(", \"fleet\": {\"host\": \"web 1\"}"), "fleet.host: must be 1 to 63 of" },
                { TOP(", \"fleet\": {\"canary\": 1}"), "fleet.canary: must be true or false" },
                { TOP(", \"fleet\": {\"heartbeat_ms\": 5}"), "fleet.heartbeat_ms: must be an integer from 100" },
                { TOP(", \"fleet\": {\"heartbeat_ms\": 5000, \"stale_after_ms\": 9000}"), "fleet.stale_after_ms: must be more than twice fleet.heartbeat_ms (5000), got 9000" },
                /* tls and http */
                { TOP(", \"tls\": {\"cert\": \"/c\", \"key\": \"/k\"}"), "tls.ca: required when \"tls\" is set" },
                { TOP(", \"tls\": {\"cert\": \"/c\", \"key\": \"/k\", \"ca\": \"ca.pem\"}"), "tls.ca: must be an absolute path" },
                { TOP(", \"tls\": {\"cert\": \"/c\", \"key\": \"/k\", \"ca\": \"/a\", \"crl\": \"/x\"}"), "tls: unknown key 'crl'" },
                { TOP(", \"tls\": true"), "tls: must be an object, got true" },
                { TOP(", \"var_path\": \"/var/lib/my apps\", \"tls\": {\"cert\": \"/c\", \"key\": \"/k\", \"ca\": \"/a\"}"),
                  "var_path: must not contain blanks when \"tls\" is set" },
                { TOP(", \"http\": {\"listen\": \"5001\"}"), "http.listen: must be \"host:port\"" },
                { TOP(", \"http\": {\"listen\": \"127.0.0.1:0\"}"), "http.listen: must be \"host:port\"" },
                { TOP(", \"http\": {\"listen\": \"::1:80\"}"), "http.listen: must be \"host:port\"" },
                { TOP(", \"http\": {\"admin_password_hash\": \"" HASH "\"}"), "http.listen: required" },
                { TOP(", \"http\": {\"listen\": \"[::1]:5001\", \"admin_password_hash\": \"plain\"}"), "http.admin_password_hash: must be a bcrypt hash" },
                { TOP(", \"http\": {\"listen\": \"[::1]:5001\", \"admin_password_hash\": \"$1$abc\"}"), "http.admin_password_hash: must be a bcrypt hash" },
                /* app fields */
                { "{" BASE ", \"apps\": [{\"name\": \"Web\", \"language\": \"elixir\"}]}", "apps[0].name: must match [a-z][a-z0-9_]{0,31}, got 'Web'" },
                { "{" BASE ", \"apps\": [{\"name\": \"a23456789012345678901234567890123\", \"language\": \"elixir\"}]}", "apps[0].name: must match" },
                { "{" BASE ", \"apps\": [{\"name\": \"web\", \"language\": \"ruby\"}]}", "apps[0].language: must be \"elixir\", \"erlang\" or \"gleam\", got 'ruby'" },
                { "{" BASE ", \"apps\": [" APP("") ", " APP("") "]}", "apps[1].name: 'web' is already the name of apps[0]" },
                { ONE_APP(", \"ports\": {\"PORT\": 0}"), "apps[0].ports.PORT: must be an integer from 1 to 65535, got 0" },
                { ONE_APP(", \"ports\": {\"PORT\": 65536}"), "apps[0].ports.PORT: must be an integer from 1 to 65535, got 65536" },
                { ONE_APP(", \"replicas\": 3, \"ports\": {\"PORT\": 65534}"), "apps[0].ports.PORT: base 65534 with 3 replicas goes beyond port 65535" },
                { ONE_APP(", \"ports\": {\"http\": 4000}"), "apps[0].ports.http: a port name must match [A-Z_][A-Z0-9_]*" },
                { ONE_APP(", \"ports\": {\"RELEASE_NODE\": 4000}"), "apps[0].ports.RELEASE_NODE: 'RELEASE_NODE' is set by deployex itself" },
                { ONE_APP(", \"ports\": [4000]"), "apps[0].ports: must be an object, got an array" },
                { ONE_APP(", \"ports\": {\"PORT\": 4000, \"PORT\": 5000}"), "apps[0].ports.PORT: duplicate port name" },
                { ONE_APP(", \"replicas\": 3, \"ports\": {\"PORT\": 4000, \"ADMIN\": 4002}"), "apps[0].ports.ADMIN: ports 4002-4004 overlap apps[0].ports.PORT 4000-4002" },
                { "{" BASE ", \"apps\": [" APP(", \"replicas\": 2, \"ports\": {\"PORT\": 4000}") ", {\"name\": \"api\", \"language\": \"erlang\", \"ports\": {\"PORT\": 4001}}]}",
                  "apps[1].ports.PORT: ports 4001-4001 of app 'api' overlap apps[0].ports.PORT 4000-4001 of app 'web'" },
                { "{" BASE ", \"http\": {\"listen\": \"127.0.0.1:4001\"}, \"apps\": [" APP(", \"replicas\": 2, \"ports\": {\"PORT\": 4000}") "]}",
                  "http.listen: port 4001 is inside apps[0].ports.PORT 4000-4001 of app 'web'" },
                { ONE_APP(", \"env\": {\"RELEASE_COOKIE\": \"x\"}"), "apps[0].env.RELEASE_COOKIE: 'RELEASE_COOKIE' is set by deployex itself" },
                { ONE_APP(", \"env\": {\"RELEASE_TMP\": \"x\"}"), "apps[0].env.RELEASE_TMP: 'RELEASE_TMP' is set by deployex itself" },
                { ONE_APP(", \"env\": {\"RELEASE_DISTRIBUTION\": \"name\"}"), "is set by deployex itself" },
                { ONE_APP(", \"env\": {\"A-B\": \"x\"}"), "apps[0].env.A-B: a variable name must match [A-Za-z_][A-Za-z0-9_]*" },
                { ONE_APP(", \"env\": {\"A\": 1}"), "apps[0].env.A: must be a string, got 1" },
                { ONE_APP(", \"ports\": {\"PORT\": 4000}, \"env\": {\"PORT\": \"1\"}"), "apps[0].env.PORT: 'PORT' is already set by ports" },
                { ONE_APP(", \"env\": {\"bad\\nkey\": \"x\"}"), "apps[0].env.bad?key: a variable name must match" },
                { ONE_APP(", \"hooks\": \"hooks/web.lua\""), "apps[0].hooks: must be an absolute path" },
                { ONE_APP(", \"stop_timeout_ms\": 0"), "apps[0].stop_timeout_ms: must be an integer from 1 to" },
                { ONE_APP(", \"rollback_timeout_ms\": 0"), "apps[0].rollback_timeout_ms: must be an integer from 1 to" },
                { ONE_APP(", \"healthy_after_ms\": -5"), "apps[0].healthy_after_ms: must be an integer from 0 to" },
                { ONE_APP(", \"healthy_after_ms\": 60000, \"rollback_timeout_ms\": 60000"), "apps[0].healthy_after_ms: must be less than rollback_timeout_ms (60000), got 60000" },
                { ONE_APP(", \"restart_backoff\": {\"initial_ms\": 5000, \"max_ms\": 1000}"), "apps[0].restart_backoff: initial_ms (5000) must not exceed max_ms (1000)" },
                { ONE_APP(", \"restart_backoff\": {\"initial\": 5000}"), "apps[0].restart_backoff: unknown key 'initial' (did you mean 'initial_ms'?)" },
                { ONE_APP(", \"restart_backoff\": {\"initial_ms\": -1}"), "apps[0].restart_backoff.initial_ms: must be an integer from 0 to" },
                { ONE_APP(", \"restart_backoff\": {\"max_ms\": 0}"), "apps[0].restart_backoff.max_ms: must be an integer from 1 to" },
                { ONE_APP(", \"max_probation_crashes\": 0"), "apps[0].max_probation_crashes: must be an integer from 1 to 1000, got 0" },
                { ONE_APP(", \"max_probation_crashes\": 1001"), "apps[0].max_probation_crashes: must be an integer from 1 to 1000, got 1001" },
                { ONE_APP(", \"max_probation_crashes\": \"3\""), "apps[0].max_probation_crashes: must be an integer from 1 to 1000" },
                { ONE_APP(", \"limits\": {\"memory_max_mb\": 512}"), "apps[0].limits: unknown key 'memory_max_mb' (did you mean 'memory_max'?)" },
                { ONE_APP(", \"limits\": {\"tasks_max\": 0}"), "apps[0].limits.tasks_max: must be an integer from 1 to" },
                { ONE_APP(", \"limits\": {\"memory_max\": \"1Gb\"}"), "apps[0].limits.memory_max: must be a size such as \"512M\" or \"2G\"" },
                { ONE_APP(", \"limits\": {\"memory_max\": \"-1G\"}"), "apps[0].limits.memory_max: must be a size such as" },
                { ONE_APP(", \"limits\": {\"memory_max\": \"\"}"), "apps[0].limits.memory_max: must be a size such as" },
                { ONE_APP(", \"limits\": {\"memory_max\": 1.5}"), "apps[0].limits.memory_max: must be a size such as" },
                { ONE_APP(", \"limits\": {\"memory_max\": \"99999999999999999999\"}"), "apps[0].limits.memory_max: must be a size such as" },
                { ONE_APP(", \"limits\": {\"memory_max\": \"99999999999T\"}"), "apps[0].limits.memory_max: must be a size such as" },
                { ONE_APP(", \"limits\": {\"memory_max\": \"512\"}"), "apps[0].limits.memory_max: must be at least 1M; a bare number counts bytes (write \"512M\" for megabytes)" },
                { ONE_APP(", \"limits\": 5"), "apps[0].limits: must be an object" },
                /* syntax */
                { "{\"source\": ", ORIGIN ": parse error" },
        };
        struct buf err = BUF_INIT;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct config c;
                int r;

                memset(&c, 0x5a, sizeof(c));
                buf_reset(&err);
                r = parse(cases[i].text, &c, &err);
                if (r != -EINVAL || !strstr(err.data, cases[i].want))
                        fail_msg("case %zu: r=%d\n  text: %s\n  want: %s\n  got:  %s", i, r, cases[i].text,
                                 cases[i].want, err.data);
                /* Every message names the file; ret is untouched on failure. */
                assert_true(strncmp(err.data, ORIGIN ": ", strlen(ORIGIN) + 2) == 0);
                assert_true(c.napps == (size_t)0x5a5a5a5a5a5a5a5aull);
        }
        buf_release(&err);
}

/* A config with several mistakes gets one line for each, not just the first. */
static void test_reports_all_problems(void **state)
{
        static const char text[] =
                "{\"source\": \"ftp://x\", \"cookie\": \"c\", \"poll_interval_ms\": 5,"
                " \"apps\": [{\"name\": \"web\", \"language\": \"elixir\", \"replicas\": -1, \"replica\": 2},"
                "            {\"name\": \"api\", \"language\": \"cobol\"}]}";
        struct buf err = BUF_INIT;
        struct config c;

        (void)state;
        assert_int_equal(parse(text, &c, &err), -EINVAL);
        assert_int_equal(count_lines(&err), 5);
        assert_non_null(strstr(err.data, ORIGIN ": source: "));
        assert_non_null(strstr(err.data, ORIGIN ": poll_interval_ms: "));
        assert_non_null(strstr(err.data, ORIGIN ": apps[0].replicas: must be an integer from 0 to 100, got -1\n"));
        assert_non_null(strstr(err.data, ORIGIN ": apps[0]: unknown key 'replica'"));
        assert_non_null(strstr(err.data, ORIGIN ": apps[1].language: "));
        assert_int_not_equal(err.data[err.len - 1], '\n');
        buf_release(&err);
}

/* The cookie is a secret: a malformed one is refused without being echoed. */
static void test_cookie_never_echoed(void **state)
{
        struct buf err = BUF_INIT;
        struct config c;

        (void)state;
        assert_int_equal(parse("{\"source\": \"s3://b\", \"cookie\": \"TOPSECRET value\", \"apps\": []}", &c, &err),
                         -EINVAL);
        assert_null(strstr(err.data, "TOPSECRET"));
        buf_reset(&err);
        assert_int_equal(parse("{\"source\": \"s3://b\", \"cookie\": \"c\", \"apps\": [],"
                               " \"http\": {\"listen\": \"127.0.0.1:1\", \"admin_password_hash\": \"hunter2\"}}",
                               &c, &err),
                         -EINVAL);
        assert_null(strstr(err.data, "hunter2"));
        buf_release(&err);
}

static void test_minimal_config_gets_defaults(void **state)
{
        struct buf err = BUF_INIT;
        struct config c;
        const struct app_config *a;

        (void)state;
        assert_int_equal(parse(ONE_APP(""), &c, &err), 0);
        assert_int_equal(err.len, 0);
        assert_string_equal(c.origin, ORIGIN);
        assert_string_equal(c.env, "prod");
        assert_string_equal(c.source, "file:///srv/bucket");
        assert_null(c.aws_region);
        assert_null(c.s3_endpoint);
        assert_null(c.gcs_endpoint);
        assert_null(c.gcp_credentials);
        assert_true(c.poll_interval_ms == 5000);
        assert_string_equal(c.var_path, "/var/lib/deployex");
        assert_string_equal(c.log_path, "/var/log/deployex");
        assert_string_equal(c.overrides_path, "/etc/deployex/overrides.d");
        assert_string_equal(c.cookie, "secret");
        assert_null(c.cookie_file);
        assert_false(c.has_tls);
        assert_null(c.http_listen);
        assert_null(c.admin_password_hash);
        assert_true(c.log_max_bytes == 10u * 1024 * 1024);
        assert_int_equal(c.log_keep, 5);
        assert_true(c.max_release_bytes == 1024ull * 1024 * 1024);
        assert_true(c.max_unpacked_bytes == 4ull * 1024 * 1024 * 1024);
        assert_int_equal(c.napps, 1);
        a = config_find_app(&c, "web");
        assert_ptr_equal(a, &c.apps[0]);
        assert_null(config_find_app(&c, "nope"));
        assert_int_equal(a->language, LANG_ELIXIR);
        assert_int_equal(a->replicas, 1);
        assert_int_equal(a->nports, 0);
        assert_int_equal(a->nenv, 0);
        assert_null(a->hooks);
        assert_true(a->healthy_after_ms == 10000);
        assert_true(a->max_probation_crashes == 3);
        assert_true(a->rollback_timeout_ms == 600000);
        assert_true(a->stop_timeout_ms == 15000);
        assert_true(a->backoff_initial_ms == 2000);
        assert_true(a->backoff_max_ms == 300000);
        config_release(&c);
        assert_null(c.apps);
        config_release(&c); /* twice is harmless */
        config_release(NULL);
        buf_release(&err);
}

/* limits.memory_max: DESIGN §4.1's sizes ("1G"), powers of 1024, a bare number counts bytes. */
static void test_limits_sizes(void **state)
{
        static const struct {
                const char *memory_max;
                uint64_t bytes;
        } cases[] = {
                { "\"1G\"", 1ULL << 30 },      { "\"512M\"", 512ULL << 20 }, { "\"1536K\"", 1536ULL << 10 },
                { "\"2T\"", 2ULL << 40 },      { "\"1048576\"", 1ULL << 20 }, { "2097152", 2ULL << 20 },
        };
        struct buf err = BUF_INIT, text = BUF_INIT;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct config c;

                buf_reset(&text);
                buf_printf(&text, ONE_APP(", \"limits\": {\"memory_max\": %s, \"tasks_max\": 4096}"),
                           cases[i].memory_max);
                buf_reset(&err);
                assert_int_equal(parse(text.data, &c, &err), 0);
                assert_true(c.apps[0].limit_memory_bytes == cases[i].bytes);
                assert_true(c.apps[0].limit_tasks == 4096);
                config_release(&c);
        }
        buf_release(&err);
        buf_release(&text);
}

/* metrics_textfile: DESIGN §4.1 names the textfile collector's directory; a .prom path is the file. */
static void test_metrics_textfile(void **state)
{
        static const struct {
                const char *given;
                const char *path;
        } cases[] = {
                { "/var/lib/node_exporter/textfile", "/var/lib/node_exporter/textfile/deployex.prom" },
                { "/var/lib/node_exporter/textfile/", "/var/lib/node_exporter/textfile/deployex.prom" },
                { "/var/lib/node_exporter/textfile/dx.prom", "/var/lib/node_exporter/textfile/dx.prom" },
        };
        struct buf err = BUF_INIT, text = BUF_INIT;
        struct config c;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                buf_reset(&text);
                buf_printf(&text, TOP(", \"metrics_textfile\": \"%s\""), cases[i].given);
                buf_reset(&err);
                assert_int_equal(parse(text.data, &c, &err), 0);
                assert_string_equal(c.metrics_textfile, cases[i].path);
                config_release(&c);
        }
        /* An existing file that is not a directory and not *.prom: node_exporter would skip it. */
        assert_int_equal(parse(TOP(", \"metrics_textfile\": \"/etc/passwd\""), &c, &err), -EINVAL);
        assert_non_null(strstr(err.data, "metrics_textfile: is not a directory"));
        assert_int_equal(parse(TOP(", \"metrics_textfile\": null"), &c, &err), 0);
        assert_null(c.metrics_textfile);
        config_release(&c);
        buf_release(&err);
        buf_release(&text);
}

static void test_fleet(void **state)
{
        struct config c;
        struct buf err = BUF_INIT;
        const char *none = TOP("");
        const char *some = TOP(", \"fleet\": {\"host\": \"web-1\", \"canary\": true, \"soak_ms\": 20}");
        const char *dflt = TOP(", \"fleet\": {}");
        static const char *const clouds[] = {
                "{\"source\": \"s3://b\", \"cookie\": \"c\", \"apps\": [], \"fleet\": {}}",
                "{\"source\": \"gs://b/p\", \"cookie\": \"c\", \"apps\": [], \"fleet\": {}}",
        };
        char host[256];

        (void)state;
        assert_int_equal(config_parse(none, strlen(none), ORIGIN, &c, &err), 0);
        assert_false(c.has_fleet);
        config_release(&c);
        assert_int_equal(config_parse(some, strlen(some), ORIGIN, &c, &err), 0);
        assert_true(c.has_fleet);
        assert_string_equal(c.fleet_host, "web-1");
        assert_true(c.fleet_canary);
        assert_true(c.fleet_canaries);
        assert_int_equal(c.fleet_heartbeat_ms, 5000);
        assert_int_equal(c.fleet_stale_after_ms, 60000);
        assert_int_equal(c.fleet_soak_ms, 20);
        config_release(&c);
        assert_int_equal(config_parse(dflt, strlen(dflt), ORIGIN, &c, &err), 0);
        assert_int_equal(gethostname(host, sizeof(host)), 0);
        host[strcspn(host, ".")] = '\0';
        assert_string_equal(c.fleet_host, host);
        assert_false(c.fleet_canaries);
        config_release(&c);
        /* Buckets with conditional writes hold the rollout files too (buckets/fleet_store.h). */
        for (size_t i = 0; i < ARRAY_SIZE(clouds); i++) {
                assert_int_equal(config_parse(clouds[i], strlen(clouds[i]), ORIGIN, &c, &err), 0);
                assert_true(c.has_fleet);
                config_release(&c);
        }
        buf_release(&err);
}

static void test_full_config(void **state)
{
        static const char text[] =
                "{\n"
                "  // comments are accepted, as in DESIGN §4.1\n"
                "  \"env\": \"staging\",\n"
                "  \"source\": \"s3://my-bucket/releases\",\n"
                "  \"aws_region\": \"us-east-2\", \"s3_endpoint\": \"http://127.0.0.1:4568\", \"gcs_endpoint\": null,\n"
                "  \"poll_interval_ms\": 1000,\n"
                "  \"var_path\": \"/srv/dx/var\", \"log_path\": \"/srv/dx/log\", \"overrides_path\": \"/srv/dx/ov\",\n"
                "  \"cookie_file\": \"/etc/deployex/cookie\",\n"
                "  \"tls\": {\"cert\": \"/t/cert.pem\", \"key\": \"/t/key.pem\", \"ca\": \"/t/ca.pem\"},\n"
                "  \"http\": {\"listen\": \"127.0.0.1:5001\", \"admin_password_hash\": \"" HASH "\"},\n"
                "  \"log_max_bytes\": 1048576, \"log_keep\": 0, \"max_release_bytes\": 1000, \"max_unpacked_bytes\": 2000,\n"
                "  \"apps\": [{\n"
                "    \"name\": \"myapp\", \"language\": \"gleam\", \"replicas\": 0,\n"
                "    \"ports\": {\"PORT\": 65535, \"ADMIN\": 9000},\n"
                "    \"env\": {\"KEY\": \"value with spaces\", \"lower_ok\": \"\"},\n"
                "    \"hooks\": \"/etc/deployex/hooks/myapp.lua\",\n"
                "    \"healthy_after_ms\": 0, \"rollback_timeout_ms\": 1, \"stop_timeout_ms\": 2,\n"
                "    \"max_probation_crashes\": 1,\n"
                "    \"restart_backoff\": {\"initial_ms\": 7, \"max_ms\": 7}\n"
                "  }, {\"name\": \"b_2\", \"language\": \"erlang\", \"replicas\": 100, \"ports\": {\"PORT\": 6000},\n"
                "    \"restart_backoff\": {\"initial_ms\": 0, \"max_ms\": 50},\n"
                "    \"limits\": {\"memory_max\": \"512M\", \"tasks_max\": 300}}]\n"
                "}\n";
        struct buf err = BUF_INIT;
        struct config c;
        const struct app_config *a;

        (void)state;
        if (parse(text, &c, &err) != 0)
                fail_msg("%s", err.data);
        assert_string_equal(c.env, "staging");
        assert_string_equal(c.source, "s3://my-bucket/releases");
        assert_string_equal(c.aws_region, "us-east-2");
        assert_string_equal(c.s3_endpoint, "http://127.0.0.1:4568");
        assert_null(c.gcs_endpoint);
        assert_true(c.poll_interval_ms == 1000);
        assert_string_equal(c.var_path, "/srv/dx/var");
        assert_string_equal(c.log_path, "/srv/dx/log");
        assert_string_equal(c.overrides_path, "/srv/dx/ov");
        assert_null(c.cookie);
        assert_string_equal(c.cookie_file, "/etc/deployex/cookie");
        assert_true(c.has_tls);
        assert_string_equal(c.tls_cert, "/t/cert.pem");
        assert_string_equal(c.tls_key, "/t/key.pem");
        assert_string_equal(c.tls_ca, "/t/ca.pem");
        assert_string_equal(c.http_listen, "127.0.0.1:5001");
        assert_string_equal(c.admin_password_hash, HASH);
        assert_true(c.log_max_bytes == 1048576);
        assert_int_equal(c.log_keep, 0);
        assert_true(c.max_release_bytes == 1000);
        assert_true(c.max_unpacked_bytes == 2000);
        assert_int_equal(c.napps, 2);
        a = &c.apps[0];
        assert_string_equal(a->name, "myapp");
        assert_int_equal(a->language, LANG_GLEAM);
        assert_int_equal(a->replicas, 0);
        assert_int_equal(a->nports, 2);
        assert_string_equal(a->ports[0].name, "PORT");
        assert_int_equal(a->ports[0].base, 65535);
        assert_string_equal(a->ports[1].name, "ADMIN");
        assert_int_equal(a->ports[1].base, 9000);
        assert_int_equal(a->nenv, 2);
        assert_string_equal(a->env[0].key, "KEY");
        assert_string_equal(a->env[0].value, "value with spaces");
        assert_string_equal(a->env[1].key, "lower_ok");
        assert_string_equal(a->env[1].value, "");
        assert_string_equal(a->hooks, "/etc/deployex/hooks/myapp.lua");
        assert_true(a->healthy_after_ms == 0);
        assert_true(a->rollback_timeout_ms == 1);
        assert_true(a->stop_timeout_ms == 2);
        assert_true(a->backoff_initial_ms == 7);
        assert_true(a->backoff_max_ms == 7);
        assert_true(a->max_probation_crashes == 1);
        a = config_find_app(&c, "b_2");
        assert_non_null(a);
        assert_int_equal(a->language, LANG_ERLANG);
        assert_int_equal(a->replicas, 100);
        /* 0: the first crash restarts at once (backoff.h says how a loop still backs off). */
        assert_true(a->backoff_initial_ms == 0);
        assert_true(a->backoff_max_ms == 50);
        assert_true(a->limit_memory_bytes == 512ULL << 20);
        assert_true(a->limit_tasks == 300);
        assert_true(config_find_app(&c, "myapp")->limit_memory_bytes == 0);
        config_release(&c);
        buf_release(&err);
}

static void test_name_and_version_rules(void **state)
{
        static const char *const good_names[] = { "a", "myapp", "my_app2", "a2345678901234567890123456789012" };
        static const char *const bad_names[] = { "", "A", "1app", "_a", "my-app", "a23456789012345678901234567890123",
                                                 "app.x", "ap p" };
        static const char *const good_versions[] = { "1.0.0", "1.0.0-rc.1+build.5", "v2_0", "a",
                                                     "1234567890123456789012345678901234567890123456789012345678901234" };
        static const char *const bad_versions[] = { "", ".", "..", "1.0/2", "1 0", "1.0\n",
                                                    "12345678901234567890123456789012345678901234567890123456789012345" };
        enum language l = LANG_GLEAM;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(good_names); i++)
                assert_true(app_name_is_valid(good_names[i]));
        for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++)
                if (app_name_is_valid(bad_names[i]))
                        fail_msg("name '%s' accepted", bad_names[i]);
        assert_false(app_name_is_valid(NULL));
        for (size_t i = 0; i < ARRAY_SIZE(good_versions); i++)
                assert_true(version_is_valid(good_versions[i]));
        for (size_t i = 0; i < ARRAY_SIZE(bad_versions); i++)
                if (version_is_valid(bad_versions[i]))
                        fail_msg("version '%s' accepted", bad_versions[i]);
        assert_int_equal(language_from_string("erlang", &l), 0);
        assert_int_equal(l, LANG_ERLANG);
        assert_int_equal(language_from_string("Elixir", &l), -EINVAL);
        assert_int_equal(l, LANG_ERLANG);
        assert_string_equal(language_to_string(LANG_ELIXIR), "elixir");
        assert_string_equal(language_to_string(LANG_GLEAM), "gleam");
}

/* ---- files: config_load_file, config_load, cookie_file ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
        (void)state;
        str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        (void)state;
        return remove_tree(tmpdir);
}

static void write_at(struct buf *path, const char *name, const char *text)
{
        buf_reset(path);
        buf_printf(path, "%s/%s", tmpdir, name);
        assert_int_equal(atomic_write_file(path->data, text, strlen(text)), 0);
}

static const char *const env_vars[] = {
        "DEPLOYEX_CONFIG", "DEPLOYEX_MONITORED_APP_NAME", "DEPLOYEX_MONITORED_APP_LANG",
        "DEPLOYEX_MONITORED_REPLICAS", "DEPLOYEX_MONITORED_APP_PORT", "DEPLOYEX_PHX_PORT",
        "DEPLOYEX_RELEASE_ADAPTER", "DEPLOYEX_RELEASE_BUCKET", "DEPLOYEX_CLOUD_ENVIRONMENT",
        "DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS", "DEPLOYEX_DEPLOY_SCHEDULE_INTERVAL_MS",
        "DEPLOYEX_ERLANG_COOKIE", "DEPLOYEX_ADMIN_HASHED_PASSWORD", "AWS_REGION",
        "GOOGLE_APPLICATION_CREDENTIALS", "DEPLOYEX_OTP_TLS_CERT_PATH",
};

static int clear_env(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(env_vars); i++)
                unsetenv(env_vars[i]);
        return 0;
}

static void test_load_file(void **state)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct config c;

        (void)state;
        write_at(&path, "good.json", ONE_APP(""));
        assert_int_equal(config_load_file(path.data, &c, &err), 0);
        assert_string_equal(c.origin, path.data);
        config_release(&c);

        write_at(&path, "bad.json", ONE_APP(", \"replicas\": -1"));
        assert_int_equal(config_load_file(path.data, &c, &err), -EINVAL);
        assert_true(strncmp(err.data, path.data, path.len) == 0);
        assert_non_null(strstr(err.data, ": apps[0].replicas: must be an integer from 0 to 100, got -1"));

        buf_reset(&err);
        buf_reset(&path);
        buf_printf(&path, "%s/missing.json", tmpdir);
        assert_int_equal(config_load_file(path.data, &c, &err), -ENOENT);
        assert_non_null(strstr(err.data, "missing.json: cannot read: No such file or directory"));
        buf_release(&path);
        buf_release(&err);
}

static void test_config_load_order(void **state)
{
        struct buf a = BUF_INIT, b = BUF_INIT, err = BUF_INIT;
        struct config c;

        (void)state;
        write_at(&a, "a.json", TOP(", \"env\": \"from_cli\""));
        write_at(&b, "b.json", TOP(", \"env\": \"from_env\""));
        setenv("DEPLOYEX_CONFIG", b.data, 1);
        /* -c wins over $DEPLOYEX_CONFIG. */
        assert_int_equal(config_load(a.data, &c, &err), 0);
        assert_string_equal(c.env, "from_cli");
        config_release(&c);
        assert_int_equal(config_load(NULL, &c, &err), 0);
        assert_string_equal(c.env, "from_env");
        config_release(&c);
        /* An explicit path that does not exist is an error even in environment mode. */
        setenv("DEPLOYEX_MONITORED_APP_NAME", "myapp", 1);
        setenv("DEPLOYEX_CONFIG", "/nonexistent/deployex.json", 1);
        assert_int_equal(config_load(NULL, &c, &err), -ENOENT);
        unsetenv("DEPLOYEX_CONFIG");
        /* No file anywhere: the DeployEx variables. */
        if (access(DEFAULT_CONFIG_PATH, F_OK) != 0) {
                setenv("DEPLOYEX_RELEASE_BUCKET", "bkt", 1);
                assert_int_equal(config_load(NULL, &c, &err), 0);
                assert_string_equal(c.origin, "environment");
                assert_string_equal(c.apps[0].name, "myapp");
                config_release(&c);
                unsetenv("DEPLOYEX_MONITORED_APP_NAME");
                buf_reset(&err);
                assert_int_equal(config_load(NULL, &c, &err), -ENOENT);
                assert_non_null(strstr(err.data, DEFAULT_CONFIG_PATH ": cannot read"));
                assert_null(strchr(err.data, '\n'));
        }
        buf_release(&a);
        buf_release(&b);
        buf_release(&err);
}

static void test_read_cookie(void **state)
{
        struct buf path = BUF_INIT, cookie = BUF_INIT, err = BUF_INIT, big = BUF_INIT;
        struct config c;

        (void)state;
        assert_int_equal(parse(ONE_APP(""), &c, &err), 0);
        assert_int_equal(config_read_cookie(&c, &cookie), 0);
        assert_string_equal(cookie.data, "secret");
        config_release(&c);

        write_at(&path, "cookie", "FILECOOKIE\nsecond line ignored\n");
        memset(&c, 0, sizeof(c));
        c.cookie_file = path.data;
        assert_int_equal(config_read_cookie(&c, &cookie), 0);
        assert_string_equal(cookie.data, "FILECOOKIE");

        write_at(&path, "cookie_crlf", "CRLF\r\n");
        c.cookie_file = path.data;
        assert_int_equal(config_read_cookie(&c, &cookie), 0);
        assert_string_equal(cookie.data, "CRLF");

        /* Refused: empty, blank first line, spaces, too large, missing. ret untouched. */
        write_at(&path, "empty", "");
        assert_int_equal(config_read_cookie(&c, &cookie), -EINVAL);
        write_at(&path, "blank", "\nCOOKIE\n");
        assert_int_equal(config_read_cookie(&c, &cookie), -EINVAL);
        write_at(&path, "spaced", "a b\n");
        assert_int_equal(config_read_cookie(&c, &cookie), -EINVAL);
        for (int i = 0; i < 4097; i++)
                buf_putc(&big, 'x');
        write_at(&path, "big", big.data);
        assert_int_equal(config_read_cookie(&c, &cookie), -EFBIG);
        buf_reset(&path);
        buf_printf(&path, "%s/nope", tmpdir);
        c.cookie_file = path.data;
        assert_int_equal(config_read_cookie(&c, &cookie), -ENOENT);
        c.cookie_file = NULL;
        assert_int_equal(config_read_cookie(&c, &cookie), -ENOENT); /* neither set */
        assert_string_equal(cookie.data, "CRLF");

        buf_release(&path);
        buf_release(&cookie);
        buf_release(&err);
        buf_release(&big);
}

/* ---- the DeployEx 0.3 environment mode ---- */

static void test_env_mode_defaults(void **state)
{
        struct buf err = BUF_INIT;
        struct config c;
        const struct app_config *a;

        (void)state;
        memset(&c, 0x5a, sizeof(c));
        assert_int_equal(config_from_env(&c, &err), -ENOENT);
        assert_int_equal(err.len, 0);

        setenv("DEPLOYEX_MONITORED_APP_NAME", "myphx", 1);
        setenv("DEPLOYEX_RELEASE_BUCKET", "releases-bkt", 1);
        if (config_from_env(&c, &err) != 0)
                fail_msg("%s", err.data);
        assert_string_equal(c.origin, "environment");
        assert_string_equal(c.source, "s3://releases-bkt");
        assert_string_equal(c.env, "prod");
        assert_null(c.cookie);
        assert_null(c.cookie_file);
        assert_null(c.http_listen);
        assert_false(c.has_tls);
        assert_null(c.tls_cert);
        assert_true(c.poll_interval_ms == 5000);
        assert_string_equal(c.var_path, "/var/lib/deployex");
        assert_int_equal(c.napps, 1);
        a = &c.apps[0];
        assert_string_equal(a->name, "myphx");
        assert_int_equal(a->language, LANG_ELIXIR);
        assert_int_equal(a->replicas, 3);
        assert_int_equal(a->nports, 1);
        assert_string_equal(a->ports[0].name, "PORT");
        assert_int_equal(a->ports[0].base, 4000);
        assert_true(a->rollback_timeout_ms == 600000);
        /* DeployEx's own default: environment mode keeps 30000 where a file gets 10000. */
        assert_true(a->healthy_after_ms == 30000);
        assert_true(a->max_probation_crashes == 3);
        config_release(&c);
        buf_release(&err);
}

static void test_env_mode_all_variables(void **state)
{
        struct buf err = BUF_INIT;
        struct config c;
        const struct app_config *a;

        (void)state;
        setenv("DEPLOYEX_MONITORED_APP_NAME", "calc", 1);
        setenv("DEPLOYEX_MONITORED_APP_LANG", "erlang", 1);
        setenv("DEPLOYEX_MONITORED_REPLICAS", "2", 1);
        setenv("DEPLOYEX_MONITORED_APP_PORT", "5000", 1);
        setenv("DEPLOYEX_PHX_PORT", "5001", 1); /* 5000-5001 is the app's: overlap */
        setenv("DEPLOYEX_RELEASE_ADAPTER", "gcp", 1);
        setenv("DEPLOYEX_RELEASE_BUCKET", "gbkt", 1);
        setenv("DEPLOYEX_CLOUD_ENVIRONMENT", "stage", 1);
        setenv("DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS", "120000", 1);
        setenv("DEPLOYEX_DEPLOY_SCHEDULE_INTERVAL_MS", "2500", 1);
        setenv("DEPLOYEX_ERLANG_COOKIE", "envcookie", 1);
        setenv("DEPLOYEX_ADMIN_HASHED_PASSWORD", HASH, 1);
        setenv("AWS_REGION", "eu-west-1", 1);
        setenv("GOOGLE_APPLICATION_CREDENTIALS", "/etc/gcp.json", 1);
        setenv("DEPLOYEX_OTP_TLS_CERT_PATH", "/usr/local/share/ca-certificates/", 1);
        assert_int_equal(config_from_env(&c, &err), -EINVAL);
        assert_non_null(strstr(err.data, "environment: DEPLOYEX_PHX_PORT: port 5001 is inside "
                                         "DEPLOYEX_MONITORED_APP_PORT 5000-5001 of app 'calc'"));

        buf_reset(&err);
        setenv("DEPLOYEX_PHX_PORT", "5100", 1);
        if (config_from_env(&c, &err) != 0)
                fail_msg("%s", err.data);
        assert_string_equal(c.source, "gs://gbkt");
        assert_string_equal(c.env, "stage");
        assert_true(c.poll_interval_ms == 2500);
        assert_string_equal(c.cookie, "envcookie");
        assert_string_equal(c.admin_password_hash, HASH);
        assert_string_equal(c.http_listen, "127.0.0.1:5100");
        assert_string_equal(c.aws_region, "eu-west-1");
        assert_string_equal(c.gcp_credentials, "/etc/gcp.json");
        /* DeployEx's certificate directory: its file names, one certificate for all. */
        assert_true(c.has_tls);
        assert_string_equal(c.tls_cert, "/usr/local/share/ca-certificates/deployex.crt");
        assert_string_equal(c.tls_key, "/usr/local/share/ca-certificates/deployex.key");
        assert_string_equal(c.tls_ca, "/usr/local/share/ca-certificates/ca.crt");
        a = &c.apps[0];
        assert_int_equal(a->language, LANG_ERLANG);
        assert_int_equal(a->replicas, 2);
        assert_int_equal(a->ports[0].base, 5000);
        assert_true(a->rollback_timeout_ms == 120000);
        config_release(&c);

        setenv("DEPLOYEX_RELEASE_ADAPTER", "local", 1);
        setenv("DEPLOYEX_RELEASE_BUCKET", "/srv/releases", 1);
        assert_int_equal(config_from_env(&c, &err), 0);
        assert_string_equal(c.source, "file:///srv/releases");
        config_release(&c);
        buf_release(&err);
}

struct env_case {
        const char *var;
        const char *value;
        const char *want;
};

static void test_env_mode_invalid_values(void **state)
{
        static const struct env_case cases[] = {
                { "DEPLOYEX_MONITORED_APP_NAME", "My-App", "environment: DEPLOYEX_MONITORED_APP_NAME: must match [a-z][a-z0-9_]{0,31}, got 'My-App'" },
                { "DEPLOYEX_MONITORED_APP_LANG", "python", "environment: DEPLOYEX_MONITORED_APP_LANG: must be \"elixir\", \"erlang\" or \"gleam\", got 'python'" },
                { "DEPLOYEX_MONITORED_REPLICAS", "-1", "environment: DEPLOYEX_MONITORED_REPLICAS: must be an integer from 0 to 100, got '-1'" },
                { "DEPLOYEX_MONITORED_REPLICAS", "3x", "DEPLOYEX_MONITORED_REPLICAS: must be an integer from 0 to 100, got '3x'" },
                { "DEPLOYEX_MONITORED_REPLICAS", "101", "DEPLOYEX_MONITORED_REPLICAS: must be an integer from 0 to 100" },
                { "DEPLOYEX_MONITORED_APP_PORT", "0", "DEPLOYEX_MONITORED_APP_PORT: must be an integer from 1 to 65535, got '0'" },
                { "DEPLOYEX_MONITORED_APP_PORT", "65534", "DEPLOYEX_MONITORED_APP_PORT: base 65534 with 3 replicas goes beyond port 65535" },
                { "DEPLOYEX_PHX_PORT", "http", "DEPLOYEX_PHX_PORT: must be an integer from 1 to 65535, got 'http'" },
                { "DEPLOYEX_RELEASE_ADAPTER", "azure", "DEPLOYEX_RELEASE_ADAPTER: must be \"s3\", \"gcp\" or \"local\", got 'azure'" },
                { "DEPLOYEX_RELEASE_BUCKET", "", "DEPLOYEX_RELEASE_BUCKET: required" },
                { "DEPLOYEX_RELEASE_BUCKET", "bad bucket", "DEPLOYEX_RELEASE_BUCKET: needs a bucket name" },
                { "DEPLOYEX_CLOUD_ENVIRONMENT", "a/b", "DEPLOYEX_CLOUD_ENVIRONMENT: must be 1 to 64 letters" },
                { "DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS", "0", "DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS: must be an integer from 1 to" },
                { "DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS", "1000", "environment: DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS: must be more than healthy_after_ms (30000), got 1000" },
                { "DEPLOYEX_DEPLOY_SCHEDULE_INTERVAL_MS", "1.5", "DEPLOYEX_DEPLOY_SCHEDULE_INTERVAL_MS: must be an integer from 100 to" },
                { "DEPLOYEX_ERLANG_COOKIE", "a cookie", "DEPLOYEX_ERLANG_COOKIE: must be 1 to 255 printable characters" },
                { "DEPLOYEX_ADMIN_HASHED_PASSWORD", "nothash", "DEPLOYEX_ADMIN_HASHED_PASSWORD: must be a bcrypt hash" },
                { "GOOGLE_APPLICATION_CREDENTIALS", "key.json", "GOOGLE_APPLICATION_CREDENTIALS: must be an absolute path" },
                { "DEPLOYEX_OTP_TLS_CERT_PATH", "certs", "environment: DEPLOYEX_OTP_TLS_CERT_PATH: must be an absolute path, got 'certs'" },
        };
        struct buf err = BUF_INIT;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct config c;
                int r;

                clear_env(NULL);
                setenv("DEPLOYEX_MONITORED_APP_NAME", "myapp", 1);
                setenv("DEPLOYEX_RELEASE_BUCKET", "bkt", 1);
                if (str_empty(cases[i].value))
                        unsetenv(cases[i].var);
                else
                        setenv(cases[i].var, cases[i].value, 1);
                buf_reset(&err);
                memset(&c, 0x5a, sizeof(c));
                r = config_from_env(&c, &err);
                if (r != -EINVAL || !strstr(err.data, cases[i].want))
                        fail_msg("case %zu (%s=%s): r=%d\n  want: %s\n  got:  %s", i, cases[i].var,
                                 cases[i].value, r, cases[i].want, err.data);
                assert_true(c.napps == (size_t)0x5a5a5a5a5a5a5a5aull);
                /* The cookie is never echoed. */
                assert_null(strstr(err.data, "a cookie"));
        }
        buf_release(&err);
}

/* ---- paths (DESIGN §4.4) ---- */

static void test_paths(void **state)
{
        struct config c;
        struct buf p = BUF_INIT;

        (void)state;
        memset(&c, 0, sizeof(c));
        c.var_path = "/var/lib/deployex/"; /* a trailing slash must not double */
        c.log_path = "/var/log/deployex";
        c.overrides_path = "/etc/deployex/overrides.d";

        path_state_dir(&c, "myapp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp");
        path_instances_dir(&c, "myapp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp/instances");
        path_instance_record(&c, "myapp", 2, &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp/instances/2.json");
        path_history(&c, "myapp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp/history.jsonl");
        path_ghosts(&c, "myapp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp/ghosts.json");
        path_journal(&c, "myapp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp/journal.json");
        path_desired(&c, "myapp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp/desired.json");
        path_last_override(&c, "myapp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/state/myapp/override.json");
        path_override(&c, "myapp", &p);
        assert_string_equal(p.data, "/etc/deployex/overrides.d/myapp.json");
        path_service_dir(&c, "myapp", 3, &p);
        assert_string_equal(p.data, "/var/lib/deployex/service/myapp/3");
        path_release_dir(&c, "myapp", 3, "current", &p);
        assert_string_equal(p.data, "/var/lib/deployex/service/myapp/3/current");
        path_release_dir(&c, "myapp", 1, "tmp", &p);
        assert_string_equal(p.data, "/var/lib/deployex/service/myapp/1/tmp");
        path_cache_file(&c, "myapp", "1.0.1", &p);
        assert_string_equal(p.data, "/var/lib/deployex/cache/myapp/myapp-1.0.1.tar.gz");
        path_log_file(&c, "myapp", 2, false, &p);
        assert_string_equal(p.data, "/var/log/deployex/myapp/myapp-2-stdout.log");
        path_log_file(&c, "myapp", 2, true, &p);
        assert_string_equal(p.data, "/var/log/deployex/myapp/myapp-2-stderr.log");
        path_pid_file(&c, &p);
        assert_string_equal(p.data, "/var/lib/deployex/run/deployex.pid");
        c.var_path = "/";
        path_pid_file(&c, &p);
        assert_string_equal(p.data, "/run/deployex.pid");
        buf_release(&p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_invalid_configs),
                cmocka_unit_test(test_reports_all_problems),
                cmocka_unit_test(test_cookie_never_echoed),
                cmocka_unit_test(test_minimal_config_gets_defaults),
                cmocka_unit_test(test_full_config),
                cmocka_unit_test(test_limits_sizes),
                cmocka_unit_test(test_metrics_textfile),
                cmocka_unit_test(test_fleet),
                cmocka_unit_test(test_name_and_version_rules),
                cmocka_unit_test_setup(test_load_file, clear_env),
                cmocka_unit_test_setup_teardown(test_config_load_order, clear_env, clear_env),
                cmocka_unit_test(test_read_cookie),
                cmocka_unit_test_setup_teardown(test_env_mode_defaults, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_env_mode_all_variables, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_env_mode_invalid_values, clear_env, clear_env),
                cmocka_unit_test(test_paths),
        };

        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
