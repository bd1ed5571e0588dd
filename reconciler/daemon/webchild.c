/*
 * webchild: the daemon's side of the web UI (webchild.h): it starts the UI's
 * supervisor, `deployex [-c FILE] __websup` (reconciler/cmd/websup.c), a
 * child of the full binary that dies with the daemon.
 */
#include <unistd.h>

#include "base/log.h"
#include "reconciler/daemon/webchild.h"
#include "base/spawn.h"
#include "base/banned.h"

void webchild_start(const struct config *cfg, const char *cli_exe, const char *config_path)
{
        const char *argv[5];
        pid_t pid;
        int k = 0, r;

        if (!cfg->http_listen)
                return;
        argv[k++] = cli_exe;
        if (config_path) {
                argv[k++] = "-c";
                argv[k++] = config_path;
        }
        argv[k++] = "__websup";
        argv[k] = NULL;
        r = spawn_start(&(struct spawn_opts){ .argv = (char *const *)argv, .stdin_fd = -1,
                                              .stdout_fd = STDERR_FILENO,
                                              .stderr_fd = STDERR_FILENO,
                                              .die_with_parent = true },
                        &pid);
        if (r < 0)
                log_errno(r, "cannot start the web UI's supervisor; no web UI");
        else
                log_info("web UI on %s: supervisor pid %d", cfg->http_listen, (int)pid);
}
