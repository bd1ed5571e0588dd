/*
 * workers: long-lived children of the daemon, supervised with a backoff.
 * See workers.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/spawn.h"
#include "reconciler/core/backoff.h"
#include "reconciler/daemon/workers.h"
#include "reconciler/jobs/answer.h"
#include "base/banned.h"

#define WORKER_ARGS_MAX 16
#define WORKER_LINE_MAX 8192
#define WORKER_ERR_TAIL 4096

struct worker {
        struct worker *next;
        struct workers *ws;             /* whose: its pipes' callbacks act there */
        char name[32];                  /* "poller", "otp": for logs */
        char *args[WORKER_ARGS_MAX + 1];
        char *key;                      /* what the running one was started for */
        worker_answer_fn on_answer;
        void *ctx;                      /* on_answer's */
        pid_t pid;                      /* 0: not running */
        struct loop_fd out, err;        /* fd -1 when closed */
        struct buf line;                /* stdout not yet ended by '\n' */
        struct buf err_tail;
        bool wanted;
        bool killed;                    /* stopped by us: no warning, no backoff */
        unsigned exits;                 /* unasked exits in a row */
        uint64_t started_ms, next_start_ms;
};

static struct worker *find(const struct workers *ws, const char *name)
{
        for (struct worker *w = ws->list; w; w = w->next)
                if (strcmp(w->name, name) == 0)
                        return w;
        return NULL;
}

static uint64_t now(const struct workers *ws)
{
        return loop_now(&ws->rt->loop);
}

static void free_args(struct worker *w)
{
        for (size_t i = 0; w->args[i]; i++) {
                free(w->args[i]);
                w->args[i] = NULL;
        }
}

/* One line, one answer: its VALUE to the owner. */
static void take_answer(struct worker *w, const char *line, size_t len)
{
        struct buf err = BUF_INIT;
        yajl_val tree, result;

        if (answer_parse(line, len, w->name, &tree, &result, &err) < 0) {
                log_warn("worker %s: %s", w->name, err.data);
                buf_release(&err);
                return;
        }
        if (w->on_answer)
                w->on_answer(w->ctx, result);
        yajl_tree_free(tree);
}

/* Hand every complete line to the owner; a runaway line is cut, never grown without bound. */
static void take_lines(struct worker *w)
{
        char *start = w->line.data, *nl;
        size_t used;

        while ((nl = memchr(start, '\n', w->line.len - (size_t)(start - w->line.data)))) {
                take_answer(w, start, (size_t)(nl - start));
                start = nl + 1;
        }
        used = (size_t)(start - w->line.data);
        if (used) {
                memmove(w->line.data, start, w->line.len - used);
                w->line.len -= used;
                w->line.data[w->line.len] = '\0';
        }
        if (w->line.len > WORKER_LINE_MAX)
                buf_reset(&w->line);
}

static void on_pipe(struct loop_fd *lfd, uint32_t events)
{
        struct worker *w = lfd->owner;
        struct workers *ws = w->ws;
        bool is_out = lfd == &w->out;
        char chunk[8192];
        ssize_t n;

        (void)events;
        while ((n = fd_read_some(lfd->fd, chunk, sizeof(chunk))) > 0) {
                if (!is_out) {
                        buf_append_tail(&w->err_tail, chunk, (size_t)n, WORKER_ERR_TAIL);
                        continue;
                }
                buf_append(&w->line, chunk, (size_t)n);
                take_lines(w);
        }
        if (n != -EAGAIN)
                loop_close(&ws->rt->loop, lfd);
}

static int start(struct workers *ws, struct worker *w)
{
        const char *argv[WORKER_ARGS_MAX + 4];
        struct spawn_opts o;
        size_t n = 0;
        pid_t pid;
        int fds[2], r;

        argv[n++] = ws->rt->cli_exe;
        /* The configuration the daemon runs, as its jobs get it. */
        if (ws->rt->jobs.config) {
                argv[n++] = "-c";
                argv[n++] = ws->rt->jobs.config;
        }
        for (size_t i = 0; w->args[i]; i++)
                argv[n++] = w->args[i];
        argv[n] = NULL;
        memset(&o, 0, sizeof(o));
        o.argv = (char *const *)argv;
        o.stdin_fd = -1;
        o.die_with_parent = true; /* a daemon's successor starts its own */
        r = spawn_start_piped(&o, true, &pid, fds);
        if (r < 0)
                goto fail;
        w->out = (struct loop_fd){ fds[0], on_pipe, w };
        w->err = (struct loop_fd){ fds[1], on_pipe, w };
        loop_watch(&ws->rt->loop, &w->out, EPOLLIN);
        loop_watch(&ws->rt->loop, &w->err, EPOLLIN);
        buf_reset(&w->line);
        buf_reset(&w->err_tail);
        w->pid = pid;
        w->killed = false;
        w->started_ms = now(ws);
        log_info("worker %s started, pid %d", w->name, (int)pid);
        return 0;
fail:
        w->exits++;
        w->next_start_ms = now(ws) +
                           backoff_delay_ms(WORKER_BACKOFF_INITIAL_MS, WORKER_BACKOFF_MAX_MS, w->exits);
        log_errno(r, "worker %s: cannot start '%s'; trying again in %llu ms", w->name,
                  ws->rt->cli_exe, (unsigned long long)(w->next_start_ms - now(ws)));
        return r;
}

static void stop(struct worker *w)
{
        if (w->pid > 0 && !w->killed) {
                w->killed = true;
                spawn_kill_group(w->pid, SIGKILL);
        }
}

static bool same_args(struct worker *w, const char *const *args)
{
        size_t i = 0;

        for (; args[i] && w->args[i]; i++)
                if (strcmp(args[i], w->args[i]) != 0)
                        return false;
        return !args[i] && !w->args[i];
}

void worker_want(struct workers *ws, const char *name, const char *const *args, const char *key,
                 worker_answer_fn on_answer, void *ctx)
{
        struct worker *w = find(ws, name);

        if (!w) {
                w = xcalloc(1, sizeof(*w));
                w->ws = ws;
                snprintf(w->name, sizeof(w->name), "%s", name);
                w->out.fd = w->err.fd = -1;
                buf_init(&w->line);
                buf_init(&w->err_tail);
                w->next = ws->list;
                ws->list = w;
        }
        w->wanted = true;
        w->on_answer = on_answer;
        w->ctx = ctx;
        if (!w->key || strcmp(w->key, key) != 0 || !same_args(w, args)) {
                if (w->pid > 0) {
                        log_info("worker %s: its settings changed; restarting it", w->name);
                        stop(w);
                }
                free(w->key);
                w->key = xstrdup(key);
                free_args(w);
                for (size_t i = 0; i < WORKER_ARGS_MAX && args[i]; i++)
                        w->args[i] = xstrdup(args[i]);
                w->exits = 0;
                w->next_start_ms = 0; /* new settings: no reason to wait */
        }
        if (w->pid == 0 && now(ws) >= w->next_start_ms)
                (void)start(ws, w);
}

void worker_unwant(struct workers *ws, const char *name)
{
        struct worker *w = find(ws, name);

        if (!w || !w->wanted)
                return;
        w->wanted = false;
        stop(w);
        free(w->key); /* wanted again later: a fresh start */
        w->key = NULL;
}

pid_t worker_pid(const struct workers *ws, const char *name)
{
        struct worker *w = find(ws, name);

        return w ? w->pid : 0;
}

bool worker_reap(struct workers *ws, pid_t pid, int wstatus)
{
        struct buf why = BUF_INIT;
        struct worker *w;

        for (w = ws->list; w && w->pid != pid; w = w->next)
                ;
        if (!w)
                return false;
        /* Whatever it said before it went, and whatever it left in its group. */
        if (w->out.fd >= 0)
                on_pipe(&w->out, EPOLLIN);
        if (w->err.fd >= 0)
                on_pipe(&w->err, EPOLLIN);
        loop_close(&ws->rt->loop, &w->out);
        loop_close(&ws->rt->loop, &w->err);
        spawn_kill_group(pid, SIGKILL);
        w->pid = 0;
        if (w->killed) {
                w->next_start_ms = 0;
        } else {
                if (now(ws) - w->started_ms >= WORKER_STABLE_MS)
                        w->exits = 0;
                w->exits++;
                w->next_start_ms = now(ws) + backoff_delay_ms(WORKER_BACKOFF_INITIAL_MS,
                                                                    WORKER_BACKOFF_MAX_MS, w->exits);
                spawn_describe_status(wstatus, false, 0, &why);
                spawn_describe_stderr(w->err_tail.data, w->err_tail.len, &why);
                log_warn("worker %s (pid %d) %s; restarting it in %llu ms", w->name, (int)pid,
                         why.data, (unsigned long long)(w->next_start_ms - now(ws)));
        }
        w->killed = false;
        ws->rt->loop.dirty = true; /* the next pass restarts it when due */
        buf_release(&why);
        return true;
}

uint64_t workers_tick(struct workers *ws)
{
        uint64_t next = 0;

        for (struct worker *w = ws->list; w; w = w->next) {
                if (!w->wanted || w->pid > 0)
                        continue;
                if (now(ws) >= w->next_start_ms && start(ws, w) == 0)
                        continue;
                if (next == 0 || w->next_start_ms < next)
                        next = w->next_start_ms;
        }
        return next;
}

void workers_kill_all(struct workers *ws)
{
        while (ws->list) {
                struct worker *w = ws->list;
                ws->list = w->next;
                if (w->pid > 0)
                        spawn_kill_group(w->pid, SIGKILL);
                loop_close(&ws->rt->loop, &w->out);
                loop_close(&ws->rt->loop, &w->err);
                free_args(w);
                free(w->key);
                buf_release(&w->line);
                buf_release(&w->err_tail);
                free(w);
        }
}
