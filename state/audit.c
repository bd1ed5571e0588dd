/*
 * audit: the operator-action log (audit.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state/audit.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/banned.h"

#define AUDIT_MAX_BYTES (64 * 1024 * 1024)

void audit_entry_to_json(const struct audit_entry *e, struct buf *out)
{
        yajl_gen g = json_gen_new(out);
        char at[32];

        time_format_iso(e->at_ms, at, sizeof(at));
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "at", at);
        json_gen_kv_str(g, "via", e->via);
        json_gen_kv_str(g, "from", e->from);
        json_gen_kv_str(g, "action", e->action);
        json_gen_kv_str(g, "app", e->app[0] ? e->app : NULL);
        json_gen_kv_str(g, "detail", e->detail[0] ? e->detail : NULL);
        json_gen_kv_str(g, "result", e->ok ? "ok" : "failed");
        json_gen_kv_str(g, "error", e->error[0] ? e->error : NULL);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}

int audit_append(const struct config *c, const struct audit_entry *e)
{
        struct buf path = BUF_INIT, line = BUF_INIT, dir = BUF_INIT;
        struct audit_entry copy = *e;
        int r;

        if (!copy.at_ms)
                copy.at_ms = time_now_ms();
        path_state_root(c, &dir);
        (void)mkdir_p(dir.data, 0750);
        path_audit(c, &path);
        audit_entry_to_json(&copy, &line);
        r = append_line(path.data, line.data, line.len);
        buf_release(&path);
        buf_release(&line);
        buf_release(&dir);
        return r;
}

static void copy_field(yajl_val obj, const char *key, char *dst, size_t n)
{
        yajl_val v = json_get(obj, key);

        dst[0] = '\0';
        if (v && YAJL_IS_STRING(v))
                (void)str_copy(dst, n, YAJL_GET_STRING(v));
}

static int parse_line(const char *text, size_t len, struct audit_entry *e)
{
        struct buf err = BUF_INIT;
        yajl_val root = NULL;
        char at[64], result[16];
        int r = json_parse(text, len, "audit", &root, &err);

        buf_release(&err);
        if (r < 0)
                return r;
        memset(e, 0, sizeof(*e));
        copy_field(root, "at", at, sizeof(at));
        copy_field(root, "via", e->via, sizeof(e->via));
        copy_field(root, "from", e->from, sizeof(e->from));
        copy_field(root, "action", e->action, sizeof(e->action));
        copy_field(root, "app", e->app, sizeof(e->app));
        copy_field(root, "detail", e->detail, sizeof(e->detail));
        copy_field(root, "error", e->error, sizeof(e->error));
        copy_field(root, "result", result, sizeof(result));
        e->ok = strcmp(result, "ok") == 0;
        r = time_parse_iso(at, &e->at_ms) == 0 && e->action[0] ? 0 : -EINVAL;
        yajl_tree_free(root);
        return r;
}

int audit_load(const char *path, size_t last, struct audit_list *ret, struct buf *err)
{
        struct buf text = BUF_INIT;
        struct audit_list l;
        const char *p, *end;
        int r;

        memset(&l, 0, sizeof(l));
        r = file_read_all(path, AUDIT_MAX_BYTES, &text);
        if (r == -ENOENT) {
                *ret = l;
                buf_release(&text);
                return 0;
        }
        if (r < 0) {
                buf_printf(err, "%s: %s", path, strerror(-r));
                buf_release(&text);
                return r;
        }
        for (p = text.data, end = text.data + text.len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                struct audit_entry e;

                if (n > 0) {
                        if (parse_line(p, n, &e) == 0) {
                                xgrow((void **)&l.items, &l.cap, l.n + 1, sizeof(e));
                                l.items[l.n++] = e;
                        } else {
                                l.skipped++;
                        }
                }
                p += n + 1;
        }
        if (last && l.n > last) {
                memmove(l.items, l.items + (l.n - last), last * sizeof(*l.items));
                l.n = last;
        }
        buf_release(&text);
        *ret = l;
        return 0;
}

void audit_release(struct audit_list *l)
{
        free(l->items);
        memset(l, 0, sizeof(*l));
}
