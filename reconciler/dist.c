/* dist: the cookie and the transport for a connection.  See dist.h. */
#include <errno.h>
#include <string.h>

#include "dist.h"
#include "../state/fsutil.h"
#include "../state/banned.h"

int dist_opts(const struct config *c, struct buf *cookie, struct beam_opts *ret, struct buf *err)
{
        int r = config_read_cookie(c, cookie);

        if (r < 0) {
                buf_printf(err, "%s: cannot read the cookie%s%s: %s", c->origin ? c->origin : "config",
                           c->cookie_file ? " from " : "", c->cookie_file ? c->cookie_file : "",
                           r == -ENOENT ? "none configured" : file_strerror(r));
                return r;
        }
        *ret = (struct beam_opts){ cookie->data, BEAM_CONNECT_TIMEOUT_MS, NULL };
        return 0;
}

void dist_cookie_release(struct buf *cookie)
{
        if (cookie->cap)
                explicit_bzero(cookie->data, cookie->cap);
        buf_release(cookie);
}
