/*
 * become: what a hook job (__hook, __ready's health) reads as root before it
 * becomes the app's user (DESIGN §8): the cookie (cookie_file is root's),
 * the TLS options file (written, and given to the user), the instance's log
 * files (exec and rpc append to them).  Then the hook and everything it
 * runs -- pre-commands, the start command's checks, the cookie home it
 * makes, the hot upgrade -- run as the app's user.
 */
#ifndef DEPLOYEX_JOBS_BECOME_H
#define DEPLOYEX_JOBS_BECOME_H

#include "state/config.h"

/*
 * Nothing when the app has no user (or "root") or this process is not root.
 * log_fds[2] come back -1 or open (the caller closes them; hook_call.log_fds
 * when this process changed user).  0, or -errno with one line on stderr.
 */
int hook_job_become_app_user(struct config *c, const struct app_config *app, int n, int log_fds[2]);

#endif
