/* release: the bucket's current.json codec (DESIGN §4.2). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/json.h"
#include "state/record.h"
#include "state/release.h"

#include "base/banned.h"

static int parse_sha256(struct record_ctx *c, yajl_val v, char dst[65])
{
        char hex[65];
        int r;

        r = record_string(c, v, "sha256", REC_NULLABLE, 64, hex, sizeof(hex));
        if (r <= 0)
                return r;
        if (strlen(hex) != 64 || strspn(hex, "0123456789abcdefABCDEF") != 64)
                return record_fail_got(c, "sha256", "must be 64 hexadecimal characters", v);
        /* Lowercase, so that comparing with a computed digest is a strcmp. */
        for (size_t i = 0; i < 64; i++)
                dst[i] = (char)tolower((unsigned char)hex[i]);
        dst[64] = '\0';
        return 1;
}

static int parse_pre_commands(struct record_ctx *c, yajl_val v, char ***ret, size_t *ret_n)
{
        char **cmds;
        size_t n;
        int nerr = c->nerr;

        if (!v || YAJL_IS_NULL(v))
                return 0;
        if (!YAJL_IS_ARRAY(v))
                return record_fail_got(c, "pre_commands", "must be an array of strings", v);
        n = v->u.array.len;
        if (n > PRE_COMMANDS_MAX) {
                record_fail(c, "pre_commands", "must have at most %d entries, got %zu",
                            PRE_COMMANDS_MAX, n);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                yajl_val e = v->u.array.values[i];
                char field[32];

                snprintf(field, sizeof(field), "pre_commands[%zu]", i);
                /* One command a line in logs and in the hook's argv: no newline. */
                if (!YAJL_IS_STRING(e))
                        record_fail_got(c, field, "must be a string", e);
                else if (e->u.string[0] == '\0')
                        record_fail(c, field, "must not be empty");
                else if (strlen(e->u.string) > PRE_COMMAND_LEN_MAX)
                        record_fail(c, field, "must be at most %d bytes, got %zu",
                                    PRE_COMMAND_LEN_MAX, strlen(e->u.string));
                else if (strpbrk(e->u.string, "\r\n"))
                        record_fail(c, field, "must not contain a newline");
        }
        if (c->nerr > nerr)
                return -EINVAL;
        if (n == 0)
                return 0;
        cmds = xcalloc(n, sizeof(*cmds));
        for (size_t i = 0; i < n; i++)
                cmds[i] = xstrdup(v->u.array.values[i]->u.string);
        *ret = cmds;
        *ret_n = n;
        return 1;
}

int release_desc_parse(const char *text, size_t len, const char *origin, struct release_desc *ret,
                       struct buf *err)
{
        struct record_ctx c = RECORD_CTX(origin, err);
        struct release_desc r = {0};
        yajl_val root = NULL;
        int e;

        e = record_parse_root(&c, text, len, false, &root);
        if (e < 0)
                return e;
        /* Unknown keys are ignored: publishers may add their own. */
        record_version(&c, json_get(root, "version"), "version", REC_REQUIRED, r.version,
                       sizeof(r.version));
        record_string(&c, json_get(root, "hash"), "hash", REC_NULLABLE | REC_PRINTABLE, HASH_MAX,
                      r.hash, sizeof(r.hash));
        parse_sha256(&c, json_get(root, "sha256"), r.sha256);
        parse_pre_commands(&c, json_get(root, "pre_commands"), &r.pre_commands, &r.npre_commands);
        yajl_tree_free(root);
        if (c.nerr > 0) {
                release_desc_release(&r);
                return -EINVAL;
        }
        *ret = r;
        return 0;
}

void release_desc_to_json(const struct release_desc *r, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        yajl_gen_map_open(g);
        record_gen_kv_str(g, "version", r->version);
        if (!str_empty(r->hash))
                record_gen_kv_str(g, "hash", r->hash);
        if (!str_empty(r->sha256))
                record_gen_kv_str(g, "sha256", r->sha256);
        if (r->npre_commands > 0) {
                yajl_gen_string(g, (const unsigned char *)"pre_commands", strlen("pre_commands"));
                yajl_gen_array_open(g);
                for (size_t i = 0; i < r->npre_commands; i++)
                        record_gen_str(g, r->pre_commands[i]);
                yajl_gen_array_close(g);
        }
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}

void release_desc_copy(struct release_desc *dst, const struct release_desc *src)
{
        /* dst is overwritten, not released: it must hold nothing (zeroed or released). */
        *dst = *src;
        dst->pre_commands = NULL;
        dst->npre_commands = 0;
        if (src->npre_commands == 0)
                return;
        dst->pre_commands = xcalloc(src->npre_commands, sizeof(*dst->pre_commands));
        for (size_t i = 0; i < src->npre_commands; i++)
                dst->pre_commands[i] = xstrdup(src->pre_commands[i]);
        dst->npre_commands = src->npre_commands;
}

void release_desc_release(struct release_desc *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->npre_commands; i++)
                free(r->pre_commands[i]);
        free(r->pre_commands);
        memset(r, 0, sizeof(*r));
}
