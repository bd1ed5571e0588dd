/*
 * logwriter: appends the output streams of an instance to their log files
 * ({log_path}/{app}/{app}-{n}-stdout.log or -stderr.log, DESIGN §4.4) and
 * rotates each by size without losing or splitting a line.
 *
 * The daemon runs one writer per instance as a child (`deployex-log
 * STDOUT_PATH STDERR_PATH MAX_BYTES KEEP`, or `deployex __log` with the same
 * arguments, jobs/internal.c) reading two pipes from the instance: its stdout
 * on descriptor 0, its stderr on descriptor 3, polled together.  With one
 * PATH it copies stdin alone.  It ends once every stream is at EOF -- it
 * outlives the instance to write its last lines -- so it ignores SIGTERM,
 * SIGINT, SIGHUP and SIGPIPE.
 *
 * Rotation: when appending the next complete line would take PATH beyond
 * max_bytes, PATH.(k) is renamed to PATH.(k+1) for k = keep-1 .. 1 (PATH.keep
 * is dropped), PATH to PATH.1 (or removed when keep is 0) and a new PATH is
 * opened (0640, O_APPEND).  Rotation happens only between lines, so a line
 * is never split across two files; a line longer than max_bytes is written
 * whole into a file of its own.  A partial line is held until its newline or
 * EOF; one growing beyond LOGWRITER_PARTIAL_MAX is written out (without
 * rotating until its newline) rather than held in memory without bound.
 *
 * A failed write (a full disk) drops that output, counts it, and the next
 * successful write is preceded by a line saying how many bytes were lost:
 * the writer never stops draining the pipe, so the instance never blocks
 * on its own output.
 *
 * Lines are stamped: `deployex __log` (logwriter_main) prefixes each line
 * with the time its first byte arrived, so that `deployex logs APP` can
 * interleave the instances; output the daemon copies into the file itself
 * (pre-commands) is not stamped and takes the time of the line before it.
 *
 * Calling sequence (the pieces are public for the unit tests):
 *     logwriter_open(&w, path, max_bytes, keep)
 *     logwriter_feed(&w, data, len) ...   any split of the stream
 *     logwriter_finish(&w)                 EOF: writes a held partial line
 *     logwriter_close(&w)
 * or logwriter_run(fd, path, max_bytes, keep) which does all of it (unstamped;
 * logwriter_main, the program the daemon runs, stamps).
 * Functions return 0 or -errno and never log.
 *
 * Memory: the daemon runs one writer per instance, so its footprint is
 * multiplied by the fleet (docs/performance.md).  The writer allocates
 * nothing on the heap: the path is borrowed, rotation names, what a read
 * takes and its stamped copy are built in fixed buffers of a page at most on
 * the stack, and a held partial line lives in an anonymous mapping made on
 * first use, of which only the pages the line reaches become memory (given
 * back after a long line).  So a burst leaves little more behind than idle.
 */
#ifndef DEPLOYEX_LOGWRITER_H
#define DEPLOYEX_LOGWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define LOGWRITER_PARTIAL_MAX (1024 * 1024)
#define LOGWRITER_KEEP_MAX 1000

struct logwriter {
        const char *path;    /* borrowed: the caller's string outlives the writer */
        const char *name;    /* path's base name (within path); files are opened with */
        size_t dir_len;      /* openat(dirfd, name, O_NOFOLLOW), never by path; the */
                             /* directory is path's first dir_len bytes (0: ".") */
        int dirfd;           /* -1 until the directory passed its checks */
        uint64_t max_bytes;
        int keep;
        int fd;              /* -1 while the file cannot be opened */
        uint64_t size;       /* bytes in the current file */
        bool mid_line;       /* the file ends inside a line: no rotation now */
        uint64_t rotate_after; /* after a failed rotation: the size for the next try */
        char *partial;       /* an incomplete line held back: LOGWRITER_PARTIAL_MAX bytes */
        size_t partial_len;  /* of address space mapped on first use (NULL before) */
        uint64_t lost;       /* bytes dropped since the last successful write */
        bool broken_line;    /* a failed write left the file inside a line */
        int lost_errno;
        uint64_t lost_total; /* over the writer's life */
        bool stamp;          /* prefix each line with the time it arrived (logwriter_main) */
        bool in_line;        /* the stream (not the file) is inside a line */
};

/*
 * The time prefix of a stamped line: "2026-11-26T05:00:00.123Z " (UTC,
 * milliseconds, one space), LOGWRITER_STAMP_LEN bytes.  `deployex logs`
 * reads it back to interleave instances.
 */
#define LOGWRITER_STAMP_LEN 25
void logwriter_format_stamp(uint64_t ms, char out[LOGWRITER_STAMP_LEN + 1]);
/* The time of a line that starts with a stamp, or false. */
bool logwriter_parse_stamp(const char *line, size_t len, uint64_t *ret_ms);

/*
 * Where an unprivileged user may plant files (a shared log_path), the writer
 * must not be turned against another file: the log directory is opened with
 * O_NOFOLLOW and must belong to the writer's user (a directory it owns that
 * is group- or world-writable loses those write bits first); every file is
 * opened, renamed and removed relative to that directory fd, with
 * O_NOFOLLOW|O_NONBLOCK, and must be a regular file with one link.  A refused
 * directory gives -EPERM (another owner) or -ELOOP (a symlink), a refused
 * file -ELOOP (symlink), -EMLINK (hard link) or -FILE_ENOTREG.
 */
int logwriter_check_dir(const char *dir);

/*
 * Open (creating, 0640) path for appending; path is borrowed, not copied.
 * max_bytes >= 1, keep 0 .. LOGWRITER_KEEP_MAX.  When the file cannot be
 * opened the writer is still initialised and retries on every write; the
 * error is returned all the same.
 */
int logwriter_open(struct logwriter *w, const char *path, uint64_t max_bytes, int keep);
/* Append a piece of the stream.  -errno when some of it could not be written (it is counted). */
int logwriter_feed(struct logwriter *w, const char *data, size_t len);
/* End of stream: write the partial line, if any, as it is. */
int logwriter_finish(struct logwriter *w);
void logwriter_close(struct logwriter *w);
/* Rotate now (between lines); exposed for tests. */
int logwriter_rotate(struct logwriter *w);

/*
 * Read fd until EOF into path.  Transient write errors do not stop it.  0,
 * or the last write error when output was lost (-errno).
 */
int logwriter_run(int fd, const char *path, uint64_t max_bytes, int keep);

/* The descriptor the second stream (an instance's stderr) arrives on. */
#define LOGWRITER_STDERR_FD 3

/*
 * The whole log writer process, from its arguments PATH [STDERR_PATH]
 * MAX_BYTES KEEP (argv[0] is the program's name): ignores TERM/INT/HUP/PIPE,
 * creates the files' directories, copies stdin to PATH (and descriptor 3 to
 * STDERR_PATH) until EOF.  Exit status 0, 1 (lost output) or 2 (usage); the
 * message is on stderr.  `deployex __log` and the lean `deployex-log` binary
 * the daemon runs (1 per instance) both call it.
 */
int logwriter_main(int argc, char **argv);

#endif
