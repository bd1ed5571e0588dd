/*
 * The hidden commands the daemon runs as children (names start with "__";
 * main.c leaves them out of the usage text):
 *
 *     deployex __unpack TARBALL DEST_DIR MAX_BYTES
 *         unpack a release (unpack.h); exit 0, 1 when the archive is refused,
 *         JOB_EXIT_LOCAL (75) when this host failed; one line on stderr.
 *     deployex __log PATH [STDERR_PATH] MAX_BYTES KEEP
 *         copy stdin (and fd 3 to STDERR_PATH) to size-rotated log files
 *         until EOF (logwriter.h).
 *
 * Running them in children keeps a hostile tarball or a full disk from
 * hanging or crashing the supervisor, and lets a log writer outlive both the
 * instance it serves and a daemon restart.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/logwriter.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/jobs/unpack.h"
#include "base/fsutil.h"
#include "base/banned.h"

extern const struct cli_command cmd_x_unpack, cmd_x_log;

static int run_x_unpack(const struct cli *cli, int argc, char **argv)
{
        struct buf err = BUF_INIT;
        uint64_t max_bytes;
        int r;

        (void)cli;
        if (argc != 4)
                return cli_usage_error(&cmd_x_unpack, "needs TARBALL DEST_DIR MAX_BYTES");
        if (parse_u64(argv[3], &max_bytes) < 0 || max_bytes == 0)
                return cli_usage_error(&cmd_x_unpack, "MAX_BYTES must be a positive integer, got '%s'", argv[3]);
        r = unpack_release(argv[1], argv[2], max_bytes, &err);
        if (r < 0)
                fprintf(stderr, "%s\n", err.len ? err.data : strerror(-r));
        buf_release(&err);
        if (r < 0 && unpack_refused(r))
                return EXIT_FAIL; /* the release is bad: no retry will help */
        return r < 0 ? JOB_EXIT_LOCAL : EXIT_OK;
}

static int run_x_log(const struct cli *cli, int argc, char **argv)
{
        (void)cli;
        return logwriter_main(argc, argv);
}

const struct cli_command cmd_x_unpack = {
        .name = "__unpack",
        .usage = "__unpack TARBALL DEST_DIR MAX_BYTES",
        .summary = "internal: unpack a release tarball safely (run by the daemon)",
        .help = "Extracts TARBALL into DEST_DIR (absent or empty), refusing absolute paths, '..',\n"
                "escaping links, device nodes, setuid/setgid bits and more than MAX_BYTES.  A\n"
                "refused tarball leaves nothing behind.  Exit 0; 1 when the archive is refused;\n"
                "75 when this host failed (disk full, DEST_DIR in the way); the reason on stderr.\n",
        .run = run_x_unpack,
};

const struct cli_command cmd_x_log = {
        .name = "__log",
        .usage = "__log PATH [STDERR_PATH] MAX_BYTES KEEP",
        .summary = "internal: append stdin to a size-rotated log file (run by the daemon)",
        .help = "Copies stdin to PATH until EOF, rotating to PATH.1 .. PATH.KEEP above MAX_BYTES\n"
                "between lines.  With STDERR_PATH, descriptor 3 goes there the same way, both\n"
                "read by this one process (an instance's stdout and stderr).  Ignores SIGTERM,\n"
                "SIGINT, SIGHUP and SIGPIPE.\n",
        .run = run_x_log,
};
