/*
 * programs: where deployex's own programs are (programs.h).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "base/programs.h"
#include "base/banned.h"

int program_path(const char *self, const char *name, struct buf *out)
{
        static const char *const places[] = { "", "../lib/deployex/" };
        const char *slash = strrchr(self, '/');

        for (size_t i = 0; slash && i < ARRAY_SIZE(places); i++) {
                buf_reset(out);
                buf_printf(out, "%.*s/%s%s", (int)(slash - self), self, places[i], name);
                if (access(out->data, X_OK) == 0)
                        return 0;
        }
        buf_reset(out);
        return -ENOENT;
}

int program_path_self(const char *name, struct buf *out)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n <= 0)
                return n < 0 ? -errno : -ENOENT;
        exe[n] = '\0';
        return program_path(exe, name, out);
}
