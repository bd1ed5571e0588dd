/*
 * fsutil: atomic state-file writes and directory helpers.
 *
 * atomic_write_file() is the only way deployex writes a state file: the data
 * goes to "PATH.tmp.PID" (mode 0600), is fsync'ed, renamed over PATH and the
 * directory is fsync'ed, so a reader sees the old or the new file, never a
 * torn one, even across a power loss.  Returns 0 or -errno; never logs.
 *
 * Modes (DESIGN §8): a private file (the cookie, run/config.json, anything
 * secret) is 0600; what group deployex reads (state, history, overrides) is
 * written with atomic_write_shared(): 0640 whatever the umask, and given to
 * `gid` unless that is (gid_t)-1 (then it keeps the directory's group, which
 * a setgid directory passes on).
 */
#ifndef DEPLOYEX_FSUTIL_H
#define DEPLOYEX_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

struct buf;

int atomic_write_file(const char *path, const void *data, size_t len);
/* The same for a file others read (a bucket object, a metrics textfile): mode before umask. */
int atomic_write_file_mode(const char *path, const void *data, size_t len, mode_t mode);
int atomic_write_shared(const char *path, const void *data, size_t len, gid_t gid);
/*
 * mkdir -p with the given mode for every created component (no allocation: see
 * mkdir_in); one stat when the directory exists already.
 */
int mkdir_p(const char *path, mode_t mode);
/*
 * The same, with another mode for the created parents: a directory of its own
 * under a public one that may not exist yet (overrides.d in /etc/deployex,
 * which others must pass through to read the configuration beside it).
 */
int mkdir_p_parents(const char *path, mode_t parents, mode_t mode);
/* mkdir_p of the directory path[0 .. len), which need not end there. */
int mkdir_p_len(const char *path, size_t len, mode_t mode);
/* Append one line (data + '\n' when missing) with O_APPEND, then fsync; a new file is 0640. */
int append_line(const char *path, const char *data, size_t len);
/* rm -rf; no error when path does not exist.  Refuses "/" and "". */
int remove_tree(const char *path);
int fsync_dir_of(const char *path);

/*
 * Reading files that someone else may have planted (overrides, the bucket's
 * current.json, state files, logs): every read goes through file_open_read().
 * It opens with O_NONBLOCK (a FIFO never blocks the open), O_NOCTTY,
 * O_CLOEXEC and, unless FILE_FOLLOW is given, O_NOFOLLOW (a final symlink is
 * refused with -ELOOP), then fstat's the fd and refuses anything that is not
 * a regular file with -FILE_ENOTREG.  FILE_FOLLOW is for the few paths where
 * an operator legitimately points a symlink (the -c config, key and cookie
 * files, files a hook names).  file_strerror() turns either refusal into a
 * short reason for a one-line error.
 */
#define FILE_FOLLOW 1
/* Not an errno value (those end at 4095): "not a regular file". */
#define FILE_ENOTREG 4096

/* Returns the fd (ret_size, when not NULL, gets st_size) or -errno / -FILE_ENOTREG. */
int file_open_read(const char *path, int flags, size_t *ret_size);
/* Read a whole regular file, refusing more than max_bytes (-EFBIG); out is replaced. */
int file_read_all(const char *path, size_t max_bytes, struct buf *out);
int file_read_all_flags(const char *path, int flags, size_t max_bytes, struct buf *out);
/* The same relative to an open directory (openat: no walk of its path per file). */
int file_open_read_at(int dirfd, const char *path, int flags, size_t *ret_size);
int file_read_all_at(int dirfd, const char *path, int flags, size_t max_bytes, struct buf *out);
/* The rest of an fd opened by file_open_read() (-EFBIG beyond max_bytes); out is replaced. */
int fd_read_all(int fd, size_t max_bytes, struct buf *out);

/*
 * Write all len bytes to fd, through short writes and EINTR: 0, or -errno
 * (-EIO when the kernel takes nothing).  *ret_done, when not NULL, says how
 * many bytes made it, also on failure.
 */
int write_all(int fd, const void *data, size_t len, size_t *ret_done);
/*
 * One read of a non-blocking fd (a child's pipe), retried on EINTR: the
 * bytes read (> 0), -EAGAIN when there is nothing yet, 0 at end of file or
 * on a read error -- either way the caller is done with fd.
 */
ssize_t fd_read_some(int fd, void *data, size_t len);
/* strerror() that also names FILE_ENOTREG and a refused symlink; r is -errno. */
const char *file_strerror(int r);

#endif
