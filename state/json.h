/*
 * json: bounded JSON input and output on top of yajl.
 *
 * Every JSON file deployex reads is untrusted: input is refused above
 * JSON_MAX_BYTES or JSON_MAX_DEPTH before yajl builds a tree.  Lookups take a
 * `where` (file + field path) so that every rejection names the file, the field
 * and what is wrong:   "/etc/deployex/x.json: apps[0].replicas: must be ..."
 *
 * Output goes through yajl_gen; json_gen_new() returns a generator writing
 * into a struct buf.
 */
#ifndef DEPLOYEX_JSON_H
#define DEPLOYEX_JSON_H

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "base/fsutil.h"
#include "base/util.h"

#define JSON_MAX_BYTES (1024 * 1024)
#define JSON_MAX_DEPTH 32

/*
 * Parse text.  On failure returns -EINVAL (syntax, depth) or -EFBIG (size) and
 * appends "ORIGIN: what is wrong" to err.  *ret is owned by the caller
 * (yajl_tree_free).
 */
int json_parse(const char *text, size_t len, const char *origin, yajl_val *ret, struct buf *err);
/*
 * What json_parse() checks before yajl sees the text (size, NUL bytes,
 * depth): 0, or its error code with "ORIGIN: ..." appended to err (if not NULL).
 */
int json_precheck(const char *text, size_t len, const char *origin, struct buf *err);

/*
 * Read at most max_bytes of path and parse it.  -ENOENT (nothing appended to
 * err) when the file does not exist; other failures append "PATH: ...".
 */
int json_parse_file(const char *path, size_t max_bytes, yajl_val *ret, struct buf *err);


/* Object member lookup; NULL when absent or when obj is not an object. */
yajl_val json_get(yajl_val obj, const char *key);

const char *json_type_name(yajl_val v);

/* A yajl generator writing into out (beautify off).  Free with yajl_gen_free(). */
yajl_gen json_gen_new(struct buf *out);
void json_gen_str(yajl_gen g, const char *s);      /* NULL -> null */
void json_gen_kv_str(yajl_gen g, const char *key, const char *value);
void json_gen_int(yajl_gen g, long long value); /* yajl_gen_integer's output, faster */
void json_gen_kv_int(yajl_gen g, const char *key, long long value);
void json_gen_kv_bool(yajl_gen g, const char *key, bool value);

#endif
