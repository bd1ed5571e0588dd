/*
 * tls: the C node's side of Erlang's inet_tls distribution (DESIGN §7).
 *
 * A struct beam_tls holds one OpenSSL client context -- our certificate and
 * key (presented to the node, which runs with fail_if_no_peer_cert) and the
 * CA every node certificate must chain to (verify_peer) -- and the ei
 * user-supplied socket callbacks that speak TLS over TCP.  Hand
 * beam_tls_transport() to beam_connect() through beam_opts.transport.
 *
 * The callbacks implement everything themselves (EI_SCLBK_FLG_FULL_IMPL):
 * ei's own select() cannot see bytes OpenSSL has already read and
 * buffered, so every read and write waits on the socket here, with ei's
 * timeout.  The distribution handshake runs inside TLS with 4-byte packet
 * headers (handshake_packet_header_size), as inet_tls_dist does.  epmd is
 * not concerned: ei looks the port up over plain TCP.
 *
 * The peer's certificate must chain to the CA; its host name is not
 * compared with the node's (the CA is the trust boundary: every node
 * certificate it signed is a node of this cluster).
 *
 * Calling sequence:
 *     beam_tls_new(cert, key, ca, &tls, &err)        once; the files are read here
 *     o.transport = beam_tls_transport(tls);         any number of connections,
 *     beam_connect(&c, node, &o, &err) ...           from any number of threads
 *     beam_tls_free(tls)                             after the last connection closed
 *
 * A failed TLS handshake makes beam_connect() fail with -EPROTO and the
 * reason OpenSSL gave ("certificate verify failed: unable to get local
 * issuer certificate", "the node refused our certificate (alert unknown
 * ca)").
 */
#ifndef DEPLOYEX_BEAM_TLS_H
#define DEPLOYEX_BEAM_TLS_H

#include "beam/beam.h"

struct beam_tls;

/* 0, or -EINVAL with one line in err naming the file at fault. */
int beam_tls_new(const char *cert, const char *key, const char *ca, struct beam_tls **ret,
                 struct buf *err);
const struct beam_transport *beam_tls_transport(const struct beam_tls *tls);
void beam_tls_free(struct beam_tls *tls);

/* Why the last TLS connect of this thread failed ("" when it did not); reset clears it. */
const char *beam_tls_last_error(bool reset);

#endif
