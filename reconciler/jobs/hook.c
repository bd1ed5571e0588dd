/*
 * __hook APP N FUNCTION [--version V] [--from V] [--event KIND] [--hot]
 *
 * The hook job: call one hook for instance N; the answer is {"result": ...}
 * (answer.h): start's is {"argv","envp","cwd"}, upgrade_kind's "hot" or
 * "full"; exit 3 when the hook is not defined (health is optional).
 * preflight: the checks before anything running is stopped (DESIGN §5):
 * start()'s argv[0] for the release in new/ exists and is executable, new/
 * holds the version, and preflight(ctx) agrees.
 *
 * Linked into both deployex and the lean hook runner deployex-hook
 * (runner_main.c): it needs Lua, libei, OpenSSL and yajl, never libcurl or
 * libarchive.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "lua/hooks.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/jobs/become.h"
#include "reconciler/shared/desired_load.h"
#include "state/instance.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/banned.h"

#define EXIT_NOT_DEFINED 3

static void print_strv(yajl_gen g, const char *key, char **v)
{
        json_gen_str(g, key);
        yajl_gen_array_open(g);
        for (size_t i = 0; v && v[i]; i++)
                json_gen_str(g, v[i]);
        yajl_gen_array_close(g);
}

/* The start command's argv[0], as it would run from cwd with envp's PATH: executable? */
static int check_command(const char *argv0, const char *cwd, char **envp, struct buf *err)
{
        struct buf path = BUF_INIT;
        const char *search = NULL;
        struct stat st;
        int r = -ENOENT;

        if (strchr(argv0, '/')) {
                if (argv0[0] == '/')
                        buf_puts(&path, argv0);
                else
                        buf_printf(&path, "%s/%s", cwd, argv0);
                if (stat(path.data, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
                        r = 0;
                else
                        buf_printf(err, "the start command '%s' is missing from the release or "
                                   "not executable (%s)", argv0, path.data);
                buf_release(&path);
                return r;
        }
        /* A bare name (Gleam's erl) comes from the PATH the instance gets. */
        for (size_t i = 0; envp && envp[i]; i++)
                if (strncmp(envp[i], "PATH=", 5) == 0)
                        search = envp[i] + 5;
        if (!search)
                search = "/usr/local/bin:/usr/bin:/bin";
        while (*search && r < 0) {
                size_t len = strcspn(search, ":");
                buf_reset(&path);
                buf_printf(&path, "%.*s/%s", (int)len, search, argv0);
                if (stat(path.data, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
                        r = 0;
                search += len + (search[len] == ':');
        }
        if (r < 0)
                buf_printf(err, "the start command '%s' is not in the PATH", argv0);
        buf_release(&path);
        return r;
}

/*
 * Pre-flight: nothing running has been touched yet, so every check here
 * costs no downtime when it fails.
 */
static int preflight(struct hook_call *call, struct buf *err)
{
        struct buf dir = BUF_INIT;
        struct hook_command cmd;
        struct stat st;
        int r;

        if (!call->version) {
                buf_puts(err, "no version to check");
                return -EINVAL;
        }
        call->new_as_current = true; /* start() answers for the release in new/ */
        r = hooks_start(call, &cmd, err);
        call->new_as_current = false;
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        r = check_command(cmd.argv[0], cmd.cwd, cmd.envp, err);
        hook_command_release(&cmd);
        if (r < 0)
                goto out;
        path_release_dir(call->config, call->app->name, call->instance, "new", &dir);
        if (call->app->language == LANG_GLEAM)
                buf_puts(&dir, "/erlang-shipment");
        else
                buf_printf(&dir, "/releases/%s", call->version);
        if (stat(dir.data, &st) < 0 || !S_ISDIR(st.st_mode)) {
                buf_printf(err, "the release does not hold %s: no %s",
                           call->app->language == LANG_GLEAM ? "an erlang-shipment" : call->version,
                           call->app->language == LANG_GLEAM ? "erlang-shipment/"
                                                             : strstr(dir.data, "/releases/") + 1);
                r = -EINVAL;
                goto out;
        }
        r = hooks_call_ok(call, "preflight", err, NULL, 0);
        if (r == -ENOENT)
                r = 0;
out:
        buf_release(&dir);
        return r;
}

/* The reason on one line, the last of stderr: the daemon shows it. */
static void print_reason(struct buf *err, const char *stage, const char *fallback)
{
        for (size_t i = 0; i < err->len; i++)
                if (err->data[i] == '\n')
                        err->data[i] = ' ';
        fprintf(stderr, "%s%s%s\n", stage[0] ? stage : "", stage[0] ? ": " : "",
                err->len ? err->data : fallback);
}

static int call_hook(struct config *c, const struct app_config *app, int n,
                     const char *function, const char *version, const char *from,
                     const char *event, bool hot)
{
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct instance_record rec;
        struct release_desc want;
        struct hook_call call;
        struct kv ev = { (char *)"kind", (char *)event };
        int log_fds[2] = { -1, -1 };
        char stage[32] = "";
        bool local_fault = false;
        int r, status = EXIT_FAIL;

        /* Defaults: the release the instance has in current/ and the one before it. */
        instance_record_read(c, app->name, n, &rec);
        memset(&call, 0, sizeof(call));
        call.config = c;
        call.app = app;
        call.instance = n;
        call.version = version ? version : (rec.version[0] ? rec.version : NULL);
        call.from_version = from ? from : (rec.previous_version[0] ? rec.previous_version : NULL);
        /* The pre-commands of the current.json that published this version. */
        memset(&want, 0, sizeof(want));
        if (call.version && desired_release_for(c, app, call.version, &want) == 0) {
                call.pre_commands = want.pre_commands;
                call.npre_commands = want.npre_commands;
        }
        if (event) {
                call.event = &ev;
                call.nevent = 1;
        }
        call.hot = hot; /* ctx.hot: a hot upgrade (pre-commands run from new/) */
        call.local_fault = &local_fault;
        /* The privileged reads are done: the hook runs as the app's user. */
        if (hook_job_become_app_user(c, app, n, log_fds) < 0) {
                release_desc_release(&want);
                return EXIT_FAIL;
        }
        call.log_fds = log_fds[0] >= 0 || log_fds[1] >= 0 ? log_fds : NULL;

        if (strcmp(function, "start") == 0) {
                struct hook_command cmd;
                r = hooks_start(&call, &cmd, &err);
                if (r == 0) {
                        yajl_gen g = json_gen_new(&out);
                        answer_gen_open(g);
                        yajl_gen_map_open(g);
                        print_strv(g, "argv", cmd.argv);
                        print_strv(g, "envp", cmd.envp);
                        json_gen_kv_str(g, "cwd", cmd.cwd);
                        yajl_gen_map_close(g);
                        answer_gen_close(g);
                        yajl_gen_free(g);
                        hook_command_release(&cmd);
                }
        } else if (strcmp(function, "upgrade_kind") == 0) {
                bool is_hot = false;
                r = hooks_upgrade_kind(&call, &is_hot, &err);
                if (r == 0)
                        answer_string(&out, is_hot ? ANSWER_HOT : ANSWER_FULL);
        } else if (strcmp(function, "preflight") == 0) {
                r = preflight(&call, &err);
                if (r == 0)
                        answer_true(&out);
                else if (r == -ENOENT)
                        r = -EINVAL; /* not "no hook": a failed check */
        } else if (strcmp(function, "on_event") == 0) {
                struct hook_result res;
                r = hooks_call(&call, function, &res, &err);
                if (r == 0)
                        hook_result_release(&res);
                /*
                 * Said, so that the daemon runs no more of these while the files
                 * stay; not when the hooks could not be loaded here (a cookie or
                 * TLS file missing: local_fault), which says nothing of them.
                 */
                if (r == -ENOENT && !local_fault) {
                        answer_string(&out, ANSWER_UNDEFINED);
                        r = 0;
                }
        } else {
                r = hooks_call_ok(&call, function, &err, stage, sizeof(stage));
                if (r == 0)
                        answer_true(&out);
        }
        if (r == 0) {
                printf("%s\n", out.data);
                status = EXIT_OK;
        } else if (local_fault) {
                /* This host's fault (hooks files, cookie, TLS options): the daemon retries later. */
                print_reason(&err, "", "hooks cannot be loaded");
                status = JOB_EXIT_LOCAL;
        } else if (r == -ENOENT) {
                fprintf(stderr, "%s/%d: no %s hook defined\n", app->name, n, function);
                status = EXIT_NOT_DEFINED;
        } else {
                print_reason(&err, stage, "hook failed");
        }
        release_desc_release(&want);
        for (int k = 0; k < 2; k++)
                if (log_fds[k] >= 0)
                        close(log_fds[k]);
        buf_release(&err);
        buf_release(&out);
        return status;
}

static int run_hook(const struct cli *cli, int argc, char **argv)
{
        const char *version = NULL, *from = NULL, *event = NULL;
        bool hot = false;
        const struct app_config *app;
        struct config c;
        int n, r;

        if (argc < 4)
                return cli_usage_error(&cmd_x_hook, "expected APP N FUNCTION");
        for (int i = 4; i < argc; i++) {
                if (strcmp(argv[i], "--hot") == 0) {
                        hot = true;
                        continue;
                }
                if (i + 1 >= argc)
                        return cli_usage_error(&cmd_x_hook, "'%s' needs a value", argv[i]);
                if (strcmp(argv[i], "--version") == 0)
                        version = argv[++i];
                else if (strcmp(argv[i], "--from") == 0)
                        from = argv[++i];
                else if (strcmp(argv[i], "--event") == 0)
                        event = argv[++i];
                else
                        return cli_usage_error(&cmd_x_hook, "unknown option '%s'", argv[i]);
        }
        if (parse_int(argv[2], &n) < 0 || n < 1 || n > REPLICAS_MAX)
                return cli_usage_error(&cmd_x_hook, "N must be an instance number");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_load_job_secrets(&c) != EXIT_OK) {
                config_release(&c);
                return EXIT_FAIL;
        }
        app = cli_find_app(&c, argv[1]);
        r = app ? call_hook(&c, app, n, argv[3], version, from, event, hot) : EXIT_FAIL;
        config_release(&c);
        return r;
}

const struct cli_command cmd_x_hook = {
        .name = "__hook",
        .usage = "__hook APP N FUNCTION [--version V] [--from V] [--event KIND] [--hot]",
        .summary = "(internal) call one hook for the daemon",
        .help = "",
        .run = run_hook,
};

