/*
 * status_tree: the state tree of bench/status_scale, linked against
 * build/release/libdeployex.a so that the records are written by the
 * daemon's own code (instance_record_save, otp_status_write).
 *
 *   status_tree VAR_PATH APPS PER_APP
 *
 * For each app bxt1..bxtAPPS and each instance 1..PER_APP: a live process
 * (a child that waits in pause(), in a process group of its own, whose
 * command line is this one and so names VAR_PATH), and a record in state
 * "running" with that pid and its /proc start time, ready, after a full
 * deployment; then one otp.json per app that says each node is connected
 * and runs 1.0.0.  What `status` reads of a converged host, without a
 * daemon or a thousand nodes.  Prints the pids, one a line, and returns
 * with the children left running (the caller kills their groups).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/proc.h"
#include "base/util.h"
#include "beam/otp.h"
#include "state/instance.h"

static int die(const char *what, int e)
{
        fprintf(stderr, "status_tree: %s: %s\n", what, strerror(e < 0 ? -e : e));
        return 1;
}

static int sleeper(void)
{
        pid_t pid = fork();

        if (pid == 0) {
                setpgid(0, 0);
                for (;;)
                        pause();
        }
        return pid;
}

int main(int argc, char **argv)
{
        long apps, per_app;
        uint64_t now = time_now_ms();
        char path[4096];

        if (argc != 4 || (apps = strtol(argv[2], NULL, 10)) < 1 ||
            (per_app = strtol(argv[3], NULL, 10)) < 1) {
                fprintf(stderr, "usage: status_tree VAR_PATH APPS PER_APP\n");
                return 2;
        }
        for (long a = 1; a <= apps; a++) {
                struct otp_probe *probes = calloc((size_t)per_app, sizeof(*probes));
                int e;

                snprintf(path, sizeof(path), "%s/state/bxt%ld/instances", argv[1], a);
                if ((e = mkdir_p(path, 0755)) < 0)
                        return die(path, e);
                for (long n = 1; n <= per_app; n++) {
                        struct instance_record r;
                        int pid = sleeper();

                        if (pid < 0)
                                return die("fork", errno);
                        instance_record_init(&r, (int)n);
                        r.state = INSTANCE_RUNNING;
                        snprintf(r.version, sizeof(r.version), "1.0.0");
                        r.pid = pid;
                        /* The child may not have left fork() yet: its start time is set already. */
                        if ((e = proc_start_time(pid, &r.proc_start_time)) < 0)
                                return die("/proc/PID/stat", e);
                        r.started_at_ms = now - 60000;
                        r.ready = true;
                        r.has_last_deploy = true;
                        r.last_deploy_kind = HISTORY_FULL;
                        r.last_deploy_ok = true;
                        r.last_deploy_at_ms = now - 61000;
                        snprintf(path, sizeof(path), "%s/state/bxt%ld/instances/%ld.json", argv[1], a, n);
                        if ((e = instance_record_save(path, &r)) < 0)
                                return die(path, e);
                        probes[n - 1].instance = (int)n;
                        probes[n - 1].pid = pid;
                        snprintf(probes[n - 1].node, sizeof(probes[n - 1].node), "bxt%ld-%ld@localhost", a, n);
                        probes[n - 1].connected = true;
                        snprintf(probes[n - 1].release, sizeof(probes[n - 1].release), "1.0.0");
                        probes[n - 1].at_ms = now;
                        printf("%d\n", pid);
                }
                snprintf(path, sizeof(path), "%s/state/bxt%ld/otp.json", argv[1], a);
                if ((e = otp_status_write(path, probes, (size_t)per_app, now)) < 0)
                        return die(path, e);
                free(probes);
        }
        return 0;
}
