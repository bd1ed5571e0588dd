/*
 * unpack: hostile-tarball-proof extraction (see unpack.h for the rules).
 *
 * libarchive only parses; every byte is written here, through descriptors
 * opened one path component at a time with O_NOFOLLOW under a temporary root,
 * so no path -- whatever links earlier members created -- can lead outside
 * it.  Directory modes and mtimes are applied at the end (children first):
 * a read-only directory must not stop its own members from being written, and
 * writing a member changes its directory's mtime.
 *
 * Decompression runs in a thread of its own feeding the tar parser through a
 * pipe, as `tar xzf` does with a gzip process: on two cores inflating and
 * writing thousands of small files overlap.  The thread also reads the gzip
 * stream to its very end, so a damaged trailer (CRC, length) is caught even
 * though the tar parser stops at its end-of-archive blocks.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/jobs/unpack.h"
#include "base/fsutil.h"
#include "base/banned.h"

#define READ_BLOCK (1024 * 1024)
#define PIPE_SIZE (1024 * 1024)
#define SYMLINK_HOPS_MAX 40 /* as the kernel's MAXSYMLINKS */
#define NAME_SHOWN_MAX 200  /* member names are cut in messages beyond this */

struct dir_fix {
        char *path;          /* relative to the root; "" is the root itself */
        size_t depth;        /* number of components */
        size_t seq;          /* later entries for the same path win */
        mode_t mode;
        bool has_mtime;
        struct timespec mtime;
};

struct unpacker {
        const char *tarball;
        struct archive *a;
        int rootfd;
        uint64_t max_bytes;
        uint64_t total;        /* file bytes written so far (holes included) */
        size_t entries;
        const char *raw_name;  /* the member at hand, as the archive names it */
        struct buf member;     /* ... and normalised: "a/b/c", "" for the root */
        struct buf cache_dir;  /* the directory cache_fd is open on */
        int cache_fd;          /* -1 when none */
        struct dir_fix *dirs;
        size_t ndirs, dirs_cap;
        char **links;          /* symlink members, checked again at the end */
        size_t nlinks, links_cap;
        struct buf *err;
};

/* A member name fit for a one-line message: control bytes escaped, cut when huge. */
static void put_name(struct buf *out, const char *name)
{
        size_t i;

        for (i = 0; i < NAME_SHOWN_MAX && name[i]; i++) {
                unsigned char ch = (unsigned char)name[i];

                if (ch < 0x20 || ch == 0x7f || ch == '\\' || ch == '\'')
                        buf_printf(out, "\\x%02x", ch);
                else
                        buf_putc(out, (char)ch);
        }
        if (name[i])
                buf_puts(out, "...");
}

static int fail_at(struct unpacker *u, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(struct unpacker *u, int r, const char *fmt, ...)
{
        va_list ap;

        buf_printf(u->err, "%s: ", u->tarball);
        if (u->raw_name) {
                buf_puts(u->err, "member '");
                put_name(u->err, u->raw_name);
                buf_puts(u->err, "': ");
        }
        va_start(ap, fmt);
        buf_vprintf(u->err, fmt, ap);
        va_end(ap);
        return r;
}

/*
 * "./a//b/" -> "a/b".  Returns NULL, or why the path is refused.  Refusing
 * ".." outright (rather than resolving it) keeps the rule simple to audit.
 */
const char *unpack_normalize_path(const char *raw, struct buf *out)
{
        const char *p = raw;

        buf_reset(out);
        if (raw[0] == '/')
                return "absolute path";
        while (*p) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return "'..' component in the path";
                if (n > NAME_MAX)
                        return "a path component longer than NAME_MAX";
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (out->len)
                                buf_putc(out, '/');
                        buf_append(out, p, n);
                }
                p += n;
                if (*p == '/')
                        p++;
        }
        if (out->len >= PATH_MAX)
                return "path longer than PATH_MAX";
        return NULL;
}

static size_t path_depth(const char *path)
{
        size_t n = path[0] ? 1 : 0;

        for (; *path; path++)
                n += *path == '/';
        return n;
}

/* Split "a/b/c" into dir "a/b" (written into dir) and the name "c" (pointer into path). */
static const char *split_path(const char *path, struct buf *dir)
{
        const char *slash = strrchr(path, '/');

        buf_reset(dir);
        if (!slash)
                return path;
        buf_append(dir, path, (size_t)(slash - path));
        return slash + 1;
}

static void record_dir(struct unpacker *u, const char *path, size_t len, mode_t mode,
                       const struct timespec *mtime)
{
        struct dir_fix *d;

        xgrow((void **)&u->dirs, &u->dirs_cap, u->ndirs + 1, sizeof(*u->dirs));
        d = &u->dirs[u->ndirs];
        d->path = xstrndup(path, len);
        d->depth = path_depth(d->path);
        d->seq = u->ndirs++;
        d->mode = mode;
        d->has_mtime = mtime != NULL;
        if (mtime)
                d->mtime = *mtime;
}

/*
 * Open directory `rel` under `fd` (which stays open), one component at a time
 * and never through a symlink.  With `create`, missing components are made
 * (0700 until the end; recorded with the default mode 0755).  `done` is the
 * path of fd relative to the root, for recording.  A new fd in *ret_fd.
 */
static int walk_dir(struct unpacker *u, int fd, const char *done, const char *rel, bool create,
                    int *ret_fd)
{
        struct buf path = BUF_INIT;
        const char *p = rel;
        int cur, r = 0;

        cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        buf_puts(&path, done);
        while (*p) {
                char name[NAME_MAX + 1];
                size_t n = strcspn(p, "/");
                int next;

                /* Normalised paths have no empty, "." or ".." component and no long name. */
                memcpy(name, p, n);
                name[n] = '\0';
                if (path.len)
                        buf_putc(&path, '/');
                buf_append(&path, p, n);
                next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT && create) {
                        if (mkdirat(cur, name, 0700) < 0 && errno != EEXIST) {
                                r = -errno;
                                goto out;
                        }
                        record_dir(u, path.data, path.len, 0755, NULL);
                        next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (next < 0) {
                        /* O_NOFOLLOW on a symlink gives ELOOP; a file in the way, ENOTDIR. */
                        r = errno == ELOOP ? -ENOTDIR : -errno;
                        goto out;
                }
                close(cur);
                cur = next;
                p += n;
                if (*p == '/')
                        p++;
        }
out:
        buf_release(&path);
        if (r < 0) {
                close(cur);
                return r;
        }
        *ret_fd = cur;
        return 0;
}

/*
 * The directory a member goes into.  Members come grouped by directory, so
 * the last one stays open and descending from it needs no walk from the root.
 * The fd belongs to the cache; do not close it.
 */
static int parent_fd(struct unpacker *u, const char *dir, int *ret_fd)
{
        int fd = -1, r;

        if (u->cache_fd >= 0) {
                size_t n = u->cache_dir.len;

                if (strcmp(dir, u->cache_dir.data) == 0) {
                        *ret_fd = u->cache_fd;
                        return 0;
                }
                if (n > 0 && strncmp(dir, u->cache_dir.data, n) == 0 && dir[n] == '/')
                        r = walk_dir(u, u->cache_fd, u->cache_dir.data, dir + n + 1, true, &fd);
                else
                        r = walk_dir(u, u->rootfd, "", dir, true, &fd);
        } else {
                r = walk_dir(u, u->rootfd, "", dir, true, &fd);
        }
        if (r < 0)
                return r;
        if (u->cache_fd >= 0)
                close(u->cache_fd);
        u->cache_fd = fd;
        buf_reset(&u->cache_dir);
        buf_puts(&u->cache_dir, dir);
        *ret_fd = fd;
        return 0;
}

static int parent_error(struct unpacker *u, int r)
{
        if (r == -ENOTDIR)
                return fail_at(u, -EINVAL, "its path goes through a symlink or a file");
        return fail_at(u, r, "cannot create its directory: %s", strerror(-r));
}

/*
 * A later member may replace an earlier file or symlink of the same name
 * (tar's semantics); never a directory, which could hold earlier members.
 */
static int make_room(struct unpacker *u, int pfd, const char *name)
{
        struct stat st;

        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : fail_at(u, -errno, "cannot stat: %s", strerror(errno));
        if (S_ISDIR(st.st_mode))
                return fail_at(u, -EINVAL, "a directory of that name is already in the archive");
        if (unlinkat(pfd, name, 0) < 0)
                return fail_at(u, -errno, "cannot replace the earlier member: %s", strerror(errno));
        return 0;
}

static bool entry_mtime(struct archive_entry *e, struct timespec *ret)
{
        if (!archive_entry_mtime_is_set(e))
                return false;
        ret->tv_sec = archive_entry_mtime(e);
        ret->tv_nsec = archive_entry_mtime_nsec(e);
        if (ret->tv_nsec < 0 || ret->tv_nsec > 999999999)
                ret->tv_nsec = 0;
        return true;
}

/* Count `more` bytes against the cap before they are written. */
static int account(struct unpacker *u, uint64_t more)
{
        if (more > u->max_bytes - u->total)
                return fail_at(u, -EFBIG, "the unpacked release would exceed %llu bytes",
                               (unsigned long long)u->max_bytes);
        u->total += more;
        return 0;
}

static int copy_data(struct unpacker *u, int fd, struct archive_entry *e)
{
        uint64_t pos = 0, end = 0;
        int r;

        for (;;) {
                const void *data;
                size_t size;
                la_int64_t off;

                r = archive_read_data_block(u->a, &data, &size, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return fail_at(u, -EINVAL, "corrupt archive: %s",
                                       archive_error_string(u->a) ? archive_error_string(u->a) : "read error");
                if (off < 0 || (uint64_t)off < pos)
                        return fail_at(u, -EINVAL, "corrupt archive: data blocks out of order");
                if ((uint64_t)off + size > end) {
                        r = account(u, (uint64_t)off + size - end);
                        if (r < 0)
                                return r;
                        end = (uint64_t)off + size;
                }
                if ((uint64_t)off != pos && lseek(fd, off, SEEK_SET) < 0)
                        return fail_at(u, -errno, "cannot seek: %s", strerror(errno));
                r = write_all(fd, data, size, NULL);
                if (r < 0)
                        return fail_at(u, r, "cannot write: %s", strerror(-r));
                pos = (uint64_t)off + size;
        }
        /* A sparse file may end in a hole. */
        if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > end) {
                r = account(u, (uint64_t)archive_entry_size(e) - end);
                if (r < 0)
                        return r;
                if (ftruncate(fd, archive_entry_size(e)) < 0)
                        return fail_at(u, -errno, "cannot extend: %s", strerror(errno));
        }
        return 0;
}

static int unpack_file(struct unpacker *u, struct archive_entry *e, int pfd, const char *name)
{
        struct timespec ts[2];
        int fd, r;

        fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
                r = make_room(u, pfd, name);
                if (r < 0)
                        return r;
                fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (fd < 0)
                return fail_at(u, -errno, "cannot create: %s", strerror(errno));
        r = copy_data(u, fd, e);
        if (r < 0)
                goto out;
        if (fchmod(fd, archive_entry_perm(e) & 0777) < 0) {
                r = fail_at(u, -errno, "cannot set its mode: %s", strerror(errno));
                goto out;
        }
        ts[0].tv_sec = 0;
        ts[0].tv_nsec = UTIME_OMIT;
        if (entry_mtime(e, &ts[1]) && futimens(fd, ts) < 0) {
                r = fail_at(u, -errno, "cannot set its mtime: %s", strerror(errno));
                goto out;
        }
out:
        if (close(fd) < 0 && r == 0)
                r = fail_at(u, -errno, "cannot write: %s", strerror(errno));
        return r;
}

/* Does `target`, read from directory `dir` (a normalised path), stay inside the tree? */
bool unpack_lexically_inside(const char *dir, const char *target)
{
        size_t depth = path_depth(dir);
        const char *p = target;

        while (*p) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (depth == 0)
                                return false;
                        depth--;
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        depth++;
                }
                p += n;
                if (*p == '/')
                        p++;
        }
        return true;
}

static int unpack_symlink(struct unpacker *u, struct archive_entry *e, int pfd, const char *dir,
                          const char *name)
{
        const char *target = archive_entry_symlink(e);
        struct timespec ts[2];
        int r;

        if (!target || !target[0])
                return fail_at(u, -EINVAL, "symlink with an empty target");
        if (target[0] == '/')
                return fail_at(u, -EINVAL, "symlink to an absolute path");
        if (!unpack_lexically_inside(dir, target))
                return fail_at(u, -EINVAL, "symlink leads outside the release");
        if (symlinkat(target, pfd, name) < 0) {
                if (errno != EEXIST)
                        return fail_at(u, -errno, "cannot create the symlink: %s", strerror(errno));
                r = make_room(u, pfd, name);
                if (r < 0)
                        return r;
                if (symlinkat(target, pfd, name) < 0)
                        return fail_at(u, -errno, "cannot create the symlink: %s", strerror(errno));
        }
        ts[0].tv_sec = 0;
        ts[0].tv_nsec = UTIME_OMIT;
        if (entry_mtime(e, &ts[1]))
                (void)utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW); /* cosmetic: not fatal */
        xgrow((void **)&u->links, &u->links_cap, u->nlinks + 1, sizeof(*u->links));
        u->links[u->nlinks++] = xstrdup(u->member.data);
        return 0;
}

static int unpack_hardlink(struct unpacker *u, const char *raw_target, int pfd, const char *name)
{
        struct buf target = BUF_INIT, tdir = BUF_INIT;
        const char *why, *tname;
        struct stat st = { 0 };
        int tfd = -1, r = 0;

        why = unpack_normalize_path(raw_target, &target);
        if (why) {
                r = fail_at(u, -EINVAL, "hard link target: %s", why);
                goto out;
        }
        if (target.len == 0) {
                r = fail_at(u, -EINVAL, "hard link to the release root");
                goto out;
        }
        tname = split_path(target.data, &tdir);
        r = walk_dir(u, u->rootfd, "", tdir.data, false, &tfd);
        if (r == 0 && fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
                r = -errno;
        if (r == -ENOENT || r == -ENOTDIR) {
                r = fail_at(u, -EINVAL, "hard link target is not an earlier member of the archive");
                goto out;
        }
        if (r < 0) {
                r = fail_at(u, r, "hard link target: %s", strerror(-r));
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                r = fail_at(u, -EINVAL, "hard link target is not a regular file");
                goto out;
        }
        if (linkat(tfd, tname, pfd, name, 0) < 0) {
                r = -errno;
                if (r == -EEXIST) {
                        r = make_room(u, pfd, name);
                        if (r == 0 && linkat(tfd, tname, pfd, name, 0) < 0)
                                r = -errno;
                        else if (r < 0)
                                goto out;
                }
                if (r < 0)
                        r = fail_at(u, r, "cannot create the hard link: %s", strerror(-r));
        }
out:
        if (tfd >= 0)
                close(tfd);
        buf_release(&target);
        buf_release(&tdir);
        return r;
}

static int unpack_dir(struct unpacker *u, struct archive_entry *e, int pfd, const char *name)
{
        struct timespec mtime;
        struct stat st;

        if (mkdirat(pfd, name, 0700) < 0) {
                if (errno != EEXIST)
                        return fail_at(u, -errno, "cannot create the directory: %s", strerror(errno));
                if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return fail_at(u, -errno, "cannot stat: %s", strerror(errno));
                if (!S_ISDIR(st.st_mode))
                        return fail_at(u, -EINVAL, "a file or symlink of that name is already in the archive");
        }
        record_dir(u, u->member.data, u->member.len, archive_entry_perm(e) & 0777,
                   entry_mtime(e, &mtime) ? &mtime : NULL);
        return 0;
}

static const char *special_kind(mode_t type)
{
        switch (type) {
        case AE_IFCHR:
                return "character device";
        case AE_IFBLK:
                return "block device";
        case AE_IFIFO:
                return "fifo";
        case AE_IFSOCK:
                return "socket";
        default:
                return "member of an unknown type";
        }
}

static int unpack_entry(struct unpacker *u, struct archive_entry *e)
{
        struct buf dir = BUF_INIT;
        const char *why, *name, *hardlink = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e), perm = archive_entry_perm(e);
        int pfd, r;

        u->raw_name = archive_entry_pathname(e);
        if (!u->raw_name)
                return fail_at(u, -EINVAL, "a member without a readable name");
        why = unpack_normalize_path(u->raw_name, &u->member);
        if (why)
                return fail_at(u, -EINVAL, "%s", why);
        if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
                return fail_at(u, -EINVAL, "%s", special_kind(type));
        if (perm & S_ISUID)
                return fail_at(u, -EINVAL, "setuid bit");
        if (perm & S_ISGID)
                return fail_at(u, -EINVAL, "setgid bit");
        if (!hardlink && type == AE_IFREG && archive_entry_size_is_set(e) &&
            (archive_entry_size(e) < 0 || (uint64_t)archive_entry_size(e) > u->max_bytes - u->total))
                return fail_at(u, -EFBIG, "declared size %lld exceeds what is left of the %llu-byte cap",
                               (long long)archive_entry_size(e), (unsigned long long)u->max_bytes);
        if (u->member.len == 0) {
                struct timespec mtime;

                /* "./": the release root itself. */
                if (hardlink || type != AE_IFDIR)
                        return fail_at(u, -EINVAL, "the release root must be a directory");
                record_dir(u, "", 0, perm & 0777, entry_mtime(e, &mtime) ? &mtime : NULL);
                return 0;
        }

        name = split_path(u->member.data, &dir);
        r = parent_fd(u, dir.data, &pfd);
        if (r < 0) {
                r = parent_error(u, r);
                goto out;
        }
        if (hardlink)
                r = unpack_hardlink(u, hardlink, pfd, name);
        else if (type == AE_IFREG)
                r = unpack_file(u, e, pfd, name);
        else if (type == AE_IFLNK)
                r = unpack_symlink(u, e, pfd, dir.data, name);
        else
                r = unpack_dir(u, e, pfd, name);
out:
        buf_release(&dir);
        return r;
}

/*
 * Resolve `target` from directory `cur` over the finished tree, following the
 * symlinks inside it as the kernel would.  `lens` is the stack of cur's
 * component boundaries.  0 inside, -EXDEV when it leaves the tree, -ELOOP.
 */
static int resolve_inside(int rootfd, struct buf *cur, size_t **lens, size_t *depth, size_t *cap,
                           const char *target, int *hops)
{
        const char *p = target;

        if (target[0] == '/')
                return -EXDEV;
        if (++*hops > SYMLINK_HOPS_MAX)
                return -ELOOP;
        while (*p) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (*depth == 0)
                                return -EXDEV;
                        cur->len = (*lens)[--*depth];
                        cur->data[cur->len] = '\0';
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        size_t before = cur->len;
                        char link[PATH_MAX];
                        struct stat st;
                        ssize_t ll;
                        int r;

                        if (cur->len)
                                buf_putc(cur, '/');
                        buf_append(cur, p, n);
                        /* Every component of cur but the last is a real directory. */
                        if (fstatat(rootfd, cur->data, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
                                ll = readlinkat(rootfd, cur->data, link, sizeof(link) - 1);
                                if (ll < 0)
                                        return -errno;
                                link[ll] = '\0';
                                cur->len = before;
                                cur->data[before] = '\0';
                                r = resolve_inside(rootfd, cur, lens, depth, cap, link, hops);
                                if (r < 0)
                                        return r;
                        } else {
                                xgrow((void **)lens, cap, *depth + 1, sizeof(**lens));
                                (*lens)[(*depth)++] = before;
                        }
                }
                p += n;
                if (*p == '/')
                        p++;
        }
        return 0;
}

/*
 * Each link was checked lexically when it was made; links through links
 * ("r -> ." then "l -> r/../x") can only be judged once the tree is complete.
 */
static int check_links(struct unpacker *u)
{
        size_t *lens = NULL, cap = 0;
        struct buf cur = BUF_INIT;
        int r = 0;

        for (size_t i = 0; i < u->nlinks && r == 0; i++) {
                size_t depth = 0;
                int hops = 0;

                buf_reset(&cur);
                r = resolve_inside(u->rootfd, &cur, &lens, &depth, &cap, u->links[i], &hops);
                u->raw_name = u->links[i];
                if (r == -EXDEV)
                        r = fail_at(u, -EINVAL, "symlink leads outside the release (through other symlinks)");
                else if (r == -ELOOP)
                        r = fail_at(u, -EINVAL, "symlink loop");
                else if (r < 0)
                        r = fail_at(u, r, "cannot read the symlink back: %s", strerror(-r));
        }
        free(lens);
        buf_release(&cur);
        return r;
}

static int dir_fix_cmp(const void *pa, const void *pb)
{
        const struct dir_fix *a = pa, *b = pb;
        int c;

        if (a->depth != b->depth)
                return a->depth > b->depth ? -1 : 1;
        c = strcmp(a->path, b->path);
        if (c)
                return c;
        return a->seq > b->seq ? -1 : a->seq < b->seq ? 1 : 0;
}

/* Deepest first, so a parent's final mode never blocks reaching its children. */
static int apply_dir_fixes(struct unpacker *u)
{
        if (u->ndirs > 1)
                qsort(u->dirs, u->ndirs, sizeof(*u->dirs), dir_fix_cmp);
        for (size_t i = 0; i < u->ndirs; i++) {
                struct dir_fix *d = &u->dirs[i];
                struct timespec ts[2];
                int fd = -1, r;

                if (i > 0 && strcmp(d->path, u->dirs[i - 1].path) == 0)
                        continue; /* an earlier entry for the same directory */
                r = walk_dir(u, u->rootfd, "", d->path, false, &fd);
                if (r < 0) {
                        u->raw_name = d->path;
                        return fail_at(u, r, "cannot open the directory: %s", strerror(-r));
                }
                r = fchmod(fd, d->mode) < 0 ? -errno : 0;
                ts[0].tv_sec = 0;
                ts[0].tv_nsec = UTIME_OMIT;
                ts[1] = d->mtime;
                if (r == 0 && d->has_mtime && futimens(fd, ts) < 0)
                        r = -errno;
                close(fd);
                if (r < 0) {
                        u->raw_name = d->path;
                        return fail_at(u, r, "cannot set the directory's mode or mtime: %s", strerror(-r));
                }
        }
        return 0;
}

/* After a failed rename the directories may be read-only: open them up again for removal. */
static void undo_dir_fixes(struct unpacker *u)
{
        for (size_t i = u->ndirs; i-- > 0;) {
                int fd = -1;

                if (walk_dir(u, u->rootfd, "", u->dirs[i].path, false, &fd) == 0) {
                        (void)fchmod(fd, 0700);
                        close(fd);
                }
        }
}

/*
 * CRC-32 (IEEE, as gzip uses it), sliced by 8: libarchive's gzip reader does
 * not check the trailer, and zlib is not ours to link.  Fast enough to hide
 * behind the inflating.
 */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;

                for (int k = 0; k < 8; k++)
                        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                crc_table[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; i++)
                for (int k = 1; k < 8; k++)
                        crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xff];
}

static uint32_t le32(const unsigned char *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
        crc = ~crc;
        for (; n >= 8; p += 8, n -= 8) {
                uint32_t one = crc ^ le32(p), two = le32(p + 4);

                crc = crc_table[7][one & 0xff] ^ crc_table[6][(one >> 8) & 0xff] ^
                      crc_table[5][(one >> 16) & 0xff] ^ crc_table[4][one >> 24] ^
                      crc_table[3][two & 0xff] ^ crc_table[2][(two >> 8) & 0xff] ^
                      crc_table[1][(two >> 16) & 0xff] ^ crc_table[0][two >> 24];
        }
        while (n--)
                crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
}

/*
 * The gzip trailer: CRC-32 and length mod 2^32 of everything inflated.  A
 * release is one gzip member; concatenated members fail here, as they should
 * not occur.
 */
static bool trailer_matches(int fd, uint32_t crc, uint64_t len)
{
        unsigned char t[8];
        struct stat st;

        if (fstat(fd, &st) < 0 || st.st_size < 18 || pread(fd, t, 8, st.st_size - 8) != 8)
                return false;
        return le32(t) == crc && le32(t + 4) == (uint32_t)len;
}

struct inflater {
        int in_fd;      /* the tarball; owned by the caller */
        int out_fd;     /* the pipe's write end; the thread closes it */
        bool failed;    /* the stream is damaged */
        bool cut_off;   /* the reader closed the pipe: not the stream's fault */
        char msg[256];  /* why, when failed */
};

/* The thread: tarball -> gzip (or nothing, for a plain tar) -> pipe, to the very end. */
static void *inflate_main(void *arg)
{
        struct inflater *inf = arg;
        struct archive *raw = archive_read_new();
        struct archive_entry *e;
        sigset_t pipe_only;
        uint64_t len = 0;
        uint32_t crc = 0;
        bool gzip = false;
        int r;

        /* A reader that gave up closes the pipe: EPIPE for this thread, not a signal for all. */
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
        archive_read_support_filter_gzip(raw);
        archive_read_support_format_raw(raw);
        r = archive_read_open_fd(raw, inf->in_fd, READ_BLOCK);
        if (r == ARCHIVE_OK) {
                gzip = archive_filter_code(raw, 0) == ARCHIVE_FILTER_GZIP;
                r = archive_read_next_header(raw, &e);
        }
        while (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const void *data;
                size_t size;
                la_int64_t off;

                r = archive_read_data_block(raw, &data, &size, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        break;
                if (gzip) {
                        crc = crc32_update(crc, data, size);
                        len += size;
                }
                if (write_all(inf->out_fd, data, size, NULL) < 0) {
                        inf->cut_off = true;
                        goto out;
                }
        }
        if (r == ARCHIVE_EOF && gzip && !trailer_matches(inf->in_fd, crc, len)) {
                snprintf(inf->msg, sizeof(inf->msg), "gzip trailer mismatch: the CRC or length is wrong");
                inf->failed = true;
                goto out;
        }
        if (r != ARCHIVE_EOF) {
                const char *msg = archive_error_string(raw);

                snprintf(inf->msg, sizeof(inf->msg), "%s", msg ? msg : "read error");
                inf->failed = true;
        }
out:
        archive_read_free(raw);
        close(inf->out_fd);
        return NULL;
}

static int check_dest(const char *dest, struct buf *err)
{
        struct stat st;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (lstat(dest, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                r = -errno;
                buf_printf(err, "%s: %s", dest, strerror(errno));
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                buf_printf(err, "%s: exists and is not a directory", dest);
                return -ENOTDIR;
        }
        d = opendir(dest);
        if (!d) {
                r = -errno;
                buf_printf(err, "%s: %s", dest, strerror(errno));
                return r;
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        buf_printf(err, "%s: exists and is not empty", dest);
                        r = -ENOTEMPTY;
                        break;
                }
        }
        closedir(d);
        return r;
}

/* "{parent}/.{name}.unpack-XXXXXX", made with mkdtemp (0700). */
static int make_temp_root(const char *dest, struct buf *ret, struct buf *err)
{
        size_t len = strlen(dest);
        const char *slash;

        while (len > 1 && dest[len - 1] == '/')
                len--;
        slash = memrchr(dest, '/', len);
        buf_reset(ret);
        if (slash) {
                buf_append(ret, dest, (size_t)(slash - dest) + 1);
                buf_putc(ret, '.');
                buf_append(ret, slash + 1, len - (size_t)(slash - dest) - 1);
        } else {
                buf_putc(ret, '.');
                buf_append(ret, dest, len);
        }
        buf_puts(ret, ".unpack-XXXXXX");
        if (!mkdtemp(ret->data)) {
                int r = -errno;

                buf_printf(err, "%s: cannot make a temporary directory beside it: %s", dest, strerror(errno));
                return r;
        }
        return 0;
}

static int unpack_all(struct unpacker *u)
{
        struct archive_entry *e;
        int r;

        for (;;) {
                r = archive_read_next_header(u->a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                u->raw_name = NULL;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                        const char *msg = archive_error_string(u->a);

                        return fail_at(u, -EINVAL, "corrupt archive after %zu members: %s", u->entries,
                                       msg ? msg : "read error");
                }
                if (++u->entries > UNPACK_MAX_ENTRIES)
                        return fail_at(u, -EINVAL, "more than %d members", UNPACK_MAX_ENTRIES);
                r = unpack_entry(u, e);
                if (r < 0)
                        return r;
        }
        u->raw_name = NULL;
        if (u->entries == 0)
                return fail_at(u, -EINVAL, "no members: an empty or unreadable archive");
        return check_links(u);
}

bool unpack_refused(int r)
{
        return r == -EINVAL || r == -EFBIG;
}

int unpack_release(const char *tarball, const char *dest_dir, uint64_t max_bytes, struct buf *err)
{
        struct unpacker u = {
                .tarball = tarball, .rootfd = -1, .max_bytes = max_bytes, .cache_fd = -1, .err = err,
                .member = BUF_INIT, .cache_dir = BUF_INIT,
        };
        struct inflater inf = { .in_fd = -1, .out_fd = -1 };
        struct buf tmp = BUF_INIT;
        bool fixed = false, started = false;
        pthread_t thread;
        int pipe_fds[2] = { -1, -1 };
        int fd = -1, r;

        r = check_dest(dest_dir, err);
        if (r < 0)
                return r;
        fd = file_open_read(tarball, 0, NULL);
        if (fd < 0) {
                buf_printf(err, "%s: %s", tarball, file_strerror(fd));
                return fd;
        }
        r = make_temp_root(dest_dir, &tmp, err);
        if (r < 0)
                goto out;
        u.rootfd = open(tmp.data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (u.rootfd < 0 || pipe2(pipe_fds, O_CLOEXEC) < 0) {
                r = -errno;
                buf_printf(err, "%s: %s", tmp.data, strerror(errno));
                goto out;
        }
        (void)fcntl(pipe_fds[1], F_SETPIPE_SZ, PIPE_SIZE); /* fewer wake-ups; the default works too */
        pthread_once(&crc_once, crc_init);
        inf.in_fd = fd;
        inf.out_fd = pipe_fds[1];
        r = -pthread_create(&thread, NULL, inflate_main, &inf);
        if (r < 0) {
                buf_printf(err, "%s: cannot start a thread: %s", tarball, strerror(-r));
                goto out;
        }
        started = true;
        pipe_fds[1] = -1; /* the thread's now */

        u.a = archive_read_new();
        archive_read_support_format_tar(u.a);
        if (archive_read_open_fd(u.a, pipe_fds[0], READ_BLOCK) != ARCHIVE_OK) {
                const char *msg = archive_error_string(u.a);

                r = fail_at(&u, -EINVAL, "not a tar or tar.gz archive: %s", msg ? msg : "unreadable");
                goto out;
        }
        r = unpack_all(&u);
        if (r < 0)
                goto out;
        /* The tar ended; let the thread finish the stream (padding, gzip trailer). */
        for (;;) {
                char sink[65536];
                ssize_t n = read(pipe_fds[0], sink, sizeof(sink));

                if (n > 0 || (n < 0 && errno == EINTR))
                        continue;
                break;
        }
        close(pipe_fds[0]);
        pipe_fds[0] = -1;
        pthread_join(thread, NULL);
        started = false;
        if (inf.failed) {
                r = fail_at(&u, -EINVAL, "corrupt archive: %s", inf.msg);
                goto out;
        }
        /* The release root keeps "./"'s mode when the archive has one, else 0755. */
        if (fchmod(u.rootfd, 0755) < 0) {
                r = -errno;
                buf_printf(err, "%s: %s", tmp.data, strerror(errno));
                goto out;
        }
        fixed = true;
        r = apply_dir_fixes(&u);
        if (r < 0)
                goto out;
        if (rename(tmp.data, dest_dir) < 0) {
                r = -errno;
                buf_printf(err, "%s: cannot move the unpacked release into place: %s", dest_dir, strerror(errno));
                goto out;
        }
        (void)fsync_dir_of(dest_dir);
out:
        if (u.a) {
                archive_read_close(u.a);
                archive_read_free(u.a);
        }
        /* Closing the read end stops a thread still writing (EPIPE). */
        if (pipe_fds[0] >= 0)
                close(pipe_fds[0]);
        if (pipe_fds[1] >= 0)
                close(pipe_fds[1]);
        if (started) {
                pthread_join(thread, NULL);
                /* A damaged stream explains a parse error better than its symptom does. */
                if (inf.failed && r == -EINVAL && strstr(err->data, "corrupt archive"))
                        buf_printf(err, " (the compressed stream: %s)", inf.msg);
        }
        if (u.cache_fd >= 0)
                close(u.cache_fd);
        if (r < 0 && u.rootfd >= 0) {
                if (fixed)
                        undo_dir_fixes(&u);
                (void)remove_tree(tmp.data);
        }
        if (u.rootfd >= 0)
                close(u.rootfd);
        close(fd);
        for (size_t i = 0; i < u.ndirs; i++)
                free(u.dirs[i].path);
        free(u.dirs);
        for (size_t i = 0; i < u.nlinks; i++)
                free(u.links[i]);
        free(u.links);
        buf_release(&u.member);
        buf_release(&u.cache_dir);
        buf_release(&tmp);
        return r;
}
