/*
 * otp: what each instance's node says it runs, for `deployex status` (its
 * "otp" and "otp_release" fields).
 *
 * The daemon never talks to a node from its loop.  It runs one long-lived
 * worker, `deployex __otp --worker`; every OTP_REFRESH_MS the worker fills
 * one struct otp_probe per instance of every app (node name, the pid the
 * daemon recorded), calls otp_probe_all_kept() -- one thread per running
 * instance, on the distribution connection kept from the last round:
 * release_handler:which_releases/0 -- and writes each state/{app}/otp.json
 * with otp_status_write().  A node that hangs (SIGSTOP) costs its own thread
 * one connect or rpc timeout; the job as a whole takes at most connect + rpc
 * timeout (+ one more rpc when a node has no release_handler).  `deployex
 * status` reads the file back (otp_status_load) and trusts an entry only
 * while it is fresh, the daemon runs and the instance still has the pid the
 * probe was made for (otp_status_of).
 *
 * otp.json:
 *     {"at": MS, "instances": {"1": {"otp": "connected" | "disconnected",
 *       "release": "1.0.1" | null, "pid": 4242, "at": MS, "error": null | "why",
 *       "vm": null | {"memory_bytes": N, "processes": N, "process_limit": N,
 *                     "atoms": N, "atom_limit": N, "ports": N, "port_limit": N},
 *       "tls": true | false}}}
 * The vm figures move on every probe; they alone do not make the file be
 * rewritten (otp_status_unchanged), so they are at most OTP_REWRITE_MS old.
 */
#ifndef DEPLOYEX_OTP_H
#define DEPLOYEX_OTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beam/beam.h"
#include "state/config.h"

#define OTP_REFRESH_MS 5000          /* how often the daemon refreshes otp.json */
#define OTP_FRESH_MS 30000           /* older entries say "unknown" */
#define OTP_CONNECT_TIMEOUT_MS 2000  /* per instance */
#define OTP_RPC_TIMEOUT_MS 2000      /* per call */
#define OTP_ERROR_MAX 256
#define OTP_REWRITE_MS 15000         /* an unchanged otp.json is rewritten this often */

/*
 * The VM's own figures (erlang:memory(total), erlang:system_info/1), for the
 * metrics and the watchdog.  -1: not known.
 */
struct otp_vm {
        long long memory_bytes;
        long long processes, process_limit;
        long long atoms, atom_limit;
        long long ports, port_limit;
};

struct otp_probe {
        int instance;
        int pid;                         /* the instance's OS pid; 0 = not running, not probed */
        char node[BEAM_NODE_MAX + 1];
        bool connected;
        bool tls;                        /* connected over TLS distribution */
        char release[VERSION_MAX + 1];   /* the release the node runs; "" = it names none */
        char error[OTP_ERROR_MAX];       /* why not connected, or why no release */
        uint64_t at_ms;                  /* wall clock of the probe */
        bool has_vm;                     /* vm holds this probe's figures */
        struct otp_vm vm;
};

/*
 * Probe every entry with pid > 0 and a node name, in parallel; entries with
 * pid 0 are set disconnected ("not running").  Each entry gets at_ms.
 */
void otp_probe_all(struct otp_probe *p, size_t n, const struct beam_opts *o,
                   unsigned rpc_timeout_ms);

/* One probe on the calling thread (what otp_probe_all runs per instance). */
void otp_probe_one(struct otp_probe *p, const struct beam_opts *o, unsigned rpc_timeout_ms);

/*
 * A distribution connection kept from one probe to the next (the `__otp
 * --worker` process): connecting costs a handshake (and a TLS one) per node
 * per round, keeping it costs nothing between rounds.  The link belongs to
 * one OS process of the instance (pid): another pid behind the node name
 * gets a new connection.  Each round's rpc traffic keeps the link alive for
 * the node's net tick.
 */
struct otp_link {
        struct beam_conn conn; /* fd -1: none */
        int pid;               /* the process it was made for */
        unsigned connects;     /* handshakes made (tests, benchmarks) */
};
void otp_link_init(struct otp_link *l);
void otp_link_close(struct otp_link *l);

/*
 * otp_probe_one() on the link: reuses its connection, makes one when there
 * is none (or the pid changed), and reconnects at once when the node
 * dropped the kept one.  A timeout closes it (a late reply would be taken
 * for the next answer) and is not retried: a stopped node costs one timeout.
 */
void otp_probe_kept(struct otp_probe *p, struct otp_link *l, const struct beam_opts *o,
                    unsigned rpc_timeout_ms);

/* otp_probe_all() with links[i] (NULL entries: one-shot) for p[i]; an entry not running closes its link. */
void otp_probe_all_kept(struct otp_probe *p, struct otp_link **links, size_t n,
                        const struct beam_opts *o, unsigned rpc_timeout_ms);

/*
 * The version in a which_releases/0 reply ([{Name, Vsn, Apps, Status}]) that
 * the node runs: the "current" one (installed, not yet permanent), else the
 * "permanent" one.  -ENOENT when there is neither, -EPROTO on another shape.
 */
int otp_running_release(const char *buf, int index, char *ret, size_t n);

/* Write otp.json atomically (tmp + fsync + rename). */
int otp_status_write(const char *path, const struct otp_probe *p, size_t n, uint64_t now_ms);

/*
 * Whether path already says what p says (the same instances, links, releases,
 * pids and errors) and was written less than OTP_REWRITE_MS ago: then the job
 * need not write it (each write is two fsyncs, every 5 s, for nothing new).
 */
bool otp_status_unchanged(const char *path, const struct otp_probe *p, size_t n, uint64_t now_ms);

/*
 * Read otp.json: *ret (caller frees) gets one entry per instance found.
 * -ENOENT when there is no file (nothing in err), -EINVAL/-EFBIG with err.
 */
int otp_status_load(const char *path, struct otp_probe **ret, size_t *ret_n, struct buf *err);

/* The entry for instance n in a loaded list, or NULL. */
const struct otp_probe *otp_status_find(const struct otp_probe *p, size_t n, int instance);

/*
 * What status shows, while the daemon runs: "disconnected" for an instance
 * with no process (live_pid 0); for a running one, "connected" or
 * "disconnected" from a probe younger than OTP_FRESH_MS made for the pid it
 * has now.  Otherwise (no daemon, no fresh probe of this process) "unknown".
 */
const char *otp_status_of(const struct otp_probe *e, bool daemon_up, int live_pid, uint64_t now_ms);

#endif
