/*
 * proc: facts about processes read from /proc.  A pid alone is not an
 * identity (pids are reused); pid + start time (field 22 of /proc/PID/stat,
 * clock ticks since boot) is.
 */
#ifndef DEPLOYEX_PROC_H
#define DEPLOYEX_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "state/config.h"

/*
 * Where installed data of deployex lives: $env_var when it is set and not
 * empty, else {this executable's directory}/../share/deployex/{name} when
 * that is a directory (PREFIX/bin/deployex), else the same two levels up (a
 * program of PREFIX/lib/deployex/).  -ENOENT, ret untouched, when none.
 */
int proc_share_dir(const char *env_var, const char *name, struct buf *ret);

/* 0 and the start time, or -ENOENT when no such process (or a zombie). */
int proc_start_time(int pid, uint64_t *ret);
/*
 * proc_start_time() with one openat() relative to procfd (an fd of /proc
 * from proc_dir_open(), or AT_FDCWD) and one read(); ret_uid (may be NULL)
 * gets the owner of the process (fstat of the same fd: every file of
 * /proc/PID belongs to the uid /proc/PID does).  For the readers that look
 * at a thousand processes in a row (status).
 */
int proc_start_time_at(int procfd, int pid, uint64_t *ret, uid_t *ret_uid);
/* An O_PATH fd of /proc (close it), or AT_FDCWD when it cannot be opened. */
int proc_dir_open(void);
/*
 * The process pid is alive and started at start_time.  A start time of 0
 * (unknown) never matches: a pid alone could be anybody's by now.
 */
bool proc_is_same(int pid, uint64_t start_time);
/*
 * /proc/PID/environ holds the entry want ("DEPLOYEX_INSTANCE=...", see
 * INSTANCE_MARKER in reconciler/daemon/instances.h) or, for a process
 * started before the marker existed, an entry that is legacy or legacy +
 * "@..." ("RELEASE_NODE=APP-N" or "RELEASE_NODE=APP-N@HOST").  With a matching start time, what makes a
 * live pid an instance deployex may adopt and signal.
 */
bool proc_has_marker(int pid, const char *want, const char *legacy);
/*
 * Send sig to every process (but this one) whose environment holds exactly
 * `entry` ("NAME=value"): the descendants of an instance that left its
 * process group and session (setsid, a double fork) still carry the marker
 * the daemon gave it.  started_before (a start time, as proc_start_time
 * reads it; 0 = any) spares what started at or after it: the replacement
 * of a crashed instance, started first, and its descendants.  The number
 * signalled, or -errno.
 */
int proc_kill_marked(const char *entry, uint64_t started_before, int sig);
/*
 * One pass over /proc: fn(ctx, value, pid, start_time) for every process
 * that leads its own session and has `name` in its environment (an
 * instance's own process carries INSTANCE_MARKER; a setsid descendant of it
 * does too, but started later).  0, or -errno when /proc cannot be read.
 */
typedef void (*proc_marked_fn)(void *ctx, const char *value, int pid, uint64_t start_time);
int proc_scan_marked(const char *name, proc_marked_fn fn, void *ctx);
/*
 * The daemon serving this var_path: its pid from run/deployex.pid when that
 * process is alive and is a deployex.  0 when none.
 */
int daemon_running_pid(const struct config *c);

#endif
