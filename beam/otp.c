/*
 * otp: probe the nodes of an app for what they run; otp.json.  See otp.h.
 */
#include "beam/otp.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beam/etf.h"
#include "base/banned.h"

int otp_running_release(const char *buf, int index, char *ret, size_t n)
{
        char current[VERSION_MAX + 1] = "", permanent[VERSION_MAX + 1] = "";
        int count, arity, type, size;

        if (ei_decode_list_header(buf, &index, &count) < 0)
                return -EPROTO;
        for (int i = 0; i < count; i++) {
                char vsn[VERSION_MAX + 1], status[MAXATOMLEN];

                if (ei_decode_tuple_header(buf, &index, &arity) < 0 || arity != 4 ||
                    ei_skip_term(buf, &index) < 0 ||                        /* Name */
                    ei_get_type(buf, &index, &type, &size) < 0)
                        return -EPROTO;
                /* Vsn: a charlist; one too long for a deployex version is none of ours. */
                if (type != ERL_STRING_EXT || size > VERSION_MAX) {
                        vsn[0] = '\0';
                        if (ei_skip_term(buf, &index) < 0)
                                return -EPROTO;
                } else if (ei_decode_string(buf, &index, vsn) < 0) {
                        return -EPROTO;
                }
                if (ei_skip_term(buf, &index) < 0 ||                        /* Apps */
                    ei_decode_atom(buf, &index, status) < 0)
                        return -EPROTO;
                if (strcmp(status, "current") == 0 && vsn[0])
                        str_copy(current, sizeof(current), vsn);
                else if (strcmp(status, "permanent") == 0 && vsn[0])
                        str_copy(permanent, sizeof(permanent), vsn);
        }
        if (!current[0] && !permanent[0])
                return -ENOENT;
        str_copy(ret, n, current[0] ? current : permanent);
        return 0;
}

/* init:script_id() -> {Name, Vsn}: the boot script's release, unless it is plain OTP's. */
static int script_release(const ei_x_buff *x, char *ret, size_t n)
{
        char name[128], vsn[VERSION_MAX + 1];
        int index = 0, arity, type, size;

        if (ei_decode_tuple_header(x->buff, &index, &arity) < 0 || arity != 2 ||
            ei_get_type(x->buff, &index, &type, &size) < 0 || type != ERL_STRING_EXT ||
            size >= (int)sizeof(name) || ei_decode_string(x->buff, &index, name) < 0 ||
            ei_get_type(x->buff, &index, &type, &size) < 0 || type != ERL_STRING_EXT ||
            size > VERSION_MAX || ei_decode_string(x->buff, &index, vsn) < 0)
                return -EPROTO;
        if (strcmp(name, "Erlang/OTP") == 0)
                return -ENOENT;
        str_copy(ret, n, vsn);
        return 0;
}

/* mod:fun(Atom) answering an integer. */
static int rpc_int(struct beam_conn *c, const char *mod, const char *fun, const char *atom,
                   unsigned timeout_ms, long long *ret, struct buf *err)
{
        ei_x_buff args, reply;
        int r, index = 0;

        ei_x_new(&args);
        ei_x_new(&reply);
        ei_x_encode_list_header(&args, 1);
        ei_x_encode_atom(&args, atom);
        ei_x_encode_empty_list(&args);
        r = beam_rpc(c, mod, fun, args.buff, args.index, timeout_ms, &reply, err);
        if (r == 0 && ei_decode_longlong(reply.buff, &index, ret) < 0)
                r = -EPROTO;
        ei_x_free(&args);
        ei_x_free(&reply);
        return r;
}

/*
 * The figures of struct otp_vm; has_vm only when every one came back.  The
 * first failed call's result, with its reason in err when the link failed.
 */
static int probe_vm(struct beam_conn *c, struct otp_probe *p, unsigned timeout_ms, struct buf *err)
{
        struct buf why = BUF_INIT;
        int r = 0;

        static const struct {
                const char *fun, *arg;
                size_t off;
        } calls[] = {
                { "memory", "total", offsetof(struct otp_vm, memory_bytes) },
                { "system_info", "process_count", offsetof(struct otp_vm, processes) },
                { "system_info", "process_limit", offsetof(struct otp_vm, process_limit) },
                { "system_info", "atom_count", offsetof(struct otp_vm, atoms) },
                { "system_info", "atom_limit", offsetof(struct otp_vm, atom_limit) },
                { "system_info", "port_count", offsetof(struct otp_vm, ports) },
                { "system_info", "port_limit", offsetof(struct otp_vm, port_limit) },
        };

        p->has_vm = false;
        for (size_t i = 0; i < ARRAY_SIZE(calls) && r == 0; i++)
                r = rpc_int(c, "erlang", calls[i].fun, calls[i].arg, timeout_ms,
                            (long long *)((char *)&p->vm + calls[i].off), &why);
        p->has_vm = r == 0;
        /* Only a lost node is worth saying: a figure the VM does not give is no error. */
        if ((r == -ETIMEDOUT || r == -ECONNRESET) && !err->len)
                buf_puts(err, why.data);
        buf_release(&why);
        return r;
}

static void probe_reset(struct otp_probe *p)
{
        p->connected = false;
        p->has_vm = false;
        p->tls = false;
        p->release[0] = '\0';
        p->error[0] = '\0';
}

/*
 * The probe's calls on an open connection: the release, then the VM's
 * figures.  The result of the release call: -ETIMEDOUT or -ECONNRESET mean
 * the link failed (c is closed then), anything else that it works.
 */
static int probe_on(struct beam_conn *c, struct otp_probe *p, bool tls, unsigned rpc_timeout_ms,
                    struct buf *err)
{
        ei_x_buff reply;
        int r;

        ei_x_new(&reply);
        p->connected = true;
        p->tls = tls;
        r = beam_rpc(c, "release_handler", "which_releases", NULL, 0, rpc_timeout_ms, &reply, err);
        if (r == 0) {
                r = otp_running_release(reply.buff, 0, p->release, sizeof(p->release));
                if (r < 0)
                        buf_puts(err, r == -ENOENT ? "release_handler names no running release"
                                                   : "release_handler:which_releases/0: an unexpected reply");
        } else if (r == -EREMOTEIO) {
                /* No release_handler (no sasl): the boot script still names the release. */
                buf_reset(err);
                reply.index = 0;
                r = beam_rpc(c, "init", "script_id", NULL, 0, rpc_timeout_ms, &reply, err);
                if (r == 0 && script_release(&reply, p->release, sizeof(p->release)) < 0)
                        buf_puts(err, "the node runs no release (no release_handler, a plain boot script)");
        }
        /* A node that stops answering after the handshake is not connected in any useful sense. */
        if (r != -ETIMEDOUT && r != -ECONNRESET && c->fd >= 0) {
                int v = probe_vm(c, p, rpc_timeout_ms, err);
                if (v == -ETIMEDOUT || v == -ECONNRESET)
                        r = v; /* it stopped answering half-way */
        }
        if (r == -ETIMEDOUT || r == -ECONNRESET)
                p->connected = false;
        ei_x_free(&reply);
        return r;
}

static void probe_finish(struct otp_probe *p, struct buf *err)
{
        str_copy(p->error, sizeof(p->error), err->data);
        p->at_ms = time_now_ms();
        buf_release(err);
}

void otp_probe_one(struct otp_probe *p, const struct beam_opts *o, unsigned rpc_timeout_ms)
{
        struct beam_conn c;
        struct buf err = BUF_INIT;

        probe_reset(p);
        if (beam_connect(&c, p->node, o, &err) == 0) {
                (void)probe_on(&c, p, o->transport != NULL, rpc_timeout_ms, &err);
                beam_close(&c);
        }
        probe_finish(p, &err);
}

void otp_link_init(struct otp_link *l)
{
        memset(l, 0, sizeof(*l));
        l->conn.fd = -1;
}

void otp_link_close(struct otp_link *l)
{
        beam_close(&l->conn);
        l->pid = 0;
}

void otp_probe_kept(struct otp_probe *p, struct otp_link *l, const struct beam_opts *o,
                    unsigned rpc_timeout_ms)
{
        struct buf err = BUF_INIT;
        bool fresh = false;
        int r;

        probe_reset(p);
        /* Another process behind the same node name: the old link leads nowhere. */
        if (l->conn.fd >= 0 && l->pid != p->pid)
                otp_link_close(l);
        for (int attempt = 0; attempt < 2; attempt++) {
                if (l->conn.fd < 0) {
                        if (beam_connect(&l->conn, p->node, o, &err) < 0)
                                break;
                        fresh = true;
                        l->pid = p->pid;
                        l->connects++;
                }
                r = probe_on(&l->conn, p, o->transport != NULL, rpc_timeout_ms, &err);
                /*
                 * A kept link the node dropped (it restarted distribution, a
                 * net tick was missed) is reconnected at once; a timeout is not
                 * retried: a stopped node costs one timeout per round, no more.
                 */
                if (r != -ECONNRESET || fresh)
                        break;
                probe_reset(p);
                buf_reset(&err);
        }
        probe_finish(p, &err);
}

struct probe_arg {
        struct otp_probe *p;
        struct otp_link *link; /* NULL: a connection for this probe alone */
        const struct beam_opts *o;
        unsigned rpc_timeout_ms;
};

static void probe_arg_run(struct probe_arg *a)
{
        if (a->link)
                otp_probe_kept(a->p, a->link, a->o, a->rpc_timeout_ms);
        else
                otp_probe_one(a->p, a->o, a->rpc_timeout_ms);
}

static void *probe_thread(void *data)
{
        probe_arg_run(data);
        return NULL;
}

void otp_probe_all_kept(struct otp_probe *p, struct otp_link **links, size_t n,
                        const struct beam_opts *o, unsigned rpc_timeout_ms)
{
        struct probe_arg *args = xcalloc(n + 1, sizeof(*args));
        pthread_t *threads = xcalloc(n + 1, sizeof(*threads));
        bool *started = xcalloc(n + 1, sizeof(*started));

        (void)beam_init(); /* once, before the threads race for it */
        for (size_t i = 0; i < n; i++) {
                if (p[i].pid <= 0 || !p[i].node[0]) {
                        p[i].connected = false;
                        p[i].release[0] = '\0';
                        str_copy(p[i].error, sizeof(p[i].error), "not running");
                        p[i].at_ms = time_now_ms();
                        if (links && links[i])
                                otp_link_close(links[i]);
                        continue;
                }
                args[i] = (struct probe_arg){ &p[i], links ? links[i] : NULL, o, rpc_timeout_ms };
                started[i] = pthread_create(&threads[i], NULL, probe_thread, &args[i]) == 0;
                if (!started[i])
                        probe_arg_run(&args[i]); /* no thread: do it here */
        }
        for (size_t i = 0; i < n; i++)
                if (started[i])
                        pthread_join(threads[i], NULL);
        free(args);
        free(threads);
        free(started);
}

void otp_probe_all(struct otp_probe *p, size_t n, const struct beam_opts *o,
                   unsigned rpc_timeout_ms)
{
        otp_probe_all_kept(p, NULL, n, o, rpc_timeout_ms);
}
