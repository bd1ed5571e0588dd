/* dist: the cookie and the transport for a connection.  See dist.h. */
#include <errno.h>
#include <string.h>

#include "reconciler/cmd/dist.h"
#include "base/fsutil.h"
#include "base/banned.h"

int dist_opts(const struct config *c, struct dist *d, struct beam_opts *ret, struct buf *err)
{
        int r = config_read_cookie(c, &d->cookie);

        if (r < 0) {
                buf_printf(err, "%s: cannot read the cookie%s%s: %s", c->origin ? c->origin : "config",
                           c->cookie_file ? " from " : "", c->cookie_file ? c->cookie_file : "",
                           r == -ENOENT ? "none configured" : file_strerror(r));
                return r;
        }
        if (c->has_tls && (r = beam_tls_new(c->tls_cert, c->tls_key, c->tls_ca, &d->tls, err)) < 0)
                return r;
        *ret = (struct beam_opts){ d->cookie.data, BEAM_CONNECT_TIMEOUT_MS,
                                   d->tls ? beam_tls_transport(d->tls) : NULL };
        return 0;
}

void dist_release(struct dist *d)
{
        if (d->cookie.cap)
                explicit_bzero(d->cookie.data, d->cookie.cap);
        buf_release(&d->cookie);
        beam_tls_free(d->tls);
        d->tls = NULL;
}
