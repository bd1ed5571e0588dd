/*
 * GET /metrics: the text of `deployex metrics` (reconciler/shared/metrics.h), per
 * http.metrics:
 *   "login"  (default) a session cookie, or HTTP Basic auth with the admin
 *            password (any user name) -- what a Prometheus scrape job sends
 *            with basic_auth; failures count towards the login rate limit;
 *   "public" anyone who can reach the listener;
 *   "off"    404.
 * A Basic password is checked with bcrypt on every scrape (~200 ms, under
 * the same cap on concurrent checks as the login form).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/http.h"
#include "reconciler/shared/metrics.h"
#include "base/banned.h"

static enum MHD_Result unauthorized(struct MHD_Connection *c, const char *why)
{
        static const char body[] = "log in (a session cookie) or use HTTP Basic auth with the admin password\n";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
                                                                 MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        (void)why;
        if (!r)
                return MHD_NO;
        http_secure(r, false);
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        ret = MHD_queue_basic_auth_fail_response(c, "deployex metrics", r);
        MHD_destroy_response(r);
        return ret;
}

/* 0 when the request may read the metrics, else the answer has been queued into *ret. */
static int authorize(struct MHD_Connection *c, const char *ip, enum MHD_Result *ret)
{
        char csrf[65], *user, *password = NULL;
        unsigned wait_s;
        int r;

        if (web_g.o->cfg->http_metrics == HTTP_METRICS_PUBLIC || session_find(c, csrf))
                return 0;
        user = MHD_basic_auth_get_username_password(c, &password);
        if (!user || !password) {
                MHD_free(user);
                MHD_free(password);
                *ret = unauthorized(c, "no credentials");
                return -EACCES;
        }
        if ((wait_s = ratelimit_wait(ip)) > 0) {
                explicit_bzero(password, strlen(password));
                MHD_free(user);
                MHD_free(password);
                *ret = http_error(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many failed attempts; wait %u s",
                                  wait_s);
                return -EAGAIN;
        }
        r = password_check(web_g.o->cfg->admin_password_hash, password);
        explicit_bzero(password, strlen(password));
        MHD_free(user);
        MHD_free(password);
        if (r == 0)
                return 0;
        if (r == -EBUSY)
                *ret = http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "too many logins being checked; try again");
        else if (r == -ENOENT)
                *ret = http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "no admin password configured (http.admin_password_hash)");
        else {
                ratelimit_failed(ip);
                *ret = unauthorized(c, "wrong password");
        }
        return r;
}

enum MHD_Result metrics_serve(struct MHD_Connection *c, const char *ip)
{
        struct MHD_Response *r;
        enum MHD_Result ret = MHD_NO;
        struct buf out = BUF_INIT;
        size_t len;

        if (web_g.o->cfg->http_metrics == HTTP_METRICS_OFF)
                return http_error(c, MHD_HTTP_NOT_FOUND, "metrics are off (http.metrics)");
        if (authorize(c, ip, &ret) < 0)
                return ret;
        metrics_render(web_g.o->cfg, time_now_ms(), &out);
        len = out.len;
        r = MHD_create_response_from_buffer(len, buf_detach(&out), MHD_RESPMEM_MUST_FREE);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        return http_queue(c, MHD_HTTP_OK, r);
}
