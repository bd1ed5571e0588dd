/*
 * app_user: who an app's processes run as (DESIGN §4.1 `user`/`group`, §8).
 *
 * The daemon is the only privileged process: an app's instances, its
 * pre-commands and hooks, and the fetch and unpack of its releases run as
 * the app's `user` (and `group`, default the user's primary group, plus the
 * user's supplementary groups).  "user": "root" says on purpose that the app
 * runs as root.  The names are resolved once per loaded configuration, before
 * any fork (getpwnam is not async-signal-safe).
 */
#ifndef DEPLOYEX_APP_USER_H
#define DEPLOYEX_APP_USER_H

#include <stdbool.h>
#include <sys/types.h>

#include "state/config.h"
#include "base/util.h"

/*
 * Fill app->ids for every app with a user other than root.  0, or -EINVAL
 * with one line per unknown user or group in err (naming the file and field).
 */
int config_resolve_users(struct config *c, struct buf *err);

/* The same for one app of c (its user only). */
int app_user_resolve(const struct config *c, struct app_config *app, struct buf *err);
/*
 * For a daemon not running as root: an app whose user is the daemon's own
 * needs no change (its ids go); any other user cannot be become: -EPERM with
 * one line per app in err.  Nothing when root.
 */
int app_user_for_daemon(struct config *c, struct buf *err);

/*
 * The rule of DESIGN §8 for a daemon running as root: an app without `user`
 * is a problem (one line in problems), except in environment (DeployEx)
 * mode, which has no way to say it: a warning there.  Returns the number of
 * problems.  Nothing when daemon_is_root is false (the apps run as the
 * daemon's own, unprivileged user).
 */
unsigned config_check_users(const struct config *c, bool daemon_is_root, struct buf *problems,
                            struct buf *warnings);

/*
 * Make path (a directory or file the app's processes own, e.g. RELEASE_TMP)
 * belong to the app's user and group, without following symlinks.  0 (also
 * when the app has no user) or -errno.
 */
int app_user_chown(const struct app_config *app, const char *path);
/* Let others pass through dir (o+x, not o+r): a user reaches its files below.  0 or -errno. */
int app_user_let_through(const char *dir);
/*
 * The service tree of instance n, {var_path}/service/{app}/{n}/, belongs to
 * the app's user (made when missing, 0700); service/{app}/ stays root's,
 * 0711, so that the user cannot swap {n} under the daemon; var_path and
 * service/ get the execute bit for others, so that the user can reach its
 * tree (not list the state).  0 (also when the app has no user) or -errno.
 */
int app_user_own_tree(const struct config *c, const struct app_config *app, int n);
/*
 * Let the app's user read a cached tarball, never write it: the file 0640
 * and its directory 0750, root-owned with the app's group; the cache root
 * traversable.  0 (also when the app has no user) or -errno.
 */
int app_user_share_cache_file(const struct config *c, const struct app_config *app,
                              const char *path);
/*
 * Can the app's user open path for reading (a child process becomes the
 * user and tries)?  true also when the app has no user or this process is
 * not root (nothing to find out).
 */
bool app_user_can_read(const struct app_config *app, const char *path);
/*
 * In a job or command running as root: become the app's user for good (its
 * privileged reads done).  0 when the app has no user or this process is not
 * root; -errno with one line in err.
 */
int app_user_become(const struct app_config *app, struct buf *err);

#endif
