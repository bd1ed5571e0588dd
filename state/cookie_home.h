/*
 * cookie_home: hand the distribution cookie to an Erlang VM without argv.
 *
 * `-setcookie C` on a command line is readable by every local user (ps,
 * /proc/PID/cmdline), and relx's vm.args and Elixir's --cookie both end up
 * there.  Instead every VM deployex starts (instances, pre-commands, remote
 * shells) gets HOME=DIR, where DIR (mode 0700) holds .erlang.cookie (mode
 * 0400): the file the VM reads when no -setcookie is given.
 *
 * cookie_home_write() creates DIR if missing, refuses a DIR that is a symlink,
 * not a directory, or owned by another user, tightens its mode to 0700, and
 * replaces DIR/.erlang.cookie atomically when its content differs.  Returns
 * 0 or -errno (-EPERM: DIR belongs to someone else); never logs.
 */
#ifndef DEPLOYEX_COOKIE_HOME_H
#define DEPLOYEX_COOKIE_HOME_H

int cookie_home_write(const char *dir, const char *cookie);

#endif
