/*
 * helper: what the web UI may not do itself, done by a process that keeps
 * the daemon's rights (DESIGN §8).  The distribution cookie and the TLS
 * distribution key are readable by root only and the UI runs as the
 * unprivileged `deployex` user; rather than hand it the secrets, it asks.
 *
 * `deployex __websup` (root) forks the helper before each start of the UI
 * and gives the UI the other end of a socketpair, inherited as a file
 * descriptor named by $DEPLOYEX_WEB_HELPER_FD; a `deployex web` started by
 * hand forks its own helper (with its own rights) before any thread.
 * The helper answers exactly two requests, each with a descriptor of the
 * UI's to answer on, each checked (an app name, an instance number) and run
 * as the CLI commands an operator would run:
 *
 *     processes APP N   `deployex __processes APP N`, its JSON on the pipe given
 *     shell APP N       `deployex remote APP N` on a new pty; the pty's master
 *                       goes back over the socket given; closing that socket
 *                       ends the shell (SIGHUP, then SIGKILL to its group)
 *
 * The helper ends when the UI does (EOF on the socketpair) or with its parent.
 */
#ifndef DEPLOYEX_WEB_HELPER_H
#define DEPLOYEX_WEB_HELPER_H

#include <sys/types.h>

#include "base/util.h"

#define HELPER_FD_ENV "DEPLOYEX_WEB_HELPER_FD"

/*
 * Fork the helper; it runs self_exe [-c config_path] for its requests.
 * Returns the UI's end of the socketpair (close-on-exec) and the helper's
 * pid, or -errno.  Call it while the process has one thread.
 */
int helper_spawn(const char *self_exe, const char *config_path, pid_t *ret_pid);

/* The UI: use fd to reach the helper (from $DEPLOYEX_WEB_HELPER_FD or helper_spawn()). */
void helper_use(int fd);

/* The JSON of `deployex __processes APP N` into out.  0 or -errno. */
int helper_processes(const char *app, int n, struct buf *out);

/*
 * A shell on APP/N: the pty master into *ret_master and the socket whose
 * closing ends the shell into *ret_life.  0 or -errno.
 */
int helper_shell(const char *app, int n, int *ret_master, int *ret_life);

#endif
