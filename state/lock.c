#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "lock.h"
#include "util.h"
#include "banned.h"

int file_lock(const char *path)
{
        struct buf lock_path = BUF_INIT;
        int fd;

        buf_printf(&lock_path, "%s.lock", path);
        fd = open(lock_path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
