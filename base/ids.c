/*
 * ids: dropping to an app's user for good.  See ids.h.
 */
#include "base/ids.h"

#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "base/banned.h"

int ids_drop(const struct proc_ids *ids)
{
        uid_t ru, eu, su;

        if (setgroups(ids->ngroups, ids->groups) < 0 ||
            setresgid(ids->gid, ids->gid, ids->gid) < 0 ||
            setresuid(ids->uid, ids->uid, ids->uid) < 0)
                return -errno;
        /* A drop that could be undone is no drop. */
        if (ids->uid != 0 && setresuid(0, 0, 0) == 0)
                return -EPERM;
        if (getresuid(&ru, &eu, &su) < 0)
                return -errno;
        if (ru != ids->uid || eu != ids->uid || su != ids->uid)
                return -EPERM;
        return 0;
}
