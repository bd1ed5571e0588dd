/* ghosts: the list of versions that must not be deployed again (state/{app}/ghosts.json). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "state/ghosts.h"
#include "state/json.h"
#include "state/record.h"

#include "base/banned.h"

static int parse_ghost(struct record_ctx *c, yajl_val v, size_t index, struct ghost *ret)
{
        struct ghost g = {0};
        char field[48];
        int nerr = c->nerr;

        snprintf(field, sizeof(field), "[%zu]", index);
        if (!YAJL_IS_OBJECT(v))
                return record_fail_got(c, field, "must be an object", v);
        /* The daemon's own file: unknown keys are left for a newer deployex. */
        snprintf(field, sizeof(field), "[%zu].version", index);
        record_version(c, json_get(v, "version"), field, REC_REQUIRED, g.version,
                       sizeof(g.version));
        snprintf(field, sizeof(field), "[%zu].hash", index);
        record_string(c, json_get(v, "hash"), field, REC_NULLABLE, HASH_MAX, g.hash,
                      sizeof(g.hash));
        snprintf(field, sizeof(field), "[%zu].at", index);
        record_time(c, json_get(v, "at"), field, REC_REQUIRED, &g.at_ms);
        snprintf(field, sizeof(field), "[%zu].reason", index);
        record_string(c, json_get(v, "reason"), field, REC_NULLABLE, REASON_MAX, g.reason,
                      sizeof(g.reason));
        if (c->nerr > nerr)
                return -EINVAL;
        *ret = g;
        return 0;
}

int ghosts_parse(const char *text, size_t len, const char *origin, struct ghost_list *ret,
                 struct buf *err)
{
        struct record_ctx c = RECORD_CTX(origin, err);
        struct ghost_list l = {0};
        yajl_val root = NULL;
        int r;

        r = record_parse_root(&c, text, len, true, &root);
        if (r < 0)
                return r;
        /*
         * One bad entry rejects the file: forgetting a ghost would redeploy a
         * version known to fail, so the caller must see the problem.
         */
        for (size_t i = 0; i < root->u.array.len; i++) {
                struct ghost g;

                if (parse_ghost(&c, root->u.array.values[i], i, &g) == 0)
                        ghosts_add(&l, &g);
        }
        yajl_tree_free(root);
        if (c.nerr > 0) {
                ghosts_release(&l);
                return -EINVAL;
        }
        *ret = l;
        return 0;
}

static int parse_ghosts(const char *text, size_t len, const char *origin, void *ret,
                        struct buf *err)
{
        return ghosts_parse(text, len, origin, ret, err);
}

int ghosts_load(const char *path, struct ghost_list *ret, struct buf *err)
{
        int r = record_load(path, NULL, parse_ghosts, ret, err);

        if (r == -ENOENT) {
                memset(ret, 0, sizeof(*ret));
                r = 0;
        }
        return r;
}

void ghosts_to_json(const struct ghost_list *l, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        yajl_gen_array_open(g);
        for (size_t i = 0; i < l->n; i++) {
                const struct ghost *gh = &l->items[i];

                yajl_gen_map_open(g);
                record_gen_kv_str(g, "version", gh->version);
                record_gen_kv_opt(g, "hash", gh->hash);
                record_gen_kv_time(g, "at", gh->at_ms);
                record_gen_kv_opt(g, "reason", gh->reason);
                yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        yajl_gen_free(g);
}

int ghosts_save(const char *path, const struct ghost_list *l)
{
        struct buf text = BUF_INIT;
        int r;

        ghosts_to_json(l, &text);
        buf_putc(&text, '\n');
        r = atomic_write_shared(path, text.data, text.len, (gid_t)-1);
        buf_release(&text);
        return r;
}

const struct ghost *ghosts_find(const struct ghost_list *l, const char *version)
{
        if (!version)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->items[i].version, version) == 0)
                        return &l->items[i];
        return NULL;
}

void ghosts_add(struct ghost_list *l, const struct ghost *g)
{
        /* A copy first: g may point into the list itself. */
        struct ghost copy = *g;

        /* A replaced entry moves to the end: the list stays oldest first. */
        ghosts_remove(l, copy.version);
        xgrow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items));
        l->items[l->n++] = copy;
}

bool ghosts_remove(struct ghost_list *l, const char *version)
{
        if (!version)
                return false;
        for (size_t i = 0; i < l->n; i++) {
                struct ghost *g = &l->items[i];

                if (strcmp(g->version, version) != 0)
                        continue;
                /* Keep the order: the file and `deployex ghosts` list oldest first. */
                memmove(g, g + 1, (l->n - i - 1) * sizeof(*g));
                l->n--;
                return true;
        }
        return false;
}

void ghosts_release(struct ghost_list *l)
{
        if (!l)
                return;
        free(l->items);
        memset(l, 0, sizeof(*l));
}
