/*
 * ids: the user, group and supplementary groups a child runs as (DESIGN §8:
 * an app's instances and the jobs that touch its untrusted bytes run as its
 * `user`/`group`).  Resolved from names by state/app_user.h before any
 * fork; applied by spawn (base/spawn.h, between fork and exec) or by a job
 * that drops its own privileges once its privileged reads are done.
 */
#ifndef DEPLOYEX_IDS_H
#define DEPLOYEX_IDS_H

#include <stddef.h>
#include <sys/types.h>

#define PROC_IDS_GROUPS_MAX 64

struct proc_ids {
        uid_t uid;
        gid_t gid;
        size_t ngroups;               /* supplementary groups, the user's from /etc/group */
        gid_t groups[PROC_IDS_GROUPS_MAX];
};

/*
 * Become ids for good: groups, then gid, then uid (real, effective and
 * saved), and check that root cannot be regained.  For a process that may
 * have threads (glibc applies the change to all of them).  0 or -errno.
 */
int ids_drop(const struct proc_ids *ids);

#endif
