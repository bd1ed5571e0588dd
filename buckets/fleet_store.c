/*
 * fleet_store: rollout files on file://, s3:// and gs://.  See fleet_store.h.
 */
#include "buckets/fleet_store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "buckets/bucket_put.h"
#include "state/fleet.h"
#include "base/banned.h"

/* A compare-and-swap that keeps losing to other writers gives up; the next heartbeat retries. */
#define CAS_TRIES 5

struct fleet_store {
        char *root;            /* file://: the bucket directory; NULL on a bucket */
        struct bucket_put *bp; /* s3://, gs:// */
        char *app, *env, *version;
        struct buf dir;        /* file://: the folder; bucket: "rollout/app/env/D" */
};

int fleet_store_open(const struct config *c, const char *app, const char *version,
                     struct fleet_store **ret, struct buf *err)
{
        struct fleet_store *s = xcalloc(1, sizeof(*s));
        int r = 0;

        s->app = xstrdup(app);
        s->env = xstrdup(c->env);
        s->version = xstrdup(version);
        if (strncmp(c->source, "file://", 7) == 0) {
                s->root = xstrdup(c->source + 7);
                fleet_dir(s->root, app, c->env, version, &s->dir);
        } else {
                r = bucket_put_open(c, &s->bp, err);
                buf_printf(&s->dir, "rollout/%s/%s/%s", app, c->env, version);
        }
        if (r < 0) {
                fleet_store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void fleet_store_free(struct fleet_store *s)
{
        if (!s)
                return;
        bucket_put_free(s->bp);
        free(s->root);
        free(s->app);
        free(s->env);
        free(s->version);
        buf_release(&s->dir);
        free(s);
}

static void slot_rel(const struct fleet_store *s, int k, struct buf *out)
{
        buf_reset(out);
        buf_printf(out, "%s/slot-%03d.json", s->dir.data, k);
}

int fleet_store_read(struct fleet_store *s, struct fleet_view *v, uint64_t at_ms[FLEET_SLOTS_MAX],
                     char verdict_by[FLEET_HOST_MAX + 1], struct buf *err)
{
        struct buf rel = BUF_INIT, text = BUF_INIT, why = BUF_INIT;
        char tag[BUCKET_TAG_MAX + 1];
        int r;

        if (s->root) {
                r = fleet_file_read(s->dir.data, v, at_ms, verdict_by);
                if (r < 0)
                        buf_printf(err, "cannot read '%s': %s", s->dir.data, strerror(-r));
                return r;
        }
        memset(v, 0, sizeof(*v));
        v->mine = -1;
        verdict_by[0] = '\0';
        buf_printf(&rel, "%s/verdict.json", s->dir.data);
        r = bucket_get_object(s->bp, rel.data, FLEET_FILE_MAX, &text, tag, err);
        if (r == 0)
                fleet_verdict_parse(text.data, text.len, v, verdict_by);
        else if (r != -ENOENT)
                goto out;
        r = 0;
        for (int k = 0; k < FLEET_SLOTS_MAX; k++) {
                struct fleet_slot slot;

                slot_rel(s, k, &rel);
                r = bucket_get_object(s->bp, rel.data, FLEET_FILE_MAX, &text, tag, err);
                if (r == -ENOENT && k == 0) /* the canary's slot may come after the others */
                        continue;
                if (r == -ENOENT) {
                        r = 0;
                        break;
                }
                if (r < 0)
                        goto out;
                buf_reset(&why);
                if (fleet_slot_parse(text.data, text.len, rel.data, &slot, &at_ms[k], &why) < 0)
                        continue;
                v->slots[k] = slot;
                v->nslots = k + 1;
        }
out:
        buf_release(&rel);
        buf_release(&text);
        buf_release(&why);
        return r;
}

int fleet_store_read_mine(struct fleet_store *s, int k, struct fleet_view *v,
                          uint64_t at_ms[FLEET_SLOTS_MAX], char verdict_by[FLEET_HOST_MAX + 1],
                          struct buf *err)
{
        struct buf rel = BUF_INIT, text = BUF_INIT, why = BUF_INIT;
        char tag[BUCKET_TAG_MAX + 1];
        struct fleet_slot slot;
        int r;

        if (s->root || k < 0 || k >= FLEET_SLOTS_MAX) /* a local folder: reading it all is cheap */
                return fleet_store_read(s, v, at_ms, verdict_by, err);
        memset(v, 0, sizeof(*v));
        v->mine = -1;
        verdict_by[0] = '\0';
        buf_printf(&rel, "%s/verdict.json", s->dir.data);
        r = bucket_get_object(s->bp, rel.data, FLEET_FILE_MAX, &text, tag, err);
        if (r == 0)
                fleet_verdict_parse(text.data, text.len, v, verdict_by);
        else if (r != -ENOENT)
                goto out;
        slot_rel(s, k, &rel);
        r = bucket_get_object(s->bp, rel.data, FLEET_FILE_MAX, &text, tag, err);
        if (r == 0 &&
            fleet_slot_parse(text.data, text.len, rel.data, &slot, &at_ms[k], &why) == 0) {
                v->slots[k] = slot;
                v->nslots = k + 1;
        }
        if (r == -ENOENT)
                r = 0;
out:
        buf_release(&rel);
        buf_release(&text);
        buf_release(&why);
        return r;
}

int fleet_store_claim(struct fleet_store *s, int first, const char *text, size_t len, int *ret_slot,
                      uint64_t *ret_fp, struct buf *err)
{
        struct buf rel = BUF_INIT;
        char tag[BUCKET_TAG_MAX + 1];
        int r = -ENOSPC;

        if (s->root) {
                r = fleet_file_claim(s->dir.data, first, text, len, ret_slot, ret_fp);
                if (r < 0)
                        buf_printf(err, "cannot claim a slot in '%s': %s", s->dir.data,
                                   strerror(-r));
                return r;
        }
        for (int k = first; k < FLEET_SLOTS_MAX; k++) {
                slot_rel(s, k, &rel);
                r = bucket_put_object_if(s->bp, rel.data, text, len, "application/json",
                                         BUCKET_IF_ABSENT, NULL, tag, err);
                if (r == 0) {
                        *ret_slot = k;
                        *ret_fp = fleet_fingerprint(text, len);
                        break;
                }
                if (r != -ESTALE) /* taken: try the next one */
                        break;
                r = -ENOSPC;
        }
        if (r == -ENOSPC)
                buf_printf(err, "no free slot in %s (%d slots)", s->dir.data, FLEET_SLOTS_MAX);
        buf_release(&rel);
        return r;
}

int fleet_store_replace(struct fleet_store *s, int k, uint64_t seen, const char *text, size_t len,
                        struct buf *err)
{
        struct buf rel = BUF_INIT, cur = BUF_INIT;
        char tag[BUCKET_TAG_MAX + 1], new_tag[BUCKET_TAG_MAX + 1];
        int r = -ESTALE;

        if (s->root) {
                r = fleet_file_replace(s->dir.data, k, seen, text, len);
                if (r < 0 && r != -ESTALE && r != -ENOENT)
                        buf_printf(err, "cannot write slot %d in '%s': %s", k, s->dir.data,
                                   strerror(-r));
                return r;
        }
        slot_rel(s, k, &rel);
        for (int attempt = 0; attempt < CAS_TRIES; attempt++) {
                r = bucket_get_object(s->bp, rel.data, FLEET_FILE_MAX, &cur, tag, err);
                if (r < 0)
                        break;
                if (fleet_fingerprint(cur.data, cur.len) != seen || !tag[0]) {
                        r = -ESTALE;
                        break;
                }
                r = bucket_put_object_if(s->bp, rel.data, text, len, "application/json",
                                         BUCKET_IF_MATCH, tag, new_tag, err);
                /* 412: someone wrote between the read and the write: read and decide again. */
                if (r != -ESTALE)
                        break;
        }
        buf_release(&rel);
        buf_release(&cur);
        return r;
}

int fleet_store_verdict(struct fleet_store *s, const char *by, const char *reason, uint64_t at_ms,
                        struct buf *err)
{
        struct buf rel = BUF_INIT, out = BUF_INIT;
        char tag[BUCKET_TAG_MAX + 1];
        int r;

        if (s->root) {
                r = fleet_file_verdict(s->dir.data, by, reason, at_ms);
                if (r < 0)
                        buf_printf(err, "cannot write the verdict in '%s': %s", s->dir.data,
                                   strerror(-r));
                return r;
        }
        fleet_verdict_format(by, reason, at_ms, &out);
        buf_printf(&rel, "%s/verdict.json", s->dir.data);
        r = bucket_put_object_if(s->bp, rel.data, out.data, out.len, "application/json",
                                 BUCKET_IF_ABSENT, NULL, tag, err);
        if (r == -ESTALE) /* another host's verdict was first: it stands */
                r = 0;
        buf_release(&rel);
        buf_release(&out);
        return r;
}

/* A rollout folder and when its rollout began (its lowest slot's "at"; 0 = unknown: oldest). */
struct folder {
        char name[VERSION_MAX + 1];
        uint64_t at_ms;
};

static int by_newest(const void *a, const void *b)
{
        const struct folder *x = a, *y = b;

        if (x->at_ms != y->at_ms)
                return x->at_ms < y->at_ms ? 1 : -1;
        return strcmp(y->name, x->name);
}

/* The "at" of the lowest slot of folder rel (a bucket): slot 0, else slot 1. */
static uint64_t bucket_folder_at(struct fleet_store *s, const char *rel)
{
        struct buf path = BUF_INIT, text = BUF_INIT, why = BUF_INIT;
        char tag[BUCKET_TAG_MAX + 1];
        struct fleet_slot slot;
        uint64_t at = 0;

        for (int k = 0; k < 2 && !at; k++) {
                buf_reset(&path);
                buf_printf(&path, "%s/slot-%03d.json", rel, k);
                buf_reset(&why);
                if (bucket_get_object(s->bp, path.data, FLEET_FILE_MAX, &text, tag, &why) == 0 &&
                    fleet_slot_parse(text.data, text.len, path.data, &slot, &at, &why) < 0)
                        at = 0;
        }
        buf_release(&path);
        buf_release(&text);
        buf_release(&why);
        return at;
}

/* The folders below rollout/{app}/{env}/, with their start times. */
static int list_folders(struct fleet_store *s, const char *base, struct folder **ret, size_t *ret_n,
                        struct buf *err)
{
        static struct fleet_view v; /* large: not on the stack */
        static uint64_t at[FLEET_SLOTS_MAX];
        char by[FLEET_HOST_MAX + 1];
        struct buf names = BUF_INIT, path = BUF_INIT;
        struct folder *f = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        if (s->root) {
                DIR *dh = opendir(base);
                struct dirent *e;

                if (!dh)
                        return errno == ENOENT ? 0 : -errno;
                while ((e = readdir(dh)))
                        if (e->d_name[0] != '.' && version_is_valid(e->d_name))
                                buf_printf(&names, "%s\n", e->d_name);
                closedir(dh);
        } else if ((r = bucket_list_folder(s->bp, base, &names, err)) < 0) {
                goto out;
        }
        for (char *line = names.data, *nl; line && *line; line = nl + 1) {
                nl = strchr(line, '\n');
                *nl = '\0';
                if (!version_is_valid(line))
                        continue;
                if (n == cap)
                        f = xrealloc(f, (cap = cap ? 2 * cap : 16) * sizeof(*f));
                str_copy(f[n].name, sizeof(f[n].name), line);
                buf_reset(&path);
                buf_printf(&path, "%s/%s", base, line);
                f[n].at_ms = 0;
                if (strcmp(line, s->version) == 0) {
                        f[n].at_ms = UINT64_MAX; /* the open rollout is never pruned */
                } else if (s->root) {
                        memset(at, 0, sizeof(at));
                        if (fleet_file_read(path.data, &v, at, by) == 0)
                                for (int k = 0; k < v.nslots && !f[n].at_ms; k++)
                                        f[n].at_ms = at[k];
                } else {
                        f[n].at_ms = bucket_folder_at(s, path.data);
                }
                n++;
        }
out:
        buf_release(&names);
        buf_release(&path);
        *ret = f;
        *ret_n = n;
        return r;
}

/* Every object of a bucket folder (its files are flat: slots and the verdict). */
static int delete_bucket_folder(struct fleet_store *s, const char *rel, struct buf *err)
{
        struct buf names = BUF_INIT, path = BUF_INIT;
        int r = bucket_list_folder(s->bp, rel, &names, err);

        for (char *line = names.data, *nl; r == 0 && line && *line; line = nl + 1) {
                nl = strchr(line, '\n');
                *nl = '\0';
                buf_reset(&path);
                buf_printf(&path, "%s/%s", rel, line);
                r = bucket_delete_object(s->bp, path.data, err);
        }
        buf_release(&names);
        buf_release(&path);
        return r;
}

int fleet_store_prune(struct fleet_store *s, int *ret_deleted, struct buf *err)
{
        struct buf base = BUF_INIT, path = BUF_INIT;
        struct folder *f = NULL;
        size_t n = 0;
        int r;

        *ret_deleted = 0;
        if (s->root)
                buf_printf(&base, "%s/rollout/%s/%s", s->root, s->app, s->env);
        else
                buf_printf(&base, "rollout/%s/%s", s->app, s->env);
        if ((r = list_folders(s, base.data, &f, &n, err)) < 0)
                goto out;
        if (n > 1)
                qsort(f, n, sizeof(*f), by_newest);
        for (size_t i = FLEET_KEEP_VERSIONS; i < n && r == 0; i++) {
                buf_reset(&path);
                buf_printf(&path, "%s/%s", base.data, f[i].name);
                if (s->root) {
                        r = remove_tree(path.data);
                        if (r < 0)
                                buf_printf(err, "cannot remove '%s': %s", path.data, strerror(-r));
                } else {
                        r = delete_bucket_folder(s, path.data, err);
                }
                if (r == 0)
                        (*ret_deleted)++;
        }
out:
        free(f);
        buf_release(&base);
        buf_release(&path);
        return r;
}
