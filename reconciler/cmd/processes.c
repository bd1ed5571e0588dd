/*
 * deployex __processes APP N: instance N's top processes as JSON, for the
 * web UI's process list (web/helper.c runs it with the daemon's rights: the
 * cookie and the TLS distribution key are root's, the UI is not).
 *
 * One connection as the C node (beam/beam.h), one expression evaluated by
 * erl_eval on the node (stdlib only: nothing is loaded into it), which
 * takes every process's (but its own) registered name, memory, reductions, message queue
 * length and current function and returns the top PROCESSES_TOP by each of
 * memory, reductions and queue length.  Always prints one JSON document:
 *
 *     {"app": "acme", "instance": 2, "node": "acme-2@host", "processes": 57,
 *      "by_memory": [ROW...], "by_reductions": [ROW...], "by_message_queue": [ROW...]}
 *     ROW = {"pid": "<0.42.0>", "name": "logger" | "", "memory_bytes": 2832,
 *            "reductions": 1208, "message_queue_len": 0,
 *            "current_function": "gen_server:loop/7" | ""}
 *
 * or {"error": "..."} with exit status 1, so that its reader never has to
 * tell a message from a document.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/cmd/dist.h"
#include "state/json.h"
#include "state/node.h"
#include "base/banned.h"

#define PROCESSES_TOP 20
#define TEXT_OF_(x) #x
#define TEXT_OF(x) TEXT_OF_(x)
#define TOP_TEXT TEXT_OF(PROCESSES_TOP)
#define PROCESSES_TIMEOUT_MS 10000

/*
 * Rows {Pid, Name, Memory, Reductions, QueueLen, CurrentFunction}; the top by
 * columns 3, 4, 5.  Inside a fun, so that erl_eval's reply carries no
 * bindings: they would send back every row and the interpreted funs.
 */
static const char program[] =
        "(fun() ->\n"
        "Keys = [registered_name, memory, reductions, message_queue_len, current_function],\n"
        "Row = fun(P) ->\n"
        "    case erlang:process_info(P, Keys) of\n"
        "        [{_, N}, {_, M}, {_, R}, {_, Q}, {_, F}] ->\n"
        "            Name = case N of [] -> <<>>; _ -> atom_to_binary(N, utf8) end,\n"
        "            Fun = case F of\n"
        "                {Mo, Fu, A} -> iolist_to_binary(io_lib:format(\"~tp:~tp/~tp\", [Mo, Fu, A]));\n"
        "                _ -> <<>>\n"
        "            end,\n"
        "            [{list_to_binary(pid_to_list(P)), Name, M, R, Q, Fun}];\n"
        "        _ -> []\n"
        "    end\n"
        "end,\n"
        "Rows = lists:append([Row(P) || P <- erlang:processes(), P =/= self()]),\n"
        "Top = fun(I) -> lists:sublist(lists:reverse(lists:keysort(I, Rows)), " TOP_TEXT ") end,\n"
        "{length(Rows), Top(3), Top(4), Top(5)}\n"
        "end)()";

static void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void print_error(const char *fmt, ...)
{
        struct buf text = BUF_INIT, out = BUF_INIT;
        va_list ap;
        yajl_gen g;

        va_start(ap, fmt);
        buf_vprintf(&text, fmt, ap);
        va_end(ap);
        g = json_gen_new(&out);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "error", text.data);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        printf("%s\n", out.data);
        buf_release(&text);
        buf_release(&out);
}

static int decode_text(const char *b, int *index, struct buf *out)
{
        int type, size;
        long len;
        char *p;

        if (ei_get_type(b, index, &type, &size) < 0 || type != ERL_BINARY_EXT)
                return -EPROTO;
        p = xmalloc((size_t)size + 1);
        if (ei_decode_binary(b, index, p, &len) < 0) {
                free(p);
                return -EPROTO;
        }
        buf_reset(out);
        buf_append(out, p, (size_t)len);
        free(p);
        return 0;
}

/* A list of rows into g as a JSON array. */
static int gen_rows(const char *b, int *index, yajl_gen g)
{
        static const char *const ints[] = { "memory_bytes", "reductions", "message_queue_len" };
        struct buf pid = BUF_INIT, name = BUF_INIT, fun = BUF_INIT;
        int n, arity, r = -EPROTO;

        if (ei_decode_list_header(b, index, &n) < 0)
                return -EPROTO;
        yajl_gen_array_open(g);
        for (int i = 0; i < n; i++) {
                long long v[3];

                if (ei_decode_tuple_header(b, index, &arity) < 0 || arity != 6 ||
                    decode_text(b, index, &pid) < 0 || decode_text(b, index, &name) < 0)
                        goto out;
                for (int k = 0; k < 3; k++)
                        if (ei_decode_longlong(b, index, &v[k]) < 0)
                                goto out;
                if (decode_text(b, index, &fun) < 0)
                        goto out;
                yajl_gen_map_open(g);
                json_gen_kv_str(g, "pid", pid.data);
                json_gen_kv_str(g, "name", name.data);
                for (int k = 0; k < 3; k++)
                        json_gen_kv_int(g, ints[k], v[k]);
                json_gen_kv_str(g, "current_function", fun.data);
                yajl_gen_map_close(g);
        }
        if (n > 0 && ei_decode_list_header(b, index, &n) < 0) /* the tail [] */
                goto out;
        yajl_gen_array_close(g);
        r = 0;
out:
        buf_release(&pid);
        buf_release(&name);
        buf_release(&fun);
        return r;
}

/* The evaluated value {Count, ByMemory, ByReductions, ByQueue} as the JSON document. */
static int gen_document(const struct app_config *app, int n, const char *node, const ei_x_buff *reply,
                        struct buf *out)
{
        static const char *const lists[] = { "by_memory", "by_reductions", "by_message_queue" };
        const char *b = reply->buff;
        int index = 0, arity, r = 0;
        long long count;
        yajl_gen g;

        /* {value, Value, Bindings} */
        if (ei_decode_tuple_header(b, &index, &arity) < 0 || arity != 3 || ei_skip_term(b, &index) < 0 ||
            ei_decode_tuple_header(b, &index, &arity) < 0 || arity != 4 ||
            ei_decode_longlong(b, &index, &count) < 0)
                return -EPROTO;
        g = json_gen_new(out);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "app", app->name);
        json_gen_kv_int(g, "instance", n);
        json_gen_kv_str(g, "node", node);
        json_gen_kv_int(g, "processes", count);
        for (size_t i = 0; i < ARRAY_SIZE(lists) && r == 0; i++) {
                json_gen_str(g, lists[i]);
                r = gen_rows(b, &index, g);
        }
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        return r;
}

static int processes_of(const struct config *c, const struct app_config *app, int n)
{
        struct buf node = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
        struct dist dist = DIST_INIT;
        struct beam_opts o;
        struct beam_conn conn;
        ei_x_buff exprs, bindings, args, reply;
        int status = EXIT_FAIL;

        conn.fd = -1;
        ei_x_new(&exprs);
        ei_x_new(&bindings);
        ei_x_new(&args);
        ei_x_new(&reply);
        node_name(app->name, n, &node);
        if (dist_opts(c, &dist, &o, &err) < 0 || beam_connect(&conn, node.data, &o, &err) < 0 ||
            beam_parse_exprs(&conn, program, PROCESSES_TIMEOUT_MS, &exprs, &err) < 0 ||
            beam_rpc(&conn, "erl_eval", "new_bindings", NULL, 0, PROCESSES_TIMEOUT_MS, &bindings,
                     &err) < 0)
                goto out;
        ei_x_encode_list_header(&args, 2);
        ei_x_append_buf(&args, exprs.buff, exprs.index);
        ei_x_append_buf(&args, bindings.buff, bindings.index);
        ei_x_encode_empty_list(&args);
        if (beam_rpc(&conn, "erl_eval", "exprs", args.buff, args.index, PROCESSES_TIMEOUT_MS, &reply,
                     &err) < 0)
                goto out;
        if (gen_document(app, n, node.data, &reply, &out) < 0) {
                buf_puts(&err, "an unexpected reply to the process list");
                goto out;
        }
        printf("%s\n", out.data);
        status = EXIT_OK;
out:
        if (status != EXIT_OK)
                print_error("%s/%d: %s", app->name, n, err.data);
        beam_close(&conn);
        ei_x_free(&exprs);
        ei_x_free(&bindings);
        ei_x_free(&args);
        ei_x_free(&reply);
        dist_release(&dist);
        buf_release(&node);
        buf_release(&err);
        buf_release(&out);
        return status;
}

static int run_processes(const struct cli *cli, int argc, char **argv)
{
        const struct app_config *app;
        struct config c;
        int n, r;

        if (argc != 3 || parse_int(argv[2], &n) < 0 || n < 1 || n > REPLICAS_MAX) {
                print_error("usage: deployex __processes APP N");
                return EXIT_USAGE;
        }
        if (cli_load_config(cli, &c) != EXIT_OK) {
                print_error("cannot load the configuration (see the daemon's log)");
                return EXIT_FAIL;
        }
        if (cli_load_secrets(&c) != EXIT_OK) {
                print_error("cannot load the secrets (see the daemon's log)");
                config_release(&c);
                return EXIT_FAIL;
        }
        app = config_find_app(&c, argv[1]);
        if (!app) {
                print_error("no app '%s' in the configuration", argv[1]);
                r = EXIT_FAIL;
        } else if (n > app->replicas) {
                print_error("%s has no instance %d (it has %d)", app->name, n, app->replicas);
                r = EXIT_FAIL;
        } else {
                r = processes_of(&c, app, n);
        }
        config_release(&c);
        return r;
}

const struct cli_command cmd_x_processes = {
        .name = "__processes",
        .usage = "__processes APP N",
        .summary = "instance N's top processes as JSON (the web UI's process list)",
        .help = "",
        .run = run_processes,
};
