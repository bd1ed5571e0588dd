/*
 * desired: read current.json, the override and the ghosts, keep the last good
 * value of each input in force, and hand them to desired_merge() (the pure
 * merge, in reconciler/core/desired_merge.c).
 *
 * state/{app}/desired.json is the last good current.json with one more key,
 * "etag" (release_desc_parse ignores unknown keys, so the file parses as a
 * current.json).  state/{app}/override.json is the last good override.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/desired.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/paths.h"
#include "buckets/source.h"
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

static void add_error(struct buf *errors, const char *text)
{
        if (str_empty(text))
                return;
        if (errors->len)
                buf_puts(errors, "; ");
        buf_puts(errors, text);
}

/* Last good current.json and its ETag from state/{app}/desired.json. */
static bool load_last_source(const char *path, struct release_desc *ret, char etag[ETAG_MAX + 1])
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
                        str_copy(etag, ETAG_MAX + 1, YAJL_GET_STRING(e));
                yajl_tree_free(tree);
        }
out:
        buf_release(&text);
        buf_release(&ignored);
        return ok;
}

static int save_last_source(const char *path, const struct release_desc *r, const char *etag)
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

static void ensure_state_dir(const struct config *c, const char *app)
{
        struct buf dir = BUF_INIT;

        path_state_dir(c, app, &dir);
        (void)mkdir_p(dir.data, 0750);
        buf_release(&dir);
}

/* current.json: fetch, fall back to the last good one; errors into err. */
static void load_source(const struct config *c, const struct app_config *app,
                        struct source *src, bool persist, struct release_desc *ret,
                        bool *have, bool *saved, struct buf *err)
{
        struct buf path = BUF_INIT, body = BUF_INIT;
        char etag[ETAG_MAX + 1], new_etag[ETAG_MAX + 1] = "";
        struct release_desc fresh;
        bool not_modified = false;
        int r;

        memset(&fresh, 0, sizeof(fresh));
        path_desired(c, app->name, &path);
        *have = load_last_source(path.data, ret, etag);
        if (!src)
                goto out;
        r = source_get_current(src, app->name, *have ? etag : "", &body, new_etag,
                               &not_modified, err);
        if (r == -ENOENT) {
                buf_printf(err, "%s: versions/%s/%s/current.json: not published yet", src->url,
                           app->name, src->env);
                goto out;
        }
        if (r < 0 || not_modified)
                goto out;
        {
                struct buf origin = BUF_INIT;
                buf_printf(&origin, "%s/versions/%s/%s/current.json", src->url, app->name, src->env);
                r = release_desc_parse(body.data, body.len, origin.data, &fresh, err);
                buf_release(&origin);
        }
        if (r < 0)
                goto out;
        if (*have)
                release_desc_release(ret);
        *ret = fresh;
        memset(&fresh, 0, sizeof(fresh));
        *have = true;
        if (persist) {
                ensure_state_dir(c, app->name);
                if (save_last_source(path.data, ret, new_etag) == 0 && saved)
                        *saved = true;
        }
out:
        release_desc_release(&fresh);
        buf_release(&path);
        buf_release(&body);
}

/* The override: the file, else the last good one when the file is malformed. */
static void load_override(const struct config *c, const struct app_config *app, bool persist,
                          struct override *ret, struct buf *err)
{
        struct buf path = BUF_INIT, last = BUF_INIT, ignored = BUF_INIT;
        int r;

        path_override(c, app->name, &path);
        path_last_override(c, app->name, &last);
        r = override_load(path.data, ret, err);
        if (r == -ENOENT) {
                if (persist)
                        (void)unlink(last.data);
        } else if (r < 0) {
                override_release(ret);
                if (override_load(last.data, ret, &ignored) < 0) {
                        override_release(ret);
                        memset(ret, 0, sizeof(*ret));
                }
        } else if (persist) {
                struct buf text = BUF_INIT, old = BUF_INIT;
                override_to_json(ret, &text);
                /* Every plan reads the override: write (and fsync) only what changed. */
                if (file_read_all(last.data, JSON_MAX_BYTES, &old) < 0 || old.len != text.len ||
                    memcmp(old.data, text.data, text.len) != 0) {
                        ensure_state_dir(c, app->name);
                        (void)atomic_write_shared(last.data, text.data, text.len, (gid_t)-1);
                }
                buf_release(&text);
                buf_release(&old);
        }
        buf_release(&path);
        buf_release(&last);
        buf_release(&ignored);
}

int desired_load(const struct config *c, const struct app_config *app, struct source *src,
                 const char *source_error, bool persist, struct desired *ret)
{
        struct buf source_err = BUF_INIT, override_err = BUF_INIT, ghosts_err = BUF_INIT;
        struct buf path = BUF_INIT;
        struct release_desc source;
        struct override ov;
        struct ghost_list ghosts;
        bool have_source = false;

        memset(&source, 0, sizeof(source));
        memset(&ov, 0, sizeof(ov));
        memset(&ghosts, 0, sizeof(ghosts));

        load_source(c, app, src, persist, &source, &have_source, NULL, &source_err);
        add_error(&source_err, source_error);
        load_override(c, app, persist, &ov, &override_err);
        path_ghosts(c, app->name, &path);
        if (ghosts_load(path.data, &ghosts, &ghosts_err) < 0)
                add_error(&override_err, ghosts_err.data);

        desired_merge(have_source ? &source : NULL, source_err.len ? source_err.data : NULL, &ov,
                      override_err.len ? override_err.data : NULL, &ghosts, ret);

        release_desc_release(&source);
        override_release(&ov);
        ghosts_release(&ghosts);
        buf_release(&source_err);
        buf_release(&override_err);
        buf_release(&ghosts_err);
        buf_release(&path);
        return 0;
}

int desired_poll(const struct config *c, const struct app_config *app, struct source *src,
                 char ret_version[VERSION_MAX + 1], bool *ret_changed, struct buf *err)
{
        struct release_desc last;
        bool have = false;

        memset(&last, 0, sizeof(last));
        *ret_changed = false;
        ret_version[0] = '\0';
        load_source(c, app, src, true, &last, &have, ret_changed, err);
        if (have)
                str_copy(ret_version, VERSION_MAX + 1, last.version);
        release_desc_release(&last);
        return err->len ? -EIO : 0;
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
        struct buf text = BUF_INIT;
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
        ret = atomic_write_shared(path, text.data, text.len, (gid_t)-1);
        buf_release(&text);
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

int desired_release_for(const struct config *c, const struct app_config *app,
                        const char *version, struct release_desc *ret)
{
        struct buf path = BUF_INIT, text = BUF_INIT, ignored = BUF_INIT;
        struct desired want;
        int r = -ENOENT;

        memset(ret, 0, sizeof(*ret));
        path_release_record(c, app->name, version, &path);
        if (file_read_all(path.data, JSON_MAX_BYTES, &text) == 0 &&
            release_desc_parse(text.data, text.len, path.data, ret, &ignored) == 0 &&
            strcmp(ret->version, version) == 0) {
                r = 0;
                goto out;
        }
        release_desc_release(ret);
        memset(ret, 0, sizeof(*ret));
        desired_load(c, app, NULL, NULL, false, &want);
        if (strcmp(want.release.version, version) == 0) {
                release_desc_copy(ret, &want.release);
                r = 0;
        } else {
                str_copy(ret->version, sizeof(ret->version), version);
        }
        desired_release(&want);
out:
        buf_release(&path);
        buf_release(&text);
        buf_release(&ignored);
        return r;
}
