/*
 * dist: what the CLI needs to open an Erlang distribution connection from the
 * configuration (rpc, eval, the __otp probe): the cookie and the transport --
 * plain TCP, or with `tls` configured the TLS distribution of beam/tls.h.
 */
#ifndef DEPLOYEX_DIST_H
#define DEPLOYEX_DIST_H

#include "beam/beam.h"
#include "beam/tls.h"
#include "state/config.h"

struct dist {
        struct buf cookie;
        struct beam_tls *tls; /* NULL: plain TCP */
};
#define DIST_INIT { BUF_INIT, NULL }

/*
 * Read the cookie (and with tls, load the certificate, key and CA) into d and
 * fill ret, which points into d: release d with dist_release after the last
 * connection.  -errno with err naming the file or the config.
 */
int dist_opts(const struct config *c, struct dist *d, struct beam_opts *ret, struct buf *err);
/* Wipe the cookie, free the TLS context.  Safe on DIST_INIT and after a failed dist_opts. */
void dist_release(struct dist *d);

#endif
