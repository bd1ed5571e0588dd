/*
 * hook_files: what the files an app's hooks are loaded from look like now
 * (lua/hooks_load.c loads {hooks dir}/common.lua, {hooks dir}/{language}.lua,
 * then the app's own file): for each, whether it exists and its device,
 * inode, size and modification time.  The daemon runs no Lua, so it cannot
 * tell what the hooks define; a job that loaded them can, and what it said
 * holds for as long as the files stay the same (on_event, supervisor.c).
 */
#ifndef DEPLOYEX_HOOK_FILES_H
#define DEPLOYEX_HOOK_FILES_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"

#define HOOK_FILES 3

struct hook_file_id {
        bool exists;
        uint64_t dev, ino, size;
        int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
};

struct hook_files {
        struct hook_file_id file[HOOK_FILES];
};

/* 0, or -errno when the hooks directory cannot be found (then nothing can be said). */
int hook_files_read(const struct app_config *app, struct hook_files *ret);
bool hook_files_same(const struct hook_files *a, const struct hook_files *b);

#endif
