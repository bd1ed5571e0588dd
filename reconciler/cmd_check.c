/*
 * deployex check: validate the configuration, each app's override file, the
 * published current.json and the cookie; every problem is one line naming
 * the file and field.  Exit 1 when anything is wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../state/fsutil.h"
#include "../lua/hooks.h"
#include "../state/override.h"
#include "../state/paths.h"
#include "../state/release.h"
#include "../state/source.h"
#include "../state/banned.h"

static void report(struct buf *err, unsigned *problems)
{
        if (!err->len)
                return;
        /* err may hold several lines: one problem each. */
        for (const char *p = err->data; *p;) {
                size_t n = strcspn(p, "\n");
                fprintf(stderr, "%.*s\n", (int)n, p);
                (*problems)++;
                p += n + (p[n] == '\n');
        }
        buf_reset(err);
}

static void check_app(const struct config *c, const struct app_config *app, struct source *src,
                      unsigned *problems)
{
        struct buf path = BUF_INIT, err = BUF_INIT, body = BUF_INIT;
        struct override o;
        struct release_desc rel;
        char etag[ETAG_MAX + 1];
        bool not_modified;
        int r;

        memset(&o, 0, sizeof(o));
        memset(&rel, 0, sizeof(rel));
        path_override(c, app->name, &path);
        (void)override_load(path.data, &o, &err); /* a problem is in err */
        report(&err, problems);

        if (app->hooks && access(app->hooks, R_OK) < 0) {
                buf_printf(&err, "%s: apps.%s.hooks: cannot read '%s': %s", c->origin, app->name,
                           app->hooks, strerror(errno));
                report(&err, problems);
        } else {
                /* The language default and the app's file, loaded as a call would. */
                (void)hooks_check_app(c, app, &err);
                report(&err, problems);
        }
        if (src) {
                r = source_get_current(src, app->name, "", &body, etag, &not_modified, &err);
                if (r == -ENOENT) {
                        printf("%s: nothing published yet at %s/versions/%s/%s/current.json\n",
                               app->name, src->url, app->name, src->env);
                } else if (r == 0) {
                        buf_reset(&path);
                        buf_printf(&path, "%s/versions/%s/%s/current.json", src->url, app->name,
                                   src->env);
                        if (release_desc_parse(body.data, body.len, path.data, &rel, &err) == 0)
                                printf("%s: current.json publishes %s\n", app->name, rel.version);
                }
                report(&err, problems);
        }
        override_release(&o);
        release_desc_release(&rel);
        buf_release(&path);
        buf_release(&err);
        buf_release(&body);
}

static int run(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct buf err = BUF_INIT;
        struct source *src = NULL;
        unsigned problems = 0;
        int r;

        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_check, "takes no arguments");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        /* Environment mode may have no cookie yet: a secrets adapter supplies it. */
        if (c.cookie || c.cookie_file) {
                struct buf cookie = BUF_INIT;
                r = config_read_cookie(&c, &cookie);
                explicit_bzero(cookie.data, cookie.len);
                buf_release(&cookie);
                if (r < 0)
                        buf_printf(&err, "%s: cookie_file: cannot read '%s': %s", c.origin,
                                   c.cookie_file ? c.cookie_file : "", file_strerror(r));
        }
        report(&err, &problems);
        if (source_open(&c, &src, &err) < 0)
                report(&err, &problems);
        for (size_t i = 0; i < c.napps; i++)
                check_app(&c, &c.apps[i], src, &problems);
        source_free(src);
        if (problems == 0)
                printf("%s: ok (%zu app%s)\n", c.origin, c.napps, c.napps == 1 ? "" : "s");
        else
                fprintf(stderr, "%s: %u problem%s\n", c.origin, problems, problems == 1 ? "" : "s");
        config_release(&c);
        buf_release(&err);
        return problems ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command cmd_check = {
        .name = "check",
        .usage = "check",
        .summary = "validate config, overrides and hooks; exit 1 on any error",
        .help = "Validates the configuration file (or the DeployEx 0.3 environment variables),\n"
                "every app's override file, the current.json the bucket publishes, the cookie\n"
                "and the hook files. Each problem is printed on its own line naming the file and\n"
                "the field, e.g.\n"
                "  /etc/deployex/deployex.json: apps[0].replicas: must be an integer from 0 to 100, got -1\n",
        .run = run,
};
