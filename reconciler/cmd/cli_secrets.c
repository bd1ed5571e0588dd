/*
 * cli_load_secrets (cli.h): a secrets store reached over HTTP.  A file of its
 * own so that the programs that link cli.c without libcurl (the hook runner,
 * deployex-hook) do not pull the store adapters in with it.
 */
#include <stdio.h>

#include "reconciler/cmd/cli.h"
#include "base/fsutil.h"
#include "buckets/secrets.h"
#include "base/banned.h"

int cli_load_secrets(struct config *c)
{
        struct buf err = BUF_INIT;
        int r = secrets_load(c, &err);

        if (r < 0)
                fprintf(stderr, "deployex: %s\n", err.len ? err.data : file_strerror(r));
        buf_release(&err);
        return r < 0 ? EXIT_FAIL : EXIT_OK;
}
