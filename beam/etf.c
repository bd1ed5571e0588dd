/*
 * etf: external term format -> Erlang text, UTF-8 -> charlist.  See etf.h.
 */
#include "beam/etf.h"

#include <errno.h>
#include <float.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/banned.h"

/* Bignums up to this many bytes print in decimal (quadratic); larger ones as 16#HEX. */
#define BIG_DECIMAL_MAX 1024

/* ---- UTF-8 --------------------------------------------------------------- */

/* The code point at s[*i]; *i moves past it.  -1 on a malformed sequence. */
static int utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *ret)
{
        unsigned char c = s[*i];
        uint32_t cp;
        size_t n;

        if (c < 0x80) {
                *ret = c;
                (*i)++;
                return 0;
        }
        if (c >= 0xc2 && c <= 0xdf) {
                n = 1;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 2;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 3;
                cp = c & 0x07;
        } else {
                return -1;
        }
        if (*i + n >= len)
                return -1;
        for (size_t k = 1; k <= n; k++) {
                unsigned char cc = s[*i + k];

                if ((cc & 0xc0) != 0x80)
                        return -1;
                cp = (cp << 6) | (cc & 0x3f);
        }
        /* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return -1;
        *i += n + 1;
        *ret = cp;
        return 0;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
        char u[4];

        buf_append(out, u, utf8_encode(cp, u));
}

int etf_encode_charlist(ei_x_buff *x, const char *s, size_t len)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t i = 0, count = 0;
        uint32_t cp;

        while (i < len) {
                if (utf8_next(u, len, &i, &cp) < 0)
                        return -EINVAL;
                count++;
        }
        if (count > 0 && ei_x_encode_list_header(x, (long)count) < 0)
                return -ENOMEM;
        for (i = 0; i < len;) {
                (void)utf8_next(u, len, &i, &cp);
                if (ei_x_encode_ulong(x, cp) < 0)
                        return -ENOMEM;
        }
        return ei_x_encode_empty_list(x) < 0 ? -ENOMEM : 0;
}

/* ---- characters ---------------------------------------------------------- */

/*
 * What Erlang prints as a character by default (io:printable_range() is
 * latin1 unless the node runs with +pc unicode): [1090] stays a list.
 */
static bool char_printable(uint64_t cp)
{
        return (cp >= 0x20 && cp < 0x7f) || (cp >= 0xa0 && cp <= 0xff) || cp == '\n' ||
               cp == '\r' || cp == '\t' || cp == '\v' || cp == '\b' || cp == '\f' || cp == 0x1b;
}

static void put_char(struct buf *out, uint32_t cp, char quote)
{
        switch (cp) {
        case '\n': buf_puts(out, "\\n"); return;
        case '\r': buf_puts(out, "\\r"); return;
        case '\t': buf_puts(out, "\\t"); return;
        case '\v': buf_puts(out, "\\v"); return;
        case '\b': buf_puts(out, "\\b"); return;
        case '\f': buf_puts(out, "\\f"); return;
        case 0x1b: buf_puts(out, "\\e"); return;
        case 0x7f: buf_puts(out, "\\d"); return;
        case '\\': buf_puts(out, "\\\\"); return;
        default: break;
        }
        if (cp == (uint32_t)(unsigned char)quote) {
                buf_putc(out, '\\');
                buf_putc(out, quote);
        } else if (cp < 0x20) {
                buf_printf(out, "\\%03o", (unsigned)cp);
        } else {
                put_utf8(out, cp);
        }
}

static const char *const reserved_words[] = {
        "after", "and",  "andalso", "band", "begin", "bnot",  "bor",     "bsl", "bsr",
        "bxor",  "case", "catch",   "cond", "div",   "end",   "fun",     "if",  "let",
        "not",   "of",   "or",      "orelse", "receive", "rem", "try", "when", "xor",
};

/* Erlang's unquoted atoms: a lower-case letter, then name characters (Latin-1 included). */
static bool atom_is_bare(const char *s)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t len = strlen(s), i = 0;
        uint32_t cp;

        if (len == 0)
                return false;
        for (bool first = true; i < len; first = false) {
                bool lower, name;

                if (utf8_next(u, len, &i, &cp) < 0)
                        return false;
                lower = (cp >= 'a' && cp <= 'z') || (cp >= 0xdf && cp <= 0xff && cp != 0xf7);
                name = lower || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_' ||
                       cp == '@' || (cp >= 0xc0 && cp <= 0xde && cp != 0xd7);
                if (first ? !lower : !name)
                        return false;
        }
        for (size_t k = 0; k < ARRAY_SIZE(reserved_words); k++)
                if (strcmp(reserved_words[k], s) == 0)
                        return false;
        return true;
}

static void put_atom(struct buf *out, const char *s)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t len = strlen(s), i = 0;
        uint32_t cp;

        if (atom_is_bare(s)) {
                buf_puts(out, s);
                return;
        }
        buf_putc(out, '\'');
        while (i < len) {
                if (utf8_next(u, len, &i, &cp) < 0)
                        cp = u[i++]; /* not UTF-8: show the byte as a code point */
                put_char(out, cp, '\'');
        }
        buf_putc(out, '\'');
}

/* ---- numbers ------------------------------------------------------------- */

/*
 * Erlang's shortest float text: the fewest significant digits that read back
 * as the same double, placed as io_lib_format does (fixed notation while it is
 * no longer than the exponent form: 100.0 but 1.0e3, 0.0001 but 1.0e-5).
 */
static void put_float(struct buf *out, double d)
{
        char tmp[64], digits[32];
        int exp10 = 0, place, len, expcost;
        char explen[16];
        char *e;

        if (d < 0 || (d == 0 && 1 / d < 0)) {
                buf_putc(out, '-');
                d = -d;
        }
        if (d == 0) {
                buf_puts(out, "0.0");
                return;
        }
        for (int prec = 0; prec < DBL_DECIMAL_DIG; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
                if (strtod(tmp, NULL) == d)
                        break;
        }
        /* tmp is "D.DDDDe±XX": collect the digits, drop trailing zeros. */
        len = 0;
        for (const char *p = tmp; *p && *p != 'e'; p++)
                if (*p >= '0' && *p <= '9')
                        digits[len++] = *p;
        while (len > 1 && digits[len - 1] == '0')
                len--;
        digits[len] = '\0';
        e = strchr(tmp, 'e');
        exp10 = e ? (int)strtol(e + 1, NULL, 10) : 0;
        place = exp10 + 1; /* digits before the decimal point */

        if (place > 0 && place < len) {
                buf_append(out, digits, (size_t)place);
                buf_putc(out, '.');
                buf_puts(out, digits + place);
                return;
        }
        if (place == 0) {
                buf_printf(out, "0.%s", digits);
                return;
        }
        snprintf(explen, sizeof(explen), "%d", place - 1);
        expcost = (int)strlen(explen) + 1 + (len == 1 ? 2 : 1);
        if (place < 0 && 2 - place <= expcost) {
                buf_puts(out, "0.");
                for (int i = 0; i < -place; i++)
                        buf_putc(out, '0');
                buf_puts(out, digits);
                return;
        }
        if (place >= len && place > 0 && place - len + 2 <= expcost) {
                buf_puts(out, digits);
                for (int i = 0; i < place - len; i++)
                        buf_putc(out, '0');
                buf_puts(out, ".0");
                return;
        }
        buf_putc(out, digits[0]);
        buf_putc(out, '.');
        buf_puts(out, len == 1 ? "0" : digits + 1);
        buf_printf(out, "e%s", explen);
}

/* A bignum straight from its encoding: tag, length, sign, little-endian bytes. */
static int put_big(const char *buf, int *index, struct buf *out)
{
        const unsigned char *p = (const unsigned char *)buf + *index;
        size_t n, hdr;
        const unsigned char *digits;
        int sign;

        if (p[0] == ERL_SMALL_BIG_EXT) {
                n = p[1];
                hdr = 2;
        } else {
                n = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4];
                hdr = 5;
        }
        sign = p[hdr];
        digits = p + hdr + 1;
        while (n > 0 && digits[n - 1] == 0)
                n--;
        if (sign && n > 0)
                buf_putc(out, '-');
        if (n == 0) {
                buf_putc(out, '0');
        } else if (n > BIG_DECIMAL_MAX) {
                buf_puts(out, "16#");
                for (size_t i = n; i-- > 0;)
                        buf_printf(out, i == n - 1 ? "%X" : "%02X", digits[i]);
        } else {
                /* Repeated division by 10^9 of a base-256 number, most significant first. */
                unsigned char *num = xmalloc(n);
                uint32_t *parts = xmalloc((n * 3 / 8 + 2) * sizeof(*parts));
                size_t nparts = 0, top = 0;

                for (size_t i = 0; i < n; i++)
                        num[i] = digits[n - 1 - i];
                while (top < n) {
                        uint64_t rem = 0;

                        for (size_t i = top; i < n; i++) {
                                uint64_t cur = (rem << 8) | num[i];

                                num[i] = (unsigned char)(cur / 1000000000u);
                                rem = cur % 1000000000u;
                        }
                        parts[nparts++] = (uint32_t)rem;
                        while (top < n && num[top] == 0)
                                top++;
                }
                buf_printf(out, "%u", parts[nparts - 1]);
                for (size_t i = nparts - 1; i-- > 0;)
                        buf_printf(out, "%09u", parts[i]);
                free(num);
                free(parts);
        }
        return ei_skip_term(buf, index) < 0 ? -EINVAL : 0;
}

/* ---- binaries ------------------------------------------------------------ */

/*
 * As ~tp shows a binary: ASCII text as <<"x">>, UTF-8 text of printable
 * characters as <<"é"/utf8>>, printable Latin-1 bytes as <<"é">>, else bytes.
 */
static void put_bytes(struct buf *out, const unsigned char *s, size_t len)
{
        bool ascii = true, utf8 = true, latin1 = true;
        size_t i = 0;
        uint32_t cp;

        for (size_t k = 0; k < len; k++) {
                ascii = ascii && s[k] < 0x80 && char_printable(s[k]);
                latin1 = latin1 && char_printable(s[k]);
        }
        while (utf8 && !ascii && i < len)
                utf8 = utf8_next(s, len, &i, &cp) == 0 && char_printable(cp);
        buf_puts(out, "<<");
        if (len > 0 && (ascii || utf8 || latin1)) {
                bool as_utf8 = !ascii && utf8;

                buf_putc(out, '"');
                for (i = 0; i < len;) {
                        if (as_utf8)
                                (void)utf8_next(s, len, &i, &cp);
                        else
                                cp = s[i++];
                        put_char(out, cp, '"');
                }
                buf_puts(out, as_utf8 ? "\"/utf8" : "\"");
        } else {
                for (i = 0; i < len; i++)
                        buf_printf(out, "%s%u", i ? "," : "", s[i]);
        }
        buf_puts(out, ">>");
}

static int put_bitstring(const char *buf, int *index, struct buf *out)
{
        const char *data = NULL;
        unsigned int bitoffs = 0;
        size_t nbits = 0, whole, tail;
        unsigned char *bytes;

        if (ei_decode_bitstring(buf, index, &data, &bitoffs, &nbits) < 0)
                return -EINVAL;
        whole = nbits / 8;
        tail = nbits % 8;
        if (bitoffs == 0 && tail == 0) {
                put_bytes(out, (const unsigned char *)data, whole);
                return 0;
        }
        /* A bitstring: the whole bytes, then the last partial one as VALUE:BITS. */
        bytes = xmalloc(whole + 1);
        for (size_t i = 0; i <= whole && i * 8 < nbits; i++) {
                size_t bit = bitoffs + i * 8;
                unsigned v = ((unsigned char)data[bit / 8] << (bit % 8)) & 0xff;

                if (bit % 8 && bit / 8 + 1 < (bitoffs + nbits + 7) / 8)
                        v |= (unsigned char)data[bit / 8 + 1] >> (8 - bit % 8);
                bytes[i] = (unsigned char)v;
        }
        if (whole == 0) {
                buf_printf(out, "<<%u:%zu>>", (unsigned)bytes[0] >> (8 - tail), tail);
        } else {
                put_bytes(out, bytes, whole);
                out->len -= 2; /* reopen the ">>" */
                out->data[out->len] = '\0';
                buf_printf(out, ",%u:%zu>>", (unsigned)bytes[whole] >> (8 - tail), tail);
        }
        free(bytes);
        return 0;
}

/* ---- terms --------------------------------------------------------------- */

static int format_value(const char *buf, int *index, const char *home, struct buf *out, int depth);

static void put_node(struct buf *out, const char *node, const char *home)
{
        if (home && strcmp(node, home) == 0)
                buf_putc(out, '0');
        else
                buf_puts(out, node);
}

/*
 * Is the list at *index (ERL_LIST_EXT) a proper list of printable code points?
 * Reads ahead without moving *index.
 */
static bool list_is_string(const char *buf, int index)
{
        int arity, type, size;
        long v;

        if (ei_decode_list_header(buf, &index, &arity) < 0 || arity == 0)
                return false;
        for (int i = 0; i < arity; i++) {
                if (ei_get_type(buf, &index, &type, &size) < 0 ||
                    (type != ERL_SMALL_INTEGER_EXT && type != ERL_INTEGER_EXT) ||
                    ei_decode_long(buf, &index, &v) < 0 || v < 0 || !char_printable((uint64_t)v))
                        return false;
        }
        return ei_get_type(buf, &index, &type, &size) == 0 && type == ERL_NIL_EXT;
}

bool etf_is_atom(int type)
{
        return type == ERL_ATOM_EXT || type == ERL_SMALL_ATOM_EXT || type == ERL_ATOM_UTF8_EXT ||
               type == ERL_SMALL_ATOM_UTF8_EXT;
}

int etf_decode_atom(const char *buf, int *index, char atom[MAXATOMLEN_UTF8])
{
        return ei_decode_atom_as(buf, index, atom, MAXATOMLEN_UTF8, ERLANG_UTF8, NULL, NULL) < 0
                       ? -EINVAL
                       : 0;
}

int etf_list_tail(const char *buf, int *index, int arity)
{
        int type, size;

        if (arity == 0)
                return 1;
        if (ei_get_type(buf, index, &type, &size) < 0)
                return -EINVAL;
        if (type != ERL_NIL_EXT)
                return 0;
        return ei_skip_term(buf, index) < 0 ? -EINVAL : 1;
}

static int format_list(const char *buf, int *index, const char *home, struct buf *out, int depth)
{
        int arity, r;

        if (list_is_string(buf, *index)) {
                long v;

                (void)ei_decode_list_header(buf, index, &arity);
                buf_putc(out, '"');
                for (int i = 0; i < arity; i++) {
                        (void)ei_decode_long(buf, index, &v);
                        put_char(out, (uint32_t)v, '"');
                }
                buf_putc(out, '"');
                return ei_skip_term(buf, index) < 0 ? -EINVAL : 0; /* the [] tail */
        }
        if (ei_decode_list_header(buf, index, &arity) < 0)
                return -EINVAL;
        buf_putc(out, '[');
        for (int i = 0; i < arity; i++) {
                if (i)
                        buf_putc(out, ',');
                if ((r = format_value(buf, index, home, out, depth + 1)) < 0)
                        return r;
        }
        if ((r = etf_list_tail(buf, index, arity)) < 0)
                return r;
        if (r == 0) {
                buf_putc(out, '|');
                if ((r = format_value(buf, index, home, out, depth + 1)) < 0)
                        return r;
        }
        buf_putc(out, ']');
        return 0;
}

static int format_string_ext(const char *buf, int *index, struct buf *out, int size)
{
        char *s = xmalloc((size_t)size + 1);
        bool printable = true;
        int r = 0;

        if (ei_decode_string(buf, index, s) < 0) {
                r = -EINVAL;
                goto out;
        }
        for (int i = 0; i < size && printable; i++)
                printable = char_printable((unsigned char)s[i]);
        if (size == 0) {
                buf_puts(out, "[]");
        } else if (printable) {
                buf_putc(out, '"');
                for (int i = 0; i < size; i++)
                        put_char(out, (unsigned char)s[i], '"');
                buf_putc(out, '"');
        } else {
                buf_putc(out, '[');
                for (int i = 0; i < size; i++)
                        buf_printf(out, "%s%u", i ? "," : "", (unsigned char)s[i]);
                buf_putc(out, ']');
        }
out:
        free(s);
        return r;
}

static int format_fun(const char *buf, int *index, struct buf *out)
{
        erlang_fun f;

        /* libei may allocate the free variables and then fail: free them (found by fuzz_etf). */
        memset(&f, 0, sizeof(f));
        if (ei_decode_fun(buf, index, &f) < 0) {
                free_fun(&f);
                return -EINVAL;
        }
        if (f.type == EI_FUN_EXPORT) {
                buf_puts(out, "fun ");
                put_atom(out, f.module);
                buf_putc(out, ':');
                put_atom(out, f.u.exprt.func);
                buf_printf(out, "/%ld", f.arity);
        } else {
                buf_printf(out, "#Fun<%s.%ld.%ld>", f.module, f.u.closure.index,
                           f.u.closure.uniq);
        }
        free_fun(&f);
        return 0;
}

static int format_value(const char *buf, int *index, const char *home, struct buf *out, int depth)
{
        int type, size, arity, r;

        if (ei_get_type(buf, index, &type, &size) < 0)
                return -EINVAL;
        if (depth > ETF_DEPTH_MAX) {
                buf_puts(out, "...");
                return ei_skip_term(buf, index) < 0 ? -EINVAL : 0;
        }
        if (etf_is_atom(type)) {
                char atom[MAXATOMLEN_UTF8];

                if (etf_decode_atom(buf, index, atom) < 0)
                        return -EINVAL;
                put_atom(out, atom);
                return 0;
        }
        switch (type) {
        case ERL_SMALL_INTEGER_EXT:
        case ERL_INTEGER_EXT: {
                long v;

                if (ei_decode_long(buf, index, &v) < 0)
                        return -EINVAL;
                buf_printf(out, "%ld", v);
                return 0;
        }
        case ERL_SMALL_BIG_EXT:
        case ERL_LARGE_BIG_EXT:
                return put_big(buf, index, out);
        case ERL_FLOAT_EXT:
        case NEW_FLOAT_EXT: {
                double d;

                if (ei_decode_double(buf, index, &d) < 0)
                        return -EINVAL;
                put_float(out, d);
                return 0;
        }
        case ERL_NIL_EXT:
                buf_puts(out, "[]");
                return ei_skip_term(buf, index) < 0 ? -EINVAL : 0;
        case ERL_STRING_EXT:
                return format_string_ext(buf, index, out, size);
        case ERL_LIST_EXT:
                return format_list(buf, index, home, out, depth);
        case ERL_SMALL_TUPLE_EXT:
        case ERL_LARGE_TUPLE_EXT:
                if (ei_decode_tuple_header(buf, index, &arity) < 0)
                        return -EINVAL;
                buf_putc(out, '{');
                for (int i = 0; i < arity; i++) {
                        if (i)
                                buf_putc(out, ',');
                        if ((r = format_value(buf, index, home, out, depth + 1)) < 0)
                                return r;
                }
                buf_putc(out, '}');
                return 0;
        case ERL_MAP_EXT:
                if (ei_decode_map_header(buf, index, &arity) < 0)
                        return -EINVAL;
                buf_puts(out, "#{");
                for (int i = 0; i < arity; i++) {
                        if (i)
                                buf_putc(out, ',');
                        if ((r = format_value(buf, index, home, out, depth + 1)) < 0)
                                return r;
                        buf_puts(out, " => ");
                        if ((r = format_value(buf, index, home, out, depth + 1)) < 0)
                                return r;
                }
                buf_putc(out, '}');
                return 0;
        case ERL_BINARY_EXT:
        case ERL_BIT_BINARY_EXT:
                return put_bitstring(buf, index, out);
        case ERL_PID_EXT:
        case ERL_NEW_PID_EXT: {
                erlang_pid p;

                if (ei_decode_pid(buf, index, &p) < 0)
                        return -EINVAL;
                buf_putc(out, '<');
                put_node(out, p.node, home);
                buf_printf(out, ".%u.%u>", p.num, p.serial);
                return 0;
        }
        case ERL_REFERENCE_EXT:
        case ERL_NEW_REFERENCE_EXT:
        case ERL_NEWER_REFERENCE_EXT: {
                erlang_ref ref;

                if (ei_decode_ref(buf, index, &ref) < 0)
                        return -EINVAL;
                buf_puts(out, "#Ref<");
                put_node(out, ref.node, home);
                for (int i = ref.len; i-- > 0;)
                        buf_printf(out, ".%u", ref.n[i]);
                buf_putc(out, '>');
                return 0;
        }
        case ERL_PORT_EXT:
        case ERL_NEW_PORT_EXT:
        case ERL_V4_PORT_EXT: {
                erlang_port port;

                if (ei_decode_port(buf, index, &port) < 0)
                        return -EINVAL;
                buf_puts(out, "#Port<");
                put_node(out, port.node, home);
                buf_printf(out, ".%llu>", (unsigned long long)port.id);
                return 0;
        }
        case ERL_FUN_EXT:
        case ERL_NEW_FUN_EXT:
        case ERL_EXPORT_EXT:
                return format_fun(buf, index, out);
        default:
                return -EINVAL;
        }
}

int etf_format(const char *buf, int *index, const char *home_node, struct buf *out)
{
        return format_value(buf, index, home_node, out, 0);
}

/* ---- depth check (no recursion) ------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skip one atom term (a node name inside a pid, port or ref); -EINVAL when it is not one. */
static int skip_atom(const unsigned char *b, size_t len, size_t *pos)
{
        size_t n;

        if (*pos >= len)
                return -EINVAL;
        switch (b[(*pos)++]) {
        case ERL_ATOM_EXT:
        case ERL_ATOM_UTF8_EXT:
                if (len - *pos < 2)
                        return -EINVAL;
                n = (size_t)b[*pos] << 8 | b[*pos + 1];
                *pos += 2;
                break;
        case ERL_SMALL_ATOM_EXT:
        case ERL_SMALL_ATOM_UTF8_EXT:
                if (len - *pos < 1)
                        return -EINVAL;
                n = b[(*pos)++];
                break;
        default:
                return -EINVAL;
        }
        if (len - *pos < n)
                return -EINVAL;
        *pos += n;
        return 0;
}

/* Advance *pos by n bytes when they are there. */
static int need(size_t len, size_t *pos, uint64_t n)
{
        if (len - *pos < n)
                return -EINVAL;
        *pos += (size_t)n;
        return 0;
}

int etf_check_depth(const char *buf, int len, int index, int max_depth)
{
        const unsigned char *b = (const unsigned char *)buf;
        size_t n = len > 0 ? (size_t)len : 0, pos = index > 0 ? (size_t)index : 0;
        uint64_t *left;
        int depth = 0, r = 0;

        if (max_depth < 1 || pos >= n)
                return -EINVAL;
        if (b[pos] == 131) /* the version byte */
                pos++;
        left = xcalloc((size_t)max_depth + 1, sizeof(*left));
        left[0] = 1; /* one term at the top */
        while (depth >= 0 && r == 0) {
                uint64_t children = 0;
                unsigned char tag;

                if (left[depth] == 0) {
                        depth--;
                        continue;
                }
                left[depth]--;
                if (pos >= n) {
                        r = -EINVAL;
                        break;
                }
                tag = b[pos++];
                switch (tag) {
                case ERL_SMALL_INTEGER_EXT: r = need(n, &pos, 1); break;
                case ERL_INTEGER_EXT: r = need(n, &pos, 4); break;
                case ERL_FLOAT_EXT: r = need(n, &pos, 31); break;
                case NEW_FLOAT_EXT: r = need(n, &pos, 8); break;
                case ERL_ATOM_EXT:
                case ERL_ATOM_UTF8_EXT:
                case ERL_SMALL_ATOM_EXT:
                case ERL_SMALL_ATOM_UTF8_EXT:
                        pos--;
                        r = skip_atom(b, n, &pos);
                        break;
                case ERL_NIL_EXT: break;
                case ERL_STRING_EXT:
                        r = n - pos < 2 ? -EINVAL : need(n, &pos, 2 + ((uint64_t)b[pos] << 8 | b[pos + 1]));
                        break;
                case ERL_BINARY_EXT:
                        r = n - pos < 4 ? -EINVAL : need(n, &pos, 4 + (uint64_t)be32(b + pos));
                        break;
                case ERL_BIT_BINARY_EXT:
                        r = n - pos < 5 ? -EINVAL : need(n, &pos, 5 + (uint64_t)be32(b + pos));
                        break;
                case ERL_SMALL_BIG_EXT:
                        r = n - pos < 2 ? -EINVAL : need(n, &pos, 2 + (uint64_t)b[pos]);
                        break;
                case ERL_LARGE_BIG_EXT:
                        r = n - pos < 5 ? -EINVAL : need(n, &pos, 5 + (uint64_t)be32(b + pos));
                        break;
                case ERL_PID_EXT:
                        r = skip_atom(b, n, &pos);
                        if (r == 0)
                                r = need(n, &pos, 9);
                        break;
                case ERL_NEW_PID_EXT:
                        r = skip_atom(b, n, &pos);
                        if (r == 0)
                                r = need(n, &pos, 12);
                        break;
                case ERL_PORT_EXT:
                        r = skip_atom(b, n, &pos);
                        if (r == 0)
                                r = need(n, &pos, 5);
                        break;
                case ERL_NEW_PORT_EXT:
                        r = skip_atom(b, n, &pos);
                        if (r == 0)
                                r = need(n, &pos, 8);
                        break;
#ifdef ERL_V4_PORT_EXT
                case ERL_V4_PORT_EXT:
                        r = skip_atom(b, n, &pos);
                        if (r == 0)
                                r = need(n, &pos, 12);
                        break;
#endif
                case ERL_REFERENCE_EXT:
                        r = skip_atom(b, n, &pos);
                        if (r == 0)
                                r = need(n, &pos, 5);
                        break;
                case ERL_NEW_REFERENCE_EXT:
                case ERL_NEWER_REFERENCE_EXT: {
                        uint64_t ids;

                        if (n - pos < 2) {
                                r = -EINVAL;
                                break;
                        }
                        ids = (uint64_t)b[pos] << 8 | b[pos + 1];
                        pos += 2;
                        r = skip_atom(b, n, &pos);
                        if (r == 0)
                                r = need(n, &pos, (tag == ERL_NEW_REFERENCE_EXT ? 1 : 4) + 4 * ids);
                        break;
                }
                case ERL_SMALL_TUPLE_EXT:
                        if (n - pos < 1)
                                r = -EINVAL;
                        else
                                children = b[pos++];
                        break;
                case ERL_LARGE_TUPLE_EXT:
                        if (n - pos < 4)
                                r = -EINVAL;
                        else
                                children = be32(b + pos), pos += 4;
                        break;
                case ERL_MAP_EXT:
                        if (n - pos < 4)
                                r = -EINVAL;
                        else
                                children = 2 * (uint64_t)be32(b + pos), pos += 4;
                        break;
                case ERL_LIST_EXT:
                        if (n - pos < 4)
                                r = -EINVAL;
                        else
                                children = (uint64_t)be32(b + pos) + 1, pos += 4; /* + the tail */
                        break;
                case ERL_EXPORT_EXT:
                        children = 3;
                        break;
                case ERL_NEW_FUN_EXT:
                        /* Size Arity Uniq[16] Index NumFree, then Module OldIndex OldUniq Pid Free... */
                        if (n - pos < 28)
                                r = -EINVAL;
                        else
                                children = 4 + (uint64_t)be32(b + pos + 24), pos += 28;
                        break;
                default:
                        r = -EINVAL;
                        break;
                }
                if (r == 0 && children > 0) {
                        /* Every child takes at least one byte: no more children than bytes. */
                        if (children > n - pos)
                                r = -EINVAL;
                        else if (depth + 1 > max_depth)
                                r = -E2BIG;
                        else
                                left[++depth] = children;
                }
        }
        free(left);
        return r;
}
