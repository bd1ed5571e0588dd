/*
 * otp: which release a node runs (release_handler, else the boot script),
 * probes of several nodes at once where a stopped one costs one timeout, the
 * otp.json round trip and what status makes of an entry.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/test_beam_nodes.h"
#include "beam/otp.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "base/banned.h"

static struct test_node sasl, plain;

static int setup(void **state)
{
        char cookie[64];

        (void)state;
        signal(SIGPIPE, SIG_IGN);
        snprintf(cookie, sizeof(cookie), "ocookie%ld", (long)getpid());
        if (test_node_start_boot(&sasl, "s", cookie, "start_sasl") != 0 ||
            test_node_start(&plain, "p", cookie) != 0)
                return -1;
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        test_node_stop(&sasl);
        test_node_stop(&plain);
        return 0;
}

/* [{Name, Vsn, Apps, Status}] as release_handler:which_releases/0 returns it. */
static void encode_releases(ei_x_buff *x, const char *const *vsn_status, size_t n)
{
        ei_x_encode_list_header(x, (long)n);
        for (size_t i = 0; i < n; i++) {
                ei_x_encode_tuple_header(x, 4);
                ei_x_encode_string(x, "myapp");
                ei_x_encode_string(x, vsn_status[2 * i]);
                ei_x_encode_list_header(x, 1);
                ei_x_encode_string(x, "kernel-8.5");
                ei_x_encode_empty_list(x);
                ei_x_encode_atom(x, vsn_status[2 * i + 1]);
        }
        ei_x_encode_empty_list(x);
}

static void test_running_release(void **state)
{
        static const struct {
                const char *rel[6];
                size_t n;
                int r;
                const char *want;
        } cases[] = {
                { { "1.0.0", "permanent" }, 1, 0, "1.0.0" },
                /* installed, not yet permanent: the node runs the current one */
                { { "1.0.0", "permanent", "1.0.1", "current" }, 2, 0, "1.0.1" },
                { { "1.0.1", "permanent", "1.0.0", "old" }, 2, 0, "1.0.1" },
                { { "1.0.2", "unpacked", "1.0.1", "permanent" }, 2, 0, "1.0.1" },
                { { "1.0.0", "old" }, 1, -ENOENT, "" },
                { { NULL }, 0, -ENOENT, "" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ei_x_buff x;
                char got[VERSION_MAX + 1] = "";

                ei_x_new(&x);
                encode_releases(&x, cases[i].rel, cases[i].n);
                assert_int_equal(otp_running_release(x.buff, 0, got, sizeof(got)), cases[i].r);
                assert_string_equal(got, cases[i].want);
                ei_x_free(&x);
        }
        /* Not a list of 4-tuples */
        {
                ei_x_buff x;
                char got[VERSION_MAX + 1] = "";

                ei_x_new(&x);
                ei_x_encode_atom(&x, "ok");
                assert_int_equal(otp_running_release(x.buff, 0, got, sizeof(got)), -EPROTO);
                ei_x_free(&x);
        }
}

static void probe_init(struct otp_probe *p, int instance, const struct test_node *n)
{
        memset(p, 0, sizeof(*p));
        p->instance = instance;
        p->pid = n ? n->pid : 0;
        if (n)
                str_copy(p->node, sizeof(p->node), n->node);
}

static void test_probe_nodes(void **state)
{
        struct otp_probe p[4];
        struct beam_opts o = { sasl.cookie, 1000, NULL };
        struct buf host = BUF_INIT;
        (void)state;

        probe_init(&p[0], 1, &sasl);
        probe_init(&p[1], 2, &plain);
        probe_init(&p[2], 3, NULL); /* not running */
        probe_init(&p[3], 4, &plain);
        node_short_host(&host);
        snprintf(p[3].node, sizeof(p[3].node), "gone%ld@%s", (long)getpid(), host.data);
        otp_probe_all(p, 4, &o, 1000);

        assert_true(p[0].connected);
        assert_string_equal(p[0].release, "25"); /* OTP's own release, through release_handler */
        assert_string_equal(p[0].error, "");
        /* No release_handler and a plain boot script: connected, no release. */
        assert_true(p[1].connected);
        assert_string_equal(p[1].release, "");
        assert_non_null(strstr(p[1].error, "runs no release"));
        assert_false(p[2].connected);
        assert_string_equal(p[2].error, "not running");
        assert_false(p[3].connected);
        assert_non_null(strstr(p[3].error, "not registered with epmd"));
        for (int i = 0; i < 4; i++)
                assert_true(p[i].at_ms > 0);
        buf_release(&host);
}

/* Until the kernel says the process is stopped ('T'): SIGSTOP is delivered asynchronously. */
static void wait_stopped(pid_t pid)
{
        char path[64], text[512];

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        for (int i = 0; i < 5000; i++) {
                FILE *f = fopen(path, "r");
                size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
                char *close_paren;

                if (f)
                        fclose(f);
                text[n] = '\0';
                close_paren = strrchr(text, ')');
                if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'T')
                        return;
                usleep(1000);
        }
        fail_msg("pid %d never showed as stopped", (int)pid);
}

/* One stopped node costs one timeout, in parallel with the others. */
static void test_probe_stopped(void **state)
{
        struct otp_probe p[2];
        struct beam_opts o = { sasl.cookie, 500, NULL };
        uint64_t start;
        (void)state;

        probe_init(&p[0], 1, &sasl);
        probe_init(&p[1], 2, &plain);
        assert_int_equal(spawn_kill_group(plain.pid, SIGSTOP), 0);
        wait_stopped(plain.pid);
        start = test_mono_ms();
        otp_probe_all(p, 2, &o, 500);
        assert_in_range(test_mono_ms() - start, 400, 1500);
        assert_int_equal(spawn_kill_group(plain.pid, SIGCONT), 0);
        assert_true(p[0].connected);
        assert_string_equal(p[0].release, "25");
        assert_false(p[1].connected);
        assert_non_null(strstr(p[1].error, "timed out"));
}

/*
 * Kept links: rounds reuse one connection per node; another pid behind the
 * name gets a new one; a stopped node's timeout closes its link (not
 * retried: one timeout) and the next round after SIGCONT connects again.
 */
static void test_probe_kept(void **state)
{
        struct otp_probe p[2];
        struct otp_link links[2], *lp[2] = { &links[0], &links[1] };
        struct beam_opts o = { sasl.cookie, 500, NULL };
        uint64_t start;
        (void)state;

        otp_link_init(&links[0]);
        otp_link_init(&links[1]);
        for (int round = 0; round < 3; round++) {
                probe_init(&p[0], 1, &sasl);
                probe_init(&p[1], 2, &plain);
                otp_probe_all_kept(p, lp, 2, &o, 1000);
                assert_true(p[0].connected);
                assert_string_equal(p[0].release, "25");
                assert_true(p[1].connected);
        }
        assert_int_equal(links[0].connects, 1);
        assert_int_equal(links[1].connects, 1);
        assert_true(links[0].conn.fd >= 0);

        /* The same node name, another pid: a new connection. */
        probe_init(&p[0], 1, &sasl);
        p[0].pid += 100000;
        otp_probe_kept(&p[0], &links[0], &o, 1000);
        assert_true(p[0].connected);
        assert_int_equal(links[0].connects, 2);

        /* Stopped: one timeout, the link closed, the other node probed on its kept link. */
        assert_int_equal(spawn_kill_group(plain.pid, SIGSTOP), 0);
        wait_stopped(plain.pid);
        probe_init(&p[0], 1, &sasl);
        p[0].pid += 100000;
        probe_init(&p[1], 2, &plain);
        start = test_mono_ms();
        otp_probe_all_kept(p, lp, 2, &o, 500);
        assert_in_range(test_mono_ms() - start, 400, 1500);
        assert_int_equal(spawn_kill_group(plain.pid, SIGCONT), 0);
        assert_true(p[0].connected);
        assert_int_equal(links[0].connects, 2);
        assert_false(p[1].connected);
        assert_non_null(strstr(p[1].error, "timed out"));
        assert_int_equal(links[1].conn.fd, -1);
        assert_int_equal(links[1].connects, 1);

        probe_init(&p[1], 2, &plain);
        otp_probe_kept(&p[1], &links[1], &o, 1000);
        assert_true(p[1].connected);
        assert_int_equal(links[1].connects, 2);

        /* Not running: its link is closed. */
        probe_init(&p[1], 2, &plain);
        p[1].pid = 0;
        probe_init(&p[0], 1, &sasl);
        p[0].pid += 100000;
        otp_probe_all_kept(p, lp, 2, &o, 1000);
        assert_int_equal(links[1].conn.fd, -1);
        otp_link_close(&links[0]);
        otp_link_close(&links[1]);
}

static void test_status_file(void **state)
{
        char dir[] = "/tmp/deployex-otp-XXXXXX", path[64];
        struct otp_probe p[2], *loaded = NULL;
        struct buf err = BUF_INIT;
        size_t n = 0;
        (void)state;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/otp.json", dir);
        assert_int_equal(otp_status_load(path, &loaded, &n, &err), -ENOENT);

        memset(p, 0, sizeof(p));
        p[0] = (struct otp_probe){ .instance = 1, .pid = 4242, .connected = true, .at_ms = 1000 };
        str_copy(p[0].release, sizeof(p[0].release), "1.0.1");
        p[1] = (struct otp_probe){ .instance = 3, .pid = 77, .connected = false, .at_ms = 900 };
        str_copy(p[1].error, sizeof(p[1].error), "connecting to node x@y timed out after 2000 ms");
        assert_int_equal(otp_status_write(path, p, 2, 1234), 0);
        assert_int_equal(otp_status_load(path, &loaded, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(loaded[0].instance, 1);
        assert_int_equal(loaded[0].pid, 4242);
        assert_true(loaded[0].connected);
        assert_string_equal(loaded[0].release, "1.0.1");
        assert_int_equal(loaded[0].at_ms, 1000);
        assert_non_null(otp_status_find(loaded, n, 3));
        assert_null(otp_status_find(loaded, n, 2));
        assert_false(otp_status_find(loaded, n, 3)->connected);
        assert_string_equal(otp_status_find(loaded, n, 3)->error, p[1].error);
        free(loaded);

        /* Unchanged and younger than OTP_REWRITE_MS: no need to write it again. */
        {
                struct otp_probe q[2];

                memcpy(q, p, sizeof(q));
                assert_true(otp_status_unchanged(path, q, 2, 900 + OTP_REWRITE_MS - 1));
                assert_false(otp_status_unchanged(path, q, 2, 900 + OTP_REWRITE_MS)); /* the oldest entry */
                q[0].pid = 4243;
                assert_false(otp_status_unchanged(path, q, 2, 1001)); /* a new process */
                q[0].pid = 4242;
                str_copy(q[0].release, sizeof(q[0].release), "1.0.2");
                assert_false(otp_status_unchanged(path, q, 2, 1001)); /* upgraded */
                str_copy(q[0].release, sizeof(q[0].release), "1.0.1");
                q[1].connected = true;
                assert_false(otp_status_unchanged(path, q, 2, 1001));
                q[1].connected = false;
                assert_false(otp_status_unchanged(path, q, 1, 1001)); /* an instance fewer */
                assert_true(otp_status_unchanged(path, q, 2, 1001));
        }

        /* Garbage is an error naming the file. */
        assert_int_equal(atomic_write_file(path, "{\"instances\": 3}", 16), 0);
        buf_reset(&err);
        assert_int_equal(otp_status_load(path, &loaded, &n, &err), -EINVAL);
        assert_non_null(strstr(err.data, path));
        unlink(path);
        rmdir(dir);
        buf_release(&err);
}

static void test_status_of(void **state)
{
        static const struct otp_probe up = { .instance = 1, .pid = 10, .connected = true, .at_ms = 100000 };
        static const struct otp_probe down = { .instance = 1, .pid = 10, .connected = false, .at_ms = 100000 };
        static const struct {
                const struct otp_probe *e;
                bool daemon;
                int pid;
                uint64_t now;
                const char *want;
        } cases[] = {
                { &up, true, 10, 100000, "connected" },
                { &up, true, 10, 100000 + OTP_FRESH_MS, "connected" },
                { &up, true, 10, 100001 + OTP_FRESH_MS, "unknown" },     /* stale */
                { &up, false, 10, 100000, "unknown" },                   /* no daemon */
                { &up, true, 11, 100000, "unknown" },                    /* another process now */
                { &up, true, 0, 100000, "disconnected" },                /* no process */
                { NULL, true, 10, 100000, "unknown" },                   /* never probed */
                { NULL, true, 0, 100000, "disconnected" },
                { NULL, false, 0, 100000, "unknown" },
                { &down, true, 10, 100000, "disconnected" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                assert_string_equal(otp_status_of(cases[i].e, cases[i].daemon, cases[i].pid, cases[i].now),
                                    cases[i].want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_running_release),
                cmocka_unit_test(test_probe_nodes),
                cmocka_unit_test(test_probe_stopped),
                cmocka_unit_test(test_probe_kept),
                cmocka_unit_test(test_status_file),
                cmocka_unit_test(test_status_of),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
