/*
 * report: the JSON the reader commands print and the web UI serves, built in
 * one place so that `deployex status --json` and GET /api/status can never
 * disagree (DESIGN §3, §9).  Each function reads the state files (and the
 * source, for the desired state) and writes the whole document into *out
 * (no trailing newline).  The text forms of the readers use the same
 * instance view (report_live_of) and OTP view.
 *
 *     struct buf out = BUF_INIT;
 *     report_status_json(cfg, src, NULL, &out);   // src may be NULL
 *     ... out.data ...
 *     buf_release(&out);
 */
#ifndef DEPLOYEX_REPORT_H
#define DEPLOYEX_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "beam/otp.h"
#include "state/config.h"
#include "state/instance.h"
#include "buckets/source.h"

/* What the app's nodes said last (state/APP/otp.json, refreshed by the daemon's __otp job). */
struct otp_view {
        struct otp_probe *probes;
        size_t n;
};
void otp_view_load(const struct config *c, const char *app, struct otp_view *ret);
void otp_view_release(struct otp_view *v);

/*
 * Why the daemon cannot write var_path right now ("read-only", "full"), NULL
 * when it can: a daemon on such a var_path runs degraded (no step starts),
 * and cannot say so in a file there.
 */
const char *report_var_path_fault(const struct config *c);

/* What an instance looks like right now: a record whose process died is "stopped". */
struct live {
        const char *state;
        const char *version;
        int pid;
        uint64_t uptime_ms;
        uid_t uid; /* the owner of pid, when pid is set */
};
/*
 * What an instance is now: its record checked against its process, read
 * relative to procfd (proc_dir_open() once per document, or AT_FDCWD).
 */
void report_live_of(int procfd, const struct instance_record *r, bool daemon_up, uint64_t now,
                    struct live *ret);

/* {"daemon": {...}, "apps": [...]}; only = one app's name or NULL for all. */
void report_status_json(const struct config *c, struct source *src, const char *only,
                        struct buf *out);
/* {"apps": [{"name", "paused", "error", "steps": [...]}]} */
void report_plan_json(const struct config *c, struct source *src, const char *only,
                      struct buf *out);
/*
 * [event, ...] oldest first, each on its own line after the first.  0, or
 * -errno with "PATH: why" in err.  *ret_skipped counts malformed lines.
 */
int report_history_json(const struct config *c, const struct app_config *app, struct buf *out,
                        size_t *ret_skipped, struct buf *err);
/* [{"version", "hash", "at", "reason"}, ...]; 0 or -errno with err set. */
int report_ghosts_json(const struct config *c, const struct app_config *app, struct buf *out,
                       struct buf *err);

#endif
