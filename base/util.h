/*
 * util: allocation that cannot fail and a growable string buffer.
 *
 * deployex is crash-only: running out of memory aborts, the next start adopts
 * what runs.  So x*alloc never return NULL and callers need no OOM branches.
 *
 * struct buf (after git's strbuf): data is never NULL and always
 * NUL-terminated.  buf_init() or BUF_INIT, append, then buf_release() or
 * buf_detach() to hand the string to a new owner.
 */
#ifndef DEPLOYEX_UTIL_H
#define DEPLOYEX_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grow *items (each of size `size`) so it holds at least `need`; *cap tracks capacity. */
void xgrow(void **items, size_t *cap, size_t need, size_t size);

/* Copy src into dst of size n, always NUL-terminated; returns false when truncated. */
bool str_copy(char *dst, size_t n, const char *src);
bool str_eq(const char *a, const char *b); /* NULL-safe: two NULLs are equal */
bool str_empty(const char *s);             /* NULL or "" */

/* The UTF-8 bytes of code point cp (at most 0x10FFFF) into out; returns how many (1..4). */
size_t utf8_encode(uint32_t cp, char out[4]);

/* Strict decimal parsing: the whole string, no sign for unsigned, range checked. */
int parse_u64(const char *s, uint64_t *ret);
int parse_int(const char *s, int *ret);

struct buf {
        char *data;
        size_t len;
        size_t cap;
};

extern char buf_empty_[];
#define BUF_INIT { buf_empty_, 0, 0 }

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
char *buf_detach(struct buf *b); /* caller owns the result; b is re-initialised */
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/*
 * A child's stderr kept as a tail: append, and once b holds twice max keep
 * only its last max bytes (one move per max bytes, however long the stream).
 */
void buf_append_tail(struct buf *b, const void *data, size_t len, size_t max);
/* Keep b's last max bytes. */
void buf_keep_tail(struct buf *b, size_t max);
/*
 * The last non-empty line of text[0, len): [*ret_start, end), end returned,
 * trailing newlines and spaces left out; start == end when there is none.
 */
size_t str_last_line(const char *text, size_t len, size_t *ret_start);

/* Wall clock in milliseconds since the epoch (shell side only; the planner never calls it). */
uint64_t time_now_ms(void);
/* Monotonic clock in milliseconds: durations, deadlines and timeouts (never stored). */
uint64_t time_mono_ms(void);
/* Sleep until time_mono_ms() reaches when_ms (at once if it has); a signal does not cut it short. */
void time_sleep_until_mono_ms(uint64_t when_ms);
/* "2026-11-26T05:00:00Z" (UTC, second precision) into dst (at least 21 bytes). */
void time_format_iso(uint64_t ms, char *dst, size_t n);
/* Parses the format above (a fractional part and "Z" are accepted); -EINVAL otherwise. */
int time_parse_iso(const char *s, uint64_t *ret_ms);

#endif
