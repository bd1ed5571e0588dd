/*
 * tls_check: `deployex check`'s checks of the configured certificate, key and
 * CA (tls.h, tls_check()), with OpenSSL.
 */
#include "state/tls.h"
#include "state/app_user.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/fsutil.h"
#include "base/banned.h"

struct checker {
        const struct config *c;
        struct buf *problems, *warnings;
        unsigned n;
};

static void problem(struct checker *ck, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void problem(struct checker *ck, const char *field, const char *fmt, ...)
{
        va_list ap;

        buf_printf(ck->problems, "%s: tls.%s: ", ck->c->origin, field);
        va_start(ap, fmt);
        buf_vprintf(ck->problems, fmt, ap);
        va_end(ap);
        buf_putc(ck->problems, '\n');
        ck->n++;
}

static const char *ssl_reason(void)
{
        static char reason[160];
        unsigned long e = ERR_peek_last_error();
        const char *words;

        reason[0] = '\0';
        if (e)
                ERR_error_string_n(e, reason, sizeof(reason));
        ERR_clear_error();
        words = strrchr(reason, ':');
        return words ? words + 1 : reason[0] ? reason : "not PEM";
}

/* Open path for reading, or a problem. */
static FILE *open_file(struct checker *ck, const char *field, const char *path)
{
        FILE *f = fopen(path, "re");

        if (!f)
                problem(ck, field, "cannot read '%s': %s", path, strerror(errno));
        return f;
}

static void check_time(struct checker *ck, const char *field, const char *path, X509 *x)
{
        const ASN1_TIME *after = X509_get0_notAfter(x), *before = X509_get0_notBefore(x);
        int days = 0, secs = 0;
        char when[64] = "";
        BIO *b = BIO_new(BIO_s_mem());

        if (b && ASN1_TIME_print(b, after) == 1) {
                int n = BIO_read(b, when, sizeof(when) - 1);
                when[n > 0 ? n : 0] = '\0';
        }
        BIO_free(b);
        if (X509_cmp_current_time(before) > 0) {
                problem(ck, field, "'%s' is not valid yet", path);
        } else if (X509_cmp_current_time(after) < 0) {
                problem(ck, field, "'%s' expired on %s: renew it (deployex tls-init makes new ones)",
                        path, when);
        } else if (ASN1_TIME_diff(&days, &secs, NULL, after) == 1 &&
                   (days += secs > 0) <= TLS_EXPIRY_WARN_DAYS) {
                /* Days started count: a certificate made for 10 days says 10 until it has less than 9. */
                buf_printf(ck->warnings, "%s: tls.%s: '%s' expires on %s (in %d day%s): renew it soon\n",
                           ck->c->origin, field, path, when, days, days == 1 ? "" : "s");
        }
}

static X509 *load_cert(struct checker *ck, const char *field, const char *path)
{
        FILE *f = open_file(ck, field, path);
        X509 *x;

        if (!f)
                return NULL;
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        if (!x)
                problem(ck, field, "'%s' is not a PEM certificate: %s", path, ssl_reason());
        return x;
}

static bool any_app_user(const struct config *c)
{
        for (size_t i = 0; i < c->napps; i++)
                if (c->apps[i].ids)
                        return true;
        return false;
}

/* The apps' VMs read the files as the apps' users (DESIGN §8): can they? */
static void check_readers(struct checker *ck)
{
        static const char *const fields[] = { "cert", "key", "ca" };
        const char *paths[] = { ck->c->tls_cert, ck->c->tls_key, ck->c->tls_ca };

        for (size_t i = 0; i < ck->c->napps; i++) {
                const struct app_config *app = &ck->c->apps[i];

                for (size_t k = 0; app->ids && k < ARRAY_SIZE(paths); k++) {
                        if (access(paths[k], R_OK) < 0 || app_user_can_read(app, paths[k]))
                                continue; /* unreadable even by root: said already */
                        problem(ck, fields[k], "'%s' cannot be read by user %s (app %s), whose VMs "
                                "read it: give it to that user (chown %s) or to a group of it "
                                "(chgrp, chmod 0640)", paths[k], app->user, app->name, app->user);
                }
        }
}

static EVP_PKEY *load_key(struct checker *ck, const char *path)
{
        struct stat st;
        FILE *f = open_file(ck, "key", path);
        EVP_PKEY *k;

        if (!f)
                return NULL;
        /*
         * Private to its owner; with apps run as their own users, also
         * readable by a group of theirs (0640), since their VMs read it.
         */
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & (any_app_user(ck->c) ? 037 : 077))) {
                char mode[16];
                snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
                problem(ck, "key", "'%s' can be read by other users (mode %s): chmod %s it", path,
                        mode, any_app_user(ck->c) ? "600 (or 640, for a group of the apps' users)" : "600");
        }
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!k)
                problem(ck, "key", "'%s' is not a PEM private key (without a passphrase): %s", path,
                        ssl_reason());
        return k;
}

/* The certificate chains to the CA file (time left to check_time). */
static void check_chain(struct checker *ck, X509 *cert)
{
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();

        if (!store || !ctx || X509_STORE_load_file(store, ck->c->tls_ca) != 1) {
                problem(ck, "ca", "'%s' holds no PEM certificate: %s", ck->c->tls_ca, ssl_reason());
                goto out;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME);
        if (X509_STORE_CTX_init(ctx, store, cert, NULL) != 1 || X509_verify_cert(ctx) != 1)
                problem(ck, "cert", "'%s' does not chain to the CA '%s': %s", ck->c->tls_cert,
                        ck->c->tls_ca, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        ERR_clear_error();
}

/* Usable as both ends of a distribution connection (extended key usage, if present). */
static void check_purpose(struct checker *ck, X509 *cert)
{
        if (X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) != 1)
                problem(ck, "cert", "'%s' is not usable as a TLS server certificate (key usage)",
                        ck->c->tls_cert);
        if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1)
                problem(ck, "cert", "'%s' is not usable as a TLS client certificate (key usage)",
                        ck->c->tls_cert);
}

unsigned tls_check(const struct config *c, struct buf *problems, struct buf *warnings)
{
        struct checker ck = { c, problems, warnings, 0 };
        X509 *cert, *ca;
        EVP_PKEY *key;

        if (!c->has_tls)
                return 0;
        ERR_clear_error();
        cert = load_cert(&ck, "cert", c->tls_cert);
        key = load_key(&ck, c->tls_key);
        ca = load_cert(&ck, "ca", c->tls_ca);
        if (cert && key && X509_check_private_key(cert, key) != 1)
                problem(&ck, "key", "'%s' does not match the certificate '%s'", c->tls_key,
                        c->tls_cert);
        if (cert && ca)
                check_chain(&ck, cert);
        if (cert) {
                check_purpose(&ck, cert);
                check_time(&ck, "cert", c->tls_cert, cert);
        }
        if (ca)
                check_time(&ck, "ca", c->tls_ca, ca);
        check_readers(&ck);
        X509_free(cert);
        X509_free(ca);
        EVP_PKEY_free(key);
        ERR_clear_error();
        return ck.n;
}
