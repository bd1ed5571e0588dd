/*
 * The commands that speak Erlang distribution (beam/):
 *
 *   deployex rpc [--timeout MS] APP N MOD FUN [ARG...]
 *       one call on instance N's node; ARGs are Erlang terms, parsed by the
 *       node's own erl_scan/erl_parse so they mean exactly what they mean in
 *       an Erlang shell ("x" a charlist, <<"x">> a binary, #{} a map); the
 *       reply is printed in Erlang syntax.  {badrpc, ...}, a timeout or an
 *       unreachable node: one line on stderr, exit 1.
 *
 *   __otp [--worker] [APP...]  (no APP = every app)
 *       probe the running instances in parallel for the release their node
 *       runs and write state/APP/otp.json (beam/otp.h), which `status` reads.
 *       --worker: the daemon's long-lived probe, a round every
 *       OTP_REFRESH_MS on distribution connections kept between rounds.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/cmd/dist.h"
#include "base/proc.h"
#include "beam/beam.h"
#include "beam/etf.h"
#include "beam/otp.h"
#include "base/fsutil.h"
#include "state/instance.h"
#include "state/json.h"
#include "state/node.h"
#include "state/paths.h"
#include "base/banned.h"

#define RPC_TIMEOUT_MS 15000
#define RPC_TIMEOUT_MAX_MS (24u * 3600 * 1000)

/* ---- deployex rpc ---------------------------------------------------------- */

static int call(const struct config *c, const char *app, int n, unsigned timeout_ms,
                char **words, int nwords)
{
        struct buf node = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
        struct dist dist = DIST_INIT;
        const char *mod = words[0], *fun = words[1];
        struct beam_opts o;
        struct beam_conn conn;
        ei_x_buff args, reply;
        int r, status = EXIT_FAIL, index = 0, nargs = nwords - 2;

        conn.fd = -1;
        ei_x_new(&args);
        ei_x_new(&reply);
        node_name(app, n, &node);
        if (dist_opts(c, &dist, &o, &err) < 0)
                goto out;
        if (timeout_ms < o.connect_timeout_ms)
                o.connect_timeout_ms = timeout_ms;
        if (beam_connect(&conn, node.data, &o, &err) < 0)
                goto out;
        if (nargs > 0)
                ei_x_encode_list_header(&args, nargs);
        for (int i = 0; i < nargs; i++) {
                r = beam_parse_term(&conn, words[2 + i], timeout_ms, &args, &err);
                if (r == -EINVAL) {
                        /* The operator's text is not a term: a usage error, said as such. */
                        fprintf(stderr, "deployex rpc: argument %d: %s\n", i + 1, err.data);
                        status = EXIT_USAGE;
                        buf_reset(&err);
                        goto out;
                }
                if (r < 0)
                        goto out;
        }
        ei_x_encode_empty_list(&args);
        r = beam_rpc(&conn, mod, fun, args.buff, args.index, timeout_ms, &reply, &err);
        /* "MyApp.Repo" is an Elixir alias; the module's atom is 'Elixir.MyApp.Repo'. */
        if (r == -EREMOTEIO && mod[0] >= 'A' && mod[0] <= 'Z' && strstr(err.data, "undef"))
                buf_printf(&err, " (hint: in Erlang terms the Elixir module %s is 'Elixir.%s': "
                                 "deployex rpc %s %d Elixir.%s %s ...)", mod, mod, app, n, mod, fun);
        if (r < 0)
                goto out;
        if (etf_format(reply.buff, &index, node.data, &out) < 0) {
                buf_printf(&err, "rpc %s %s:%s/%d: cannot read the reply", node.data, mod, fun, nargs);
                goto out;
        }
        printf("%s\n", out.data);
        status = EXIT_OK;
out:
        if (err.len)
                fprintf(stderr, "deployex: %s/%d: %s\n", app, n, err.data);
        beam_close(&conn);
        ei_x_free(&args);
        ei_x_free(&reply);
        dist_release(&dist);
        buf_release(&node);
        buf_release(&err);
        buf_release(&out);
        return status;
}

/* An Erlang module or function name as the CLI takes it: an unquoted atom. */
static bool name_ok(const char *s)
{
        size_t len = strlen(s);

        if (len == 0 || len >= MAXATOMLEN)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20)
                        return false;
        return true;
}

static int run_rpc(const struct cli *cli, int argc, char **argv)
{
        const struct app_config *app;
        unsigned timeout = RPC_TIMEOUT_MS;
        struct config c;
        int i = 1, n, r;

        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                const char *value = NULL;
                uint64_t ms;

                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(argv[i], "--timeout") == 0) {
                        if (i + 1 >= argc)
                                return cli_usage_error(&cmd_rpc, "--timeout needs a value in ms");
                        value = argv[++i];
                } else if (strncmp(argv[i], "--timeout=", 10) == 0) {
                        value = argv[i] + 10;
                } else {
                        return cli_usage_error(&cmd_rpc, "unknown option '%s'", argv[i]);
                }
                if (parse_u64(value, &ms) < 0 || ms == 0 || ms > RPC_TIMEOUT_MAX_MS)
                        return cli_usage_error(&cmd_rpc, "--timeout: '%s' is not a number of ms "
                                               "(1 to %u)", value, RPC_TIMEOUT_MAX_MS);
                timeout = (unsigned)ms;
        }
        if (argc - i < 4)
                return cli_usage_error(&cmd_rpc, "expected APP N MOD FUN [ARG...]");
        if (parse_int(argv[i + 1], &n) < 0 || n < 1 || n > REPLICAS_MAX)
                return cli_usage_error(&cmd_rpc, "N must be an instance number (1 to %d), got '%s'",
                                       REPLICAS_MAX, argv[i + 1]);
        if (!name_ok(argv[i + 2]) || !name_ok(argv[i + 3]))
                return cli_usage_error(&cmd_rpc, "MOD and FUN must be atom names");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_load_secrets(&c) != EXIT_OK) {
                config_release(&c);
                return EXIT_FAIL;
        }
        app = cli_find_app(&c, argv[i]);
        r = app ? call(&c, app->name, n, timeout, argv + i + 2, argc - i - 2) : EXIT_FAIL;
        config_release(&c);
        return r;
}

const struct cli_command cmd_rpc = {
        .name = "rpc",
        .usage = "rpc [--timeout MS] APP N MOD FUN [ARG...]",
        .summary = "one call over distribution on instance N; prints the reply term",
        .help = "Calls MOD:FUN(ARG...) on instance N's node as a hidden C node and prints the\n"
                "reply in Erlang syntax. Each ARG is one Erlang term, written as in an Erlang\n"
                "shell and parsed by the node itself: \"x\" is a charlist, <<\"x\">> a binary,\n"
                "#{k => v} a map, 'Elixir.Mod' an Elixir module. Quote ARGs for your shell.\n\n"
                "  --timeout MS   how long the call may take (default 15000); the connection\n"
                "                 itself gets at most 2000 ms\n\n"
                "Examples:\n"
                "  deployex rpc myapp 1 erlang node\n"
                "  deployex rpc myapp 2 release_handler which_releases\n"
                "  deployex rpc myapp 1 lists reverse '[1,2,3]'\n"
                "  deployex rpc myapp 1 Elixir.MyApp.Cache get '<<\"user:1\">>'\n\n"
                "A {badrpc, Reason} reply (the function raised, the module is missing), a\n"
                "timeout, a bad cookie or a node that is not running print one line and exit 1;\n"
                "an ARG that is not a term exits 2.\n",
        .run = run_rpc,
};

/* ---- __otp [APP...] --------------------------------------------------------- */

struct app_probes {
        const struct app_config *app;
        size_t first, n;        /* its entries in the shared probe array */
};

/* One entry per instance 1..max(replicas, recorded), with the pid if its process lives. */
static void add_app(const struct config *c, const struct app_config *app, struct otp_probe **probes,
                    size_t *n, size_t *cap, struct app_probes *ret)
{
        struct buf path = BUF_INIT, err = BUF_INIT, node = BUF_INIT;
        struct instance_record *recs = NULL;
        size_t nrecs = 0;
        int max = app->replicas;

        path_instances_dir(c, app->name, &path);
        (void)instance_records_load_dir(path.data, &recs, &nrecs, &err);
        for (size_t i = 0; i < nrecs; i++)
                if (recs[i].instance > max)
                        max = recs[i].instance;
        xgrow((void **)probes, cap, *n + (size_t)max, sizeof(**probes));
        ret->app = app;
        ret->first = *n;
        ret->n = (size_t)max;
        for (int k = 1; k <= max; k++) {
                struct otp_probe *p = &(*probes)[(*n)++];

                memset(p, 0, sizeof(*p));
                p->instance = k;
                node_name(app->name, k, &node);
                str_copy(p->node, sizeof(p->node), node.data);
                for (size_t i = 0; i < nrecs; i++)
                        if (recs[i].instance == k && recs[i].pid > 0 &&
                            proc_is_same(recs[i].pid, recs[i].proc_start_time))
                                p->pid = recs[i].pid;
        }
        free(recs);
        buf_release(&path);
        buf_release(&err);
        buf_release(&node);
}

/*
 * The worker's connections, one per node name, kept across rounds; a node no
 * round asks about any more (its app removed, fewer replicas) is closed.
 */
struct kept_link {
        char node[BEAM_NODE_MAX + 1];
        struct otp_link link;
        bool used; /* asked about in this round */
};

struct kept_links {
        struct kept_link **v;
        size_t n, cap;
};

static struct otp_link *kept_for(struct kept_links *k, const char *node)
{
        struct kept_link *l;

        for (size_t i = 0; i < k->n; i++)
                if (strcmp(k->v[i]->node, node) == 0) {
                        k->v[i]->used = true;
                        return &k->v[i]->link;
                }
        l = xcalloc(1, sizeof(*l));
        str_copy(l->node, sizeof(l->node), node);
        otp_link_init(&l->link);
        l->used = true;
        xgrow((void **)&k->v, &k->cap, k->n + 1, sizeof(struct kept_link *));
        k->v[k->n++] = l;
        return &l->link;
}

static void kept_sweep(struct kept_links *k)
{
        size_t kept = 0;

        for (size_t i = 0; i < k->n; i++) {
                if (!k->v[i]->used) {
                        otp_link_close(&k->v[i]->link);
                        free(k->v[i]);
                        continue;
                }
                k->v[i]->used = false;
                k->v[kept++] = k->v[i];
        }
        k->n = kept;
}

/*
 * Probe every instance of the apps at once (one thread each), then write
 * each app's otp.json.  kept: the worker's connections (NULL: one each).
 */
static int probe_apps(const struct config *c, const struct app_config *const *apps, size_t napps,
                      const struct beam_opts *o, struct kept_links *kept)
{
        struct otp_link **links = NULL;
        struct buf path = BUF_INIT;
        struct app_probes *per = xcalloc(napps + 1, sizeof(*per));
        struct otp_probe *probes = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        for (size_t a = 0; a < napps; a++)
                add_app(c, apps[a], &probes, &n, &cap, &per[a]);
        if (kept) {
                links = xcalloc(n + 1, sizeof(struct otp_link *));
                for (size_t i = 0; i < n; i++)
                        links[i] = kept_for(kept, probes[i].node);
                kept_sweep(kept);
        }
        otp_probe_all_kept(probes, links, n, o, OTP_RPC_TIMEOUT_MS);

        for (size_t a = 0; a < napps; a++) {
                const struct otp_probe *p = probes + per[a].first;
                int w;

                path_state_dir(c, per[a].app->name, &path);
                (void)mkdir_p(path.data, 0750);
                path_otp_status(c, per[a].app->name, &path);
                if (!otp_status_unchanged(path.data, p, per[a].n, time_now_ms()) &&
                    (w = otp_status_write(path.data, p, per[a].n, time_now_ms())) < 0) {
                        fprintf(stderr, "cannot write '%s': %s\n", path.data, strerror(-w));
                        r = w;
                }
                for (size_t i = 0; i < per[a].n && !kept; i++)
                        if (p[i].pid > 0)
                                printf("%s/%d %s %s%s%s\n", per[a].app->name, p[i].instance,
                                       p[i].connected ? "connected" : "disconnected",
                                       p[i].release[0] ? p[i].release : "-",
                                       p[i].error[0] ? " " : "", p[i].error);
        }
        buf_release(&path);
        free(links);
        free(probes);
        free(per);
        return r < 0 ? EXIT_FAIL : EXIT_OK;
}

/* One round's answer (reconciler/jobs/answer.h): {"round_ms", "open", "new"}. */
static int answer_round(uint64_t took_ms, unsigned open, unsigned fresh)
{
        struct answer_object a;
        yajl_gen g = answer_object_begin(&a);

        json_gen_kv_int(g, "round_ms", (long long)took_ms);
        json_gen_kv_int(g, "open", open);
        json_gen_kv_int(g, "new", fresh);
        return answer_object_end(&a);
}

/*
 * --worker: probe every OTP_REFRESH_MS for as long as the daemon runs, on
 * connections kept between rounds (the daemon supervises this process,
 * workers.h).  A round that overruns (a stopped node's timeout) starts the
 * next one at once rather than twice as late.
 */
static int otp_worker(const struct config *c, const struct app_config *const *apps, size_t napps,
                      const struct beam_opts *o)
{
        struct kept_links kept = { NULL, 0, 0 };

        /* A node that closes the socket while we write must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
                uint64_t start = time_mono_ms(), took;
                unsigned before = 0, after = 0, open = 0;

                for (size_t i = 0; i < kept.n; i++)
                        before += kept.v[i]->link.connects;
                (void)probe_apps(c, apps, napps, o, &kept);
                took = time_mono_ms() - start;
                for (size_t i = 0; i < kept.n; i++) {
                        after += kept.v[i]->link.connects;
                        open += kept.v[i]->link.conn.fd >= 0;
                }
                /* For the daemon's debug log: what a round cost, and whether links were kept. */
                if (answer_round(took, open, after - before) < 0)
                        return EXIT_FAIL; /* the daemon is gone */
                if (took < OTP_REFRESH_MS) {
                        struct timespec ts = { (time_t)((OTP_REFRESH_MS - took) / 1000),
                                               (long)((OTP_REFRESH_MS - took) % 1000) * 1000000L };
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                ;
                }
        }
        return EXIT_OK;
}

static int run_x_otp(const struct cli *cli, int argc, char **argv)
{
        const struct app_config **apps;
        struct config c;
        size_t napps = 0;
        bool worker = argc > 1 && strcmp(argv[1], "--worker") == 0;
        struct dist dist = DIST_INIT;
        struct buf err = BUF_INIT;
        struct beam_opts o;
        int r;

        if (worker) {
                argc--;
                argv++;
        }
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_load_secrets(&c) != EXIT_OK) {
                config_release(&c);
                return EXIT_FAIL;
        }
        apps = xcalloc(c.napps + (size_t)argc + 1, sizeof(const struct app_config *));
        r = EXIT_OK;
        for (int i = 1; i < argc && r == EXIT_OK; i++)
                if (!(apps[napps++] = cli_find_app(&c, argv[i])))
                        r = EXIT_FAIL;
        if (argc < 2)
                for (size_t i = 0; i < c.napps; i++)
                        apps[napps++] = &c.apps[i];
        /* The cookie and the TLS context outlive every connection made with them. */
        if (r == EXIT_OK && dist_opts(&c, &dist, &o, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                r = EXIT_FAIL;
        }
        o.connect_timeout_ms = OTP_CONNECT_TIMEOUT_MS;
        if (r == EXIT_OK && worker)
                r = otp_worker(&c, apps, napps, &o);
        else if (r == EXIT_OK)
                r = probe_apps(&c, apps, napps, &o, NULL);
        dist_release(&dist);
        buf_release(&err);
        free(apps);
        config_release(&c);
        return r;
}

const struct cli_command cmd_x_otp = {
        .name = "__otp",
        .usage = "__otp [--worker] [APP...]",
        .summary = "(internal) probe the nodes for the release they run (state/APP/otp.json)",
        .help = "",
        .run = run_x_otp,
};
