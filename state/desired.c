/*
 * desired: the files of an app's desired state and the struct desired's
 * lifecycle.  state/{app}/desired.json is the last good current.json with one
 * more key, "etag" (release_desc_parse ignores unknown keys, so the file
 * parses as a current.json); state/{app}/releases/{version}.json is the
 * release a deployment started with, and when its pre-commands ran.  Reading
 * them into the desired state is reconciler/shared/desired_load.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state/desired.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/banned.h"

const char *desired_origin_to_string(enum desired_origin o)
{
        switch (o) {
        case DESIRED_SOURCE:
                return "source";
        case DESIRED_OVERRIDE:
                return "override";
        case DESIRED_NONE:
                break;
        }
        return "none";
}

void desired_init(struct desired *d)
{
        memset(d, 0, sizeof(*d));
}

void desired_release(struct desired *d)
{
        release_desc_release(&d->release);
        override_release(&d->override);
        free(d->error);
        desired_init(d);
}

bool desired_file_load(const char *path, struct release_desc *ret, char *etag,
                       size_t etag_size)
{
        struct buf text = BUF_INIT, ignored = BUF_INIT;
        yajl_val tree = NULL;
        bool ok = false;

        etag[0] = '\0';
        if (file_read_all(path, JSON_MAX_BYTES, &text) < 0)
                goto out;
        if (release_desc_parse(text.data, text.len, path, ret, &ignored) < 0)
                goto out;
        ok = true;
        if (json_parse(text.data, text.len, path, &tree, &ignored) == 0) {
                yajl_val e = json_get(tree, "etag");
                if (YAJL_IS_STRING(e))
                        str_copy(etag, etag_size, YAJL_GET_STRING(e));
                yajl_tree_free(tree);
        }
out:
        buf_release(&text);
        buf_release(&ignored);
        return ok;
}

int desired_file_save(const char *path, const struct release_desc *r, const char *etag)
{
        struct buf out = BUF_INIT, tag = BUF_INIT;
        yajl_gen g = json_gen_new(&tag);
        int ret;

        json_gen_str(g, etag);
        yajl_gen_free(g);
        release_desc_to_json(r, &out);
        /* Splice "etag" into the object: the file stays a valid current.json. */
        if (out.len && out.data[out.len - 1] == '}') {
                out.len--;
                out.data[out.len] = '\0';
                buf_printf(&out, "%s\"etag\":%s}\n", out.len > 1 ? "," : "", tag.data);
        }
        ret = atomic_write_shared(path, out.data, out.len, (gid_t)-1);
        buf_release(&out);
        buf_release(&tag);
        return ret;
}

/*
 * The "pre_commands_done" member of releases/{version}.json:
 *     "pre_commands_done": {"sha256": "<of the tarball they ran for>", "at": "..."}
 * *ret_at (0 = not done) when it is there and its sha256 is `sha256`: a
 * republish with other bytes is a new version for the pre-commands.
 */
static void read_pre_commands_done(yajl_val root, const char *sha256, uint64_t *ret_at)
{
        yajl_val done = json_get(root, "pre_commands_done");
        yajl_val sum_v = json_get(done, "sha256"), at_v = json_get(done, "at");
        const char *sum = YAJL_IS_STRING(sum_v) ? YAJL_GET_STRING(sum_v) : NULL;
        const char *at = YAJL_IS_STRING(at_v) ? YAJL_GET_STRING(at_v) : NULL;
        uint64_t ms;

        *ret_at = 0;
        if (sum && at && strcmp(sum, sha256) == 0 && time_parse_iso(at, &ms) == 0)
                *ret_at = ms ? ms : 1;
}

/* releases/{version}.json: the release, and when its pre-commands ran (done_at, 0 = never). */
static int write_release_file(const char *path, const struct release_desc *r, uint64_t done_at)
{
        struct buf text = BUF_INIT, old = BUF_INIT;
        char at[32];
        int ret;

        release_desc_to_json(r, &text);
        if (done_at) {
                /* One more member in the object release_desc_to_json() closed. */
                while (text.len && (text.data[text.len - 1] == '\n' || text.data[text.len - 1] == '}'))
                        text.data[--text.len] = '\0';
                time_format_iso(done_at, at, sizeof(at));
                buf_printf(&text, ",\"pre_commands_done\":{\"sha256\":\"%s\",\"at\":\"%s\"}}",
                           r->sha256, at);
        }
        buf_putc(&text, '\n');
        /*
         * Every replica's deployment remembers the release: bytes already there
         * are not written again (a write is two fsyncs in the daemon's loop).
         */
        if (file_read_all(path, JSON_MAX_BYTES, &old) == 0 && old.len == text.len &&
            memcmp(old.data, text.data, text.len) == 0)
                ret = 0;
        else
                ret = atomic_write_shared(path, text.data, text.len, (gid_t)-1);
        buf_release(&text);
        buf_release(&old);
        return ret;
}

/* The remembered release of version and its done mark; -ENOENT when none. */
static int load_release_file(const char *path, const char *version, struct release_desc *ret,
                             uint64_t *ret_done_at)
{
        struct buf text = BUF_INIT, ignored = BUF_INIT;
        yajl_val root = NULL;
        int r = -ENOENT;

        memset(ret, 0, sizeof(*ret));
        *ret_done_at = 0;
        if (file_read_all(path, JSON_MAX_BYTES, &text) == 0 &&
            release_desc_parse(text.data, text.len, path, ret, &ignored) == 0 &&
            strcmp(ret->version, version) == 0) {
                if (json_parse(text.data, text.len, path, &root, &ignored) == 0)
                        read_pre_commands_done(root, ret->sha256, ret_done_at);
                r = 0;
        }
        if (root)
                yajl_tree_free(root);
        buf_release(&text);
        buf_release(&ignored);
        return r;
}

int desired_remember_release(const struct config *c, const char *app,
                             const struct release_desc *r)
{
        struct buf path = BUF_INIT;
        struct release_desc old;
        uint64_t done_at = 0;
        int ret;

        path_releases_dir(c, app, &path);
        ret = mkdir_p(path.data, 0750);
        if (ret >= 0) {
                path_release_record(c, app, r->version, &path);
                /* The same bytes keep their pre-commands done; other bytes start afresh. */
                if (load_release_file(path.data, r->version, &old, &done_at) == 0 &&
                    strcmp(old.sha256, r->sha256) != 0)
                        done_at = 0;
                release_desc_release(&old);
                ret = write_release_file(path.data, r, done_at);
        }
        buf_release(&path);
        return ret;
}

int desired_pre_commands_done(const struct config *c, const char *app, const char *version,
                              uint64_t *ret_at)
{
        struct buf path = BUF_INIT;
        struct release_desc r;
        int ret;

        path_release_record(c, app, version, &path);
        ret = load_release_file(path.data, version, &r, ret_at);
        release_desc_release(&r);
        buf_release(&path);
        if (ret < 0)
                return 0;
        return *ret_at != 0;
}

int desired_mark_pre_commands_done(const struct config *c, const char *app, const char *version,
                                   uint64_t at_ms)
{
        struct buf path = BUF_INIT;
        struct release_desc r;
        uint64_t done_at;
        int ret;

        path_release_record(c, app, version, &path);
        ret = load_release_file(path.data, version, &r, &done_at);
        if (ret == 0)
                ret = write_release_file(path.data, &r, at_ms ? at_ms : 1);
        release_desc_release(&r);
        buf_release(&path);
        return ret;
}

int desired_remembered_release(const struct config *c, const char *app, const char *version,
                               struct release_desc *ret)
{
        struct buf path = BUF_INIT;
        uint64_t done_at;
        int r;

        path_release_record(c, app, version, &path);
        r = load_release_file(path.data, version, ret, &done_at);
        if (r < 0) {
                release_desc_release(ret);
                memset(ret, 0, sizeof(*ret));
        }
        buf_release(&path);
        return r;
}
