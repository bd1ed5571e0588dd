/*
 * unpack: extract an untrusted release tarball (gzip'ed or plain tar) into a
 * release root such as service/{app}/{n}/new (DESIGN §4.4, §8).
 *
 * The tarball comes from a bucket and is treated as hostile.  Every member is
 * checked before anything is written for it, and the whole archive is
 * refused -- with one line naming the member -- when it holds:
 *   - an absolute path or a ".." component;
 *   - a symlink whose target is absolute or leaves the tree (resolved from
 *     the link's directory, and once more over the finished tree, following
 *     the links inside it);
 *   - a hard link whose target is absolute, leaves the tree, or is not a
 *     regular file extracted earlier;
 *   - a device node, fifo or socket;
 *   - a setuid or setgid bit (refused, not stripped: a release never needs one);
 *   - a member whose path goes through a symlink or a file;
 *   - more than max_bytes of file data in total (counted as it is written; a
 *     member whose declared size exceeds what is left is refused up front);
 *   - more than UNPACK_MAX_ENTRIES members, no member at all, or a corrupt
 *     or truncated stream.
 *
 * Nothing is ever written outside dest_dir: members are written under a fresh
 * temporary directory beside dest_dir with openat(O_NOFOLLOW|O_EXCL) one path
 * component at a time, and that directory is renamed onto dest_dir only when
 * the whole archive was good.  A refused or failed unpack leaves nothing:
 * dest_dir stays absent and the temporary directory is removed.
 *
 * Modes are kept minus the sticky bit, mtimes are kept, ownership is not (the
 * files belong to the unpacking user).  File data is not fsync'ed: a crash
 * mid-deployment makes the daemon unpack again.
 *
 * The daemon runs this in a child (`deployex __unpack`, jobs/internal.c) so a
 * hostile archive cannot hang or crash the supervisor.
 */
#ifndef DEPLOYEX_UNPACK_H
#define DEPLOYEX_UNPACK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/util.h"

#define UNPACK_MAX_ENTRIES 200000
/*
 * `deployex __unpack` exits 1 when the archive is refused (its content: the
 * release is bad, the daemon ghosts it) and JOB_EXIT_LOCAL (answer.h) when
 * this host failed (disk full, permissions: the daemon retries later).
 */

/*
 * Unpack tarball into dest_dir, which must not exist or be an empty
 * directory (its parent must exist).  0 on success.  On failure one line,
 * without a trailing newline, appended to err:
 *     /cache/myapp-1.0.0.tar.gz: member 'a/../../x': '..' component in the path
 * and -errno, in two kinds (unpack_refused() tells them apart):
 *   - the archive is refused for its content: -EINVAL (a hostile or corrupt
 *     member), -EFBIG (over max_bytes).  Retrying cannot help.
 *   - this host failed: -ENOTEMPTY/-ENOTDIR (dest_dir in the way), -ENOENT
 *     (no tarball, no parent directory), -ENOSPC, -EACCES, ... -- the error
 *     of the failing system call.  A retry may succeed.
 */
int unpack_release(const char *tarball, const char *dest_dir, uint64_t max_bytes, struct buf *err);
/* true when r, a result of unpack_release(), means the archive itself was refused. */
bool unpack_refused(int r);

/*
 * The member-path rules, public for fuzz/: unpack_normalize_path() turns
 * "./a//b/" into "a/b" in out and returns NULL, or returns why the path is
 * refused (absolute, a ".." component, too long); unpack_lexically_inside()
 * says whether a link target read from directory dir (normalised) stays
 * inside the tree.
 */
const char *unpack_normalize_path(const char *raw, struct buf *out);
bool unpack_lexically_inside(const char *dir, const char *target);

#endif
