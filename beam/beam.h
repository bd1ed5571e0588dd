/*
 * beam: deployex as an Erlang C node (DESIGN §7).  One connection per
 * operation: connect, make one or a few rpc calls, close.  An idle libei
 * connection answers ticks only inside a receive call, so keeping one open
 * between operations would need a poller; a fresh connect costs 0.4-4 ms.
 *
 * Every connection has a C node name of its own, "deployex_PID_N@SHORTHOST"
 * (two connections sharing a name would throw each other out), is hidden (it
 * never shows in nodes()), and every call has a deadline: connect with
 * ei_connect_tmo(), rpc with ei_rpc_to() + ei_rpc_from(timeout).  A
 * connection that timed out is closed at once: the late reply would be read
 * as the answer to the next call.
 *
 * Calling sequence:
 *     signal(SIGPIPE, SIG_IGN);    once, by the program: libei writes with
 *                                  write(2), and a peer that went away would
 *                                  otherwise kill the process
 *     beam_connect(&c, "myapp-1@host", &opts, &err)
 *     beam_rpc(&c, "erlang", "node", args, &reply, timeout_ms, &err)   (any number)
 *     beam_close(&c)
 *
 * Transport: plain TCP unless opts.transport supplies ei's user-supplied
 * socket callbacks (ei_connect_xinit_ussi).  The TLS distribution plugs in
 * there: beam_tls_transport() (tls.h), callbacks that wrap OpenSSL
 * (handshake_packet_header_size = 4, EI_SCLBK_FLG_FULL_IMPL).  epmd lookups
 * stay plain TCP either way; nothing else here changes.
 *
 * Errors: functions return 0 or -errno and append one line to err (they never
 * log):
 *     -ESRCH      "node myapp-1@host is not running (not registered with epmd)"
 *     -EACCES     "node myapp-1@host refused the handshake (bad cookie?)"
 *     -ETIMEDOUT  "... timed out after 2000 ms" (connect or rpc)
 *     -EREMOTEIO  the call raised or failed on the node: "badrpc: REASON" with
 *                 REASON in Erlang syntax (e.g. {'EXIT',{boom,[...]}})
 *     -ECONNRESET the connection was lost during a call
 *     -EPROTO     a reply that is not {rex, Reply}; a failed TLS handshake
 *                 ("node N: TLS handshake: the node's certificate: ...")
 *     -EHOSTUNREACH "cannot reach the host of node N (unknown host or no route)"
 *     -ECONNREFUSED, -EINVAL (a bad node name or no cookie), others as they come.
 * Thread safe: connections are independent (libei keeps erl_errno per thread).
 */
#ifndef DEPLOYEX_BEAM_H
#define DEPLOYEX_BEAM_H

#include <stdbool.h>
#include <sys/types.h>

#include <ei.h>

#include "base/util.h"

#define BEAM_CONNECT_TIMEOUT_MS 2000
#define BEAM_RPC_TIMEOUT_MS 5000
#define BEAM_NODE_MAX 255

/*
 * How bytes reach the node.  NULL (or cbs NULL) = ei's own TCP.  cbs, its
 * size and setup_context are handed to ei_connect_xinit_ussi() as they are;
 * they must outlive every connection made with them.
 */
struct beam_transport {
        ei_socket_callbacks *cbs;
        int cbs_size;
        void *setup_context;
        /* Why the calling thread's last connect failed in the transport ("" = it did
         * not): beam_connect() clears it (reset) before connecting and reports it
         * as -EPROTO.  NULL = the transport has no errors of its own.  See tls.h. */
        const char *(*last_error)(bool reset);
};

struct beam_opts {
        const char *cookie;                     /* required; never logged or put in err */
        unsigned connect_timeout_ms;            /* 0 = BEAM_CONNECT_TIMEOUT_MS */
        const struct beam_transport *transport; /* NULL = plain TCP */
};

struct beam_conn {
        ei_cnode ec;
        int fd;                          /* -1 = closed */
        char node[BEAM_NODE_MAX + 1];    /* the peer, "myapp-1@host" */
};

/* Initialise libei once per process; beam_connect() calls it.  0 or -EIO. */
int beam_init(void);

/*
 * Connect to node ("alive@host").  On success c is open (beam_close() it);
 * on failure c->fd is -1 and nothing needs closing.
 */
int beam_connect(struct beam_conn *c, const char *node, const struct beam_opts *o,
                 struct buf *err);

/*
 * Call mod:fun(args...) on the node.  args is an encoded Erlang list without a
 * version byte (ei_x_new + ei_x_encode_list_header ...; NULL/0 = []).  On
 * success the reply term (without a version byte; decode from index 0) is
 * appended to ret_reply, which the caller initialised with ei_x_new().  After
 * a timeout or a lost connection c is closed; after a badrpc it stays usable.
 */
int beam_rpc(struct beam_conn *c, const char *mod, const char *fun, const char *args,
             int args_len, unsigned timeout_ms, ei_x_buff *ret_reply, struct buf *err);

void beam_close(struct beam_conn *c);

/*
 * Parse the Erlang term text (as in a shell: "{ok, \"x\", <<\"y\">>, #{a => 1}}",
 * without the final dot) with the node's own erl_scan/erl_parse, and append
 * the term (no version byte) to out.  The text is UTF-8.  -EINVAL with
 * "syntax error before: ..." in err when the text is not a term; the other
 * errors of beam_rpc().  Used by `deployex rpc` so that its arguments mean
 * exactly what they mean to Erlang.
 */
int beam_parse_term(struct beam_conn *c, const char *text, unsigned timeout_ms, ei_x_buff *out,
                    struct buf *err);
/* The same for a sequence of expressions ("X = 1, X + 1"): the list erl_parse:parse_exprs/1 gives. */
int beam_parse_exprs(struct beam_conn *c, const char *text, unsigned timeout_ms, ei_x_buff *out,
                     struct buf *err);

#endif
