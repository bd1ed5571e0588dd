/*
 * beam_probe: the stopwatch of bench/beam_status.
 *
 *   beam_probe libei COOKIE ROUNDS NODE...
 *       in this process, through beam/ (built from build/release/libdeployex.a):
 *       - per node, one at a time: connect + release_handler:which_releases/0 +
 *         close (what one status probe of one instance costs);
 *       - the rpc alone on a connection kept open;
 *       - every node at once with otp_probe_all() (what a one-shot __otp did
 *         after its process had started, a connection per node per round);
 *       - every node at once with otp_probe_all_kept() on links kept between
 *         rounds (what the daemon's `__otp --worker` does every 5 s): wall
 *         and CPU time of this process per round.
 *   beam_probe exec ROUNDS LABEL -- CMD [ARG...]
 *       run CMD ROUNDS times (stdout to /dev/null; it must exit 0): wall time
 *       on CLOCK_MONOTONIC and the CPU time of CMD and every process it waited
 *       for (wait4's rusage).
 *
 * With BEAM_PROBE_TLS=CERT:KEY:CA in the environment, libei connects with TLS
 * distribution (beam/tls.h) using those files.
 *
 * Each figure prints as "LABEL: min=.. median=.. p95=.. ms (n=..)".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "beam/beam.h"
#include "beam/otp.h"
#include "beam/tls.h"

#define SAMPLES_MAX 100000

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static void summary(const char *label, double *t, size_t n)
{
        if (n == 0) {
                printf("%s: no samples\n", label);
                return;
        }
        qsort(t, n, sizeof(*t), cmp_double);
        printf("%s: min=%.3f median=%.3f p95=%.3f ms (n=%zu)\n", label, t[0], t[n / 2],
               t[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1], n);
}

static int die(const char *msg)
{
        fprintf(stderr, "beam_probe: %s\n", msg);
        return 1;
}

static int cmd_libei(int argc, char **argv)
{
        const char *cookie = argv[0];
        long rounds = strtol(argv[1], NULL, 10);
        char **nodes = argv + 2;
        int nnodes = argc - 2;
        struct beam_opts o = { cookie, 2000, NULL };
        struct buf err = BUF_INIT;
        const char *files = getenv("BEAM_PROBE_TLS");
        struct beam_tls *tls = NULL;
        double *t;
        size_t n = 0;

        if (rounds < 1 || nnodes < 1 || rounds * nnodes > SAMPLES_MAX)
                return die("libei COOKIE ROUNDS NODE...");
        if (files && *files) {
                char cert[4096], key[4096], ca[4096];

                if (sscanf(files, "%4095[^:]:%4095[^:]:%4095s", cert, key, ca) != 3)
                        return die("BEAM_PROBE_TLS must be CERT:KEY:CA");
                if (beam_tls_new(cert, key, ca, &tls, &err) < 0)
                        return die(err.data);
                o.transport = beam_tls_transport(tls);
        }
        t = calloc((size_t)(rounds * nnodes), sizeof(*t));
        /* one probe = connect + which_releases + close, per node */
        for (long r = 0; r < rounds; r++) {
                for (int i = 0; i < nnodes; i++) {
                        struct beam_conn c;
                        ei_x_buff reply;
                        double t0 = now_ms();

                        ei_x_new(&reply);
                        buf_reset(&err);
                        if (beam_connect(&c, nodes[i], &o, &err) < 0 ||
                            beam_rpc(&c, "release_handler", "which_releases", NULL, 0, 2000, &reply,
                                     &err) < 0) {
                                fprintf(stderr, "beam_probe: %s\n", err.data);
                                return 1;
                        }
                        beam_close(&c);
                        t[n++] = now_ms() - t0;
                        ei_x_free(&reply);
                }
        }
        summary("libei, one node: connect + which_releases + close", t, n);

        /* the rpc alone, on one connection */
        {
                struct beam_conn c;

                n = 0;
                if (beam_connect(&c, nodes[0], &o, &err) < 0)
                        return die(err.data);
                for (long r = 0; r < rounds * nnodes; r++) {
                        ei_x_buff reply;
                        double t0 = now_ms();

                        ei_x_new(&reply);
                        if (beam_rpc(&c, "release_handler", "which_releases", NULL, 0, 2000, &reply,
                                     &err) < 0)
                                return die(err.data);
                        t[n++] = now_ms() - t0;
                        ei_x_free(&reply);
                }
                beam_close(&c);
                summary("libei, which_releases alone on an open connection", t, n);
        }

        /* all nodes at once, one thread each, as the __otp job does */
        {
                struct otp_probe *p = calloc((size_t)nnodes, sizeof(*p));
                char label[128];

                n = 0;
                for (long r = 0; r < rounds; r++) {
                        double t0;

                        for (int i = 0; i < nnodes; i++) {
                                memset(&p[i], 0, sizeof(p[i]));
                                p[i].instance = i + 1;
                                p[i].pid = 1; /* "running": probe it */
                                str_copy(p[i].node, sizeof(p[i].node), nodes[i]);
                        }
                        t0 = now_ms();
                        otp_probe_all(p, (size_t)nnodes, &o, 2000);
                        t[n++] = now_ms() - t0;
                        for (int i = 0; i < nnodes; i++)
                                if (!p[i].connected || !p[i].release[0])
                                        return die(p[i].error);
                }
                snprintf(label, sizeof(label), "libei, all %d nodes in parallel (otp_probe_all)", nnodes);
                summary(label, t, n);

                /* the same rounds on kept links, as the __otp worker does */
                struct otp_link *links = calloc((size_t)nnodes, sizeof(*links));
                struct otp_link **lp = calloc((size_t)nnodes, sizeof(*lp));
                double *cpu = calloc((size_t)rounds, sizeof(*cpu));
                unsigned connects = 0;

                for (int i = 0; i < nnodes; i++) {
                        otp_link_init(&links[i]);
                        lp[i] = &links[i];
                }
                n = 0;
                for (long r = 0; r <= rounds; r++) {
                        struct rusage r0, r1;
                        double t0;

                        for (int i = 0; i < nnodes; i++) {
                                memset(&p[i], 0, sizeof(p[i]));
                                p[i].instance = i + 1;
                                p[i].pid = 1;
                                str_copy(p[i].node, sizeof(p[i].node), nodes[i]);
                        }
                        getrusage(RUSAGE_SELF, &r0);
                        t0 = now_ms();
                        otp_probe_all_kept(p, lp, (size_t)nnodes, &o, 2000);
                        if (r == 0)
                                continue; /* the first round connects */
                        t[n] = now_ms() - t0;
                        getrusage(RUSAGE_SELF, &r1);
                        cpu[n++] = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
                                            r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000.0 +
                                   (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
                                            r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1000.0;
                        for (int i = 0; i < nnodes; i++)
                                if (!p[i].connected || !p[i].release[0])
                                        return die(p[i].error);
                }
                for (int i = 0; i < nnodes; i++) {
                        connects += links[i].connects;
                        otp_link_close(&links[i]);
                }
                snprintf(label, sizeof(label), "libei, all %d nodes on kept links (otp_probe_all_kept)", nnodes);
                summary(label, t, n);
                snprintf(label, sizeof(label), "libei, kept links, CPU per round (%u connects for %ld rounds)",
                         connects, rounds + 1);
                summary(label, cpu, n);
                free(cpu);
                free(lp);
                free(links);
                free(p);
        }
        free(t);
        buf_release(&err);
        beam_tls_free(tls);
        return 0;
}

static int cmd_exec(int argc, char **argv)
{
        long rounds = strtol(argv[0], NULL, 10);
        const char *label = argv[1];
        char **cmd = argv + 3;
        double *wall, *cpu;
        char cpu_label[256];

        if (argc < 4 || rounds < 1 || rounds > SAMPLES_MAX || strcmp(argv[2], "--") != 0)
                return die("exec ROUNDS LABEL -- CMD [ARG...]");
        wall = calloc((size_t)rounds, sizeof(*wall));
        cpu = calloc((size_t)rounds, sizeof(*cpu));
        for (long r = 0; r < rounds; r++) {
                struct rusage ru;
                double t0 = now_ms();
                int status;
                pid_t pid = fork();

                if (pid < 0)
                        return die(strerror(errno));
                if (pid == 0) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                        if (null >= 0)
                                dup2(null, STDOUT_FILENO);
                        execvp(cmd[0], cmd);
                        _exit(127);
                }
                while (wait4(pid, &status, 0, &ru) < 0)
                        if (errno != EINTR)
                                return die(strerror(errno));
                wall[r] = now_ms() - t0;
                cpu[r] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
                         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "beam_probe: '%s' failed (status %d)\n", label, status);
                        return 1;
                }
        }
        summary(label, wall, (size_t)rounds);
        snprintf(cpu_label, sizeof(cpu_label), "%s, CPU (user+sys, its children included)", label);
        summary(cpu_label, cpu, (size_t)rounds);
        free(wall);
        free(cpu);
        return 0;
}

int main(int argc, char **argv)
{
        beam_tls_install(&beam_tls_openssl);
        signal(SIGPIPE, SIG_IGN);
        if (argc >= 5 && strcmp(argv[1], "libei") == 0)
                return cmd_libei(argc - 2, argv + 2);
        if (argc >= 6 && strcmp(argv[1], "exec") == 0)
                return cmd_exec(argc - 2, argv + 2);
        fprintf(stderr, "usage: beam_probe libei COOKIE ROUNDS NODE...\n"
                        "       beam_probe exec ROUNDS LABEL -- CMD [ARG...]\n");
        return 2;
}
