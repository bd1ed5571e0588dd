/*
 * fsutil: atomic state-file writes and directory helpers.
 *
 * atomic_write_file() is the only way deployex writes a state file: the data
 * goes to "PATH.tmp.PID" (mode 0600), is fsync'ed, renamed over PATH and the
 * directory is fsync'ed, so a reader sees the old or the new file, never a
 * torn one, even across a power loss.  Returns 0 or -errno; never logs.
 */
#ifndef DEPLOYEX_FSUTIL_H
#define DEPLOYEX_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

int atomic_write_file(const char *path, const void *data, size_t len);
/* The same for a file others read (a bucket object, a metrics textfile): mode before umask. */
int atomic_write_file_mode(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p with the given mode for every created component. */
int mkdir_p(const char *path, mode_t mode);
/* Append one line (data + '\n' when missing) with O_APPEND, then fsync. */
int append_line(const char *path, const char *data, size_t len);
/* rm -rf; no error when path does not exist.  Refuses "/" and "". */
int remove_tree(const char *path);
int fsync_dir_of(const char *path);

#endif
