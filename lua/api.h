/*
 * api: the deployex.* functions a hook can call (DESIGN §6), installed into a
 * sandbox (lua/sandbox.h) as the global table `deployex`, plus a print()
 * that logs.
 *
 *   deployex.exec(argv, {env, unset, cwd, timeout_ms}) -> result table
 *       argv is a list of strings, never a shell line; env sets variables
 *       (false unsets one) over the inherited environment, unset removes
 *       inherited ones by fnmatch pattern ("RELEASE_*").  stdout/stderr are
 *       appended to the instance's log files; the result is
 *       {ok, status, signal, timed_out, output (last 4 KiB), error}.
 *   deployex.log(level, msg)        "debug"|"info"|"warn"|"error"; the cookie is masked
 *   deployex.glob(pattern)          sorted list of paths
 *   deployex.read_file(path)        contents | nil, err
 *   deployex.sleep_ms(n)
 *   deployex.http(method, url, {headers, body, timeout_ms}) -> status, body | nil, err
 *   deployex.tcp_check(host, port, timeout_ms)             -> true | nil, err
 *   deployex.rpc(node, mod, fun, args, timeout_ms)          -> reply | nil, err
 *       one call over distribution (beam/beam.h); mod and fun are strings or
 *       atoms, args a list of Lua values (nil = []), timeout_ms default
 *       API_RPC_TIMEOUT_MS; the reply decoded as term.h says (false and nil
 *       differ: test `reply == nil`).  Errors, one line each: "badrpc: R" (R in
 *       Erlang syntax: the call raised, exited or the function is undefined),
 *       "node N is not running (not registered with epmd)", "node N refused
 *       the handshake (bad cookie?)", "... timed out after T ms".
 *   deployex.atom/tuple/charlist/binary/consult             (lua/term.h)
 *
 * Every blocking call is clipped to the time the hook has left.  The API
 * keeps a pointer to env (sandbox_set_user): env must outlive the sandbox.
 */
#ifndef DEPLOYEX_API_H
#define DEPLOYEX_API_H

#include <lua.h>

#include "lua/sandbox.h"
#include "base/util.h"

struct beam_tls;

#define API_OUTPUT_TAIL 4096          /* bytes of exec output kept for the result */
#define API_READ_MAX (16u << 20)      /* deployex.read_file refuses larger files */
#define API_HTTP_BODY_MAX (4u << 20)  /* deployex.http refuses larger responses */
#define API_HTTP_TIMEOUT_MS 10000     /* when the hook gives none */
#define API_TCP_TIMEOUT_MS 5000
#define API_EXEC_GRACE_MS 5000        /* SIGTERM -> SIGKILL for a timed-out command */
#define API_RPC_TIMEOUT_MS 5000       /* deployex.rpc when the hook gives none */
#define API_RPC_CONNECT_MS 5000       /* the connection's share of it, at most */
#define API_MASK "********"

/* Open an instance log for appending the way exec and rpc do: the fd, or -1. */
int api_open_log(const char *path);

struct api_env {
        const char *cookie;     /* masked in log output; NULL or "" = nothing to mask */
        const char *stdout_log; /* exec appends the child's stdout here; NULL = not kept */
        const char *stderr_log;
        /* Where deployex.log and print go; NULL = stderr.  msg is already masked. */
        void (*log)(void *data, const char *level, const char *msg);
        void *log_data;
        /* How deployex.rpc reaches the nodes: NULL = plain TCP, else TLS. */
        struct api_tls *tls;
        /*
         * stdout_log and stderr_log opened already (by a hook job before it
         * became the app's user, who may not open them); NULL = open the paths.
         */
        const int *log_fds;
};

/*
 * TLS distribution for deployex.rpc (beam/tls.h): the configured files, and
 * the context made from them at the first call (so that a bad key fails the
 * calls, not every hook).  Whoever sets up env frees ctx with beam_tls_free().
 */
struct api_tls {
        const char *cert, *key, *ca;
        struct beam_tls *ctx;
};

/* Install `deployex` and print() into the sandbox; run inside a protected call. */
int api_open(lua_State *L);
/* Bind env to the sandbox (before any API function runs). */
void api_bind(struct sandbox *sb, struct api_env *env);

/* Append in to out with every occurrence of secret replaced by API_MASK. */
void api_mask(const char *secret, const char *in, size_t len, struct buf *out);
/*
 * The same for text cut from the end of a longer stream (an output tail):
 * a leading end of the secret (4 bytes or more) whose start was cut off is
 * masked too.
 */
void api_mask_cut(const char *secret, const char *in, size_t len, struct buf *out);

#endif
