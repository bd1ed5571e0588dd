/*
 * deployex: the lean front, bin/deployex (docs/daemon.md, PROGRAMS).
 *
 * The readers an operator and the scripts around a host run again and again
 * (status, plan, history, ghosts, logs, audit, version, and the shell completion's
 * __apps) run here, in a program linked with libc and yajl alone: the full
 * program's 47 shared libraries (libcurl's and libarchive's trees, OpenSSL,
 * Lua, libmicrohttpd, libei) cost about 7 ms of dynamic linking at every
 * start, a quarter of `status --json` at 1000 instances (docs/performance.md).
 * Everything else (the other commands, the usage, an unknown command or
 * option, and a reader whose source is s3:// or gs://, read over HTTPS) is
 * the full program's: the front execs lib/deployex/deployex-cli (beside it in
 * a build tree) with the same argv, so output, errors and exit status are the
 * full program's.  The Makefile links this program with yajl alone: a command
 * added to the table that needs another library fails the link.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "buckets/source.h"
#include "base/programs.h"
#include "base/banned.h"

static const struct cli_command *const commands[] = {
        &cmd_status, &cmd_plan, &cmd_history, &cmd_ghosts, &cmd_logs, &cmd_audit, &cmd_version,
        &cmd_x_apps, /* shell completion: the configured apps */
};

/* The command line as given, for the full program (dispatch rewrites argv). */
static char **given_argv;

/*
 * Exec the full program, beside this one (a build tree), else in
 * ../lib/deployex/ (an install), with the command line as given: argv[0]
 * stays what the user typed.  Returns only on failure.
 */
static int run_full(void)
{
        struct buf full = BUF_INIT;
        char exe[PATH_MAX], *dir_end, *up;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n > 0)
                exe[n] = '\0';
        if (n <= 0 || !(dir_end = strrchr(exe, '/'))) {
                fprintf(stderr, "deployex: cannot find my own executable: %s\n",
                        n < 0 ? strerror(errno) : "not an absolute path");
                return EXIT_FAIL;
        }
        if (program_path(exe, PROGRAM_CLI, &full) < 0) {
                buf_release(&full);
                *dir_end = '\0';
                up = strrchr(exe, '/');
                fprintf(stderr, "deployex: the full program is missing: neither %s/%s nor %.*s/lib/deployex/%s "
                                "is an executable file; reinstall deployex (the package, or make install)\n",
                        exe, PROGRAM_CLI, up ? (int)(up - exe) : 0, exe, PROGRAM_CLI);
                return EXIT_FAIL;
        }
        execv(full.data, given_argv);
        fprintf(stderr, "deployex: cannot run %s: %s\n", full.data, strerror(errno));
        buf_release(&full);
        return EXIT_FAIL;
}

/*
 * A file:// source is read in place, as the daemon reads it.  s3:// and gs://
 * need the HTTP client and the signing code: the command starts again in the
 * full program (nothing has been printed yet: the readers open the source
 * before they write), and this process never returns to it.
 */
static int open_source(const struct config *c, struct source **ret, struct buf *err)
{
        if (!c->source || strncmp(c->source, "file://", 7) == 0)
                return source_open_unfetched(c, ret, err);
        exit(run_full());
}

int main(int argc, char **argv)
{
        static const struct cli_table table = { commands, ARRAY_SIZE(commands), run_full };
        struct cli cli = { .config_path = NULL, .open_source = open_source };

        given_argv = xcalloc((size_t)argc + 1, sizeof(*given_argv));
        memcpy(given_argv, argv, (size_t)argc * sizeof(*given_argv));
        return cli_main(&table, &cli, argc, argv);
}
