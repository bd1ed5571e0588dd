/*
 * dist: what the CLI needs to open an Erlang distribution connection from the
 * configuration (rpc, eval, the __otp probe): the cookie and the transport.
 */
#ifndef DEPLOYEX_DIST_H
#define DEPLOYEX_DIST_H

#include "../beam/beam.h"
#include "../state/config.h"

/*
 * Read the cookie into cookie (wipe it with dist_cookie_release) and fill ret.
 * -errno with err naming the file or the config.  The TLS distribution will
 * choose its struct beam_transport here.
 */
int dist_opts(const struct config *c, struct buf *cookie, struct beam_opts *ret, struct buf *err);
void dist_cookie_release(struct buf *cookie);

#endif
