/*
 * metrics: see metrics.h.  The text is built family by family: each family
 * walks every app (and instance), so that its samples stay together as the
 * exposition format requires.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconciler/shared/app_view.h"
#include "reconciler/shared/metrics.h"
#include "base/proc.h"
#include "beam/otp.h"
#include "state/history.h"
#include "state/json.h"
#include "state/paths.h"
#include "buckets/source_stats.h"
#include "base/banned.h"

/* Everything known about one app, loaded once. */
struct app_metrics {
        struct app_view view;
        struct otp_probe *probes;
        size_t nprobes;
        struct history_list history;
        struct source_stats poll;
        bool polled; /* source.json exists */
};

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
        buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct buf *out, const char *v)
{
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        buf_putc(out, '\\');
                if (*v == '\n') {
                        buf_puts(out, "\\n");
                        continue;
                }
                buf_putc(out, *v);
        }
}

/* name{app="a"[,instance="n"][,extra]} value */
static void sample(struct buf *out, const char *name, const char *app, int instance,
                   const char *extra_key, const char *extra_value, const char *value)
{
        buf_printf(out, "%s{app=\"", name);
        label_value(out, app);
        buf_putc(out, '"');
        if (instance > 0)
                buf_printf(out, ",instance=\"%d\"", instance);
        if (extra_key && extra_value) {
                buf_printf(out, ",%s=\"", extra_key);
                label_value(out, extra_value);
                buf_putc(out, '"');
        }
        buf_printf(out, "} %s\n", value);
}

static void sample_u64(struct buf *out, const char *name, const char *app, int instance, uint64_t v)
{
        char num[32];

        snprintf(num, sizeof(num), "%" PRIu64, v);
        sample(out, name, app, instance, NULL, NULL, num);
}

static bool is_live(const struct instance_record *r)
{
        return r && r->pid > 0 && proc_is_same(r->pid, r->proc_start_time);
}

/* The instances worth a sample: 1..replicas, and any recorded beyond (scaling down). */
static int instance_max(const struct app_metrics *m)
{
        int max = m->view.app->replicas;

        for (size_t i = 0; i < m->view.nrecords; i++)
                if (m->view.records[i].instance > max)
                        max = m->view.records[i].instance;
        return max;
}

static void load_app(const struct config *c, const struct app_config *app, struct app_metrics *m)
{
        struct buf path = BUF_INIT, err = BUF_INIT;

        memset(m, 0, sizeof(*m));
        app_view_load(c, app, NULL, false, &m->view);
        path_otp_status(c, app->name, &path);
        if (otp_status_load(path.data, &m->probes, &m->nprobes, &err) < 0) {
                m->probes = NULL;
                m->nprobes = 0;
        }
        path_history(c, app->name, &path);
        if (history_load(path.data, &m->history, &err) < 0)
                memset(&m->history, 0, sizeof(m->history));
        m->polled = source_stats_load(c, app->name, &m->poll) == 0;
        buf_release(&path);
        buf_release(&err);
}

static void release_app(struct app_metrics *m)
{
        app_view_release(&m->view);
        free(m->probes);
        history_release(&m->history);
}

/* ---- instances ---- */

enum inst_field { F_UP, F_READY, F_UPTIME, F_CRASHES, F_FORCED };

static void instance_family(struct buf *out, const struct app_metrics *apps, size_t napps,
                            const char *name, const char *type, const char *help,
                            enum inst_field f, uint64_t now_ms)
{
        family(out, name, type, help);
        for (size_t a = 0; a < napps; a++) {
                const struct app_metrics *m = &apps[a];
                const char *app = m->view.app->name;

                for (int n = 1; n <= instance_max(m); n++) {
                        const struct instance_record *r = app_view_record(&m->view, n);
                        bool live = is_live(r);
                        uint64_t v = 0;

                        switch (f) {
                        case F_UP:
                                v = live;
                                break;
                        case F_READY:
                                v = live && r->ready;
                                break;
                        case F_UPTIME:
                                v = live && r->started_at_ms && now_ms > r->started_at_ms
                                            ? (now_ms - r->started_at_ms) / 1000 : 0;
                                break;
                        case F_CRASHES:
                                v = r ? r->crash_restarts : 0;
                                break;
                        case F_FORCED:
                                v = r ? r->forced_restarts : 0;
                                break;
                        }
                        sample_u64(out, name, app, n, v);
                }
        }
}

static void version_info(struct buf *out, const struct app_metrics *apps, size_t napps)
{
        family(out, "deployex_instance_version_info", "gauge",
               "The release an instance runs (1 for the version it runs).");
        for (size_t a = 0; a < napps; a++)
                for (int n = 1; n <= instance_max(&apps[a]); n++) {
                        const struct instance_record *r = app_view_record(&apps[a].view, n);

                        if (is_live(r) && r->version[0])
                                sample(out, "deployex_instance_version_info", apps[a].view.app->name,
                                       n, "version", r->version, "1");
                }
}

/* ---- the BEAM, from the probe ---- */

static void vm_family(struct buf *out, const struct app_metrics *apps, size_t napps,
                      const char *name, const char *help, size_t offset, uint64_t now_ms)
{
        family(out, name, "gauge", help);
        for (size_t a = 0; a < napps; a++) {
                const struct app_metrics *m = &apps[a];

                for (int n = 1; n <= instance_max(m); n++) {
                        const struct instance_record *r = app_view_record(&m->view, n);
                        const struct otp_probe *p = otp_status_find(m->probes, m->nprobes, n);
                        long long v;

                        /* Only a fresh probe of the process that runs now. */
                        if (!p || !p->has_vm || !is_live(r) || p->pid != r->pid ||
                            p->at_ms + OTP_FRESH_MS < now_ms)
                                continue;
                        v = *(const long long *)((const char *)&p->vm + offset);
                        sample_u64(out, name, m->view.app->name, n, v > 0 ? (uint64_t)v : 0);
                }
        }
}

/* ---- deployments, from history ---- */

static void deployments(struct buf *out, const struct app_metrics *apps, size_t napps)
{
        static const enum history_kind kinds[] = { HISTORY_FULL, HISTORY_HOT, HISTORY_ROLLBACK,
                                                   HISTORY_RESTART };
        const char *name = "deployex_deployments_total";

        family(out, name, "counter",
               "Deployment steps by kind (full, hot, rollback, restart) and result (ok, failed).");
        for (size_t a = 0; a < napps; a++)
                for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
                        for (int ok = 1; ok >= 0; ok--) {
                                uint64_t count = 0;

                                for (size_t i = 0; i < apps[a].history.n; i++)
                                        count += apps[a].history.items[i].kind == kinds[k] &&
                                                 apps[a].history.items[i].ok == ok;
                                buf_printf(out, "%s{app=\"", name);
                                label_value(out, apps[a].view.app->name);
                                buf_printf(out, "\",kind=\"%s\",result=\"%s\"} %" PRIu64 "\n",
                                           history_kind_to_string(kinds[k]), ok ? "ok" : "failed",
                                           count);
                        }
        family(out, "deployex_rollbacks_total", "counter", "Rollbacks to the previous release.");
        for (size_t a = 0; a < napps; a++) {
                uint64_t count = 0;

                for (size_t i = 0; i < apps[a].history.n; i++)
                        count += apps[a].history.items[i].kind == HISTORY_ROLLBACK;
                sample_u64(out, "deployex_rollbacks_total", apps[a].view.app->name, 0, count);
        }
        family(out, "deployex_ghosts", "gauge", "Ghosted versions: never deployed again until unghosted.");
        for (size_t a = 0; a < napps; a++)
                sample_u64(out, "deployex_ghosts", apps[a].view.app->name, 0, apps[a].view.ghosts.n);
}

static void desired(struct buf *out, const struct app_metrics *apps, size_t napps)
{
        family(out, "deployex_desired_version_info", "gauge",
               "The version an app should run and where that comes from (source, override).");
        for (size_t a = 0; a < napps; a++) {
                const struct desired *d = &apps[a].view.desired;

                if (d->origin == DESIRED_NONE || !d->release.version[0])
                        continue;
                buf_puts(out, "deployex_desired_version_info{app=\"");
                label_value(out, apps[a].view.app->name);
                buf_puts(out, "\",version=\"");
                label_value(out, d->release.version);
                buf_printf(out, "\",origin=\"%s\"} 1\n", desired_origin_to_string(d->origin));
        }
        family(out, "deployex_desired_paused", "gauge", "1 while the app is paused.");
        for (size_t a = 0; a < napps; a++)
                sample_u64(out, "deployex_desired_paused", apps[a].view.app->name, 0,
                           apps[a].view.desired.override.paused);
}

static void polls(struct buf *out, const struct app_metrics *apps, size_t napps)
{
        family(out, "deployex_source_polls_total", "counter",
               "Polls of current.json (s3:// and gs://; file:// is watched, not polled).");
        for (size_t a = 0; a < napps; a++)
                if (apps[a].polled)
                        sample_u64(out, "deployex_source_polls_total", apps[a].view.app->name, 0,
                                   apps[a].poll.polls);
        family(out, "deployex_source_errors_total", "counter", "Polls of current.json that failed.");
        for (size_t a = 0; a < napps; a++)
                if (apps[a].polled)
                        sample_u64(out, "deployex_source_errors_total", apps[a].view.app->name, 0,
                                   apps[a].poll.errors);
        family(out, "deployex_source_last_success_timestamp_seconds", "gauge",
               "When a poll of current.json last succeeded (Unix time).");
        for (size_t a = 0; a < napps; a++)
                if (apps[a].polled && apps[a].poll.last_success_ms)
                        sample_u64(out, "deployex_source_last_success_timestamp_seconds",
                                   apps[a].view.app->name, 0, apps[a].poll.last_success_ms / 1000);
}

/* ---- the host ---- */

static void host(struct buf *out)
{
        struct buf text = BUF_INIT;
        unsigned long long total = 0, avail = 0;
        double load[3];
        bool have_load = false;

        if (file_read_all("/proc/meminfo", 64 * 1024, &text) >= 0) {
                const char *t = strstr(text.data, "MemTotal:"), *v = strstr(text.data, "MemAvailable:");

                if (t)
                        sscanf(t, "MemTotal: %llu kB", &total);
                if (v)
                        sscanf(v, "MemAvailable: %llu kB", &avail);
        }
        buf_reset(&text);
        if (file_read_all("/proc/loadavg", 4096, &text) >= 0)
                have_load = sscanf(text.data, "%lf %lf %lf", &load[0], &load[1], &load[2]) == 3;
        family(out, "deployex_host_memory_total_bytes", "gauge", "The host's memory (MemTotal).");
        if (total)
                buf_printf(out, "deployex_host_memory_total_bytes %llu\n", total * 1024);
        family(out, "deployex_host_memory_available_bytes", "gauge",
               "Memory available for new work without swapping (MemAvailable).");
        if (total)
                buf_printf(out, "deployex_host_memory_available_bytes %llu\n", avail * 1024);
        family(out, "deployex_host_load", "gauge", "The load average over 1, 5 and 15 minutes.");
        if (have_load) {
                buf_printf(out, "deployex_host_load{period=\"1m\"} %.2f\n", load[0]);
                buf_printf(out, "deployex_host_load{period=\"5m\"} %.2f\n", load[1]);
                buf_printf(out, "deployex_host_load{period=\"15m\"} %.2f\n", load[2]);
        }
        buf_release(&text);
}

void metrics_render(const struct config *c, uint64_t now_ms, struct buf *out)
{
        struct app_metrics *apps = xcalloc(c->napps + 1, sizeof(*apps));
        size_t n = c->napps;

        for (size_t i = 0; i < n; i++)
                load_app(c, &c->apps[i], &apps[i]);

        family(out, "deployex_daemon_up", "gauge", "1 when the daemon for this var_path runs.");
        buf_printf(out, "deployex_daemon_up %d\n", daemon_running_pid(c) > 0);
        instance_family(out, apps, n, "deployex_instance_up", "gauge",
                        "1 when the instance's process runs.", F_UP, now_ms);
        instance_family(out, apps, n, "deployex_instance_ready", "gauge",
                        "1 when the instance runs and is ready.", F_READY, now_ms);
        instance_family(out, apps, n, "deployex_instance_uptime_seconds", "gauge",
                        "How long the instance's process has run.", F_UPTIME, now_ms);
        instance_family(out, apps, n, "deployex_instance_crash_restarts_total", "counter",
                        "Restarts after the instance exited on its own.", F_CRASHES, now_ms);
        instance_family(out, apps, n, "deployex_instance_forced_restarts_total", "counter",
                        "Restarts deployex asked for (restart tokens, watchdog).", F_FORCED, now_ms);
        version_info(out, apps, n);
        deployments(out, apps, n);
        desired(out, apps, n);
        polls(out, apps, n);
        vm_family(out, apps, n, "deployex_beam_memory_bytes",
                  "Memory the VM has allocated (erlang:memory(total)).",
                  offsetof(struct otp_vm, memory_bytes), now_ms);
        vm_family(out, apps, n, "deployex_beam_processes", "Erlang processes.",
                  offsetof(struct otp_vm, processes), now_ms);
        vm_family(out, apps, n, "deployex_beam_processes_limit", "The VM's process limit (+P).",
                  offsetof(struct otp_vm, process_limit), now_ms);
        vm_family(out, apps, n, "deployex_beam_atoms", "Atoms in the atom table.",
                  offsetof(struct otp_vm, atoms), now_ms);
        vm_family(out, apps, n, "deployex_beam_atoms_limit", "The atom table's size (+t).",
                  offsetof(struct otp_vm, atom_limit), now_ms);
        vm_family(out, apps, n, "deployex_beam_ports", "Open ports.",
                  offsetof(struct otp_vm, ports), now_ms);
        vm_family(out, apps, n, "deployex_beam_ports_limit", "The VM's port limit (+Q).",
                  offsetof(struct otp_vm, port_limit), now_ms);
        host(out);

        for (size_t i = 0; i < n; i++)
                release_app(&apps[i]);
        free(apps);
}
