/*
 * deployex web: the admin web UI in the foreground (DESIGN §9; web/).
 * `deployex run` starts it as a supervised child when http.listen is set
 * (webchild.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "base/log.h"
#include "web/web.h"
#include "base/banned.h"

static int run(const struct cli *cli, int argc, char **argv)
{
        struct web_options o;
        struct buf assets = BUF_INIT;
        struct config c;
        char exe[PATH_MAX];
        ssize_t n;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--debug") == 0)
                        log_set_level(LOG_DEBUG);
                else
                        return cli_usage_error(&cmd_web, "unexpected argument '%s'", argv[i]);
        }
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (!c.http_listen) {
                fprintf(stderr, "deployex web: %s sets no \"http\": {\"listen\": ...} (nor "
                        "DEPLOYEX_PHX_PORT); nothing to serve\n", c.origin);
                config_release(&c);
                return EXIT_FAIL;
        }
        if (web_assets_dir(&assets) < 0) {
                fprintf(stderr, "deployex web: no web assets (set DEPLOYEX_WEB_PATH or install "
                        "share/deployex/web next to bin/deployex)\n");
                config_release(&c);
                return EXIT_FAIL;
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0) {
                fprintf(stderr, "deployex web: cannot find my own executable: %s\n", strerror(errno));
                config_release(&c);
                buf_release(&assets);
                return EXIT_FAIL;
        }
        exe[n] = '\0';
        o = (struct web_options){ .cfg = &c, .config_path = cli->config_path,
                                  .assets_dir = assets.data, .self_exe = exe };
        r = web_serve(&o);
        config_release(&c);
        buf_release(&assets);
        return r < 0 ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command cmd_web = {
        .name = "web",
        .usage = "web [--debug]",
        .summary = "the admin web UI alone, in the foreground",
        .help = "Serves the dashboard and its JSON API on http.listen (DEPLOYEX_PHX_PORT in the\n"
                "environment mode), loopback unless http.tls_cert and http.tls_key are set.\n"
                "Logins are checked against http.admin_password_hash (deployex hash-password).\n"
                "Pages come from $DEPLOYEX_WEB_PATH, else ../share/deployex/web next to the\n"
                "binary. 'deployex run' starts it by itself when http is configured.\n"
                "SIGTERM or SIGINT stop it. See docs/web.md.\n",
        .run = run,
};
