/*
 * tls_link: beam/tls.h's functions, through the implementation the program
 * installed.  No OpenSSL here: the hook runner links this file and not
 * beam/tls.c (see tls.h).
 */
#include <errno.h>
#include <stddef.h>

#include "beam/tls.h"
#include "base/banned.h"

static const struct beam_tls_impl *installed;

void beam_tls_install(const struct beam_tls_impl *impl)
{
        installed = impl;
}

int beam_tls_new(const char *cert, const char *key, const char *ca, struct beam_tls **ret,
                 struct buf *err)
{
        if (!installed) {
                buf_puts(err, "TLS distribution is configured, and this program is built without "
                              "it: run the command with deployex (deployex-cli)");
                return -ENOTSUP;
        }
        return installed->create(cert, key, ca, ret, err);
}

const struct beam_transport *beam_tls_transport(const struct beam_tls *tls)
{
        return installed->transport(tls);
}

void beam_tls_free(struct beam_tls *tls)
{
        if (tls && installed)
                installed->destroy(tls);
}

const char *beam_tls_last_error(bool reset)
{
        return installed ? installed->last_error(reset) : "";
}
