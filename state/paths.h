/*
 * paths: every on-disk location of DESIGN §4.4 in one place.  Each function
 * resets `out` and writes the path into it.
 */
#ifndef DEPLOYEX_PATHS_H
#define DEPLOYEX_PATHS_H

#include "state/config.h"
#include "base/util.h"

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
void path_last_override(const struct config *c, const char *app, struct buf *out); /* state/{app}/override.json */
void path_override(const struct config *c, const char *app, struct buf *out);      /* {overrides_path}/{app}.json */
void path_service_root(const struct config *c, struct buf *out); /* service/ (with the slash) */
void path_service_dir(const struct config *c, const char *app, int n, struct buf *out);
/* which: "new", "current", "previous", "tmp" */
void path_release_dir(const struct config *c, const char *app, int n, const char *which, struct buf *out);
void path_cache_file(const struct config *c, const char *app, const char *version, struct buf *out);
void path_log_file(const struct config *c, const char *app, int n, bool is_stderr, struct buf *out);
/* {var_path}/tls/{app}.ssl_dist.conf: the app's TLS distribution options (tls.h) */
void path_tls_dist_file(const struct config *c, const char *app, struct buf *out);
void path_pid_file(const struct config *c, struct buf *out); /* run/deployex.pid */
void path_host_fault(const struct config *c, struct buf *out); /* run/host_fault.json */

#endif
