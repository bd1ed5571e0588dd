/* hook_files: see hook_files.h. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "reconciler/daemon/hook_files.h"
#include "base/proc.h"
#include "base/util.h"
#include "base/banned.h"

static void identify(const char *path, struct hook_file_id *ret)
{
        struct stat st;

        memset(ret, 0, sizeof(*ret));
        if (!path || stat(path, &st) < 0)
                return;
        *ret = (struct hook_file_id){ true,
                                      (uint64_t)st.st_dev,
                                      (uint64_t)st.st_ino,
                                      (uint64_t)st.st_size,
                                      (int64_t)st.st_mtim.tv_sec,
                                      (int64_t)st.st_mtim.tv_nsec,
                                      (int64_t)st.st_ctim.tv_sec,
                                      (int64_t)st.st_ctim.tv_nsec };
}

int hook_files_read(const struct app_config *app, struct hook_files *ret)
{
        struct buf dir = BUF_INIT, path = BUF_INIT;
        int r;

        memset(ret, 0, sizeof(*ret));
        /* The hook runner's own lookup (lua/hooks_load.c): it lives beside this program. */
        if ((r = proc_share_dir("DEPLOYEX_HOOKS_PATH", "hooks", &dir)) < 0)
                goto out;
        buf_printf(&path, "%s/common.lua", dir.data);
        identify(path.data, &ret->file[0]);
        buf_reset(&path);
        buf_printf(&path, "%s/%s.lua", dir.data, language_to_string(app->language));
        identify(path.data, &ret->file[1]);
        identify(app->hooks, &ret->file[2]);
out:
        buf_release(&dir);
        buf_release(&path);
        return r;
}

bool hook_files_same(const struct hook_files *a, const struct hook_files *b)
{
        for (int i = 0; i < HOOK_FILES; i++) {
                const struct hook_file_id *x = &a->file[i], *y = &b->file[i];
                if (x->exists != y->exists || x->dev != y->dev || x->ino != y->ino ||
                    x->size != y->size || x->mtime_s != y->mtime_s || x->mtime_ns != y->mtime_ns ||
                    x->ctime_s != y->ctime_s || x->ctime_ns != y->ctime_ns)
                        return false;
        }
        return true;
}
