/* override: the operator's per-app override file (DESIGN §4.3). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/json.h"
#include "state/override.h"
#include "state/record.h"

#include "base/banned.h"

static const char *const override_keys[] = {
        "version", "paused", "restart", "restart_instances", NULL,
};

static int token_field(struct record_ctx *c, yajl_val v, const char *field, char dst[TOKEN_MAX + 1])
{
        char what[96];

        if (!v || YAJL_IS_NULL(v))
                return 0;
        if (!YAJL_IS_STRING(v) || !record_token_is_valid(v->u.string, TOKEN_MAX)) {
                snprintf(what, sizeof(what),
                         "must be a token of 1 to %d printable ASCII characters", TOKEN_MAX);
                return record_fail_got(c, field, what, v);
        }
        str_copy(dst, TOKEN_MAX + 1, v->u.string);
        return 1;
}

/* "N" with N from 1 to REPLICAS_MAX, plain decimal: "02" would alias "2". */
static int instance_key(struct record_ctx *c, const char *key, const char *field)
{
        int n;

        if (key[0] == '\0' || strspn(key, "0123456789") != strlen(key)) {
                record_fail(c, field, "instance must be a positive integer");
                return -EINVAL;
        }
        if (key[0] == '0') {
                record_fail(c, field, "instance must be a positive integer without leading zeros");
                return -EINVAL;
        }
        if (parse_int(key, &n) < 0 || n > REPLICAS_MAX) {
                record_fail(c, field, "instance must be from 1 to %d", REPLICAS_MAX);
                return -EINVAL;
        }
        return n;
}

static int instance_token_cmp(const void *a, const void *b)
{
        const struct instance_token *x = a, *y = b;

        return (x->instance > y->instance) - (x->instance < y->instance);
}

static int parse_restart_instances(struct record_ctx *c, yajl_val v, struct override *o)
{
        int nerr = c->nerr;

        if (!v || YAJL_IS_NULL(v))
                return 0;
        if (!YAJL_IS_OBJECT(v))
                return record_fail_got(c, "restart_instances",
                                       "must be an object of \"instance\": \"token\"", v);
        for (size_t i = 0; i < v->u.object.len; i++) {
                const char *key = v->u.object.keys[i];
                char token[TOKEN_MAX + 1] = "";
                struct buf field = BUF_INIT;
                int n;

                buf_puts(&field, "restart_instances.");
                for (const char *p = key; *p; p++)
                        buf_putc(&field, isprint((unsigned char)*p) ? *p : '?');
                n = instance_key(c, key, field.data);
                if (n > 0 && override_instance_token(o, n)) {
                        record_fail(c, field.data, "instance %d is given twice", n);
                        n = -EINVAL;
                }
                if (token_field(c, v->u.object.values[i], field.data, token) > 0 && n > 0)
                        override_set_instance_token(o, n, token);
                buf_release(&field);
        }
        return c->nerr > nerr ? -EINVAL : 0;
}

int override_parse(const char *text, size_t len, const char *origin, struct override *ret,
                   struct buf *err)
{
        struct record_ctx c = RECORD_CTX(origin, err);
        struct override o = {0};
        yajl_val root = NULL;
        size_t i;
        int r;

        /* An emptied file (": > app.json") means "no overrides", not a syntax error. */
        for (i = 0; i < len && isspace((unsigned char)text[i]); i++)
                ;
        if (i == len) {
                *ret = o;
                return 0;
        }
        r = record_parse_root(&c, text, len, false, &root);
        if (r < 0)
                return r;
        /* Operators type this file: a typo ("pasued") must not pass silently. */
        record_no_unknown_keys(&c, root, "", override_keys);
        /* yajl keeps both copies and the first would win silently: refuse, as the config does. */
        record_no_duplicate_keys(&c, root, ""); /* restart_instances: "given twice" below */
        record_version(&c, json_get(root, "version"), "version", REC_NULLABLE, o.version,
                       sizeof(o.version));
        record_bool(&c, json_get(root, "paused"), "paused", REC_NULLABLE, &o.paused);
        token_field(&c, json_get(root, "restart"), "restart", o.restart);
        parse_restart_instances(&c, json_get(root, "restart_instances"), &o);
        yajl_tree_free(root);
        if (c.nerr > 0) {
                override_release(&o);
                return -EINVAL;
        }
        *ret = o;
        return 0;
}

gid_t override_group(void)
{
        struct group gr, *found = NULL;
        char scratch[4096];

        if (getgrnam_r(OVERRIDE_GROUP, &gr, scratch, sizeof(scratch), &found) != 0 || !found)
                return (gid_t)-1;
        return found->gr_gid;
}

int override_check_file(const struct stat *st, struct buf *why)
{
        gid_t group = override_group();
        bool trusted_group = group != (gid_t)-1 && st->st_gid == group;

        if (!S_ISREG(st->st_mode)) {
                buf_printf(why, "not a regular file");
                return -EPERM;
        }
        if (st->st_mode & S_IWOTH) {
                buf_printf(why, "writable by every user (mode %04o); 'chmod o-w' it",
                           (unsigned)(st->st_mode & 07777));
                return -EPERM;
        }
        if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && !trusted_group) {
                buf_printf(why, "writable by group %u, which is not group " OVERRIDE_GROUP
                           " (mode %04o); 'chmod g-w' it",
                           (unsigned)st->st_gid, (unsigned)(st->st_mode & 07777));
                return -EPERM;
        }
        if (st->st_uid != 0 && st->st_uid != geteuid() && !trusted_group) {
                buf_printf(why, "belongs to uid %u and gid %u, neither root nor group "
                           OVERRIDE_GROUP "; 'chgrp " OVERRIDE_GROUP "' it",
                           (unsigned)st->st_uid, (unsigned)st->st_gid);
                return -EPERM;
        }
        return 0;
}

static int parse_override(const char *text, size_t len, const char *origin, void *ret,
                          struct buf *err)
{
        return override_parse(text, len, origin, ret, err);
}

int override_load(const char *path, struct override *ret, struct buf *err)
{
        /* A symlink or a FIFO planted there is refused, never followed or waited on. */
        int r = record_load(path, override_check_file, parse_override, ret, err);

        if (r == -ENOENT)
                memset(ret, 0, sizeof(*ret));
        return r;
}

void override_to_json(const struct override *o, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        yajl_gen_map_open(g);
        if (!str_empty(o->version))
                record_gen_kv_str(g, "version", o->version);
        if (o->paused)
                json_gen_kv_bool(g, "paused", true);
        if (!str_empty(o->restart))
                record_gen_kv_str(g, "restart", o->restart);
        if (o->nrestart_instances > 0) {
                json_gen_str(g, "restart_instances");
                yajl_gen_map_open(g);
                for (size_t i = 0; i < o->nrestart_instances; i++) {
                        char key[16];

                        snprintf(key, sizeof(key), "%d", o->restart_instances[i].instance);
                        record_gen_kv_str(g, key, o->restart_instances[i].token);
                }
                yajl_gen_map_close(g);
        }
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}

int override_save(const char *path, const struct override *o)
{
        struct buf text = BUF_INIT;
        int r;

        override_to_json(o, &text);
        /* Operators read this file: end it like a text file. */
        buf_putc(&text, '\n');
        r = atomic_write_shared(path, text.data, text.len, override_group());
        buf_release(&text);
        return r;
}

const char *override_instance_token(const struct override *o, int instance)
{
        for (size_t i = 0; i < o->nrestart_instances; i++)
                if (o->restart_instances[i].instance == instance)
                        return o->restart_instances[i].token;
        return NULL;
}

/* NULL or "" removes the instance's token. */
void override_set_instance_token(struct override *o, int instance, const char *token)
{
        struct instance_token *t;
        size_t i, cap = o->nrestart_instances;

        for (i = 0; i < o->nrestart_instances; i++)
                if (o->restart_instances[i].instance == instance)
                        break;
        if (str_empty(token)) {
                if (i == o->nrestart_instances)
                        return;
                memmove(&o->restart_instances[i], &o->restart_instances[i + 1],
                        (o->nrestart_instances - i - 1) * sizeof(*o->restart_instances));
                o->nrestart_instances--;
                if (o->nrestart_instances == 0) {
                        free(o->restart_instances);
                        o->restart_instances = NULL;
                }
                return;
        }
        if (i == o->nrestart_instances) {
                /* The array is exactly as long as its count: no separate capacity in the struct. */
                xgrow((void **)&o->restart_instances, &cap, o->nrestart_instances + 1,
                      sizeof(*o->restart_instances));
                o->nrestart_instances++;
        }
        t = &o->restart_instances[i];
        t->instance = instance;
        str_copy(t->token, sizeof(t->token), token);
        /* Kept sorted by instance, so that the file and status list them in order. */
        qsort(o->restart_instances, o->nrestart_instances, sizeof(*o->restart_instances),
              instance_token_cmp);
}

void override_copy(struct override *dst, const struct override *src)
{
        /* dst is overwritten, not released: it must hold nothing (zeroed or released). */
        *dst = *src;
        dst->restart_instances = NULL;
        if (src->nrestart_instances == 0)
                return;
        dst->restart_instances = xcalloc(src->nrestart_instances, sizeof(*src->restart_instances));
        memcpy(dst->restart_instances, src->restart_instances,
               src->nrestart_instances * sizeof(*src->restart_instances));
}

void override_release(struct override *o)
{
        if (!o)
                return;
        free(o->restart_instances);
        memset(o, 0, sizeof(*o));
}
