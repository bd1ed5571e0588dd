/*
 * json: bounded parsing and a buf-backed generator on top of yajl.  See json.h.
 */
#include "state/json.h"
#include "state/json_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "base/banned.h"

/*
 * The deepest nesting of [ and { in text, counted outside strings and
 * comments (yajl_tree_parse accepts comments, so a quote inside one must not
 * flip the string state).  Stops counting once limit is exceeded.
 */
static size_t json_depth(const char *text, size_t len, size_t limit)
{
        size_t depth = 0, max = 0;
        size_t i = 0;

        while (i < len) {
                char c = text[i];

                if (c == '"') {
                        for (i++; i < len && text[i] != '"'; i++)
                                if (text[i] == '\\')
                                        i++;
                        i++;
                        continue;
                }
                if (c == '/' && i + 1 < len && text[i + 1] == '/') {
                        while (i < len && text[i] != '\n')
                                i++;
                        continue;
                }
                if (c == '/' && i + 1 < len && text[i + 1] == '*') {
                        for (i += 2; i + 1 < len && !(text[i] == '*' && text[i + 1] == '/'); i++)
                                ;
                        i += 2;
                        continue;
                }
                if (c == '[' || c == '{') {
                        if (++depth > max) {
                                max = depth;
                                if (max > limit)
                                        return max;
                        }
                } else if ((c == ']' || c == '}') && depth > 0) {
                        depth--;
                }
                i++;
        }
        return max;
}

/*
 * Whether text holds more than limit '[' and '{' in all, strings included:
 * when it does not, it cannot nest deeper, and json_depth() need not walk
 * it byte by byte (status checks a thousand records in a row).
 */
static bool brackets_over(const char *text, size_t len, size_t limit)
{
        const char *end = text + len;
        size_t n = 0;

        for (const char *p = text; n <= limit && (p = memchr(p, '{', (size_t)(end - p))); p++)
                n++;
        for (const char *p = text; n <= limit && (p = memchr(p, '[', (size_t)(end - p))); p++)
                n++;
        return n > limit;
}

/* Line and column (1-based) of byte offset off. */
static void json_position(const char *text, size_t off, size_t *ret_line, size_t *ret_col)
{
        size_t line = 1, col = 1;

        for (size_t i = 0; i < off; i++) {
                if (text[i] == '\n') {
                        line++;
                        col = 1;
                } else {
                        col++;
                }
        }
        *ret_line = line;
        *ret_col = col;
}

/*
 * yajl_tree_parse does not say where it stopped; a callback-less parse of the
 * same text (same options) does, so the message can point at line:column.
 */
static bool json_error_offset(const char *text, size_t len, size_t *ret_off)
{
        yajl_handle h = yajl_alloc(NULL, NULL, NULL);
        yajl_status st;
        bool found = false;

        if (!h)
                return false;
        yajl_config(h, yajl_allow_comments, 1);
        st = yajl_parse(h, (const unsigned char *)text, len);
        if (st == yajl_status_error) {
                /* The count includes the offending byte. */
                *ret_off = yajl_get_bytes_consumed(h);
                if (*ret_off > 0)
                        (*ret_off)--;
                found = true;
        } else if (yajl_complete_parse(h) == yajl_status_error) {
                *ret_off = len;
                found = true;
        }
        yajl_free(h);
        return found;
}

/* Problems are one line each; a new one starts on its own line, none ends with '\n'. */
static void start_line(struct buf *err)
{
        if (err->len && err->data[err->len - 1] != '\n')
                buf_putc(err, '\n');
}

/* yajl's verbose messages span lines (text excerpt, "^" marker): keep the first. */
static void append_first_line(struct buf *err, const char *msg)
{
        size_t n = strcspn(msg, "\r\n");

        while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '\t' || msg[n - 1] == '.'))
                n--;
        if (n == 0)
                buf_puts(err, "invalid JSON");
        else
                buf_append(err, msg, n);
}

/*
 * What yajl words vaguely, said plainly: a comma before a closing '}' or ']'
 * (yajl: "invalid object key (must be a string)"), a string in single quotes.
 * NULL when the generic message is the best there is.
 */
static const char *plain_reason(const char *text, size_t len, size_t off)
{
        size_t i = off, j = off;

        while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
                i++;
        while (j > 0 && (text[j - 1] == ' ' || text[j - 1] == '\t' || text[j - 1] == '\r' ||
                         text[j - 1] == '\n'))
                j--;
        if (i < len && (text[i] == '}' || text[i] == ']') && j > 0 && text[j - 1] == ',')
                return text[i] == '}' ? "trailing comma before '}' (JSON allows none: remove it)"
                                      : "trailing comma before ']' (JSON allows none: remove it)";
        if (off < len && text[off] == ',' && i < len) {
                size_t k = off + 1;
                while (k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\n'))
                        k++;
                if (k < len && (text[k] == '}' || text[k] == ']'))
                        return "trailing comma (JSON allows none: remove it)";
        }
        if (off < len && text[off] == '\'')
                return "strings take double quotes, not single quotes";
        if (off < len && ((text[off] >= 'a' && text[off] <= 'z') || (text[off] >= 'A' && text[off] <= 'Z') ||
                          text[off] == '_') && j > 0 && (text[j - 1] == '{' || text[j - 1] == ','))
                return "object keys take double quotes";
        return NULL;
}

int json_precheck(const char *text, size_t len, const char *origin, struct buf *err)
{
        if (len > JSON_MAX_BYTES) {
                if (err) {
                        start_line(err);
                        buf_printf(err, "%s: larger than %d bytes (%zu)", origin, JSON_MAX_BYTES, len);
                }
                return -EFBIG;
        }
        /* yajl_tree_parse reads up to a NUL: an embedded one would hide the rest. */
        if (memchr(text, '\0', len)) {
                if (err) {
                        start_line(err);
                        buf_printf(err, "%s: contains a NUL byte", origin);
                }
                return -EINVAL;
        }
        if (brackets_over(text, len, JSON_MAX_DEPTH) &&
            json_depth(text, len, JSON_MAX_DEPTH) > JSON_MAX_DEPTH) {
                if (err) {
                        start_line(err);
                        buf_printf(err, "%s: nested deeper than %d levels", origin, JSON_MAX_DEPTH);
                }
                return -EINVAL;
        }
        return 0;
}

int json_parse(const char *text, size_t len, const char *origin, yajl_val *ret, struct buf *err)
{
        char ebuf[512];
        size_t off, line, col;
        char *copy = NULL;
        yajl_val v;
        int r;

        r = json_precheck(text, len, origin, err);
        if (r < 0)
                return r;

        copy = xmalloc(len + 1);
        memcpy(copy, text, len);
        copy[len] = '\0';

        ebuf[0] = '\0';
        v = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
        if (!v) {
                const char *plain = NULL;
                bool located = json_error_offset(copy, len, &off);

                start_line(err);
                buf_printf(err, "%s: ", origin);
                if (located)
                        plain = plain_reason(copy, len, off);
                if (plain)
                        buf_puts(err, plain);
                else
                        append_first_line(err, ebuf);
                if (located) {
                        json_position(copy, off, &line, &col);
                        buf_printf(err, " at line %zu, column %zu", line, col);
                }
                r = -EINVAL;
                goto out;
        }
        *ret = v;
out:
        free(copy);
        return r;
}

int json_parse_file(const char *path, size_t max_bytes, yajl_val *ret, struct buf *err)
{
        return json_parse_file_in(path, max_bytes, NULL, ret, err);
}

int json_parse_file_in(const char *path, size_t max_bytes, struct json_arena *arena, yajl_val *ret,
                       struct buf *err)
{
        struct buf text = BUF_INIT;
        int r;

        r = file_read_all(path, max_bytes, &text);
        if (r == -ENOENT)
                goto out;
        if (r == -EFBIG) {
                start_line(err);
                buf_printf(err, "%s: larger than %zu bytes", path, max_bytes);
                goto out;
        }
        if (r < 0) {
                start_line(err);
                buf_printf(err, "%s: cannot read: %s", path, file_strerror(r));
                goto out;
        }
        r = arena ? json_parse_arena(text.data, text.len, path, arena, ret, err)
                  : json_parse(text.data, text.len, path, ret, err);
out:
        buf_release(&text);
        return r;
}

yajl_val json_get(yajl_val obj, const char *key)
{
        if (!obj || !YAJL_IS_OBJECT(obj))
                return NULL;
        /* The first byte first: most keys differ there, and strcmp is a call. */
        for (size_t i = 0; i < obj->u.object.len; i++)
                if (obj->u.object.keys[i][0] == key[0] && strcmp(obj->u.object.keys[i], key) == 0)
                        return obj->u.object.values[i];
        return NULL;
}

const char *json_type_name(yajl_val v)
{
        if (!v)
                return "nothing";
        switch (v->type) {
        case yajl_t_string:
                return "a string";
        case yajl_t_number:
                return "a number";
        case yajl_t_object:
                return "an object";
        case yajl_t_array:
                return "an array";
        case yajl_t_true:
        case yajl_t_false:
                return "a boolean";
        case yajl_t_null:
                return "null";
        case yajl_t_any:
                break;
        }
        return "unknown";
}

static void json_gen_print(void *ctx, const char *s, size_t len)
{
        buf_append(ctx, s, len);
}

yajl_gen json_gen_new(struct buf *out)
{
        yajl_gen g = yajl_gen_alloc(NULL);

        if (!g) {
                /* yajl_gen_alloc fails only on malloc failure: same policy as xmalloc. */
                fputs("deployex: out of memory\n", stderr);
                abort();
        }
        yajl_gen_config(g, yajl_gen_print_callback, json_gen_print, out);
        yajl_gen_config(g, yajl_gen_validate_utf8, 1);
        return g;
}

void json_gen_str(yajl_gen g, const char *s)
{
        size_t len;
        char *clean;

        if (!s) {
                yajl_gen_null(g);
                return;
        }
        len = strlen(s);
        if (yajl_gen_string(g, (const unsigned char *)s, len) != yajl_gen_invalid_string)
                return;
        /*
         * Invalid UTF-8 (a file name, a log excerpt): emitting nothing would
         * leave a key without a value, so replace the non-ASCII bytes instead.
         */
        clean = xstrndup(s, len);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)clean[i] >= 0x80)
                        clean[i] = '?';
        yajl_gen_string(g, (const unsigned char *)clean, len);
        free(clean);
}

void json_gen_kv_str(yajl_gen g, const char *key, const char *value)
{
        json_gen_str(g, key);
        json_gen_str(g, value);
}

void json_gen_int(yajl_gen g, long long value)
{
        char digits[24], *p = digits + sizeof(digits);
        unsigned long long mag = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;

        /* The text yajl_gen_integer's sprintf("%lld") makes, without stdio per number. */
        do
                *--p = (char)('0' + mag % 10);
        while ((mag /= 10) > 0);
        if (value < 0)
                *--p = '-';
        yajl_gen_number(g, p, (size_t)(digits + sizeof(digits) - p));
}

void json_gen_kv_int(yajl_gen g, const char *key, long long value)
{
        json_gen_str(g, key);
        json_gen_int(g, value);
}

void json_gen_kv_bool(yajl_gen g, const char *key, bool value)
{
        json_gen_str(g, key);
        yajl_gen_bool(g, value);
}
