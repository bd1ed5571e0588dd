/*
 * util: allocation that cannot fail, string helpers, strict number parsing,
 * the growable buffer and wall-clock helpers.  See util.h.
 */
#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/banned.h"

/* Shared by every empty buf: never written through (buf_grow() replaces it first). */
char buf_empty_[1];

static void oom(void)
{
        static const char msg[] = "deployex: out of memory\n";

        /* fputs may itself allocate; a raw write cannot make things worse. */
        fwrite(msg, 1, sizeof(msg) - 1, stderr);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);

        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);

        if (!q)
                oom();
        return q;
}

char *xstrdup(const char *s)
{
        return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
        size_t len = strnlen(s, n);
        char *p = xmalloc(len + 1);

        memcpy(p, s, len);
        p[len] = '\0';
        return p;
}

void xgrow(void **items, size_t *cap, size_t need, size_t size)
{
        size_t ncap;

        if (need <= *cap)
                return;
        ncap = *cap ? *cap : 4;
        while (ncap < need) {
                if (ncap > SIZE_MAX / 2)
                        oom();
                ncap *= 2;
        }
        if (size && ncap > SIZE_MAX / size)
                oom();
        *items = xrealloc(*items, ncap * size);
        *cap = ncap;
}

bool str_copy(char *dst, size_t n, const char *src)
{
        size_t len;

        if (n == 0)
                return false;
        len = strlen(src);
        if (len >= n) {
                memcpy(dst, src, n - 1);
                dst[n - 1] = '\0';
                return false;
        }
        memcpy(dst, src, len + 1);
        return true;
}

bool str_eq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

bool str_empty(const char *s)
{
        return !s || !*s;
}

/*
 * strtoull alone accepts leading blanks, a sign (and negates "-1" into
 * ULLONG_MAX), hex with base 0 and trailing junk: all refused here.
 */
int parse_u64(const char *s, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE)
                return -ERANGE;
        *ret = (uint64_t)v;
        return 0;
}

int parse_int(const char *s, int *ret)
{
        long long v;
        char *end;
        const char *digits;

        if (!s)
                return -EINVAL;
        digits = (*s == '-' || *s == '+') ? s + 1 : s;
        if (*digits < '0' || *digits > '9')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        *ret = (int)v;
        return 0;
}

void buf_init(struct buf *b)
{
        b->data = buf_empty_;
        b->len = 0;
        b->cap = 0;
}

void buf_release(struct buf *b)
{
        if (b->cap)
                free(b->data);
        buf_init(b);
}

void buf_reset(struct buf *b)
{
        b->len = 0;
        if (b->cap)
                b->data[0] = '\0';
}

char *buf_detach(struct buf *b)
{
        char *s = b->cap ? b->data : xstrdup("");

        buf_init(b);
        return s;
}

/* Make room for `extra` more bytes plus the terminating NUL. */
static void buf_grow(struct buf *b, size_t extra)
{
        size_t need;

        if (extra > SIZE_MAX - b->len - 1)
                oom();
        need = b->len + extra + 1;
        if (need <= b->cap)
                return;
        if (b->cap == 0) {
                size_t cap = 0;
                void *p = NULL;

                xgrow(&p, &cap, need < 64 ? 64 : need, 1);
                b->data = p;
                b->data[0] = '\0';
                b->cap = cap;
                return;
        }
        xgrow((void **)&b->data, &b->cap, need, 1);
}

void buf_append(struct buf *b, const void *data, size_t len)
{
        if (len == 0)
                return;
        /* Most appends are small and fit (the JSON generator's tokens): no call then. */
        if (b->cap == 0 || len >= b->cap - b->len)
                buf_grow(b, len);
        memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
}

void buf_keep_tail(struct buf *b, size_t max)
{
        if (b->len <= max)
                return;
        memmove(b->data, b->data + b->len - max, max);
        b->len = max;
        b->data[b->len] = '\0';
}

void buf_append_tail(struct buf *b, const void *data, size_t len, size_t max)
{
        buf_append(b, data, len);
        if (b->len > 2 * max)
                buf_keep_tail(b, max);
}

size_t str_last_line(const char *text, size_t len, size_t *ret_start)
{
        size_t start;

        while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
                len--;
        start = len;
        while (start && text[start - 1] != '\n')
                start--;
        *ret_start = start;
        return len;
}

void buf_puts(struct buf *b, const char *s)
{
        buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
        buf_append(b, &c, 1);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
        va_list cp;
        int n;

        va_copy(cp, ap);
        n = vsnprintf(NULL, 0, fmt, cp);
        va_end(cp);
        if (n <= 0)
                return;
        buf_grow(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        buf_vprintf(b, fmt, ap);
        va_end(ap);
}

uint64_t time_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t time_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void time_format_iso(uint64_t ms, char *dst, size_t n)
{
        time_t t = (time_t)(ms / 1000u);
        struct tm tm;

        if (n == 0)
                return;
        if (!gmtime_r(&t, &tm) || strftime(dst, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                dst[0] = '\0';
}

/* Exactly `count` decimal digits at s, into *ret. */
static bool digits(const char *s, int count, int *ret)
{
        int v = 0;

        for (int i = 0; i < count; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return true;
}

int time_parse_iso(const char *s, uint64_t *ret_ms)
{
        static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int year, mon, day, hour, min, sec;
        unsigned frac_ms = 0;
        const char *p;
        struct tm tm;
        time_t t;

        /* YYYY-MM-DDTHH:MM:SS */
        if (!s || strlen(s) < 19)
                return -EINVAL;
        if (!digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &mon) || s[7] != '-' ||
            !digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &hour) ||
            s[13] != ':' || !digits(s + 14, 2, &min) || s[16] != ':' || !digits(s + 17, 2, &sec))
                return -EINVAL;
        if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour > 23 ||
            min > 59 || sec > 60)
                return -EINVAL;
        if (mon == 2 && day == 29 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
                return -EINVAL;
        p = s + 19;
        if (*p == '.') {
                unsigned scale = 100;

                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
                        frac_ms += (unsigned)(*p - '0') * scale;
                        scale /= 10;
                }
        }
        if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
                p++;
        if (*p != '\0')
                return -EINVAL;

        memset(&tm, 0, sizeof(tm));
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        t = timegm(&tm);
        if (t < 0) /* also timegm's error value, -1 */
                return -EINVAL;
        *ret_ms = (uint64_t)t * 1000u + frac_ms;
        return 0;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xc0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xe0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | ((cp >> 18) & 0x07));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

void time_sleep_until_mono_ms(uint64_t when_ms)
{
        uint64_t now = time_mono_ms();
        struct timespec ts;

        if (when_ms <= now)
                return;
        ts.tv_sec = (time_t)((when_ms - now) / 1000);
        ts.tv_nsec = (long)((when_ms - now) % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
