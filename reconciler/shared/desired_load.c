/*
 * desired_load: what an app should run, as every reader sees it: read
 * current.json (through the source, or the last good one), the override and
 * the ghosts, keep the last good value of each input in force, and hand them
 * to desired_merge() (the pure merge, in reconciler/core/desired_merge.c).
 * The files are state/desired.h's; the last good override is
 * state/{app}/override.json.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/shared/desired_load.h"
#include "reconciler/core/desired_merge.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/paths.h"
#include "buckets/source.h"
#include "base/banned.h"

static void add_error(struct buf *errors, const char *text)
{
        if (str_empty(text))
                return;
        if (errors->len)
                buf_puts(errors, "; ");
        buf_puts(errors, text);
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
        *have = desired_file_load(path.data, ret, etag, sizeof(etag));
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
                if (desired_file_save(path.data, ret, new_etag) == 0 && saved)
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

int desired_release_for(const struct config *c, const struct app_config *app,
                        const char *version, struct release_desc *ret)
{
        struct desired want;
        int r = -ENOENT;

        if (desired_remembered_release(c, app->name, version, ret) == 0)
                return 0;
        desired_load(c, app, NULL, NULL, false, &want);
        if (strcmp(want.release.version, version) == 0) {
                release_desc_copy(ret, &want.release);
                r = 0;
        } else {
                str_copy(ret->version, sizeof(ret->version), version);
        }
        desired_release(&want);
        return r;
}
