/*
 * cgroup: each instance in a cgroup v2 of its own, where the daemon can
 * write the hierarchy it runs in (DESIGN §8, docs/daemon.md "CGROUPS").
 *
 *     {mount}{the daemon's cgroup}/deployex-{hash of var_path}/{app}-{n}[-b]
 *
 * The instance's first process is created in it (spawn.h cgroup), so
 * everything it starts -- a setsid() daemon, a child that cleared its
 * environment -- is inside.  When the instance's process is
 * gone, cgroup.kill ends what is left.  The app's limits become memory.max
 * and pids.max where those controllers are available.  Without a writable
 * cgroup v2 hierarchy the subreaper and the environment marker
 * (supervisor.c) are what catch escapees.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/daemon/runtime.h"
#include "reconciler/daemon/instances.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/banned.h"

/* The mount point of the cgroup2 file system (/proc/self/mountinfo), into out. */
static bool cgroup2_mount(struct buf *out)
{
        struct buf info = BUF_INIT;
        bool found = false;

        if (file_read_all("/proc/self/mountinfo", 4 * 1024 * 1024, &info) < 0)
                goto out;
        for (char *line = info.data; line && *line && !found;) {
                char *next = strchr(line, '\n');
                char *sep, *f[5] = { NULL };
                char *save = NULL, *tok;
                int n = 0;

                if (next)
                        *next++ = '\0';
                sep = strstr(line, " - ");
                if (sep && strncmp(sep + 3, "cgroup2 ", 8) == 0) {
                        *sep = '\0';
                        for (tok = strtok_r(line, " ", &save); tok && n < 5;
                             tok = strtok_r(NULL, " ", &save))
                                f[n++] = tok;
                        /* Field 5 is the mount point (octal escapes: none in sane ones). */
                        if (n == 5 && !strchr(f[4], '\\')) {
                                buf_puts(out, f[4]);
                                found = true;
                        }
                }
                line = next;
        }
out:
        buf_release(&info);
        return found;
}

/* The daemon's own cgroup v2 path ("0::/PATH" in /proc/self/cgroup), into out. */
static bool own_cgroup(struct buf *out)
{
        struct buf text = BUF_INIT;
        bool found = false;

        if (file_read_all("/proc/self/cgroup", 65536, &text) == 0) {
                for (char *line = text.data; line && *line;) {
                        char *next = strchr(line, '\n');
                        if (next)
                                *next++ = '\0';
                        if (strncmp(line, "0::/", 4) == 0) {
                                buf_puts(out, line + 3);
                                found = true;
                                break;
                        }
                        line = next;
                }
        }
        buf_release(&text);
        return found;
}

static int write_text(const char *dir, const char *file, const char *text)
{
        struct buf path = BUF_INIT;
        int fd, r = 0;

        buf_printf(&path, "%s/%s", dir, file);
        fd = open(path.data, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, text, strlen(text)) < 0)
                r = -errno;
        if (fd >= 0)
                close(fd);
        buf_release(&path);
        return r;
}

static bool has_controller(const char *dir, const char *name)
{
        struct buf path = BUF_INIT, text = BUF_INIT;
        bool r = false;

        buf_printf(&path, "%s/cgroup.controllers", dir);
        if (file_read_all(path.data, 4096, &text) == 0)
                for (char *save = NULL, *tok = strtok_r(text.data, " \n", &save); tok && !r;
                     tok = strtok_r(NULL, " \n", &save))
                        r = strcmp(tok, name) == 0;
        buf_release(&path);
        buf_release(&text);
        return r;
}

/* memory and pids for the instances' cgroups, where the parent has them. */
static void enable_controllers(struct runtime *rt, const char *parent)
{
        static const char *const names[] = { "memory", "pids" };

        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                char plus[16];
                if (!has_controller(parent, names[i]))
                        continue;
                snprintf(plus, sizeof(plus), "+%s", names[i]);
                /*
                 * EBUSY: a cgroup with processes cannot hand controllers down
                 * (systemd's Delegate=yes puts the daemon in one).  The daemon
                 * moves itself into a leaf beside its instances and tries again.
                 */
                if (write_text(parent, "cgroup.subtree_control", plus) == -EBUSY) {
                        struct buf leaf = BUF_INIT;
                        buf_printf(&leaf, "%s-daemon", rt->cgroup_root);
                        if ((mkdir(leaf.data, 0755) == 0 || errno == EEXIST) &&
                            write_text(leaf.data, "cgroup.procs", "0") == 0)
                                (void)write_text(parent, "cgroup.subtree_control", plus);
                        buf_release(&leaf);
                }
                (void)write_text(rt->cgroup_root, "cgroup.subtree_control", plus);
        }
        rt->cgroup_memory = has_controller(rt->cgroup_root, "memory");
        rt->cgroup_pids = has_controller(rt->cgroup_root, "pids");
}

void cgroups_init(struct runtime *rt)
{
        struct buf mount = BUF_INIT, own = BUF_INIT, parent = BUF_INIT, root = BUF_INIT;
        uint64_t h = 1469598103934665603ULL; /* FNV-1a: one root per var_path on a host */

        free(rt->cgroup_root);
        rt->cgroup_root = NULL;
        if (!cgroup2_mount(&mount) || !own_cgroup(&own)) {
                log_info("no cgroup v2 hierarchy: escaped processes are found by their "
                         "instance's marker (docs/daemon.md CGROUPS); limits do not apply");
                goto out;
        }
        buf_printf(&parent, "%s%s", mount.data, strcmp(own.data, "/") == 0 ? "" : own.data);
        for (const char *p = rt->cfg->var_path; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        buf_printf(&root, "%s/deployex-%016llx", parent.data, (unsigned long long)h);
        if (mkdir(root.data, 0755) < 0 && errno != EEXIST) {
                log_info("cannot create the cgroup '%s': %s; escaped processes are found by "
                         "their instance's marker (docs/daemon.md CGROUPS); limits do not apply",
                         root.data, strerror(errno));
                goto out;
        }
        rt->cgroup_root = buf_detach(&root);
        enable_controllers(rt, parent.data);
        log_info("instances run in cgroups under '%s' (memory.max: %s, pids.max: %s)",
                 rt->cgroup_root, rt->cgroup_memory ? "yes" : "no controller",
                 rt->cgroup_pids ? "yes" : "no controller");
out:
        buf_release(&mount);
        buf_release(&own);
        buf_release(&parent);
        buf_release(&root);
}

/*
 * An instance's two cgroups, {app}-{n} and {app}-{n}-b: a start takes the
 * first it can make afresh (cgroup_prepare), so that what a crash left dying
 * in one does not slow the restart down.
 */
enum { CGROUP_NONE, CGROUP_A, CGROUP_B }; /* instance_rt.cgroup_cur, _old, _spare */

static void instance_dir(struct runtime *rt, struct instance_rt *in, int which, struct buf *out)
{
        buf_reset(out);
        buf_printf(out, "%s/%s-%d%s", rt->cgroup_root, in->app->name, in->rec.instance,
                   which == CGROUP_B ? "-b" : "");
}

/* Make path for this start: 0 and *fresh (removed first when it was left empty), or an errno. */
static int make_fresh(const char *path, bool *fresh)
{
        *fresh = false;
        if (mkdir(path, 0755) == 0) {
                *fresh = true;
                return 0;
        }
        if (errno != EEXIST)
                return errno;
        /* Busy (EBUSY): what was killed in it is still exiting. */
        if (rmdir(path) < 0)
                return 0;
        if (mkdir(path, 0755) == 0)
                *fresh = true;
        return *fresh || errno == EEXIST ? 0 : errno;
}

/* memory.max and pids.max from the app's limits ("max" when unset: a limit removed goes). */
static void apply_limits(struct runtime *rt, struct instance_rt *in, const char *dir)
{
        const struct app_config *c = in->app->cfg;
        char text[32];
        bool missing = false;

        if (rt->cgroup_memory) {
                if (c->limit_memory_bytes)
                        snprintf(text, sizeof(text), "%llu", (unsigned long long)c->limit_memory_bytes);
                else
                        str_copy(text, sizeof(text), "max");
                if (write_text(dir, "memory.max", text) < 0)
                        missing = c->limit_memory_bytes != 0;
        } else if (c->limit_memory_bytes) {
                missing = true;
        }
        if (rt->cgroup_pids) {
                if (c->limit_tasks)
                        snprintf(text, sizeof(text), "%llu", (unsigned long long)c->limit_tasks);
                else
                        str_copy(text, sizeof(text), "max");
                if (write_text(dir, "pids.max", text) < 0)
                        missing = missing || c->limit_tasks != 0;
        } else if (c->limit_tasks) {
                missing = true;
        }
        if (missing && !in->app->limits_warned) {
                in->app->limits_warned = true;
                log_warn("app=%s: its limits cannot apply: %s", in->app->name,
                         rt->cgroup_root ? "the memory or pids controller is not enabled for "
                                          "deployex's cgroup (delegate them)"
                                        : "no writable cgroup v2 hierarchy");
        }
}

static void empty_old(struct runtime *rt, struct instance_rt *in);

bool cgroup_prepare(struct runtime *rt, struct instance_rt *in, struct buf *path)
{
        bool fresh = false;
        int err = 0;

        if (!rt->cgroup_root) {
                apply_limits(rt, in, NULL);
                return false;
        }
        in->cgroup_settle_pending = true;
        /* The spare, made afresh after the last start (cgroup_settle): no mkdir on this path. */
        if (in->cgroup_spare != CGROUP_NONE && in->cgroup_spare != in->cgroup_old) {
                in->cgroup_cur = in->cgroup_spare;
                in->cgroup_spare = CGROUP_NONE;
                instance_dir(rt, in, in->cgroup_cur, path);
                apply_limits(rt, in, path->data);
                return true;
        }
        /*
         * A cgroup made for this start: the child is created inside it.  One
         * left from before may have been through cgroup.kill (cgroup_kill:
         * removing it failed while its processes died), and Linux kills every
         * child created inside such a cgroup: the other one then, and when
         * neither can be made afresh, the child joins the first by migration
         * (spawn.h).  A crashed process's cgroup not settled yet is emptied
         * first: the start may join it, and cgroup_settle would then kill the
         * start with what the crash left there.
         */
        empty_old(rt, in);
        in->cgroup_cur = CGROUP_NONE;
        for (int which = CGROUP_A; which <= CGROUP_B && !fresh && !err; which++) {
                instance_dir(rt, in, which, path);
                err = make_fresh(path->data, &fresh);
                if (fresh)
                        in->cgroup_cur = (unsigned char)which;
        }
        if (!fresh && !err)
                instance_dir(rt, in, CGROUP_A, path);
        if (err) {
                log_inst(LOG_WARN, in, "cannot create its cgroup '%s': %s; started outside one",
                         path->data, strerror(err));
                return false;
        }
        apply_limits(rt, in, path->data);
        if (!fresh)
                buf_puts(path, "/cgroup.procs");
        return true;
}

/* The processes in a cgroup (its cgroup.procs), into pids: their count, or -errno. */
static int cgroup_pids(const char *dir, pid_t *pids, int max)
{
        struct buf path = BUF_INIT, text = BUF_INIT;
        int n = 0, r;

        buf_printf(&path, "%s/cgroup.procs", dir);
        r = file_read_all(path.data, 1024 * 1024, &text);
        if (r < 0)
                n = r;
        else
                for (char *save = NULL, *tok = strtok_r(text.data, "\n", &save); tok && n < max;
                     tok = strtok_r(NULL, "\n", &save)) {
                        int pid;
                        if (parse_int(tok, &pid) == 0 && pid > 0)
                                pids[n++] = (pid_t)pid;
                }
        buf_release(&path);
        buf_release(&text);
        return n;
}

/* Kill what is left in one of the instance's cgroups, then remove it. */
static void empty_and_remove(struct runtime *rt, struct instance_rt *in, int which)
{
        struct buf dir = BUF_INIT;
        pid_t pids[256];
        int n;

        instance_dir(rt, in, which, &dir);
        n = cgroup_pids(dir.data, pids, (int)ARRAY_SIZE(pids));
        if (n > 0) {
                /* cgroup.kill (Linux 5.14) takes every process, even one forking now. */
                if (write_text(dir.data, "cgroup.kill", "1") < 0)
                        for (int i = 0; i < n; i++)
                                (void)kill(pids[i], SIGKILL);
                log_inst(LOG_WARN, in, "killed %d process%s left in its cgroup", n,
                         n == 1 ? "" : "es");
        }
        /* Busy while the killed ones die: the next start takes the other one. */
        if (n != -ENOENT)
                (void)rmdir(dir.data);
        buf_release(&dir);
}

/* The cgroup a crashed process ran in, if one waits: emptied and removed now. */
static void empty_old(struct runtime *rt, struct instance_rt *in)
{
        if (in->cgroup_old != CGROUP_NONE)
                empty_and_remove(rt, in, in->cgroup_old);
        in->cgroup_old = CGROUP_NONE;
}

static int other_cgroup(int which)
{
        return which == CGROUP_A ? CGROUP_B : CGROUP_A;
}

void cgroup_kill(struct runtime *rt, struct instance_rt *in, bool crash)
{
        if (!rt->cgroup_root)
                return;
        /*
         * A crash of a process created in a known cgroup: the replacement
         * goes into the spare, so its old cgroup can wait (cgroup_settle).
         */
        if (crash && in->cgroup_cur != CGROUP_NONE) {
                /*
                 * The replacement crashed before it was seen to execute (its
                 * exec and its exit read in one wake-up): the cgroup of the
                 * crash before was never settled, and forgetting it would
                 * leave what that crash left there running.
                 */
                empty_old(rt, in);
                in->cgroup_old = in->cgroup_cur;
                in->cgroup_cur = CGROUP_NONE;
                in->cgroup_settle_pending = true;
                return;
        }
        /* Both but the spare: the process ran in one, what an earlier one left may be in the other. */
        for (int which = CGROUP_A; which <= CGROUP_B; which++)
                if (which != in->cgroup_spare)
                        empty_and_remove(rt, in, which);
        in->cgroup_cur = in->cgroup_old = CGROUP_NONE;
}

void cgroup_settle(struct runtime *rt, struct instance_rt *in)
{
        struct buf dir = BUF_INIT;
        int other;

        if (!in->cgroup_settle_pending)
                return;
        in->cgroup_settle_pending = false;
        if (!rt->cgroup_root)
                return;
        empty_old(rt, in);
        if (in->cgroup_spare != CGROUP_NONE || in->cgroup_cur == CGROUP_NONE)
                return;
        /*
         * The spare: the other cgroup, made afresh now (a cgroup's rmdir and
         * mkdir are about 36 us, kept off the next crash restart).  Only one
         * that could be removed: one still busy may have been through
         * cgroup.kill, and a child created in it would be killed.
         */
        other = other_cgroup(in->cgroup_cur);
        instance_dir(rt, in, other, &dir);
        if ((rmdir(dir.data) == 0 || errno == ENOENT) && mkdir(dir.data, 0755) == 0)
                in->cgroup_spare = (unsigned char)other;
        buf_release(&dir);
}

void cgroup_adopt(struct runtime *rt, struct instance_rt *in)
{
        struct buf dir = BUF_INIT;
        pid_t pids[256];

        if (!rt->cgroup_root || in->rec.pid <= 0)
                return;
        for (int which = CGROUP_A; which <= CGROUP_B && in->cgroup_cur == CGROUP_NONE; which++) {
                instance_dir(rt, in, which, &dir);
                int n = cgroup_pids(dir.data, pids, (int)ARRAY_SIZE(pids));
                for (int i = 0; i < n; i++)
                        if (pids[i] == in->rec.pid)
                                in->cgroup_cur = (unsigned char)which;
        }
        /*
         * The other one may hold what a crash left (the daemon died before it
         * settled it, cgroup_settle): emptied and removed, then made the spare.
         */
        if (in->cgroup_cur != CGROUP_NONE) {
                in->cgroup_old = other_cgroup(in->cgroup_cur);
                in->cgroup_settle_pending = true;
        }
        buf_release(&dir);
}

void cgroup_release(struct runtime *rt, struct instance_rt *in)
{
        struct buf dir = BUF_INIT;

        if (!rt->cgroup_root)
                return;
        /* What a crash just before left there: nothing settles it once the instance is gone. */
        empty_old(rt, in);
        if (in->cgroup_spare != CGROUP_NONE) {
                instance_dir(rt, in, in->cgroup_spare, &dir);
                (void)rmdir(dir.data);
        }
        in->cgroup_spare = CGROUP_NONE;
        buf_release(&dir);
}

void cgroups_remove(struct runtime *rt)
{
        struct buf path = BUF_INIT;
        DIR *dir;
        struct dirent *e;

        if (!rt->cgroup_root || !(dir = opendir(rt->cgroup_root)))
                return;
        /* Only empty cgroups can go: one still holding a process stays, as it must. */
        while ((e = readdir(dir)))
                if (e->d_type == DT_DIR && e->d_name[0] != '.') {
                        buf_reset(&path);
                        buf_printf(&path, "%s/%s", rt->cgroup_root, e->d_name);
                        (void)rmdir(path.data);
                }
        closedir(dir);
        (void)rmdir(rt->cgroup_root);
        buf_release(&path);
}
