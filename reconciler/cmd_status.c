/*
 * deployex status [--json] [APP]: desired against observed, per app and
 * instance (DESIGN §3 has the JSON shape).  Works without a daemon: it reads
 * the state files, checks each recorded pid against /proc (pid + start time)
 * and says "daemon": {"running": false}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_view.h"
#include "cli.h"
#include "proc.h"
#include "report.h"
#include "../state/history.h"
#include "../state/banned.h"

static void print_app(const struct config *c, const struct app_view *v, bool daemon_up, uint64_t now)
{
        const struct desired *d = &v->desired;
        struct otp_view ov;

        printf("%s (%s)  desired %s", v->app->name, language_to_string(v->app->language),
               d->release.version[0] ? d->release.version : "none");
        if (d->origin != DESIRED_NONE)
                printf(" (%s%s%s)", desired_origin_to_string(d->origin),
                       d->release.hash[0] ? ", hash " : "", d->release.hash);
        printf("%s\n", d->override.paused ? "  PAUSED" : "");
        if (d->error)
                printf("  error: %s\n", d->error);
        if (v->errors.len)
                printf("  error: %s\n", v->errors.data);
        if (v->ghosts.n) {
                printf("  ghosts:");
                for (size_t i = 0; i < v->ghosts.n; i++)
                        printf(" %s", v->ghosts.items[i].version);
                printf("\n");
        }
        otp_view_load(c, v->app->name, &ov);
        for (int n = 1; n <= app_view_instance_count(v); n++) {
                const struct instance_record *r = app_view_record(v, n);
                const struct otp_probe *probe = otp_status_find(ov.probes, ov.n, n);
                const char *otp;
                struct live l;

                report_live_of(r, daemon_up, now, &l);
                otp = otp_status_of(probe, daemon_up, l.pid, now);
                printf("  %d  %-12s %-12s", n, l.state, l.version ? l.version : "-");
                if (l.pid)
                        printf("  pid %d  up %llus", l.pid, (unsigned long long)(l.uptime_ms / 1000));
                if (l.pid && strcmp(otp, "connected") == 0)
                        printf("  otp %s%s", probe->release[0] ? probe->release : "connected",
                               probe->tls ? " (tls)" : "");
                else if (l.pid)
                        printf("  otp %s", otp);
                if (r)
                        printf("  crashes %llu  forced %llu", (unsigned long long)r->crash_restarts,
                               (unsigned long long)r->forced_restarts);
                if (r && r->has_last_deploy) {
                        char at[32];
                        time_format_iso(r->last_deploy_at_ms, at, sizeof(at));
                        printf("  last %s %s %s", history_kind_to_string(r->last_deploy_kind),
                               r->last_deploy_ok ? "ok" : "failed", at);
                }
                if (r && r->target_version[0])
                        printf("  -> %s", r->target_version);
                printf("\n");
                if (r && r->last_error_at_ms) {
                        char at[32];
                        time_format_iso(r->last_error_at_ms, at, sizeof(at));
                        printf("     last error %s: %s\n", at, r->last_error);
                }
        }
        otp_view_release(&ov);
}

static int run(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct source *src = NULL;
        const char *only = NULL;
        bool json = false;
        int r, pid;

        if ((r = cli_parse_json_app(&cmd_status, argc, argv, false, &json, &only)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_check_state_readable(&cmd_status, &c) != EXIT_OK || (only && !cli_find_app(&c, only))) {
                config_release(&c);
                return EXIT_FAIL;
        }
        if (source_open(&c, &src, &err) < 0)
                fprintf(stderr, "deployex: %s\n", err.data);
        if (json) {
                report_status_json(&c, src, only, &out);
                printf("%s\n", out.data);
                goto out;
        }
        pid = daemon_running_pid(&c);
        uint64_t now = time_now_ms();
        if (pid > 0)
                printf("daemon: running (pid %d)\n", pid);
        else
                printf("daemon: not running\n");
        for (size_t i = 0; i < c.napps; i++) {
                struct app_view v;

                if (only && strcmp(only, c.apps[i].name) != 0)
                        continue;
                app_view_load(&c, &c.apps[i], src, false, &v);
                print_app(&c, &v, pid > 0, now);
                app_view_release(&v);
        }
out:
        source_free(src);
        config_release(&c);
        buf_release(&err);
        buf_release(&out);
        return EXIT_OK;
}

const struct cli_command cmd_status = {
        .name = "status",
        .usage = "status [--json] [APP]",
        .summary = "desired vs observed, per app and instance",
        .help = "Shows, per app, the desired version and where it comes from (the bucket's\n"
                "current.json or a pin), errors reading either, ghosted versions, and per\n"
                "instance its state, version, pid, uptime and restart counters. Works while the\n"
                "daemon is down (then \"daemon\": {\"running\": false}); a recorded process that\n"
                "is gone is shown as stopped.\n\n"
                "  --json   the stable JSON shape documented in docs/cli.md\n",
        .run = run,
};
