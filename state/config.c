/*
 * config: parse and validate the daemon's configuration (DESIGN §4.1) from
 * its JSON file, and the checks both forms share (config_check.h); the
 * DeployEx 0.3 environment variables are read by config_env.c.  See config.h.
 *
 * Validation never stops at the first problem: an operator fixing a config
 * wants every mistake in one `deployex check`.  Each problem is one line
 * "ORIGIN: FIELD: what is wrong, got VALUE"; FIELD is a JSON path
 * ("apps[0].replicas") or, in the environment mode, the variable's name.
 * Secrets (cookie, password hash) are never echoed back.
 */
#include "state/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/json.h"
#include "state/config_check.h"
#include "state/record.h"
#include "base/banned.h"

#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)

#define DEFAULT_ENV "prod"
#define DEFAULT_POLL_INTERVAL_MS 5000
#define DEFAULT_FLEET_HEARTBEAT_MS 5000
#define DEFAULT_FLEET_STALE_AFTER_MS 60000
#define DEFAULT_VAR_PATH "/var/lib/deployex"
#define DEFAULT_LOG_PATH "/var/log/deployex"
#define DEFAULT_OVERRIDES_PATH "/etc/deployex/overrides.d"
#define DEFAULT_LOG_MAX_BYTES (10 * MIB)
#define DEFAULT_LOG_KEEP 5
#define DEFAULT_MAX_RELEASE_BYTES GIB
#define DEFAULT_MAX_UNPACKED_BYTES (4 * GIB)

#define DEFAULT_REPLICAS 1
#define DEFAULT_HEALTHY_AFTER_MS 10000
#define DEFAULT_MAX_PROBATION_CRASHES 3
#define MAX_PROBATION_CRASHES_MAX 1000
#define DEFAULT_ROLLBACK_TIMEOUT_MS 600000
#define DEFAULT_STOP_TIMEOUT_MS 15000
#define DEFAULT_BACKOFF_INITIAL_MS 2000
#define DEFAULT_BACKOFF_MAX_MS 300000

#define LOG_MAX_BYTES_MIN 4096ull
#define LOG_KEEP_MAX 1000
#define SIZE_CAP_MAX (1ull << 50)
#define COOKIE_MAX 255
#define COOKIE_FILE_MAX 4096
#define ENV_SEGMENT_MAX 64

/* Variables deployex sets for every instance itself (DESIGN §5). */
static const char *const reserved_env[] = {
        "RELEASE_NODE",
        "RELEASE_COOKIE",
        "RELEASE_TMP",
        "RELEASE_DISTRIBUTION",
};

static const char *const top_keys[] = {
        "env", "source", "aws_region", "s3_endpoint", "gcs_endpoint", "gcp_credentials",
        "poll_interval_ms", "var_path", "log_path", "overrides_path", "cookie", "cookie_file",
        "tls", "http", "apps", "log_max_bytes", "log_keep", "max_release_bytes",
        "max_unpacked_bytes", "metrics_textfile", "fleet", "notify", NULL,
};

static const char *const fleet_keys[] = { "host", "canary", "canaries", "heartbeat_ms",
                                           "stale_after_ms", "soak_ms", NULL };

static const char *const app_keys[] = {
        "name", "language", "replicas", "ports", "env", "hooks", "healthy_after_ms",
        "rollback_timeout_ms", "stop_timeout_ms", "restart_backoff", "max_probation_crashes",
        "watchdog", "user", "group", "limits", NULL,
};
static const char *const limits_keys[] = { "memory_max", "tasks_max", NULL };
static const char *const watchdog_keys[] = { "interval_ms", "memory_mb", "processes_pct", "atoms_pct",
                                             "ports_pct", "action", NULL };
static const char *const notify_keys[] = { "url", "format", "events", "secret_file", NULL };
static const char *const notify_event_names[] = { "deployed", "rolled_back", "ghosted", "crash_loop",
                                                  "watchdog" };

const char *notify_event_to_string(enum notify_event e)
{
        for (size_t i = 0; i < ARRAY_SIZE(notify_event_names); i++)
                if (e == (enum notify_event)(1u << i))
                        return notify_event_names[i];
        return "unknown";
}

static const char *const tls_keys[] = { "cert", "key", "ca", NULL };
static const char *const http_keys[] = { "listen", "admin_password_hash", "tls_cert", "tls_key",
                                         "metrics", NULL };
static const char *const backoff_keys[] = { "initial_ms", "max_ms", NULL };

/* For an integer field, "got '3'" would hide that the quotes are the problem. */
static void describe_number(struct buf *out, yajl_val v)
{
        if (YAJL_IS_STRING(v))
                buf_puts(out, "the string ");
        record_describe_quoted(out, v);
}

/* A key from the input as part of a field path: bounded and without control bytes. */
static void put_key(struct buf *out, const char *key)
{
        const char *end = key + strnlen(key, 60);

        for (const char *p = key; p < end; p++)
                buf_putc(out, ((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p);
        if (*end)
                buf_puts(out, "...");
}

/* "prefix.key", or "key" at the top level. */
static void field_name(struct buf *out, const char *prefix, const char *key)
{
        buf_reset(out);
        if (!str_empty(prefix))
                buf_printf(out, "%s.", prefix);
        put_key(out, key);
}

/* ---- value checks shared by the file and the environment forms ---- */

static bool is_abs_path(const char *s)
{
        return s[0] == '/';
}

bool config_check_abs_path(struct record_ctx *ck, const char *field, const char *s)
{
        struct buf q = BUF_INIT;

        if (is_abs_path(s))
                return true;
        record_quote(&q, s);
        record_fail(ck, field, "must be an absolute path, got %s", q.data);
        buf_release(&q);
        return false;
}

/*
 * DESIGN §4.1: metrics_textfile names node_exporter's textfile collector
 * directory; the daemon writes deployex.prom in it.  A path ending in .prom
 * names the file itself (the collector reads only *.prom files).
 */
static bool ends_in_prom(const char *s)
{
        size_t n = strlen(s);

        return n >= 6 && strcmp(s + n - 5, ".prom") == 0;
}

static bool check_textfile(struct record_ctx *ck, const char *field, const char *s)
{
        struct stat st;

        if (!config_check_abs_path(ck, field, s))
                return false;
        if (!ends_in_prom(s) && stat(s, &st) == 0 && !S_ISDIR(st.st_mode)) {
                record_fail(ck, field, "is not a directory: name the textfile collector's directory, "
                                       "or a file ending in .prom (the collector reads only *.prom files)");
                return false;
        }
        return true;
}

/* Bucket names: S3's and GCS's rules differ in detail; both fit [A-Za-z0-9._-]. */
static bool bucket_is_valid(const char *b, size_t n)
{
        if (n == 0 || n > 222)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = b[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

/* A path segment of the bucket layout must not climb out of it. */
static bool has_dotdot_segment(const char *s)
{
        const char *p = s;

        while ((p = strstr(p, "..")) != NULL) {
                bool start = p == s || p[-1] == '/';
                bool end = p[2] == '\0' || p[2] == '/';

                if (start && end)
                        return true;
                p += 2;
        }
        return false;
}

bool config_check_source(struct record_ctx *ck, const char *field, const char *s)
{
        struct buf q = BUF_INIT;
        bool ok = true;

        record_quote(&q, s);
        if (strncmp(s, "file://", 7) == 0) {
                if (!is_abs_path(s + 7)) {
                        record_fail(ck, field, "file:// needs an absolute path (file:///srv/bucket), got %s",
                                    q.data);
                        ok = false;
                }
        } else if (strncmp(s, "s3://", 5) == 0 || strncmp(s, "gs://", 5) == 0) {
                const char *bucket = s + 5;
                size_t n = strcspn(bucket, "/");

                if (!bucket_is_valid(bucket, n)) {
                        record_fail(ck, field, "needs a bucket name of letters, digits, '.', '_' or '-' "
                                    "after %.5s, got %s", s, q.data);
                        ok = false;
                } else if (has_dotdot_segment(bucket + n) || strchr(bucket + n, '?') ||
                           strchr(bucket + n, '#')) {
                        record_fail(ck, field, "the prefix may not contain '..', '?' or '#', got %s", q.data);
                        ok = false;
                }
        } else {
                record_fail(ck, field, "must start with file://, s3:// or gs://, got %s", q.data);
                ok = false;
        }
        buf_release(&q);
        return ok;
}

/* env is the {env} segment of bucket paths: a plain name, never a path. */
bool config_check_env_segment(struct record_ctx *ck, const char *field, const char *s)
{
        size_t n = strlen(s);
        struct buf q = BUF_INIT;
        bool ok = n >= 1 && n <= ENV_SEGMENT_MAX && !str_eq(s, ".") && !str_eq(s, "..");

        for (size_t i = 0; ok && i < n; i++) {
                char c = s[i];

                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-';
        }
        if (!ok) {
                record_quote(&q, s);
                record_fail(ck, field, "must be 1 to %d letters, digits, '.', '_' or '-', got %s",
                            ENV_SEGMENT_MAX, q.data);
        }
        buf_release(&q);
        return ok;
}

static bool check_endpoint(struct record_ctx *ck, const char *field, const char *s)
{
        struct buf q = BUF_INIT;

        if ((strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8]))
                return true;
        record_quote(&q, s);
        record_fail(ck, field, "must be an http:// or https:// URL, got %s", q.data);
        buf_release(&q);
        return false;
}

static bool check_nonempty(struct record_ctx *ck, const char *field, const char *s)
{
        if (!str_empty(s))
                return true;
        record_fail(ck, field, "must not be empty");
        return false;
}

/*
 * The cookie reaches the instance through RELEASE_COOKIE and vm.args
 * ("-setcookie ${RELEASE_COOKIE}"): whitespace would split it there.
 */
static bool cookie_is_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > COOKIE_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c <= 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

bool config_check_cookie(struct record_ctx *ck, const char *field, const char *s)
{
        if (cookie_is_valid(s))
                return true;
        /* Never echo the value: it is a secret, even when malformed. */
        record_fail(ck, field, "must be 1 to %d printable characters without spaces", COOKIE_MAX);
        return false;
}

bool config_check_password_hash(struct record_ctx *ck, const char *field, const char *s)
{
        if ((strncmp(s, "$2b$", 4) == 0 || strncmp(s, "$2y$", 4) == 0) && strlen(s) == 60)
                return true;
        record_fail(ck, field, "must be a bcrypt hash ($2b$... or $2y$..., 60 characters; "
                    "see `deployex hash-password`)");
        return false;
}

/* "host:port" or "[v6]:port"; the port into *ret_port. */
static bool check_listen(struct record_ctx *ck, const char *field, const char *s, int *ret_port)
{
        const char *colon;
        struct buf q = BUF_INIT;
        uint64_t port;
        bool ok;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');

                colon = close && close > s + 1 && close[1] == ':' ? close + 1 : NULL;
        } else {
                colon = strrchr(s, ':');
                if (colon && (colon == s || memchr(s, ':', (size_t)(colon - s))))
                        colon = NULL;
        }
        ok = colon && parse_u64(colon + 1, &port) == 0 && port >= 1 && port <= 65535;
        if (ok) {
                *ret_port = (int)port;
        } else {
                record_quote(&q, s);
                record_fail(ck, field, "must be \"host:port\" (e.g. \"127.0.0.1:5001\") with a port "
                            "from 1 to 65535, got %s", q.data);
        }
        buf_release(&q);
        return ok;
}

static bool port_name_is_valid(const char *s)
{
        if (!((s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

static bool env_name_is_valid(const char *s)
{
        if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '_'))
                        return false;
        return true;
}

static bool is_reserved_env(const char *s)
{
        for (size_t i = 0; i < ARRAY_SIZE(reserved_env); i++)
                if (str_eq(reserved_env[i], s))
                        return true;
        return false;
}

bool config_check_app_name(struct record_ctx *ck, const char *field, const char *s)
{
        struct buf q = BUF_INIT;

        if (app_name_is_valid(s))
                return true;
        record_quote(&q, s);
        record_fail(ck, field, "must match [a-z][a-z0-9_]{0,%d}, got %s", APP_NAME_MAX - 1, q.data);
        buf_release(&q);
        return false;
}

/* A user or group name as useradd(8) accepts it: no path, shell or JSON surprises. */
static bool check_account_name(struct record_ctx *ck, const char *field, const char *s)
{
        struct buf q = BUF_INIT;
        size_t n = strlen(s);
        bool ok = n > 0 && n <= 32 && s[0] != '-';

        for (size_t i = 0; ok && i < n; i++)
                ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.';
        if (ok)
                return true;
        record_quote(&q, s);
        record_fail(ck, field, "must be a user or group name ([A-Za-z0-9._-], at most 32, not "
                    "starting with '-'), got %s", q.data);
        buf_release(&q);
        return false;
}

bool config_check_language(struct record_ctx *ck, const char *field, const char *s, enum language *ret)
{
        struct buf q = BUF_INIT;

        if (language_from_string(s, ret) == 0)
                return true;
        record_quote(&q, s);
        record_fail(ck, field, "must be \"elixir\", \"erlang\" or \"gleam\", got %s", q.data);
        buf_release(&q);
        return false;
}

/* ---- JSON accessors: type checks, then the value checks above ---- */

/* Optional keys: absent and null both mean "not set". */
static yajl_val member(yajl_val obj, const char *key)
{
        yajl_val v = json_get(obj, key);

        return (v && YAJL_IS_NULL(v)) ? NULL : v;
}

static bool j_string(struct record_ctx *ck, yajl_val v, const char *field, const char **ret)
{
        struct buf d = BUF_INIT;

        if (YAJL_IS_STRING(v)) {
                *ret = v->u.string;
                return true;
        }
        record_describe_quoted(&d, v);
        record_fail(ck, field, "must be a string, got %s", d.data);
        buf_release(&d);
        return false;
}

static bool j_uint(struct record_ctx *ck, yajl_val v, const char *field, uint64_t min, uint64_t max,
                   uint64_t *ret)
{
        struct buf d = BUF_INIT;

        if (YAJL_IS_INTEGER(v) && v->u.number.i >= 0 && (uint64_t)v->u.number.i >= min &&
            (uint64_t)v->u.number.i <= max) {
                *ret = (uint64_t)v->u.number.i;
                return true;
        }
        describe_number(&d, v);
        record_fail(ck, field, "must be an integer from %llu to %llu, got %s", (unsigned long long)min,
                    (unsigned long long)max, d.data);
        buf_release(&d);
        return false;
}

static bool j_object(struct record_ctx *ck, yajl_val v, const char *field)
{
        struct buf d = BUF_INIT;

        if (YAJL_IS_OBJECT(v))
                return true;
        record_describe_quoted(&d, v);
        record_fail(ck, field, "must be an object, got %s", d.data);
        buf_release(&d);
        return false;
}

/* Optional string member into *ret (a copy), with an extra check. */
static void opt_string(struct record_ctx *ck, yajl_val obj, const char *prefix, const char *key,
                       bool (*check)(struct record_ctx *, const char *, const char *), char **ret)
{
        struct buf field = BUF_INIT;
        yajl_val v = member(obj, key);
        const char *s;

        field_name(&field, prefix, key);
        if (v && j_string(ck, v, field.data, &s) && check_nonempty(ck, field.data, s) &&
            (!check || check(ck, field.data, s))) {
                free(*ret);
                *ret = xstrdup(s);
        }
        buf_release(&field);
}

static void parse_textfile(struct record_ctx *ck, yajl_val root, struct config *c)
{
        struct buf path = BUF_INIT;

        opt_string(ck, root, "", "metrics_textfile", check_textfile, &c->metrics_textfile);
        if (!c->metrics_textfile || ends_in_prom(c->metrics_textfile))
                return;
        buf_printf(&path, "%s%s" METRICS_TEXTFILE_NAME, c->metrics_textfile,
                   c->metrics_textfile[strlen(c->metrics_textfile) - 1] == '/' ? "" : "/");
        free(c->metrics_textfile);
        c->metrics_textfile = buf_detach(&path);
}

static void opt_uint(struct record_ctx *ck, yajl_val obj, const char *prefix, const char *key, uint64_t min,
                     uint64_t max, uint64_t *ret)
{
        struct buf field = BUF_INIT;
        yajl_val v = member(obj, key);

        field_name(&field, prefix, key);
        if (v)
                j_uint(ck, v, field.data, min, max, ret);
        buf_release(&field);
}

/*
 * A size as cgroup's memory.max takes it: "512M", "1G", "1536K", "2T", or
 * a plain count of bytes ("1073741824" or the integer itself); K, M, G, T
 * are powers of 1024.  Below min (1M) is refused: "512" is 512 bytes,
 * almost certainly meant as megabytes.
 */
#define MEMORY_MAX_MIN (1ULL << 20)

static int parse_size(const char *s, uint64_t *ret)
{
        static const char units[] = "KMGT";
        uint64_t n = 0, scale = 1;
        const char *p = s, *u;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (n > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                n = n * 10 + (uint64_t)(*p - '0');
        }
        if (*p) {
                if (p[1] || !(u = strchr(units, *p)))
                        return -EINVAL;
                for (const char *k = units; k <= u; k++)
                        scale *= 1024;
        }
        if (n > UINT64_MAX / scale)
                return -ERANGE;
        *ret = n * scale;
        return 0;
}

static void opt_size(struct record_ctx *ck, yajl_val obj, const char *prefix, const char *key, uint64_t min,
                     uint64_t *ret)
{
        struct buf field = BUF_INIT;
        yajl_val v = member(obj, key);
        uint64_t n;

        field_name(&field, prefix, key);
        if (!v)
                goto out;
        if (YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0) {
                n = (uint64_t)YAJL_GET_INTEGER(v);
        } else if (!YAJL_IS_STRING(v) || parse_size(YAJL_GET_STRING(v), &n) < 0) {
                record_fail(ck, field.data, "must be a size such as \"512M\" or \"2G\" (K, M, G, T: "
                                            "powers of 1024; a bare number counts bytes)");
                goto out;
        }
        if (n < min)
                record_fail(ck, field.data, "must be at least 1M; a bare number counts bytes (write \"%llu"
                                           "M\" for megabytes)", (unsigned long long)n);
        else
                *ret = n;
out:
        buf_release(&field);
}

/* ---- building the struct ---- */

void config_app_init(struct app_config *a)
{
        memset(a, 0, sizeof(*a));
        a->language = LANG_ELIXIR;
        a->replicas = DEFAULT_REPLICAS;
        a->healthy_after_ms = DEFAULT_HEALTHY_AFTER_MS;
        a->rollback_timeout_ms = DEFAULT_ROLLBACK_TIMEOUT_MS;
        a->max_probation_crashes = DEFAULT_MAX_PROBATION_CRASHES;
        a->stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS;
        a->backoff_initial_ms = DEFAULT_BACKOFF_INITIAL_MS;
        a->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
}

static void app_release(struct app_config *a)
{
        free(a->name);
        for (size_t i = 0; i < a->nports; i++)
                free(a->ports[i].name);
        free(a->ports);
        for (size_t i = 0; i < a->nenv; i++) {
                free(a->env[i].key);
                free(a->env[i].value);
        }
        free(a->env);
        free(a->hooks);
        free(a->user);
        free(a->group);
        free(a->ids);
        memset(a, 0, sizeof(*a));
}

void config_init(struct config *c, const char *origin)
{
        memset(c, 0, sizeof(*c));
        c->origin = xstrdup(origin);
        c->env = xstrdup(DEFAULT_ENV);
        c->poll_interval_ms = DEFAULT_POLL_INTERVAL_MS;
        c->var_path = xstrdup(DEFAULT_VAR_PATH);
        c->log_path = xstrdup(DEFAULT_LOG_PATH);
        c->overrides_path = xstrdup(DEFAULT_OVERRIDES_PATH);
        c->log_max_bytes = DEFAULT_LOG_MAX_BYTES;
        c->log_keep = DEFAULT_LOG_KEEP;
        c->max_release_bytes = DEFAULT_MAX_RELEASE_BYTES;
        c->max_unpacked_bytes = DEFAULT_MAX_UNPACKED_BYTES;
}

void config_release(struct config *c)
{
        if (!c)
                return;
        free(c->origin);
        free(c->env);
        free(c->source);
        free(c->aws_region);
        free(c->s3_endpoint);
        free(c->gcs_endpoint);
        free(c->gcp_credentials);
        free(c->metrics_textfile);
        for (size_t i = 0; i < c->nnotify; i++) {
                free(c->notify[i].url);
                free(c->notify[i].secret_file);
        }
        free(c->notify);
        free(c->var_path);
        free(c->log_path);
        free(c->overrides_path);
        if (c->cookie) {
                /* Do not leave the secret in freed heap memory. */
                explicit_bzero(c->cookie, strlen(c->cookie));
                free(c->cookie);
        }
        free(c->cookie_file);
        free(c->tls_cert);
        free(c->tls_key);
        free(c->tls_ca);
        free(c->fleet_host);
        free(c->http_listen);
        free(c->http_tls_cert);
        free(c->http_tls_key);
        free(c->admin_password_hash);
        for (size_t i = 0; i < c->napps; i++)
                app_release(&c->apps[i]);
        free(c->apps);
        memset(c, 0, sizeof(*c));
}

/* ---- cross-field checks (both forms) ---- */

/*
 * Otherwise no deployment can ever become ready before it is rolled back.
 * The file form blames healthy_after_ms; the environment form can only set
 * the rollback timeout, so it blames that.
 */
void config_check_timeouts(struct record_ctx *ck, const struct app_config *a, const char *healthy_field,
                           const char *rollback_field)
{
        if (a->healthy_after_ms < a->rollback_timeout_ms)
                return;
        if (healthy_field)
                record_fail(ck, healthy_field, "must be less than rollback_timeout_ms (%llu), got %llu",
                            (unsigned long long)a->rollback_timeout_ms,
                            (unsigned long long)a->healthy_after_ms);
        else
                record_fail(ck, rollback_field, "must be more than healthy_after_ms (%llu), got %llu",
                            (unsigned long long)a->healthy_after_ms,
                            (unsigned long long)a->rollback_timeout_ms);
}

/* Where each port range comes from, for messages naming both sides. */
struct range_owner {
        size_t app;
        const char *field; /* "apps[0].ports.PORT" or a variable name */
        int first, last;
};

/* No two (app, port name) ranges may share a port, nor the admin UI's listen port. */
void config_check_port_overlaps(struct record_ctx *ck, const struct config *c, const char *const *fields,
                                const char *listen_field, int listen_port)
{
        struct range_owner *r = NULL;
        size_t n = 0, cap = 0;

        for (size_t i = 0, k = 0; i < c->napps; i++) {
                const struct app_config *a = &c->apps[i];

                for (size_t j = 0; j < a->nports; j++, k++) {
                        if (a->replicas == 0 || !fields[k])
                                continue;
                        xgrow((void **)&r, &cap, n + 1, sizeof(*r));
                        r[n].app = i;
                        r[n].field = fields[k];
                        r[n].first = a->ports[j].base;
                        r[n].last = a->ports[j].base + a->replicas - 1;
                        n++;
                }
        }
        for (size_t j = 1; j < n; j++) {
                for (size_t i = 0; i < j; i++) {
                        if (r[j].first > r[i].last || r[i].first > r[j].last)
                                continue;
                        if (r[i].app == r[j].app)
                                record_fail(ck, r[j].field, "ports %d-%d overlap %s %d-%d", r[j].first,
                                            r[j].last, r[i].field, r[i].first, r[i].last);
                        else
                                record_fail(ck, r[j].field, "ports %d-%d of app '%s' overlap %s %d-%d of app '%s'",
                                            r[j].first, r[j].last, c->apps[r[j].app].name, r[i].field,
                                            r[i].first, r[i].last, c->apps[r[i].app].name);
                }
        }
        for (size_t i = 0; listen_port > 0 && i < n; i++)
                if (listen_port >= r[i].first && listen_port <= r[i].last)
                        record_fail(ck, listen_field, "port %d is inside %s %d-%d of app '%s'", listen_port,
                                    r[i].field, r[i].first, r[i].last, c->apps[r[i].app].name);
        free(r);
}

/* ---- the file form ---- */

/* apps[i].ports: NAME -> base port, each replica n getting base + n - 1. */
static void parse_app_ports(struct record_ctx *ck, yajl_val x, const char *where, bool replicas_ok,
                            struct app_config *a)
{
        struct buf field = BUF_INIT, q = BUF_INIT;
        uint64_t u;

        a->ports = xcalloc(x->u.object.len, sizeof(*a->ports));
        for (size_t i = 0; i < x->u.object.len; i++) {
                const char *name = x->u.object.keys[i];
                yajl_val pv = x->u.object.values[i];
                bool dup = false;

                buf_reset(&field);
                buf_printf(&field, "%s.ports.", where);
                put_key(&field, name);
                for (size_t j = 0; j < a->nports; j++)
                        dup = dup || str_eq(a->ports[j].name, name);
                buf_reset(&q);
                record_quote(&q, name);
                if (dup) {
                        record_fail(ck, field.data, "duplicate port name");
                        continue;
                }
                if (!port_name_is_valid(name)) {
                        record_fail(ck, field.data, "a port name must match [A-Z_][A-Z0-9_]*, got %s",
                                    q.data);
                        continue;
                }
                if (is_reserved_env(name)) {
                        record_fail(ck, field.data, "%s is set by deployex itself", q.data);
                        continue;
                }
                if (!j_uint(ck, pv, field.data, 1, 65535, &u))
                        continue;
                if (replicas_ok && a->replicas > 0 && u + (uint64_t)a->replicas - 1 > 65535) {
                        record_fail(ck, field.data, "base %llu with %d replicas goes beyond port 65535",
                                    (unsigned long long)u, a->replicas);
                        continue;
                }
                a->ports[a->nports].name = xstrdup(name);
                a->ports[a->nports].base = (int)u;
                a->nports++;
        }
        buf_release(&field);
        buf_release(&q);
}

/* apps[i].env: NAME -> value, neither a port's name nor one deployex sets. */
static void parse_app_env(struct record_ctx *ck, yajl_val x, const char *where, struct app_config *a)
{
        struct buf field = BUF_INIT, q = BUF_INIT;
        const char *s;

        a->env = xcalloc(x->u.object.len, sizeof(*a->env));
        for (size_t i = 0; i < x->u.object.len; i++) {
                const char *key = x->u.object.keys[i];
                yajl_val ev = x->u.object.values[i];
                bool dup = false, is_port = false;

                buf_reset(&field);
                buf_printf(&field, "%s.env.", where);
                put_key(&field, key);
                buf_reset(&q);
                record_quote(&q, key);
                for (size_t j = 0; j < a->nenv; j++)
                        dup = dup || str_eq(a->env[j].key, key);
                for (size_t j = 0; j < a->nports; j++)
                        is_port = is_port || str_eq(a->ports[j].name, key);
                if (dup) {
                        record_fail(ck, field.data, "duplicate variable");
                        continue;
                }
                if (!env_name_is_valid(key)) {
                        record_fail(ck, field.data, "a variable name must match [A-Za-z_][A-Za-z0-9_]*, got %s",
                                    q.data);
                        continue;
                }
                if (is_reserved_env(key)) {
                        record_fail(ck, field.data, "%s is set by deployex itself", q.data);
                        continue;
                }
                if (is_port) {
                        record_fail(ck, field.data, "%s is already set by ports", q.data);
                        continue;
                }
                if (!j_string(ck, ev, field.data, &s))
                        continue;
                a->env[a->nenv].key = xstrdup(key);
                a->env[a->nenv].value = xstrdup(s);
                a->nenv++;
        }
        buf_release(&field);
        buf_release(&q);
}

/* apps[i].healthy_after_ms, rollback_timeout_ms, stop_timeout_ms, max_probation_crashes. */
static void parse_app_timeouts(struct record_ctx *ck, yajl_val v, const char *where,
                               struct app_config *a)
{
        struct buf field = BUF_INIT;
        uint64_t crashes = a->max_probation_crashes;

        opt_uint(ck, v, where, "healthy_after_ms", 0, TIMEOUT_MAX_MS, &a->healthy_after_ms);
        opt_uint(ck, v, where, "rollback_timeout_ms", 1, TIMEOUT_MAX_MS, &a->rollback_timeout_ms);
        opt_uint(ck, v, where, "stop_timeout_ms", 1, TIMEOUT_MAX_MS, &a->stop_timeout_ms);
        opt_uint(ck, v, where, "max_probation_crashes", 1, MAX_PROBATION_CRASHES_MAX, &crashes);
        a->max_probation_crashes = (uint32_t)crashes;
        field_name(&field, where, "healthy_after_ms");
        config_check_timeouts(ck, a, field.data, NULL);
        buf_release(&field);
}

/* apps[i].restart_backoff: {initial_ms, max_ms}. */
static void parse_app_backoff(struct record_ctx *ck, yajl_val x, const char *field,
                              struct app_config *a)
{
        struct buf sub = BUF_INIT;
        int before = ck->nerr;

        buf_puts(&sub, field);
        record_check_keys(ck, x, sub.data, backoff_keys);
        /* 0: the first crash restarts at once, then 1, 2, 4 ... ms (backoff.h). */
        opt_uint(ck, x, sub.data, "initial_ms", 0, TIMEOUT_MAX_MS, &a->backoff_initial_ms);
        opt_uint(ck, x, sub.data, "max_ms", 1, TIMEOUT_MAX_MS, &a->backoff_max_ms);
        if (ck->nerr == before && a->backoff_initial_ms > a->backoff_max_ms)
                record_fail(ck, sub.data, "initial_ms (%llu) must not exceed max_ms (%llu)",
                            (unsigned long long)a->backoff_initial_ms,
                            (unsigned long long)a->backoff_max_ms);
        buf_release(&sub);
}

/* apps[i].watchdog: thresholds over the VM's probes, and what to do past them. */
static void parse_app_watchdog(struct record_ctx *ck, yajl_val x, const char *field,
                               struct app_config *a)
{
        struct watchdog_config *w = &a->watchdog;
        struct buf sub = BUF_INIT;
        yajl_val act;
        const char *name;

        buf_puts(&sub, field);
        record_check_keys(ck, x, sub.data, watchdog_keys);
        w->set = true;
        w->interval_ms = 5000;
        opt_uint(ck, x, sub.data, "interval_ms", 1000, TIMEOUT_MAX_MS, &w->interval_ms);
        opt_uint(ck, x, sub.data, "memory_mb", 1, 1ULL << 30, &w->memory_mb);
        opt_uint(ck, x, sub.data, "processes_pct", 1, 100, &w->processes_pct);
        opt_uint(ck, x, sub.data, "atoms_pct", 1, 100, &w->atoms_pct);
        opt_uint(ck, x, sub.data, "ports_pct", 1, 100, &w->ports_pct);
        act = member(x, "action");
        buf_puts(&sub, ".action");
        if (act && j_string(ck, act, sub.data, &name)) {
                if (strcmp(name, "restart") == 0)
                        w->restart = true;
                else if (strcmp(name, "warn") != 0)
                        record_fail(ck, sub.data, "must be \"warn\" or \"restart\"");
        }
        buf_release(&sub);
}

static void parse_app(struct record_ctx *ck, yajl_val v, size_t idx, struct app_config *a)
{
        struct buf where = BUF_INIT, field = BUF_INIT;
        yajl_val x;
        const char *s;
        uint64_t u;
        bool replicas_ok = true;

        buf_printf(&where, "apps[%zu]", idx);
        config_app_init(a);
        if (!j_object(ck, v, where.data))
                goto out;
        record_check_keys(ck, v, where.data, app_keys);

        field_name(&field, where.data, "name");
        x = member(v, "name");
        if (!x)
                record_fail(ck, field.data, "required");
        else if (j_string(ck, x, field.data, &s) && config_check_app_name(ck, field.data, s))
                a->name = xstrdup(s);

        field_name(&field, where.data, "language");
        x = member(v, "language");
        if (!x)
                record_fail(ck, field.data, "required (\"elixir\", \"erlang\" or \"gleam\")");
        else if (j_string(ck, x, field.data, &s))
                config_check_language(ck, field.data, s, &a->language);

        field_name(&field, where.data, "replicas");
        x = member(v, "replicas");
        if (x) {
                replicas_ok = j_uint(ck, x, field.data, 0, REPLICAS_MAX, &u);
                if (replicas_ok)
                        a->replicas = (int)u;
        }

        field_name(&field, where.data, "ports");
        x = member(v, "ports");
        if (x && j_object(ck, x, field.data))
                parse_app_ports(ck, x, where.data, replicas_ok, a);
        field_name(&field, where.data, "env");
        x = member(v, "env");
        if (x && j_object(ck, x, field.data))
                parse_app_env(ck, x, where.data, a);

        opt_string(ck, v, where.data, "hooks", config_check_abs_path, &a->hooks);
        opt_string(ck, v, where.data, "user", check_account_name, &a->user);
        opt_string(ck, v, where.data, "group", check_account_name, &a->group);
        if (a->group && !a->user)
                record_fail(ck, where.data, "group is set but user is not; set user too (group "
                            "defaults to the user's primary group)");
        parse_app_timeouts(ck, v, where.data, a);

        field_name(&field, where.data, "restart_backoff");
        x = member(v, "restart_backoff");
        if (x && j_object(ck, x, field.data))
                parse_app_backoff(ck, x, field.data, a);
        field_name(&field, where.data, "limits");
        x = member(v, "limits");
        if (x && j_object(ck, x, field.data)) {
                record_check_keys(ck, x, field.data, limits_keys);
                opt_size(ck, x, field.data, "memory_max", MEMORY_MAX_MIN, &a->limit_memory_bytes);
                opt_uint(ck, x, field.data, "tasks_max", 1, 1ULL << 22, &a->limit_tasks);
        }
        field_name(&field, where.data, "watchdog");
        x = member(v, "watchdog");
        if (x && j_object(ck, x, field.data))
                parse_app_watchdog(ck, x, field.data, a);
out:
        buf_release(&where);
        buf_release(&field);
}

/* "notify": [{"url", "format", "events", "secret_file"}, ...] */
static void parse_notify(struct record_ctx *ck, yajl_val v, struct config *c)
{
        struct buf field = BUF_INIT;

        if (!YAJL_IS_ARRAY(v)) {
                record_fail(ck, "notify", "must be an array of objects");
                return;
        }
        c->notify = xcalloc(v->u.array.len + 1, sizeof(*c->notify));
        for (size_t i = 0; i < v->u.array.len; i++) {
                yajl_val o = v->u.array.values[i], x;
                struct notify_target *t = &c->notify[c->nnotify++];
                const char *s;
                char where[32];

                snprintf(where, sizeof(where), "notify[%zu]", i);
                t->events = NOTIFY_ALL;
                if (!j_object(ck, o, where))
                        continue;
                record_check_keys(ck, o, where, notify_keys);
                field_name(&field, where, "url");
                x = member(o, "url");
                if (!x)
                        record_fail(ck, field.data, "required (http:// or https://)");
                else if (j_string(ck, x, field.data, &s)) {
                        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
                                record_fail(ck, field.data, "must start with http:// or https://");
                        else
                                t->url = xstrdup(s);
                }
                field_name(&field, where, "format");
                x = member(o, "format");
                if (x && j_string(ck, x, field.data, &s)) {
                        if (strcmp(s, "slack") == 0)
                                t->slack = true;
                        else if (strcmp(s, "json") != 0)
                                record_fail(ck, field.data, "must be \"json\" or \"slack\"");
                }
                field_name(&field, where, "events");
                x = member(o, "events");
                if (x && !YAJL_IS_ARRAY(x)) {
                        record_fail(ck, field.data, "must be an array of event names");
                } else if (x) {
                        t->events = 0;
                        for (size_t k = 0; k < x->u.array.len; k++) {
                                yajl_val e = x->u.array.values[k];
                                unsigned bit = 0;

                                for (size_t j = 0; YAJL_IS_STRING(e) && j < ARRAY_SIZE(notify_event_names); j++)
                                        if (strcmp(e->u.string, notify_event_names[j]) == 0)
                                                bit = 1u << j;
                                if (!bit)
                                        record_fail(ck, field.data, "unknown event (deployed, rolled_back, "
                                                    "ghosted, crash_loop, watchdog)");
                                t->events |= bit;
                        }
                }
                field_name(&field, where, "secret_file");
                x = member(o, "secret_file");
                if (!x)
                        record_fail(ck, field.data, "required: the HMAC-SHA256 key that signs each POST");
                else
                        opt_string(ck, o, where, "secret_file", config_check_abs_path, &t->secret_file);
        }
        buf_release(&field);
}

static void parse_tls(struct record_ctx *ck, yajl_val v, struct config *c)
{
        static const char *const names[] = { "cert", "key", "ca" };
        char **dst[] = { &c->tls_cert, &c->tls_key, &c->tls_ca };
        struct buf field = BUF_INIT;

        if (!j_object(ck, v, "tls"))
                return;
        record_check_keys(ck, v, "tls", tls_keys);
        /* mTLS needs all three: our identity and the CA that vouches for the peers. */
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                field_name(&field, "tls", names[i]);
                if (!member(v, names[i]))
                        record_fail(ck, field.data, "required when \"tls\" is set");
                else
                        opt_string(ck, v, "tls", names[i], config_check_abs_path, dst[i]);
        }
        c->has_tls = c->tls_cert && c->tls_key && c->tls_ca;
        buf_release(&field);
}

/* 127.0.0.0/8, [::1] or localhost: the admin UI may listen there without TLS. */
static bool listen_is_loopback(const char *listen)
{
        return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0 ||
               strncmp(listen, "localhost:", 10) == 0;
}

static int parse_http(struct record_ctx *ck, yajl_val v, struct config *c)
{
        const char *s;
        yajl_val x;
        int port = 0;

        if (!j_object(ck, v, "http"))
                return 0;
        record_check_keys(ck, v, "http", http_keys);
        x = member(v, "listen");
        if (!x)
                record_fail(ck, "http.listen", "required when \"http\" is set");
        else if (j_string(ck, x, "http.listen", &s) && check_listen(ck, "http.listen", s, &port))
                c->http_listen = xstrdup(s);
        x = member(v, "admin_password_hash");
        if (x && j_string(ck, x, "http.admin_password_hash", &s) &&
            config_check_password_hash(ck, "http.admin_password_hash", s))
                c->admin_password_hash = xstrdup(s);
        opt_string(ck, v, "http", "tls_cert", config_check_abs_path, &c->http_tls_cert);
        opt_string(ck, v, "http", "tls_key", config_check_abs_path, &c->http_tls_key);
        x = member(v, "metrics");
        if (x && j_string(ck, x, "http.metrics", &s)) {
                if (strcmp(s, "login") == 0)
                        c->http_metrics = HTTP_METRICS_LOGIN;
                else if (strcmp(s, "public") == 0)
                        c->http_metrics = HTTP_METRICS_PUBLIC;
                else if (strcmp(s, "off") == 0)
                        c->http_metrics = HTTP_METRICS_OFF;
                else
                        record_fail(ck, "http.metrics", "must be \"login\", \"public\" or \"off\"");
        }
        if (!c->http_tls_cert != !c->http_tls_key)
                record_fail(ck, "http.tls_cert", "http.tls_cert and http.tls_key go together");
        /* Anything but loopback is reachable by others: only over HTTPS. */
        if (c->http_listen && !listen_is_loopback(c->http_listen) && !c->http_tls_cert)
                record_fail(ck, "http.listen", "%s is not a loopback address: set http.tls_cert and "
                            "http.tls_key (HTTPS), or listen on 127.0.0.1", c->http_listen);
        return c->http_listen ? port : 0;
}

/* A host name as it appears in slot files: [A-Za-z0-9._-]{1,63}. */
static bool check_fleet_host(struct record_ctx *ck, const char *field, const char *s)
{
        size_t n = strlen(s);

        if (n <= 63 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n)
                return true;
        record_fail(ck, field, "must be 1 to 63 of A-Z a-z 0-9 . _ -, got '%.80s'", s);
        return false;
}

static bool opt_bool(struct record_ctx *ck, yajl_val obj, const char *field, const char *key, bool *ret)
{
        yajl_val v = member(obj, key);

        if (!v)
                return false;
        if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
                *ret = YAJL_IS_TRUE(v);
                return true;
        }
        record_fail(ck, field, "must be true or false");
        return false;
}

static void parse_fleet(struct record_ctx *ck, yajl_val v, struct config *c)
{
        char host[256];

        if (!j_object(ck, v, "fleet"))
                return;
        record_check_keys(ck, v, "fleet", fleet_keys);
        c->has_fleet = true;
        c->fleet_heartbeat_ms = DEFAULT_FLEET_HEARTBEAT_MS;
        c->fleet_stale_after_ms = DEFAULT_FLEET_STALE_AFTER_MS;
        c->fleet_soak_ms = 0;
        opt_string(ck, v, "fleet", "host", check_fleet_host, &c->fleet_host);
        if (!c->fleet_host) {
                /* The short hostname, as node names use it. */
                if (gethostname(host, sizeof(host)) < 0)
                        host[0] = '\0';
                host[sizeof(host) - 1] = '\0';
                host[strcspn(host, ".")] = '\0';
                if (host[0] && check_fleet_host(ck, "fleet.host", host))
                        c->fleet_host = xstrdup(host);
                else if (!host[0])
                        record_fail(ck, "fleet.host", "the hostname is empty: set fleet.host");
        }
        (void)opt_bool(ck, v, "fleet.canary", "canary", &c->fleet_canary);
        (void)opt_bool(ck, v, "fleet.canaries", "canaries", &c->fleet_canaries);
        c->fleet_canaries = c->fleet_canaries || c->fleet_canary;
        opt_uint(ck, v, "fleet", "heartbeat_ms", 100, 3600000, &c->fleet_heartbeat_ms);
        opt_uint(ck, v, "fleet", "stale_after_ms", 300, 86400000, &c->fleet_stale_after_ms);
        opt_uint(ck, v, "fleet", "soak_ms", 0, 86400000, &c->fleet_soak_ms);
        /* A live holder must never look stale: it refreshes at least twice per window. */
        if (c->fleet_stale_after_ms < 2 * c->fleet_heartbeat_ms + 1)
                record_fail(ck, "fleet.stale_after_ms", "must be more than twice fleet.heartbeat_ms "
                            "(%llu), got %llu", (unsigned long long)c->fleet_heartbeat_ms,
                            (unsigned long long)c->fleet_stale_after_ms);
}

static void check_cookie_choice(struct record_ctx *ck, bool has_cookie, bool has_cookie_file)
{
        if (has_cookie && has_cookie_file)
                record_fail(ck, "cookie", "set \"cookie\" or \"cookie_file\", not both");
        else if (!has_cookie && !has_cookie_file && str_empty(getenv("DEPLOYEX_SECRETS_ADAPTER")))
                /* With a secrets adapter the cookie comes from the secret store (secrets.h). */
                record_fail(ck, "cookie", "set \"cookie\" or \"cookie_file\" (or DEPLOYEX_SECRETS_ADAPTER)");
}

static void parse_root(struct record_ctx *ck, yajl_val root, struct config *c)
{
        struct buf field = BUF_INIT, d = BUF_INIT;
        const char **port_fields = NULL;
        size_t nport_fields = 0;
        int listen_port = 0;
        yajl_val x;
        uint64_t u;

        record_check_keys(ck, root, "", top_keys);

        opt_string(ck, root, "", "env", config_check_env_segment, &c->env);
        x = member(root, "source");
        if (!x)
                record_fail(ck, "source", "required (file:///path, s3://bucket or gs://bucket)");
        else
                opt_string(ck, root, "", "source", config_check_source, &c->source);
        opt_string(ck, root, "", "aws_region", NULL, &c->aws_region);
        opt_string(ck, root, "", "s3_endpoint", check_endpoint, &c->s3_endpoint);
        opt_string(ck, root, "", "gcs_endpoint", check_endpoint, &c->gcs_endpoint);
        opt_string(ck, root, "", "gcp_credentials", config_check_abs_path, &c->gcp_credentials);
        opt_uint(ck, root, "", "poll_interval_ms", POLL_INTERVAL_MIN_MS, POLL_INTERVAL_MAX_MS,
                 &c->poll_interval_ms);
        opt_string(ck, root, "", "var_path", config_check_abs_path, &c->var_path);
        opt_string(ck, root, "", "log_path", config_check_abs_path, &c->log_path);
        opt_string(ck, root, "", "overrides_path", config_check_abs_path, &c->overrides_path);
        opt_string(ck, root, "", "cookie", config_check_cookie, &c->cookie);
        opt_string(ck, root, "", "cookie_file", config_check_abs_path, &c->cookie_file);
        check_cookie_choice(ck, member(root, "cookie") != NULL, member(root, "cookie_file") != NULL);
        opt_uint(ck, root, "", "log_max_bytes", LOG_MAX_BYTES_MIN, SIZE_CAP_MAX, &c->log_max_bytes);
        u = (uint64_t)c->log_keep;
        opt_uint(ck, root, "", "log_keep", 0, LOG_KEEP_MAX, &u);
        c->log_keep = (int)u;
        opt_uint(ck, root, "", "max_release_bytes", 1, SIZE_CAP_MAX, &c->max_release_bytes);
        opt_uint(ck, root, "", "max_unpacked_bytes", 1, SIZE_CAP_MAX, &c->max_unpacked_bytes);
        x = member(root, "metrics_textfile");
        if (x && !YAJL_IS_NULL(x))
                parse_textfile(ck, root, c);

        x = member(root, "tls");
        if (x)
                parse_tls(ck, x, c);
        /* The TLS options file ({var_path}/tls/...) reaches erl through ERL_AFLAGS, split on blanks. */
        if (c->has_tls && c->var_path && c->var_path[strcspn(c->var_path, " \t\n")])
                record_fail(ck, "var_path", "must not contain blanks when \"tls\" is set (the TLS "
                            "distribution options file under it is passed in ERL_AFLAGS)");
        x = member(root, "http");
        if (x)
                listen_port = parse_http(ck, x, c);
        x = member(root, "fleet");
        if (x)
                parse_fleet(ck, x, c);
        x = member(root, "notify");
        if (x)
                parse_notify(ck, x, c);

        x = member(root, "apps");
        if (!x) {
                record_fail(ck, "apps", "required (an array, may be empty)");
        } else if (!YAJL_IS_ARRAY(x)) {
                record_describe_quoted(&d, x);
                record_fail(ck, "apps", "must be an array, got %s", d.data);
        } else {
                c->apps = xcalloc(x->u.array.len, sizeof(*c->apps));
                for (size_t i = 0; i < x->u.array.len; i++) {
                        struct app_config *a = &c->apps[c->napps];

                        parse_app(ck, x->u.array.values[i], i, a);
                        c->napps++;
                        if (!a->name)
                                continue;
                        for (size_t j = 0; j + 1 < c->napps; j++) {
                                if (str_eq(c->apps[j].name, a->name)) {
                                        buf_reset(&field);
                                        buf_printf(&field, "apps[%zu].name", i);
                                        record_fail(ck, field.data, "'%s' is already the name of apps[%zu]",
                                                    a->name, j);
                                        break;
                                }
                        }
                }
        }

        /* Field names for every port, in the same order check_port_overlaps walks them. */
        for (size_t i = 0; i < c->napps; i++)
                nport_fields += c->apps[i].nports;
        port_fields = xcalloc(nport_fields ? nport_fields : 1, sizeof(*port_fields));
        for (size_t i = 0, k = 0; i < c->napps; i++) {
                for (size_t j = 0; j < c->apps[i].nports; j++, k++) {
                        buf_reset(&field);
                        buf_printf(&field, "apps[%zu].ports.%s", i, c->apps[i].ports[j].name);
                        port_fields[k] = buf_detach(&field);
                }
        }
        config_check_port_overlaps(ck, c, port_fields, "http.listen", listen_port);
        for (size_t k = 0; k < nport_fields; k++)
                free((char *)port_fields[k]);
        free(port_fields);

        buf_release(&field);
        buf_release(&d);
}

int config_parse(const char *text, size_t len, const char *origin, struct config *ret, struct buf *err)
{
        struct record_ctx ck = RECORD_CTX(origin, err);
        struct config c;
        struct buf d = BUF_INIT;
        yajl_val root = NULL;
        int r;

        r = json_parse(text, len, origin, &root, err);
        if (r < 0)
                return r;
        config_init(&c, origin);
        if (!YAJL_IS_OBJECT(root)) {
                record_describe_quoted(&d, root);
                record_fail(&ck, "", "must be a JSON object, got %s", d.data);
        } else {
                parse_root(&ck, root, &c);
        }
        yajl_tree_free(root);
        buf_release(&d);
        if (ck.nerr) {
                config_release(&c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

/* v (at most JSON_MAX_DEPTH deep: config_parse checked) into g, keys in order. */
static void gen_tree(yajl_gen g, yajl_val v, const char *skip_key)
{
        if (YAJL_IS_OBJECT(v)) {
                yajl_gen_map_open(g);
                for (size_t i = 0; i < v->u.object.len; i++) {
                        if (skip_key && strcmp(v->u.object.keys[i], skip_key) == 0)
                                continue;
                        json_gen_str(g, v->u.object.keys[i]);
                        gen_tree(g, v->u.object.values[i], NULL);
                }
                yajl_gen_map_close(g);
        } else if (YAJL_IS_ARRAY(v)) {
                yajl_gen_array_open(g);
                for (size_t i = 0; i < v->u.array.len; i++)
                        gen_tree(g, v->u.array.values[i], NULL);
                yajl_gen_array_close(g);
        } else if (YAJL_IS_STRING(v)) {
                json_gen_str(g, v->u.string);
        } else if (YAJL_IS_NUMBER(v)) {
                yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
        } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
                yajl_gen_bool(g, YAJL_IS_TRUE(v));
        } else {
                yajl_gen_null(g);
        }
}

int config_job_text(const char *text, size_t len, struct buf *out)
{
        struct buf ignored = BUF_INIT;
        yajl_val root = NULL;
        yajl_gen g;
        int r;

        r = json_parse(text, len, "config", &root, &ignored);
        buf_release(&ignored);
        if (r < 0)
                return r;
        buf_reset(out);
        g = json_gen_new(out);
        gen_tree(g, root, "cookie");
        yajl_gen_free(g);
        yajl_tree_free(root);
        return 0;
}

int config_load_file(const char *path, struct config *ret, struct buf *err)
{
        struct buf text = BUF_INIT;
        int r;

        r = file_read_all_flags(path, FILE_FOLLOW, JSON_MAX_BYTES, &text);
        if (r < 0) {
                if (err->len && err->data[err->len - 1] != '\n')
                        buf_putc(err, '\n');
                if (r == -EFBIG)
                        buf_printf(err, "%s: larger than %d bytes", path, JSON_MAX_BYTES);
                else
                        buf_printf(err, "%s: cannot read: %s", path, file_strerror(r));
                goto out;
        }
        r = config_parse(text.data, text.len, path, ret, err);
out:
        buf_release(&text);
        return r;
}

int config_load(const char *cli_path, struct config *ret, struct buf *err)
{
        const char *path = cli_path;
        struct buf tmp = BUF_INIT;
        int r;

        if (str_empty(path))
                path = getenv("DEPLOYEX_CONFIG");
        if (!str_empty(path))
                return config_load_file(path, ret, err);

        r = config_load_file(DEFAULT_CONFIG_PATH, ret, &tmp);
        if (r == -ENOENT && !str_empty(getenv("DEPLOYEX_MONITORED_APP_NAME"))) {
                r = config_from_env(ret, err);
        } else if (r < 0) {
                if (err->len && err->data[err->len - 1] != '\n')
                        buf_putc(err, '\n');
                buf_append(err, tmp.data, tmp.len);
                if (r == -ENOENT)
                        buf_puts(err, " (use -c FILE, $DEPLOYEX_CONFIG or the DeployEx "
                                 "DEPLOYEX_MONITORED_APP_NAME variables)");
        }
        buf_release(&tmp);
        return r;
}

/* ---- small public helpers ---- */

const char *language_to_string(enum language l)
{
        switch (l) {
        case LANG_ELIXIR:
                return "elixir";
        case LANG_ERLANG:
                return "erlang";
        case LANG_GLEAM:
                return "gleam";
        }
        return "unknown";
}

int language_from_string(const char *s, enum language *ret)
{
        static const enum language all[] = { LANG_ELIXIR, LANG_ERLANG, LANG_GLEAM };

        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                if (str_eq(s, language_to_string(all[i]))) {
                        *ret = all[i];
                        return 0;
                }
        }
        return -EINVAL;
}

const struct app_config *config_find_app(const struct config *c, const char *name)
{
        for (size_t i = 0; i < c->napps; i++)
                if (str_eq(c->apps[i].name, name))
                        return &c->apps[i];
        return NULL;
}

bool app_name_is_valid(const char *name)
{
        size_t n;

        if (!name || !(name[0] >= 'a' && name[0] <= 'z'))
                return false;
        n = strlen(name);
        if (n > APP_NAME_MAX)
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
                      name[i] == '_'))
                        return false;
        return true;
}

/*
 * [A-Za-z0-9._+-]{1,64} as DESIGN §4.2 says, minus "." and "..": a version
 * names directories (releases/VERSION) and must not name the parent.
 */
bool version_is_valid(const char *version)
{
        size_t n;

        if (!version)
                return false;
        n = strlen(version);
        if (n < 1 || n > VERSION_MAX || str_eq(version, ".") || str_eq(version, ".."))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = version[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '+' || c == '-'))
                        return false;
        }
        return true;
}

int config_read_cookie(const struct config *c, struct buf *ret)
{
        struct buf text = BUF_INIT;
        size_t n;
        int r = 0;

        if (c->cookie) {
                if (!cookie_is_valid(c->cookie))
                        return -EINVAL;
                buf_reset(ret);
                buf_puts(ret, c->cookie);
                return 0;
        }
        if (!c->cookie_file)
                return -ENOENT;
        r = file_read_all_flags(c->cookie_file, FILE_FOLLOW, COOKIE_FILE_MAX, &text);
        if (r < 0)
                goto out;
        n = strcspn(text.data, "\r\n");
        text.data[n] = '\0';
        text.len = n;
        if (!cookie_is_valid(text.data)) {
                r = -EINVAL;
                goto out;
        }
        buf_reset(ret);
        buf_append(ret, text.data, text.len);
out:
        if (text.cap)
                explicit_bzero(text.data, text.cap);
        buf_release(&text);
        return r;
}
