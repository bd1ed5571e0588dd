/*
 * test_beam_nodes: real Erlang nodes for the unit tests of beam/ and of
 * deployex.rpc -- `erl -sname NAME -setcookie COOKIE -noshell`, each in its own
 * process group, killed with the test binary (PR_SET_PDEATHSIG) or by
 * test_node_stop().  Names carry the test's pid, so parallel runs do not
 * collide.  epmd is started first (`epmd -daemon`, left running as epmd is).
 * Header-only.
 */
#ifndef DEPLOYEX_TEST_BEAM_NODES_H
#define DEPLOYEX_TEST_BEAM_NODES_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "beam/beam.h"
#include "state/node.h"
#include "base/spawn.h"

struct test_node {
        pid_t pid;
        char node[128];   /* "dxtPID_TAG@host" */
        char cookie[64];
};

static inline uint64_t test_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline int test_epmd_start(void)
{
        char *argv[] = { (char *)"epmd", (char *)"-daemon", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        struct spawn_run run = { 10000, 500, -1, -1, 1024 };
        struct spawn_result res;
        int r = spawn_run(&o, &run, &res);

        if (r == 0)
                spawn_result_release(&res);
        return r;
}

/*
 * Start a node (with one extra erl argument such as "start_sasl" for
 * "-boot start_sasl", or NULL) and wait until it answers a connection (up to
 * 20 s).  0, or -errno with the reason printed.
 */
static inline int test_node_start_boot(struct test_node *n, const char *tag, const char *cookie,
                                       const char *boot)
{
        char sname[64];
        struct buf host = BUF_INIT, err = BUF_INIT;
        char *argv[] = { (char *)"erl", (char *)"-sname", sname, (char *)"-setcookie",
                         n->cookie, (char *)"-noshell", boot ? (char *)"-boot" : NULL,
                         (char *)boot, NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, true, NULL, NULL };
        struct beam_opts bo;
        uint64_t end;
        int r;

        (void)test_epmd_start();
        memset(n, 0, sizeof(*n));
        snprintf(sname, sizeof(sname), "dxt%ld_%s", (long)getpid(), tag);
        node_short_host(&host);
        snprintf(n->node, sizeof(n->node), "%s@%s", sname, host.data);
        buf_release(&host);
        snprintf(n->cookie, sizeof(n->cookie), "%s", cookie);
        if ((r = spawn_start(&o, &n->pid)) < 0) {
                fprintf(stderr, "cannot start erl: %s\n", strerror(-r));
                return r;
        }
        bo = (struct beam_opts){ n->cookie, 1000, NULL };
        end = test_mono_ms() + 20000;
        for (;;) {
                struct beam_conn c;

                buf_reset(&err);
                r = beam_connect(&c, n->node, &bo, &err);
                if (r == 0) {
                        beam_close(&c);
                        break;
                }
                if (test_mono_ms() > end) {
                        fprintf(stderr, "node %s did not come up: %s\n", n->node, err.data);
                        break;
                }
                usleep(50 * 1000);
        }
        buf_release(&err);
        return r;
}

static inline int test_node_start(struct test_node *n, const char *tag, const char *cookie)
{
        return test_node_start_boot(n, tag, cookie, NULL);
}

static inline void test_node_stop(struct test_node *n)
{
        int st;

        if (n->pid <= 0)
                return;
        spawn_kill_group(n->pid, SIGCONT);
        spawn_kill_group(n->pid, SIGKILL);
        (void)waitpid(n->pid, &st, 0);
        n->pid = 0;
}

#endif
