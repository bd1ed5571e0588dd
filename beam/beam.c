/*
 * beam: the C node -- connections, rpc with deadlines, errors in one line.
 * See beam.h.
 */
#include "beam/beam.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "beam/etf.h"
#include "state/node.h"
#include "base/banned.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;
static unsigned long conn_counter;

static void do_init(void)
{
        init_result = ei_init() == 0 ? 0 : -EIO;
}

int beam_init(void)
{
        pthread_once(&init_once, do_init);
        return init_result;
}

/* "deployex_PID_N": unique per connection, across threads and processes of this host. */
static void next_alive(char *out, size_t n)
{
        unsigned long k = __atomic_add_fetch(&conn_counter, 1, __ATOMIC_RELAXED);

        snprintf(out, n, "deployex_%ld_%lu", (long)getpid(), k);
}

/* alive@host with both parts non-empty, and short enough for libei. */
static bool node_name_ok(const char *node)
{
        const char *at = strchr(node, '@');
        size_t len = strlen(node);

        return at && at != node && at[1] && !strchr(at + 1, '@') && len <= BEAM_NODE_MAX &&
               (size_t)(at - node) <= EI_MAXALIVELEN && strlen(at + 1) <= EI_MAXHOSTNAMELEN;
}

int beam_connect(struct beam_conn *c, const char *node, const struct beam_opts *o,
                 struct buf *err)
{
        char alive[64], self[MAXNODELEN + 1], peer[MAXNODELEN + 1];
        struct buf host = BUF_INIT;
        unsigned tmo = o->connect_timeout_ms ? o->connect_timeout_ms : BEAM_CONNECT_TIMEOUT_MS;
        unsigned creation = (unsigned)(time(NULL) & 0x7fffffff) | 1u;
        int fd, e, r;

        memset(c, 0, sizeof(*c));
        c->fd = -1;
        if (!node_name_ok(node)) {
                buf_printf(err, "'%s' is not a node name (alive@host)", node);
                return -EINVAL;
        }
        if (str_empty(o->cookie) || strlen(o->cookie) > EI_MAX_COOKIE_SIZE) {
                buf_printf(err, "cannot connect to node %s: %s", node,
                           str_empty(o->cookie) ? "no cookie" : "the cookie is too long");
                return -EINVAL;
        }
        if ((r = beam_init()) < 0) {
                buf_puts(err, "cannot initialise erl_interface");
                return r;
        }
        str_copy(c->node, sizeof(c->node), node);
        str_copy(peer, sizeof(peer), node);
        next_alive(alive, sizeof(alive));
        node_short_host(&host);
        snprintf(self, sizeof(self), "%s@%s", alive, host.data);
        if (o->transport && o->transport->cbs)
                r = ei_connect_xinit_ussi(&c->ec, host.data, alive, self, NULL, o->cookie, creation,
                                          o->transport->cbs, o->transport->cbs_size,
                                          o->transport->setup_context);
        else
                r = ei_connect_xinit(&c->ec, host.data, alive, self, NULL, o->cookie, creation);
        buf_release(&host);
        if (r < 0) {
                explicit_bzero(c->ec.ei_connect_cookie, sizeof(c->ec.ei_connect_cookie));
                buf_printf(err, "cannot set up the C node '%s'", self);
                return -EINVAL;
        }

        if (o->transport && o->transport->last_error)
                (void)o->transport->last_error(true);
        fd = ei_connect_tmo(&c->ec, peer, tmo);
        e = erl_errno;
        /* The cookie served the handshake; it does not stay in memory longer. */
        explicit_bzero(c->ec.ei_connect_cookie, sizeof(c->ec.ei_connect_cookie));
        if (fd >= 0) {
                c->fd = fd;
                return 0;
        }
        if (o->transport && o->transport->last_error && !str_empty(o->transport->last_error(false))) {
                /* Before the errno cases: a refused certificate looks like EIO or a reset. */
                buf_printf(err, "node %s: %s", node, o->transport->last_error(false));
                return -EPROTO;
        }
        if (fd == ERL_NO_PORT) {
                buf_printf(err, "node %s is not running (not registered with epmd)", node);
                return -ESRCH;
        }
        if (e == ETIMEDOUT) {
                buf_printf(err, "connecting to node %s timed out after %u ms", node, tmo);
                return -ETIMEDOUT;
        }
        if (e == EIO) {
                /* The TCP connection was made and the handshake refused: a cookie mismatch
                 * (the node logs "Invalid challenge reply"), or the node is shutting down. */
                buf_printf(err, "node %s refused the handshake (bad cookie?)", node);
                return -EACCES;
        }
        if (e == EHOSTUNREACH) {
                /* libei says so for a host name that does not resolve, too. */
                buf_printf(err, "cannot reach the host of node %s (unknown host or no route)", node);
                return -EHOSTUNREACH;
        }
        if (e == ECONNREFUSED) {
                buf_printf(err, "cannot connect to node %s: epmd or the node refused the connection",
                           node);
                return -ECONNREFUSED;
        }
        buf_printf(err, "cannot connect to node %s: %s", node, strerror(e ? e : EIO));
        return -(e ? e : EIO);
}

void beam_close(struct beam_conn *c)
{
        if (c->fd >= 0)
                ei_close_connection(c->fd);
        c->fd = -1;
}

/* The arity of an encoded argument list, for messages ("mod:fun/2"). */
static int args_arity(const char *args, int len)
{
        int index = 0, arity = 0, type, size;

        if (!args || len <= 0 || ei_get_type(args, &index, &type, &size) < 0)
                return 0;
        if (type == ERL_STRING_EXT)
                return size;
        return ei_decode_list_header(args, &index, &arity) < 0 ? 0 : arity;
}

/*
 * The message in x is {rex, Reply}: point *index at Reply.  Other messages
 * (a link, a stray send) are not the answer.
 */
static bool is_rex_reply(const erlang_msg *msg, const ei_x_buff *x, int *index)
{
        char atom[MAXATOMLEN];
        int version, arity;

        *index = 0;
        if (msg->msgtype != ERL_SEND && msg->msgtype != ERL_REG_SEND)
                return false;
        return ei_decode_version(x->buff, index, &version) == 0 &&
               ei_decode_tuple_header(x->buff, index, &arity) == 0 && arity == 2 &&
               ei_decode_atom(x->buff, index, atom) == 0 && strcmp(atom, "rex") == 0;
}

/* {badrpc, Reason} at x->buff[index]: Reason's text into err. */
static bool is_badrpc(const ei_x_buff *x, int index, const char *home, struct buf *err)
{
        char atom[MAXATOMLEN];
        int arity;

        if (ei_decode_tuple_header(x->buff, &index, &arity) < 0 || arity != 2 ||
            ei_decode_atom(x->buff, &index, atom) < 0 || strcmp(atom, "badrpc") != 0)
                return false;
        buf_puts(err, "badrpc: ");
        if (etf_format(x->buff, &index, home, err) < 0)
                buf_puts(err, "(an unreadable reason)");
        return true;
}

int beam_rpc(struct beam_conn *c, const char *mod, const char *fun, const char *args,
             int args_len, unsigned timeout_ms, ei_x_buff *ret_reply, struct buf *err)
{
        static const char empty_list[] = { ERL_NIL_EXT };
        char m[MAXATOMLEN], f[MAXATOMLEN];
        uint64_t deadline;
        erlang_msg msg;
        ei_x_buff x;
        int arity = args_arity(args, args_len), r, e;

        if (c->fd < 0) {
                buf_printf(err, "rpc %s:%s/%d: not connected to node %s", mod, fun, arity, c->node);
                return -ENOTCONN;
        }
        if (!args || args_len <= 0) {
                args = empty_list;
                args_len = (int)sizeof(empty_list);
        }
        if (!str_copy(m, sizeof(m), mod) || !str_copy(f, sizeof(f), fun) || !*m || !*f) {
                buf_printf(err, "rpc: '%s:%s' is not a module and function name", mod, fun);
                return -EINVAL;
        }
        if (ei_rpc_to(&c->ec, c->fd, m, f, args, args_len) < 0) {
                e = erl_errno;
                beam_close(c);
                buf_printf(err, "rpc %s %s:%s/%d: cannot send the call: %s", c->node, mod, fun,
                           arity, strerror(e ? e : EIO));
                return -ECONNRESET;
        }
        if (ei_x_new(&x) < 0) {
                buf_puts(err, "rpc: out of memory");
                return -ENOMEM;
        }
        deadline = time_mono_ms() + timeout_ms;
        for (;;) {
                uint64_t now = time_mono_ms();
                int index;

                if (now >= deadline) {
                        r = ERL_TIMEOUT;
                } else {
                        x.index = 0;
                        r = ei_rpc_from(&c->ec, c->fd, (int)(deadline - now), &msg, &x);
                }
                if (r == ERL_TICK)
                        continue; /* libei answered the tick; keep waiting */
                if (r == ERL_TIMEOUT) {
                        /* The reply may still come: this connection must not carry another call. */
                        beam_close(c);
                        buf_printf(err, "rpc %s %s:%s/%d timed out after %u ms", c->node, mod,
                                   fun, arity, timeout_ms);
                        r = -ETIMEDOUT;
                        break;
                }
                if (r < 0) {
                        e = erl_errno;
                        beam_close(c);
                        buf_printf(err, "rpc %s %s:%s/%d: the connection was lost (%s)", c->node,
                                   mod, fun, arity, strerror(e ? e : EIO));
                        r = -ECONNRESET;
                        break;
                }
                /* libei decodes recursively: refuse a hostile depth before it does. */
                if ((msg.msgtype == ERL_SEND || msg.msgtype == ERL_REG_SEND) &&
                    (r = etf_check_depth(x.buff, x.index, 0, ETF_REPLY_DEPTH_MAX)) < 0) {
                        if (r == -E2BIG) {
                                buf_printf(err, "rpc %s %s:%s/%d: the reply nests deeper than %d levels; refused",
                                           c->node, mod, fun, arity, ETF_REPLY_DEPTH_MAX);
                                r = -EPROTO;
                                break;
                        }
                        continue; /* not a term we can read: not our reply */
                }
                if (!is_rex_reply(&msg, &x, &index))
                        continue;
                if (is_badrpc(&x, index, c->node, err)) {
                        r = -EREMOTEIO;
                        break;
                }
                r = ei_x_append_buf(ret_reply, x.buff + index, x.index - index) < 0 ? -ENOMEM : 0;
                if (r < 0)
                        buf_puts(err, "rpc: out of memory");
                break;
        }
        ei_x_free(&x);
        return r;
}

/* ---- terms parsed by the node ----------------------------------------------- */

/* A reply {Tag, X, ...}: the tag into tag (MAXATOMLEN), *index at X. */
static int take_tag(const ei_x_buff *reply, int *index, char *tag)
{
        int arity;

        *index = 0;
        if (ei_decode_tuple_header(reply->buff, index, &arity) < 0 || arity < 2 ||
            ei_decode_atom(reply->buff, index, tag) < 0)
                return -EPROTO;
        return 0;
}

/*
 * The text of {error, {Location, Module, Desc}, ...} as Module:format_error(Desc)
 * gives it, asked of the node; the term itself when that fails.
 */
static void describe_error(struct beam_conn *c, const ei_x_buff *reply, unsigned timeout_ms,
                           struct buf *err)
{
        char mod[MAXATOMLEN], tag[MAXATOMLEN];
        int index, arity, start;
        ei_x_buff args, text, bin;
        struct buf ignored = BUF_INIT;
        bool done = false;

        if (take_tag(reply, &index, tag) < 0 ||
            ei_decode_tuple_header(reply->buff, &index, &arity) < 0 || arity != 3 ||
            ei_skip_term(reply->buff, &index) < 0 ||
            ei_decode_atom(reply->buff, &index, mod) < 0) {
                buf_puts(err, "not an Erlang term");
                return;
        }
        start = index;
        if (ei_skip_term(reply->buff, &index) < 0) {
                buf_puts(err, "not an Erlang term");
                return;
        }
        ei_x_new(&args);
        ei_x_new(&text);
        ei_x_new(&bin);
        ei_x_encode_list_header(&args, 1);
        ei_x_append_buf(&args, reply->buff + start, index - start);
        ei_x_encode_empty_list(&args);
        if (beam_rpc(c, mod, "format_error", args.buff, args.index, timeout_ms, &text, &ignored) == 0) {
                /* A deep list of characters: flatten it into a binary. */
                args.index = 0;
                ei_x_encode_list_header(&args, 1);
                ei_x_append_buf(&args, text.buff, text.index);
                ei_x_encode_empty_list(&args);
                if (beam_rpc(c, "unicode", "characters_to_binary", args.buff, args.index, timeout_ms,
                             &bin, &ignored) == 0) {
                        int i = 0, type, size;
                        long len;

                        if (ei_get_type(bin.buff, &i, &type, &size) == 0 && type == ERL_BINARY_EXT) {
                                char *s = xmalloc((size_t)size + 1);

                                if (ei_decode_binary(bin.buff, &i, s, &len) == 0) {
                                        buf_append(err, s, (size_t)len);
                                        done = true;
                                }
                                free(s);
                        }
                }
        }
        if (!done) {
                index = start;
                (void)etf_format(reply->buff, &index, c->node, err);
        }
        ei_x_free(&args);
        ei_x_free(&text);
        ei_x_free(&bin);
        buf_release(&ignored);
}

/* erl_scan:string, then erl_parse:PARSE_FUN (parse_term or parse_exprs) on the tokens. */
static int scan_parse(struct beam_conn *c, const char *text, const char *parse_fun,
                      unsigned timeout_ms, ei_x_buff *out, struct buf *err)
{
        ei_x_buff args, tokens, term;
        struct buf source = BUF_INIT;
        char tag[MAXATOMLEN];
        int index = 0, start, r;

        ei_x_new(&args);
        ei_x_new(&tokens);
        ei_x_new(&term);
        /* erl_scan:string(Text ++ "\n.") -> {ok, Tokens, End} | {error, Info, End};
         * the dot on a line of its own, so that a trailing % comment cannot hide it. */
        buf_printf(&source, "%s\n.", text);
        ei_x_encode_list_header(&args, 1);
        if (etf_encode_charlist(&args, source.data, source.len) < 0) {
                buf_printf(err, "'%s' is not UTF-8 text", text);
                r = -EINVAL;
                goto out;
        }
        ei_x_encode_empty_list(&args);
        if ((r = beam_rpc(c, "erl_scan", "string", args.buff, args.index, timeout_ms, &tokens, err)) < 0)
                goto out;
        if ((r = take_tag(&tokens, &index, tag)) < 0) {
                buf_puts(err, "erl_scan:string/1: an unexpected reply");
                goto out;
        }
        if (strcmp(tag, "ok") != 0) {
                buf_printf(err, "'%s': ", text);
                describe_error(c, &tokens, timeout_ms, err);
                r = -EINVAL;
                goto out;
        }
        /* erl_parse:parse_term(Tokens) -> {ok, Term} | {error, Info} */
        start = index;
        if (ei_skip_term(tokens.buff, &index) < 0) {
                r = -EPROTO;
                buf_puts(err, "erl_scan:string/1: an unexpected reply");
                goto out;
        }
        args.index = 0;
        ei_x_encode_list_header(&args, 1);
        ei_x_append_buf(&args, tokens.buff + start, index - start);
        ei_x_encode_empty_list(&args);
        if ((r = beam_rpc(c, "erl_parse", parse_fun, args.buff, args.index, timeout_ms, &term, err)) < 0)
                goto out;
        if ((r = take_tag(&term, &index, tag)) < 0) {
                buf_printf(err, "erl_parse:%s/1: an unexpected reply", parse_fun);
                goto out;
        }
        if (strcmp(tag, "ok") != 0) {
                buf_printf(err, "'%s': ", text);
                describe_error(c, &term, timeout_ms, err);
                r = -EINVAL;
                goto out;
        }
        start = index;
        if (ei_skip_term(term.buff, &index) < 0 ||
            ei_x_append_buf(out, term.buff + start, index - start) < 0) {
                buf_printf(err, "erl_parse:%s/1: an unexpected reply", parse_fun);
                r = -EPROTO;
        }
out:
        ei_x_free(&args);
        ei_x_free(&tokens);
        ei_x_free(&term);
        buf_release(&source);
        return r;
}

int beam_parse_term(struct beam_conn *c, const char *text, unsigned timeout_ms, ei_x_buff *out,
                    struct buf *err)
{
        return scan_parse(c, text, "parse_term", timeout_ms, out, err);
}

int beam_parse_exprs(struct beam_conn *c, const char *text, unsigned timeout_ms, ei_x_buff *out,
                     struct buf *err)
{
        return scan_parse(c, text, "parse_exprs", timeout_ms, out, err);
}
