/* record: the field-checking toolkit of state/ (config and state files).  See record.h. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/config.h"
#include "state/record.h"
#include "state/json_arena.h"

#include "base/banned.h"

/* Longest part of a string value quoted back in a message. */
#define DESCRIBE_MAX 60

void record_fail(struct record_ctx *c, const char *field, const char *fmt, ...)
{
        va_list ap;

        c->nerr++;
        if (!c->err)
                return;
        /* One problem a line: separate from whatever the buffer already holds. */
        if (c->err->len > 0 && c->err->data[c->err->len - 1] != '\n')
                buf_putc(c->err, '\n');
        buf_printf(c->err, "%s: ", c->origin ? c->origin : "(input)");
        if (!str_empty(field))
                buf_printf(c->err, "%s: ", field);
        va_start(ap, fmt);
        buf_vprintf(c->err, fmt, ap);
        va_end(ap);
}

static void describe_string(struct buf *out, const char *s)
{
        size_t len = strlen(s), cut = len;

        if (cut > DESCRIBE_MAX) {
                cut = DESCRIBE_MAX;
                /* Do not split a UTF-8 sequence. */
                while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
                        cut--;
        }
        buf_putc(out, '"');
        for (size_t i = 0; i < cut; i++) {
                unsigned char ch = (unsigned char)s[i];

                if (ch == '"' || ch == '\\')
                        buf_printf(out, "\\%c", ch);
                else if (ch == '\n')
                        buf_puts(out, "\\n");
                else if (ch == '\t')
                        buf_puts(out, "\\t");
                else if (ch < 0x20 || ch == 0x7f)
                        buf_printf(out, "\\u%04x", ch);
                else
                        buf_putc(out, (char)ch);
        }
        buf_putc(out, '"');
        if (cut < len)
                buf_puts(out, "...");
}

void record_describe(struct buf *out, yajl_val v)
{
        if (!v)
                buf_puts(out, "nothing");
        else if (YAJL_IS_STRING(v))
                describe_string(out, v->u.string);
        else if (YAJL_IS_INTEGER(v))
                buf_printf(out, "%lld", v->u.number.i);
        else if (YAJL_IS_NUMBER(v))
                buf_puts(out, v->u.number.r ? v->u.number.r : "a number");
        else if (YAJL_IS_TRUE(v))
                buf_puts(out, "true");
        else if (YAJL_IS_FALSE(v))
                buf_puts(out, "false");
        else if (YAJL_IS_NULL(v))
                buf_puts(out, "null");
        else if (YAJL_IS_OBJECT(v))
                buf_puts(out, "an object");
        else if (YAJL_IS_ARRAY(v))
                buf_puts(out, "an array");
        else
                buf_puts(out, "an unknown value");
}

void record_quote(struct buf *out, const char *s)
{
        size_t n = strlen(s);
        size_t shown = n > 60 ? 57 : n;

        buf_putc(out, '\'');
        for (size_t i = 0; i < shown; i++) {
                unsigned char c = (unsigned char)s[i];

                buf_putc(out, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
        }
        if (shown < n)
                buf_puts(out, "...");
        buf_putc(out, '\'');
}

void record_describe_quoted(struct buf *out, yajl_val v)
{
        if (YAJL_IS_NUMBER(v) && v->u.number.r) {
                size_t n = strlen(v->u.number.r);

                buf_append(out, v->u.number.r, n > 40 ? 40 : n);
        } else if (YAJL_IS_STRING(v)) {
                record_quote(out, v->u.string);
        } else if (YAJL_IS_TRUE(v)) {
                buf_puts(out, "true");
        } else if (YAJL_IS_FALSE(v)) {
                buf_puts(out, "false");
        } else {
                buf_puts(out, json_type_name(v));
        }
}

/* "WHAT, got Y" with Y rendered by record_describe. */
int record_fail_got(struct record_ctx *c, const char *field, const char *what, yajl_val v)
{
        struct buf got = BUF_INIT;

        record_describe(&got, v);
        record_fail(c, field, "%s, got %s", what, got.data);
        buf_release(&got);
        return -EINVAL;
}

int record_check_text(struct record_ctx *c, const char *text, size_t len)
{
        size_t i = 0;

        /* Nearly every text has no "\u0000" anywhere: then none is in a string. */
        if (!memmem(text, len, "\\u0000", 6))
                return 0;

        /* Walk strings and comments as yajl does (it accepts comments). */
        while (i < len) {
                if (text[i] == '"') {
                        for (i++; i < len && text[i] != '"'; i++) {
                                if (text[i] != '\\')
                                        continue;
                                /* \u0000 is the one escape that would cut a C string. */
                                if (i + 5 < len && text[i + 1] == 'u' &&
                                    memcmp(text + i + 2, "0000", 4) == 0) {
                                        record_fail(c, "",
                                                    "contains an escaped NUL character (\\u0000)");
                                        return -EINVAL;
                                }
                                i++;
                        }
                } else if (text[i] == '/' && i + 1 < len && text[i + 1] == '/') {
                        while (i < len && text[i] != '\n')
                                i++;
                } else if (text[i] == '/' && i + 1 < len && text[i + 1] == '*') {
                        for (i += 2; i + 1 < len && !(text[i] == '*' && text[i + 1] == '/'); i++)
                                ;
                        i++;
                }
                i++;
        }
        return 0;
}

int record_load(const char *path, int (*check)(const struct stat *st, struct buf *why),
                record_parse_fn parse, void *ret, struct buf *err)
{
        struct record_ctx c = RECORD_CTX(path, err);
        struct buf text = BUF_INIT, why = BUF_INIT;
        struct stat st;
        size_t size;
        int fd, r = 0;

        fd = file_open_read(path, 0, &size);
        if (fd == -ENOENT)
                return -ENOENT;
        if (fd < 0) {
                record_fail(&c, "", "%s: %s", check ? "refused" : "cannot read", file_strerror(fd));
                return fd;
        }
        if (check && fstat(fd, &st) < 0) {
                r = -errno;
                record_fail(&c, "", "cannot read: %s", strerror(-r));
        } else if (check && (r = check(&st, &why)) < 0) {
                record_fail(&c, "", "refused: %s", why.data);
        } else if (size > JSON_MAX_BYTES ||
                   (r = fd_read_all(fd, JSON_MAX_BYTES, &text)) == -EFBIG) {
                r = -EFBIG;
                record_fail(&c, "", "larger than %d bytes", JSON_MAX_BYTES);
        } else if (r < 0) {
                record_fail(&c, "", "cannot read: %s", file_strerror(r));
        } else {
                r = parse(text.data, text.len, path, ret, err);
        }
        close(fd);
        buf_release(&text);
        buf_release(&why);
        return r;
}

int record_parse_root_in(struct record_ctx *c, const char *text, size_t len, bool want_array,
                         struct json_arena *arena, yajl_val *ret)
{
        struct buf scratch = BUF_INIT; /* json_parse wants a buffer even when nobody reads it */
        struct buf *err = c->err ? c->err : &scratch;
        yajl_val root = NULL;
        int r;

        r = record_check_text(c, text, len);
        if (r < 0)
                return r;
        r = arena ? json_parse_arena(text, len, c->origin, arena, &root, err)
                  : json_parse(text, len, c->origin, &root, err);
        buf_release(&scratch);
        if (r < 0) {
                c->nerr++;
                return r;
        }
        if (want_array ? !YAJL_IS_ARRAY(root) : !YAJL_IS_OBJECT(root)) {
                record_fail_got(c, "",
                                want_array ? "must be a JSON array" : "must be a JSON object",
                                root);
                if (!arena)
                        yajl_tree_free(root);
                return -EINVAL;
        }
        *ret = root;
        return 0;
}

int record_parse_root(struct record_ctx *c, const char *text, size_t len, bool want_array,
                      yajl_val *ret)
{
        return record_parse_root_in(c, text, len, want_array, NULL, ret);
}

/* Common handling of an absent or null value: 0 = nothing to store, 1 = go on. */
static int absent(struct record_ctx *c, yajl_val v, const char *field, unsigned flags)
{
        if (!v) {
                if (flags & REC_REQUIRED) {
                        record_fail(c, field, "is required");
                        return -EINVAL;
                }
                return 0;
        }
        /* A required key may still be null ("from": null): present, nothing to store. */
        if (YAJL_IS_NULL(v) && (flags & REC_NULLABLE))
                return 0;
        return 1;
}

int record_string(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
                  size_t max_len, char *dst, size_t dst_size)
{
        const char *s;
        size_t len;
        int r;

        r = absent(c, v, field, flags);
        if (r <= 0)
                return r;
        if (!YAJL_IS_STRING(v))
                return record_fail_got(c, field, "must be a string", v);
        s = v->u.string;
        len = strlen(s);
        if (len == 0 && (flags & REC_NONEMPTY)) {
                record_fail(c, field, "must not be empty");
                return -EINVAL;
        }
        if (len > max_len || len >= dst_size) {
                record_fail(c, field, "must be at most %zu bytes, got %zu", max_len, len);
                return -EINVAL;
        }
        if (flags & REC_PRINTABLE) {
                for (size_t i = 0; i < len; i++) {
                        unsigned char ch = (unsigned char)s[i];

                        if (ch < 0x20 || ch == 0x7f)
                                return record_fail_got(c, field,
                                                       "must be free of control characters", v);
                }
        }
        str_copy(dst, dst_size, s);
        return 1;
}

int record_version(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
                   char *dst, size_t dst_size)
{
        int r;

        r = absent(c, v, field, flags);
        if (r <= 0)
                return r;
        if (YAJL_IS_STRING(v) && v->u.string[0] == '\0' && !(flags & REC_REQUIRED))
                return 0;
        /* "version": 1 is a missing pair of quotes, not a bad version. */
        if (!YAJL_IS_STRING(v))
                return record_fail_got(c, field, YAJL_IS_NUMBER(v)
                                       ? "must be a string (quote it: \"1.0.0\")" : "must be a string", v);
        if (!version_is_valid(v->u.string) || strlen(v->u.string) >= dst_size)
                return record_fail_got(c, field, "must match [A-Za-z0-9._+-]{1,64}", v);
        str_copy(dst, dst_size, v->u.string);
        return 1;
}

int record_u64(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
               uint64_t min, uint64_t max, uint64_t *ret)
{
        char what[96];
        int r;

        r = absent(c, v, field, flags);
        if (r <= 0)
                return r;
        if (!YAJL_IS_INTEGER(v) || v->u.number.i < 0 || (uint64_t)v->u.number.i < min ||
            (uint64_t)v->u.number.i > max) {
                if (max >= (uint64_t)LLONG_MAX)
                        snprintf(what, sizeof(what), "must be an integer >= %" PRIu64, min);
                else
                        snprintf(what, sizeof(what),
                                 "must be an integer from %" PRIu64 " to %" PRIu64, min, max);
                return record_fail_got(c, field, what, v);
        }
        *ret = (uint64_t)v->u.number.i;
        return 1;
}

int record_int(struct record_ctx *c, yajl_val v, const char *field, unsigned flags, int min,
               int max, int *ret)
{
        char what[96];
        int r;

        r = absent(c, v, field, flags);
        if (r <= 0)
                return r;
        if (!YAJL_IS_INTEGER(v) || v->u.number.i < min || v->u.number.i > max) {
                snprintf(what, sizeof(what), "must be an integer from %d to %d", min, max);
                return record_fail_got(c, field, what, v);
        }
        *ret = (int)v->u.number.i;
        return 1;
}

int record_bool(struct record_ctx *c, yajl_val v, const char *field, unsigned flags, bool *ret)
{
        int r;

        r = absent(c, v, field, flags);
        if (r <= 0)
                return r;
        if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
                return record_fail_got(c, field, "must be true or false", v);
        *ret = YAJL_IS_TRUE(v);
        return 1;
}

int record_time(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
                uint64_t *ret_ms)
{
        uint64_t ms;
        int r;

        r = absent(c, v, field, flags);
        if (r <= 0)
                return r;
        if (!YAJL_IS_STRING(v) || time_parse_iso(v->u.string, &ms) < 0)
                return record_fail_got(c, field,
                                       "must be a UTC time like \"2026-11-26T05:00:00Z\"", v);
        *ret_ms = ms;
        return 1;
}

/*
 * A key as the reader typed it, for an error line: control bytes masked
 * and at most RECORD_QUOTE_MAX characters (a 1 MB key is not echoed whole).
 */
static void put_key(struct buf *out, const char *prefix, const char *key)
{
        size_t n = strlen(key), shown = n > RECORD_QUOTE_MAX ? RECORD_QUOTE_MAX - 3 : n;

        buf_puts(out, prefix ? prefix : "");
        for (size_t i = 0; i < shown; i++) {
                unsigned char ch = (unsigned char)key[i];

                buf_putc(out, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
        }
        if (shown < n)
                buf_puts(out, "...");
}

int record_no_duplicate_keys(struct record_ctx *c, yajl_val obj, const char *prefix)
{
        int r = 0;

        if (!YAJL_IS_OBJECT(obj))
                return 0;
        for (size_t i = 1; i < obj->u.object.len; i++) {
                for (size_t j = 0; j < i; j++) {
                        if (strcmp(obj->u.object.keys[i], obj->u.object.keys[j]) == 0) {
                                struct buf field = BUF_INIT;

                                put_key(&field, prefix, obj->u.object.keys[i]);
                                record_fail(c, field.data, "duplicate key (give each key once)");
                                buf_release(&field);
                                r = -EINVAL;
                                break;
                        }
                }
        }
        return r;
}

int record_no_unknown_keys(struct record_ctx *c, yajl_val obj, const char *prefix,
                           const char *const *known)
{
        int r = 0;

        if (!YAJL_IS_OBJECT(obj))
                return 0;
        for (size_t i = 0; i < obj->u.object.len; i++) {
                const char *key = obj->u.object.keys[i];
                struct buf field = BUF_INIT, expected = BUF_INIT;
                bool found = false;

                for (size_t k = 0; known[k]; k++) {
                        if (strcmp(known[k], key) == 0) {
                                found = true;
                                break;
                        }
                        buf_printf(&expected, "%s%s", k ? ", " : "", known[k]);
                }
                if (!found) {
                        /* Unquoted, so that `pasued` reads as typed; control bytes masked. */
                        put_key(&field, prefix, key);
                        record_fail(c, field.data, "unknown key (expected %s)", expected.data);
                        r = -EINVAL;
                }
                buf_release(&field);
                buf_release(&expected);
        }
        return r;
}

static bool in_list(const char *const *list, const char *s)
{
        for (; *list; list++)
                if (str_eq(*list, s))
                        return true;
        return false;
}

/* Edit distance, bounded: only to suggest a near key for a typo. */
static size_t distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t row[40];

        if (la >= ARRAY_SIZE(row) || lb >= ARRAY_SIZE(row))
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];

                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t best = diag + (a[i - 1] != b[j - 1]);

                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

/* The closest allowed key, when near enough to be a typo ("replica", "initial", "sorce"). */
static const char *nearest_key(const char *key, const char *const *allowed)
{
        const char *near = NULL;
        size_t best = SIZE_MAX;

        for (const char *const *a = allowed; *a; a++) {
                size_t d = distance(key, *a);
                size_t limit = strlen(*a) / 3 > 2 ? strlen(*a) / 3 : 2;

                if (d <= limit && d < best) {
                        best = d;
                        near = *a;
                }
        }
        return near;
}

void record_check_keys(struct record_ctx *c, yajl_val obj, const char *where,
                       const char *const *allowed)
{
        struct buf msg = BUF_INIT;

        for (size_t i = 0; i < obj->u.object.len; i++) {
                const char *key = obj->u.object.keys[i];
                const char *near;

                buf_reset(&msg);
                for (size_t j = 0; j < i; j++) {
                        if (str_eq(obj->u.object.keys[j], key)) {
                                record_quote(&msg, key);
                                record_fail(c, where, "duplicate key %s", msg.data);
                                break;
                        }
                }
                if (msg.len || in_list(allowed, key))
                        continue;
                near = nearest_key(key, allowed);
                record_quote(&msg, key);
                if (near)
                        record_fail(c, where, "unknown key %s (did you mean '%s'?)", msg.data, near);
                else
                        record_fail(c, where, "unknown key %s", msg.data);
        }
        buf_release(&msg);
}

bool record_token_is_valid(const char *s, size_t max)
{
        size_t len;

        if (!s)
                return false;
        len = strlen(s);
        if (len < 1 || len > max)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];

                if (ch < 0x20 || ch > 0x7e)
                        return false;
        }
        return true;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                return (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (s[0] >= 0xe0 && s[0] <= 0xef) {
                unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;

                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;

                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80 ? 4 : 0;
        }
        return 0;
}

void record_gen_str(yajl_gen g, const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        struct buf clean = BUF_INIT;

        if (!s) {
                yajl_gen_null(g);
                return;
        }
        /* The NUL terminator stops every multi-byte check above at the end. */
        while (*p) {
                size_t n = utf8_sequence(p);

                if (n == 0) {
                        buf_putc(&clean, '?');
                        p++;
                } else {
                        buf_append(&clean, p, n);
                        p += n;
                }
        }
        yajl_gen_string(g, (const unsigned char *)clean.data, clean.len);
        buf_release(&clean);
}

void record_gen_kv_str(yajl_gen g, const char *key, const char *s)
{
        yajl_gen_string(g, (const unsigned char *)key, strlen(key));
        record_gen_str(g, s);
}

void record_gen_kv_opt(yajl_gen g, const char *key, const char *s)
{
        record_gen_kv_str(g, key, str_empty(s) ? NULL : s);
}

void record_gen_kv_u64(yajl_gen g, const char *key, uint64_t v)
{
        yajl_gen_string(g, (const unsigned char *)key, strlen(key));
        /* JSON integers here are long long; no realistic value comes near the clamp. */
        yajl_gen_integer(g, v > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)v);
}

void record_gen_kv_time(yajl_gen g, const char *key, uint64_t ms)
{
        char iso[32];

        time_format_iso(ms, iso, sizeof(iso));
        record_gen_kv_str(g, key, iso);
}
