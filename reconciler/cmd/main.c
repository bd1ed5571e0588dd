/*
 * deployex-cli: the full program, every command (DESIGN §3), linked with every
 * library.  It is installed as lib/deployex/deployex-cli; bin/deployex is the
 * lean front (front_main.c), which runs the readers itself and execs this
 * program for everything else.  The daemon runs this program for its jobs.
 * main() only builds the table; dispatch.c parses the global options and
 * picks the command; each command is in a file of its own in reconciler/cmd/.
 */
#include "reconciler/cmd/cli.h"
#include "buckets/source.h"
#include "beam/tls.h"
#include "lua/api_http.h"
#include "base/banned.h"

static const struct cli_command *const commands[] = {
        &cmd_run,     &cmd_check,   &cmd_plan,    &cmd_status, &cmd_history,
        &cmd_ghosts,  &cmd_pin,     &cmd_unpin,   &cmd_pause,  &cmd_resume,
        &cmd_restart, &cmd_unghost, &cmd_logs,    &cmd_remote, &cmd_rpc,     &cmd_eval,
        &cmd_hook,    &cmd_publish, &cmd_metrics, &cmd_audit,  &cmd_web, &cmd_rollout,
        &cmd_hash_password, &cmd_tls_init, &cmd_version,
        &cmd_x_hook,  &cmd_x_poll,  &cmd_x_poller, &cmd_x_fetch, &cmd_x_unpack, &cmd_x_log, &cmd_x_otp, &cmd_x_notify,
        &cmd_x_apps,  &cmd_x_websup, &cmd_x_ready, &cmd_x_fleet, &cmd_x_processes, &cmd_x_http,
};

int main(int argc, char **argv)
{
        static const struct cli_table table = { commands, ARRAY_SIZE(commands), NULL };
        struct cli cli = { .config_path = NULL, .open_source = source_open };

        /* This binary links libcurl: deployex.http in the hooks it runs sends in process. */
        api_set_http(api_http_curl);
        /* And OpenSSL: the C node speaks TLS distribution (beam/tls.h). */
        beam_tls_install(&beam_tls_openssl);
        return cli_main(&table, &cli, argc, argv);
}
