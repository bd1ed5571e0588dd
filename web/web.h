/*
 * web: the admin HTTP server (DESIGN §8, §9), `deployex web`.
 *
 * libmicrohttpd with one thread per connection (long-lived Server-Sent
 * Events streams block in their reader until there is something to send).
 * The server reads the same state files as the CLI (reconciler/shared/report.h)
 * and acts only through the CLI's writers (reconciler/shared/actions.h).
 *
 *     struct web_options o = {...};
 *     return web_serve(&o);      // until SIGTERM/SIGINT; 0 or -errno
 */
#ifndef DEPLOYEX_WEB_H
#define DEPLOYEX_WEB_H

#include "state/config.h"

struct web_options {
        const struct config *cfg;
        const char *config_path; /* -c given to deployex, or NULL (log followers get the same) */
        const char *assets_dir;  /* web_assets_dir() */
        const char *self_exe;    /* this binary: runs `deployex logs` for the log streams */
};

/*
 * Where the pages are: $DEPLOYEX_WEB_PATH, else ../share/deployex/web
 * relative to the binary.  0, or -ENOENT.
 */
int web_assets_dir(struct buf *ret);
/* Serve until SIGTERM or SIGINT.  0 after a clean stop, -errno when it cannot start (logged). */
int web_serve(const struct web_options *o);

#endif
