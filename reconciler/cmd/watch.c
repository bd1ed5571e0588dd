/* watch: redraw on every change of the state files.  See watch.h. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "reconciler/cmd/watch.h"
#include "state/paths.h"
#include "base/banned.h"

#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | \
                      IN_DELETE_SELF | IN_MOVE_SELF)

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
        (void)sig;
        watch_stop = 1;
}

/*
 * (Re)add every watch.  Directories that do not exist yet (no deployment
 * so far) are skipped and tried again after the next event or refresh;
 * adding an existing watch again is a no-op.
 */
static void add_watches(int fd, const struct config *c)
{
        struct buf p = BUF_INIT;

        buf_printf(&p, "%s", c->var_path);
        (void)inotify_add_watch(fd, p.data, WATCH_EVENTS);
        path_state_root(c, &p);
        (void)inotify_add_watch(fd, p.data, WATCH_EVENTS);
        path_run_dir(c, &p);
        (void)inotify_add_watch(fd, p.data, WATCH_EVENTS);
        (void)inotify_add_watch(fd, c->overrides_path, WATCH_EVENTS);
        for (size_t i = 0; i < c->napps; i++) {
                path_state_dir(c, c->apps[i].name, &p);
                (void)inotify_add_watch(fd, p.data, WATCH_EVENTS);
                path_instances_dir(c, c->apps[i].name, &p);
                (void)inotify_add_watch(fd, p.data, WATCH_EVENTS);
                if (c->source && strncmp(c->source, "file://", 7) == 0) {
                        buf_reset(&p);
                        buf_printf(&p, "%s/versions/%s/%s", c->source + 7, c->apps[i].name, c->env);
                        (void)inotify_add_watch(fd, p.data, WATCH_EVENTS);
                }
        }
        buf_release(&p);
}

static void drain_events(int fd)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

static int put(const char *s, size_t n)
{
        while (n > 0) {
                ssize_t k = write(STDOUT_FILENO, s, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                s += k;
                n -= (size_t)k;
        }
        return 0;
}

int watch_run(const struct config *c, watch_render_fn render, void *ctx)
{
        struct buf frame = BUF_INIT, last = BUF_INIT;
        bool tty = isatty(STDOUT_FILENO) == 1, first = true;
        struct sigaction sa;
        int fd, r = 0;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0)
                return -errno;
        while (!watch_stop) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
                                       { .fd = STDOUT_FILENO, .events = 0 } };

                add_watches(fd, c);
                buf_reset(&frame);
                r = render(ctx, &frame);
                if (r < 0)
                        break;
                if (first || strcmp(frame.data, last.data) != 0) {
                        if (tty)
                                r = put("\033[H\033[2J", 7);
                        else if (!first)
                                r = put("\n", 1);
                        if (r == 0)
                                r = put(frame.data, frame.len);
                        if (r < 0)
                                break;
                        buf_reset(&last);
                        buf_append(&last, frame.data, frame.len);
                        first = false;
                }
                if (poll(p, 2, WATCH_REFRESH_MS) < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
                        break; /* the reader has gone */
                if (p[0].revents & POLLIN) {
                        /* A write is tmp + fsync + rename (+ fsync dir): one frame for all of it. */
                        struct pollfd settle = { .fd = -1 };
                        (void)poll(&settle, 0, WATCH_SETTLE_MS);
                        drain_events(fd);
                }
        }
        close(fd);
        buf_release(&frame);
        buf_release(&last);
        return r == -EPIPE ? 0 : r;
}
