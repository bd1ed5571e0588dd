/*
 * desired_load: an app's desired state (state/desired.h) as the daemon, the
 * jobs and the CLI's readers see it: current.json from the source or the last
 * good one, the override or its last good copy, the ghosts, merged by the
 * core's desired_merge().  With `persist` (the daemon, its poller) the last
 * good values are saved to state/{app}/desired.json and override.json.
 */
#ifndef DEPLOYEX_DESIRED_LOAD_H
#define DEPLOYEX_DESIRED_LOAD_H

#include <stdbool.h>

#include "base/util.h"
#include "state/config.h"
#include "state/desired.h"
#include "state/release.h"

struct source;

/*
 * src NULL: no fetch, the last good current.json is used as is (the daemon
 * polls remote sources in a job and passes that poll's error, if any, as
 * source_error).  Every problem is kept in ret->error, the last good value
 * of each input stays in force.
 */
int desired_load(const struct config *c, const struct app_config *app, struct source *src,
                 const char *source_error, bool persist, struct desired *ret);

/*
 * One poll of src for the app's current.json alone (the __poller worker):
 * a conditional fetch that, when the object changed, rewrites
 * state/{app}/desired.json (*ret_changed).  ret_version: the last good
 * version afterwards ("" = none yet).  0, or -EIO with err saying why the
 * poll failed (the last good one stays).
 */
int desired_poll(const struct config *c, const struct app_config *app, struct source *src,
                 char ret_version[VERSION_MAX + 1], bool *ret_changed, struct buf *err);

/*
 * The release of `version`: the remembered one (releases/{version}.json),
 * else the last good current.json when it publishes that version.  -ENOENT
 * when neither (then *ret holds just the version).
 */
int desired_release_for(const struct config *c, const struct app_config *app,
                        const char *version, struct release_desc *ret);

#endif
