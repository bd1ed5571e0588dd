/*
 * __ready APP N PID START_TIME: the readiness job (DESIGN §5, Ready).
 *
 * The daemon runs one per instance coming up, right after its process
 * starts.  It keeps one distribution connection to the node and samples,
 * every READY_STEP_MS: the process is the one started (pid + start time);
 * the node answers and init:get_status() says the release booted
 * ({started, started}; a Gleam shipment's main runs inside -eval and leaves
 * it {starting, started}); the hook's health(ctx), if defined, returns
 * true (asked at most every HEALTH_STEP_MS).  When every sample has been
 * good for healthy_after_ms (readiness.h), it answers with its figures
 * (reconciler/jobs/answer.h) and exits 0.  A bad sample restarts the clock, and its reason goes to stderr
 * as one line "not ready: WHY" whenever it changes: the daemon quotes the
 * last one when the instance is rolled back for not becoming ready.
 *
 * Exit 1: the process is gone (the daemon sees the exit itself), or the job
 * cannot start (no config, no cookie).  The daemon bounds the job's run
 * with the rollback deadline.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/cmd/dist.h"
#include "base/proc.h"
#include "reconciler/core/readiness.h"
#include "beam/beam.h"
#include "lua/hooks.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/jobs/become.h"
#include "state/instance.h"
#include "state/json.h"
#include "state/node.h"
#include "base/banned.h"

#define READY_STEP_MS 250
#define HEALTH_STEP_MS 1000
#define READY_CONNECT_TIMEOUT_MS 1000
#define READY_RPC_TIMEOUT_MS 2000

struct sampler {
        const struct config *cfg;
        const struct app_config *app;
        int instance;
        char version[VERSION_MAX + 1];
        const char *node;
        struct beam_opts opts;
        struct beam_conn conn;
        bool have_health;          /* false once the hooks said there is no health() */
        int log_fds[2];            /* the instance's logs, opened before becoming its user */
        uint64_t health_at_ms;     /* monotonic time of the last health call */
        bool health_ok;
        char health_why[256];
};

/* init:get_status() -> {Internal, Provided}: booted for this language? */
static bool booted(const struct sampler *s, const ei_x_buff *reply, struct buf *why)
{
        char internal[MAXATOMLEN] = "", provided[MAXATOMLEN] = "";
        int index = 0, arity;

        if (ei_decode_tuple_header(reply->buff, &index, &arity) < 0 || arity != 2 ||
            ei_decode_atom(reply->buff, &index, internal) < 0 ||
            ei_decode_atom(reply->buff, &index, provided) < 0) {
                buf_puts(why, "init:get_status() answered something unexpected");
                return false;
        }
        if (strcmp(provided, "started") == 0 &&
            (strcmp(internal, "started") == 0 ||
             (s->app->language == LANG_GLEAM && strcmp(internal, "starting") == 0)))
                return true;
        buf_printf(why, "the release has not booted: init:get_status() is {%s, %s}", internal,
                   provided);
        return false;
}

static bool node_sample(struct sampler *s, struct buf *why)
{
        ei_x_buff reply;
        bool ok = false;

        if (s->conn.fd < 0 && beam_connect(&s->conn, s->node, &s->opts, why) < 0)
                return false;
        ei_x_new(&reply);
        if (beam_rpc(&s->conn, "init", "get_status", NULL, 0, READY_RPC_TIMEOUT_MS, &reply, why) < 0)
                beam_close(&s->conn); /* a fresh connection next time */
        else
                ok = booted(s, &reply, why);
        ei_x_free(&reply);
        return ok;
}

static bool health_sample(struct sampler *s, uint64_t now, struct buf *why)
{
        struct hook_call call;
        struct buf err = BUF_INIT;
        int r;

        if (!s->have_health)
                return true;
        if (s->health_at_ms && now < s->health_at_ms + HEALTH_STEP_MS) {
                if (!s->health_ok)
                        buf_puts(why, s->health_why);
                return s->health_ok;
        }
        memset(&call, 0, sizeof(call));
        call.config = s->cfg;
        call.app = s->app;
        call.instance = s->instance;
        call.version = s->version[0] ? s->version : NULL;
        call.log_fds = s->log_fds[0] >= 0 || s->log_fds[1] >= 0 ? s->log_fds : NULL;
        r = hooks_call_ok(&call, "health", &err, NULL, 0);
        s->health_at_ms = now;
        if (r == -ENOENT) {
                s->have_health = false;
                s->health_ok = true;
        } else {
                s->health_ok = r == 0;
                for (size_t i = 0; i < err.len; i++)
                        if (err.data[i] == '\n')
                                err.data[i] = ' ';
                snprintf(s->health_why, sizeof(s->health_why), "health: %s",
                         err.len ? err.data : "false");
                if (!s->health_ok)
                        buf_puts(why, s->health_why);
        }
        buf_release(&err);
        return s->health_ok;
}

/* CPU time this process used, in ms (the figure bench/readiness reports). */
static uint64_t cpu_ms(void)
{
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
               (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/*
 * {"result": {"healthy_ms", "ready_ms", "cpu_ms"}}: for operators (--debug)
 * and bench/readiness, how long each part took since the check began.
 */
static int answer_ready(uint64_t healthy_ms, uint64_t ready_ms, uint64_t cpu)
{
        struct answer_object a;
        yajl_gen g = answer_object_begin(&a);

        json_gen_kv_int(g, "healthy_ms", (long long)healthy_ms);
        json_gen_kv_int(g, "ready_ms", (long long)ready_ms);
        json_gen_kv_int(g, "cpu_ms", (long long)cpu);
        return answer_object_end(&a);
}

static int watch(struct sampler *s, int pid, uint64_t start_time)
{
        struct readiness rd = READINESS_INIT;
        uint64_t began = time_mono_ms(), cpu0 = cpu_ms();
        struct buf why = BUF_INIT, said = BUF_INIT;
        int status = EXIT_FAIL;

        for (;;) {
                uint64_t now = time_mono_ms();
                bool ok;

                buf_reset(&why);
                if (!proc_is_same(pid, start_time)) {
                        fprintf(stderr, "not ready: the process %d exited\n", pid);
                        break;
                }
                ok = node_sample(s, &why) && health_sample(s, now, &why);
                if (readiness_observe(&rd, ok, now, s->app->healthy_after_ms)) {
                        status = answer_ready(rd.since_ms - began, now - began,
                                              cpu_ms() - cpu0) < 0 ? EXIT_FAIL : EXIT_OK;
                        break;
                }
                if (!ok && strcmp(why.data, said.data) != 0) {
                        fprintf(stderr, "not ready: %s\n", why.data);
                        buf_reset(&said);
                        buf_puts(&said, why.data);
                }
                time_sleep_until_mono_ms(readiness_next_check_ms(&rd, time_mono_ms(), s->app->healthy_after_ms,
                                                    READY_STEP_MS));
        }
        buf_release(&why);
        buf_release(&said);
        return status;
}

static int run_x_ready(const struct cli *cli, int argc, char **argv)
{
        struct buf err = BUF_INIT, node = BUF_INIT;
        struct dist dist = DIST_INIT;
        const struct app_config *app;
        struct sampler s;
        struct config c;
        char *end;
        long n, pid;
        unsigned long long start_time;
        int r;

        if (argc != 5)
                return cli_usage_error(&cmd_x_ready, "expected APP N PID START_TIME");
        n = strtol(argv[2], &end, 10);
        if (*end || n < 1 || n > REPLICAS_MAX)
                return cli_usage_error(&cmd_x_ready, "bad instance '%s'", argv[2]);
        pid = strtol(argv[3], &end, 10);
        if (*end || pid < 1)
                return cli_usage_error(&cmd_x_ready, "bad pid '%s'", argv[3]);
        start_time = strtoull(argv[4], &end, 10);
        if (*end)
                return cli_usage_error(&cmd_x_ready, "bad start time '%s'", argv[4]);
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_load_job_secrets(&c) != EXIT_OK || !(app = cli_find_app(&c, argv[1]))) {
                config_release(&c);
                return EXIT_FAIL;
        }
        signal(SIGPIPE, SIG_IGN);
        memset(&s, 0, sizeof(s));
        s.cfg = &c;
        s.app = app;
        s.instance = (int)n;
        s.conn.fd = -1;
        s.log_fds[0] = s.log_fds[1] = -1;
        s.have_health = true;
        {
                struct instance_record rec;
                instance_record_read(&c, app->name, (int)n, &rec);
                str_copy(s.version, sizeof(s.version), rec.version);
        }
        node_name(app->name, (int)n, &node);
        s.node = node.data;
        if (dist_opts(&c, &dist, &s.opts, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                r = EXIT_FAIL;
        } else if (hook_job_become_app_user(&c, app, (int)n, s.log_fds) < 0) {
                r = EXIT_FAIL; /* the health hook runs as the app's user, or not at all */
        } else {
                s.opts.connect_timeout_ms = READY_CONNECT_TIMEOUT_MS;
                r = watch(&s, (int)pid, start_time);
        }
        beam_close(&s.conn);
        for (int k = 0; k < 2; k++)
                if (s.log_fds[k] >= 0)
                        close(s.log_fds[k]);
        dist_release(&dist);
        buf_release(&err);
        buf_release(&node);
        config_release(&c);
        return r;
}

const struct cli_command cmd_x_ready = {
        .name = "__ready",
        .usage = "__ready APP N PID START_TIME",
        .summary = "(internal) wait until instance N is ready (node booted, health true)",
        .help = "",
        .run = run_x_ready,
};
