/*
 * metrics: the Prometheus text exposition (format 0.0.4) of DESIGN §11, built
 * from the same state files the readers use -- instance records, history,
 * ghosts, desired.json, otp.json (the probe's VM figures), source.json (the
 * polls) -- and /proc for the host.  Read-only, no network: `deployex
 * metrics`, the web UI's /metrics and the daemon's metrics_textfile all
 * print this one text.
 *
 * Conventions: every name starts with deployex_, counters end in _total,
 * units are bytes and seconds, each family has one HELP and one TYPE line
 * and all its samples together; labels app, instance (and kind, result,
 * version, origin where they say what a sample is).
 */
#ifndef DEPLOYEX_METRICS_H
#define DEPLOYEX_METRICS_H

#include <stdint.h>

#include "state/config.h"
#include "base/util.h"

/* The exposition for every configured app at now_ms (wall clock) into out. */
void metrics_render(const struct config *c, uint64_t now_ms, struct buf *out);

#endif
