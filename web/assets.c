/*
 * assets: the static pages and files under the assets directory.
 *
 * A name is served only when every path segment is made of letters,
 * digits, '.', '_' and '-', does not start with a '.', and the file is a
 * regular file reached without following a symlink (openat + O_NOFOLLOW
 * under the directory's fd): "..", encoded slashes, hidden files and
 * planted links all answer 404.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web/http.h"
#include "base/proc.h"
#include "base/banned.h"

#define ASSET_DEPTH_MAX 4

int web_assets_dir(struct buf *ret)
{
        buf_reset(ret);
        return proc_share_dir("DEPLOYEX_WEB_PATH", "web", ret);
}

bool asset_name_is_safe(const char *name)
{
        int depth = 0;
        bool seg_start = true;

        if (!name[0] || strlen(name) > 200)
                return false;
        for (const char *p = name; *p; p++) {
                char ch = *p;

                if (ch == '/') {
                        if (seg_start || ++depth >= ASSET_DEPTH_MAX)
                                return false;
                        seg_start = true;
                        continue;
                }
                if (seg_start && ch == '.')
                        return false;
                seg_start = false;
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
                        return false;
        }
        return !seg_start;
}

static const char *mime_of(const char *name)
{
        static const struct { const char *ext, *type; } types[] = {
                { ".html", "text/html; charset=utf-8" },
                { ".css", "text/css; charset=utf-8" },
                { ".js", "text/javascript; charset=utf-8" },
                { ".mjs", "text/javascript; charset=utf-8" },
                { ".svg", "image/svg+xml" },
                { ".png", "image/png" },
                { ".json", "application/json" },
                { ".txt", "text/plain; charset=utf-8" },
        };
        size_t n = strlen(name);

        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                size_t e = strlen(types[i].ext);
                if (n > e && strcmp(name + n - e, types[i].ext) == 0)
                        return types[i].type;
        }
        return "application/octet-stream";
}

/* Walk the segments with openat(O_NOFOLLOW): no symlink anywhere on the way. */
static int open_asset(const char *dir, const char *name)
{
        char seg[256];
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        const char *p = name;

        if (dfd < 0)
                return -errno;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t)(slash - p) : strlen(p);
                int fd;

                memcpy(seg, p, n);
                seg[n] = '\0';
                fd = openat(dfd, seg, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
                                              (slash ? O_DIRECTORY : 0));
                close(dfd);
                if (fd < 0)
                        return -errno;
                if (!slash)
                        return fd;
                dfd = fd;
                p = slash + 1;
        }
}

enum MHD_Result assets_serve(struct MHD_Connection *c, const char *name)
{
        struct MHD_Response *r;
        struct stat st;
        enum MHD_Result ret;
        int fd;

        if (!asset_name_is_safe(name))
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such file");
        fd = open_asset(web_g.o->assets_dir, name);
        if (fd < 0)
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such file");
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such file");
        }
        r = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* owns fd */
        if (!r) {
                close(fd);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", mime_of(name));
        http_secure(r, strcmp(name, "shell.html") == 0);
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}
