/*
 * cli: the command table of the `deployex` binary (DESIGN §3).
 *
 * Each command lives in a file of its own in reconciler/cmd/ and is listed
 * in main.c's table (`run` too: run.c execs the daemon program, whose main
 * is reconciler/daemon/deployexd.c).  A command gets argv after its name
 * (argv[0] is the command name) and the global options; it returns the exit
 * status: 0 ok, 1 failure, 2 usage error.  Errors go to stderr as one line
 * naming the file/field/app at fault.
 */
#ifndef DEPLOYEX_CLI_H
#define DEPLOYEX_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct source;

struct cli {
        const char *config_path; /* -c FILE, or NULL */
        /*
         * How a reader opens the configured source (status, plan): source_open
         * in the full program; in the lean front, file:// without an HTTP
         * client, and any other source by running the full program on the
         * same command line instead (front_main.c).
         */
        int (*open_source)(const struct config *c, struct source **ret, struct buf *err);
};

struct cli_command {
        const char *name;
        const char *usage;   /* "pin APP VERSION" */
        const char *summary; /* one line */
        const char *help;    /* the --help text after the usage line */
        int (*run)(const struct cli *cli, int argc, char **argv);
};

/*
 * The commands a main dispatches over (main.c: every one; front_main.c: the
 * readers that link with yajl alone), and who answers the rest.
 */
struct cli_table {
        const struct cli_command *const *commands;
        size_t n;
        /*
         * NULL in the full program, which answers every command line itself
         * (the usage, the errors).  The lean front's: run the full program on
         * the same command line (a command not in the table, the usage, an
         * unknown option); returns only on failure, with the exit status.
         */
        int (*elsewhere)(void);
};
/*
 * main() of a deployex program: the global options (-c FILE, -h, --version),
 * `help [COMMAND]`, then the command with its arguments (-c FILE may follow
 * the command name).  Returns the exit status.
 */
int cli_main(const struct cli_table *t, struct cli *cli, int argc, char **argv);

/* true when argv holds -h/--help (then the caller prints help and returns 0). */
bool cli_wants_help(int argc, char **argv);
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void cli_print_help(const struct cli_command *cmd);
/* Load the configuration; on failure prints the problems and returns EXIT_FAIL. */
int cli_load_config(const struct cli *cli, struct config *ret);
/*
 * For the commands that need the cookie (run, remote, hook jobs): fill what
 * the configuration leaves unset from DEPLOYEX_SECRETS_ADAPTER's store
 * (secrets.h).  EXIT_OK, or EXIT_FAIL after printing why.
 */
int cli_load_secrets(struct config *c);
/*
 * The same for the jobs the daemon runs (__hook, __ready): `deployex run`
 * fetched the store's values and handed them down as the env adapter
 * (secrets.h), so a job needs no HTTP client; aws and gcp are refused.
 */
int cli_load_job_secrets(struct config *c);
/*
 * Readers (status, plan, history, ghosts) first: EXIT_OK when var_path's state
 * and run directories are readable or absent; else EXIT_FAIL after printing
 * "cannot read PATH: permission denied; are you in group deployex?", so that
 * an unreadable state is never shown as "daemon: not running".
 */
int cli_check_state_readable(const struct cli_command *cmd, const struct config *c);
/* Find an app or print "deployex: unknown app 'x' (configured: a, b)" and return NULL. */
const struct app_config *cli_find_app(const struct config *c, const char *name);
/*
 * Parse "[--json] [APP]" (APP required when app_required).  EXIT_OK with
 * *ret_json and *ret_app (NULL when absent) set, or the usage exit status.
 */
int cli_parse_json_app(const struct cli_command *cmd, int argc, char **argv, bool app_required,
                       bool *ret_json, const char **ret_app);

/*
 * --since T: an RFC 3339 time ("2026-11-26T05:00:00Z") or a duration before
 * now_ms ("90s", "15m", "2h", "3d").  0 and *ret_ms, or -EINVAL.
 */
int cli_parse_since(const char *s, uint64_t now_ms, uint64_t *ret_ms);

/* The commands, one file each in reconciler/cmd/. */
extern const struct cli_command cmd_check, cmd_plan, cmd_status, cmd_history, cmd_ghosts,
        cmd_pin, cmd_unpin, cmd_pause, cmd_resume, cmd_restart, cmd_unghost, cmd_hash_password,
        cmd_version, cmd_run, cmd_logs, cmd_remote, cmd_hook, cmd_rpc, cmd_publish, cmd_metrics,
        cmd_eval, cmd_audit, cmd_web, cmd_tls_init, cmd_rollout;
/* Hidden commands the daemon runs as jobs (names start with "__"; not in the usage). */
extern const struct cli_command cmd_x_hook, cmd_x_poll, cmd_x_poller, cmd_x_fetch, cmd_x_unpack, cmd_x_log, cmd_x_notify,
        cmd_x_otp, cmd_x_apps, cmd_x_websup, cmd_x_ready, cmd_x_fleet, cmd_x_processes, cmd_x_http;

#endif
