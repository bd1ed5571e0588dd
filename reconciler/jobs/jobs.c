/*
 * The daemon's jobs that speak to the bucket: hidden commands (names start
 * with "__") that the daemon runs as children so that nothing blocks its
 * loop.  Each prints its result on stdout and a one-line reason on stderr,
 * and exits 0 on success.  (The hook job, __hook, is hook.c.)
 *
 *   __poll APP
 *       fetch current.json (conditionally) and keep the last good one in
 *       state/APP/desired.json; count the poll in state/APP/source.json
 *       (one poll, by hand or for bench/bucket; the daemon runs the
 *       long-lived __poller instead, poller.c)
 *   __fetch APP VERSION
 *       bring the tarball into the cache, verified against the sha256 of
 *       the current.json that published VERSION (when it is the last good
 *       one); prints the cached path, then the sha256 it was verified
 *       against or "none" (the daemon remembers the file: verified_cache.h)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/answer.h"
#include "state/json.h"
#include "reconciler/shared/desired_load.h"
#include "buckets/release_fetch.h"
#include "buckets/source.h"
#include "buckets/source_stats.h"
#include "base/banned.h"

static int run_poll(const struct cli *cli, int argc, char **argv)
{
        const struct app_config *app;
        struct source *src = NULL;
        struct buf err = BUF_INIT;
        struct desired want;
        struct config c;
        int r;

        if (argc != 2)
                return cli_usage_error(&cmd_x_poll, "expected APP");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        r = EXIT_FAIL;
        if (!(app = cli_find_app(&c, argv[1])))
                goto out;
        if (source_open(&c, &src, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                goto out;
        }
        desired_load(&c, app, src, NULL, true, &want);
        /* Errors about the override or ghosts are not the poll's business. */
        if (want.error && strstr(want.error, "current.json")) {
                fprintf(stderr, "%s\n", want.error);
        } else {
                printf("%s\n", want.release.version);
                r = EXIT_OK;
        }
        /* For the metrics; losing a count is better than failing the poll. */
        (void)source_stats_record(&c, app->name, r == EXIT_OK, time_now_ms());
        desired_release(&want);
out:
        source_free(src);
        config_release(&c);
        buf_release(&err);
        return r;
}


static int run_fetch(const struct cli *cli, int argc, char **argv)
{
        const struct app_config *app;
        struct source *src = NULL;
        struct buf err = BUF_INIT, path = BUF_INIT;
        struct release_desc rel;
        struct config c;
        int r;

        if (argc != 3)
                return cli_usage_error(&cmd_x_fetch, "expected APP VERSION");
        if (!version_is_valid(argv[2])) {
                fprintf(stderr, "'%s' is not a valid version\n", argv[2]);
                return EXIT_FAIL;
        }
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        r = EXIT_FAIL;
        memset(&rel, 0, sizeof(rel));
        if (!(app = cli_find_app(&c, argv[1])))
                goto out;
        if (source_open(&c, &src, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                goto out;
        }
        /* The checksum comes from the current.json that published this version. */
        (void)desired_release_for(&c, app, argv[2], &rel);
        if (release_fetch(&c, src, app->name, &rel, &path, &err) < 0) {
                fprintf(stderr, "%s\n", err.len ? err.data : "fetch failed");
                goto out;
        }
        {
                /* {"result": {"path", "sha256": S | null}}: the file and what it was verified against. */
                struct answer_object a;
                yajl_gen g = answer_object_begin(&a);

                json_gen_kv_str(g, "path", path.data);
                json_gen_str(g, "sha256");
                if (rel.sha256[0])
                        json_gen_str(g, rel.sha256);
                else
                        yajl_gen_null(g);
                r = answer_object_end(&a) < 0 ? EXIT_FAIL : EXIT_OK;
        }
out:
        release_desc_release(&rel);
        source_free(src);
        config_release(&c);
        buf_release(&err);
        buf_release(&path);
        return r;
}

const struct cli_command cmd_x_poll = {
        .name = "__poll",
        .usage = "__poll APP",
        .summary = "(internal) refresh the last good current.json from the source",
        .help = "",
        .run = run_poll,
};

const struct cli_command cmd_x_fetch = {
        .name = "__fetch",
        .usage = "__fetch APP VERSION",
        .summary = "(internal) bring a release into the cache, verified",
        .help = "",
        .run = run_fetch,
};
