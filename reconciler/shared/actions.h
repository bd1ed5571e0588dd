/*
 * actions: the operator's writes -- pin, unpin, pause, resume, restart,
 * unghost -- shared by the CLI writers and the web UI, so that both change
 * the same files the same way (DESIGN §3, §4.3, §9).  Each is a
 * read-modify-write of one state file under its lock, written atomically;
 * the daemon notices through inotify.  Every call, done or refused, is
 * appended to state/audit.jsonl with who asked (struct action_origin).
 *
 * Returns 0 with a one-line summary in *msg (and possibly a warning in
 * *err), or -EINVAL (bad argument: the caller's fault, 400 in the UI) or
 * another -errno (could not read or write a file) with one line in *err.
 */
#ifndef DEPLOYEX_ACTIONS_H
#define DEPLOYEX_ACTIONS_H

#include <stdbool.h>

#include "state/config.h"

struct action_origin {
        const char *via;  /* "cli" | "web" */
        const char *from; /* client address, or "uid N (name)" */
};

/* The CLI's origin: "cli", "uid N (name)" of the caller (static storage). */
struct action_origin action_origin_cli(void);

/*
 * Pin VERSION.  Unless force, refused (-EINVAL, the reason in err, nothing
 * written) when VERSION is ghosted or not published: its tarball is neither
 * in the source nor in this host's cache; another -errno when the source
 * cannot be asked.
 */
int action_pin(const struct config *c, const struct app_config *app, const char *version,
               bool force, const struct action_origin *o, struct buf *msg, struct buf *err);
int action_unpin(const struct config *c, const struct app_config *app,
                 const struct action_origin *o, struct buf *msg, struct buf *err);
int action_pause(const struct config *c, const struct app_config *app, bool paused,
                 const struct action_origin *o, struct buf *msg, struct buf *err);
/* instance 0 = a rolling restart of every instance. */
int action_restart(const struct config *c, const struct app_config *app, int instance,
                   const struct action_origin *o, struct buf *msg, struct buf *err);
/* version NULL = unghost every version. */
int action_unghost(const struct config *c, const struct app_config *app, const char *version,
                   const struct action_origin *o, struct buf *msg, struct buf *err);

#endif
