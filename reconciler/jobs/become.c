/*
 * become: a hook job's switch to its app's user.  See become.h.
 */
#include "reconciler/jobs/become.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lua/api.h"
#include "state/app_user.h"
#include "state/paths.h"
#include "state/tls.h"
#include "base/fsutil.h"
#include "base/banned.h"

int hook_job_become_app_user(struct config *c, const struct app_config *app, int n, int log_fds[2])
{
        struct buf err = BUF_INIT, path = BUF_INIT;
        int r = 0;

        log_fds[0] = log_fds[1] = -1;
        if (!app->user || geteuid() != 0)
                goto out;
        if (!app->ids && (r = app_user_resolve(c, &c->apps[app - c->apps], &err)) < 0)
                goto out;
        if (!app->ids)
                goto out; /* "user": "root" */
        if (!c->cookie && c->cookie_file) {
                if ((r = config_read_cookie(c, &path)) < 0) {
                        buf_printf(&err, "%s: cannot read the cookie from %s: %s", c->origin,
                                   c->cookie_file, file_strerror(r));
                        goto out;
                }
                c->cookie = buf_detach(&path);
        }
        if (c->has_tls && (r = tls_dist_write(c, app->name, &path, &err)) < 0)
                goto out;
        for (int k = 0; k < 2; k++) {
                path_log_file(c, app->name, n, k == 1, &path);
                log_fds[k] = api_open_log(path.data);
        }
        r = app_user_become(app, &err);
out:
        while (err.len && err.data[err.len - 1] == '\n')
                err.data[--err.len] = '\0';
        if (r < 0)
                fprintf(stderr, "%s/%d: %s\n", app->name, n, err.len ? err.data : strerror(-r));
        buf_release(&err);
        buf_release(&path);
        return r;
}
