/*
 * source_file: a bucket in a local folder, file:///srv/bucket.  The daemon
 * watches versions/{app}/{env}/ with inotify instead of polling; the ETag is
 * derived from inode, size and mtime so that an unchanged current.json is
 * recognised without parsing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/json.h"
#include "buckets/source.h"
#include "base/banned.h"

#define CURRENT_MAX_BYTES (64 * 1024)

struct file_source {
        char *root; /* absolute path of the bucket */
};

static const char *root_of(struct source *s)
{
        return ((struct file_source *)s->impl)->root;
}

static void current_path(struct source *s, const char *app, struct buf *out)
{
        buf_reset(out);
        buf_printf(out, "%s/versions/%s/%s/current.json", root_of(s), app, s->env);
}

static int file_get_current(struct source *s, const char *app, const char *etag, struct buf *body,
                            char ret_etag[ETAG_MAX + 1], bool *not_modified, struct buf *err)
{
        struct buf path = BUF_INIT;
        struct stat st;
        char tag[ETAG_MAX + 1];
        int r;

        current_path(s, app, &path);
        if (stat(path.data, &st) < 0) {
                r = -errno;
                if (r != -ENOENT)
                        buf_printf(err, "%s: %s", path.data, strerror(-r));
                goto out;
        }
        snprintf(tag, sizeof(tag), "\"%" PRIu64 "-%" PRIu64 "-%" PRId64 ".%09ld\"",
                 (uint64_t)st.st_ino, (uint64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
        if (etag && strcmp(etag, tag) == 0) {
                *not_modified = true;
                str_copy(ret_etag, ETAG_MAX + 1, tag);
                r = 0;
                goto out;
        }
        buf_reset(body);
        r = file_read_all(path.data, CURRENT_MAX_BYTES, body);
        if (r == -EFBIG)
                buf_printf(err, "%s: larger than %d bytes", path.data, CURRENT_MAX_BYTES);
        else if (r < 0 && r != -ENOENT)
                buf_printf(err, "%s: %s", path.data, file_strerror(r));
        if (r >= 0) {
                str_copy(ret_etag, ETAG_MAX + 1, tag);
                r = 0;
        }
out:
        buf_release(&path);
        return r;
}

static int copy_fd(int in, int out, uint64_t max_bytes)
{
        char chunk[64 * 1024];
        uint64_t total = 0;

        for (;;) {
                ssize_t n = read(in, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                total += (uint64_t)n;
                if (total > max_bytes)
                        return -EFBIG;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, chunk + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        off += w;
                }
        }
}

static int file_get_release(struct source *s, const char *app, const char *version, int fd,
                            uint64_t max_bytes, struct buf *err)
{
        struct buf path = BUF_INIT;
        int in, r;

        buf_printf(&path, "%s/dist/%s/%s-%s.tar.gz", root_of(s), app, app, version);
        in = file_open_read(path.data, 0, NULL);
        if (in < 0) {
                r = in;
                buf_printf(err, "%s: %s", path.data, file_strerror(r));
                goto out;
        }
        r = copy_fd(in, fd, max_bytes);
        if (r == -EFBIG)
                buf_printf(err, "%s: larger than max_release_bytes (%" PRIu64 ")", path.data,
                           max_bytes);
        else if (r < 0)
                buf_printf(err, "%s: %s", path.data, strerror(-r));
        close(in);
out:
        buf_release(&path);
        return r;
}

static int file_watch_dir(struct source *s, const char *app, struct buf *ret)
{
        buf_reset(ret);
        buf_printf(ret, "%s/versions/%s/%s", root_of(s), app, s->env);
        return 0;
}

static void file_free(struct source *s)
{
        struct file_source *f = s->impl;

        if (f)
                free(f->root);
        free(f);
}

static const struct source_ops file_ops = {
        .scheme = "file",
        .get_current = file_get_current,
        .get_release = file_get_release,
        .watch_dir = file_watch_dir,
        .free = file_free,
};

int source_file_open(const struct config *c, struct source *s, struct buf *err)
{
        const char *path = c->source + strlen("file://");
        struct file_source *f;
        size_t len = strlen(path);

        if (path[0] != '/') {
                buf_printf(err, "%s: source: file:// needs an absolute path, got '%s'", c->origin,
                           c->source);
                return -EINVAL;
        }
        while (len > 1 && path[len - 1] == '/')
                len--;
        f = xcalloc(1, sizeof(*f));
        f->root = xstrndup(path, len);
        s->impl = f;
        s->ops = &file_ops;
        return 0;
}
