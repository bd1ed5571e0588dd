/*
 * paths: every on-disk location of DESIGN §4.4 in one place: no other file
 * joins var_path, log_path or overrides_path with a file name.  Each function
 * resets `out` and writes the path into it (trailing slashes of the base are
 * dropped).
 */
#ifndef DEPLOYEX_PATHS_H
#define DEPLOYEX_PATHS_H

#include "state/config.h"
#include "base/util.h"

void path_state_root(const struct config *c, struct buf *out);                    /* state */
void path_state_dir(const struct config *c, const char *app, struct buf *out);     /* state/{app} */
void path_instances_dir(const struct config *c, const char *app, struct buf *out); /* state/{app}/instances */
void path_instance_record(const struct config *c, const char *app, int n, struct buf *out);
void path_history(const struct config *c, const char *app, struct buf *out);
void path_ghosts(const struct config *c, const char *app, struct buf *out);
void path_journal(const struct config *c, const char *app, struct buf *out);
void path_deferred(const struct config *c, const char *app, struct buf *out);
void path_fleet_turn(const struct config *c, const char *app, struct buf *out); /* state/{app}/fleet.json */
void path_rollout(const struct config *c, const char *app, struct buf *out);   /* state/{app}/rollout.json */
void path_desired(const struct config *c, const char *app, struct buf *out);
void path_releases_dir(const struct config *c, const char *app, struct buf *out); /* state/{app}/releases */
/* state/{app}/releases/{version}.json: the release a deployment started with */
void path_release_record(const struct config *c, const char *app, const char *version,
                         struct buf *out);
void path_otp_status(const struct config *c, const char *app, struct buf *out); /* state/{app}/otp.json */
void path_watchdog(const struct config *c, const char *app, struct buf *out);   /* state/{app}/watchdog.json */
void path_source_stats(const struct config *c, const char *app, struct buf *out); /* state/{app}/source.json */
void path_audit(const struct config *c, struct buf *out);          /* state/audit.jsonl */
/* state/notify/{sub}, or state/notify when sub is "": the webhook queue (webhook.c) */
void path_notify_dir(const struct config *c, const char *sub, struct buf *out);
void path_notify_cursor(const struct config *c, struct buf *out);  /* state/notify/cursor.json */
void path_last_override(const struct config *c, const char *app, struct buf *out); /* state/{app}/override.json */
void path_override(const struct config *c, const char *app, struct buf *out);      /* {overrides_path}/{app}.json */
void path_service_root(const struct config *c, struct buf *out); /* service/ (with the slash) */
void path_service_dir(const struct config *c, const char *app, int n, struct buf *out);
/* which: "new", "current", "previous", "tmp" */
void path_release_dir(const struct config *c, const char *app, int n, const char *which, struct buf *out);
void path_cache_file(const struct config *c, const char *app, const char *version, struct buf *out);
void path_log_dir(const struct config *c, const char *app, struct buf *out); /* {log_path}/{app} */
void path_log_file(const struct config *c, const char *app, int n, bool is_stderr, struct buf *out);
/* {var_path}/tls/{app}.ssl_dist.conf: the app's TLS distribution options (tls.h) */
void path_tls_dist_file(const struct config *c, const char *app, struct buf *out);
void path_run_dir(const struct config *c, struct buf *out);    /* run */
void path_pid_file(const struct config *c, struct buf *out); /* run/deployex.pid */
void path_lock_file(const struct config *c, struct buf *out); /* run/deployex.lock */
/* run/config.json: the configuration the daemon's jobs read (daemon.c) */
void path_job_config(const struct config *c, struct buf *out);
void path_host_fault(const struct config *c, struct buf *out); /* run/host_fault.json */

#endif
