#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "state/lock.h"
#include "base/util.h"
#include "base/banned.h"

int file_lock(const char *path)
{
        struct buf lock_path = BUF_INIT;
        int fd;

        buf_printf(&lock_path, "%s.lock", path);
        /*
         * Read-only is enough for flock: a lock file another user created (root,
         * or an operator of group deployex, 0640) locks for everyone who can read it.
         */
        fd = open(lock_path.data, O_RDONLY | O_CREAT | O_CLOEXEC, 0640);
        buf_release(&lock_path);
        if (fd < 0)
                return -errno;
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
        }
        return fd;
}

void file_unlock(int fd)
{
        if (fd >= 0)
                close(fd); /* closing releases the flock */
}
