/*
 * tls_init: a CA and a node certificate for TLS distribution, made with the
 * OpenSSL library (`deployex tls-init`).  See tls.h.
 *
 * Keys are ECDSA P-256 (every OTP since 20 speaks it, and they are small);
 * certificates are X.509 v3 signed with SHA-256.  The node certificate
 * names the hosts as DNS subjectAltNames (an Erlang client checks the
 * server's host name against them) and allows serverAuth and clientAuth:
 * every node both accepts and makes connections.
 */
#include "state/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/fsutil.h"
#include "base/banned.h"

static const char *const init_files[] = { "ca-key.pem", "ca-cert.pem", "node-key.pem",
                                          "node-cert.pem" };

size_t tls_default_hosts(char names[2][256])
{
        struct addrinfo hints, *ai = NULL;
        size_t n = 0;

        if (gethostname(names[0], sizeof(names[0])) < 0)
                return 0;
        names[0][sizeof(names[0]) - 1] = '\0';
        memset(&hints, 0, sizeof(hints));
        hints.ai_flags = AI_CANONNAME;
        if (getaddrinfo(names[0], NULL, &hints, &ai) == 0 && ai && ai->ai_canonname)
                str_copy(names[1], sizeof(names[1]), ai->ai_canonname);
        else
                str_copy(names[1], sizeof(names[1]), names[0]);
        if (ai)
                freeaddrinfo(ai);
        names[0][strcspn(names[0], ".")] = '\0';
        n = 1;
        if (strcmp(names[1], names[0]) != 0 && strchr(names[1], '.'))
                n = 2;
        return n;
}

static int ssl_fail(struct buf *err, const char *what)
{
        unsigned long e = ERR_peek_last_error();
        char reason[160] = "";

        if (e)
                ERR_error_string_n(e, reason, sizeof(reason));
        ERR_clear_error();
        buf_printf(err, "tls-init: cannot %s%s%s", what, reason[0] ? ": " : "", reason);
        return -EIO;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509_EXTENSION *ext;
        int ok;

        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext)
                return -1;
        ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        return ok ? 0 : -1;
}

/* A certificate for key, named cn, signed by issuer_key (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, unsigned days, X509 *issuer,
                       EVP_PKEY *issuer_key, const char *const *ext_values, const int *ext_nids,
                       size_t next)
{
        X509 *x = X509_new();
        unsigned char serial[16];
        BIGNUM *bn = NULL;
        X509_NAME *name;

        if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
                goto fail;
        serial[0] &= 0x7f; /* a positive serial */
        bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2))
                goto fail;
        /* An hour back: a peer whose clock is a little behind still accepts it. */
        if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400))
                goto fail;
        name = X509_get_subject_name(x);
        if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"deployex",
                                        -1, -1, 0) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                        -1, 0))
                goto fail;
        if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
            !X509_set_pubkey(x, key))
                goto fail;
        for (size_t i = 0; i < next; i++)
                if (add_ext(x, issuer ? issuer : x, ext_nids[i], ext_values[i]) < 0)
                        goto fail;
        if (!X509_sign(x, issuer_key, EVP_sha256()))
                goto fail;
        BN_free(bn);
        return x;
fail:
        BN_free(bn);
        X509_free(x);
        return NULL;
}

/* Create dir/name 0600, refusing an existing file; write the PEM of key or cert. */
static int write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *cert, struct buf *err)
{
        struct buf path = BUF_INIT;
        FILE *f = NULL;
        int fd, r = 0;

        buf_printf(&path, "%s/%s", dir, name);
        fd = open(path.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                buf_printf(err, "tls-init: cannot create '%s': %s", path.data, strerror(errno));
                goto out;
        }
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                close(fd);
                buf_printf(err, "tls-init: cannot write '%s': %s", path.data, strerror(-r));
                goto out;
        }
        if (!(key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_X509(f, cert)) ||
            fflush(f) != 0 || fsync(fileno(f)) < 0) {
                r = -EIO;
                buf_printf(err, "tls-init: cannot write '%s'", path.data);
        }
        if (fclose(f) != 0 && r == 0) {
                r = -errno;
                buf_printf(err, "tls-init: cannot write '%s': %s", path.data, strerror(errno));
        }
        if (r < 0)
                unlink(path.data);
out:
        buf_release(&path);
        return r;
}

int tls_init(const char *dir, unsigned days, const char *const *hosts, size_t nhosts,
             struct buf *err)
{
        static const int ca_nids[] = { NID_basic_constraints, NID_key_usage,
                                       NID_subject_key_identifier };
        static const char *const ca_values[] = { "critical,CA:TRUE,pathlen:0",
                                                 "critical,keyCertSign,cRLSign", "hash" };
        static const int node_nids[] = { NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
                                         NID_subject_key_identifier, NID_authority_key_identifier,
                                         NID_subject_alt_name };
        struct buf san = BUF_INIT, path = BUF_INIT;
        EVP_PKEY *ca_key = NULL, *node_key = NULL;
        X509 *ca = NULL, *node = NULL;
        int r;

        if ((r = mkdir_p(dir, 0700)) < 0) {
                buf_printf(err, "tls-init: cannot create '%s': %s", dir, strerror(-r));
                return r;
        }
        /* All or nothing: refuse before anything is written. */
        for (size_t i = 0; i < ARRAY_SIZE(init_files); i++) {
                buf_reset(&path);
                buf_printf(&path, "%s/%s", dir, init_files[i]);
                if (access(path.data, F_OK) == 0) {
                        buf_printf(err, "tls-init: '%s' exists: remove the old files or choose "
                                        "another directory", path.data);
                        r = -EEXIST;
                        goto out;
                }
        }
        for (size_t i = 0; i < nhosts; i++)
                buf_printf(&san, "%sDNS:%s", i ? "," : "", hosts[i]);
        const char *node_values[] = { "critical,CA:FALSE", "critical,digitalSignature,keyEncipherment",
                                      "serverAuth,clientAuth", "hash", "keyid:always", san.data };

        ERR_clear_error();
        if (!(ca_key = EVP_EC_gen("P-256")) || !(node_key = EVP_EC_gen("P-256"))) {
                r = ssl_fail(err, "generate a key");
                goto out;
        }
        ca = make_cert(ca_key, "deployex distribution CA", days > TLS_INIT_CA_DAYS ? days : TLS_INIT_CA_DAYS,
                       NULL, ca_key, ca_values, ca_nids, ARRAY_SIZE(ca_nids));
        if (!ca) {
                r = ssl_fail(err, "make the CA certificate");
                goto out;
        }
        node = make_cert(node_key, hosts[0], days, ca, ca_key, node_values, node_nids,
                         ARRAY_SIZE(node_nids));
        if (!node) {
                r = ssl_fail(err, "make the node certificate");
                goto out;
        }
        if ((r = write_pem(dir, "ca-key.pem", ca_key, NULL, err)) < 0 ||
            (r = write_pem(dir, "ca-cert.pem", NULL, ca, err)) < 0 ||
            (r = write_pem(dir, "node-key.pem", node_key, NULL, err)) < 0 ||
            (r = write_pem(dir, "node-cert.pem", NULL, node, err)) < 0)
                goto out;
        r = fsync_dir_of(path.data);
out:
        EVP_PKEY_free(ca_key);
        EVP_PKEY_free(node_key);
        X509_free(ca);
        X509_free(node);
        buf_release(&san);
        buf_release(&path);
        return r;
}
