/*
 * desired: what an app should run, merged from the bucket's current.json and
 * the operator's override, minus ghosted versions (DESIGN §4.2, §4.3, §5),
 * and the files the daemon keeps of it: state/{app}/desired.json (the last
 * good current.json) and state/{app}/releases/{version}.json (the release a
 * deployment started with).
 *
 * desired_merge() fills struct desired; it is pure and lives in the core
 * (reconciler/core/desired_merge.h, checked by `make core-check`).  desired_load() (reconciler/shared/desired_load.h) is the I/O
 * around it: it asks the source for current.json, reads the override, and
 * keeps the last good value of each in force.
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
void desired_release(struct desired *d);

/*
 * state/{app}/desired.json: the last good current.json and its ETag (etag ""
 * when it has none; cut to etag_size).  _load: false when there is no such file or it does not
 * parse as a current.json.  _save: atomically; 0 or -errno.
 */
bool desired_file_load(const char *path, struct release_desc *ret, char *etag,
                       size_t etag_size);
int desired_file_save(const char *path, const struct release_desc *r, const char *etag);

/*
 * The release a deployment started with, kept in state/{app}/releases/{version}.json
 * when the deployment begins: its pre-commands and checksum stay those of the
 * current.json that published it, even if current.json moves on meanwhile.
 */
int desired_remember_release(const struct config *c, const char *app,
                             const struct release_desc *r);
/* That release of version; -ENOENT (*ret empty) when it was never remembered. */
int desired_remembered_release(const struct config *c, const char *app, const char *version,
                               struct release_desc *ret);
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

#endif
