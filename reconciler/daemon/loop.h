/*
 * loop: the daemon's one epoll (STYLE: one event loop), as the parts below
 * the daemon see it.  An fd is watched with a struct loop_fd whose callback
 * gets the loop_fd back (its owner field says whose it is); nothing here
 * blocks.  `now` is the wall clock read once at the top of a pass, so that
 * every decision in one pass sees the same time; outside a pass loop_now()
 * reads the clock.
 *
 * The daemon (daemon.c) owns the loop: it creates the epoll fd, waits on it,
 * and plans again when dirty (everything) or apps_dirty (only the apps
 * marked in their app_rt) was set by a callback.
 */
#ifndef DEPLOYEX_LOOP_H
#define DEPLOYEX_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* An fd in the loop's epoll; data.ptr points at it. */
struct loop_fd {
        int fd;
        void (*on_ready)(struct loop_fd *lfd, uint32_t events);
        void *owner;
};

struct loop {
        int epfd;                            /* -1 = none (a unit test's loop) */
        uint64_t now_ms;                     /* wall clock at the top of this pass, 0 outside */
        bool dirty;                          /* something changed: reconcile everything */
        bool apps_dirty;                     /* only some apps changed (app_rt.dirty) */
};

int loop_watch(struct loop *l, struct loop_fd *lfd, uint32_t events);
void loop_unwatch(struct loop *l, struct loop_fd *lfd);
/* Unwatch and close lfd's fd, leaving -1 there (nothing when it is -1 already). */
void loop_close(struct loop *l, struct loop_fd *lfd);
uint64_t loop_now(const struct loop *l);

#endif
