/*
 * webchild: `deployex run` keeps the admin web UI running (DESIGN §9).
 *
 * The daemon starts one small supervisor process, `deployex __websup`, when
 * http.listen is set, and forgets it: the supervisor runs `deployex web`,
 * restarts it with backoff when it dies, and dies with the daemon (and the
 * web UI with it).  Nothing of the web UI runs in the daemon's process, so
 * its crash never touches an instance, and the daemon's event loop has no
 * part in it (its SIGCHLD loop reaps the supervisor like any unknown pid).
 */
#ifndef DEPLOYEX_WEBCHILD_H
#define DEPLOYEX_WEBCHILD_H

#include "state/config.h"

/* Start the supervisor when cfg sets http.listen.  Logs what it does; never fails the daemon. */
void webchild_start(const struct config *cfg, const char *cli_exe, const char *config_path);

#endif
