/*
 * tiny_node: the smallest payload that deployex counts as a ready BEAM
 * instance, for bench/scale.  A full VM costs about 30 MB, so a thousand of
 * them do not fit here; this C node costs a few hundred kB and answers what
 * deployex asks a node:
 *
 *   init:get_status()                 -> {started, started}   (readiness)
 *   init:script_id()                  -> {"NAME", "VSN"}      (status probe)
 *   release_handler:which_releases()  -> [{"NAME", "VSN", [], permanent}]
 *   erlang:memory/system_info(_)      -> 0
 *   anything else                     -> {badrpc, {'EXIT', {undef, []}}}
 *
 * It registers RELEASE_NODE (short name; this host's short name when it has
 * no @host) in epmd with RELEASE_COOKIE, like the release scripts the
 * default start hooks run.  NAME and VSN come from releases/start_erl.data
 * beside its bin/ ("ERTS VSN"), as in a relx release.  One thread, poll(2)
 * over the listener and the peers; libei answers ticks inside its receive.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ei.h>

#define MAX_PEERS 16

static char rel_name[MAXATOMLEN] = "tiny";
static char rel_vsn[64] = "0";

static void die(const char *what)
{
        fprintf(stderr, "tiny_node: %s\n", what);
        exit(1);
}

/* NAME from bin/NAME, VSN from ../releases/start_erl.data. */
static void read_release(const char *argv0)
{
        char path[PATH_MAX], erts[64];
        const char *slash = strrchr(argv0, '/');
        FILE *f;

        if (slash)
                snprintf(rel_name, sizeof(rel_name), "%s", slash + 1);
        snprintf(path, sizeof(path), "%.*s/../releases/start_erl.data",
                 slash ? (int)(slash - argv0) : 1, slash ? argv0 : ".");
        f = fopen(path, "r");
        if (!f)
                return;
        if (fscanf(f, "%63s %63s", erts, rel_vsn) != 2)
                snprintf(rel_vsn, sizeof(rel_vsn), "0");
        fclose(f);
}

static void encode_reply(ei_x_buff *x, const char *mod, const char *fun)
{
        if (strcmp(mod, "init") == 0 && strcmp(fun, "get_status") == 0) {
                ei_x_encode_tuple_header(x, 2);
                ei_x_encode_atom(x, "started");
                ei_x_encode_atom(x, "started");
        } else if (strcmp(mod, "init") == 0 && strcmp(fun, "script_id") == 0) {
                ei_x_encode_tuple_header(x, 2);
                ei_x_encode_string(x, rel_name);
                ei_x_encode_string(x, rel_vsn);
        } else if (strcmp(mod, "release_handler") == 0 && strcmp(fun, "which_releases") == 0) {
                ei_x_encode_list_header(x, 1);
                ei_x_encode_tuple_header(x, 4);
                ei_x_encode_string(x, rel_name);
                ei_x_encode_string(x, rel_vsn);
                ei_x_encode_empty_list(x);
                ei_x_encode_atom(x, "permanent");
                ei_x_encode_empty_list(x);
        } else if (strcmp(mod, "erlang") == 0 &&
                   (strcmp(fun, "memory") == 0 || strcmp(fun, "system_info") == 0)) {
                ei_x_encode_long(x, 0);
        } else {
                ei_x_encode_tuple_header(x, 2);
                ei_x_encode_atom(x, "badrpc");
                ei_x_encode_tuple_header(x, 2);
                ei_x_encode_atom(x, "EXIT");
                ei_x_encode_tuple_header(x, 2);
                ei_x_encode_atom(x, "undef");
                ei_x_encode_empty_list(x);
        }
}

/* {From, {call, Mod, Fun, Args, GroupLeader}} sent to rex: answer {rex, Reply}. */
static void answer_rex(int fd, const ei_x_buff *msg)
{
        char call[MAXATOMLEN], mod[MAXATOMLEN], fun[MAXATOMLEN];
        int index = 0, version, arity;
        erlang_pid from;
        ei_x_buff reply;

        if (ei_decode_version(msg->buff, &index, &version) < 0 ||
            ei_decode_tuple_header(msg->buff, &index, &arity) < 0 || arity != 2 ||
            ei_decode_pid(msg->buff, &index, &from) < 0 ||
            ei_decode_tuple_header(msg->buff, &index, &arity) < 0 || arity != 5 ||
            ei_decode_atom(msg->buff, &index, call) < 0 || strcmp(call, "call") != 0 ||
            ei_decode_atom(msg->buff, &index, mod) < 0 ||
            ei_decode_atom(msg->buff, &index, fun) < 0)
                return;
        ei_x_new_with_version(&reply);
        ei_x_encode_tuple_header(&reply, 2);
        ei_x_encode_atom(&reply, "rex");
        encode_reply(&reply, mod, fun);
        ei_send(fd, &from, reply.buff, reply.index);
        ei_x_free(&reply);
}

/* One message or tick from a peer; false once the peer is gone. */
static int serve(int fd)
{
        erlang_msg msg;
        ei_x_buff x;
        int r;

        ei_x_new(&x);
        r = ei_xreceive_msg_tmo(fd, &msg, &x, 1000);
        if (r == ERL_MSG && msg.msgtype == ERL_REG_SEND && strcmp(msg.toname, "rex") == 0)
                answer_rex(fd, &x);
        ei_x_free(&x);
        return r == ERL_ERROR && erl_errno != ETIMEDOUT && erl_errno != EAGAIN ? 0 : 1;
}

int main(int argc, char **argv)
{
        const char *node = getenv("RELEASE_NODE"), *cookie = getenv("RELEASE_COOKIE");
        char alive[MAXATOMLEN], host[128], full[MAXATOMLEN + 130];
        struct pollfd fds[1 + MAX_PEERS];
        ei_cnode ec;
        int port = 0, listen_fd, epmd_fd, n = 1;

        (void)argc;
        if (!node || !*node || !cookie || !*cookie)
                die("RELEASE_NODE and RELEASE_COOKIE must be set (the start hook's environment)");
        signal(SIGPIPE, SIG_IGN);
        read_release(argv[0]);
        snprintf(alive, sizeof(alive), "%.*s", (int)strcspn(node, "@"), node);
        if (strchr(node, '@'))
                snprintf(host, sizeof(host), "%s", strchr(node, '@') + 1);
        else if (gethostname(host, sizeof(host)) < 0)
                snprintf(host, sizeof(host), "localhost");
        host[strcspn(host, ".")] = '\0';
        snprintf(full, sizeof(full), "%s@%s", alive, host);
        if (ei_init() < 0 ||
            ei_connect_xinit(&ec, host, alive, full, NULL, cookie, (short)(getpid() & 0x7fff)) < 0)
                die("ei_connect_xinit failed");
        listen_fd = ei_listen(&ec, &port, 16);
        if (listen_fd < 0)
                die("cannot listen");
        epmd_fd = ei_publish(&ec, port); /* registered while this fd is open */
        if (epmd_fd < 0)
                die("cannot register with epmd (is it running?)");
        fds[0] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
        for (;;) {
                if (poll(fds, (nfds_t)n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll failed");
                }
                for (int i = n - 1; i >= 1; i--)
                        if (fds[i].revents && !serve(fds[i].fd)) {
                                ei_close_connection(fds[i].fd);
                                fds[i] = fds[--n];
                        }
                if (fds[0].revents & POLLIN) {
                        ErlConnect peer;
                        int fd = ei_accept_tmo(&ec, listen_fd, &peer, 5000);

                        if (fd >= 0 && n < 1 + MAX_PEERS)
                                fds[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
                        else if (fd >= 0)
                                ei_close_connection(fd);
                }
        }
}
