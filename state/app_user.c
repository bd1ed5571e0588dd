/*
 * app_user: resolving an app's user and group, and the root rule.  See
 * app_user.h.
 */
#include "state/app_user.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/paths.h"
#include "base/banned.h"

#define NSS_BUF_MAX (1024 * 1024)

/* getpwnam_r with a buffer that grows: 0, -ENOENT for no such user, or -errno. */
static int lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_gid)
{
        struct passwd pw, *res = NULL;
        size_t size = 1024;
        int r;

        for (;;) {
                char *b = xmalloc(size);
                r = getpwnam_r(name, &pw, b, size, &res);
                if (r == 0 && res) {
                        *ret_uid = pw.pw_uid;
                        *ret_gid = pw.pw_gid;
                }
                free(b);
                if (r != ERANGE || size >= NSS_BUF_MAX)
                        break;
                size *= 2;
        }
        if (r)
                return -r;
        return res ? 0 : -ENOENT;
}

static int lookup_group(const char *name, gid_t *ret_gid)
{
        struct group gr, *res = NULL;
        size_t size = 1024;
        int r;

        for (;;) {
                char *b = xmalloc(size);
                r = getgrnam_r(name, &gr, b, size, &res);
                if (r == 0 && res)
                        *ret_gid = gr.gr_gid;
                free(b);
                if (r != ERANGE || size >= NSS_BUF_MAX)
                        break;
                size *= 2;
        }
        if (r)
                return -r;
        return res ? 0 : -ENOENT;
}

static int resolve_app(const struct config *c, size_t i, struct app_config *app, struct buf *err)
{
        struct proc_ids ids;
        gid_t primary = 0;
        int n, r;

        memset(&ids, 0, sizeof(ids));
        r = lookup_user(app->user, &ids.uid, &primary);
        if (r < 0) {
                buf_printf(err, "%s: apps[%zu].user: %s '%s'%s\n", c->origin, i,
                           r == -ENOENT ? "no such user" : "cannot look up user", app->user,
                           r == -ENOENT ? "; create it (useradd --system) or fix the name" : "");
                return -EINVAL;
        }
        ids.gid = primary;
        if (app->group && (r = lookup_group(app->group, &ids.gid)) < 0) {
                buf_printf(err, "%s: apps[%zu].group: %s '%s'%s\n", c->origin, i,
                           r == -ENOENT ? "no such group" : "cannot look up group", app->group,
                           r == -ENOENT ? "; create it (groupadd --system) or fix the name" : "");
                return -EINVAL;
        }
        /* "user": "root" on purpose: the daemon's own identity, nothing to drop. */
        if (ids.uid == 0 && ids.gid == 0)
                return 0;
        n = PROC_IDS_GROUPS_MAX;
        if (getgrouplist(app->user, ids.gid, ids.groups, &n) < 0)
                n = PROC_IDS_GROUPS_MAX; /* more than we keep: the first ones */
        ids.ngroups = (size_t)n;
        app->ids = xmalloc(sizeof(ids));
        memcpy(app->ids, &ids, sizeof(ids));
        return 0;
}

int app_user_resolve(const struct config *c, struct app_config *app, struct buf *err)
{
        free(app->ids);
        app->ids = NULL;
        if (!app->user)
                return 0;
        return resolve_app(c, (size_t)(app - c->apps), app, err);
}

int app_user_for_daemon(struct config *c, struct buf *err)
{
        uid_t me = geteuid();
        int r = 0;

        if (me == 0)
                return 0;
        for (size_t i = 0; i < c->napps; i++) {
                struct app_config *app = &c->apps[i];

                if (!app->ids)
                        continue;
                if (app->ids->uid == me) {
                        free(app->ids); /* its own user: nothing to change */
                        app->ids = NULL;
                        continue;
                }
                buf_printf(err, "%s: apps[%zu].user: deployex runs as uid %u, not root: it cannot "
                           "run %s as '%s'; run it as root or remove user\n", c->origin, i,
                           (unsigned)me, app->name, app->user);
                r = -EPERM;
        }
        return r;
}

int config_resolve_users(struct config *c, struct buf *err)
{
        int r = 0;

        for (size_t i = 0; i < c->napps; i++) {
                struct app_config *app = &c->apps[i];

                free(app->ids);
                app->ids = NULL;
                if (app->user && resolve_app(c, i, app, err) < 0)
                        r = -EINVAL;
        }
        return r;
}

unsigned config_check_users(const struct config *c, bool daemon_is_root, struct buf *problems,
                            struct buf *warnings)
{
        bool env_mode = c->origin && strcmp(c->origin, "environment") == 0;
        unsigned n = 0;

        if (!daemon_is_root)
                return 0;
        for (size_t i = 0; i < c->napps; i++) {
                const struct app_config *app = &c->apps[i];

                if (app->user)
                        continue;
                if (env_mode) {
                        buf_printf(warnings, "%s: app %s runs as root (environment mode has no "
                                   "user setting; a configuration file with apps[].user runs it "
                                   "unprivileged)\n", c->origin, app->name);
                        continue;
                }
                buf_printf(problems, "%s: apps[%zu].user: required when deployex runs as root: "
                           "name the user %s runs as (e.g. \"user\": \"%s\", created with "
                           "useradd --system), or \"user\": \"root\" to run it as root on purpose\n",
                           c->origin, i, app->name, app->name);
                n++;
        }
        return n;
}

int app_user_chown(const struct app_config *app, const char *path)
{
        if (!app->ids)
                return 0;
        if (fchownat(AT_FDCWD, path, app->ids->uid, app->ids->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 0;
}

int app_user_let_through(const char *dir)
{
        struct stat st;

        if (lstat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if ((st.st_mode & 0001) == 0 && chmod(dir, (st.st_mode & 07777) | 0111) < 0)
                return -errno;
        return 0;
}

int app_user_own_tree(const struct config *c, const struct app_config *app, int n)
{
        struct buf path = BUF_INIT;
        int r;

        if (!app->ids)
                return 0;
        path_service_dir(c, app->name, n, &path);
        if ((r = mkdir_p(path.data, 0700)) < 0)
                goto out;
        if ((r = app_user_let_through(c->var_path)) < 0)
                goto out;
        buf_reset(&path);
        path_service_root(c, &path);
        if ((r = app_user_let_through(path.data)) < 0)
                goto out;
        /*
         * service/{app} stays root's (0711): were it the user's, a compromised
         * instance could swap {n} for a symlink and steer the daemon's removals
         * and renames below it anywhere.  Inside {n} the daemon never follows one.
         */
        buf_puts(&path, app->name);
        if (fchownat(AT_FDCWD, path.data, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 || chmod(path.data, 0711) < 0) {
                r = -errno;
                goto out;
        }
        path_service_dir(c, app->name, n, &path);
        r = app_user_chown(app, path.data);
out:
        buf_release(&path);
        return r;
}

static int share(const char *path, gid_t gid, mode_t mode)
{
        if (fchownat(AT_FDCWD, path, 0, gid, AT_SYMLINK_NOFOLLOW) < 0 || chmod(path, mode) < 0)
                return -errno;
        return 0;
}

int app_user_share_cache_file(const struct config *c, const struct app_config *app,
                              const char *path)
{
        struct buf dir = BUF_INIT;
        const char *slash;
        int r;

        if (!app->ids)
                return 0;
        slash = strrchr(path, '/');
        if (!slash || slash == path)
                return -EINVAL;
        buf_append(&dir, path, (size_t)(slash - path));
        if ((r = app_user_let_through(c->var_path)) < 0)
                goto out;
        /* {var_path}/cache/{app}/file: the cache root is the directory above. */
        slash = strrchr(dir.data, '/');
        if (slash && slash != dir.data) {
                struct buf root = BUF_INIT;
                buf_append(&root, dir.data, (size_t)(slash - dir.data));
                r = app_user_let_through(root.data);
                buf_release(&root);
                if (r < 0)
                        goto out;
        }
        if ((r = share(dir.data, app->ids->gid, 0750)) < 0)
                goto out;
        r = share(path, app->ids->gid, 0640);
out:
        buf_release(&dir);
        return r;
}

int app_user_become(const struct app_config *app, struct buf *err)
{
        int r;

        if (!app->ids || geteuid() != 0)
                return 0;
        r = ids_drop(app->ids);
        if (r < 0)
                buf_printf(err, "cannot become user %s (uid %u, gid %u): %s", app->user,
                           (unsigned)app->ids->uid, (unsigned)app->ids->gid, strerror(-r));
        return r;
}

bool app_user_can_read(const struct app_config *app, const char *path)
{
        int status = 0;
        pid_t pid;

        if (!app->ids || geteuid() != 0)
                return true;
        pid = fork();
        if (pid < 0)
                return true; /* cannot tell: the VM will say */
        if (pid == 0) {
                int fd;

                if (ids_drop(app->ids) < 0)
                        _exit(2);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                _exit(fd >= 0 ? 0 : 1);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
