/*
 * Unit tests: verified once-per-version downloads into the cache
 * (buckets/release_fetch.c), through the real file:// source, wrapped to count
 * calls and, for the failure cases, to break off mid-stream.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buckets/aws_sigv4.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "buckets/release_fetch.h"
#include "buckets/source.h"
#include "base/util.h"

#include "base/banned.h"

#define TARBALL_BYTES (3 * 1024 * 1024 + 17)

struct fixture {
        char root[64];
        struct buf bucket, var;
        struct config c;
        struct source *src;
        char sha[65];
};

/* The file:// source with its get_release wrapped. */
static const struct source_ops *file_ops;
static struct source_ops counting_ops;
static int release_calls;
static int break_after; /* > 0: write that many bytes, then fail with -EIO */
static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;

static int counting_get_release(struct source *s, const char *app, const char *version, int fd,
                                uint64_t max_bytes, struct buf *err)
{
        pthread_mutex_lock(&calls_lock);
        release_calls++;
        pthread_mutex_unlock(&calls_lock);
        if (break_after > 0) {
                char *junk = xcalloc(1, (size_t)break_after);
                ssize_t w = write(fd, junk, (size_t)break_after);
                free(junk);
                (void)w;
                buf_puts(err, "connection reset mid-transfer");
                return -EIO;
        }
        /* Slow enough that concurrent callers really overlap. */
        usleep(50 * 1000);
        return file_ops->get_release(s, app, version, fd, max_bytes, err);
}

static int setup(void **state)
{
        struct fixture *f = xcalloc(1, sizeof(*f));
        struct buf err = BUF_INIT, path = BUF_INIT;
        char *data = xmalloc(TARBALL_BYTES);

        str_copy(f->root, sizeof(f->root), "/tmp/deployex-fetch-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        buf_init(&f->bucket);
        buf_init(&f->var);
        buf_printf(&f->bucket, "file://%s/bucket", f->root);
        buf_printf(&f->var, "%s/var", f->root);
        buf_printf(&path, "%s/bucket/dist/myapp", f->root);
        assert_int_equal(mkdir_p(path.data, 0700), 0);
        for (size_t i = 0; i < TARBALL_BYTES; i++)
                data[i] = (char)(i * 7 + i / 4096);
        buf_puts(&path, "/myapp-1.0.0.tar.gz");
        assert_int_equal(atomic_write_file(path.data, data, TARBALL_BYTES), 0);
        aws_sha256_hex(data, TARBALL_BYTES, f->sha);
        free(data);

        f->c.origin = "test";
        f->c.env = "prod";
        f->c.source = f->bucket.data;
        f->c.var_path = f->var.data;
        f->c.max_release_bytes = 64 * 1024 * 1024;
        assert_int_equal(source_open(&f->c, &f->src, &err), 0);
        file_ops = f->src->ops;
        counting_ops = *file_ops;
        counting_ops.get_release = counting_get_release;
        f->src->ops = &counting_ops;
        release_calls = 0;
        break_after = 0;
        buf_release(&err);
        buf_release(&path);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        f->src->ops = file_ops;
        source_free(f->src);
        assert_int_equal(remove_tree(f->root), 0);
        buf_release(&f->bucket);
        buf_release(&f->var);
        free(f);
        return 0;
}

static void desc(struct release_desc *r, const char *version, const char *sha)
{
        memset(r, 0, sizeof(*r));
        str_copy(r->version, sizeof(r->version), version);
        str_copy(r->sha256, sizeof(r->sha256), sha);
}

/* How many entries of cache/myapp start with prefix. */
static int count_cache_entries(struct fixture *f, const char *prefix)
{
        struct buf dir = BUF_INIT;
        struct dirent *e;
        int n = 0;
        DIR *d;

        buf_printf(&dir, "%s/cache/myapp", f->var.data);
        d = opendir(dir.data);
        buf_release(&dir);
        if (!d)
                return 0;
        while ((e = readdir(d)))
                if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
                        n++;
        closedir(d);
        return n;
}

static void assert_cached_content(struct fixture *f, const char *path)
{
        char sha[65];

        assert_int_equal(release_file_sha256(path, sha), 0);
        assert_string_equal(sha, f->sha);
}

static void test_download_then_reuse(void **state)
{
        struct fixture *f = *state;
        struct buf path = BUF_INIT, err = BUF_INIT, want = BUF_INIT;
        struct release_desc r;
        struct stat st;

        desc(&r, "1.0.0", f->sha);
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), RELEASE_FETCH_DOWNLOADED);
        buf_printf(&want, "%s/cache/myapp/myapp-1.0.0.tar.gz", f->var.data);
        assert_string_equal(path.data, want.data);
        assert_cached_content(f, path.data);
        assert_int_equal(stat(path.data, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(release_calls, 1);

        /* Fetched again: verified from the cache, the bucket is not asked. */
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), RELEASE_FETCH_CACHED);
        assert_int_equal(release_calls, 1);
        assert_int_equal(count_cache_entries(f, ".myapp-1.0.0.tar.gz.part."), 0);
        assert_string_equal(err.data, "");
        buf_release(&path);
        buf_release(&err);
        buf_release(&want);
}

static void test_sha256_mismatch_not_stored(void **state)
{
        struct fixture *f = *state;
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct release_desc r;

        desc(&r, "1.0.0", "0000000000000000000000000000000000000000000000000000000000000000");
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), -EBADMSG);
        assert_non_null(strstr(err.data, "sha256 mismatch"));
        assert_non_null(strstr(err.data, f->sha));
        assert_string_equal(path.data, "");
        assert_int_equal(count_cache_entries(f, "myapp-1.0.0"), 0);
        assert_int_equal(count_cache_entries(f, ".myapp-1.0.0.tar.gz.part."), 0);
        buf_release(&path);
        buf_release(&err);
}

static void test_size_cap(void **state)
{
        struct fixture *f = *state;
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct release_desc r;

        desc(&r, "1.0.0", f->sha);
        f->c.max_release_bytes = TARBALL_BYTES - 1;
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), -EFBIG);
        assert_non_null(strstr(err.data, "max_release_bytes"));
        assert_int_equal(count_cache_entries(f, "myapp-1.0.0"), 0);
        assert_int_equal(count_cache_entries(f, ".myapp-1.0.0.tar.gz.part."), 0);

        /* Exactly at the cap is fine. */
        f->c.max_release_bytes = TARBALL_BYTES;
        buf_reset(&err);
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), RELEASE_FETCH_DOWNLOADED);
        buf_release(&path);
        buf_release(&err);
}

static void test_broken_transfer_then_retry(void **state)
{
        struct fixture *f = *state;
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct release_desc r;

        /* No sha256 to catch it: the source's error alone must keep the part out. */
        desc(&r, "1.0.0", "");
        break_after = 100000;
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), -EIO);
        assert_non_null(strstr(err.data, "connection reset"));
        assert_int_equal(count_cache_entries(f, "myapp-1.0.0"), 0);
        assert_int_equal(count_cache_entries(f, ".myapp-1.0.0.tar.gz.part."), 0);

        break_after = 0;
        buf_reset(&err);
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), RELEASE_FETCH_DOWNLOADED);
        assert_cached_content(f, path.data);
        assert_int_equal(release_calls, 2);
        buf_release(&path);
        buf_release(&err);
}

static void test_corrupt_cache_replaced(void **state)
{
        struct fixture *f = *state;
        struct buf path = BUF_INIT, err = BUF_INIT, stale = BUF_INIT;
        struct release_desc r;

        desc(&r, "1.0.0", f->sha);
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), RELEASE_FETCH_DOWNLOADED);
        assert_int_equal(atomic_write_file(path.data, "garbage", 7), 0);
        /* A part file a crashed fetch left behind. */
        buf_printf(&stale, "%s/cache/myapp/.myapp-1.0.0.tar.gz.part.ABCDEF", f->var.data);
        assert_int_equal(atomic_write_file(stale.data, "half", 4), 0);

        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), RELEASE_FETCH_DOWNLOADED);
        assert_cached_content(f, path.data);
        assert_int_equal(access(stale.data, F_OK), -1);
        assert_int_equal(release_calls, 2);
        buf_release(&path);
        buf_release(&err);
        buf_release(&stale);
}

static void test_invalid_and_missing(void **state)
{
        struct fixture *f = *state;
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct release_desc r;

        desc(&r, "../1", "");
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), -EINVAL);
        assert_int_equal(release_calls, 0);
        desc(&r, "9.9.9", "");
        buf_reset(&err);
        assert_int_equal(release_fetch(&f->c, f->src, "myapp", &r, &path, &err), -ENOENT);
        assert_non_null(strstr(err.data, "myapp-9.9.9.tar.gz"));
        assert_int_equal(count_cache_entries(f, "myapp-9.9.9"), 0);
        buf_release(&path);
        buf_release(&err);
}

struct racer {
        struct fixture *f;
        int r;
};

static void *race(void *arg)
{
        struct racer *x = arg;
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct release_desc r;

        desc(&r, "1.0.0", x->f->sha);
        x->r = release_fetch(&x->f->c, x->f->src, "myapp", &r, &path, &err);
        buf_release(&path);
        buf_release(&err);
        return NULL;
}

/* Five replicas want the same version at once: one download. */
static void test_one_download_for_concurrent_fetches(void **state)
{
        struct fixture *f = *state;
        struct racer racers[5];
        pthread_t threads[5];
        int downloaded = 0, cached = 0;

        for (size_t i = 0; i < ARRAY_SIZE(racers); i++) {
                racers[i].f = f;
                pthread_create(&threads[i], NULL, race, &racers[i]);
        }
        for (size_t i = 0; i < ARRAY_SIZE(racers); i++) {
                pthread_join(threads[i], NULL);
                downloaded += racers[i].r == RELEASE_FETCH_DOWNLOADED;
                cached += racers[i].r == RELEASE_FETCH_CACHED;
        }
        assert_int_equal(downloaded, 1);
        assert_int_equal(cached, 4);
        assert_int_equal(release_calls, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_download_then_reuse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sha256_mismatch_not_stored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broken_transfer_then_retry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_cache_replaced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_and_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_one_download_for_concurrent_fetches, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
