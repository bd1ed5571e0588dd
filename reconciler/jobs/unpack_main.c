/*
 * deployex-unpack: the unpack job as a program of its own (docs/daemon.md,
 * PROGRAMS).  The daemon runs one per instance it deploys:
 *
 *     deployex-unpack [-c FILE] __unpack TARBALL DEST_DIR MAX_BYTES
 *
 * the same command as `deployex __unpack` (internal.c, unpack.h), linked with
 * libarchive and yajl but none of libcurl, Lua or OpenSSL: it starts in about
 * 3 ms of CPU where the full binary takes 8 ms.  -c is accepted and ignored
 * (the unpack reads no configuration), so that the daemon starts it like any
 * other job.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "base/banned.h"

int main(int argc, char **argv)
{
        struct cli cli = { .config_path = NULL };
        int i = 1;

        signal(SIGPIPE, SIG_IGN);
        if (i + 1 < argc && strcmp(argv[i], "-c") == 0)
                i += 2;
        if (i >= argc || strcmp(argv[i], cmd_x_unpack.name) != 0) {
                fprintf(stderr, "deployex-unpack: expected '__unpack TARBALL DEST_DIR MAX_BYTES'\n"
                                "(the daemon runs this program; by hand, use 'deployex __unpack')\n");
                return EXIT_USAGE;
        }
        return cmd_x_unpack.run(&cli, argc - i, argv + i);
}
