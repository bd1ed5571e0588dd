/*
 * session: logins, sessions and the login rate limit (DESIGN §8).
 *
 * A session token is 32 bytes from getrandom(2), sent once in the cookie;
 * only its SHA-256 is kept, so a memory dump does not hand out live
 * sessions.  Sessions end after WEB_IDLE_MS without a request or
 * WEB_ABSOLUTE_MS after login, at logout, or when the table is full (the
 * oldest goes).  Each session has its own CSRF token, handed to the page by
 * GET /api/session and required in X-CSRF-Token on every POST.
 *
 * bcrypt costs ~200 ms of CPU: at most PASSWORD_CHECKS_MAX run at once and a
 * login waiting longer than PASSWORD_WAIT_MS is told to retry (503), so a
 * flood of logins cannot take the host's CPU.  Failed logins are counted per
 * address and in total over a fixed window: above the limits a login is
 * refused (429) before any bcrypt work.
 */
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "web/http.h"
#include "base/banned.h"

#define SESSIONS_MAX 64
#define PASSWORD_CHECKS_MAX 2
#define PASSWORD_WAIT_MS 3000
#define RL_WINDOW_MS (60ULL * 1000)
#define RL_PER_IP 5      /* failed logins per address per window */
#define RL_GLOBAL 20     /* failed logins from everywhere per window */
#define RL_ADDRS 256

struct session {
        bool used;
        unsigned char hash[SHA256_DIGEST_LENGTH];
        char csrf[65];
        uint64_t created_ms, last_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct session sessions[SESSIONS_MAX];

static void hex(const unsigned char *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = '\0';
}

static int random_hex(char out[65])
{
        unsigned char b[32];
        size_t got = 0;

        while (got < sizeof(b)) {
                ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t)n;
        }
        hex(b, sizeof(b), out);
        explicit_bzero(b, sizeof(b));
        return 0;
}

bool constant_time_eq(const char *a, const char *b)
{
        size_t n = strlen(a);

        return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* The token of the request's cookie, or NULL. */
static const char *cookie_token(struct MHD_Connection *c)
{
        const char *t = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, web_g.cookie_name);

        return t && strlen(t) == 64 ? t : NULL;
}

/*
 * Idle or too old.  `now` is read before the lock is taken, so another thread
 * may have stamped a later last_ms meanwhile: a session used "in the future"
 * is fresh, never (by unsigned wrap-around) ages old.
 */
bool session_expired(uint64_t created_ms, uint64_t last_ms, uint64_t now)
{
        return (now > last_ms && now - last_ms > WEB_IDLE_MS) ||
               (now > created_ms && now - created_ms > WEB_ABSOLUTE_MS);
}

static bool expired(const struct session *s, uint64_t now)
{
        return session_expired(s->created_ms, s->last_ms, now);
}

static struct session *find_hash_locked(const unsigned char *h, uint64_t now)
{
        for (size_t i = 0; i < SESSIONS_MAX; i++) {
                struct session *s = &sessions[i];

                if (!s->used || CRYPTO_memcmp(s->hash, h, SHA256_DIGEST_LENGTH) != 0)
                        continue;
                if (expired(s, now)) {
                        memset(s, 0, sizeof(*s));
                        return NULL;
                }
                return s;
        }
        return NULL;
}

static struct session *find_locked(const char *token, uint64_t now)
{
        unsigned char h[SHA256_DIGEST_LENGTH];

        SHA256((const unsigned char *)token, strlen(token), h);
        return find_hash_locked(h, now);
}

bool session_hash(struct MHD_Connection *c, unsigned char *hash)
{
        const char *token = cookie_token(c);

        if (!token)
                return false;
        SHA256((const unsigned char *)token, strlen(token), hash);
        return true;
}

bool session_touch(const unsigned char *hash)
{
        uint64_t now = time_now_ms();
        struct session *s;

        pthread_mutex_lock(&lock);
        if ((s = find_hash_locked(hash, now)))
                s->last_ms = now;
        pthread_mutex_unlock(&lock);
        return s != NULL;
}

bool session_find(struct MHD_Connection *c, char *csrf)
{
        const char *token = cookie_token(c);
        uint64_t now = time_now_ms();
        struct session *s;

        if (!token)
                return false;
        pthread_mutex_lock(&lock);
        if ((s = find_locked(token, now))) {
                s->last_ms = now;
                memcpy(csrf, s->csrf, sizeof(s->csrf));
        }
        pthread_mutex_unlock(&lock);
        return s != NULL;
}

int session_create(char *cookie, size_t n)
{
        char token[65];
        struct session s, *slot = NULL;
        uint64_t now = time_now_ms();
        int r;

        memset(&s, 0, sizeof(s));
        if ((r = random_hex(token)) < 0 || (r = random_hex(s.csrf)) < 0)
                return r;
        SHA256((const unsigned char *)token, 64, s.hash);
        s.used = true;
        s.created_ms = s.last_ms = now;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < SESSIONS_MAX; i++) {
                struct session *x = &sessions[i];
                if (!x->used || expired(x, now)) {
                        slot = x;
                        break;
                }
                if (!slot || x->last_ms < slot->last_ms)
                        slot = x; /* full: the least recently used goes */
        }
        *slot = s;
        pthread_mutex_unlock(&lock);
        snprintf(cookie, n, "%s=%s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Strict%s",
                 web_g.cookie_name, token, (unsigned long long)(WEB_ABSOLUTE_MS / 1000),
                 web_g.tls ? "; Secure" : "");
        explicit_bzero(token, sizeof(token));
        return 0;
}

void session_delete(struct MHD_Connection *c, char *cookie, size_t n)
{
        const char *token = cookie_token(c);
        struct session *s;

        pthread_mutex_lock(&lock);
        if (token && (s = find_locked(token, time_now_ms())))
                memset(s, 0, sizeof(*s));
        pthread_mutex_unlock(&lock);
        snprintf(cookie, n, "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
                 web_g.cookie_name, web_g.tls ? "; Secure" : "");
}

/* --- bcrypt --- */

static sem_t checks;
static pthread_once_t checks_once = PTHREAD_ONCE_INIT;

static void checks_init(void)
{
        sem_init(&checks, 0, PASSWORD_CHECKS_MAX);
}

int password_check(const char *hash, const char *password)
{
        struct crypt_data *cd;
        struct timespec until;
        const char *out;
        int r;

        if (str_empty(hash))
                return -ENOENT;
        pthread_once(&checks_once, checks_init);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += PASSWORD_WAIT_MS / 1000;
        while ((r = sem_timedwait(&checks, &until)) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return -EBUSY;
        cd = xcalloc(1, sizeof(*cd)); /* ~32 kB: not on a connection thread's stack */
        out = crypt_rn(password, hash, cd, (int)sizeof(*cd));
        r = out && out[0] != '*' && constant_time_eq(out, hash) ? 0 : -EACCES;
        explicit_bzero(cd, sizeof(*cd));
        free(cd);
        sem_post(&checks);
        return r;
}

/* --- the login rate limit --- */

struct rl_addr {
        char ip[64];
        uint64_t window_start;
        unsigned failures;
};

static struct rl_addr rl_addrs[RL_ADDRS];
static uint64_t rl_global_start;
static unsigned rl_global_failures;

static struct rl_addr *rl_find(const char *ip, uint64_t now, bool create)
{
        struct rl_addr *oldest = &rl_addrs[0];

        for (size_t i = 0; i < RL_ADDRS; i++) {
                if (strcmp(rl_addrs[i].ip, ip) == 0)
                        return &rl_addrs[i];
                if (rl_addrs[i].window_start < oldest->window_start)
                        oldest = &rl_addrs[i];
        }
        if (!create)
                return NULL;
        memset(oldest, 0, sizeof(*oldest));
        str_copy(oldest->ip, sizeof(oldest->ip), ip);
        oldest->window_start = now;
        return oldest;
}

static unsigned wait_s(uint64_t start, uint64_t now)
{
        uint64_t end = start + RL_WINDOW_MS;

        return end > now ? (unsigned)((end - now + 999) / 1000) : 0;
}

unsigned ratelimit_wait(const char *ip)
{
        uint64_t now = time_now_ms();
        struct rl_addr *a;
        unsigned w = 0;

        pthread_mutex_lock(&lock);
        if (now - rl_global_start >= RL_WINDOW_MS) {
                rl_global_start = now;
                rl_global_failures = 0;
        }
        if (rl_global_failures >= RL_GLOBAL)
                w = wait_s(rl_global_start, now);
        a = rl_find(ip, now, false);
        if (a && now - a->window_start >= RL_WINDOW_MS) {
                a->window_start = now;
                a->failures = 0;
        }
        if (a && a->failures >= RL_PER_IP && wait_s(a->window_start, now) > w)
                w = wait_s(a->window_start, now);
        pthread_mutex_unlock(&lock);
        return w;
}

void ratelimit_failed(const char *ip)
{
        uint64_t now = time_now_ms();
        struct rl_addr *a;

        pthread_mutex_lock(&lock);
        rl_global_failures++;
        a = rl_find(ip, now, true);
        a->failures++;
        pthread_mutex_unlock(&lock);
}
