/*
 * events: GET /api/events, one Server-Sent Events stream per dashboard.
 *
 * One watcher thread owns an inotify fd on the state files the CLI reads
 * (state/, state/APP/, state/APP/instances/, the overrides, run/).  On a
 * change it waits a few milliseconds for the rest of a burst (a rename is
 * several events), rebuilds the status document with the same code as
 * `deployex status --json` and publishes it with a generation number; every
 * stream thread waits on a condition variable and sends the newest snapshot
 * as `event: status`.  Every HOST_EVERY_MS the watcher also publishes the
 * host figures (`event: host`) and a status snapshot (uptimes move, a process
 * can die while no daemon records it).  Streams that have nothing to say send
 * a comment every WEB_SSE_KEEPALIVE_MS so proxies and the connection timeout
 * keep them open.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "web/http.h"
#include "base/log.h"
#include "state/paths.h"
#include "base/banned.h"

#define HOST_EVERY_MS 5000
#define BURST_MS 30
#define BURST_MAX_MS 200 /* a steady stream of writes still gets snapshots */
#define WATCH_MAX 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static char *status_json, *host_doc;
static uint64_t status_gen, host_gen;
static bool stopping;
static pthread_t watcher;
static int ino = -1, stop_pipe[2] = { -1, -1 };

static void publish(char **slot, uint64_t *gen, struct buf *doc)
{
        char *s = buf_detach(doc), *old;

        pthread_mutex_lock(&lock);
        old = *slot;
        *slot = s;
        (*gen)++;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        free(old);
}

static void publish_status(void)
{
        struct buf doc = BUF_INIT;

        web_status_json(&doc);
        publish(&status_json, &status_gen, &doc);
}

static void publish_host(void)
{
        struct buf doc = BUF_INIT;

        host_json(&doc);
        publish(&host_doc, &host_gen, &doc);
}

/* (Re)add the watches; a directory created later is picked up on the next tick. */
static void add_watches(void)
{
        const struct config *c = web_g.o->cfg;
        const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                              IN_DELETE | IN_ATTRIB;
        struct buf p = BUF_INIT;

        path_state_root(c, &p);
        (void)inotify_add_watch(ino, p.data, mask);
        path_run_dir(c, &p);
        (void)inotify_add_watch(ino, p.data, mask);
        (void)inotify_add_watch(ino, c->overrides_path, mask);
        for (size_t i = 0; i < c->napps; i++) {
                path_state_dir(c, c->apps[i].name, &p);
                (void)inotify_add_watch(ino, p.data, mask);
                path_instances_dir(c, c->apps[i].name, &p);
                (void)inotify_add_watch(ino, p.data, mask);
        }
        buf_release(&p);
}

static void drain(void)
{
        char b[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        while (read(ino, b, sizeof(b)) > 0)
                ;
}

static void *watch_loop(void *arg)
{
        uint64_t next_host = 0;

        (void)arg;
        for (;;) {
                struct pollfd p[2] = { { .fd = ino, .events = POLLIN },
                                       { .fd = stop_pipe[0], .events = POLLIN } };
                uint64_t now = time_now_ms();
                int timeout = next_host > now ? (int)(next_host - now) : 0;

                if (poll(p, 2, timeout) < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
                if (p[0].revents & POLLIN) {
                        /* The rest of the burst: a tmp write + rename, several files. */
                        struct pollfd q = { .fd = ino, .events = POLLIN };
                        uint64_t give_up = time_now_ms() + BURST_MAX_MS;
                        do
                                drain();
                        while (poll(&q, 1, BURST_MS) > 0 && time_now_ms() < give_up);
                        publish_status();
                }
                if (time_now_ms() >= next_host) {
                        add_watches();
                        publish_host();
                        publish_status();
                        next_host = time_now_ms() + HOST_EVERY_MS;
                }
        }
        return NULL;
}

int events_start(void)
{
        pthread_condattr_t ca;
        int r;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&changed, &ca);
        pthread_condattr_destroy(&ca);
        ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ino < 0)
                return -errno;
        if (pipe2(stop_pipe, O_CLOEXEC) < 0)
                return -errno;
        add_watches();
        publish_host();
        publish_status();
        if ((r = pthread_create(&watcher, NULL, watch_loop, NULL)) != 0)
                return -r;
        return 0;
}

void events_stop(void)
{
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        (void)!write(stop_pipe[1], "x", 1);
        pthread_join(watcher, NULL);
}

/* --- one stream --- */

struct stream {
        unsigned char session[32];     /* the SHA-256 of its session token */
        uint64_t status_gen, host_gen; /* what this client has seen */
        struct buf out;                /* bytes not yet handed to MHD */
        size_t off;
};

static void sse_event(struct buf *out, const char *name, const char *data)
{
        buf_printf(out, "event: %s\ndata: %s\n\n", name, data);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
        struct stream *s = cls;
        struct timespec until;
        size_t n;

        (void)pos;
        if (s->off == s->out.len) {
                buf_reset(&s->out);
                s->off = 0;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += WEB_SSE_KEEPALIVE_MS / 1000;
                pthread_mutex_lock(&lock);
                while (!stopping && s->status_gen == status_gen && s->host_gen == host_gen)
                        if (pthread_cond_timedwait(&changed, &lock, &until) == ETIMEDOUT)
                                break;
                if (stopping) {
                        pthread_mutex_unlock(&lock);
                        return MHD_CONTENT_READER_END_OF_STREAM;
                }
                if (s->status_gen != status_gen)
                        sse_event(&s->out, "status", status_json);
                if (s->host_gen != host_gen)
                        sse_event(&s->out, "host", host_doc);
                s->status_gen = status_gen;
                s->host_gen = host_gen;
                pthread_mutex_unlock(&lock);
                if (s->out.len == 0)
                        buf_puts(&s->out, ": keepalive\n\n");
                /* Logged out (or expired) meanwhile: the stream ends with its session. */
                if (!session_touch(s->session))
                        return MHD_CONTENT_READER_END_OF_STREAM;
        }
        n = s->out.len - s->off < max ? s->out.len - s->off : max;
        memcpy(dst, s->out.data + s->off, n);
        s->off += n;
        return (ssize_t)n;
}

static void stream_free(void *cls)
{
        struct stream *s = cls;

        buf_release(&s->out);
        free(s);
}

enum MHD_Result events_serve(struct MHD_Connection *c)
{
        struct stream *s = xcalloc(1, sizeof(*s));
        struct MHD_Response *r;
        enum MHD_Result ret;

        buf_init(&s->out);
        if (!session_hash(c, s->session)) {
                stream_free(s);
                return http_error(c, MHD_HTTP_UNAUTHORIZED, "log in first (POST /login)");
        }
        /* A retry hint, then the current state at once: the page needs no other request. */
        buf_puts(&s->out, "retry: 2000\n\n");
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
        if (!r) {
                stream_free(s);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        http_secure(r, false);
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

bool events_stopping(void)
{
        bool s;

        pthread_mutex_lock(&lock);
        s = stopping;
        pthread_mutex_unlock(&lock);
        return s;
}
