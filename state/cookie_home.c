/*
 * cookie_home: a per-instance HOME holding a 0400 .erlang.cookie.  See
 * cookie_home.h.
 */
#include "state/cookie_home.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/util.h"
#include "base/banned.h"

#define COOKIE_NAME ".erlang.cookie"

/* 1 when dirfd/.erlang.cookie already holds exactly cookie (mode 0400). */
static int same_cookie(int dirfd, const char *cookie)
{
        char have[512];
        struct stat st;
        ssize_t n;
        int fd, same;

        fd = openat(dirfd, COOKIE_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return 0;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0400 ||
            st.st_uid != geteuid()) {
                close(fd);
                return 0;
        }
        n = read(fd, have, sizeof(have));
        same = n >= 0 && (size_t)n == strlen(cookie) && memcmp(have, cookie, (size_t)n) == 0;
        explicit_bzero(have, sizeof(have));
        close(fd);
        return same;
}

int cookie_home_write(const char *dir, const char *cookie)
{
        char tmp[64];
        struct stat st;
        int dirfd, fd, r;

        if (str_empty(dir) || dir[0] != '/' || str_empty(cookie))
                return -EINVAL;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        if (fstat(dirfd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (st.st_uid != geteuid()) {
                r = -EPERM;
                goto out;
        }
        if ((st.st_mode & 07777) != 0700 && fchmod(dirfd, 0700) < 0) {
                r = -errno;
                goto out;
        }
        if (same_cookie(dirfd, cookie))
                goto out;
        snprintf(tmp, sizeof(tmp), COOKIE_NAME ".tmp.%ld", (long)getpid());
        (void)unlinkat(dirfd, tmp, 0);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        r = write_all(fd, cookie, strlen(cookie), NULL);
        if (r == 0 && fchmod(fd, 0400) < 0) /* whatever the umask */
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, COOKIE_NAME) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(dirfd, tmp, 0);
out:
        close(dirfd);
        return r;
}
