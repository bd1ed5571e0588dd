/*
 * __poller: the long-lived worker that polls a remote source (s3://, gs://)
 * for every app's current.json, instead of one `__poll` process per poll.
 *
 *   deployex [-c CONFIG] __poller
 *
 * One process for the whole source, started and supervised by the daemon
 * (reconciler/daemon/workers.c); it dies with the daemon (PR_SET_PDEATHSIG)
 * and is restarted when the source's settings change.  Living on between
 * polls is what makes an unchanged poll cheap: the HTTP connection stays
 * open (http_keep_connections()), a gs:// access token is reused
 * until 60 s before it expires (gcp_auth), IMDS credentials until they
 * expire (aws_creds), and nothing is exec'd, linked or parsed again.
 *
 * Each app has its own schedule: poll_interval_ms with jitter, exponential
 * backoff while its polls fail (reconciler/core/poll.h).  A poll rewrites
 * state/{app}/desired.json when current.json changed (the daemon watches
 * that directory) and counts itself in state/{app}/source.json (metrics).
 * What the daemon must know besides goes to stdout, one answer
 * (reconciler/jobs/answer.h) per event, {"app", "event", ...}:
 *
 *     ok, "version"      the first good poll, and the first after a failure
 *     changed, "version" desired.json was rewritten
 *     error, "error"     a poll failed (every time: the daemon logs it)
 *
 * An unchanged poll after a good one writes no line, so the daemon is not
 * woken for it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/util.h"
#include "buckets/http.h"
#include "buckets/source.h"
#include "buckets/source_stats.h"
#include "reconciler/cmd/cli.h"
#include "reconciler/core/poll.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/shared/desired_load.h"
#include "state/json.h"
#include "base/banned.h"

struct app_poll {
        const struct app_config *app;
        uint64_t next_ms;   /* monotonic */
        unsigned failures;  /* in a row */
        bool reported;      /* an "ok" went out since the last failure */
};

/* One answer to the daemon; a daemon that stopped reading is gone: so are we. */
static void tell(const char *app, const char *event, const char *text)
{
        struct answer_object a;
        yajl_gen g = answer_object_begin(&a);
        char *one_line = xstrdup(text);

        /* The daemon logs it as one line: a reason with newlines in it would be two. */
        for (char *p = one_line; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        json_gen_kv_str(g, "app", app);
        json_gen_kv_str(g, "event", event);
        json_gen_kv_str(g, strcmp(event, "error") == 0 ? "error" : "version", one_line);
        free(one_line);
        if (answer_object_end(&a) < 0)
                exit(EXIT_FAIL);
}

static void poll_one(const struct config *c, struct source *src, struct app_poll *p)
{
        char version[VERSION_MAX + 1];
        struct buf err = BUF_INIT;
        bool changed = false;
        int r;

        r = desired_poll(c, p->app, src, version, &changed, &err);
        /* For the metrics; losing a count is better than failing the poll. */
        (void)source_stats_record(c, p->app->name, r == 0, time_now_ms());
        if (r < 0) {
                p->failures++;
                p->reported = false;
                tell(p->app->name, "error", err.data);
        } else {
                p->failures = 0;
                if (changed)
                        tell(p->app->name, "changed", version[0] ? version : "-");
                else if (!p->reported)
                        tell(p->app->name, "ok", version[0] ? version : "-");
                p->reported = true;
        }
        p->next_ms = time_mono_ms() + poll_next_delay_ms(c->poll_interval_ms, p->failures,
                                                         (uint32_t)random());
        buf_release(&err);
}

static int run_x_poller(const struct cli *cli, int argc, char **argv)
{
        struct app_poll *polls = NULL;
        struct source *src = NULL;
        struct buf err = BUF_INIT;
        struct config c;
        int r;

        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_x_poller, "takes no arguments");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        r = EXIT_FAIL;
        http_keep_connections(); /* before any request */
        if (source_open(&c, &src, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                goto out;
        }
        if (src->ops->watch_dir) {
                fprintf(stderr, "%s is watched with inotify, not polled\n", src->url);
                goto out;
        }
        /* A write to a daemon that is gone must fail, not kill us silently. */
        signal(SIGPIPE, SIG_IGN);
        srandom((unsigned)(time_now_ms() ^ (uint64_t)getpid()));
        polls = xcalloc(c.napps + 1, sizeof(*polls));
        for (size_t i = 0; i < c.napps; i++)
                polls[i].app = &c.apps[i]; /* next_ms 0: the first poll at once */
        for (;;) {
                uint64_t next = 0;

                for (size_t i = 0; i < c.napps; i++) {
                        if (polls[i].next_ms <= time_mono_ms())
                                poll_one(&c, src, &polls[i]);
                        if (next == 0 || polls[i].next_ms < next)
                                next = polls[i].next_ms;
                }
                if (c.napps == 0)
                        next = time_mono_ms() + c.poll_interval_ms; /* nothing to poll: idle */
                time_sleep_until_mono_ms(next);
        }
out:
        free(polls);
        source_free(src);
        config_release(&c);
        buf_release(&err);
        return r;
}

const struct cli_command cmd_x_poller = {
        .name = "__poller",
        .usage = "__poller",
        .summary = "(internal) poll the remote source for every app, for as long as the daemon runs",
        .help = "",
        .run = run_x_poller,
};
