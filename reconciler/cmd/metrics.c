/*
 * deployex metrics [-o FILE]: the Prometheus text exposition (metrics.h) on
 * stdout, or written atomically to FILE (mode 0644) for node_exporter's
 * textfile collector -- which is how the daemon keeps metrics_textfile fresh.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/shared/metrics.h"
#include "base/fsutil.h"
#include "base/banned.h"

static int run_metrics(const struct cli *cli, int argc, char **argv)
{
        const char *file = NULL;
        struct buf out = BUF_INIT;
        struct config c;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
                        file = argv[++i];
                else if (strcmp(argv[i], "-o") == 0)
                        return cli_usage_error(&cmd_metrics, "-o needs a FILE");
                else
                        return cli_usage_error(&cmd_metrics, "unexpected argument '%s'", argv[i]);
        }
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        metrics_render(&c, time_now_ms(), &out);
        r = EXIT_OK;
        if (!file) {
                fwrite(out.data, 1, out.len, stdout);
                if (fflush(stdout) != 0)
                        r = EXIT_FAIL;
        } else {
                int w = atomic_write_file_mode(file, out.data, out.len, 0644);

                if (w < 0) {
                        fprintf(stderr, "deployex metrics: cannot write '%s': %s\n", file, strerror(-w));
                        r = EXIT_FAIL;
                }
        }
        buf_release(&out);
        config_release(&c);
        return r;
}

const struct cli_command cmd_metrics = {
        .name = "metrics",
        .usage = "metrics [-o FILE]",
        .summary = "the Prometheus text exposition, as served on /metrics",
        .help = "Prints the metrics of DESIGN §11 in the Prometheus text format (0.0.4), read\n"
                "from the state files (no network): instances up/ready/uptime, crash and forced\n"
                "restarts, the version each runs, deployments by kind and result, rollbacks,\n"
                "ghosts, the desired version, bucket polls, the VM figures of the daemon's\n"
                "probe (memory, processes, atoms, ports and their limits) and the host's memory\n"
                "and load.  See docs/metrics.md for every name.\n"
                "\n"
                "  -o FILE  write FILE atomically (mode 0644) instead of stdout, for\n"
                "           node_exporter's textfile collector (the daemon does this itself\n"
                "           when metrics_textfile is set)\n",
        .run = run_metrics,
};
