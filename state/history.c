/* history: the append-only deployment log state/{app}/history.jsonl. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/history.h"
#include "state/json.h"
#include "state/record.h"

#include "base/banned.h"

/*
 * The reader keeps the newest HISTORY_READ_MAX bytes of the file: enough for
 * some 250 000 events, and a bound on what `deployex history` holds in memory.
 */
#define HISTORY_READ_MAX ((size_t)64 * 1024 * 1024)

static const char *const history_kind_names[] = {
        [HISTORY_FULL] = "full",
        [HISTORY_HOT] = "hot",
        [HISTORY_ROLLBACK] = "rollback",
        [HISTORY_RESTART] = "restart",
};

const char *history_kind_to_string(enum history_kind k)
{
        if ((size_t)k >= ARRAY_SIZE(history_kind_names))
                return "unknown";
        return history_kind_names[k];
}

int history_kind_from_string(const char *s, enum history_kind *ret)
{
        for (size_t i = 0; s && i < ARRAY_SIZE(history_kind_names); i++) {
                if (strcmp(s, history_kind_names[i]) == 0) {
                        *ret = (enum history_kind)i;
                        return 0;
                }
        }
        return -EINVAL;
}

void history_event_to_json(const struct history_event *e, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        yajl_gen_map_open(g);
        record_gen_kv_time(g, "at", e->at_ms);
        record_gen_kv_str(g, "app", e->app);
        json_gen_kv_int(g, "instance", e->instance);
        record_gen_kv_str(g, "kind", history_kind_to_string(e->kind));
        record_gen_kv_opt(g, "from", e->from);
        record_gen_kv_str(g, "version", e->version);
        record_gen_kv_opt(g, "hash", e->hash);
        record_gen_kv_str(g, "result", e->ok ? "ok" : "failed");
        record_gen_kv_opt(g, "reason", e->reason);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}

/* 1 when path is absent, empty or ends with '\n'; 0 when its last line is torn. */
static int ends_with_newline(const char *path)
{
        struct stat st;
        char last;
        ssize_t n;
        int fd, r;

        fd = file_open_read(path, 0, NULL);
        if (fd < 0)
                return fd == -ENOENT ? 1 : fd;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (st.st_size == 0) {
                r = 1;
                goto out;
        }
        do
                n = pread(fd, &last, 1, st.st_size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                r = -errno;
        else
                r = n == 1 && last == '\n';
out:
        close(fd);
        return r;
}

int history_append(const char *path, const struct history_event *e)
{
        struct buf line = BUF_INIT;
        int r;

        /*
         * A power loss may have torn the last append.  Start on a new line so
         * that the torn one stays alone (and skipped), instead of swallowing
         * this event into one malformed line.
         */
        r = ends_with_newline(path);
        if (r < 0)
                goto out;
        if (r == 0)
                buf_putc(&line, '\n');
        history_event_to_json(e, &line);
        r = append_line(path, line.data, line.len);
out:
        buf_release(&line);
        return r;
}

int history_parse_event(const char *text, size_t len, struct history_event *ret)
{
        struct record_ctx c = RECORD_CTX("", NULL);
        struct history_event e = {0};
        char kind[16] = "", result[16] = "";
        yajl_val root = NULL;
        int r;

        r = record_parse_root(&c, text, len, false, &root);
        if (r < 0)
                return r;
        /* Unknown keys are left for a newer deployex. */
        record_time(&c, json_get(root, "at"), "at", REC_REQUIRED, &e.at_ms);
        record_string(&c, json_get(root, "app"), "app", REC_REQUIRED | REC_NONEMPTY | REC_PRINTABLE,
                      APP_NAME_MAX, e.app, sizeof(e.app));
        record_int(&c, json_get(root, "instance"), "instance", REC_REQUIRED, 0, 100000,
                   &e.instance);
        record_string(&c, json_get(root, "kind"), "kind", REC_REQUIRED, sizeof(kind) - 1, kind,
                      sizeof(kind));
        record_version(&c, json_get(root, "from"), "from", REC_NULLABLE, e.from, sizeof(e.from));
        record_version(&c, json_get(root, "version"), "version", REC_REQUIRED, e.version,
                       sizeof(e.version));
        record_string(&c, json_get(root, "hash"), "hash", REC_NULLABLE, HASH_MAX, e.hash,
                      sizeof(e.hash));
        record_string(&c, json_get(root, "result"), "result", REC_REQUIRED, sizeof(result) - 1,
                      result, sizeof(result));
        record_string(&c, json_get(root, "reason"), "reason", REC_NULLABLE, REASON_MAX, e.reason,
                      sizeof(e.reason));
        yajl_tree_free(root);
        if (c.nerr > 0 || history_kind_from_string(kind, &e.kind) < 0)
                return -EINVAL;
        if (strcmp(result, "ok") == 0)
                e.ok = true;
        else if (strcmp(result, "failed") != 0)
                return -EINVAL;
        *ret = e;
        return 0;
}

/* The whole file, or its newest max bytes starting at a line boundary (*ret_cut set). */
static int read_tail(const char *path, size_t max, struct buf *out, bool *ret_cut)
{
        char chunk[65536];
        struct stat st;
        off_t start = 0;
        int fd, r = 0;

        fd = file_open_read(path, 0, NULL);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
                goto out;
        }
        if ((uint64_t)st.st_size > max)
                start = st.st_size - (off_t)max;
        if (lseek(fd, start, SEEK_SET) < 0) {
                r = -errno;
                goto out;
        }
        /* The daemon may append while we read: stop at max bytes all the same. */
        while (out->len < max) {
                size_t want = max - out->len < sizeof(chunk) ? max - out->len : sizeof(chunk);
                ssize_t n = read(fd, chunk, want);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                if (n == 0)
                        break;
                buf_append(out, chunk, (size_t)n);
        }
        *ret_cut = start > 0;
out:
        close(fd);
        return r;
}

int history_load(const char *path, struct history_list *ret, struct buf *err)
{
        struct record_ctx c = RECORD_CTX(path, err);
        struct history_list l = {0};
        struct buf text = BUF_INIT;
        bool cut = false;
        const char *p, *end;
        int r;

        r = read_tail(path, HISTORY_READ_MAX, &text, &cut);
        if (r == -ENOENT) {
                *ret = l;
                r = 0;
                goto out;
        }
        if (r < 0) {
                record_fail(&c, "", "cannot read: %s", file_strerror(r));
                goto out;
        }
        p = text.data;
        end = text.data + text.len;
        if (cut) {
                /* The first line is a fragment of an older event: not a torn one, drop it. */
                const char *nl = memchr(p, '\n', (size_t)(end - p));

                p = nl ? nl + 1 : end;
        }
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = (size_t)((nl ? nl : end) - p);
                struct history_event e;
                size_t blank = 0;

                while (blank < len && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
                        blank++;
                if (blank < len) {
                        if (history_parse_event(p, len, &e) == 0) {
                                xgrow((void **)&l.items, &l.cap, l.n + 1, sizeof(*l.items));
                                l.items[l.n++] = e;
                        } else {
                                l.skipped++;
                        }
                }
                p = nl ? nl + 1 : end;
        }
        *ret = l;
out:
        buf_release(&text);
        return r;
}

void history_release(struct history_list *l)
{
        if (!l)
                return;
        free(l->items);
        memset(l, 0, sizeof(*l));
}
