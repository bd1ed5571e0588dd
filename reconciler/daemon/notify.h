/*
 * notify: systemd's readiness protocol (sd_notify(3)) without libsystemd.
 *
 * Under a Type=notify unit systemd sets $NOTIFY_SOCKET to an AF_UNIX
 * datagram socket, a path ("/run/systemd/notify") or an abstract name
 * ("@..."); the daemon sends "READY=1" once its loop runs, "STATUS=..." as
 * things change and "STOPPING=1" when it begins to shut down.  Outside
 * systemd the variable is unset and every call is a no-op returning 0, so
 * the caller needs no "are we under systemd" branch.
 *
 * The daemon should not pass NOTIFY_SOCKET on to its children (instances,
 * hooks): unset it in their environment.  Functions return 0 or -errno and
 * never log.
 */
#ifndef DEPLOYEX_NOTIFY_H
#define DEPLOYEX_NOTIFY_H

/* Send state (e.g. "READY=1\nSTATUS=3 instances running") to $NOTIFY_SOCKET. */
int sd_notify_send(const char *state);
/* The same, formatted; the message is cut at 4096 bytes. */
int sd_notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Send to the given socket address (NULL or "" = no-op).  -EAFNOSUPPORT for
 * an address that is neither "/path" nor "@abstract", -ENAMETOOLONG when it
 * does not fit a sockaddr_un.
 */
int sd_notify_send_to(const char *address, const char *state);

#endif
