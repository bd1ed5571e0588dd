/*
 * http: what the web modules share: the per-request context, response
 * helpers that always carry the security headers, and the limits.
 * Internal to web/.
 */
#ifndef DEPLOYEX_WEB_HTTP_H
#define DEPLOYEX_WEB_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "web/web.h"

#define WEB_BODY_MAX 8192           /* POST bodies above this are refused (413) */
#define WEB_SSE_KEEPALIVE_MS 15000  /* a comment line on idle streams */

struct source;
struct web {
        const struct web_options *o;
        struct source *src;         /* file:// only: read like the CLI does; NULL otherwise */
        bool tls;
        const char *cookie_name;    /* "__Host-deployex_session" on HTTPS */
};
extern struct web web_g;

struct request {
        char ip[64];                /* the client's address, for rate limits and the audit */
        struct buf body;
        bool body_too_big;
        bool started;
};

/* Add the headers every answer carries (CSP, nosniff, no-referrer, no-store, HSTS on TLS). */
void http_secure(struct MHD_Response *r, bool shell_page);
/* Queue r (destroyed here) with status. */
enum MHD_Result http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r);
enum MHD_Result http_json(struct MHD_Connection *c, unsigned status, const char *json);
/* {"error": "text"} */
enum MHD_Result http_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
enum MHD_Result http_redirect(struct MHD_Connection *c, const char *location, const char *cookie);

/*
 * The status and plan documents, as the CLI builds them; one at a time (the
 * source handle is shared).  only = an app or NULL.
 */
void web_status_json(struct buf *out);
void web_plan_json(const char *only, struct buf *out);

/* Append an action to the audit log; app, detail and error may be NULL. */
void web_audit(const char *ip, const char *action, const char *app, const char *detail, bool ok,
               const char *error);
/* The client's address as text ("unknown" when there is none). */
void web_client_ip(struct MHD_Connection *c, char *out, size_t n);

/* --- session.c --- */
#define WEB_IDLE_MS (30ULL * 60 * 1000)        /* a session unused this long has ended */
#define WEB_ABSOLUTE_MS (12ULL * 3600 * 1000)  /* and any session this long after its login */
/* Whether a session logged in at created_ms and last used at last_ms has ended at now. */
bool session_expired(uint64_t created_ms, uint64_t last_ms, uint64_t now);
/* The session of the request's cookie, or false.  csrf (65 bytes) gets its CSRF token. */
bool session_find(struct MHD_Connection *c, char *csrf);
/* A new session; its cookie header value into cookie (512 bytes).  0 or -errno. */
int session_create(char *cookie, size_t n);
/*
 * For long streams: the SHA-256 of the request's session token into hash
 * (32 bytes; false without a session), and later whether that session
 * still lives (and, being in use, is kept from idling out).
 */
bool session_hash(struct MHD_Connection *c, unsigned char *hash);
bool session_touch(const unsigned char *hash);
/* Forget the request's session; the expiring cookie header value into cookie. */
void session_delete(struct MHD_Connection *c, char *cookie, size_t n);
/* 0 ok, -EACCES wrong, -EBUSY too many checks at once, -ENOENT no hash configured. */
int password_check(const char *hash, const char *password);
/* Login attempts: 0 allowed, else the seconds to wait. */
unsigned ratelimit_wait(const char *ip);
void ratelimit_failed(const char *ip);
bool constant_time_eq(const char *a, const char *b);

/* --- assets.c --- */
/* Serve NAME from the assets dir (a page or a file under it).  404 when absent or unsafe. */
enum MHD_Result assets_serve(struct MHD_Connection *c, const char *name);
bool asset_name_is_safe(const char *name);

/* --- events.c --- */
int events_start(void);
void events_stop(void);
enum MHD_Result events_serve(struct MHD_Connection *c);
/* true once the server is stopping: long streams end. */
bool events_stopping(void);

/* --- metrics.c --- */
/* GET /metrics per http.metrics; ip for the rate limit of failed Basic logins. */
enum MHD_Result metrics_serve(struct MHD_Connection *c, const char *ip);

/* --- logstream.c --- */
enum MHD_Result logstream_serve(struct MHD_Connection *c, const struct app_config *app, int n);

/* --- shell.c --- */
/* POST .../instances/N/shell: a single-use ticket for the WebSocket. */
enum MHD_Result shell_ticket(struct MHD_Connection *c, const struct app_config *app, int n);
/* GET .../instances/N/shell: the WebSocket, after its Origin, session and ticket checks. */
enum MHD_Result shell_serve(struct MHD_Connection *c, const struct app_config *app, int n);

/* --- host.c --- */
/* {"cpu_pct", "mem_total_bytes", "mem_available_bytes", "load": [1,5,15], "uptime_s"} */
void host_json(struct buf *out);

/* --- api.c --- */
enum MHD_Result api_get(struct MHD_Connection *c, const char *url);
enum MHD_Result api_post(struct MHD_Connection *c, struct request *req, const char *url);

#endif
