/*
 * fsutil: atomic writes replace or leave the old file, never a torn or stray
 * one; mkdir_p, append_line, remove_tree (which never follows symlinks).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fsutil.h"
#include "state/json.h"
#include "base/util.h"
#include "base/banned.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
        (void)state;
        str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_fsutil.XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        struct buf cmd = BUF_INIT;
        int r;

        (void)state;
        buf_printf(&cmd, "rm -rf '%s'", tmpdir);
        r = system(cmd.data);
        buf_release(&cmd);
        return r == 0 ? 0 : -1;
}

static void at(struct buf *out, const char *name)
{
        buf_reset(out);
        buf_printf(out, "%s/%s", tmpdir, name);
}

static void assert_content(const char *path, const char *want)
{
        struct buf got = BUF_INIT;

        assert_int_equal(file_read_all(path, 1 << 20, &got), 0);
        assert_string_equal(got.data, want);
        buf_release(&got);
}

static mode_t mode_of(const char *path)
{
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

/* Number of entries in dir whose name contains needle. */
static int count_entries(const char *dir, const char *needle)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)) != NULL)
                if (strstr(de->d_name, needle))
                        n++;
        closedir(d);
        return n;
}

static mode_t current_umask(void)
{
        mode_t m = umask(0);

        umask(m);
        return m;
}

/* A file group deployex reads: 0640 whatever the umask, and the group it is given. */
static void test_atomic_write_shared(void **state)
{
        struct buf path = BUF_INIT;
        mode_t saved = umask(077);

        (void)state;
        at(&path, "shared.json");
        assert_int_equal(atomic_write_shared(path.data, "{}", 2, (gid_t)-1), 0);
        assert_int_equal(mode_of(path.data), 0640);
        assert_int_equal(atomic_write_shared(path.data, "{}", 2, getgid()), 0);
        assert_int_equal(mode_of(path.data), 0640);
        assert_int_equal(atomic_write_file(path.data, "{}", 2), 0);
        assert_int_equal(mode_of(path.data), 0600); /* private stays private */
        umask(saved);
        buf_release(&path);
}

static void test_atomic_write_creates_and_replaces(void **state)
{
        struct buf path = BUF_INIT;

        (void)state;
        at(&path, "state.json");
        assert_int_equal(atomic_write_file(path.data, "{\"v\":1}", 7), 0);
        assert_content(path.data, "{\"v\":1}");
        assert_int_equal(mode_of(path.data), 0600);

        assert_int_equal(atomic_write_file(path.data, "{\"v\":2,\"longer\":true}", 22), 0);
        assert_content(path.data, "{\"v\":2,\"longer\":true}");
        assert_int_equal(atomic_write_file(path.data, "", 0), 0);
        assert_content(path.data, "");
        assert_int_equal(mode_of(path.data), 0600);
        assert_int_equal(count_entries(tmpdir, ".tmp."), 0);
        buf_release(&path);
}

static void test_atomic_write_replaces_stale_tmp(void **state)
{
        struct buf path = BUF_INIT, tmp = BUF_INIT;

        (void)state;
        /* A crash of an earlier process with our pid left its tmp file behind. */
        at(&path, "stale.json");
        buf_printf(&tmp, "%s.tmp.%ld", path.data, (long)getpid());
        assert_int_equal(atomic_write_file(tmp.data, "junk", 4), 0);
        assert_int_equal(atomic_write_file(path.data, "new", 3), 0);
        assert_content(path.data, "new");
        assert_int_equal(access(tmp.data, F_OK), -1);
        buf_release(&path);
        buf_release(&tmp);
}

static void test_atomic_write_missing_dir_fails(void **state)
{
        struct buf path = BUF_INIT, file = BUF_INIT;

        (void)state;
        at(&path, "nodir/x.json");
        assert_int_equal(atomic_write_file(path.data, "x", 1), -ENOENT);
        /* Tests run as root, so permissions cannot make it fail: a file in the way can. */
        at(&file, "plainfile");
        assert_int_equal(atomic_write_file(file.data, "f", 1), 0);
        buf_reset(&path);
        buf_printf(&path, "%s/x.json", file.data);
        assert_int_equal(atomic_write_file(path.data, "x", 1), -ENOTDIR);
        assert_content(file.data, "f");
        assert_int_equal(atomic_write_file("", "x", 1), -EINVAL);
        buf_release(&path);
        buf_release(&file);
}

/* The tmp file cannot be created: the old file stays as it was. */
static void test_atomic_write_failure_keeps_old_file(void **state)
{
        struct buf path = BUF_INIT, tmp = BUF_INIT;

        (void)state;
        at(&path, "keep.json");
        assert_int_equal(atomic_write_file(path.data, "old", 3), 0);
        buf_printf(&tmp, "%s.tmp.%ld", path.data, (long)getpid());
        assert_int_equal(mkdir(tmp.data, 0700), 0); /* a directory where the tmp file goes */
        assert_int_equal(atomic_write_file(path.data, "new", 3), -EISDIR);
        assert_content(path.data, "old");
        assert_int_equal(rmdir(tmp.data), 0);
        buf_release(&path);
        buf_release(&tmp);
}

/* A write that fails halfway (file size limit -> EFBIG): old file intact, tmp removed. */
static void test_atomic_write_short_write_failure(void **state)
{
        struct buf path = BUF_INIT;
        struct rlimit old, low;
        size_t n = 256 * 1024;
        char *big = xmalloc(n);
        int r;

        (void)state;
        at(&path, "limited.json");
        assert_int_equal(atomic_write_file(path.data, "old", 3), 0);
        memset(big, 'x', n);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        low = old;
        low.rlim_cur = 8192;
        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
        r = atomic_write_file(path.data, big, n);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, SIG_DFL);
        assert_int_equal(r, -EFBIG);
        assert_content(path.data, "old");
        assert_int_equal(count_entries(tmpdir, "limited.json.tmp"), 0);
        free(big);
        buf_release(&path);
}

static void test_mkdir_p(void **state)
{
        struct buf path = BUF_INIT, file = BUF_INIT;

        (void)state;
        at(&path, "a/b//c/d/");
        assert_int_equal(mkdir_p(path.data, 0700), 0);
        at(&path, "a/b/c/d");
        assert_int_equal(mode_of(path.data) & 0777, 0700);
        at(&path, "a");
        assert_int_equal(mode_of(path.data) & 0777, 0700);
        /* Existing is fine. */
        at(&path, "a/b/c/d");
        assert_int_equal(mkdir_p(path.data, 0700), 0);
        assert_int_equal(mkdir_p("/", 0700), 0);
        /* A file in the way is not. */
        at(&file, "a/b/f");
        assert_int_equal(atomic_write_file(file.data, "", 0), 0);
        at(&path, "a/b/f/g");
        assert_int_equal(mkdir_p(path.data, 0700), -ENOTDIR);
        at(&path, "a/b/f");
        assert_int_equal(mkdir_p(path.data, 0700), -ENOTDIR);
        assert_int_equal(mkdir_p("", 0700), -EINVAL);
        buf_release(&path);
        buf_release(&file);
}

/* Parents of their own mode, the last component (also before a trailing slash) its own. */
static void test_mkdir_p_parents(void **state)
{
        struct buf path = BUF_INIT;
        mode_t old = umask(022);

        (void)state;
        at(&path, "etc/deployex/overrides.d/");
        assert_int_equal(mkdir_p_parents(path.data, 0755, 0750), 0);
        at(&path, "etc/deployex/overrides.d");
        assert_int_equal(mode_of(path.data) & 0777, 0750);
        at(&path, "etc/deployex");
        assert_int_equal(mode_of(path.data) & 0777, 0755);
        at(&path, "etc");
        assert_int_equal(mode_of(path.data) & 0777, 0755);
        umask(old);
        buf_release(&path);
}

static void test_append_line(void **state)
{
        struct buf path = BUF_INIT;

        (void)state;
        at(&path, "h.jsonl");
        assert_int_equal(append_line(path.data, "{\"a\":1}", 7), 0);
        assert_int_equal(append_line(path.data, "{\"b\":2}\n", 8), 0); /* no double newline */
        assert_int_equal(append_line(path.data, "{\"c\":3} and more", 7), 0); /* len counts */
        assert_content(path.data, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
        assert_int_equal(mode_of(path.data), 0640 & ~current_umask());
        at(&path, "missing/h.jsonl");
        assert_int_equal(append_line(path.data, "x", 1), -ENOENT);
        buf_release(&path);
}

static void test_remove_tree(void **state)
{
        struct buf root = BUF_INIT, p = BUF_INIT, outside = BUF_INIT, keep = BUF_INIT;

        (void)state;
        at(&outside, "outside");
        assert_int_equal(mkdir_p(outside.data, 0700), 0);
        at(&keep, "outside/precious");
        assert_int_equal(atomic_write_file(keep.data, "keep", 4), 0);

        at(&root, "tree");
        at(&p, "tree/x/y/z");
        assert_int_equal(mkdir_p(p.data, 0700), 0);
        at(&p, "tree/x/y/z/file");
        assert_int_equal(atomic_write_file(p.data, "1", 1), 0);
        at(&p, "tree/top");
        assert_int_equal(atomic_write_file(p.data, "2", 1), 0);
        /* Symlinks to a directory and a file outside: removed, never followed. */
        at(&p, "tree/x/link");
        assert_int_equal(symlink(outside.data, p.data), 0);
        at(&p, "tree/x/y/filelink");
        assert_int_equal(symlink(keep.data, p.data), 0);
        at(&p, "tree/x/y/dangling");
        assert_int_equal(symlink("/nonexistent/zzz", p.data), 0);
        /* An unreadable directory is still removed (root), and an empty one. */
        at(&p, "tree/empty");
        assert_int_equal(mkdir(p.data, 0), 0);

        assert_int_equal(remove_tree(root.data), 0);
        assert_int_equal(access(root.data, F_OK), -1);
        assert_content(keep.data, "keep");

        /* Gone already: fine.  A single file: removed.  A symlink: only the link. */
        assert_int_equal(remove_tree(root.data), 0);
        at(&p, "single");
        assert_int_equal(atomic_write_file(p.data, "s", 1), 0);
        assert_int_equal(remove_tree(p.data), 0);
        assert_int_equal(access(p.data, F_OK), -1);
        at(&p, "dirlink");
        assert_int_equal(symlink(outside.data, p.data), 0);
        assert_int_equal(remove_tree(p.data), 0);
        assert_content(keep.data, "keep");

        assert_int_equal(remove_tree("/"), -EINVAL);
        assert_int_equal(remove_tree("//"), -EINVAL);
        assert_int_equal(remove_tree(""), -EINVAL);
        buf_release(&root);
        buf_release(&p);
        buf_release(&outside);
        buf_release(&keep);
}

static void test_fsync_dir_of(void **state)
{
        struct buf p = BUF_INIT;

        (void)state;
        at(&p, "anything");
        assert_int_equal(fsync_dir_of(p.data), 0);
        assert_int_equal(fsync_dir_of("/etc"), 0);
        assert_int_equal(fsync_dir_of("relative-name"), 0);
        at(&p, "no/such/dir/file");
        assert_int_equal(fsync_dir_of(p.data), -ENOENT);
        buf_release(&p);
}

/* A FIFO, a device, a symlink or a directory where a regular file is expected: refused at once. */
static void test_file_read_refuses_non_regular(void **state)
{
        struct buf p = BUF_INIT, target = BUF_INIT, text = BUF_INIT;

        (void)state;
        at(&target, "regular.json");
        assert_int_equal(atomic_write_file(target.data, "{}", 2), 0);
        assert_int_equal(file_read_all(target.data, 16, &text), 0);
        assert_string_equal(text.data, "{}");
        assert_int_equal(file_read_all(target.data, 1, &text), -EFBIG);

        at(&p, "fifo.json");
        assert_int_equal(mkfifo(p.data, 0600), 0);
        assert_int_equal(file_read_all(p.data, 16, &text), -FILE_ENOTREG);
        assert_int_equal(file_read_all_flags(p.data, FILE_FOLLOW, 16, &text), -FILE_ENOTREG);
        assert_non_null(strstr(file_strerror(-FILE_ENOTREG), "not a regular file"));
        assert_int_equal(file_read_all("/dev/null", 16, &text), -FILE_ENOTREG);
        assert_int_equal(file_read_all(tmpdir, 16, &text), -EISDIR);

        at(&p, "link.json");
        assert_int_equal(symlink(target.data, p.data), 0);
        assert_int_equal(file_read_all(p.data, 16, &text), -ELOOP);
        assert_non_null(strstr(file_strerror(-ELOOP), "symlink"));
        assert_int_equal(file_read_all_flags(p.data, FILE_FOLLOW, 16, &text), 0);
        assert_string_equal(text.data, "{}");
        assert_int_equal(file_open_read(p.data, 0, NULL), -ELOOP);
        buf_release(&p);
        buf_release(&target);
        buf_release(&text);
}

/*
 * A regular file is read whole at any size (the read that comes back short at
 * its fstat size ends it), also relative to a directory fd; a /proc file
 * (size 0) is read until a read returns 0.
 */
static void test_file_read_whole_and_at(void **state)
{
        static const size_t sizes[] = { 0, 1, 100, 16383, 16384, 16385, 32768, 50001 };
        struct buf p = BUF_INIT, text = BUF_INIT, want = BUF_INIT;
        char name[32];
        int dirfd;

        (void)state;
        dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dirfd >= 0);
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                buf_reset(&want);
                for (size_t i = 0; i < sizes[k]; i++)
                        buf_putc(&want, (char)('a' + (i * 7 + k) % 26));
                snprintf(name, sizeof(name), "whole-%zu", sizes[k]);
                at(&p, name);
                assert_int_equal(atomic_write_file(p.data, want.data, want.len), 0);
                assert_int_equal(file_read_all(p.data, 100000, &text), 0);
                assert_int_equal(text.len, want.len);
                assert_memory_equal(text.data, want.data, want.len);
                buf_reset(&text);
                assert_int_equal(file_read_all_at(dirfd, name, 0, 100000, &text), 0);
                assert_int_equal(text.len, want.len);
                assert_memory_equal(text.data, want.data, want.len);
                if (sizes[k] > 0)
                        assert_int_equal(file_read_all_at(dirfd, name, 0, sizes[k] - 1, &text), -EFBIG);
        }
        /* The refusals hold relative to a directory too. */
        at(&p, "at-link");
        assert_int_equal(symlink("whole-1", p.data), 0);
        assert_int_equal(file_read_all_at(dirfd, "at-link", 0, 16, &text), -ELOOP);
        assert_int_equal(file_read_all_at(dirfd, "at-link", FILE_FOLLOW, 16, &text), 0);
        assert_string_equal(text.data, "b"); /* whole-1: sizes[1] with k = 1 */
        assert_int_equal(file_read_all_at(dirfd, "missing", 0, 16, &text), -ENOENT);
        close(dirfd);

        /* /proc/self/cmdline says size 0: read to the end all the same. */
        {
                char ref[4096];
                size_t n;
                FILE *f = fopen("/proc/self/cmdline", "r");

                assert_non_null(f);
                n = fread(ref, 1, sizeof(ref), f);
                fclose(f);
                assert_true(n > 0);
                assert_int_equal(file_read_all("/proc/self/cmdline", 4096, &text), 0);
                assert_int_equal(text.len, n);
                assert_memory_equal(text.data, ref, n);
        }
        buf_release(&p);
        buf_release(&text);
        buf_release(&want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_atomic_write_creates_and_replaces),
                cmocka_unit_test(test_atomic_write_shared),
                cmocka_unit_test(test_atomic_write_replaces_stale_tmp),
                cmocka_unit_test(test_atomic_write_missing_dir_fails),
                cmocka_unit_test(test_atomic_write_failure_keeps_old_file),
                cmocka_unit_test(test_atomic_write_short_write_failure),
                cmocka_unit_test(test_mkdir_p),
                cmocka_unit_test(test_mkdir_p_parents),
                cmocka_unit_test(test_append_line),
                cmocka_unit_test(test_remove_tree),
                cmocka_unit_test(test_fsync_dir_of),
                cmocka_unit_test(test_file_read_refuses_non_regular),
                cmocka_unit_test(test_file_read_whole_and_at),
        };

        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
