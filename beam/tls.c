/*
 * tls: ei user-supplied socket callbacks over OpenSSL.  See tls.h.
 */
#include "beam/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/banned.h"

struct beam_tls {
        SSL_CTX *ctx;
        ei_socket_callbacks cbs;
        struct beam_transport transport;
};

/* One connection: ei's ctx. */
struct tls_sock {
        int fd;
        SSL *ssl;
        SSL_CTX *ctx; /* not owned */
};

static __thread char last_error[256];

static void tls_free(struct beam_tls *tls);

static const char *tls_last_error(bool reset)
{
        if (reset)
                last_error[0] = '\0';
        return last_error;
}

/* OpenSSL's reason for the last failure on ssl, into last_error. */
static void record_ssl_error(SSL *ssl, const char *during)
{
        unsigned long e = ERR_peek_last_error();
        char reason[160];
        long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

        if (verify != X509_V_OK) {
                snprintf(last_error, sizeof(last_error), "%s: the node's certificate: %s", during,
                         X509_verify_cert_error_string(verify));
        } else if (e) {
                ERR_error_string_n(e, reason, sizeof(reason));
                /* "error:0A000418:SSL routines::tlsv1 alert unknown ca": keep the words. */
                const char *words = strrchr(reason, ':');
                snprintf(last_error, sizeof(last_error), "%s: %s%s", during,
                         ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET ?
                                 "the node refused our certificate: " : "",
                         words ? words + 1 : reason);
        } else {
                snprintf(last_error, sizeof(last_error), "%s: the connection was closed", during);
        }
        ERR_clear_error();
}

/* ms left until deadline (UINT64_MAX: none) as poll() wants it; 0 when passed. */
static int left_ms(uint64_t deadline)
{
        uint64_t now;

        if (deadline == UINT64_MAX)
                return -1;
        now = time_mono_ms();
        if (now >= deadline)
                return 0;
        return deadline - now > (uint64_t)INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

static uint64_t deadline_of(unsigned tmo)
{
        return tmo == EI_SCLBK_INF_TMO ? UINT64_MAX : time_mono_ms() + tmo;
}

/* Wait until fd is ready for events or the deadline passes: 0, ETIMEDOUT or errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                struct pollfd p = { fd, events, 0 };
                int ms = left_ms(deadline), r;

                if (ms == 0)
                        return ETIMEDOUT;
                r = poll(&p, 1, ms);
                if (r > 0)
                        return 0;
                if (r == 0)
                        return ETIMEDOUT;
                if (errno != EINTR)
                        return errno;
        }
}

/*
 * Drive one SSL call to completion: what OpenSSL wants (read or write) is
 * waited for on the socket.  >0 is the call's result, else -errno.
 */
static int ssl_drive(struct tls_sock *s, int (*op)(SSL *, void *, int), void *buf, int len,
                     uint64_t deadline, const char *during)
{
        for (;;) {
                int r, e, w;

                ERR_clear_error();
                errno = 0;
                r = op(s->ssl, buf, len);
                if (r > 0)
                        return r;
                e = SSL_get_error(s->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                        w = wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
                        if (w)
                                return -w;
                        continue;
                }
                if (e == SSL_ERROR_ZERO_RETURN)
                        return 0;
                if (e == SSL_ERROR_SYSCALL && errno && !ERR_peek_error())
                        return -errno;
                record_ssl_error(s->ssl, during);
                return -EPROTO;
        }
}

static int op_connect(SSL *ssl, void *buf, int len)
{
        (void)buf;
        (void)len;
        return SSL_connect(ssl);
}

static int op_read(SSL *ssl, void *buf, int len)
{
        return SSL_read(ssl, buf, len);
}

static int op_write(SSL *ssl, void *buf, int len)
{
        return SSL_write(ssl, buf, len);
}

/* ---- the callbacks: 0 or an errno value, as ei wants them ------------------- */

static int cb_socket(void **ctx, void *setup_ctx)
{
        struct beam_tls *tls = setup_ctx;
        struct tls_sock *s;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return errno;
        s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->ctx = tls->ctx;
        *ctx = s;
        return 0;
}

static int cb_close(void *ctx)
{
        struct tls_sock *s = ctx;

        if (s->ssl) {
                /* One close_notify, without waiting for the node's. */
                (void)SSL_shutdown(s->ssl);
                SSL_free(s->ssl);
        }
        close(s->fd);
        free(s);
        return 0;
}

static int cb_listen(void *ctx, void *addr, int *len, int backlog)
{
        (void)ctx, (void)addr, (void)len, (void)backlog;
        return EOPNOTSUPP; /* deployex only connects */
}

static int cb_accept(void **ctx, void *addr, int *len, unsigned tmo)
{
        (void)ctx, (void)addr, (void)len, (void)tmo;
        return EOPNOTSUPP;
}

static int cb_connect(void *ctx, void *addr, int len, unsigned tmo)
{
        struct tls_sock *s = ctx;
        uint64_t deadline = deadline_of(tmo);
        int one = 1, soerr = 0, r;
        socklen_t sl = sizeof(soerr);

        if (connect(s->fd, addr, (socklen_t)len) < 0) {
                if (errno != EINPROGRESS)
                        return errno;
                if ((r = wait_fd(s->fd, POLLOUT, deadline)))
                        return r;
                if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                        return errno;
                if (soerr)
                        return soerr;
        }
        (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        s->ssl = SSL_new(s->ctx);
        if (!s->ssl || !SSL_set_fd(s->ssl, s->fd)) {
                record_ssl_error(NULL, "TLS setup");
                return ENOMEM;
        }
        r = ssl_drive(s, op_connect, NULL, 0, deadline, "TLS handshake");
        if (r > 0)
                return 0;
        if (r == 0) {
                str_copy(last_error, sizeof(last_error), "TLS handshake: the node closed the connection");
                return ECONNRESET;
        }
        return -r;
}

static int cb_read(void *ctx, char *buf, ssize_t *len, unsigned tmo)
{
        struct tls_sock *s = ctx;
        int want = *len > INT32_MAX ? INT32_MAX : (int)*len;
        int r = ssl_drive(s, op_read, buf, want, deadline_of(tmo), "TLS");

        if (r < 0)
                return -r;
        *len = r; /* 0: the node closed the connection */
        return 0;
}

static int cb_write(void *ctx, const char *buf, ssize_t *len, unsigned tmo)
{
        struct tls_sock *s = ctx;
        uint64_t deadline = deadline_of(tmo);
        ssize_t done = 0;

        /* SSL_write without partial writes: all of a chunk, or a retry with the same chunk. */
        while (done < *len) {
                ssize_t chunk = *len - done > INT32_MAX ? INT32_MAX : *len - done;
                int r = ssl_drive(s, op_write, (void *)(buf + done), (int)chunk, deadline, "TLS");

                if (r < 0)
                        return -r;
                if (r == 0)
                        return ECONNRESET;
                done += r;
        }
        *len = done;
        return 0;
}

static int cb_writev(void *ctx, const void *iov, int iovcnt, ssize_t *len, unsigned tmo)
{
        const struct iovec *v = iov;
        struct buf all = BUF_INIT;
        ssize_t n;
        int r;

        /* One TLS record for one message, rather than one per piece. */
        for (int i = 0; i < iovcnt; i++)
                buf_append(&all, v[i].iov_base, v[i].iov_len);
        n = (ssize_t)all.len;
        r = cb_write(ctx, all.data, &n, tmo);
        buf_release(&all);
        if (r == 0)
                *len = n;
        return r;
}

static int cb_header_size(void *ctx, int *sz)
{
        (void)ctx;
        *sz = 4; /* inet_tls_dist runs the handshake with {packet, 4} */
        return 0;
}

static int cb_handshake_complete(void *ctx)
{
        (void)ctx;
        return 0;
}

static int cb_get_fd(void *ctx, int *fd)
{
        *fd = ((struct tls_sock *)ctx)->fd;
        return 0;
}

/* ---- the context -------------------------------------------------------------- */

static int fail(struct beam_tls *tls, struct buf *err, const char *what, const char *path)
{
        /* The first error says why (a missing file, key values mismatch); later ones only
         * which layer passed it on. */
        unsigned long e = ERR_peek_error();
        char reason[160] = "";
        const char *words = reason;

        if (e) {
                /* "error:8000000D:system library::Permission denied": keep the words. */
                ERR_error_string_n(e, reason, sizeof(reason));
                words = strrchr(reason, ':') ? strrchr(reason, ':') + 1 : reason;
        }
        ERR_clear_error();
        buf_printf(err, "tls: cannot load the %s '%s'%s%s", what, path, words[0] ? ": " : "",
                   words);
        tls_free(tls);
        return -EINVAL;
}

static int tls_new(const char *cert, const char *key, const char *ca, struct beam_tls **ret,
                   struct buf *err)
{
        struct beam_tls *tls = xcalloc(1, sizeof(*tls));

        ERR_clear_error();
        tls->ctx = SSL_CTX_new(TLS_client_method());
        if (!tls->ctx)
                return fail(tls, err, "OpenSSL context", "-");
        SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(tls->ctx, SSL_MODE_AUTO_RETRY);
        if (SSL_CTX_use_certificate_chain_file(tls->ctx, cert) != 1)
                return fail(tls, err, "certificate", cert);
        if (SSL_CTX_use_PrivateKey_file(tls->ctx, key, SSL_FILETYPE_PEM) != 1)
                return fail(tls, err, "key", key);
        if (SSL_CTX_check_private_key(tls->ctx) != 1)
                return fail(tls, err, "key (it does not match the certificate)", key);
        if (SSL_CTX_load_verify_locations(tls->ctx, ca, NULL) != 1)
                return fail(tls, err, "CA certificate", ca);
        SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_PEER, NULL);

        tls->cbs = (ei_socket_callbacks){
                .flags = EI_SCLBK_FLG_FULL_IMPL,
                .socket = cb_socket,
                .close = cb_close,
                .listen = cb_listen,
                .EI_ACCEPT_NAME = cb_accept,
                .connect = cb_connect,
                .writev = cb_writev,
                .write = cb_write,
                .read = cb_read,
                .handshake_packet_header_size = cb_header_size,
                .connect_handshake_complete = cb_handshake_complete,
                .accept_handshake_complete = cb_handshake_complete,
                .get_fd = cb_get_fd,
        };
        tls->transport = (struct beam_transport){ &tls->cbs, (int)sizeof(tls->cbs), tls,
                                                  tls_last_error };
        *ret = tls;
        return 0;
}

static const struct beam_transport *tls_transport(const struct beam_tls *tls)
{
        return &tls->transport;
}

static void tls_free(struct beam_tls *tls)
{
        if (!tls)
                return;
        SSL_CTX_free(tls->ctx);
        free(tls);
}

const struct beam_tls_impl beam_tls_openssl = { tls_new, tls_transport, tls_free, tls_last_error };
