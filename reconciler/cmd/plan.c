/*
 * deployex plan [--json] [APP]: what the reconciler would do now, computed
 * by the same planner the daemon runs, from the state files and the source.
 * Nothing is written.
 */
#include <stdio.h>
#include <string.h>

#include "reconciler/shared/app_view.h"
#include "reconciler/cmd/cli.h"
#include "reconciler/shared/report.h"
#include "base/banned.h"

static void plan_text(const char *name, const struct plan *p, const struct desired *d)
{
        char line[512];

        if (d->error)
                printf("%s: %s\n", name, d->error);
        if (p->n == 0) {
                printf("%s  nothing to do\n", name);
                return;
        }
        for (size_t i = 0; i < p->n; i++) {
                plan_step_format(name, &p->steps[i], line, sizeof(line));
                printf("%s\n", line);
        }
}

static int run(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct source *src = NULL;
        const char *only = NULL;
        bool json = false;
        int r;

        if ((r = cli_parse_json_app(&cmd_plan, argc, argv, false, &json, &only)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_check_state_readable(&cmd_plan, &c) != EXIT_OK || (only && !cli_find_app(&c, only))) {
                config_release(&c);
                return EXIT_FAIL;
        }
        if (cli->open_source(&c, &src, &err) < 0)
                fprintf(stderr, "deployex: %s\n", err.data);

        if (json) {
                report_plan_json(&c, src, only, &out);
                printf("%s\n", out.data);
                goto out;
        }
        uint64_t now = time_now_ms();
        for (size_t i = 0; i < c.napps; i++) {
                const struct app_config *app = &c.apps[i];
                struct app_view v;
                struct plan_input in;
                static struct plan p; /* large: keep it off the stack */

                if (only && strcmp(only, app->name) != 0)
                        continue;
                app_view_load(&c, app, src, false, &v);
                app_view_plan_input(&v, &in);
                plan_compute(&in, now, &p);
                plan_text(app->name, &p, &v.desired);
                app_view_release(&v);
        }
out:
        source_free(src);
        config_release(&c);
        buf_release(&err);
        buf_release(&out);
        return EXIT_OK;
}

const struct cli_command cmd_plan = {
        .name = "plan",
        .usage = "plan [--json] [APP]",
        .summary = "what the reconciler would do now, without doing it",
        .help = "Computes the plan the daemon would execute, from the configuration, the bucket's\n"
                "current.json, the override files and the recorded instance states. Each step is\n"
                "printed as 'APP/N  ACTION  FROM -> TO  (reason)'; steps that wait on an earlier\n"
                "one or are held by a pause say so in their reason.\n\n"
                "  --json   {\"apps\": [{\"name\", \"steps\": [{\"instance\", \"action\", \"from\",\n"
                "           \"to\", \"reason\", \"runnable\"}]}]}\n",
        .run = run,
};
