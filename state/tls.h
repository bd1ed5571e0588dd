/*
 * tls: the files of mutual-TLS Erlang distribution (DESIGN §7) -- the
 * per-app options file the instances start with, the checks `deployex
 * check` runs on the configured certificate, key and CA, and the files
 * `deployex tls-init` creates.  The C node's own TLS is beam/tls.h.
 *
 * The options file ({var_path}/tls/{app}.ssl_dist.conf, 0600) is what
 * `-ssl_dist_optfile` reads: Erlang terms naming the configured files, for
 * both sides of a connection (an instance accepts the C node's and its
 * peers' connections and makes its own), verify_peer and
 * fail_if_no_peer_cert.  tls_dist_write() rewrites it only when its text
 * changes.
 */
#ifndef DEPLOYEX_TLS_H
#define DEPLOYEX_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "state/config.h"
#include "base/util.h"

#define TLS_EXPIRY_WARN_DAYS 30
#define TLS_INIT_DEFAULT_DAYS 825     /* node certificate */
#define TLS_INIT_CA_DAYS 3650
#define TLS_INIT_HOSTS_MAX 16

/* The text of the options file for this configuration (c->has_tls). */
void tls_dist_text(const struct config *c, struct buf *out);

/*
 * Write app's options file when missing or different; its path into
 * ret_path.  0 or -errno with one line in err.
 */
int tls_dist_write(const struct config *c, const char *app, struct buf *ret_path, struct buf *err);

/*
 * Check the configured files: readable, the key private to its owner and
 * matching the certificate, the certificate chaining to the CA and usable as
 * TLS server and client, nothing expired or not yet valid.  One line per
 * problem into problems; one line per certificate expiring within
 * TLS_EXPIRY_WARN_DAYS into warnings.  Returns the number of problems.
 */
unsigned tls_check(const struct config *c, struct buf *problems, struct buf *warnings);

/*
 * Create in dir (made 0700 if missing): ca-key.pem, ca-cert.pem,
 * node-key.pem, node-cert.pem (all 0600), the node certificate signed by
 * the CA for the hosts given, valid `days` days, usable as TLS server and
 * client.  Refuses to overwrite any existing file.  0 or -errno with one
 * line in err.
 */
int tls_init(const char *dir, unsigned days, const char *const *hosts, size_t nhosts,
             struct buf *err);

/* This host's names for a default certificate: the short name, then the full one if it differs. */
size_t tls_default_hosts(char names[2][256]);

#endif
