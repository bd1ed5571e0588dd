/*
 * record: the one JSON field-checking toolkit of state/: the configuration
 * (config.c) and the codecs of deployex's small state files (release,
 * override, ghosts, history, instance, journal, deferred) collect their
 * problems, render the offending values, check keys and load files through
 * it.  Internal to state/; nothing outside it includes this.
 *
 * A parser sets up a struct record_ctx with the origin (the file) and the
 * caller's err buffer, then checks one value at a time.  A rejected value
 * appends exactly one line to err,
 *
 *     ORIGIN: FIELD: must be ..., got VALUE
 *
 * and counts it in ctx.nerr, so that a parser can report every problem of a
 * file at once and decide at the end.  The checks never log.
 *
 * Calling sequence:
 *
 *     struct record_ctx c = RECORD_CTX(origin, err);
 *     record_string(&c, json_get(obj, "hash"), "hash", REC_NULLABLE, HASH_MAX, h, sizeof(h));
 *     ...
 *     if (c.nerr > 0) return -EINVAL;
 */
#ifndef DEPLOYEX_RECORD_H
#define DEPLOYEX_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "state/json.h"
#include "base/util.h"

struct record_ctx {
        const char *origin; /* the file, for messages */
        struct buf *err;    /* may be NULL: then problems are only counted */
        int nerr;
};

#define RECORD_CTX(origin, err) { (origin), (err), 0 }

/* Flags of the value checks. */
enum {
        REC_REQUIRED = 1 << 0,  /* an absent key is an error */
        REC_NULLABLE = 1 << 1,  /* JSON null is accepted and means "absent" */
        REC_PRINTABLE = 1 << 2, /* strings: no control characters (< 0x20, 0x7f) */
        REC_NONEMPTY = 1 << 3,  /* strings: "" is an error */
};

/* Append "ORIGIN: FIELD: message" (or "ORIGIN: message" when field is "") as one line. */
void record_fail(struct record_ctx *c, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* "ORIGIN: FIELD: WHAT, got VALUE"; returns -EINVAL. */
int record_fail_got(struct record_ctx *c, const char *field, const char *what, yajl_val v);

/* A short one-line rendering of v for "got ...": a quoted, escaped and cut string, a number, ... */
void record_describe(struct buf *out, yajl_val v);
/*
 * The configuration's rendering (its messages are read by the operator who
 * typed the file or the variables): a string in single quotes, control bytes
 * as '?', cut to 57 characters and "..." beyond 60; a number as written (at
 * most 40 characters); otherwise the JSON type's name.  The state files'
 * messages keep record_describe()'s JSON escaping.  docs/configuration.md and
 * the tests quote both forms.
 */
void record_quote(struct buf *out, const char *s);
void record_describe_quoted(struct buf *out, yajl_val v);

/*
 * Refuse escaped NUL characters (\u0000) in a JSON text: yajl's tree keeps C
 * strings, so "a\u0000b" would silently become "a".  (json_parse refuses raw
 * NUL bytes itself.)
 */
int record_check_text(struct record_ctx *c, const char *text, size_t len);

/*
 * The load sequence of a small state file, one for all of them: open it
 * safely (file_open_read: no symlink, no FIFO), with check (may be NULL) vet
 * its owner and mode, refuse more than JSON_MAX_BYTES, then parse (which
 * checks the top-level type and every field).  Every failure is one line
 * "PATH: ..." in err: "cannot read: REASON", "larger than N bytes", or, for a
 * file with a check (one that others write), "refused: REASON".  -ENOENT,
 * with err untouched, when there is no file: what that means is the caller's.
 */
typedef int (*record_parse_fn)(const char *text, size_t len, const char *origin, void *ret,
                               struct buf *err);
int record_load(const char *path, int (*check)(const struct stat *st, struct buf *why),
                record_parse_fn parse, void *ret, struct buf *err);

/* Parse text with json_parse() and require a top-level object (or array when want_array). */
int record_parse_root(struct record_ctx *c, const char *text, size_t len, bool want_array,
                      yajl_val *ret);
/* The same with the tree in arena (json_parse_arena; NULL: json_parse): never yajl_tree_free it. */
struct json_arena;
int record_parse_root_in(struct record_ctx *c, const char *text, size_t len, bool want_array,
                         struct json_arena *arena, yajl_val *ret);

/*
 * The value checks.  v is the value or NULL when the key is absent.  They
 * return 1 when a value was stored, 0 when the key was absent or null (the
 * destination is then untouched) and -EINVAL after a rejection.
 */
int record_string(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
                  size_t max_len, char *dst, size_t dst_size);
/* A version ([A-Za-z0-9._+-]{1,64}); "" counts as absent unless REC_REQUIRED. */
int record_version(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
                   char *dst, size_t dst_size);
int record_u64(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
               uint64_t min, uint64_t max, uint64_t *ret);
int record_int(struct record_ctx *c, yajl_val v, const char *field, unsigned flags, int min,
               int max, int *ret);
int record_bool(struct record_ctx *c, yajl_val v, const char *field, unsigned flags, bool *ret);
/* "2026-11-26T05:00:00Z" into milliseconds. */
int record_time(struct record_ctx *c, yajl_val v, const char *field, unsigned flags,
                uint64_t *ret_ms);

/* At most this many characters of a key or value the reader typed go into an error line. */
#define RECORD_QUOTE_MAX 80
/* Each duplicated key of obj is an error ("PREFIXKEY: duplicate key"); -EINVAL when any. */
int record_no_duplicate_keys(struct record_ctx *c, yajl_val obj, const char *prefix);
/*
 * Reject every key of obj that is not in known (NULL-terminated), naming it:
 * "ORIGIN: PREFIXkey: unknown key (expected a, b, c)"; the key capped at
 * RECORD_QUOTE_MAX characters.
 */
int record_no_unknown_keys(struct record_ctx *c, yajl_val obj, const char *prefix,
                           const char *const *known);

/*
 * The configuration's key check (obj must be an object): a key given twice is
 * "ORIGIN: WHERE: duplicate key 'k'"; a key not in allowed is "ORIGIN: WHERE:
 * unknown key 'k'", with " (did you mean 'x'?)" when an allowed key is within
 * a typo's edit distance.  Unknown keys are errors: a misspelt "replica"
 * silently falling back to the default would deploy the wrong thing.
 */
void record_check_keys(struct record_ctx *c, yajl_val obj, const char *where,
                       const char *const *allowed);

/* A token: 1..max printable ASCII characters (space included). */
bool record_token_is_valid(const char *s, size_t max);

/*
 * Output.  Strings are emitted with invalid UTF-8 bytes replaced by '?' so
 * that a reason cut in the middle of a character cannot make the generator
 * fail; "" is emitted as null by record_gen_kv_opt.
 */
void record_gen_str(yajl_gen g, const char *s);
void record_gen_kv_str(yajl_gen g, const char *key, const char *s);
void record_gen_kv_opt(yajl_gen g, const char *key, const char *s);
void record_gen_kv_u64(yajl_gen g, const char *key, uint64_t v);
void record_gen_kv_time(yajl_gen g, const char *key, uint64_t ms);

#endif
