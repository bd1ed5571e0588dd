/*
 * release_fetch: verified, once-per-version downloads into the cache.  See
 * release_fetch.h.
 *
 * The source writes into an fd, so the bytes pass through a pipe: a thread
 * runs source_get_release() on the write end while this one reads, hashes
 * and writes the temporary file.  That keeps the source interface as it is
 * and still sees every byte once, as it arrives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/fsutil.h"
#include "state/paths.h"
#include "buckets/release_fetch.h"
#include "base/banned.h"

#define CHUNK (256 * 1024)
#define PART_INFIX ".part."

static void hex_digest(EVP_MD_CTX *md, char ret[65])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        (void)EVP_DigestFinal_ex(md, d, &n);
        for (unsigned int i = 0; i < 32; i++) {
                ret[2 * i] = hex[d[i] >> 4];
                ret[2 * i + 1] = hex[d[i] & 15];
        }
        ret[64] = '\0';
}

int release_file_sha256(const char *path, char ret[65])
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        char *chunk = xmalloc(CHUNK);
        int fd, r = 0;

        fd = file_open_read(path, 0, NULL);
        if (fd < 0) {
                r = fd;
                goto out;
        }
        (void)EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (;;) {
                ssize_t n = read(fd, chunk, CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        goto out;
                }
                if (n == 0)
                        break;
                (void)EVP_DigestUpdate(md, chunk, (size_t)n);
        }
        hex_digest(md, ret);
out:
        if (fd >= 0)
                close(fd);
        free(chunk);
        EVP_MD_CTX_free(md);
        return r;
}

struct writer {
        struct source *src;
        const char *app;
        const char *version;
        int fd;             /* write end of the pipe; closed by the thread */
        uint64_t max_bytes;
        int r;
        struct buf err;
};

static void *writer_main(void *arg)
{
        struct writer *w = arg;
        sigset_t pipe_only;

        /*
         * When the reader gives up it closes the pipe: this thread's write must
         * fail with EPIPE, not kill the process.  SIGPIPE from write() is sent to
         * the writing thread, so blocking it here is enough.
         */
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
        w->r = source_get_release(w->src, w->app, w->version, w->fd, w->max_bytes, &w->err);
        close(w->fd);
        return NULL;
}

/* Pump the pipe into out, hashing; -EFBIG past max_bytes. */
static int pump(int in, int out, uint64_t max_bytes, char ret_sha[65], uint64_t *ret_bytes)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        char *chunk = xmalloc(CHUNK);
        uint64_t total = 0;
        int r = 0;

        (void)EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (;;) {
                ssize_t n = read(in, chunk, CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                total += (uint64_t)n;
                if (total > max_bytes) {
                        r = -EFBIG;
                        break;
                }
                (void)EVP_DigestUpdate(md, chunk, (size_t)n);
                r = write_all(out, chunk, (size_t)n, NULL);
                if (r < 0)
                        break;
        }
        hex_digest(md, ret_sha);
        *ret_bytes = total;
        free(chunk);
        EVP_MD_CTX_free(md);
        return r;
}

/* Remove temporary files a crashed fetch of this version left (we hold its lock). */
static void remove_stale_parts(const char *dir, const char *base)
{
        struct buf prefix = BUF_INIT, path = BUF_INIT;
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return;
        buf_printf(&prefix, ".%s" PART_INFIX, base);
        while ((e = readdir(d))) {
                if (strncmp(e->d_name, prefix.data, prefix.len) != 0)
                        continue;
                buf_reset(&path);
                buf_printf(&path, "%s/%s", dir, e->d_name);
                (void)unlink(path.data);
        }
        closedir(d);
        buf_release(&prefix);
        buf_release(&path);
}

/* Download into a temporary file and rename it into place when verified. */
static int download(const struct config *c, struct source *src, const char *app,
                    const struct release_desc *rel, const char *dir, const char *base,
                    const char *final, struct buf *err)
{
        struct buf tmp = BUF_INIT;
        struct writer w;
        pthread_t thread;
        int pipefd[2] = { -1, -1 };
        int out = -1, r;
        char sha[65];
        uint64_t bytes = 0;

        memset(&w, 0, sizeof(w));
        buf_init(&w.err);
        buf_printf(&tmp, "%s/.%s" PART_INFIX "XXXXXX", dir, base);
        out = mkostemp(tmp.data, O_CLOEXEC);
        if (out < 0) {
                r = -errno;
                buf_printf(err, "%s: cannot create a temporary file: %s", dir, strerror(-r));
                goto out;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                r = -errno;
                buf_printf(err, "%s: pipe: %s", final, strerror(-r));
                goto out;
        }
        w.src = src;
        w.app = app;
        w.version = rel->version;
        w.fd = pipefd[1];
        w.max_bytes = c->max_release_bytes;
        r = -pthread_create(&thread, NULL, writer_main, &w);
        if (r < 0) {
                buf_printf(err, "%s: cannot start the download: %s", final, strerror(-r));
                goto out;
        }
        pipefd[1] = -1; /* the thread owns it now */

        r = pump(pipefd[0], out, c->max_release_bytes, sha, &bytes);
        /* Unblock a writer still pushing (we stopped early): it gets EPIPE. */
        close(pipefd[0]);
        pipefd[0] = -1;
        pthread_join(thread, NULL);

        /* Our side first: when we stopped reading, the writer's EPIPE says nothing. */
        if (r == -EFBIG || w.r == -EFBIG) {
                r = -EFBIG;
                buf_printf(err, "%s-%s.tar.gz: larger than max_release_bytes (%" PRIu64 ")", app,
                           rel->version, c->max_release_bytes);
                goto out;
        }
        if (r < 0) {
                buf_printf(err, "%s: %s", tmp.data, strerror(-r));
                goto out;
        }
        if (w.r < 0) {
                /* The source's own error says most: where and why. */
                r = w.r;
                buf_puts(err, w.err.len ? w.err.data : strerror(-r));
                goto out;
        }
        if (rel->sha256[0] && strcmp(rel->sha256, sha) != 0) {
                buf_printf(err, "%s-%s.tar.gz: sha256 mismatch: current.json says %s, the download "
                                "(%" PRIu64 " bytes) is %s", app, rel->version, rel->sha256, bytes, sha);
                r = -EBADMSG;
                goto out;
        }
        if (fsync(out) < 0 || close(out) < 0) {
                out = -1;
                r = -errno;
                buf_printf(err, "%s: %s", tmp.data, strerror(-r));
                goto out;
        }
        out = -1;
        if (rename(tmp.data, final) < 0) {
                r = -errno;
                buf_printf(err, "%s: %s", final, strerror(-r));
                goto out;
        }
        (void)fsync_dir_of(final);
        buf_reset(&tmp); /* renamed: nothing to clean */
        r = 0;
out:
        if (pipefd[0] >= 0)
                close(pipefd[0]);
        if (pipefd[1] >= 0)
                close(pipefd[1]);
        if (out >= 0)
                close(out);
        if (tmp.len)
                (void)unlink(tmp.data);
        buf_release(&tmp);
        buf_release(&w.err);
        return r;
}

int release_fetch(const struct config *c, struct source *src, const char *app,
                  const struct release_desc *rel, struct buf *ret_path, struct buf *err)
{
        struct buf final = BUF_INIT, dir = BUF_INIT, lock = BUF_INIT, base = BUF_INIT;
        int lock_fd = -1, r;
        struct stat st;

        if (!app_name_is_valid(app) || !version_is_valid(rel->version)) {
                buf_printf(err, "release_fetch: invalid app or version '%s'", rel->version);
                return -EINVAL;
        }
        path_cache_file(c, app, rel->version, &final);
        buf_printf(&base, "%s-%s.tar.gz", app, rel->version);
        buf_append(&dir, final.data, final.len - base.len - 1);
        r = mkdir_p(dir.data, 0700);
        if (r < 0) {
                buf_printf(err, "%s: cannot create: %s", dir.data, strerror(-r));
                goto out;
        }
        buf_printf(&lock, "%s/.%s-%s.lock", dir.data, app, rel->version);
        lock_fd = open(lock.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd < 0) {
                r = -errno;
                buf_printf(err, "%s: %s", lock.data, strerror(-r));
                goto out;
        }
        while ((r = flock(lock_fd, LOCK_EX)) < 0 && errno == EINTR)
                ;
        if (r < 0) {
                r = -errno;
                buf_printf(err, "%s: flock: %s", lock.data, strerror(-r));
                goto out;
        }

        if (stat(final.data, &st) == 0 && S_ISREG(st.st_mode)) {
                char sha[65];

                if (!rel->sha256[0] && st.st_size > 0) {
                        r = RELEASE_FETCH_CACHED;
                        goto found;
                }
                r = release_file_sha256(final.data, sha);
                if (r == 0 && strcmp(sha, rel->sha256) == 0) {
                        r = RELEASE_FETCH_CACHED;
                        goto found;
                }
                /* Corrupted on disk, or the version was republished: fetch it again. */
                (void)unlink(final.data);
        }
        remove_stale_parts(dir.data, base.data);
        r = download(c, src, app, rel, dir.data, base.data, final.data, err);
        if (r < 0)
                goto out;
        r = RELEASE_FETCH_DOWNLOADED;
found:
        buf_reset(ret_path);
        buf_append(ret_path, final.data, final.len);
out:
        if (lock_fd >= 0)
                close(lock_fd); /* releases the flock */
        buf_release(&final);
        buf_release(&dir);
        buf_release(&lock);
        buf_release(&base);
        return r;
}
