/*
 * actions: the override and ghost writers shared by the CLI and the web UI
 * (actions.h).  Keys an action does not own are kept as they are.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/shared/actions.h"
#include "state/audit.h"
#include "base/fsutil.h"
#include "state/ghosts.h"
#include "state/lock.h"
#include "state/override.h"
#include "state/paths.h"
#include "buckets/source.h"
#include "base/banned.h"

struct action_origin action_origin_cli(void)
{
        static char from[AUDIT_FIELD_MAX];
        struct passwd *pw = getpwuid(getuid());

        snprintf(from, sizeof(from), "uid %u (%s)", (unsigned)getuid(), pw ? pw->pw_name : "?");
        return (struct action_origin){ .via = "cli", .from = from };
}

static int audit(const struct config *c, const struct action_origin *o, const char *action,
                 const char *app, const char *detail, int r, const struct buf *err)
{
        struct audit_entry e;

        memset(&e, 0, sizeof(e));
        str_copy(e.via, sizeof(e.via), o->via);
        str_copy(e.from, sizeof(e.from), o->from);
        str_copy(e.action, sizeof(e.action), action);
        str_copy(e.app, sizeof(e.app), app);
        str_copy(e.detail, sizeof(e.detail), detail ? detail : "");
        e.ok = r >= 0;
        if (r < 0)
                str_copy(e.error, sizeof(e.error), err->data);
        /* The action is done (or refused) either way; a lost audit line is reported, not fatal. */
        if (audit_append(c, &e) < 0)
                fprintf(stderr, "deployex: warning: cannot append to the audit log under '%s/state'\n",
                        c->var_path);
        return r;
}

/* What to do about a permission error, after its strerror(). */
static const char *override_hint(int r)
{
        if (r != -EACCES && r != -EPERM)
                return "";
        return override_group() == (gid_t)-1
                       ? "; overrides are written by root (create group " OVERRIDE_GROUP
                         " for operators)"
                       : "; overrides are written by root and members of group " OVERRIDE_GROUP;
}

/*
 * The overrides directory, made as DESIGN §8 has it when missing: 2770
 * root:deployex (when the group exists), so that every operator's file is the
 * group's and the daemon accepts it.
 */
static int ensure_overrides_dir(const char *path)
{
        gid_t group = override_group();
        struct stat st;
        int r;

        if (stat(path, &st) == 0)
                return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        /* Missing parents (/etc/deployex) are 0755: others read the configuration there. */
        if ((r = mkdir_p_parents(path, 0755, 0750)) < 0)
                return r;
        if (group != (gid_t)-1 && (chown(path, (uid_t)-1, group) < 0 || chmod(path, 02770) < 0))
                return -errno;
        return 0;
}

typedef int (*override_edit_fn)(const struct app_config *app, struct override *o, const void *arg,
                                struct buf *err);

static int edit_override(const struct config *c, const struct app_config *app,
                         override_edit_fn edit, const void *arg, struct buf *msg, struct buf *err)
{
        struct override o;
        struct buf path = BUF_INIT, lerr = BUF_INIT, text = BUF_INIT;
        int r, lock = -1;

        memset(&o, 0, sizeof(o));
        if ((r = ensure_overrides_dir(c->overrides_path)) < 0) {
                buf_printf(err, "cannot create '%s': %s%s", c->overrides_path, strerror(-r),
                           override_hint(r));
                goto out;
        }
        path_override(c, app->name, &path);
        if ((lock = file_lock(path.data)) < 0) {
                r = lock;
                buf_printf(err, "cannot lock '%s.lock': %s%s", path.data, strerror(-r),
                           override_hint(r));
                goto out;
        }
        r = override_load(path.data, &o, &lerr);
        if (r < 0 && r != -ENOENT) {
                buf_printf(err, "%s; fix or remove the file first", lerr.data);
                goto out;
        }
        if ((r = edit(app, &o, arg, err)) < 0)
                goto out;
        if ((r = override_save(path.data, &o)) < 0) {
                buf_printf(err, "cannot write '%s': %s%s", path.data, strerror(-r),
                           override_hint(r));
                goto out;
        }
        override_to_json(&o, &text);
        buf_printf(msg, "%s: %s", path.data, text.data);
        r = 0;
out:
        file_unlock(lock);
        override_release(&o);
        buf_release(&path);
        buf_release(&lerr);
        buf_release(&text);
        return r;
}

/* --- pin / unpin --- */

static int edit_pin(const struct app_config *app, struct override *o, const void *arg,
                    struct buf *err)
{
        (void)app;
        (void)err;
        str_copy(o->version, sizeof(o->version), arg);
        return 0;
}

/* A pin to a ghosted version is written (the operator asked) but will be refused: say so. */
static void warn_if_ghosted(const struct config *c, const struct app_config *app,
                            const char *version, struct buf *err)
{
        struct ghost_list ghosts;
        struct buf path = BUF_INIT, lerr = BUF_INIT;
        const struct ghost *g;

        memset(&ghosts, 0, sizeof(ghosts));
        path_ghosts(c, app->name, &path);
        if (ghosts_load(path.data, &ghosts, &lerr) == 0 && (g = ghosts_find(&ghosts, version)))
                buf_printf(err,
                           "warning: %s %s is ghosted (%s); the pin is refused until "
                           "'deployex unghost %s %s'",
                           app->name, version, g->reason, app->name, version);
        ghosts_release(&ghosts);
        buf_release(&path);
        buf_release(&lerr);
}

/*
 * A pin must name something that can run: not a ghosted version, and one
 * the source publishes (its tarball is there, or already in this host's
 * cache).  0, or -errno with one line in err.
 */
static int pin_check(const struct config *c, const struct app_config *app, const char *version,
                     struct buf *err)
{
        struct buf path = BUF_INIT, lerr = BUF_INIT;
        struct ghost_list ghosts;
        struct source *src = NULL;
        const struct ghost *g;
        int r, fd;

        memset(&ghosts, 0, sizeof(ghosts));
        path_ghosts(c, app->name, &path);
        if (ghosts_load(path.data, &ghosts, &lerr) == 0 && (g = ghosts_find(&ghosts, version))) {
                buf_printf(err, "%s %s is ghosted (%s); 'deployex unghost %s %s' first, or pin "
                           "with --force", app->name, version, g->reason, app->name, version);
                r = -EINVAL;
                goto out;
        }
        path_cache_file(c, app->name, version, &path);
        if (access(path.data, F_OK) == 0) {
                r = 0;
                goto out;
        }
        buf_reset(&lerr);
        if ((r = source_open(c, &src, &lerr)) < 0) {
                buf_printf(err, "cannot check that %s %s is published: %s; pin with --force to "
                           "skip the check", app->name, version, lerr.data);
                goto out;
        }
        /* Existence only: one byte is enough (-EFBIG means there is more). */
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : source_get_release(src, app->name, version, fd, 1, &lerr);
        if (fd >= 0)
                close(fd);
        if (r == 0 || r == -EFBIG) {
                r = 0;
        } else if (r == -ENOENT) {
                r = -EINVAL; /* a refusal, like a ghost: the caller's request is at fault */
                buf_printf(err, "%s %s is not published (no dist/%s/%s-%s.tar.gz in %s); publish "
                           "it first, or pin with --force", app->name, version, app->name,
                           app->name, version, c->source);
        } else {
                buf_printf(err, "cannot check that %s %s is published: %s; pin with --force to "
                           "skip the check", app->name, version,
                           lerr.len ? lerr.data : strerror(-r));
        }
out:
        source_free(src);
        ghosts_release(&ghosts);
        buf_release(&path);
        buf_release(&lerr);
        return r;
}

int action_pin(const struct config *c, const struct app_config *app, const char *version,
               bool force, const struct action_origin *o, struct buf *msg, struct buf *err)
{
        int r;

        if (!version || !version_is_valid(version)) {
                buf_printf(err, "'%s' is not a version ([A-Za-z0-9._+-]{1,64})",
                           version ? version : "");
                return audit(c, o, "pin", app->name, version, -EINVAL, err);
        }
        if (!force && (r = pin_check(c, app, version, err)) < 0)
                return audit(c, o, "pin", app->name, version, r, err);
        r = edit_override(c, app, edit_pin, version, msg, err);
        if (r == 0)
                warn_if_ghosted(c, app, version, err);
        return audit(c, o, "pin", app->name, version, r, err);
}

static int edit_unpin(const struct app_config *app, struct override *o, const void *arg,
                      struct buf *err)
{
        (void)app;
        (void)arg;
        (void)err;
        o->version[0] = '\0';
        return 0;
}

int action_unpin(const struct config *c, const struct app_config *app,
                 const struct action_origin *o, struct buf *msg, struct buf *err)
{
        return audit(c, o, "unpin", app->name, NULL,
                     edit_override(c, app, edit_unpin, NULL, msg, err), err);
}

/* --- pause / resume --- */

static int edit_paused(const struct app_config *app, struct override *o, const void *arg,
                       struct buf *err)
{
        (void)app;
        (void)err;
        o->paused = *(const bool *)arg;
        return 0;
}

int action_pause(const struct config *c, const struct app_config *app, bool paused,
                 const struct action_origin *o, struct buf *msg, struct buf *err)
{
        return audit(c, o, paused ? "pause" : "resume", app->name, NULL,
                     edit_override(c, app, edit_paused, &paused, msg, err), err);
}

/* --- restart --- */

struct restart_arg {
        int instance; /* 0 = all, rolling */
        char token[TOKEN_MAX + 1];
};

static int edit_restart(const struct app_config *app, struct override *o, const void *arg,
                        struct buf *err)
{
        const struct restart_arg *a = arg;

        if (a->instance == 0) {
                str_copy(o->restart, sizeof(o->restart), a->token);
                return 0;
        }
        if (a->instance < 1 || a->instance > app->replicas) {
                buf_printf(err, "%s has %d replica%s; no instance %d", app->name, app->replicas,
                           app->replicas == 1 ? "" : "s", a->instance);
                return -EINVAL;
        }
        override_set_instance_token(o, a->instance, a->token);
        return 0;
}

int action_restart(const struct config *c, const struct app_config *app, int instance,
                   const struct action_origin *o, struct buf *msg, struct buf *err)
{
        static unsigned seq;
        struct restart_arg a = { instance, "" };
        char at[32], detail[16] = "";

        /* A token that is new every time: the time, the pid, a counter for the same second. */
        time_format_iso(time_now_ms(), at, sizeof(at));
        snprintf(a.token, sizeof(a.token), "%s-%d-%u", at, (int)getpid(), ++seq);
        if (instance)
                snprintf(detail, sizeof(detail), "%d", instance);
        return audit(c, o, "restart", app->name, detail,
                     edit_override(c, app, edit_restart, &a, msg, err), err);
}

/* --- unghost --- */

/* Ghosts are the daemon's state (var_path is 2750 root:deployex): group members only read it. */
static const char *unghost_hint(int r)
{
        return r == -EACCES || r == -EPERM ? "; unghost changes the daemon's state: run it as root"
                                           : "";
}

int action_unghost(const struct config *c, const struct app_config *app, const char *version,
                   const struct action_origin *o, struct buf *msg, struct buf *err)
{
        struct ghost_list l;
        struct buf path = BUF_INIT, dir = BUF_INIT, lerr = BUF_INIT;
        const char *detail = version ? version : "all";
        int r, lock = -1;

        memset(&l, 0, sizeof(l));
        path_state_dir(c, app->name, &dir);
        path_ghosts(c, app->name, &path);
        if ((r = mkdir_p(dir.data, 0750)) < 0 || (r = lock = file_lock(path.data)) < 0) {
                buf_printf(err, "cannot lock '%s': %s%s", path.data, strerror(-r), unghost_hint(r));
                goto out;
        }
        if ((r = ghosts_load(path.data, &l, &lerr)) < 0) {
                buf_puts(err, lerr.data);
                goto out;
        }
        if (!version) {
                l.n = 0;
        } else if (!ghosts_remove(&l, version)) {
                buf_printf(err, "%s %s is not ghosted (see 'deployex ghosts %s')", app->name,
                           version, app->name);
                r = -EINVAL;
                goto out;
        }
        if ((r = ghosts_save(path.data, &l)) < 0) {
                buf_printf(err, "cannot write '%s': %s%s", path.data, strerror(-r), unghost_hint(r));
                goto out;
        }
        buf_printf(msg, "%s: unghosted %s", app->name, version ? version : "every version");
        r = 0;
out:
        file_unlock(lock);
        ghosts_release(&l);
        buf_release(&path);
        buf_release(&dir);
        buf_release(&lerr);
        return audit(c, o, "unghost", app->name, detail, r, err);
}
