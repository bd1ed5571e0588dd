/*
 * fsutil: atomic state-file writes and directory helpers.  See fsutil.h.
 */
#include "base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "base/banned.h"

int write_all(int fd, const void *data, size_t len, size_t *ret_done)
{
        const char *p = data;
        size_t done = 0;
        int r = 0;

        while (done < len) {
                ssize_t n = write(fd, p + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        break;
                }
                done += (size_t)n;
        }
        if (ret_done)
                *ret_done = done;
        return r;
}

ssize_t fd_read_some(int fd, void *data, size_t len)
{
        for (;;) {
                ssize_t n = read(fd, data, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return -EAGAIN;
                return n < 0 ? 0 : n;
        }
}

int fsync_dir_of(const char *path)
{
        const char *slash = strrchr(path, '/');
        char *dir;
        int fd, r = 0;

        if (!slash)
                dir = xstrdup(".");
        else if (slash == path)
                dir = xstrdup("/");
        else
                dir = xstrndup(path, (size_t)(slash - path));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(dir);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

/* O_EXCL so a reader can never be handed somebody else's half-written tmp file. */
static int open_tmp(const char *tmp, mode_t mode)
{
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

        /* A leftover of an earlier process that had our pid (a crash, a reboot). */
        if (fd < 0 && errno == EEXIST) {
                if (unlink(tmp) < 0 && errno != ENOENT)
                        return -errno;
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        }
        return fd < 0 ? -errno : fd;
}

/* exact: mode whatever the umask (files group deployex must read); gid (gid_t)-1: keep. */
static int write_file(const char *path, const void *data, size_t len, mode_t mode, gid_t gid,
                      bool exact)
{
        struct buf tmp = BUF_INIT;
        int fd, r = 0;

        if (str_empty(path))
                return -EINVAL;
        buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
        fd = open_tmp(tmp.data, mode);
        if (fd < 0) {
                r = fd;
                goto out;
        }
        /* The exact mode whatever the umask; the group before anyone can read it. */
        if (gid != (gid_t)-1) {
                struct stat st;

                if (fstat(fd, &st) < 0 || (st.st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0))
                        r = -errno;
        }
        if (r == 0 && exact && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0)
                r = write_all(fd, data, len, NULL);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        /* close() can report a deferred write error (NFS, quota). */
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp.data, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp.data);
                goto out;
        }
        r = fsync_dir_of(path);
out:
        buf_release(&tmp);
        return r;
}

int atomic_write_file(const char *path, const void *data, size_t len)
{
        return write_file(path, data, len, 0600, (gid_t)-1, false);
}

int atomic_write_file_mode(const char *path, const void *data, size_t len, mode_t mode)
{
        return write_file(path, data, len, mode, (gid_t)-1, false);
}

int atomic_write_shared(const char *path, const void *data, size_t len, gid_t gid)
{
        return write_file(path, data, len, 0640, gid, true);
}

/*
 * mkdir -p of path[0 .. len), parents made with mode parents, the last with
 * mode.  The copy is on the stack, not the heap: the log writer, which
 * allocates nothing, calls this (reconciler/jobs/logwriter.h, "Memory").
 */
static int mkdir_in(const char *path, size_t len, mode_t parents, mode_t mode)
{
        char p[PATH_MAX];
        struct stat st;
        int r = 0;

        if (len == 0)
                return -EINVAL;
        if (len >= sizeof(p))
                return -ENAMETOOLONG;
        memcpy(p, path, len);
        p[len] = '\0';
        /*
         * There already, the usual case (a record saved, an instance started):
         * one stat instead of a mkdir and a stat per component.
         */
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                return 0;
        for (char *s = p + 1;; s++) {
                /* The last component, also before trailing slashes. */
                bool last = *s == '\0' || (*s == '/' && s[strspn(s, "/")] == '\0');

                if (*s != '/' && !last)
                        continue;
                *s = '\0';
                if (mkdir(p, last ? mode : parents) < 0) {
                        if (errno != EEXIST) {
                                r = -errno;
                                break;
                        }
                        /* EEXIST also for a file or a dangling symlink in the way. */
                        if (stat(p, &st) < 0) {
                                r = -errno;
                                break;
                        }
                        if (!S_ISDIR(st.st_mode)) {
                                r = -ENOTDIR;
                                break;
                        }
                }
                if (last)
                        break;
                *s = '/';
                while (s[1] == '/')
                        s++;
                if (s[1] == '\0')
                        break;
        }
        return r;
}

int mkdir_p(const char *path, mode_t mode)
{
        return mkdir_p_parents(path, mode, mode);
}

int mkdir_p_len(const char *path, size_t len, mode_t mode)
{
        return mkdir_in(path, len, mode, mode);
}

int mkdir_p_parents(const char *path, mode_t parents, mode_t mode)
{
        if (str_empty(path))
                return -EINVAL;
        return mkdir_in(path, strlen(path), parents, mode);
}

int append_line(const char *path, const char *data, size_t len)
{
        struct buf line = BUF_INIT;
        int fd, r;

        /* One write() of the whole line: O_APPEND keeps concurrent writers' lines whole. */
        buf_append(&line, data, len);
        if (len == 0 || data[len - 1] != '\n')
                buf_putc(&line, '\n');
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        r = write_all(fd, line.data, line.len, NULL);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
out:
        buf_release(&line);
        return r;
}

/*
 * Remove name (relative to dirfd) and everything below it.  Directories are
 * opened with O_NOFOLLOW and entries removed with unlinkat, so a symlink is
 * removed itself and never followed out of the tree.  Keeps going after an
 * error and returns the first one.
 */
static int remove_at(int dirfd, const char *name, bool is_dir)
{
        DIR *d;
        struct dirent *de;
        int fd, r = 0;

        if (!is_dir) {
                if (unlinkat(dirfd, name, 0) == 0)
                        return 0;
                if (errno == ENOENT)
                        return 0;
                if (errno != EISDIR)
                        return -errno;
        }
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        for (;;) {
                bool sub_dir;
                int q;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno && r == 0)
                                r = -errno;
                        break;
                }
                if (str_eq(de->d_name, ".") || str_eq(de->d_name, ".."))
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;

                        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno != ENOENT && r == 0)
                                        r = -errno;
                                continue;
                        }
                        sub_dir = S_ISDIR(st.st_mode);
                } else {
                        sub_dir = de->d_type == DT_DIR;
                }
                q = remove_at(fd, de->d_name, sub_dir);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int remove_tree(const char *path)
{
        struct stat st;

        if (str_empty(path) || path[strspn(path, "/")] == '\0')
                return -EINVAL;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        return remove_at(AT_FDCWD, path, S_ISDIR(st.st_mode));
}

int file_open_read(const char *path, int flags, size_t *ret_size)
{
        return file_open_read_at(AT_FDCWD, path, flags, ret_size);
}

int file_open_read_at(int dirfd, const char *path, int flags, size_t *ret_size)
{
        int oflags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
        struct stat st;
        int fd;

        if (!(flags & FILE_FOLLOW))
                oflags |= O_NOFOLLOW;
        fd = openat(dirfd, path, oflags);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return S_ISDIR(st.st_mode) ? -EISDIR : -FILE_ENOTREG;
        }
        if (ret_size)
                *ret_size = st.st_size > 0 ? (size_t)st.st_size : 0;
        return fd;
}

/*
 * Reads at most max_bytes + 1 so that "too large" is detected without
 * trusting st_size.  size is the file's st_size when known (else 0): a
 * regular file read short at or past it is at its end, which saves the
 * read that returns 0 (status reads a thousand records in a row).  /proc
 * files say 0 and are read until a read returns 0.
 */
static int read_fd(int fd, size_t max_bytes, size_t size, struct buf *out)
{
        char chunk[16384];

        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                buf_append(out, chunk, (size_t)n);
                if (out->len > max_bytes)
                        return -EFBIG;
                if (size > 0 && (size_t)n < sizeof(chunk) && out->len >= size)
                        return 0;
        }
}

int fd_read_all(int fd, size_t max_bytes, struct buf *out)
{
        struct buf tmp = BUF_INIT;
        int r = read_fd(fd, max_bytes, 0, &tmp);

        if (r == 0) {
                buf_release(out);
                *out = tmp;
                return 0;
        }
        buf_release(&tmp);
        return r;
}

int file_read_all_flags(const char *path, int flags, size_t max_bytes, struct buf *out)
{
        return file_read_all_at(AT_FDCWD, path, flags, max_bytes, out);
}

int file_read_all_at(int dirfd, const char *path, int flags, size_t max_bytes, struct buf *out)
{
        struct buf tmp = BUF_INIT;
        size_t size = 0;
        int fd, r;

        fd = file_open_read_at(dirfd, path, flags, &size);
        if (fd < 0)
                return fd;
        if (size > max_bytes) {
                r = -EFBIG;
                goto out;
        }
        r = read_fd(fd, max_bytes, size, &tmp);
        if (r < 0)
                goto out;
        buf_release(out);
        *out = tmp;
        buf_init(&tmp);
out:
        buf_release(&tmp);
        close(fd);
        return r;
}

int file_read_all(const char *path, size_t max_bytes, struct buf *out)
{
        return file_read_all_flags(path, 0, max_bytes, out);
}

const char *file_strerror(int r)
{
        if (r == -FILE_ENOTREG)
                return "not a regular file (a FIFO, device or socket is refused)";
        if (r == -ELOOP)
                return "is a symlink (refused: not followed here)";
        return strerror(r < 0 ? -r : r);
}
