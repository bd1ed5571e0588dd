/*
 * paths: every on-disk location of DESIGN §4.4.  See paths.h.
 */
#include "state/paths.h"

#include <string.h>

#include "base/banned.h"

/* base without trailing slashes ("/" stays "/"), so "/var/lib/deployex/" joins cleanly. */
static void put_base(struct buf *out, const char *base)
{
        size_t n = strlen(base);

        while (n > 1 && base[n - 1] == '/')
                n--;
        buf_reset(out);
        if (n == 1 && base[0] == '/')
                return;
        buf_append(out, base, n);
}

void path_state_root(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/state");
}

void path_state_dir(const struct config *c, const char *app, struct buf *out)
{
        put_base(out, c->var_path);
        buf_printf(out, "/state/%s", app);
}

void path_instances_dir(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/instances");
}

void path_instance_record(const struct config *c, const char *app, int n, struct buf *out)
{
        path_instances_dir(c, app, out);
        buf_printf(out, "/%d.json", n);
}

void path_history(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/history.jsonl");
}

void path_ghosts(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/ghosts.json");
}

void path_journal(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/journal.json");
}

void path_deferred(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/deferred.json");
}

void path_desired(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/desired.json");
}

void path_last_override(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/override.json");
}

void path_override(const struct config *c, const char *app, struct buf *out)
{
        put_base(out, c->overrides_path);
        buf_printf(out, "/%s.json", app);
}

void path_service_root(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/service/");
}

void path_service_dir(const struct config *c, const char *app, int n, struct buf *out)
{
        put_base(out, c->var_path);
        buf_printf(out, "/service/%s/%d", app, n);
}

void path_release_dir(const struct config *c, const char *app, int n, const char *which, struct buf *out)
{
        path_service_dir(c, app, n, out);
        buf_printf(out, "/%s", which);
}

void path_cache_file(const struct config *c, const char *app, const char *version, struct buf *out)
{
        put_base(out, c->var_path);
        buf_printf(out, "/cache/%s/%s-%s.tar.gz", app, app, version);
}

void path_log_dir(const struct config *c, const char *app, struct buf *out)
{
        put_base(out, c->log_path);
        buf_printf(out, "/%s", app);
}

void path_log_file(const struct config *c, const char *app, int n, bool is_stderr, struct buf *out)
{
        put_base(out, c->log_path);
        buf_printf(out, "/%s/%s-%d-%s.log", app, app, n, is_stderr ? "stderr" : "stdout");
}

void path_pid_file(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/run/deployex.pid");
}

void path_host_fault(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/run/host_fault.json");
}

void path_tls_dist_file(const struct config *c, const char *app, struct buf *out)
{
        put_base(out, c->var_path);
        buf_printf(out, "/tls/%s.ssl_dist.conf", app);
}

void path_rollout(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/rollout.json");
}

void path_fleet_turn(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/fleet.json");
}

void path_releases_dir(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/releases");
}

void path_release_record(const struct config *c, const char *app, const char *version,
                         struct buf *out)
{
        path_releases_dir(c, app, out);
        buf_printf(out, "/%s.json", version);
}

void path_otp_status(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/otp.json");
}

void path_watchdog(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/watchdog.json");
}

void path_source_stats(const struct config *c, const char *app, struct buf *out)
{
        path_state_dir(c, app, out);
        buf_puts(out, "/source.json");
}

void path_audit(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/state/audit.jsonl");
}

void path_notify_cursor(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/state/notify/cursor.json");
}

void path_run_dir(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/run");
}

void path_lock_file(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/run/deployex.lock");
}

void path_job_config(const struct config *c, struct buf *out)
{
        put_base(out, c->var_path);
        buf_puts(out, "/run/config.json");
}

void path_notify_dir(const struct config *c, const char *sub, struct buf *out)
{
        put_base(out, c->var_path);
        buf_printf(out, "/state/notify%s%s", sub[0] ? "/" : "", sub);
}
