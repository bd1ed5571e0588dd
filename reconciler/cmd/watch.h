/*
 * watch: `status -w` -- render a frame now, and again whenever a state file
 * changes (inotify on state/, each app's state and instances directories,
 * run/, the overrides directory and a file:// bucket's versions
 * directories), plus every WATCH_REFRESH_MS so that durations keep moving.
 * A frame that reads the same as the last one is not printed again.
 *
 * On a terminal each frame replaces the last (cursor home, clear); to a pipe
 * or file each frame is appended after a blank line.  Ends with status 0 on
 * SIGINT/SIGTERM or when stdout is closed.
 */
#ifndef DEPLOYEX_WATCH_H
#define DEPLOYEX_WATCH_H

#include "state/config.h"
#include "base/util.h"

#define WATCH_REFRESH_MS 5000
#define WATCH_SETTLE_MS 50   /* events in one burst (tmp + rename + fsync) make one frame */

/* render fills frame (reset by the caller); returns 0, or < 0 to stop with that error. */
typedef int (*watch_render_fn)(void *ctx, struct buf *frame);

int watch_run(const struct config *c, watch_render_fn render, void *ctx);

#endif
