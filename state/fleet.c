/*
 * fleet: rollout slot files and their file:// store.  See fleet.h.
 */
#include "state/fleet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/json.h"
#include "state/lock.h"
#include "base/banned.h"

static const char *const state_names[] = {
        [FLEET_SLOT_ABSENT] = "absent",       [FLEET_SLOT_WAITING] = "waiting",
        [FLEET_SLOT_DEPLOYING] = "deploying", [FLEET_SLOT_READY] = "ready",
        [FLEET_SLOT_FAILED] = "failed",       [FLEET_SLOT_ABANDONED] = "abandoned",
};

const char *fleet_slot_state_to_string(enum fleet_slot_state s)
{
        if ((unsigned)s > FLEET_SLOT_ABANDONED)
                return "unknown";
        return state_names[s];
}

int fleet_slot_state_from_string(const char *s, enum fleet_slot_state *ret)
{
        /* "absent" is never written in a slot file. */
        for (int i = FLEET_SLOT_WAITING; i <= FLEET_SLOT_ABANDONED; i++) {
                if (strcmp(s, state_names[i]) == 0) {
                        *ret = (enum fleet_slot_state)i;
                        return 0;
                }
        }
        return -1;
}

#define SLOT_MAX_BYTES 4096

uint64_t fleet_fingerprint(const char *data, size_t len)
{
        uint64_t h = 14695981039346656037ULL; /* FNV-1a: an ETag, not a MAC */

        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)data[i];
                h *= 1099511628211ULL;
        }
        return h;
}

void fleet_slot_format(const char *host, enum fleet_slot_state st, int ready, int total,
                       uint64_t beat, uint64_t at_ms, struct buf *out)
{
        char at[40];
        yajl_gen g = json_gen_new(out);

        time_format_iso(at_ms, at, sizeof(at));
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "host", host);
        json_gen_kv_str(g, "state", fleet_slot_state_to_string(st));
        json_gen_kv_int(g, "ready", ready);
        json_gen_kv_int(g, "total", total);
        json_gen_kv_int(g, "beat", (long long)beat);
        json_gen_kv_str(g, "at", at);
        json_gen_kv_int(g, "at_ms", (long long)at_ms); /* the writer's clock, for `rollout` */
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(out, '\n');
}

static long long get_int(yajl_val o, const char *k)
{
        yajl_val v = json_get(o, k);

        return v && YAJL_IS_INTEGER(v) ? v->u.number.i : -1;
}

static const char *get_str(yajl_val o, const char *k)
{
        yajl_val v = json_get(o, k);

        return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

int fleet_slot_parse(const char *text, size_t len, const char *origin, struct fleet_slot *ret,
                     uint64_t *ret_at_ms, struct buf *err)
{
        struct fleet_slot s;
        yajl_val root = NULL;
        const char *host, *state, *at;
        long long ready, total, beat;
        int r;

        memset(&s, 0, sizeof(s));
        if ((r = json_parse(text, len, origin, &root, err)) < 0)
                return r;
        host = get_str(root, "host");
        state = get_str(root, "state");
        at = get_str(root, "at");
        ready = get_int(root, "ready");
        total = get_int(root, "total");
        beat = get_int(root, "beat");
        if (!host || !str_copy(s.host, sizeof(s.host), host) || !state ||
            fleet_slot_state_from_string(state, &s.state) < 0 || ready < 0 || total < 0 ||
            beat < 0 || ready > 100000 || total > 100000) {
                buf_printf(err, "%s: not a rollout slot (host, state, ready, total, beat)", origin);
                yajl_tree_free(root);
                return -EINVAL;
        }
        s.ready = (int)ready;
        s.total = (int)total;
        s.beat = (uint64_t)beat;
        s.fingerprint = fleet_fingerprint(text, len);
        if (ret_at_ms && get_int(root, "at_ms") > 0)
                *ret_at_ms = (uint64_t)get_int(root, "at_ms");
        else if (ret_at_ms && (!at || time_parse_iso(at, ret_at_ms) < 0))
                *ret_at_ms = 0;
        yajl_tree_free(root);
        *ret = s;
        return 0;
}

int fleet_claim_load(const char *path, struct fleet_claim *ret)
{
        struct buf text = BUF_INIT, err = BUF_INIT;
        struct fleet_claim c;
        yajl_val root = NULL;
        const char *v, *fp;
        int r;

        memset(&c, 0, sizeof(c));
        c.slot = -1;
        r = json_parse_file(path, SLOT_MAX_BYTES, &root, &err);
        if (r == -ENOENT) {
                *ret = c;
                r = 0;
                goto out;
        }
        if (r < 0)
                goto out;
        v = get_str(root, "version");
        fp = get_str(root, "fingerprint");
        if (!v || !version_is_valid(v) || get_int(root, "slot") < 0 ||
            get_int(root, "slot") >= FLEET_SLOTS_MAX || !fp || get_int(root, "beat") < 0) {
                r = -EINVAL;
                goto out;
        }
        str_copy(c.version, sizeof(c.version), v);
        c.slot = (int)get_int(root, "slot");
        c.fingerprint = strtoull(fp, NULL, 16);
        c.beat = (uint64_t)get_int(root, "beat");
        *ret = c;
out:
        yajl_tree_free(root);
        buf_release(&text);
        buf_release(&err);
        return r;
}

int fleet_claim_save(const char *path, const struct fleet_claim *c)
{
        struct buf out = BUF_INIT;
        char fp[32];
        yajl_gen g = json_gen_new(&out);
        int r;

        snprintf(fp, sizeof(fp), "%016" PRIx64, c->fingerprint);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "version", c->version);
        json_gen_kv_int(g, "slot", c->slot);
        json_gen_kv_str(g, "fingerprint", fp);
        json_gen_kv_int(g, "beat", (long long)c->beat);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(&out, '\n');
        r = atomic_write_file(path, out.data, out.len);
        buf_release(&out);
        return r;
}

void fleet_dir(const char *root, const char *app, const char *env, const char *version, struct buf *out)
{
        buf_reset(out);
        buf_printf(out, "%s/rollout/%s/%s/%s", root, app, env, version);
}

/* A fully written, synced temporary file in dir; its path in tmp. */
static int write_tmp(const char *dir, const char *text, size_t len, struct buf *tmp)
{
        int fd, r = 0;

        buf_reset(tmp);
        buf_printf(tmp, "%s/.tmp-%ld-XXXXXX", dir, (long)getpid());
        fd = mkostemp(tmp->data, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        (void)fchmod(fd, 0644);
        for (size_t off = 0; off < len && r == 0;) {
                ssize_t n = write(fd, text + off, len - off);
                if (n < 0 && errno != EINTR)
                        r = -errno;
                else if (n > 0)
                        off += (size_t)n;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        close(fd);
        if (r < 0)
                unlink(tmp->data);
        return r;
}

/* link(2) tmp to path: create-if-absent with the whole content at once. */
static int create_if_absent(const char *dir, const char *path, const char *text, size_t len)
{
        struct buf tmp = BUF_INIT;
        int r;

        if ((r = write_tmp(dir, text, len, &tmp)) < 0)
                goto out;
        r = link(tmp.data, path) < 0 ? -errno : 0;
        unlink(tmp.data);
        if (r == 0)
                (void)fsync_dir_of(path);
out:
        buf_release(&tmp);
        return r;
}

int fleet_file_claim(const char *dir, int first, const char *text, size_t len, int *ret_slot,
                     uint64_t *ret_fp)
{
        struct buf path = BUF_INIT;
        int r = mkdir_p(dir, 0755);

        for (int k = first; r >= 0 && k < FLEET_SLOTS_MAX; k++) {
                buf_reset(&path);
                buf_printf(&path, "%s/slot-%03d.json", dir, k);
                r = create_if_absent(dir, path.data, text, len);
                if (r == 0) {
                        *ret_slot = k;
                        *ret_fp = fleet_fingerprint(text, len);
                        break;
                }
                if (r == -EEXIST)
                        r = k + 1 < FLEET_SLOTS_MAX ? 0 : -ENOSPC;
        }
        buf_release(&path);
        return r < 0 ? r : 0;
}

int fleet_file_replace(const char *dir, int k, uint64_t seen, const char *text, size_t len)
{
        struct buf path = BUF_INIT, cur = BUF_INIT;
        int lock, r;

        buf_printf(&path, "%s/slot-%03d.json", dir, k);
        lock = file_lock(path.data);
        if (lock < 0) {
                r = lock;
                goto out;
        }
        r = file_read_all(path.data, SLOT_MAX_BYTES, &cur);
        if (r >= 0)
                r = fleet_fingerprint(cur.data, cur.len) == seen ? 0 : -ESTALE;
        if (r == 0)
                r = atomic_write_file_mode(path.data, text, len, 0644);
        file_unlock(lock);
out:
        buf_release(&path);
        buf_release(&cur);
        return r;
}

void fleet_verdict_format(const char *by, const char *reason, uint64_t at_ms, struct buf *out)
{
        char at[40];
        yajl_gen g = json_gen_new(out);

        time_format_iso(at_ms, at, sizeof(at));
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "result", "failed");
        json_gen_kv_str(g, "by", by);
        json_gen_kv_str(g, "reason", reason);
        json_gen_kv_str(g, "at", at);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(out, '\n');
}

void fleet_verdict_parse(const char *text, size_t len, struct fleet_view *v,
                         char verdict_by[FLEET_HOST_MAX + 1])
{
        struct buf err = BUF_INIT;
        yajl_val root = NULL;

        /*
         * DESIGN §4.2: the file's existence says "the version failed"; "by" and
         * "reason" explain it.  So "result" may be absent (a verdict written by
         * hand or by another tool) and a verdict we cannot read still fails the
         * version: never deploy what a host marked failed.  Only an explicit
         * other "result" is not a failure.
         */
        if (json_parse(text, len, "verdict.json", &root, &err) == 0 && YAJL_IS_OBJECT(root)) {
                const char *res = get_str(root, "result"), *why = get_str(root, "reason"),
                           *by = get_str(root, "by");

                if (!json_get(root, "result") || (res && strcmp(res, "failed") == 0)) {
                        v->verdict_failed = true;
                        snprintf(v->verdict_reason, sizeof(v->verdict_reason), "%s: %s",
                                 by ? by : "?", why ? why : "failed");
                        str_copy(verdict_by, FLEET_HOST_MAX + 1, by ? by : "");
                }
        } else {
                v->verdict_failed = true;
                snprintf(v->verdict_reason, sizeof(v->verdict_reason),
                         "?: verdict.json is not a JSON object");
                verdict_by[0] = '\0';
        }
        if (root)
                yajl_tree_free(root);
        buf_release(&err);
}

int fleet_file_verdict(const char *dir, const char *by, const char *reason, uint64_t at_ms)
{
        struct buf path = BUF_INIT, out = BUF_INIT;
        int r;

        fleet_verdict_format(by, reason, at_ms, &out);
        buf_printf(&path, "%s/verdict.json", dir);
        r = mkdir_p(dir, 0755);
        if (r >= 0)
                r = create_if_absent(dir, path.data, out.data, out.len);
        if (r == -EEXIST)
                r = 0;
        buf_release(&path);
        buf_release(&out);
        return r;
}

int fleet_file_read(const char *dir, struct fleet_view *v, uint64_t at_ms[FLEET_SLOTS_MAX],
                    char verdict_by[FLEET_HOST_MAX + 1])
{
        struct buf path = BUF_INIT, text = BUF_INIT, err = BUF_INIT;
        struct dirent *e;
        DIR *dh;
        int k;
        char tail;

        memset(v, 0, sizeof(*v));
        v->mine = -1;
        verdict_by[0] = '\0';
        dh = opendir(dir);
        if (!dh)
                return errno == ENOENT ? 0 : -errno;
        while ((e = readdir(dh))) {
                struct fleet_slot s;

                if (sscanf(e->d_name, "slot-%3d.jso%c", &k, &tail) != 2 || k < 0 ||
                    k >= FLEET_SLOTS_MAX || strlen(e->d_name) != strlen("slot-000.json"))
                        continue;
                buf_reset(&path);
                buf_printf(&path, "%s/%s", dir, e->d_name);
                buf_reset(&text);
                buf_reset(&err);
                if (file_read_all(path.data, SLOT_MAX_BYTES, &text) < 0 ||
                    fleet_slot_parse(text.data, text.len, path.data, &s, &at_ms[k], &err) < 0)
                        continue;
                v->slots[k] = s;
                if (k + 1 > v->nslots)
                        v->nslots = k + 1;
        }
        closedir(dh);
        buf_reset(&path);
        buf_printf(&path, "%s/verdict.json", dir);
        buf_reset(&text);
        if (file_read_all(path.data, SLOT_MAX_BYTES, &text) >= 0)
                fleet_verdict_parse(text.data, text.len, v, verdict_by);
        buf_release(&path);
        buf_release(&text);
        buf_release(&err);
        return 0;
}

int fleet_turn_save(const char *path, const char *version, bool go, const char *reason)
{
        struct buf out = BUF_INIT;
        yajl_gen g = json_gen_new(&out);
        int r;

        yajl_gen_map_open(g);
        json_gen_kv_str(g, "version", version);
        json_gen_kv_bool(g, "go", go);
        json_gen_kv_str(g, "reason", reason);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(&out, '\n');
        r = atomic_write_file(path, out.data, out.len);
        buf_release(&out);
        return r;
}

int fleet_turn_load(const char *path, char version[VERSION_MAX + 1], bool *go, char *reason,
                    size_t reason_size)
{
        struct buf err = BUF_INIT;
        yajl_val root = NULL, x;
        const char *v, *why;
        int r;

        version[0] = '\0';
        *go = false;
        reason[0] = '\0';
        r = json_parse_file(path, SLOT_MAX_BYTES, &root, &err);
        buf_release(&err);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        v = get_str(root, "version");
        why = get_str(root, "reason");
        x = json_get(root, "go");
        if (v && version_is_valid(v)) {
                str_copy(version, VERSION_MAX + 1, v);
                *go = x && YAJL_IS_TRUE(x);
                snprintf(reason, reason_size, "%s", why ? why : "");
        }
        yajl_tree_free(root);
        return 0;
}
