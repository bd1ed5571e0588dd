/*
 * peer_util: helpers for the unit-test binaries that talk to the Node test
 * peers (tests/peers/).  Those binaries run for real only from their
 * integration script (tests/integration/bucket_*.sh), which starts the peers
 * and exports DEPLOYEX_TEST_* variables; run bare (tests/run's unit pass)
 * they exit 77, which tests/run reports as SKIP and run_peer_test (peers.sh)
 * as a failure.  Header-only.
 */
#ifndef DEPLOYEX_TEST_PEER_UTIL_H
#define DEPLOYEX_TEST_PEER_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/config.h"
#include "base/fsutil.h"
#include "buckets/http.h"
#include "state/json.h"
#include "base/util.h"

/*
 * Without var, which the integration script exports with its peers' addresses,
 * there is nothing to talk to: say which script runs this binary, exit 77.
 */
static inline void peer_skip_unless(const char *var, const char *script)
{
        if (getenv(var))
                return;
        printf("skip: %s is unset; %s runs this binary with its peers\n", var, script);
        exit(77);
}

/* The variable's value; skips the calling test when unset (a script that forgot one). */
#define PEER_ENV(name) (getenv(name) ? getenv(name) : (skip(), ""))

/* A config for app "myapp" under root (var, overrides). */
struct peer_config {
        struct config c;
        struct app_config app;
        struct buf var, overrides;
};

static inline void peer_config_init(struct peer_config *p, const char *root, const char *source)
{
        memset(p, 0, sizeof(*p));
        buf_init(&p->var);
        buf_init(&p->overrides);
        buf_printf(&p->var, "%s/var", root);
        buf_printf(&p->overrides, "%s/overrides", root);
        (void)mkdir_p(p->var.data, 0700);
        (void)mkdir_p(p->overrides.data, 0700);
        p->c.origin = "peer-test";
        p->c.env = "prod";
        p->c.source = (char *)source;
        p->c.var_path = p->var.data;
        p->c.overrides_path = p->overrides.data;
        p->c.poll_interval_ms = 1000;
        p->c.max_release_bytes = 64 * 1024 * 1024;
        p->app.name = "myapp";
        p->app.replicas = 1;
}

static inline void peer_config_release(struct peer_config *p)
{
        buf_release(&p->var);
        buf_release(&p->overrides);
}

/* How many request-log lines contain every one of the given fragments (NULL-terminated). */
static inline int peer_log_count(const char *log, ...)
{
        struct buf text = BUF_INIT;
        const char *frags[8];
        size_t nfrags = 0;
        va_list ap;
        int n = 0;

        va_start(ap, log);
        for (const char *f; nfrags < 8 && (f = va_arg(ap, const char *));)
                frags[nfrags++] = f;
        va_end(ap);
        if (file_read_all(log, 16 * 1024 * 1024, &text) < 0)
                return -1;
        for (char *line = text.data, *next; line && *line; line = next) {
                bool all = true;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                for (size_t i = 0; i < nfrags && all; i++)
                        all = strstr(line, frags[i]) != NULL;
                n += all;
        }
        buf_release(&text);
        return n;
}

/* An HTTP request to a peer's control or publishing side; returns the status. */
static inline long peer_http(const char *method, const char *url, const void *body, size_t len,
                      const char *const *headers)
{
        struct http_response resp;
        struct buf err = BUF_INIT;
        struct http_request req = {
                .method = method,
                .url = url,
                .headers = headers,
                .body = body,
                .body_len = len,
                .timeout_ms = 10000,
        };
        long status;

        http_response_init(&resp);
        status = http_perform(&req, &resp, &err) == 0 ? resp.status : -1;
        if (status < 0)
                fprintf(stderr, "peer_http: %s\n", err.data);
        http_response_release(&resp);
        buf_release(&err);
        return status;
}

#endif
