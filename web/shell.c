/*
 * shell: the remote shell of an instance in the browser (DESIGN §9), a
 * WebSocket (RFC 6455) to a pty running `deployex remote APP N`, which the
 * privileged helper starts (helper.h): the UI never sees the cookie.
 *
 *   POST /api/apps/APP/instances/N/shell   (session, Origin, X-CSRF-Token, like
 *        every POST) -> {"ticket": "..."}: single use, for this session and
 *        this instance, valid SHELL_TICKET_MS.
 *   GET  /api/apps/APP/instances/N/shell?ticket=T, Upgrade: websocket
 *        needs the session cookie, an Origin equal to this server's (browsers
 *        always send it on a WebSocket, and a page of another site cannot
 *        forge it) and the ticket; a cross-site page can open a WebSocket
 *        with our cookie attached, but can neither read a ticket nor fake
 *        the Origin.
 *
 * On the socket: text frames are keystrokes (UTF-8, to the pty), a binary
 * frame of 4 bytes is a resize (columns, rows: 16-bit big-endian); the
 * server sends the pty's output in binary frames.  The shell ends when the
 * browser closes, the shell exits, the session ends (logout, expiry), the
 * server stops, or after SHELL_IDLE_MS without a keystroke (counted from the
 * shell's first output: nobody types before the prompt).  Every opening,
 * and every refusal after the login, is audited.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "web/http.h"
#include "web/helper.h"
#include "web/wsframe.h"
#include "base/log.h"
#include "base/banned.h"

#define SHELLS_MAX 8
#define SHELL_TICKETS 16
#define SHELL_TICKET_MS 30000
#define SHELL_IDLE_MS (15u * 60 * 1000)
#define WS_FRAME_MAX 65536 /* a client frame larger than this ends the shell (1009) */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct ticket {
        char token[33];                 /* "" = free */
        unsigned char session[32];
        char app[APP_NAME_MAX + 1];
        int n;
        uint64_t expires_ms;
};

static pthread_mutex_t tickets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket tickets[SHELL_TICKETS];
static atomic_int shells;

struct shell {
        char app[APP_NAME_MAX + 1];
        int n;
        char ip[64];
        unsigned char session[32];
        int master, life;
        MHD_socket sock;
        struct MHD_UpgradeResponseHandle *urh;
        struct buf in;                  /* client bytes not yet a whole frame */
};

static uint64_t idle_ms(void)
{
        const char *env = getenv("DEPLOYEX_WEB_SHELL_IDLE_S");
        uint64_t s;

        /* For tests and for operators who want it shorter; never longer than the default. */
        if (env && parse_u64(env, &s) == 0 && s > 0 && s * 1000 < SHELL_IDLE_MS)
                return s * 1000;
        return SHELL_IDLE_MS;
}

enum MHD_Result shell_ticket(struct MHD_Connection *c, const struct app_config *app, int n)
{
        unsigned char raw[16], session[32];
        struct ticket *t = NULL;
        uint64_t now = time_now_ms();
        char json[80];

        if (!session_hash(c, session))
                return http_error(c, MHD_HTTP_UNAUTHORIZED, "log in first (POST /login)");
        if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no randomness for a ticket");
        pthread_mutex_lock(&tickets_lock);
        for (size_t i = 0; i < SHELL_TICKETS; i++) {
                if (!tickets[i].token[0] || tickets[i].expires_ms <= now) {
                        t = &tickets[i];
                        break;
                }
                if (!t || tickets[i].expires_ms < t->expires_ms)
                        t = &tickets[i]; /* all in use: the oldest goes */
        }
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(t->token + 2 * i, 3, "%02x", raw[i]);
        memcpy(t->session, session, sizeof(session));
        str_copy(t->app, sizeof(t->app), app->name);
        t->n = n;
        t->expires_ms = now + SHELL_TICKET_MS;
        snprintf(json, sizeof(json), "{\"ticket\":\"%.32s\"}", t->token);
        pthread_mutex_unlock(&tickets_lock);
        return http_json(c, MHD_HTTP_OK, json);
}

/* Take the ticket: true when it exists, is fresh, and is this session's for this instance. */
static bool ticket_take(const char *token, const unsigned char *session, const char *app, int n)
{
        uint64_t now = time_now_ms();
        bool ok = false;

        if (!token || strlen(token) != 32)
                return false;
        pthread_mutex_lock(&tickets_lock);
        for (size_t i = 0; i < SHELL_TICKETS; i++) {
                struct ticket *t = &tickets[i];

                if (!t->token[0] || !constant_time_eq(t->token, token))
                        continue;
                ok = t->expires_ms > now && memcmp(t->session, session, 32) == 0 &&
                     strcmp(t->app, app) == 0 && t->n == n;
                memset(t, 0, sizeof(*t)); /* used or wrongly used: gone either way */
                break;
        }
        pthread_mutex_unlock(&tickets_lock);
        return ok;
}

/* --- frames --- */

static bool send_all(int fd, const void *p, size_t n)
{
        const char *s = p;

        while (n > 0) {
                ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                s += k;
                n -= (size_t)k;
        }
        return true;
}

static bool ws_send(int fd, unsigned opcode, const void *p, size_t n)
{
        unsigned char h[10];
        size_t hl;

        h[0] = (unsigned char)(0x80 | opcode);
        if (n < 126) {
                h[1] = (unsigned char)n;
                hl = 2;
        } else if (n < 65536) {
                h[1] = 126;
                h[2] = (unsigned char)(n >> 8);
                h[3] = (unsigned char)n;
                hl = 4;
        } else {
                h[1] = 127;
                for (int i = 0; i < 8; i++)
                        h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
                hl = 10;
        }
        return send_all(fd, h, hl) && (n == 0 || send_all(fd, p, n));
}

static void ws_close(int fd, unsigned code, const char *reason)
{
        char b[128];
        size_t n = strlen(reason) < sizeof(b) - 2 ? strlen(reason) : sizeof(b) - 2;

        b[0] = (char)(code >> 8);
        b[1] = (char)code;
        for (size_t i = 0; i < n; i++) /* no NUL: a close frame's reason is counted */
                b[2 + i] = reason[i];
        (void)ws_send(fd, 0x8, b, n + 2);
}

/*
 * Handle the whole frames in s->in.  0 to go on, else the close code to end
 * with (1000 when the browser closed).
 */
static unsigned ws_frames(struct shell *s, uint64_t *last_input)
{
        for (;;) {
                struct ws_frame f;
                int r = ws_frame_parse((unsigned char *)s->in.data, s->in.len, WS_FRAME_MAX, &f);

                if (r <= 0)
                        return (unsigned)-r; /* 0: wait for more */
                if (!f.fin || f.opcode == 0x0)
                        return 1003; /* keystrokes and resizes are small: no fragments */
                if (f.opcode == 0x8)
                        return 1000;
                if (f.opcode == 0x9 && !ws_send(s->sock, 0xA, f.payload, f.len))
                        return 1001;
                if (f.opcode == 0x1) {
                        *last_input = time_now_ms();
                        for (size_t off = 0; off < f.len;) {
                                ssize_t k = write(s->master, f.payload + off, f.len - off);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0)
                                        break;
                                off += (size_t)k;
                        }
                } else if (f.opcode == 0x2 && f.len == 4) {
                        const unsigned char *d = f.payload;
                        struct winsize ws = { .ws_col = (unsigned short)(d[0] << 8 | d[1]),
                                              .ws_row = (unsigned short)(d[2] << 8 | d[3]) };
                        if (ws.ws_col > 0 && ws.ws_row > 0)
                                (void)ioctl(s->master, TIOCSWINSZ, &ws);
                }
                memmove(s->in.data, s->in.data + f.size, s->in.len - f.size);
                s->in.len -= f.size;
        }
}

static void *shell_run(void *arg)
{
        struct shell *s = arg;
        uint64_t last_input = time_now_ms(), idle = idle_ms();
        unsigned code = 0;
        const char *why = "";
        bool started = false;

        while (!code) {
                struct pollfd p[3] = { { .fd = s->sock, .events = POLLIN },
                                       { .fd = s->master, .events = POLLIN },
                                       { .fd = s->life, .events = POLLIN } };
                char b[16384];
                ssize_t k;

                if (events_stopping()) {
                        code = 1001, why = "the server stops";
                        break;
                }
                if (!session_touch(s->session)) {
                        code = 1008, why = "the session ended";
                        break;
                }
                if (time_now_ms() - last_input >= idle) {
                        code = 1000, why = "idle for too long: closed";
                        break;
                }
                if (poll(p, 3, 1000) <= 0)
                        continue;
                if (p[1].revents) {
                        k = read(s->master, b, sizeof(b));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0) { /* EIO: the shell and everything on its pty are gone */
                                code = 1000, why = "the shell ended";
                                break;
                        }
                        if (!started) { /* nobody can type before the shell's first words */
                                started = true;
                                last_input = time_now_ms();
                        }
                        if (!ws_send(s->sock, 0x2, b, (size_t)k)) {
                                code = 1001;
                                break;
                        }
                }
                if (p[2].revents && !(p[1].revents)) {
                        code = 1000, why = "the shell ended";
                        break;
                }
                if (p[0].revents) {
                        k = recv(s->sock, b, sizeof(b), 0);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0) {
                                code = 1001;
                                break;
                        }
                        buf_append(&s->in, b, (size_t)k);
                        code = ws_frames(s, &last_input);
                }
        }
        if (why[0] || code != 1001)
                ws_close(s->sock, code, why[0] ? why : "bye");
        close(s->master);
        close(s->life); /* the helper hangs up the shell */
        MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
        log_info("shell on %s/%d for %s ended%s%s", s->app, s->n, s->ip, why[0] ? ": " : "", why);
        buf_release(&s->in);
        free(s);
        atomic_fetch_sub(&shells, 1);
        return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct shell *s = cls;
        pthread_attr_t attr;
        pthread_t t;

        (void)c;
        (void)con_cls;
        s->sock = sock;
        s->urh = urh;
        if (extra_in_size)
                buf_append(&s->in, extra_in, extra_in_size);
        /* Not here: with TLS, MHD relays the bytes only after this returns. */
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&t, &attr, shell_run, s) != 0) {
                close(s->master);
                close(s->life);
                MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                buf_release(&s->in);
                free(s);
                atomic_fetch_sub(&shells, 1);
        }
        pthread_attr_destroy(&attr);
}

/* base64(SHA-1(key + GUID)) into accept (29 bytes at least). */
static bool ws_accept(const char *key, char *accept)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char in[128];

        if (strlen(key) > 64)
                return false;
        snprintf(in, sizeof(in), "%s%s", key, WS_GUID);
        if (!EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
                return false;
        EVP_EncodeBlock((unsigned char *)accept, md, 20);
        return true;
}

static bool header_has(struct MHD_Connection *c, const char *name, const char *token)
{
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

        return v && strcasestr(v, token) != NULL;
}

enum MHD_Result shell_serve(struct MHD_Connection *c, const struct app_config *app, int n)
{
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
        const char *ticket = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ticket");
        const char *scheme = web_g.tls ? "https://" : "http://";
        char accept[64], detail[16], ip[64];
        unsigned char session[32];
        struct MHD_Response *r;
        struct shell *s;
        enum MHD_Result ret;
        int e;

        snprintf(detail, sizeof(detail), "%d", n);
        web_client_ip(c, ip, sizeof(ip));
        if (!header_has(c, "Upgrade", "websocket") || !header_has(c, "Connection", "upgrade") || !key ||
            !header_has(c, "Sec-WebSocket-Version", "13"))
                return http_error(c, MHD_HTTP_BAD_REQUEST,
                                  "this is a WebSocket (Upgrade: websocket, version 13)");
        /* Exactly ours: unlike a POST, a WebSocket always carries the page's real origin. */
        if (!origin || !host || strncmp(origin, scheme, strlen(scheme)) != 0 ||
            strcmp(origin + strlen(scheme), host) != 0) {
                web_audit(ip, "shell", app->name, detail, false, "wrong or missing Origin");
                return http_error(c, MHD_HTTP_FORBIDDEN, "the Origin header is missing or not this server's");
        }
        if (!session_hash(c, session) || !ticket_take(ticket, session, app->name, n)) {
                web_audit(ip, "shell", app->name, detail, false, "missing, used or wrong ticket");
                return http_error(c, MHD_HTTP_FORBIDDEN,
                                  "missing, used or expired ticket (POST .../shell first)");
        }
        if (!ws_accept(key, accept))
                return http_error(c, MHD_HTTP_BAD_REQUEST, "bad Sec-WebSocket-Key");
        if (atomic_fetch_add(&shells, 1) >= SHELLS_MAX) {
                atomic_fetch_sub(&shells, 1);
                return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%d shells are open already; close one",
                                  SHELLS_MAX);
        }
        s = xcalloc(1, sizeof(*s));
        buf_init(&s->in);
        str_copy(s->app, sizeof(s->app), app->name);
        s->n = n;
        str_copy(s->ip, sizeof(s->ip), ip);
        memcpy(s->session, session, sizeof(session));
        if ((e = helper_shell(app->name, n, &s->master, &s->life)) < 0) {
                free(s);
                atomic_fetch_sub(&shells, 1);
                web_audit(ip, "shell", app->name, detail, false, "the helper could not start the shell");
                return http_error(c, MHD_HTTP_BAD_GATEWAY, "cannot start the shell: %s", strerror(-e));
        }
        web_audit(ip, "shell", app->name, detail, true, NULL);
        r = MHD_create_response_for_upgrade(on_upgrade, s);
        if (!r) {
                close(s->master);
                close(s->life);
                free(s);
                atomic_fetch_sub(&shells, 1);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Upgrade", "websocket");
        MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
        http_secure(r, false);
        ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        if (ret != MHD_YES) { /* never upgraded: on_upgrade will not run */
                close(s->master);
                close(s->life);
                free(s);
                atomic_fetch_sub(&shells, 1);
        }
        return ret;
}
