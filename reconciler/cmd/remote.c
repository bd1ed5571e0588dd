/*
 * deployex remote APP N [--dry-run]: an interactive shell on instance N
 * (DESIGN §3).  The CLI process becomes the shell with execve(): no daemon
 * involved, the terminal is the operator's.
 *
 *     elixir  {current}/releases/VSN/iex --werl --hidden --sname rem-PID-APP-N
 *               --boot .../start_clean --boot-var RELEASE_LIB {current}/lib
 *               --vm-args .../remote.vm.args --remsh APP-N@HOST
 *     erlang, gleam   erl -remsh APP-N@HOST -sname remsh-PID -hidden
 *
 * with HOME={service}/home (its .erlang.cookie is the cookie: no -setcookie
 * on any command line), the instance's RELEASE_NODE,
 * RELEASE_DISTRIBUTION=sname, RELEASE_COOKIE and RELEASE_TMP, inherited
 * RELEASE_*, BINDIR, ROOTDIR and ELIXIR_ERL_OPTIONS removed (DESIGN §5).
 * With `tls` configured, the app's distribution options file
 * {var_path}/tls/APP.ssl_dist.conf (the one its instances start with,
 * state/tls.h) is passed as "-proto_dist inet_tls -ssl_dist_optfile FILE":
 * on the command line for erl, through ERL_AFLAGS (which every erl reads)
 * for iex.
 *
 * --dry-run prints what would be executed as JSON, the cookie masked:
 *     {"argv": [...], "env": {"RELEASE_NODE": "myapp-2", ...}, "unset": [...], "cwd": "..."}
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "state/cookie_home.h"
#include "state/app_user.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/node.h"
#include "state/paths.h"
#include "base/spawn.h"
#include "state/tls.h"
#include "base/banned.h"

extern const struct cli_command cmd_remote;

#define COOKIE_MASK "********"
#define MAX_ARGS 16
#define MAX_ENV 8

static const char *const unset_patterns[] = {
        "RELEASE_*", "BINDIR", "ROOTDIR", "ELIXIR_ERL_OPTIONS", "NOTIFY_SOCKET",
};

struct remote_cmd {
        char *argv[MAX_ARGS + 1];   /* owned strings, NULL-terminated */
        size_t argc;
        struct kv env[MAX_ENV];     /* owned */
        size_t nenv;
        char *cwd;
        int cookie_arg;             /* index of the cookie in argv, or -1 */
};

static void add_arg(struct remote_cmd *rc, const char *s)
{
        if (rc->argc < MAX_ARGS)
                rc->argv[rc->argc++] = xstrdup(s);
}

static void add_env(struct remote_cmd *rc, const char *key, const char *value)
{
        if (rc->nenv < MAX_ENV) {
                rc->env[rc->nenv].key = xstrdup(key);
                rc->env[rc->nenv].value = xstrdup(value);
                rc->nenv++;
        }
}

static void remote_cmd_release(struct remote_cmd *rc)
{
        for (size_t i = 0; i < rc->argc; i++)
                free(rc->argv[i]);
        for (size_t i = 0; i < rc->nenv; i++) {
                if (strcmp(rc->env[i].key, "RELEASE_COOKIE") == 0)
                        explicit_bzero(rc->env[i].value, strlen(rc->env[i].value));
                free(rc->env[i].key);
                free(rc->env[i].value);
        }
        free(rc->cwd);
}

/*
 * With tls: the app's distribution options file, written if it is missing or
 * stale (as the daemon does before starting an instance), into ret_file.
 * 0, or -errno after printing why: a shell without TLS would be refused.
 */
static int tls_dist_file(const struct config *c, const struct app_config *app, struct buf *ret_file)
{
        struct buf err = BUF_INIT;
        int r;

        if (!c->has_tls)
                return 0;
        r = tls_dist_write(c, app->name, ret_file, &err);
        if (r < 0)
                fprintf(stderr, "deployex remote: tls: %s\n", err.data);
        buf_release(&err);
        return r;
}

/* "VSN" of {current}/releases/start_erl.data ("ERTS_VSN VSN"), or "" when unreadable. */
static void release_vsn(const char *current, struct buf *ret)
{
        struct buf path = BUF_INIT, text = BUF_INIT;
        char erts[64], vsn[128];

        buf_reset(ret);
        buf_printf(&path, "%s/releases/start_erl.data", current);
        if (file_read_all(path.data, 1024, &text) == 0 && sscanf(text.data, "%63s %127s", erts, vsn) == 2)
                buf_puts(ret, vsn);
        buf_release(&path);
        buf_release(&text);
}

/*
 * Every language gets a plain remote shell, never the release scripts'
 * `remote`/`remote_console`: those put -setcookie on the command line (ps
 * shows it to every local user).  The shell's HOME is the instance's cookie
 * home, whose .erlang.cookie the VM reads instead (state/cookie_home.h).
 */
static void build_command(const struct config *c, const struct app_config *app, int n, const char *current,
                          const char *cookie, const char *tls_file, const char *home, struct remote_cmd *rc)
{
        struct buf s = BUF_INIT, host = BUF_INIT, vsn = BUF_INIT;

        memset(rc, 0, sizeof(*rc));
        rc->cookie_arg = -1;
        rc->cwd = xstrdup(current);
        node_short_host(&host);
        buf_printf(&s, "%s-%d", app->name, n);
        add_env(rc, "RELEASE_NODE", s.data);
        add_env(rc, "RELEASE_DISTRIBUTION", "sname");
        add_env(rc, "RELEASE_COOKIE", cookie);
        buf_reset(&s);
        path_release_dir(c, app->name, n, "tmp", &s);
        add_env(rc, "RELEASE_TMP", s.data);
        add_env(rc, "HOME", home);
        release_vsn(current, &vsn);

        if (app->language == LANG_ELIXIR && vsn.len) {
                /* What `bin/APP remote` runs, without --cookie. */
                buf_reset(&s);
                buf_printf(&s, "%s/releases/%s/iex", current, vsn.data);
                add_arg(rc, s.data);
                add_arg(rc, "--werl");
                add_arg(rc, "--hidden");
                add_arg(rc, "--sname");
                buf_reset(&s);
                buf_printf(&s, "rem-%d-%s-%d", (int)getpid(), app->name, n);
                add_arg(rc, s.data);
                add_arg(rc, "--boot");
                buf_reset(&s);
                buf_printf(&s, "%s/releases/%s/start_clean", current, vsn.data);
                add_arg(rc, s.data);
                add_arg(rc, "--boot-var");
                add_arg(rc, "RELEASE_LIB");
                buf_reset(&s);
                buf_printf(&s, "%s/lib", current);
                add_arg(rc, s.data);
                add_arg(rc, "--vm-args");
                buf_reset(&s);
                buf_printf(&s, "%s/releases/%s/remote.vm.args", current, vsn.data);
                add_arg(rc, s.data);
                add_arg(rc, "--remsh");
                buf_reset(&s);
                buf_printf(&s, "%s-%d@%s", app->name, n, host.data);
                add_arg(rc, s.data);
                if (tls_file) {
                        const char *inherited = getenv("ERL_AFLAGS");

                        buf_reset(&s);
                        buf_printf(&s, "-proto_dist inet_tls -ssl_dist_optfile %s%s%s", tls_file,
                                   inherited ? " " : "", inherited ? inherited : "");
                        add_env(rc, "ERL_AFLAGS", s.data);
                }
        } else {
                add_arg(rc, "erl");
                add_arg(rc, "-remsh");
                buf_reset(&s);
                buf_printf(&s, "%s-%d@%s", app->name, n, host.data);
                add_arg(rc, s.data);
                add_arg(rc, "-sname");
                buf_reset(&s);
                buf_printf(&s, "remsh-%d", (int)getpid());
                add_arg(rc, s.data);
                add_arg(rc, "-hidden");
                if (tls_file) {
                        add_arg(rc, "-proto_dist");
                        add_arg(rc, "inet_tls");
                        add_arg(rc, "-ssl_dist_optfile");
                        add_arg(rc, tls_file);
                }
        }
        buf_release(&s);
        buf_release(&host);
        buf_release(&vsn);
}

static void print_dry_run(const struct remote_cmd *rc)
{
        struct buf out = BUF_INIT;
        yajl_gen g = json_gen_new(&out);

        yajl_gen_map_open(g);
        json_gen_str(g, "argv");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < rc->argc; i++)
                json_gen_str(g, (int)i == rc->cookie_arg ? COOKIE_MASK : rc->argv[i]);
        yajl_gen_array_close(g);
        json_gen_str(g, "env");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < rc->nenv; i++)
                json_gen_kv_str(g, rc->env[i].key,
                                strcmp(rc->env[i].key, "RELEASE_COOKIE") == 0 ? COOKIE_MASK : rc->env[i].value);
        yajl_gen_map_close(g);
        json_gen_str(g, "unset");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < ARRAY_SIZE(unset_patterns); i++)
                json_gen_str(g, unset_patterns[i]);
        yajl_gen_array_close(g);
        json_gen_kv_str(g, "cwd", rc->cwd);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        printf("%s\n", out.data);
        buf_release(&out);
}

static int exec_command(const struct app_config *app, int n, const struct remote_cmd *rc)
{
        struct buf program = BUF_INIT;
        char **envp;
        int r;

        envp = spawn_env_build(NULL, unset_patterns, ARRAY_SIZE(unset_patterns), rc->env, rc->nenv);
        r = spawn_resolve(rc->argv[0], envp, &program);
        if (r < 0) {
                fprintf(stderr, "deployex remote: %s/%d: cannot find '%s' to run\n", app->name, n, rc->argv[0]);
                goto out;
        }
        if (access(program.data, X_OK) < 0) {
                r = -errno;
                fprintf(stderr, "deployex remote: %s/%d: cannot run %s: %s\n", app->name, n, program.data,
                        strerror(errno));
                goto out;
        }
        if (chdir(rc->cwd) < 0) {
                r = -errno;
                fprintf(stderr, "deployex remote: %s/%d: cannot enter %s: %s\n", app->name, n, rc->cwd,
                        strerror(errno));
                goto out;
        }
        /* The shell should die of ^C's and broken pipes as it would when started by hand. */
        signal(SIGPIPE, SIG_DFL);
        fflush(NULL);
        execve(program.data, rc->argv, envp);
        r = -errno;
        fprintf(stderr, "deployex remote: %s/%d: cannot run %s: %s\n", app->name, n, program.data, strerror(errno));
out:
        spawn_strv_free(envp);
        buf_release(&program);
        return r;
}

static int run_remote(const struct cli *cli, int argc, char **argv)
{
        const char *app_name = NULL, *instance = NULL;
        const struct app_config *app;
        struct buf current = BUF_INIT, cookie = BUF_INIT, tls_file = BUF_INIT, home = BUF_INIT;
        struct buf why = BUF_INIT;
        struct remote_cmd rc;
        bool dry_run = false, built = false;
        struct config c;
        struct stat st;
        int n, r, ret = EXIT_FAIL;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--dry-run") == 0)
                        dry_run = true;
                else if (argv[i][0] == '-' && argv[i][1] != '\0')
                        return cli_usage_error(&cmd_remote, "unknown option '%s'", argv[i]);
                else if (!app_name)
                        app_name = argv[i];
                else if (!instance)
                        instance = argv[i];
                else
                        return cli_usage_error(&cmd_remote, "unexpected argument '%s'", argv[i]);
        }
        if (!instance)
                return cli_usage_error(&cmd_remote, "needs APP and an instance number N");
        if (parse_int(instance, &n) < 0)
                return cli_usage_error(&cmd_remote, "N must be an instance number, got '%s'", instance);

        if (cli_load_config(cli, &c) != EXIT_OK)
                return EXIT_FAIL;
        if (cli_load_secrets(&c) != EXIT_OK)
                goto out;
        app = cli_find_app(&c, app_name);
        if (!app)
                goto out;
        if (n < 1 || n > app->replicas) {
                fprintf(stderr, "deployex remote: %s has no instance %d (it has %d replicas in %s)\n",
                        app->name, n, app->replicas, c.origin);
                goto out;
        }
        path_release_dir(&c, app->name, n, "current", &current);
        if (stat(current.data, &st) < 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "deployex remote: %s/%d has no current release (nothing at %s)\n", app->name, n,
                        current.data);
                goto out;
        }
        r = config_read_cookie(&c, &cookie);
        if (r < 0) {
                fprintf(stderr, "deployex remote: cannot read the cookie%s%s: %s\n", c.cookie_file ? " from " : "",
                        c.cookie_file ? c.cookie_file : "", file_strerror(r));
                goto out;
        }
        /* Who the instance runs as: the TLS options file is theirs, and so is the shell. */
        if (app_user_resolve(&c, &c.apps[app - c.apps], &why) < 0) {
                fprintf(stderr, "deployex remote: %s", why.data);
                goto out;
        }
        if (tls_dist_file(&c, app, &tls_file) < 0)
                goto out;
        path_service_dir(&c, app->name, n, &home);
        buf_puts(&home, "/home");
        build_command(&c, app, n, current.data, cookie.data, c.has_tls ? tls_file.data : NULL, home.data, &rc);
        built = true;
        /*
         * The shell joins the instance as the instance's user: root's shell
         * would need a cookie home of its own in a tree root does not own,
         * and an operator's shell has no business being root there.
         */
        if (!dry_run && app_user_become(app, &why) < 0) {
                fprintf(stderr, "deployex remote: %s\n", why.data);
                goto out;
        }
        if (!dry_run && (r = cookie_home_write(home.data, cookie.data)) < 0) {
                fprintf(stderr, "deployex remote: cannot prepare the cookie home %s: %s\n", home.data,
                        r == -EPERM ? "owned by another user" : file_strerror(r));
                goto out;
        }
        if (dry_run) {
                print_dry_run(&rc);
                ret = EXIT_OK;
                goto out;
        }
        (void)exec_command(app, n, &rc); /* returns only on failure */
out:
        if (built)
                remote_cmd_release(&rc);
        if (cookie.cap)
                explicit_bzero(cookie.data, cookie.cap);
        buf_release(&cookie);
        buf_release(&current);
        buf_release(&tls_file);
        buf_release(&home);
        buf_release(&why);
        config_release(&c);
        return ret;
}

const struct cli_command cmd_remote = {
        .name = "remote",
        .usage = "remote APP N [--dry-run]",
        .summary = "an interactive shell on instance N (IEx / erl remsh)",
        .help = "Replaces itself with the release's remote shell on instance N, run from\n"
                "{var_path}/service/APP/N/current: Elixir the release's iex --remsh, Erlang\n"
                "and Gleam 'erl -remsh APP-N@HOST'.  The cookie reaches the shell through\n"
                "HOME={var_path}/service/APP/N/home/.erlang.cookie (0400), never argv; with\n"
                "tls configured the app's distribution options file\n"
                "{var_path}/tls/APP.ssl_dist.conf is passed on.  Leave the shell with ^G q or\n"
                "^C ^C: that ends the shell, not the instance.\n"
                "  --dry-run  print the command and environment as JSON (cookie masked)\n",
        .run = run_remote,
};
