/*
 * deployex eval [--timeout MS] APP N EXPR: evaluate an expression on
 * instance N's node and print the value in the app's language.
 *
 * Elixir apps: Code.eval_string(EXPR), printed with Kernel.inspect/2 (no
 * limits), an exception printed as Exception.format_banner/3 does.  Erlang
 * and Gleam apps: EXPR is Erlang expressions ("X = 1, X + 1"), parsed by the
 * node's erl_scan/erl_parse and run by erl_eval, printed as the Erlang shell
 * prints (~tp), an exception as "Class: Reason".
 *
 * Both run inside a small Erlang wrapper, itself evaluated by erl_eval on the
 * node with the operator's text bound to a variable, so that an exception
 * comes back as a value (the class and reason, not a bare badrpc) and
 * nothing is ever loaded into the node.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/cmd/dist.h"
#include "beam/etf.h"
#include "state/node.h"
#include "base/banned.h"

#define EVAL_TIMEOUT_MS 15000
#define EVAL_TIMEOUT_MAX_MS (24u * 3600 * 1000)

static const char elixir_wrapper[] =
        "try {V, _} = 'Elixir.Code':eval_string(Src),\n"
        "    {ok, 'Elixir.Kernel':inspect(V, [{limit, infinity}, {printable_limit, infinity}])}\n"
        "catch C:R:S -> {error, 'Elixir.Exception':format_banner(C, R, S)}\n"
        "end";
static const char erlang_wrapper[] =
        "try {value, V, _} = erl_eval:exprs(Src, erl_eval:new_bindings()), {ok, V}\n"
        "catch C:R -> {error, {C, R}}\n"
        "end";

/* Bindings [{'Src', Value}] for erl_eval: value is an encoded term. */
static int make_bindings(struct beam_conn *conn, const ei_x_buff *value, unsigned timeout_ms,
                         ei_x_buff *ret, struct buf *err)
{
        ei_x_buff args, empty;
        int r;

        ei_x_new(&args);
        ei_x_new(&empty);
        r = beam_rpc(conn, "erl_eval", "new_bindings", NULL, 0, timeout_ms, &empty, err);
        if (r == 0) {
                ei_x_encode_list_header(&args, 3);
                ei_x_encode_atom(&args, "Src");
                ei_x_append_buf(&args, value->buff, value->index);
                ei_x_append_buf(&args, empty.buff, empty.index);
                ei_x_encode_empty_list(&args);
                r = beam_rpc(conn, "erl_eval", "add_binding", args.buff, args.index, timeout_ms,
                             ret, err);
        }
        ei_x_free(&args);
        ei_x_free(&empty);
        return r;
}

/*
 * Run the wrapper; *ret_ok tells {ok, X} from {error, X}; the index of X in
 * reply is *ret_index.
 */
static int run_wrapper(struct beam_conn *conn, const char *wrapper, const ei_x_buff *src,
                       unsigned timeout_ms, ei_x_buff *reply, int *ret_index, bool *ret_ok,
                       struct buf *err)
{
        ei_x_buff exprs, bindings, args;
        char tag[MAXATOMLEN];
        int r, index = 0, arity;

        ei_x_new(&exprs);
        ei_x_new(&bindings);
        ei_x_new(&args);
        if ((r = beam_parse_exprs(conn, wrapper, timeout_ms, &exprs, err)) < 0 ||
            (r = make_bindings(conn, src, timeout_ms, &bindings, err)) < 0)
                goto out;
        ei_x_encode_list_header(&args, 2);
        ei_x_append_buf(&args, exprs.buff, exprs.index);
        ei_x_append_buf(&args, bindings.buff, bindings.index);
        ei_x_encode_empty_list(&args);
        if ((r = beam_rpc(conn, "erl_eval", "exprs", args.buff, args.index, timeout_ms, reply, err)) < 0)
                goto out;
        /* {value, {ok | error, X}, Bindings} */
        if (ei_decode_tuple_header(reply->buff, &index, &arity) < 0 || arity != 3 ||
            ei_skip_term(reply->buff, &index) < 0 ||
            ei_decode_tuple_header(reply->buff, &index, &arity) < 0 || arity != 2 ||
            ei_decode_atom(reply->buff, &index, tag) < 0) {
                buf_puts(err, "erl_eval:exprs/2: an unexpected reply");
                r = -EPROTO;
                goto out;
        }
        *ret_ok = strcmp(tag, "ok") == 0;
        *ret_index = index;
out:
        ei_x_free(&exprs);
        ei_x_free(&bindings);
        ei_x_free(&args);
        return r;
}

/* A binary (Elixir's inspect output, a banner) as text. */
static int binary_text(const ei_x_buff *x, int index, struct buf *out)
{
        int type, size;
        long len;
        char *p;

        if (ei_get_type(x->buff, &index, &type, &size) < 0 || type != ERL_BINARY_EXT)
                return -EPROTO;
        p = xmalloc((size_t)size + 1);
        if (ei_decode_binary(x->buff, &index, p, &len) < 0) {
                free(p);
                return -EPROTO;
        }
        buf_reset(out);
        buf_append(out, p, (size_t)len);
        free(p);
        return 0;
}

static int eval_on(const struct config *c, const struct app_config *app, int n,
                   unsigned timeout_ms, const char *expr)
{
        struct buf node = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
        struct dist dist = DIST_INIT;
        bool elixir = app->language == LANG_ELIXIR, ok = false;
        struct beam_opts o;
        struct beam_conn conn;
        ei_x_buff src, reply;
        int r, status = EXIT_FAIL, index = 0;

        conn.fd = -1;
        ei_x_new(&src);
        ei_x_new(&reply);
        node_name(app->name, n, &node);
        if (dist_opts(c, &dist, &o, &err) < 0)
                goto out;
        if (timeout_ms < o.connect_timeout_ms)
                o.connect_timeout_ms = timeout_ms;
        if (beam_connect(&conn, node.data, &o, &err) < 0)
                goto out;
        if (elixir) {
                ei_x_encode_binary(&src, expr, (long)strlen(expr));
        } else {
                /* As typed in the Erlang shell, with its final dot: the parser adds its own. */
                size_t len = strlen(expr);
                while (len > 0 && (expr[len - 1] == ' ' || expr[len - 1] == '\n' || expr[len - 1] == '\t'))
                        len--;
                if (len > 0 && expr[len - 1] == '.')
                        len--;
                buf_append(&out, expr, len);
                r = beam_parse_exprs(&conn, out.data, timeout_ms, &src, &err);
                buf_reset(&out);
                if (r == -EINVAL) {
                        fprintf(stderr, "deployex eval: %s\n", err.data);
                        buf_reset(&err);
                        goto out;
                }
                if (r < 0)
                        goto out;
        }
        if (run_wrapper(&conn, elixir ? elixir_wrapper : erlang_wrapper, &src, timeout_ms, &reply,
                        &index, &ok, &err) < 0)
                goto out;
        r = elixir ? binary_text(&reply, index, &out) : etf_format(reply.buff, &index, node.data, &out);
        if (r < 0) {
                buf_puts(&err, "cannot read the value");
                goto out;
        }
        if (ok) {
                printf("%s\n", out.data);
                status = EXIT_OK;
        } else {
                /* Elixir: "** (ArithmeticError) bad argument..."; Erlang: {error,badarith}. */
                fprintf(stderr, "deployex eval: %s/%d: %s\n", app->name, n, out.data);
        }
out:
        if (err.len)
                fprintf(stderr, "deployex: %s/%d: %s\n", app->name, n, err.data);
        beam_close(&conn);
        ei_x_free(&src);
        ei_x_free(&reply);
        dist_release(&dist);
        buf_release(&node);
        buf_release(&err);
        buf_release(&out);
        return status;
}

static int run_eval(const struct cli *cli, int argc, char **argv)
{
        const struct app_config *app;
        unsigned timeout = EVAL_TIMEOUT_MS;
        struct config c;
        int i = 1, n, r;

        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                const char *value;
                uint64_t ms;

                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
                        value = argv[++i];
                else if (strncmp(argv[i], "--timeout=", 10) == 0)
                        value = argv[i] + 10;
                else if (strcmp(argv[i], "--timeout") == 0)
                        return cli_usage_error(&cmd_eval, "--timeout needs a value in ms");
                else
                        return cli_usage_error(&cmd_eval, "unknown option '%s'", argv[i]);
                if (parse_u64(value, &ms) < 0 || ms == 0 || ms > EVAL_TIMEOUT_MAX_MS)
                        return cli_usage_error(&cmd_eval, "--timeout: '%s' is not a number of ms "
                                               "(1 to %u)", value, EVAL_TIMEOUT_MAX_MS);
                timeout = (unsigned)ms;
        }
        if (argc - i != 3)
                return cli_usage_error(&cmd_eval, "expected APP N EXPR (quote EXPR for your shell)");
        if (parse_int(argv[i + 1], &n) < 0 || n < 1 || n > REPLICAS_MAX)
                return cli_usage_error(&cmd_eval, "N must be an instance number (1 to %d), got '%s'",
                                       REPLICAS_MAX, argv[i + 1]);
        if (argv[i + 2][0] == '\0')
                return cli_usage_error(&cmd_eval, "EXPR is empty");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        if (cli_load_secrets(&c) != EXIT_OK) {
                config_release(&c);
                return EXIT_FAIL;
        }
        app = cli_find_app(&c, argv[i]);
        r = app ? eval_on(&c, app, n, timeout, argv[i + 2]) : EXIT_FAIL;
        config_release(&c);
        return r;
}

const struct cli_command cmd_eval = {
        .name = "eval",
        .usage = "eval [--timeout MS] APP N EXPR",
        .summary = "evaluate an Elixir (elixir apps) or Erlang expression on instance N",
        .help = "Evaluates EXPR on instance N's node and prints the value in the app's language:\n"
                "  Elixir apps:         Code.eval_string(EXPR), printed by inspect/2 (no limits)\n"
                "  Erlang, Gleam apps:  Erlang expressions, run by erl_eval, printed like the\n"
                "                       Erlang shell prints (~tp); no final dot needed\n\n"
                "  --timeout MS   how long the evaluation may take (default 15000); the\n"
                "                 connection itself gets at most 2000 ms\n\n"
                "Examples:\n"
                "  deployex eval shop 1 'Application.spec(:shop, :vsn)'\n"
                "  deployex eval api 2 'length(erlang:processes())'\n\n"
                "An exception prints one line (Elixir: '** (RuntimeError) boom'; Erlang:\n"
                "'{error,badarith}') and exits 1, as do a syntax error, a timeout, a bad cookie\n"
                "or a node that is not running.  After a timeout the evaluation may still be\n"
                "running on the node.\n",
        .run = run_eval,
};
