/*
 * config: the daemon's configuration (DESIGN §4.1), from a JSON file or from
 * the DeployEx 0.3 environment variables.
 *
 * config_parse() validates everything and fills defaults; a rejection appends
 * one line per problem to err, each naming the file and the field:
 *     /etc/deployex/deployex.json: apps[0].replicas: must be an integer from 0 to 100, got -1
 * The struct owns all its strings; free with config_release().
 */
#ifndef DEPLOYEX_CONFIG_H
#define DEPLOYEX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ids.h"
#include "base/util.h"

#define APP_NAME_MAX 32       /* [a-z][a-z0-9_]{0,31} */
#define VERSION_MAX 64        /* [A-Za-z0-9._+-]{1,64} */
#define REPLICAS_MAX 100
#define DEFAULT_CONFIG_PATH "/etc/deployex/deployex.json"
#define METRICS_TEXTFILE_NAME "deployex.prom" /* in a metrics_textfile directory */

enum language {
        LANG_ELIXIR,
        LANG_ERLANG,
        LANG_GLEAM,
};
const char *language_to_string(enum language l);
int language_from_string(const char *s, enum language *ret);

struct kv {
        char *key;
        char *value;
};

struct port_spec {
        char *name; /* environment variable, e.g. "PORT" */
        int base;   /* instance n gets base + n - 1 */
};

/* Per-app watchdog (DESIGN §4.1, §11): thresholds on the probe's VM figures. */
struct watchdog_config {
        bool set;                /* "watchdog" present */
        uint64_t interval_ms;    /* default 5000 */
        uint64_t memory_mb;      /* 0 = no memory threshold */
        uint64_t processes_pct, atoms_pct, ports_pct; /* 0 = none; else 1..100 of the limit */
        bool restart;            /* action "restart" (else "warn") */
};

struct app_config {
        char *name;
        enum language language;
        int replicas;
        struct port_spec *ports;
        size_t nports;
        struct kv *env;
        size_t nenv;
        char *hooks; /* per-app hook file, or NULL */
        /*
         * Run as (DESIGN §4.1, §8): names from the file, or NULL.  group
         * defaults to the user's primary group.  ids is what they resolve to
         * (config_resolve_users(), state/app_user.h); NULL = the daemon's own
         * user (no user, or "root").
         */
        char *user, *group;
        struct proc_ids *ids;
        uint64_t healthy_after_ms;    /* default 10000 (30000 in environment mode) */
        uint64_t rollback_timeout_ms; /* default 600000; also the probation window */
        uint32_t max_probation_crashes; /* default 3: crashes on probation that fail a deploy */
        uint64_t stop_timeout_ms;     /* default 15000 */
        uint64_t backoff_initial_ms;  /* default 2000 */
        uint64_t backoff_max_ms;      /* default 300000 */
        struct watchdog_config watchdog;
        /* limits: cgroup v2 memory.max and pids.max of each instance; 0 = unset. */
        uint64_t limit_memory_bytes; /* limits.memory_max, 0 = none */
        uint64_t limit_tasks;        /* limits.tasks_max, 0 = none */
};

/* The events a notify target may ask for (bits). */
enum notify_event {
        NOTIFY_DEPLOYED = 1 << 0,
        NOTIFY_ROLLED_BACK = 1 << 1,
        NOTIFY_GHOSTED = 1 << 2,
        NOTIFY_CRASH_LOOP = 1 << 3,
        NOTIFY_WATCHDOG = 1 << 4,
};
#define NOTIFY_ALL 0x1f
const char *notify_event_to_string(enum notify_event e);

struct notify_target {
        char *url;          /* http:// or https:// */
        bool slack;         /* "format": "slack" (else "json") */
        unsigned events;    /* enum notify_event bits */
        char *secret_file;  /* HMAC-SHA256 key, read when sending */
};

struct config {
        char *origin;       /* the file it came from, or "environment" */
        char *env;          /* default "prod" */
        char *source;       /* file:///..., s3://bucket[/prefix], gs://bucket[/prefix] */
        char *aws_region;   /* or NULL */
        char *s3_endpoint;  /* or NULL */
        char *gcs_endpoint; /* or NULL */
        char *gcp_credentials; /* service-account key file for gs://, or NULL ($GOOGLE_APPLICATION_CREDENTIALS) */
        uint64_t poll_interval_ms;  /* default 5000 */
        char *var_path;             /* default /var/lib/deployex */
        char *log_path;             /* default /var/log/deployex */
        char *overrides_path;       /* default /etc/deployex/overrides.d */
        char *cookie;               /* never logged; NULL when cookie_file is used */
        char *cookie_file;
        bool has_tls;
        char *tls_cert, *tls_key, *tls_ca;
        char *http_listen;          /* or NULL: no admin UI */
        char *admin_password_hash;  /* bcrypt "$2b$..." or NULL */
        /* GET /metrics: a session or HTTP Basic with the admin password (default), anyone, 404. */
        enum { HTTP_METRICS_LOGIN, HTTP_METRICS_PUBLIC, HTTP_METRICS_OFF } http_metrics;
        char *http_tls_cert;        /* PEM files for HTTPS, or NULL (loopback only) */
        char *http_tls_key;
        uint64_t log_max_bytes;     /* rotate an instance log above this; default 10 MiB */
        int log_keep;               /* rotated files kept; default 5 */
        uint64_t max_release_bytes; /* cap on a downloaded tarball; default 1 GiB */
        uint64_t max_unpacked_bytes;/* cap on an unpacked release; default 4 GiB */
        char *metrics_textfile;     /* the daemon keeps the metrics there (*.prom), or NULL;
                                       a directory in the file is resolved to DIR/deployex.prom */
        /* Fleet rollouts (DESIGN §10, docs/fleet.md): has_fleet false = every host deploys at once. */
        bool has_fleet;
        char *fleet_host;           /* this host's name in slots; default the short hostname */
        bool fleet_canary;          /* this host takes slot 0 */
        bool fleet_canaries;        /* the fleet has canary hosts: others start at slot 1 */
        uint64_t fleet_heartbeat_ms;     /* default 5000 */
        uint64_t fleet_stale_after_ms;   /* default 60000; > 2 heartbeats */
        uint64_t fleet_soak_ms;          /* default 0 */
        struct app_config *apps;
        size_t napps;
        struct notify_target *notify;
        size_t nnotify;
};

/* Parse and validate.  0, or -EINVAL with one line per problem appended to err. */
int config_parse(const char *text, size_t len, const char *origin, struct config *ret, struct buf *err);
int config_load_file(const char *path, struct config *ret, struct buf *err);
/*
 * The configuration text a job reads ({var_path}/run/config.json): text (one
 * config_parse() accepted) without its inline "cookie", which never goes into
 * a state file.  The daemon hands the cookie to its jobs through their
 * environment instead (DEPLOYEX_SECRETS_ADAPTER=env, DEPLOYEX_ERLANG_COOKIE).
 */
int config_job_text(const char *text, size_t len, struct buf *out);
/*
 * The DeployEx 0.3 compatibility mode: build a one-app config from
 * DEPLOYEX_MONITORED_APP_NAME and friends (getenv).  -ENOENT when
 * DEPLOYEX_MONITORED_APP_NAME is unset.
 */
int config_from_env(struct config *ret, struct buf *err);
/*
 * What the CLI does: path from -c, else $DEPLOYEX_CONFIG, else the default
 * path; when that default file does not exist and DEPLOYEX_MONITORED_APP_NAME
 * is set, the environment mode.
 */
int config_load(const char *cli_path, struct config *ret, struct buf *err);
void config_release(struct config *c);

const struct app_config *config_find_app(const struct config *c, const char *name);
bool app_name_is_valid(const char *name);
bool version_is_valid(const char *version);
/* Read the cookie (inline or from cookie_file, trailing newline stripped). */
int config_read_cookie(const struct config *c, struct buf *ret);

#endif
