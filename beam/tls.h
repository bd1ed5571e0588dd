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
 * The implementation (beam/tls.c) is the only code of deployex's library that
 * calls OpenSSL, and the only way to it is the table a program installs at
 * its start with beam_tls_install(&beam_tls_openssl), as deployex-cli does.
 * A program that does not (the hook runner, whose every start would load
 * libssl and libcrypto for 1.4 ms of CPU) does not link OpenSSL, and its
 * beam_tls_new() refuses: the daemon runs an app's hook and readiness jobs in
 * deployex-cli when TLS distribution is configured (docs/daemon.md PROGRAMS).
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

struct beam_tls_impl {
        int (*create)(const char *cert, const char *key, const char *ca, struct beam_tls **ret,
                      struct buf *err);
        const struct beam_transport *(*transport)(const struct beam_tls *tls);
        void (*destroy)(struct beam_tls *tls);
        const char *(*last_error)(bool reset);
};

/* OpenSSL's (beam/tls.c). */
extern const struct beam_tls_impl beam_tls_openssl;

/* Once, at a program's start: the functions below call impl; NULL = none. */
void beam_tls_install(const struct beam_tls_impl *impl);

/*
 * 0, or -EINVAL with one line in err naming the file at fault; -ENOTSUP when
 * this program has no TLS installed.
 */
int beam_tls_new(const char *cert, const char *key, const char *ca, struct beam_tls **ret,
                 struct buf *err);
const struct beam_transport *beam_tls_transport(const struct beam_tls *tls);
void beam_tls_free(struct beam_tls *tls);

/* Why the last TLS connect of this thread failed ("" when it did not); reset clears it. */
const char *beam_tls_last_error(bool reset);

#endif
