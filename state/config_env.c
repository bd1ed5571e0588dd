/*
 * config_env: the environment form of the configuration (DESIGN §4.1), for
 * hosts moving from DeployEx 0.3: one app described by DEPLOYEX_MONITORED_*,
 * its bucket by DEPLOYEX_RELEASE_*, and the rest by DEPLOYEX_* variables.  It
 * builds the same struct config as the file form, with DeployEx's defaults
 * where they differ, and reports every bad variable at once, by its name
 * ("environment: DEPLOYEX_MONITORED_REPLICAS: must be ...").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state/config.h"
#include "state/config_check.h"
#include "base/banned.h"

/* DeployEx (environment mode) waited 30 s; its users keep that. */
#define ENV_HEALTHY_AFTER_MS 30000
/* The DeployEx 0.3 mode's defaults (they differ from the file form's). */
#define ENV_MODE_REPLICAS 3
#define ENV_MODE_PORT 4000

static const char *env_get(const char *name)
{
        const char *v = getenv(name);

        return str_empty(v) ? NULL : v;
}

/* An integer variable: absent leaves *ret alone; bad values name the variable. */
static bool env_uint(struct record_ctx *ck, const char *name, uint64_t min, uint64_t max, uint64_t *ret)
{
        const char *s = env_get(name);
        struct buf q = BUF_INIT;
        uint64_t v;

        if (!s)
                return true;
        if (parse_u64(s, &v) == 0 && v >= min && v <= max) {
                *ret = v;
                return true;
        }
        record_quote(&q, s);
        record_fail(ck, name, "must be an integer from %llu to %llu, got %s", (unsigned long long)min,
                    (unsigned long long)max, q.data);
        buf_release(&q);
        return false;
}

static void env_source(struct record_ctx *ck, struct config *c)
{
        const char *adapter = env_get("DEPLOYEX_RELEASE_ADAPTER");
        const char *bucket = env_get("DEPLOYEX_RELEASE_BUCKET");
        struct buf url = BUF_INIT, q = BUF_INIT;

        /* DeployEx's default storage was S3. */
        if (!adapter)
                adapter = "s3";
        if (str_eq(adapter, "s3")) {
                buf_puts(&url, "s3://");
        } else if (str_eq(adapter, "gcp") || str_eq(adapter, "gcs")) {
                buf_puts(&url, "gs://");
        } else if (str_eq(adapter, "local")) {
                buf_puts(&url, "file://");
        } else {
                record_quote(&q, adapter);
                record_fail(ck, "DEPLOYEX_RELEASE_ADAPTER", "must be \"s3\", \"gcp\" or \"local\", got %s",
                            q.data);
                goto out;
        }
        if (!bucket) {
                record_fail(ck, "DEPLOYEX_RELEASE_BUCKET", "required (the bucket name, or a directory for local)");
                goto out;
        }
        buf_puts(&url, bucket);
        if (config_check_source(ck, "DEPLOYEX_RELEASE_BUCKET", url.data))
                c->source = buf_detach(&url);
out:
        buf_release(&url);
        buf_release(&q);
}

/* A string variable with a value check; absent leaves *ret alone. */
static void env_string(struct record_ctx *ck, const char *name,
                       bool (*check)(struct record_ctx *, const char *, const char *), char **ret)
{
        const char *s = env_get(name);

        if (s && (!check || check(ck, name, s))) {
                free(*ret);
                *ret = xstrdup(s);
        }
}

/*
 * DeployEx's mutual TLS: DEPLOYEX_OTP_TLS_CERT_PATH names a directory holding
 * ca.crt, deployex.crt and deployex.key (its tls-distribution-certs layout),
 * the same certificate for DeployEx and its apps.  It becomes "tls".
 */
static void env_tls(struct record_ctx *ck, struct config *c)
{
        static const char *const files[] = { "deployex.crt", "deployex.key", "ca.crt" };
        char **dst[] = { &c->tls_cert, &c->tls_key, &c->tls_ca };
        const char *dir = env_get("DEPLOYEX_OTP_TLS_CERT_PATH");
        size_t n;

        if (!dir || !config_check_abs_path(ck, "DEPLOYEX_OTP_TLS_CERT_PATH", dir))
                return;
        n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
                n--;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                struct buf path = BUF_INIT;

                buf_printf(&path, "%.*s/%s", (int)n, dir, files[i]);
                free(*dst[i]);
                *dst[i] = buf_detach(&path);
        }
        c->has_tls = true;
}

int config_from_env(struct config *ret, struct buf *err)
{
        struct record_ctx ck = RECORD_CTX("environment", err);
        const char *name = env_get("DEPLOYEX_MONITORED_APP_NAME");
        const char *lang = env_get("DEPLOYEX_MONITORED_APP_LANG");
        const char *fields[1] = { "DEPLOYEX_MONITORED_APP_PORT" };
        struct config c;
        struct app_config *a;
        uint64_t replicas = ENV_MODE_REPLICAS, port = ENV_MODE_PORT, u;
        int listen_port = 0;
        bool replicas_ok, port_ok;

        if (!name)
                return -ENOENT;
        config_init(&c, "environment");
        c.apps = xcalloc(1, sizeof(*c.apps));
        c.napps = 1;
        a = &c.apps[0];
        config_app_init(a);
        a->healthy_after_ms = ENV_HEALTHY_AFTER_MS;

        if (config_check_app_name(&ck, "DEPLOYEX_MONITORED_APP_NAME", name))
                a->name = xstrdup(name);
        if (lang)
                config_check_language(&ck, "DEPLOYEX_MONITORED_APP_LANG", lang, &a->language);
        replicas_ok = env_uint(&ck, "DEPLOYEX_MONITORED_REPLICAS", 0, REPLICAS_MAX, &replicas);
        a->replicas = (int)replicas;
        port_ok = env_uint(&ck, "DEPLOYEX_MONITORED_APP_PORT", 1, 65535, &port);
        if (port_ok && replicas_ok && replicas > 0 && port + replicas - 1 > 65535) {
                record_fail(&ck, "DEPLOYEX_MONITORED_APP_PORT", "base %llu with %llu replicas goes beyond port 65535",
                            (unsigned long long)port, (unsigned long long)replicas);
                port_ok = false;
        }
        if (port_ok) {
                a->ports = xcalloc(1, sizeof(*a->ports));
                a->ports[0].name = xstrdup("PORT");
                a->ports[0].base = (int)port;
                a->nports = 1;
        }

        env_source(&ck, &c);
        env_string(&ck, "DEPLOYEX_CLOUD_ENVIRONMENT", config_check_env_segment, &c.env);
        env_uint(&ck, "DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS", 1, TIMEOUT_MAX_MS, &a->rollback_timeout_ms);
        env_uint(&ck, "DEPLOYEX_DEPLOY_SCHEDULE_INTERVAL_MS", POLL_INTERVAL_MIN_MS, POLL_INTERVAL_MAX_MS,
                 &c.poll_interval_ms);
        config_check_timeouts(&ck, a, NULL, "DEPLOYEX_DEPLOY_TIMEOUT_ROLLBACK_MS");
        /* Optional here: a secrets adapter may supply the cookie later. */
        env_string(&ck, "DEPLOYEX_ERLANG_COOKIE", config_check_cookie, &c.cookie);
        env_string(&ck, "DEPLOYEX_ADMIN_HASHED_PASSWORD", config_check_password_hash, &c.admin_password_hash);
        env_string(&ck, "AWS_REGION", NULL, &c.aws_region);
        env_string(&ck, "GOOGLE_APPLICATION_CREDENTIALS", config_check_abs_path, &c.gcp_credentials);
        env_tls(&ck, &c);

        /*
         * DeployEx served its own UI on DEPLOYEX_PHX_PORT.  Here it becomes the
         * admin UI's listen address, on loopback: exposing it is a decision for
         * a config file (or a reverse proxy), not a side effect of a port number.
         */
        u = 0;
        if (env_get("DEPLOYEX_PHX_PORT") && env_uint(&ck, "DEPLOYEX_PHX_PORT", 1, 65535, &u)) {
                struct buf listen = BUF_INIT;

                buf_printf(&listen, "127.0.0.1:%llu", (unsigned long long)u);
                c.http_listen = buf_detach(&listen);
                listen_port = (int)u;
        }
        if (a->name)
                config_check_port_overlaps(&ck, &c, fields, "DEPLOYEX_PHX_PORT", listen_port);

        if (ck.nerr) {
                config_release(&c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

