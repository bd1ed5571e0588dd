/*
 * server: libmicrohttpd set-up, routing and the rules every request goes
 * through: login for everything but /health, /login and the static assets,
 * Origin + CSRF token on every POST, bounded bodies (DESIGN §8, §9).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web/http.h"
#include "web/helper.h"
#include "base/log.h"
#include "base/proc.h"
#include "reconciler/shared/report.h"
#include "state/audit.h"
#include "state/json.h"
#include "base/banned.h"

struct web web_g;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

void web_status_json(struct buf *out)
{
        pthread_mutex_lock(&report_lock);
        report_status_json(web_g.o->cfg, web_g.src, NULL, out);
        pthread_mutex_unlock(&report_lock);
}

void web_plan_json(const char *only, struct buf *out)
{
        pthread_mutex_lock(&report_lock);
        report_plan_json(web_g.o->cfg, web_g.src, only, out);
        pthread_mutex_unlock(&report_lock);
}

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
#define CSP_SHELL "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " \
                  "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "        \
                  "base-uri 'none'; form-action 'self'"

void http_secure(struct MHD_Response *r, bool shell_page)
{
        MHD_add_response_header(r, "Content-Security-Policy", shell_page ? CSP_SHELL : CSP);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        if (web_g.tls)
                MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
}

enum MHD_Result http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        http_secure(r, false);
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result http_json(struct MHD_Connection *c, unsigned status, const char *json)
{
        struct buf body = BUF_INIT;
        struct MHD_Response *r;
        size_t n;
        char *copy;

        buf_puts(&body, json);
        buf_putc(&body, '\n');
        n = body.len;
        copy = buf_detach(&body);
        r = MHD_create_response_from_buffer(n, copy, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(copy);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "application/json");
        return http_queue(c, status, r);
}

enum MHD_Result http_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
        struct buf text = BUF_INIT, out = BUF_INIT;
        enum MHD_Result ret;
        va_list ap;
        yajl_gen g;

        va_start(ap, fmt);
        buf_vprintf(&text, fmt, ap);
        va_end(ap);
        g = json_gen_new(&out);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "error", text.data);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        ret = http_json(c, status, out.data);
        buf_release(&text);
        buf_release(&out);
        return ret;
}

enum MHD_Result http_redirect(struct MHD_Connection *c, const char *location, const char *cookie)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Location", location);
        if (cookie)
                MHD_add_response_header(r, "Set-Cookie", cookie);
        return http_queue(c, MHD_HTTP_SEE_OTHER, r);
}

/*
 * Is this POST from our own pages, or from no browser at all?  A browser
 * names the page's origin in Origin -- except that under our
 * Referrer-Policy: no-referrer it sends "Origin: null" for same-origin
 * requests; it then still says Sec-Fetch-Site: same-origin, which no page
 * of another site can send.  So: Sec-Fetch-Site, when present, must be
 * same-origin; a real Origin must be ours (scheme + the Host the browser
 * used); "Origin: null" passes only with Sec-Fetch-Site: same-origin.
 * A request with neither header is no browser's (every browser this UI
 * supports sends Origin on a POST, and a page cannot make it leave both
 * out): curl or a script, which a cross-site request cannot be, so it
 * passes here, and the CSRF token (API) or the password (login) decide.
 */
static bool origin_ok(struct MHD_Connection *c)
{
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
        const char *scheme = web_g.tls ? "https://" : "http://";
        size_t n = strlen(scheme);

        if (site && strcmp(site, "same-origin") != 0)
                return false;
        if (origin && strcmp(origin, "null") != 0)
                return host && strncmp(origin, scheme, n) == 0 && strcmp(origin + n, host) == 0;
        return site != NULL || origin == NULL;
}

void web_audit(const char *ip, const char *action, const char *app, const char *detail, bool ok,
               const char *error)
{
        struct audit_entry e;

        memset(&e, 0, sizeof(e));
        str_copy(e.via, sizeof(e.via), "web");
        str_copy(e.from, sizeof(e.from), ip);
        str_copy(e.action, sizeof(e.action), action);
        str_copy(e.app, sizeof(e.app), app ? app : "");
        str_copy(e.detail, sizeof(e.detail), detail ? detail : "");
        e.ok = ok;
        str_copy(e.error, sizeof(e.error), error ? error : "");
        if (audit_append(web_g.o->cfg, &e) < 0)
                log_warn("cannot append to the audit log under '%s/state'", web_g.o->cfg->var_path);
}

static void audit_web(struct request *req, const char *action, bool ok, const char *error)
{
        web_audit(req->ip, action, NULL, NULL, ok, error);
}

static int hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

/* The value of field `name` in an application/x-www-form-urlencoded body, decoded. */
static bool form_field(const char *body, const char *name, struct buf *ret)
{
        size_t nlen = strlen(name);
        const char *p = body;

        while (*p) {
                const char *end = strchr(p, '&');
                size_t len = end ? (size_t)(end - p) : strlen(p);

                if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
                        for (size_t i = nlen + 1; i < len; i++) {
                                int hi, lo;

                                if (p[i] == '+') {
                                        buf_putc(ret, ' ');
                                } else if (p[i] == '%' && i + 2 < len &&
                                           (hi = hexval(p[i + 1])) >= 0 &&
                                           (lo = hexval(p[i + 2])) >= 0) {
                                        buf_putc(ret, (char)(hi * 16 + lo));
                                        i += 2;
                                } else {
                                        buf_putc(ret, p[i]);
                                }
                        }
                        return true;
                }
                p += len + (end ? 1 : 0);
        }
        return false;
}

static enum MHD_Result too_many(struct MHD_Connection *c, unsigned wait_s)
{
        static const char page[] = "<!doctype html><title>Too many attempts</title>"
                                   "<p>Too many login attempts. Wait and try again.</p>\n";
        struct MHD_Response *r = MHD_create_response_from_buffer(
                sizeof(page) - 1, (void *)page, MHD_RESPMEM_PERSISTENT);
        char s[16];

        if (!r)
                return MHD_NO;
        snprintf(s, sizeof(s), "%u", wait_s);
        MHD_add_response_header(r, "Retry-After", s);
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        return http_queue(c, MHD_HTTP_TOO_MANY_REQUESTS, r);
}

static enum MHD_Result do_login(struct MHD_Connection *c, struct request *req)
{
        struct buf password = BUF_INIT;
        char cookie[512];
        unsigned wait_s;
        int r;

        if ((wait_s = ratelimit_wait(req->ip)) > 0)
                return too_many(c, wait_s);
        if (!form_field(req->body.data, "password", &password))
                buf_reset(&password);
        r = password_check(web_g.o->cfg->admin_password_hash, password.data);
        explicit_bzero(password.data, password.len);
        buf_release(&password);
        explicit_bzero(req->body.data, req->body.len);
        if (r == -EBUSY)
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "too many logins being checked; try again");
        if (r == -ENOENT) {
                audit_web(req, "login", false, "no admin password configured");
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "no admin password configured (http.admin_password_hash, "
                                  "see 'deployex hash-password')");
        }
        if (r < 0) {
                ratelimit_failed(req->ip);
                audit_web(req, "login", false, "wrong password");
                return http_redirect(c, "/login?failed=1", NULL);
        }
        if (session_create(cookie, sizeof(cookie)) < 0)
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot create a session");
        audit_web(req, "login", true, NULL);
        return http_redirect(c, "/", cookie);
}

static bool is_page(const char *url)
{
        return strcmp(url, "/") == 0 || strcmp(url, "/history") == 0 ||
               strcmp(url, "/logs") == 0 || strcmp(url, "/processes") == 0 ||
               strcmp(url, "/shell") == 0;
}

static enum MHD_Result route_get(struct MHD_Connection *c, const char *url)
{
        char csrf[65];

        if (strcmp(url, "/health") == 0) {
                char json[96];
                snprintf(json, sizeof(json), "{\"status\":\"ok\",\"daemon\":{\"running\":%s}}",
                         daemon_running_pid(web_g.o->cfg) > 0 ? "true" : "false");
                return http_json(c, MHD_HTTP_OK, json);
        }
        if (strcmp(url, "/login") == 0)
                return assets_serve(c, "login.html");
        if (strncmp(url, "/assets/", 8) == 0)
                return assets_serve(c, url + 8);
        if (strcmp(url, "/favicon.ico") == 0)
                return http_error(c, MHD_HTTP_NOT_FOUND, "no favicon");
        if (is_page(url)) {
                if (!session_find(c, csrf))
                        return http_redirect(c, "/login", NULL);
                if (strcmp(url, "/history") == 0)
                        return assets_serve(c, "history.html");
                if (strcmp(url, "/logs") == 0)
                        return assets_serve(c, "logs.html");
                if (strcmp(url, "/processes") == 0)
                        return assets_serve(c, "processes.html");
                if (strcmp(url, "/shell") == 0)
                        return assets_serve(c, "shell.html");
                return assets_serve(c, "index.html");
        }
        if (strncmp(url, "/api/", 5) == 0) {
                if (!session_find(c, csrf))
                        return http_error(c, MHD_HTTP_UNAUTHORIZED, "log in first (POST /login)");
                if (strcmp(url, "/api/session") == 0) {
                        char json[128];
                        snprintf(json, sizeof(json), "{\"csrf\":\"%s\"}", csrf);
                        return http_json(c, MHD_HTTP_OK, json);
                }
                return api_get(c, url);
        }
        return http_error(c, MHD_HTTP_NOT_FOUND, "no such page: %s", url);
}

static enum MHD_Result route_post(struct MHD_Connection *c, struct request *req, const char *url)
{
        const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        char csrf[65], cookie[512];

        if (!origin_ok(c))
                return http_error(c, MHD_HTTP_FORBIDDEN,
                                  "the Origin header is not this server's");
        if (strcmp(url, "/login") == 0)
                return do_login(c, req);
        if (strcmp(url, "/logout") != 0 && strncmp(url, "/api/", 5) != 0)
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such page: %s", url);
        if (!session_find(c, csrf))
                return http_error(c, MHD_HTTP_UNAUTHORIZED, "log in first (POST /login)");
        if (!token || !constant_time_eq(token, csrf))
                return http_error(c, MHD_HTTP_FORBIDDEN,
                                  "missing or wrong X-CSRF-Token header (GET /api/session)");
        if (strcmp(url, "/logout") == 0) {
                session_delete(c, cookie, sizeof(cookie));
                audit_web(req, "logout", true, NULL);
                struct MHD_Response *r = MHD_create_response_from_buffer(
                        12, (void *)"{\"ok\":true}\n", MHD_RESPMEM_PERSISTENT);
                if (!r)
                        return MHD_NO;
                MHD_add_response_header(r, "Set-Cookie", cookie);
                MHD_add_response_header(r, "Content-Type", "application/json");
                return http_queue(c, MHD_HTTP_OK, r);
        }
        return api_post(c, req, url);
}

void web_client_ip(struct MHD_Connection *c, char *out, size_t n)
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;

        str_copy(out, n, "unknown");
        if (sa && sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                          (socklen_t)n);
        else if (sa && sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          out, (socklen_t)n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **ctx)
{
        struct request *req = *ctx;

        (void)cls;
        (void)version;
        if (!req) {
                req = xcalloc(1, sizeof(*req));
                buf_init(&req->body);
                web_client_ip(c, req->ip, sizeof(req->ip));
                *ctx = req;
                if (strcmp(method, "POST") == 0) {
                        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                      "Content-Length");
                        uint64_t n;
                        /* Refused before a byte of it is read. */
                        if (len && (parse_u64(len, &n) < 0 || n > WEB_BODY_MAX))
                                return http_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                                  "the body is over %d bytes", WEB_BODY_MAX);
                }
                return MHD_YES;
        }
        if (strcmp(method, "POST") == 0) {
                if (*upload_data_size > 0) {
                        if (req->body.len + *upload_data_size > WEB_BODY_MAX)
                                return MHD_NO; /* chunked and too big: drop the connection */
                        buf_append(&req->body, upload_data, *upload_data_size);
                        *upload_data_size = 0;
                        return MHD_YES;
                }
                return route_post(c, req, url);
        }
        if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) && strcmp(url, "/metrics") == 0)
                return metrics_serve(c, req->ip);
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
                return route_get(c, url);
        return http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s is not allowed", method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
        struct request *req = *ctx;

        (void)cls;
        (void)c;
        (void)toe;
        if (!req)
                return;
        explicit_bzero(req->body.data, req->body.len);
        buf_release(&req->body);
        free(req);
        *ctx = NULL;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const void *)sa;
                return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const void *)sa;
                return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        }
        return false;
}

/* "host:port" or "[v6]:port" into an address; -EINVAL with err set. */
static int resolve_listen(const char *listen, struct sockaddr_storage *ret, socklen_t *ret_len,
                          struct buf *err)
{
        struct addrinfo hints, *ai = NULL;
        char host[256];
        const char *colon;
        size_t hlen;
        int r;

        if (listen[0] == '[') {
                const char *close = strchr(listen, ']');
                if (!close || close[1] != ':')
                        goto bad;
                hlen = (size_t)(close - listen - 1);
                memcpy(host, listen + 1, hlen < sizeof(host) ? hlen : 0);
                colon = close + 1;
        } else {
                colon = strrchr(listen, ':');
                if (!colon)
                        goto bad;
                hlen = (size_t)(colon - listen);
                memcpy(host, listen, hlen < sizeof(host) ? hlen : 0);
        }
        if (hlen == 0 || hlen >= sizeof(host))
                goto bad;
        host[hlen] = '\0';
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        if ((r = getaddrinfo(host, colon + 1, &hints, &ai)) != 0 || !ai) {
                buf_printf(err, "http.listen: cannot resolve '%s': %s", listen, gai_strerror(r));
                return -EINVAL;
        }
        memcpy(ret, ai->ai_addr, ai->ai_addrlen);
        *ret_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
bad:
        buf_printf(err, "http.listen: '%s' is not host:port", listen);
        return -EINVAL;
}

static int read_pem(const char *path, struct buf *out, struct buf *err)
{
        int r = file_read_all(path, 1024 * 1024, out);

        if (r < 0)
                buf_printf(err, "cannot read '%s': %s", path, strerror(-r));
        return r;
}

/*
 * The privileged helper (helper.h): the one `deployex __websup` handed us in
 * $DEPLOYEX_WEB_HELPER_FD, else one of our own, with our own rights.
 */
static int web_helper_connect(const struct web_options *o)
{
        const char *env = getenv(HELPER_FD_ENV);
        pid_t pid;
        int fd;

        if (env && parse_int(env, &fd) == 0 && fd > STDERR_FILENO &&
            fcntl(fd, F_GETFD) >= 0) {
                unsetenv(HELPER_FD_ENV);
                helper_use(fd);
                return 0;
        }
        fd = helper_spawn(o->self_exe, o->config_path, &pid);
        if (fd < 0)
                return fd;
        helper_use(fd);
        return 0;
}

int web_serve(const struct web_options *o)
{
        const struct config *cfg = o->cfg;
        struct buf err = BUF_INIT, cert = BUF_INIT, key = BUF_INIT;
        struct sockaddr_storage addr;
        socklen_t alen = 0;
        struct MHD_Daemon *d = NULL;
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
        sigset_t set, old;
        int r = -EINVAL, sig = 0;

        /*
         * One malloc arena: with a thread per connection glibc would give each
         * its own (up to 8 per core), and their touched pages stay resident.
         * The UI's allocations are small and short; contention is no issue.
         */
        mallopt(M_ARENA_MAX, 1);
        memset(&web_g, 0, sizeof(web_g));
        web_g.o = o;
        web_g.tls = cfg->http_tls_cert && cfg->http_tls_key;
        web_g.cookie_name = web_g.tls ? "__Host-deployex_session" : "deployex_session";
        if (!cfg->http_listen) {
                log_err("no http.listen configured (or DEPLOYEX_PHX_PORT): nothing to serve");
                return -EINVAL;
        }
        if (resolve_listen(cfg->http_listen, &addr, &alen, &err) < 0)
                goto fail;
        if (!addr_is_loopback((struct sockaddr *)&addr) && !web_g.tls) {
                buf_printf(&err, "http.listen: '%s' is not a loopback address: set "
                           "http.tls_cert and http.tls_key to serve it over HTTPS",
                           cfg->http_listen);
                goto fail;
        }
        if (!cfg->admin_password_hash)
                log_warn("no http.admin_password_hash (or DEPLOYEX_ADMIN_HASHED_PASSWORD): "
                         "nobody can log in");
        if (web_g.tls && (read_pem(cfg->http_tls_cert, &cert, &err) < 0 ||
                          read_pem(cfg->http_tls_key, &key, &err) < 0))
                goto fail;
        /*
         * A file:// bucket is read as the CLI reads it (local, cheap); a remote
         * one is what the daemon fetched last (state/APP/desired.json), so that
         * a dashboard never makes the UI poll S3 or GCS.
         */
        if (strncmp(cfg->source, "file://", 7) == 0 && source_open(cfg, &web_g.src, &err) < 0) {
                log_warn("web: %s", err.data);
                buf_reset(&err);
        }
        /* Before any thread: the helper is forked here when no supervisor gave us one. */
        if ((r = web_helper_connect(o)) < 0) {
                buf_printf(&err, "cannot start the web helper: %s", strerror(-r));
                goto fail;
        }
        if (addr.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        if (web_g.tls)
                flags |= MHD_USE_TLS;
        /* Blocked before any thread starts: every thread inherits it, sigwait() takes them. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, &old);
        if ((r = events_start()) < 0) {
                buf_printf(&err, "cannot start the state watcher: %s", strerror(-r));
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                goto fail;
        }
        d = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, NULL,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned)400,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)200,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024,
                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                web_g.tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert.data,
                MHD_OPTION_HTTPS_MEM_KEY, key.data,
                MHD_OPTION_END);
        explicit_bzero(key.data, key.len);
        if (!d) {
                r = -EADDRNOTAVAIL;
                buf_printf(&err, "cannot listen on '%s' (address in use or not available)",
                           cfg->http_listen);
                events_stop();
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                goto fail;
        }
        log_info("web UI on %s://%s, assets '%s'", web_g.tls ? "https" : "http", cfg->http_listen,
                 o->assets_dir);
        while (sigwait(&set, &sig) != 0)
                ;
        log_info("signal %d: the web UI stops", sig);
        events_stop(); /* wakes the streams, which end */
        MHD_stop_daemon(d);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        r = 0;
        goto out;
fail:
        log_err("web: %s", err.data);
out:
        source_free(web_g.src);
        web_g.src = NULL;
        buf_release(&err);
        buf_release(&cert);
        buf_release(&key);
        return r;
}
