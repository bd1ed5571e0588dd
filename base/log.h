/*
 * log: the daemon's log lines, to stderr (journald or the terminal):
 *     2026-11-26T05:00:00.123Z deployex: info: app=myapp instance=2 version=1.0.1 starting -> running
 * The time is left out when stderr is journald's (JOURNAL_STREAM): it stamps lines itself.
 * Lowercase, subject first, names quoted.  Secrets never go through here.
 */
#ifndef DEPLOYEX_LOG_H
#define DEPLOYEX_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level max);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs "msg: strerror(-r)" at LOG_ERR and returns r (r < 0). */
int log_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
