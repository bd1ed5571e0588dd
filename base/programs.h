/*
 * programs: where deployex's own programs are (docs/daemon.md, "Programs").
 *
 *     bin/deployex                   the CLI's lean front (libc, yajl): the readers;
 *                                    every other command execs deployex-cli
 *     lib/deployex/deployex-cli      the full program: every command; `deployex run`
 *                                    execs deployexd, which runs it for its jobs
 *     lib/deployex/deployexd         the daemon (libc, yajl)
 *     lib/deployex/deployex-log      the log writer (libc)
 *     lib/deployex/deployex-hook     the hook runner: the daemon's __hook and
 *                                    __ready jobs (Lua, libei, OpenSSL, yajl)
 *     lib/deployex/deployex-unpack   the unpacker: __unpack jobs (libarchive, yajl)
 *
 * A program is looked up beside the binary asking (a build tree: build/MODE/
 * holds them all, and lib/deployex/ holds the helper programs), then in
 * ../lib/deployex/ from it (an install: bin/ asking for lib/deployex/).
 * Nothing else is searched: no PATH, no environment, so that a daemon
 * running as root never runs a program someone put in its way.
 */
#ifndef DEPLOYEX_PROGRAMS_H
#define DEPLOYEX_PROGRAMS_H

#include "base/util.h"

#define PROGRAM_CLI "deployex-cli"
#define PROGRAM_DAEMON "deployexd"
#define PROGRAM_LOG_WRITER "deployex-log"
#define PROGRAM_HOOK_RUNNER "deployex-hook"
#define PROGRAM_UNPACKER "deployex-unpack"

/*
 * The path of program `name` for the binary at `self` (an absolute path,
 * /proc/self/exe resolved) into out: 0, or -ENOENT when neither place has an
 * executable file of that name.
 */
int program_path(const char *self, const char *name, struct buf *out);
/* program_path() for this process's own executable. */
int program_path_self(const char *name, struct buf *out);

#endif
