/*
 * desired: what an app should run, merged from the bucket's current.json and
 * the operator's override, minus ghosted versions (DESIGN §4.2, §4.3, §5).
 *
 * desired_merge() is pure and lives in the core (reconciler/core/desired_merge.c,
 * checked by `make core-check`); it is declared here, beside the struct it
 * fills.  desired_load() is the I/O around it: it asks the
 * source for current.json, reads the override, and keeps the last good value
 * of each in force when the new one is missing or invalid, with the error kept
 * alongside (shown by status).  With `persist` (the daemon) the last good
 * values are saved to state/{app}/desired.json and override.json.
 */
#ifndef DEPLOYEX_DESIRED_H
#define DEPLOYEX_DESIRED_H

#include <stdbool.h>

#include "state/config.h"
#include "state/ghosts.h"
#include "state/override.h"
#include "state/release.h"

enum desired_origin {
        DESIRED_NONE,     /* nothing published, nothing pinned */
        DESIRED_SOURCE,   /* current.json */
        DESIRED_OVERRIDE, /* a pin */
};
const char *desired_origin_to_string(enum desired_origin o);

struct desired {
        struct release_desc release; /* release.version "" when origin is DESIRED_NONE */
        enum desired_origin origin;
        bool ghosted;                /* release.version is ghosted: deploy nothing */
        struct override override;    /* paused and restart tokens in force */
        char *error;                 /* NULL, or every problem in one line ("; " separated) */
};

void desired_init(struct desired *d);
/*
 * source: the last good current.json or NULL; source_error / override_error:
 * why the newest one was not used, or NULL.  ov may be NULL (no override).
 */
void desired_merge(const struct release_desc *source, const char *source_error,
                   const struct override *ov, const char *override_error,
                   const struct ghost_list *ghosts, struct desired *ret);
void desired_release(struct desired *d);

/*
 * src NULL: no fetch, the last good current.json is used as is (the daemon
 * polls remote sources in a job and passes that poll's error, if any, as
 * source_error).
 */
struct source;
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
 * The release a deployment started with, kept in state/{app}/releases/{version}.json
 * when the deployment begins: its pre-commands and checksum stay those of the
 * current.json that published it, even if current.json moves on meanwhile.
 */
int desired_remember_release(const struct config *c, const char *app,
                             const struct release_desc *r);
/*
 * Pre-commands run once per version and host (DESIGN §5): the mark in
 * releases/{version}.json, tied to the sha256 it ran for.  _done: 1 with
 * *ret_at when they ran for the remembered bytes, 0 when not (or no file).
 * _mark: record them as done at at_ms; -ENOENT when the release was never
 * remembered.
 */
int desired_pre_commands_done(const struct config *c, const char *app, const char *version,
                              uint64_t *ret_at);
int desired_mark_pre_commands_done(const struct config *c, const char *app, const char *version,
                                   uint64_t at_ms);
/*
 * The release of `version`: the remembered one, else the last good
 * current.json when it publishes that version.  -ENOENT when neither
 * (then *ret holds just the version).
 */
int desired_release_for(const struct config *c, const struct app_config *app,
                        const char *version, struct release_desc *ret);

#endif
