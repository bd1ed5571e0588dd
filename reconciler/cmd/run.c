/*
 * run: the daemon.  This command prepares what needs the full binary and
 * then execs the lean daemon program, deployexd (base/programs.h), in the
 * same process: the pid stays, so systemd's MainPID, its NOTIFY_SOCKET and a
 * shell's $! still name the daemon.
 *
 * What needs the full binary: a secrets store (DEPLOYEX_SECRETS_ADAPTER aws
 * or gcp, over HTTPS) is read here, and its values reach deployexd in its
 * environment as the env adapter reads them, never in argv.  deployexd gets
 * the path of this binary (--cli) to run its jobs with.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "buckets/secrets.h"
#include "base/programs.h"
#include "state/secret_env.h"
#include "base/banned.h"

static int hand_over_secrets(const struct cli *cli)
{
        const char *adapter = getenv("DEPLOYEX_SECRETS_ADAPTER");
        struct buf err = BUF_INIT;
        struct secrets s;
        struct config c;
        int r;

        /* None, or the environment: deployexd reads it itself. */
        if (!adapter || !*adapter || strcmp(adapter, "env") == 0)
                return EXIT_OK;
        if (cli_load_config(cli, &c) != EXIT_OK)
                return EXIT_FAIL;
        memset(&s, 0, sizeof(s));
        r = secrets_fetch(&c, &s, &err);
        config_release(&c);
        if (r < 0) {
                fprintf(stderr, "deployex: %s\n", err.len ? err.data : strerror(-r));
                buf_release(&err);
                return EXIT_FAIL;
        }
        if (s.erlang_cookie)
                setenv(SECRET_ENV_COOKIE, s.erlang_cookie, 1);
        if (s.admin_password_hash)
                setenv(SECRET_ENV_PASSWORD_HASH, s.admin_password_hash, 1);
        if (s.secret_key_base)
                setenv(SECRET_ENV_KEY_BASE, s.secret_key_base, 1);
        setenv("DEPLOYEX_SECRETS_ADAPTER", "env", 1);
        secrets_release(&s);
        buf_release(&err);
        return EXIT_OK;
}

static int run(const struct cli *cli, int argc, char **argv)
{
        struct buf daemon = BUF_INIT;
        char exe[PATH_MAX];
        const char *dargv[8];
        bool debug = false;
        size_t n = 0;
        ssize_t len;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--debug") == 0)
                        debug = true;
                else
                        return cli_usage_error(&cmd_run, "unexpected argument '%s'", argv[i]);
        }
        len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (len <= 0) {
                fprintf(stderr, "deployex run: cannot find my own executable: %s\n", strerror(errno));
                return EXIT_FAIL;
        }
        exe[len] = '\0';
        if (program_path(exe, PROGRAM_DAEMON, &daemon) < 0) {
                fprintf(stderr, "deployex run: no executable %s beside %s nor in its ../lib/deployex/; "
                                "reinstall deployex (make install installs both)\n",
                        PROGRAM_DAEMON, exe);
                return EXIT_FAIL;
        }
        if (hand_over_secrets(cli) != EXIT_OK) {
                buf_release(&daemon);
                return EXIT_FAIL;
        }
        dargv[n++] = daemon.data;
        dargv[n++] = "--cli";
        dargv[n++] = exe;
        if (cli->config_path) {
                dargv[n++] = "-c";
                dargv[n++] = cli->config_path;
        }
        if (debug)
                dargv[n++] = "--debug";
        dargv[n] = NULL;
        execv(daemon.data, (char *const *)dargv);
        fprintf(stderr, "deployex run: cannot run %s: %s\n", daemon.data, strerror(errno));
        buf_release(&daemon);
        return EXIT_FAIL;
}

const struct cli_command cmd_run = {
        .name = "run",
        .usage = "run [--debug]",
        .summary = "the reconciler, in the foreground (systemd Type=notify)",
        .help = "Deploys and supervises every configured app until stopped.\n"
                "  SIGTERM, SIGINT  stop every instance gracefully, then exit 0\n"
                "  SIGQUIT          exit at once and leave the instances running; the next\n"
                "                   'deployex run' adopts them\n"
                "  SIGHUP           reload the configuration (also done when the file changes)\n"
                "Only one daemon runs per var_path (run/deployex.lock).  The process becomes\n"
                "the daemon program lib/deployex/deployexd (same pid), which runs this binary\n"
                "for its jobs.\n",
        .run = run,
};
