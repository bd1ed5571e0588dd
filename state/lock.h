/*
 * lock: advisory locks (flock) around read-modify-write of shared state
 * files.  The CLI, the UI and the daemon may all change an override or
 * ghosts.json; each takes "PATH.lock" exclusively for the read-modify-write
 * so that no writer's change is lost.  Readers never lock: files are
 * replaced by atomic rename.
 *
 *     int fd = file_lock(path);  ... read, change, atomic_write_file ...  file_unlock(fd);
 */
#ifndef DEPLOYEX_LOCK_H
#define DEPLOYEX_LOCK_H

/* Blocks until locked; returns the lock fd or -errno.  Creates the directory's lock file. */
int file_lock(const char *path);
void file_unlock(int fd);

#endif
