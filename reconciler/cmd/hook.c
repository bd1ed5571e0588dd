/*
 * deployex hook APP N FUNCTION: run one hook function for one instance, as
 * the daemon would, and print what it returned as JSON -- how an operator
 * debugs a custom hook.  The cookie is readable by the hook but masked in
 * the output; deployex.log() lines go to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/become.h"
#include "lua/hooks.h"
#include "reconciler/shared/desired_load.h"
#include "state/instance.h"
#include "state/json.h"
#include "state/paths.h"
#include "buckets/source.h"
#include "base/banned.h"

/* Listed in main.c's command table (declared in cli.h by the lead). */
extern const struct cli_command cmd_hook;

struct hook_opts {
        const char *version;
        const char *from;
        const char *event;
        char **pre_commands; /* argv entries given with --pre-command */
        size_t npre;
        bool hot;
};

/* What the bucket (or the last good copy) says now: the version and its pre_commands. */
static void read_desired(const struct config *c, const struct app_config *app, struct desired *want)
{
        struct source *src = NULL;
        struct buf err = BUF_INIT;

        if (source_open(c, &src, &err) < 0)
                src = NULL;
        desired_load(c, app, src, NULL, false, want);
        source_free(src);
        buf_release(&err);
}

static int call_hook(struct config *c, const struct app_config *app, int n,
                     const char *function, const struct hook_opts *o)
{
        struct instance_record rec;
        struct desired want;
        struct hook_call call;
        struct hook_result res;
        struct kv ev = { (char *)"kind", (char *)o->event };
        struct buf err = BUF_INIT, out = BUF_INIT;
        int log_fds[2] = { -1, -1 };
        int r, status = EXIT_FAIL;

        /* The instance's record (what runs in current/ and before it), when the daemon wrote one. */
        instance_record_read(c, app->name, n, &rec);
        read_desired(c, app, &want);

        memset(&call, 0, sizeof(call));
        call.config = c;
        call.app = app;
        call.instance = n;
        /* Defaults: what current/ holds, else what is desired; the release before it. */
        call.version = o->version ? o->version
                       : rec.version[0]  ? rec.version
                       : want.release.version[0] ? want.release.version
                                                 : NULL;
        call.from_version = o->from ? o->from : (rec.previous_version[0] ? rec.previous_version : NULL);
        if (o->npre) {
                call.pre_commands = o->pre_commands;
                call.npre_commands = o->npre;
        } else if (call.version && strcmp(call.version, want.release.version) == 0) {
                call.pre_commands = want.release.pre_commands;
                call.npre_commands = want.release.npre_commands;
        }
        if (o->event) {
                call.event = &ev;
                call.nevent = 1;
        }
        call.hot = o->hot;
        /* As the daemon's hook jobs do: the hook runs as the app's user (DESIGN §8). */
        if (hook_job_become_app_user(c, app, n, log_fds) < 0)
                goto out;
        call.log_fds = log_fds[0] >= 0 || log_fds[1] >= 0 ? log_fds : NULL;

        r = hooks_call(&call, function, &res, &err);
        if (r < 0) {
                fprintf(stderr, "%s%s", err.data, err.len && err.data[err.len - 1] == '\n' ? "" : "\n");
                goto out;
        }
        hook_result_to_json(&res, &out);
        printf("%s\n", out.data);
        if (hook_result_ok(&res)) {
                status = EXIT_OK;
        } else {
                /* The `nil, err` convention: say why on stderr too (masked like the JSON). */
                const char *why = hook_result_string(&res, 1);

                buf_reset(&out);
                if (why) {
                        struct hook_result one = { &res.values[1], 1, NULL, res.secret };

                        hook_result_to_json(&one, &out);
                }
                fprintf(stderr, "deployex: %s/%d %s() at %s returned %s%s%s\n", app->name, n, function,
                        res.where, res.n && res.values[0].type == HOOK_BOOL ? "false" : "nil",
                        why ? ": " : "", why ? out.data : "");
        }
        hook_result_release(&res);
out:
        for (int k = 0; k < 2; k++)
                if (log_fds[k] >= 0)
                        close(log_fds[k]);
        desired_release(&want);
        buf_release(&err);
        buf_release(&out);
        return status;
}

static int run_hook(const struct cli *cli, int argc, char **argv)
{
        struct hook_opts o = { NULL, NULL, NULL, NULL, 0, false };
        const char *pos[3];
        size_t npos = 0;
        const struct app_config *app;
        struct config c;
        int n, r;

        if (cli_wants_help(argc, argv)) {
                cli_print_help(&cmd_hook);
                return EXIT_OK;
        }
        o.pre_commands = xcalloc((size_t)argc, sizeof(*o.pre_commands));
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                bool takes_value = strcmp(a, "--version") == 0 || strcmp(a, "--from") == 0 ||
                                   strcmp(a, "--event") == 0 || strcmp(a, "--pre-command") == 0;

                if (takes_value && i + 1 >= argc) {
                        r = cli_usage_error(&cmd_hook, "'%s' needs a value", a);
                        goto out_usage;
                }
                if (strcmp(a, "--version") == 0) {
                        o.version = argv[++i];
                } else if (strcmp(a, "--from") == 0) {
                        o.from = argv[++i];
                } else if (strcmp(a, "--event") == 0) {
                        o.event = argv[++i];
                } else if (strcmp(a, "--pre-command") == 0) {
                        o.pre_commands[o.npre++] = argv[++i];
                } else if (strcmp(a, "--hot") == 0) {
                        o.hot = true;
                } else if (a[0] == '-' && a[1] != '\0') {
                        r = cli_usage_error(&cmd_hook, "unknown option '%s'", a);
                        goto out_usage;
                } else if (npos < ARRAY_SIZE(pos)) {
                        pos[npos++] = a;
                } else {
                        r = cli_usage_error(&cmd_hook, "unexpected argument '%s'", a);
                        goto out_usage;
                }
        }
        if (npos != 3) {
                r = cli_usage_error(&cmd_hook, "expected APP N FUNCTION");
                goto out_usage;
        }
        if (parse_int(pos[1], &n) < 0 || n < 1 || n > REPLICAS_MAX) {
                r = cli_usage_error(&cmd_hook, "N must be an instance number (1..%d), got '%s'",
                                    REPLICAS_MAX, pos[1]);
                goto out_usage;
        }
        if ((o.version && !version_is_valid(o.version)) || (o.from && !version_is_valid(o.from))) {
                r = cli_usage_error(&cmd_hook, "'%s' is not a valid version",
                                    o.version && !version_is_valid(o.version) ? o.version : o.from);
                goto out_usage;
        }
        r = cli_load_config(cli, &c);
        if (r != EXIT_OK)
                goto out_usage;
        app = cli_find_app(&c, pos[0]);
        if (!app) {
                r = EXIT_FAIL;
        } else if (n > app->replicas) {
                fprintf(stderr, "deployex: %s has %d replica%s: no instance %d\n", app->name,
                        app->replicas, app->replicas == 1 ? "" : "s", n);
                r = EXIT_FAIL;
        } else {
                r = call_hook(&c, app, n, pos[2], &o);
        }
        config_release(&c);
out_usage:
        free(o.pre_commands);
        return r;
}

const struct cli_command cmd_hook = {
        .name = "hook",
        .usage = "hook APP N FUNCTION",
        .summary = "run one hook function for instance N and print its result as JSON",
        .help = "Loads the app's hooks as the daemon does (the language default, then the app's\n"
                "\"hooks\" file), builds ctx for instance N and calls FUNCTION (start, pre_commands,\n"
                "upgrade_kind, hot_upgrade, health, on_event, or any function the hooks define).\n"
                "What it returns is printed as JSON on stdout: one value as itself, several as an\n"
                "array.  The cookie is masked (\"********\"); deployex.log() lines go to stderr.\n"
                "Beware: the hook really runs -- pre_commands runs the commands.\n"
                "  --version V        ctx.version (default: the release in current/, else the\n"
                "                     desired one)\n"
                "  --from V           ctx.from_version (default: the release in previous/)\n"
                "  --pre-command CMD  ctx.pre_commands (repeatable; default: current.json's, when\n"
                "                     ctx.version is the desired version)\n"
                "  --event KIND       the ev argument of on_event: {kind = KIND}\n"
                "  --hot              ctx.hot = true (the call belongs to a hot upgrade)\n"
                "Exit status 1 when the hooks do not load, the function is not defined, raises an\n"
                "error (printed as FILE:LINE: message), or returns nil/false (nil, err: err is\n"
                "printed on stderr).\n",
        .run = run_hook,
};
