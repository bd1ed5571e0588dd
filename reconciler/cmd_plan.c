/*
 * deployex plan [--json] [APP]: what the reconciler would do now, computed
 * by the same planner the daemon runs, from the state files and the source.
 * Nothing is written.
 */
#include <stdio.h>
#include <string.h>

#include "app_view.h"
#include "cli.h"
#include "../state/json.h"
#include "../state/banned.h"

static void plan_json(yajl_gen g, const char *name, const struct plan *p, const struct desired *d)
{
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "name", name);
        json_gen_kv_bool(g, "paused", d->override.paused);
        json_gen_kv_str(g, "error", d->error);
        json_gen_str(g, "steps");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < p->n; i++) {
                const struct plan_step *s = &p->steps[i];
                yajl_gen_map_open(g);
                json_gen_kv_int(g, "instance", s->instance);
                json_gen_kv_str(g, "action", plan_action_to_string(s->action));
                json_gen_kv_str(g, "from", s->from[0] ? s->from : NULL);
                json_gen_kv_str(g, "to", s->to[0] ? s->to : NULL);
                json_gen_kv_str(g, "reason", s->reason);
                json_gen_kv_bool(g, "runnable", s->runnable);
                yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
}

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
        yajl_gen g = NULL;
        int r;

        if ((r = cli_parse_json_app(&cmd_plan, argc, argv, false, &json, &only)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (only && !cli_find_app(&c, only)) {
                config_release(&c);
                return EXIT_FAIL;
        }
        if (source_open(&c, &src, &err) < 0)
                fprintf(stderr, "deployex: %s\n", err.data);

        if (json) {
                g = json_gen_new(&out);
                yajl_gen_map_open(g);
                json_gen_str(g, "apps");
                yajl_gen_array_open(g);
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
                if (json)
                        plan_json(g, app->name, &p, &v.desired);
                else
                        plan_text(app->name, &p, &v.desired);
                app_view_release(&v);
        }
        if (json) {
                yajl_gen_array_close(g);
                yajl_gen_map_close(g);
                yajl_gen_free(g);
                printf("%s\n", out.data);
        }
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
