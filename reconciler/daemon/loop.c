/*
 * loop: watch and unwatch fds in the daemon's epoll; the pass's clock.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "reconciler/daemon/loop.h"
#include "base/log.h"
#include "base/util.h"
#include "base/banned.h"

uint64_t loop_now(const struct loop *l)
{
        return l->now_ms ? l->now_ms : time_now_ms();
}

int loop_watch(struct loop *l, struct loop_fd *lfd, uint32_t events)
{
        struct epoll_event ev = { .events = events, .data.ptr = lfd };

        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, lfd->fd, &ev) < 0)
                return log_errno(-errno, "cannot watch fd %d", lfd->fd);
        return 0;
}

void loop_unwatch(struct loop *l, struct loop_fd *lfd)
{
        if (lfd->fd >= 0 && l->epfd >= 0)
                (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, lfd->fd, NULL);
}

void loop_close(struct loop *l, struct loop_fd *lfd)
{
        if (lfd->fd < 0)
                return;
        loop_unwatch(l, lfd);
        close(lfd->fd);
        lfd->fd = -1;
}
