/*
 * deployex status [--json] [-w] [APP]: desired against observed, per app and
 * instance (DESIGN §3 has the JSON shape; the text form a header line,
 * durations with units, RFC 3339 times, a ready count per app).  Works without a daemon: it reads
 * the state files, checks each recorded pid against /proc (pid + start time)
 * and says "daemon": {"running": false}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/shared/app_view.h"
#include "reconciler/cmd/cli.h"
#include "base/proc.h"
#include "reconciler/shared/report.h"
#include "reconciler/shared/human.h"
#include "reconciler/cmd/watch.h"
#include "state/history.h"
#include "state/host_fault.h"
#include "state/json.h"
#include "state/paths.h"
#include "buckets/webhook.h"
#include "base/banned.h"

/* What the text form needs to know for one frame. */
struct status_frame {
        const struct config *c;
        struct source *src;
        const char *only;
        bool json;
        bool colour;
        int procfd; /* /proc (proc_dir_open), or AT_FDCWD */
};

static enum human_colour state_colour(const char *state)
{
        if (strcmp(state, "running") == 0)
                return HUMAN_GREEN;
        if (strcmp(state, "backoff") == 0)
                return HUMAN_RED;
        if (strcmp(state, "stopped") == 0)
                return HUMAN_DIM;
        return HUMAN_YELLOW; /* deploying, pre_commands, starting, upgrading: on the move */
}

/* A cell padded to width (the escape codes of a colour take no column). */
static void cell(struct buf *out, bool colour, enum human_colour hc, const char *text, int width)
{
        int pad = width - (int)strlen(text);

        human_paint(out, colour, hc, text);
        for (; pad > 0; pad--)
                buf_putc(out, ' ');
}

/* The instances over a watchdog threshold at the last check (state/APP/watchdog.json). */
static void print_watchdog(struct buf *out, const struct status_frame *f, const struct app_config *app)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        yajl_val root = NULL, inst;

        if (!app->watchdog.set)
                return;
        path_watchdog(f->c, app->name, &path);
        if (json_parse_file(path.data, JSON_MAX_BYTES, &root, &err) == 0) {
                inst = json_get(root, "instances");
                for (size_t i = 0; inst && YAJL_IS_OBJECT(inst) && i < inst->u.object.len; i++) {
                        yajl_val why = json_get(inst->u.object.values[i], "reason");
                        yajl_val act = json_get(inst->u.object.values[i], "action");

                        buf_puts(out, "  ");
                        human_paint(out, f->colour, HUMAN_YELLOW, "watchdog:");
                        buf_printf(out, " instance %s: %s (%s)\n", inst->u.object.keys[i],
                                   YAJL_IS_STRING(why) ? why->u.string : "over a threshold",
                                   YAJL_IS_STRING(act) ? act->u.string : "warn");
                }
                yajl_tree_free(root);
        }
        buf_release(&path);
        buf_release(&err);
}

static void print_app(struct buf *out, const struct status_frame *f, const struct app_view *v,
                      bool daemon_up, uint64_t now)
{
        const struct desired *d = &v->desired;
        int count = app_view_instance_count(v), ready = 0;
        /* Each process is looked at once: the ready count and the rows say the same. */
        struct live *lives = xcalloc((size_t)count + 1, sizeof(*lives));
        struct otp_view ov;
        char text[96];

        for (int n = 1; n <= count; n++) {
                const struct instance_record *r = app_view_record(v, n);

                report_live_of(f->procfd, r, daemon_up, now, &lives[n]);
                ready += lives[n].pid && r && r->ready;
        }
        buf_putc(out, '\n');
        human_paint(out, f->colour, HUMAN_BOLD, v->app->name);
        buf_printf(out, " (%s)  desired %s", language_to_string(v->app->language),
                   d->release.version[0] ? d->release.version : "none");
        if (d->origin != DESIRED_NONE)
                buf_printf(out, " (%s%s%.12s)", desired_origin_to_string(d->origin),
                           d->release.hash[0] ? ", hash " : "", d->release.hash);
        snprintf(text, sizeof(text), "%d/%d ready", ready, v->app->replicas);
        buf_puts(out, "  ");
        human_paint(out, f->colour,
                    ready >= v->app->replicas ? HUMAN_GREEN : ready > 0 ? HUMAN_YELLOW : HUMAN_RED,
                    text);
        if (d->override.paused) {
                buf_puts(out, "  ");
                human_paint(out, f->colour, HUMAN_YELLOW, "PAUSED");
        }
        buf_putc(out, '\n');
        if (d->error) {
                buf_puts(out, "  ");
                human_paint(out, f->colour, HUMAN_RED, "error:");
                buf_printf(out, " %s\n", d->error);
        }
        if (v->errors.len) {
                buf_puts(out, "  ");
                human_paint(out, f->colour, HUMAN_RED, "error:");
                buf_printf(out, " %s\n", v->errors.data);
        }
        print_watchdog(out, f, v->app);
        if (v->ghosts.n) {
                buf_puts(out, "  ghosts:");
                for (size_t i = 0; i < v->ghosts.n; i++)
                        buf_printf(out, " %s", v->ghosts.items[i].version);
                buf_putc(out, '\n');
        }
        if (v->has_fleet) {
                buf_printf(out, "  fleet: host %s", f->c->fleet_host);
                if (v->claim.slot >= 0)
                        buf_printf(out, ", slot %d of %s", v->claim.slot, v->claim.version);
                if (v->fleet.version[0] && !v->fleet.go && v->fleet.reason[0])
                        buf_printf(out, ": %s", v->fleet.reason);
                else if (v->fleet.version[0] && v->fleet.go)
                        buf_puts(out, ": its turn");
                buf_putc(out, '\n');
        }
        if (count == 0) {
                free(lives);
                return;
        }
        /* 99 columns with versions of up to 11 characters. */
        buf_printf(out, "  %-3s%-13s%-12s%-8s%-8s%-10s%-8s%-7s%s\n", "N", "STATE", "VERSION", "PID",
                   "UPTIME", "OTP", "CRASHES", "FORCED", "LAST DEPLOY");
        otp_view_load(f->c, v->app->name, &ov);
        for (int n = 1; n <= count; n++) {
                const struct instance_record *r = app_view_record(v, n);
                const struct otp_probe *probe = otp_status_find(ov.probes, ov.n, n);
                const struct live l = lives[n];
                const char *otp;

                otp = otp_status_of(probe, daemon_up, l.pid, now);
                buf_printf(out, "  %-3d", n);
                cell(out, f->colour, state_colour(l.state), l.state, 13);
                buf_printf(out, "%-11s ", l.version ? l.version : "-");
                if (l.pid) {
                        snprintf(text, sizeof(text), "%d", l.pid);
                        buf_printf(out, "%-8s", text);
                        human_duration(l.uptime_ms, text, sizeof(text));
                        buf_printf(out, "%-8s", text);
                } else {
                        buf_printf(out, "%-8s%-8s", "-", "-");
                }
                if (l.pid && strcmp(otp, "connected") == 0)
                        snprintf(text, sizeof(text), "%s%s", probe->release[0] ? probe->release : "connected",
                                 probe->tls ? " tls" : "");
                else /* disconnected / unknown, short enough for the column */
                        snprintf(text, sizeof(text), "%s",
                                 !l.pid ? "-" : strcmp(otp, "disconnected") == 0 ? "down" : "?");
                buf_printf(out, "%-9s ", text);
                snprintf(text, sizeof(text), "%llu", r ? (unsigned long long)r->crash_restarts : 0ULL);
                cell(out, f->colour, r && r->crash_restarts ? HUMAN_YELLOW : HUMAN_PLAIN, text, 8);
                buf_printf(out, "%-7llu", r ? (unsigned long long)r->forced_restarts : 0ULL);
                if (r && r->has_last_deploy) {
                        char at[32];

                        time_format_iso(r->last_deploy_at_ms, at, sizeof(at));
                        buf_printf(out, "%s ", history_kind_to_string(r->last_deploy_kind));
                        human_paint(out, f->colour, r->last_deploy_ok ? HUMAN_PLAIN : HUMAN_RED,
                                    r->last_deploy_ok ? "ok" : "failed");
                        buf_printf(out, " %s", at);
                } else {
                        buf_puts(out, "-");
                }
                buf_putc(out, '\n');
                /* Under the row: where a step in flight takes it, and the latest failure. */
                if (r && r->target_version[0])
                        buf_printf(out, "     -> %s (a step in progress)\n", r->target_version);
                if (r && r->last_error_at_ms) {
                        char at[32];

                        time_format_iso(r->last_error_at_ms, at, sizeof(at));
                        buf_puts(out, "     ");
                        human_paint(out, f->colour, HUMAN_RED, "last error");
                        buf_printf(out, " %s: %s\n", at, r->last_error);
                }
        }
        otp_view_release(&ov);
        free(lives);
}

/* One frame: the JSON document, or the header line and every app. */
static int render(void *ctx, struct buf *out)
{
        const struct status_frame *f = ctx;
        uint64_t now = time_now_ms();
        char at[32];
        int pid;

        if (f->json) {
                report_status_json(f->c, f->src, f->only, out);
                buf_putc(out, '\n');
                return 0;
        }
        pid = daemon_running_pid(f->c);
        time_format_iso(now, at, sizeof(at));
        buf_printf(out, "deployex %s  %s  ", DEPLOYEX_VERSION, at);
        if (pid > 0) {
                struct buf path = BUF_INIT, ferr = BUF_INIT;
                struct host_fault hf;

                human_paint(out, f->colour, HUMAN_GREEN, "daemon running");
                buf_printf(out, " (pid %d)\n", pid);
                /* The host ran out of fds, memory or disk: nothing a release did. */
                path_host_fault(f->c, &path);
                if (host_fault_load(path.data, &hf, &ferr) == 0) {
                        char since[32];
                        time_format_iso(hf.since_ms, since, sizeof(since));
                        human_paint(out, f->colour, HUMAN_RED, "host fault");
                        buf_printf(out, " since %s (%u failed attempts): %s\n", since, hf.count,
                                   hf.what);
                }
                buf_release(&path);
                buf_release(&ferr);
                /* A full or read-only var_path: the daemon cannot even write that down. */
                const char *vfault = report_var_path_fault(f->c);
                if (vfault) {
                        human_paint(out, f->colour, HUMAN_RED, "degraded");
                        buf_printf(out, ": var_path '%s' is %s; instances are supervised, no step "
                                   "starts until it can be written\n", f->c->var_path, vfault);
                }
        } else {
                human_paint(out, f->colour, HUMAN_RED, "daemon not running");
                buf_putc(out, '\n');
        }
        if (f->c->nnotify > 0) {
                struct webhook_status ws;

                webhook_status(f->c, &ws);
                buf_printf(out, "notify: %u queued", ws.queued);
                if (ws.failed)
                        buf_printf(out, ", %u given up (state/notify/failed)", ws.failed);
                if (ws.queued && ws.last_error[0]) {
                        buf_puts(out, ", last error: ");
                        human_paint(out, f->colour, HUMAN_RED, ws.last_error);
                }
                buf_putc(out, '\n');
        }
        for (size_t i = 0; i < f->c->napps; i++) {
                struct app_view v;

                if (f->only && strcmp(f->only, f->c->apps[i].name) != 0)
                        continue;
                app_view_load(f->c, &f->c->apps[i], f->src, false, &v);
                print_app(out, f, &v, pid > 0, now);
                app_view_release(&v);
        }
        return 0;
}

static int run(const struct cli *cli, int argc, char **argv)
{
        struct status_frame f = { .only = NULL };
        struct config c;
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct source *src = NULL;
        bool watch = false;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        f.json = true;
                else if (strcmp(argv[i], "-w") == 0 || strcmp(argv[i], "--watch") == 0)
                        watch = true;
                else if (argv[i][0] == '-')
                        return cli_usage_error(&cmd_status, "unknown option '%s'", argv[i]);
                else if (!f.only)
                        f.only = argv[i];
                else
                        return cli_usage_error(&cmd_status, "unexpected argument '%s'", argv[i]);
        }
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_check_state_readable(&cmd_status, &c) != EXIT_OK || (f.only && !cli_find_app(&c, f.only))) {
                config_release(&c);
                return EXIT_FAIL;
        }
        /* -w redraws often: a remote bucket is not asked each time (the daemon's last good is shown). */
        if ((!watch || (c.source && strncmp(c.source, "file://", 7) == 0)) &&
            cli->open_source(&c, &src, &err) < 0)
                fprintf(stderr, "deployex: %s\n", err.data);
        f.c = &c;
        f.src = src;
        f.procfd = proc_dir_open();
        f.colour = !f.json && human_colour_wanted(stdout);
        r = EXIT_OK;
        if (watch) {
                int w = watch_run(&c, render, &f);
                if (w < 0) {
                        fprintf(stderr, "deployex status: -w: %s\n", strerror(-w));
                        r = EXIT_FAIL;
                }
        } else {
                render(&f, &out);
                fwrite(out.data, 1, out.len, stdout);
        }
        if (f.procfd >= 0)
                close(f.procfd);
        source_free(src);
        config_release(&c);
        buf_release(&err);
        buf_release(&out);
        return r;
}

const struct cli_command cmd_status = {
        .name = "status",
        .usage = "status [--json] [-w] [APP]",
        .summary = "desired vs observed, per app and instance",
        .help = "Shows, per app, the desired version and where it comes from (the bucket's\n"
                "current.json or a pin), how many instances are ready, errors reading either,\n"
                "ghosted versions, and per instance its state, version, pid, uptime, OTP link,\n"
                "restart counters and last deployment.  Works while the daemon is down (then\n"
                "\"daemon\": {\"running\": false}); a recorded process that is gone is shown as\n"
                "stopped.  Colour only on a terminal, and never with NO_COLOR set.\n\n"
                "  --json     the stable JSON shape documented in docs/cli.md\n"
                "  -w         redraw on every change of the state files (inotify) until\n"
                "             interrupted; with --json, one document a line per change\n",
        .run = run,
};
