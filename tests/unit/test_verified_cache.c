/*
 * verified_cache: the daemon skips a fetch job only for the very file a fetch
 * job verified, for the same version and sha256; any write into the file,
 * a file renamed over it, another sha256 or version, or no file at all means
 * a fetch job again.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "reconciler/daemon/verified_cache.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "base/banned.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char dir[64], path[128], other[128];

static int setup(void **state)
{
        (void)state;
        str_copy(dir, sizeof(dir), "/tmp/test_verified_cache.XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, sizeof(path), "%s/app-1.0.0.tar.gz", dir);
        snprintf(other, sizeof(other), "%s/other", dir);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        (void)unlink(path);
        (void)unlink(other);
        return rmdir(dir);
}

static void put(const char *p, const char *text)
{
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, text, strlen(text), NULL), 0);
        assert_int_equal(close(fd), 0);
}

/* A write a moment later: a new mtime even on a coarse clock. */
static void touch_later(const char *p)
{
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
        struct stat st;

        assert_int_equal(stat(p, &st), 0);
        ts[1].tv_sec = st.st_mtim.tv_sec + 1;
        ts[1].tv_nsec = st.st_mtim.tv_nsec;
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void test_same_file_same_sha(void **state)
{
        struct verified_cache vc;

        (void)state;
        memset(&vc, 0, sizeof(vc));
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_A, path)); /* nothing noted */
        put(path, "the release");
        verified_cache_note(&vc, "1.0.0", SHA_A, path);
        assert_true(verified_cache_holds(&vc, "1.0.0", SHA_A, path));
        /* Another sha256 in current.json (a republish), another version: a fetch job. */
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_B, path));
        assert_false(verified_cache_holds(&vc, "1.0.0", "", path));
        assert_false(verified_cache_holds(&vc, "1.0.1", SHA_A, path));
        /* Owner and mode changes (the unpack shares it with the app's group) are no writes. */
        assert_int_equal(chmod(path, 0640), 0);
        assert_true(verified_cache_holds(&vc, "1.0.0", SHA_A, path));
        verified_cache_forget(&vc);
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_A, path));
}

static void test_changed_file(void **state)
{
        struct verified_cache vc;

        (void)state;
        memset(&vc, 0, sizeof(vc));
        put(path, "the release");
        verified_cache_note(&vc, "1.0.0", SHA_A, path);
        /* Written into, same size. */
        put(path, "the RELEASE");
        touch_later(path);
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_A, path));

        verified_cache_note(&vc, "1.0.0", SHA_A, path);
        assert_true(verified_cache_holds(&vc, "1.0.0", SHA_A, path));
        /* Another file renamed over it, even with the same mtime and size. */
        put(other, "the relea5e");
        {
                struct stat st;
                struct timespec ts[2];
                assert_int_equal(stat(path, &st), 0);
                ts[0] = st.st_atim;
                ts[1] = st.st_mtim;
                assert_int_equal(utimensat(AT_FDCWD, other, ts, 0), 0);
        }
        assert_int_equal(rename(other, path), 0);
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_A, path));

        /* Gone, or emptied. */
        verified_cache_note(&vc, "1.0.0", SHA_A, path);
        assert_int_equal(unlink(path), 0);
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_A, path));
        verified_cache_note(&vc, "1.0.0", SHA_A, path); /* no file: nothing noted */
        put(path, "");
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_A, path));
}

/* No sha256 in current.json: the rule of the fetch job, a non-empty file is taken as is. */
static void test_no_sha(void **state)
{
        struct verified_cache vc;

        (void)state;
        memset(&vc, 0, sizeof(vc));
        put(path, "the release");
        verified_cache_note(&vc, "1.0.0", "", path);
        assert_true(verified_cache_holds(&vc, "1.0.0", "", path));
        assert_false(verified_cache_holds(&vc, "1.0.0", SHA_A, path));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_same_file_same_sha, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changed_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_sha, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
