/*
 * unpack: hostile tarballs built here with libarchive's writer, each refused
 * with the member named, nothing written outside the sandbox and nothing
 * left behind; a good release unpacked exactly (contents, modes, mtimes,
 * links).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "reconciler/jobs/unpack.h"
#include "base/fsutil.h"
#include "base/banned.h"

#define MTIME 1700000000
#define CAP (1024 * 1024)

struct member {
        const char *path;
        mode_t type;          /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, ...; 0 = hard link */
        mode_t perm;
        const char *data;     /* file contents */
        long long size;       /* declared size when data is NULL (zeros are written) */
        const char *link;     /* symlink or hard link target */
};

static char sandbox[64];

static void path_in(char *out, size_t n, const char *rel)
{
        snprintf(out, n, "%s/%s", sandbox, rel);
}

/* Write members as a tar (gzip'ed when gz) at path; libarchive pads short data with zeros. */
static void make_tar(const char *path, const struct member *m, size_t n, bool gz)
{
        struct archive *a = archive_write_new();

        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (gz)
                assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                long long size = m[i].data ? (long long)strlen(m[i].data) : m[i].size;

                archive_entry_set_pathname(e, m[i].path);
                archive_entry_set_mtime(e, MTIME + (time_t)i, 0);
                if (m[i].type == 0) {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, m[i].link);
                        archive_entry_set_size(e, 0);
                } else {
                        archive_entry_set_filetype(e, m[i].type);
                        if (m[i].type == AE_IFLNK)
                                archive_entry_set_symlink(e, m[i].link);
                        if (m[i].type == AE_IFCHR || m[i].type == AE_IFBLK)
                                archive_entry_set_rdev(e, makedev(1, 3));
                        archive_entry_set_size(e, m[i].type == AE_IFREG ? size : 0);
                }
                archive_entry_set_perm(e, m[i].perm ? m[i].perm : m[i].type == AE_IFDIR ? 0755 : 0644);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (m[i].data && size > 0)
                        assert_int_equal(archive_write_data(a, m[i].data, (size_t)size), size);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
}

/* Every path under dir (relative), sorted, one a line: what "nothing changed" is checked against. */
static void list_tree(const char *dir, const char *prefix, struct buf *out)
{
        struct dirent **names;
        int n = scandir(dir, &names, NULL, alphasort);

        if (n < 0)
                return;
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                char sub[4096], rel[4096];
                struct stat st;

                if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
                        snprintf(sub, sizeof(sub), "%s/%s", dir, name);
                        snprintf(rel, sizeof(rel), "%s%s", prefix, name);
                        buf_printf(out, "%s\n", rel);
                        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
                                snprintf(rel, sizeof(rel), "%s%s/", prefix, name);
                                list_tree(sub, rel, out);
                        }
                }
                free(names[i]);
        }
        free(names);
}

static int setup(void **state)
{
        char p[128];

        (void)state;
        snprintf(sandbox, sizeof(sandbox), "/tmp/test_unpack_XXXXXX");
        if (!mkdtemp(sandbox))
                return -1;
        /* rel/ holds dest "rel/new"; outside/ is a directory a hostile member would aim at. */
        path_in(p, sizeof(p), "rel");
        mkdir(p, 0755);
        path_in(p, sizeof(p), "outside");
        mkdir(p, 0755);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return remove_tree(sandbox);
}

static void refused_case(const char *name, const struct member *m, size_t n, int want_r,
                         const char *want_member, const char *want_reason)
{
        char tar[128], dest[128], canary[256];
        struct buf before = BUF_INIT, after = BUF_INIT, err = BUF_INIT;
        struct stat st;
        int r;

        path_in(tar, sizeof(tar), "t.tar.gz");
        path_in(dest, sizeof(dest), "rel/new");
        make_tar(tar, m, n, true);
        list_tree(sandbox, "", &before);
        r = unpack_release(tar, dest, CAP, &err);
        list_tree(sandbox, "", &after);
        if (r != want_r || !strstr(err.data, want_member) || !strstr(err.data, want_reason) ||
            strcmp(before.data, after.data) != 0 || strchr(err.data, '\n'))
                fail_msg("case '%s': r=%d (want %d), err '%s' (want member '%s', reason '%s'),\n"
                         "sandbox before:\n%s\nafter:\n%s", name, r, want_r, err.data, want_member,
                         want_reason, before.data, after.data);
        assert_int_equal(lstat(dest, &st), -1);
        /* The canaries a successful escape would have created. */
        static const char *const canaries[] = { "outside/pwned", "x", "rel/x", "pwned" };
        for (size_t i = 0; i < ARRAY_SIZE(canaries); i++) {
                path_in(canary, sizeof(canary), canaries[i]);
                if (lstat(canary, &st) == 0)
                        fail_msg("case '%s': %s was created", name, canary);
        }
        assert_int_equal(lstat("/etc/deployex-test-canary", &st), -1);
        unlink(tar);
        buf_release(&before);
        buf_release(&after);
        buf_release(&err);
}

#define M(...) ((const struct member[]){ __VA_ARGS__ })
#define N(...) (sizeof((const struct member[]){ __VA_ARGS__ }) / sizeof(struct member))
#define CASE(name, r, member, reason, ...) refused_case(name, M(__VA_ARGS__), N(__VA_ARGS__), r, member, reason)

static void test_hostile_paths(void **state)
{
        char abs_path[128], abs_dir[128];
        (void)state;

        path_in(abs_path, sizeof(abs_path), "pwned");
        path_in(abs_dir, sizeof(abs_dir), "outside");
        CASE("absolute path", -EINVAL, abs_path, "absolute path",
             { "ok.txt", AE_IFREG, 0, "fine", 0, NULL }, { abs_path, AE_IFREG, 0, "x", 0, NULL });
        CASE("../x", -EINVAL, "'../x'", "'..' component",
             { "../x", AE_IFREG, 0, "x", 0, NULL });
        CASE("a/../../x", -EINVAL, "'a/../../x'", "'..' component",
             { "a/", AE_IFDIR, 0, NULL, 0, NULL }, { "a/../../x", AE_IFREG, 0, "x", 0, NULL });
        CASE("harmless-looking a/../b", -EINVAL, "'a/../b'", "'..' component",
             { "a/../b", AE_IFREG, 0, "x", 0, NULL });
}

static void test_hostile_links(void **state)
{
        char abs_dir[128];
        (void)state;

        path_in(abs_dir, sizeof(abs_dir), "outside");
        CASE("symlink to /etc then a file through it", -EINVAL, "'etc'", "symlink to an absolute path",
             { "etc", AE_IFLNK, 0777, NULL, 0, "/etc" },
             { "etc/deployex-test-canary", AE_IFREG, 0, "x", 0, NULL });
        CASE("symlink to an outside dir then a file through it", -EINVAL, "'out'", "absolute path",
             { "out", AE_IFLNK, 0777, NULL, 0, abs_dir }, { "out/pwned", AE_IFREG, 0, "x", 0, NULL });
        CASE("symlink l -> ../../x", -EINVAL, "'l'", "leads outside",
             { "l", AE_IFLNK, 0777, NULL, 0, "../../x" });
        CASE("symlink in a subdir -> ../../outside", -EINVAL, "'d/l'", "leads outside",
             { "d/", AE_IFDIR, 0, NULL, 0, NULL }, { "d/l", AE_IFLNK, 0777, NULL, 0, "../../outside" });
        CASE("symlink chain r -> . then l -> r/../outside", -EINVAL, "'l'", "through other symlinks",
             { "r", AE_IFLNK, 0777, NULL, 0, "." }, { "l", AE_IFLNK, 0777, NULL, 0, "r/../outside" });
        CASE("a file through an internal symlink", -EINVAL, "'s/f'", "goes through a symlink",
             { "d/", AE_IFDIR, 0, NULL, 0, NULL }, { "s", AE_IFLNK, 0777, NULL, 0, "d" },
             { "s/f", AE_IFREG, 0, "x", 0, NULL });
        CASE("symlink loop", -EINVAL, "'a'", "loop",
             { "a", AE_IFLNK, 0777, NULL, 0, "b" }, { "b", AE_IFLNK, 0777, NULL, 0, "a" });
        CASE("hard link to /etc/passwd", -EINVAL, "'pw'", "hard link target: absolute path",
             { "pw", 0, 0, NULL, 0, "/etc/passwd" });
        CASE("hard link to ../x", -EINVAL, "'hl'", "'..' component",
             { "hl", 0, 0, NULL, 0, "../x" });
        CASE("hard link to a missing member", -EINVAL, "'hl'", "not an earlier member",
             { "hl", 0, 0, NULL, 0, "nothere" });
        CASE("hard link to a directory", -EINVAL, "'hl'", "not a regular file",
             { "d/", AE_IFDIR, 0, NULL, 0, NULL }, { "hl", 0, 0, NULL, 0, "d" });
        CASE("hard link to a symlink that escapes... refused at the symlink", -EINVAL, "'s'", "absolute",
             { "s", AE_IFLNK, 0777, NULL, 0, "/etc/passwd" }, { "hl", 0, 0, NULL, 0, "s" });
        CASE("hard link to an internal symlink", -EINVAL, "'hl'", "not a regular file",
             { "f", AE_IFREG, 0, "x", 0, NULL }, { "s", AE_IFLNK, 0777, NULL, 0, "f" },
             { "hl", 0, 0, NULL, 0, "s" });
}

static void test_hostile_kinds_and_bits(void **state)
{
        (void)state;

        CASE("char device", -EINVAL, "'dev/null'", "character device",
             { "dev/null", AE_IFCHR, 0666, NULL, 0, NULL });
        CASE("block device", -EINVAL, "'sda'", "block device", { "sda", AE_IFBLK, 0660, NULL, 0, NULL });
        CASE("fifo", -EINVAL, "'p'", "fifo", { "p", AE_IFIFO, 0644, NULL, 0, NULL });
        CASE("setuid file", -EINVAL, "'bin/su'", "setuid bit",
             { "bin/", AE_IFDIR, 0, NULL, 0, NULL }, { "bin/su", AE_IFREG, 04755, "#!/bin/sh\n", 0, NULL });
        CASE("setgid dir", -EINVAL, "'shared/'", "setgid bit", { "shared/", AE_IFDIR, 02775, NULL, 0, NULL });
        CASE("setgid file", -EINVAL, "'g'", "setgid bit", { "g", AE_IFREG, 02755, "x", 0, NULL });
        CASE("file over a directory", -EINVAL, "'d'", "a directory of that name",
             { "d/", AE_IFDIR, 0, NULL, 0, NULL }, { "d/f", AE_IFREG, 0, "x", 0, NULL },
             { "d", AE_IFREG, 0, "x", 0, NULL });
}

static void test_hostile_sizes(void **state)
{
        (void)state;

        CASE("oversize single member", -EFBIG, "'big'", "declared size 2097152 exceeds",
             { "small", AE_IFREG, 0, "x", 0, NULL }, { "big", AE_IFREG, 0, NULL, 2 * CAP, NULL });
        CASE("oversize total", -EFBIG, "'c'", "exceeds",
             { "a", AE_IFREG, 0, NULL, 400 * 1024, NULL }, { "b", AE_IFREG, 0, NULL, 400 * 1024, NULL },
             { "c", AE_IFREG, 0, NULL, 400 * 1024, NULL });
}

/* A good archive, then broken copies of it: truncated, damaged inside, damaged trailer. */
static void test_corrupt_archives(void **state)
{
        static const struct { const char *name; const char *reason; } cases[] = {
                { "truncated at half", "corrupt archive" },
                { "damaged in the middle", "corrupt archive" },
                { "damaged gzip trailer", "gzip trailer mismatch" },
                { "not an archive at all", "not a tar" },
                { "empty file", "" },
        };
        char good[128], bad[128], dest[128];
        struct member m[20];
        char names[20][16];
        struct buf content = BUF_INIT;
        struct stat st;
        unsigned char *data;
        size_t len;
        int fd;
        (void)state;

        /* Varied content so that the compressed stream is not all back-references. */
        for (int i = 0; i < 4000; i++)
                buf_printf(&content, "%d:%x;", i * 7919 % 10007, i * i);
        for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
                snprintf(names[i], sizeof(names[i]), "f%02zu", i);
                m[i] = (struct member){ names[i], AE_IFREG, 0644, content.data, 0, NULL };
        }
        path_in(good, sizeof(good), "good.tar.gz");
        path_in(bad, sizeof(bad), "bad.tar.gz");
        path_in(dest, sizeof(dest), "rel/new");
        make_tar(good, m, ARRAY_SIZE(m), true);
        assert_int_equal(stat(good, &st), 0);
        len = (size_t)st.st_size;
        data = malloc(len);
        fd = open(good, O_RDONLY | O_CLOEXEC);
        assert_int_equal(read(fd, data, len), (ssize_t)len);
        close(fd);

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct buf err = BUF_INIT;
                unsigned char *copy = malloc(len);
                size_t n = len;
                int r;

                memcpy(copy, data, len);
                if (i == 0)
                        n = len / 2;
                else if (i == 1)
                        memset(copy + len / 2, 0x55, 64);
                else if (i == 2)
                        copy[len - 6] ^= 0xff;  /* a byte of the CRC-32 */
                else if (i == 3)
                        memset(copy, 'x', len / 2);
                else
                        n = 0;
                fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                assert_int_equal(write(fd, copy, n), (ssize_t)n);
                close(fd);
                r = unpack_release(bad, dest, CAP, &err);
                if (r != -EINVAL || !strstr(err.data, cases[i].reason) || !strstr(err.data, bad))
                        fail_msg("case '%s': r=%d, err '%s'", cases[i].name, r, err.data);
                assert_int_equal(lstat(dest, &st), -1);
                free(copy);
                buf_release(&err);
        }
        /* The good one is good. */
        {
                struct buf err = BUF_INIT;

                assert_int_equal(unpack_release(good, dest, CAP, &err), 0);
                assert_string_equal(err.data, "");
                buf_release(&err);
                assert_int_equal(remove_tree(dest), 0);
        }
        unlink(good);
        unlink(bad);
        free(data);
        buf_release(&content);
}

static void check_file(const char *root, const char *rel, const char *content, mode_t mode, time_t mtime)
{
        char p[512], got[256];
        struct stat st;
        ssize_t n;
        int fd;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        if (lstat(p, &st) < 0)
                fail_msg("%s: %s", p, strerror(errno));
        if ((st.st_mode & 07777) != mode)
                fail_msg("%s: mode %o, want %o", rel, st.st_mode & 07777, mode);
        if (mtime && st.st_mtime != mtime)
                fail_msg("%s: mtime %lld, want %lld", rel, (long long)st.st_mtime, (long long)mtime);
        if (content) {
                assert_true(S_ISREG(st.st_mode));
                fd = open(p, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                n = read(fd, got, sizeof(got) - 1);
                close(fd);
                assert_true(n >= 0);
                got[n] = '\0';
                assert_string_equal(got, content);
        }
}

static void test_good_release(void **state)
{
        static const struct member m[] = {
                /* 0 */ { "./", AE_IFDIR, 0750, NULL, 0, NULL },
                /* 1 */ { "./bin/", AE_IFDIR, 0755, NULL, 0, NULL },
                /* 2 */ { "./bin/myapp", AE_IFREG, 0755, "#!/bin/sh\necho hi\n", 0, NULL },
                /* 3 */ { "./lib/myapp-1.0.0/ebin/myapp.app", AE_IFREG, 0644, "{application,myapp,[]}.\n", 0, NULL },
                /* 4 */ { "./lib/myapp-1.0.0/priv/secret", AE_IFREG, 0600, "s3cret", 0, NULL },
                /* 5 */ { "./releases/", AE_IFDIR, 0700, NULL, 0, NULL },
                /* 6 */ { "./releases/1.0.0/", AE_IFDIR, 0555, NULL, 0, NULL },
                /* 7 */ { "./releases/1.0.0/vm.args", AE_IFREG, 0444, "-sname x\n", 0, NULL },
                /* 8 */ { "./releases/1.0.0/start.boot", 0, 0, NULL, 0, "lib/myapp-1.0.0/ebin/myapp.app" },
                /* 9 */ { "./bin/start", AE_IFLNK, 0777, NULL, 0, "myapp" },
                /* 10 */ { "./lib/myapp-1.0.0/priv/run", AE_IFLNK, 0777, NULL, 0, "../../../bin/myapp" },
                /* 11 */ { "./tmp/", AE_IFDIR, 01777, NULL, 0, NULL },
                /* 12 */ { "./empty", AE_IFREG, 0644, "", 0, NULL },
                /* 13 */ { "./dangling", AE_IFLNK, 0777, NULL, 0, "not/yet/there" },
        };
        char tar[128], plain[128], dest[128], p[512], link[64];
        struct stat a, b;
        struct buf err = BUF_INIT;
        ssize_t n;
        (void)state;

        path_in(tar, sizeof(tar), "good.tar.gz");
        path_in(plain, sizeof(plain), "good.tar");
        path_in(dest, sizeof(dest), "rel/new");
        make_tar(tar, m, ARRAY_SIZE(m), true);
        make_tar(plain, m, ARRAY_SIZE(m), false);

        for (int round = 0; round < 2; round++) {
                /* gzip'ed into an absent dest, then plain into an existing empty one. */
                if (round == 1)
                        assert_int_equal(mkdir(dest, 0700), 0);
                if (unpack_release(round ? plain : tar, dest, CAP, &err) != 0)
                        fail_msg("round %d: %s", round, err.data);
                check_file(dest, "", NULL, 0750, MTIME + 0);
                check_file(dest, "bin", NULL, 0755, MTIME + 1);
                check_file(dest, "bin/myapp", "#!/bin/sh\necho hi\n", 0755, MTIME + 2);
                check_file(dest, "lib/myapp-1.0.0/ebin/myapp.app", "{application,myapp,[]}.\n", 0644, MTIME + 3);
                check_file(dest, "lib/myapp-1.0.0/priv/secret", "s3cret", 0600, MTIME + 4);
                check_file(dest, "lib", NULL, 0755, 0); /* implied by its members */
                check_file(dest, "releases", NULL, 0700, MTIME + 5);
                check_file(dest, "releases/1.0.0", NULL, 0555, MTIME + 6);
                check_file(dest, "releases/1.0.0/vm.args", "-sname x\n", 0444, MTIME + 7);
                check_file(dest, "tmp", NULL, 0777, MTIME + 11); /* sticky bit dropped */
                check_file(dest, "empty", "", 0644, MTIME + 12);

                /* The hard link is the same file. */
                snprintf(p, sizeof(p), "%s/releases/1.0.0/start.boot", dest);
                assert_int_equal(lstat(p, &a), 0);
                snprintf(p, sizeof(p), "%s/lib/myapp-1.0.0/ebin/myapp.app", dest);
                assert_int_equal(lstat(p, &b), 0);
                assert_true(a.st_ino == b.st_ino);
                assert_int_equal(b.st_nlink, 2);

                /* Symlinks kept as written, and they work. */
                snprintf(p, sizeof(p), "%s/bin/start", dest);
                n = readlink(p, link, sizeof(link) - 1);
                assert_true(n > 0);
                link[n] = '\0';
                assert_string_equal(link, "myapp");
                snprintf(p, sizeof(p), "%s/lib/myapp-1.0.0/priv/run", dest);
                assert_int_equal(stat(p, &a), 0);
                assert_true(S_ISREG(a.st_mode));
                snprintf(p, sizeof(p), "%s/dangling", dest);
                assert_int_equal(lstat(p, &a), 0);
                assert_true(S_ISLNK(a.st_mode));

                /* Nothing left beside it. */
                {
                        struct buf listing = BUF_INIT;
                        char rel[128];

                        path_in(rel, sizeof(rel), "rel");
                        list_tree(rel, "", &listing);
                        assert_null(strstr(listing.data, "unpack"));
                        buf_release(&listing);
                }
                assert_int_equal(remove_tree(dest), 0);
        }
        buf_release(&err);
        unlink(tar);
        unlink(plain);
}

static void test_dest_rules(void **state)
{
        static const struct member m[] = { { "a", AE_IFREG, 0644, "a", 0, NULL } };
        char tar[128], dest[128], p[160];
        struct buf err = BUF_INIT;
        (void)state;

        path_in(tar, sizeof(tar), "d.tar.gz");
        path_in(dest, sizeof(dest), "rel/new");
        make_tar(tar, m, 1, true);

        /* Not empty: refused, and the existing content is untouched. */
        assert_int_equal(mkdir(dest, 0755), 0);
        snprintf(p, sizeof(p), "%s/keep", dest);
        assert_int_equal(close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), 0);
        assert_int_equal(unpack_release(tar, dest, CAP, &err), -ENOTEMPTY);
        assert_non_null(strstr(err.data, "not empty"));
        assert_int_equal(access(p, F_OK), 0);
        assert_int_equal(remove_tree(dest), 0);

        /* A file in the way. */
        buf_reset(&err);
        assert_int_equal(close(open(dest, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), 0);
        assert_int_equal(unpack_release(tar, dest, CAP, &err), -ENOTDIR);
        unlink(dest);

        /* No parent. */
        buf_reset(&err);
        path_in(p, sizeof(p), "nowhere/new");
        assert_int_equal(unpack_release(tar, p, CAP, &err), -ENOENT);
        assert_non_null(strstr(err.data, "nowhere/new"));

        /* No tarball. */
        buf_reset(&err);
        path_in(p, sizeof(p), "missing.tar.gz");
        assert_int_equal(unpack_release(p, dest, CAP, &err), -ENOENT);
        assert_non_null(strstr(err.data, "missing.tar.gz"));
        assert_int_equal(access(dest, F_OK), -1);

        /* Content refusals and host failures are told apart. */
        assert_true(unpack_refused(-EINVAL));
        assert_true(unpack_refused(-EFBIG));
        assert_false(unpack_refused(-ENOENT));
        assert_false(unpack_refused(-ENOTEMPTY));
        assert_false(unpack_refused(-ENOSPC));

        /* The cap is inclusive. */
        buf_reset(&err);
        assert_int_equal(unpack_release(tar, dest, 1, &err), 0);
        assert_int_equal(remove_tree(dest), 0);
        buf_release(&err);
        unlink(tar);
}

/* A later member of the same name replaces an earlier file, as tar does. */
static void test_duplicate_members(void **state)
{
        static const struct member m[] = {
                { "f", AE_IFREG, 0644, "old", 0, NULL },
                { "f", AE_IFREG, 0600, "new", 0, NULL },
                { "l", AE_IFLNK, 0777, NULL, 0, "f" },
                { "l", AE_IFLNK, 0777, NULL, 0, "g" },
        };
        char tar[128], dest[128], p[160], link[8];
        struct buf err = BUF_INIT;
        (void)state;

        path_in(tar, sizeof(tar), "dup.tar.gz");
        path_in(dest, sizeof(dest), "rel/new");
        make_tar(tar, m, ARRAY_SIZE(m), true);
        assert_int_equal(unpack_release(tar, dest, CAP, &err), 0);
        check_file(dest, "f", "new", 0600, MTIME + 1);
        snprintf(p, sizeof(p), "%s/l", dest);
        assert_int_equal(readlink(p, link, sizeof(link)), 1);
        assert_int_equal(link[0], 'g');
        assert_int_equal(remove_tree(dest), 0);
        buf_release(&err);
        unlink(tar);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hostile_paths),
                cmocka_unit_test(test_hostile_links),
                cmocka_unit_test(test_hostile_kinds_and_bits),
                cmocka_unit_test(test_hostile_sizes),
                cmocka_unit_test(test_corrupt_archives),
                cmocka_unit_test(test_good_release),
                cmocka_unit_test(test_dest_rules),
                cmocka_unit_test(test_duplicate_members),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
