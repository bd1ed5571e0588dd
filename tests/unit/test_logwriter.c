/*
 * logwriter: rotation at exact boundaries, keep N, no line lost or split
 * (10000 numbered lines through a real pipe in ragged pieces), long lines,
 * partial lines held until newline or EOF, a file removed under the writer,
 * and a write failure that is reported in the file once writing works again.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "reconciler/jobs/logwriter.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "base/banned.h"

static char dir[64];
static char log_path[128];

static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/test_logwriter_XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(log_path, sizeof(log_path), "%s/app-1-stdout.log", dir);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        return remove_tree(dir);
}

/* A fresh directory's worth of log files for each test. */
static int reset(void **state)
{
        (void)state;
        remove_tree(dir);
        return mkdir(dir, 0700);
}

/* Contents of log_path (k = 0) or log_path.k; NULL when the file does not exist. */
static char *slurp(int k)
{
        struct buf path = BUF_INIT, out = BUF_INIT;
        int r;

        buf_puts(&path, log_path);
        if (k > 0)
                buf_printf(&path, ".%d", k);
        r = file_read_all(path.data, 64 << 20, &out);
        buf_release(&path);
        if (r < 0) {
                buf_release(&out);
                return NULL;
        }
        return buf_detach(&out);
}

static void assert_file(int k, const char *want)
{
        char *got = slurp(k);

        if (!want && got)
                fail_msg("file .%d exists: '%s'", k, got);
        if (want && !got)
                fail_msg("file .%d is missing, want '%s'", k, want);
        if (want && strcmp(got, want) != 0)
                fail_msg("file .%d is '%s', want '%s'", k, got, want);
        free(got);
}

static void feed(struct logwriter *w, const char *s)
{
        assert_int_equal(logwriter_feed(w, s, strlen(s)), 0);
}

static void test_rotation_boundaries(void **state)
{
        struct logwriter w;
        struct stat st;
        (void)state;

        mode_t mask = umask(0);

        umask(mask);
        assert_int_equal(logwriter_open(&w, log_path, 20, 3), 0);
        assert_int_equal(stat(log_path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640 & ~mask); /* group deployex reads logs */
        feed(&w, "aaaa\nbbbb\ncccc\ndddd\n"); /* exactly 20: stays */
        assert_file(0, "aaaa\nbbbb\ncccc\ndddd\n");
        assert_file(1, NULL);
        feed(&w, "e\n");                     /* would make 22: rotate first */
        assert_file(0, "e\n");
        assert_file(1, "aaaa\nbbbb\ncccc\ndddd\n");
        feed(&w, "123456789012345678\n");     /* 2 + 19 = 21 > 20 */
        assert_file(0, "123456789012345678\n");
        assert_file(1, "e\n");
        assert_file(2, "aaaa\nbbbb\ncccc\ndddd\n");
        /* Several lines in one piece are split between files at a line boundary. */
        feed(&w, "x\nyy\nzzz\n");              /* 19 + 2 = 21: x starts a new file */
        assert_file(0, "x\nyy\nzzz\n");
        assert_file(1, "123456789012345678\n");
        assert_file(2, "e\n");
        assert_file(3, "aaaa\nbbbb\ncccc\ndddd\n");
        /* keep = 3: the oldest is dropped. */
        feed(&w, "0123456789abc\n");
        assert_file(0, "0123456789abc\n");
        assert_file(1, "x\nyy\nzzz\n");
        assert_file(3, "e\n");
        assert_file(4, NULL);
        logwriter_close(&w);
}

static void test_keep_zero_and_reopen(void **state)
{
        struct logwriter w;
        (void)state;

        /* An existing file is appended to, its size counted. */
        assert_int_equal(atomic_write_file(log_path, "old-line\n", 9), 0);
        assert_int_equal(logwriter_open(&w, log_path, 12, 0), 0);
        feed(&w, "ab\n");
        assert_file(0, "old-line\nab\n");
        feed(&w, "c\n");
        assert_file(0, "c\n");
        assert_file(1, NULL);
        /* Removed under the writer (an operator cleaning up): it is recreated. */
        assert_int_equal(unlink(log_path), 0);
        feed(&w, "d\n");
        assert_file(0, "d\n");
        /* Renamed away (logrotate): a new file at the path. */
        {
                char moved[160];

                snprintf(moved, sizeof(moved), "%s.moved", log_path);
                assert_int_equal(rename(log_path, moved), 0);
                feed(&w, "e\n");
                assert_file(0, "e\n");
                unlink(moved);
        }
        /* Truncated in place: written from the start, size counted again. */
        assert_int_equal(truncate(log_path, 0), 0);
        feed(&w, "0123456789\n");
        assert_file(0, "0123456789\n");
        logwriter_close(&w);
}

static void test_long_line(void **state)
{
        struct logwriter w;
        char long_line[64];
        (void)state;

        memset(long_line, 'L', 25);
        long_line[25] = '\n';
        long_line[26] = '\0';
        assert_int_equal(logwriter_open(&w, log_path, 10, 5), 0);
        feed(&w, "short\n");
        feed(&w, long_line);
        feed(&w, "end\n");
        assert_file(0, "end\n");
        assert_file(1, long_line);
        assert_file(2, "short\n");
        /* A long line first into an empty file: no empty rotation. */
        logwriter_close(&w);
        reset(state);
        assert_int_equal(logwriter_open(&w, log_path, 10, 5), 0);
        feed(&w, long_line);
        assert_file(0, long_line);
        assert_file(1, NULL);
        logwriter_close(&w);
}

static void test_partial_lines(void **state)
{
        struct logwriter w;
        (void)state;

        assert_int_equal(logwriter_open(&w, log_path, 8, 2), 0);
        feed(&w, "ab");
        assert_file(0, "");
        feed(&w, "c");
        feed(&w, "d\nef");
        assert_file(0, "abcd\n");
        feed(&w, "gh\ni"); /* "efgh\n" does not fit beside "abcd\n": rotation between them */
        assert_file(0, "efgh\n");
        assert_file(1, "abcd\n");
        assert_int_equal(logwriter_finish(&w), 0); /* EOF: "i" without its newline */
        assert_file(0, "efgh\ni");
        logwriter_close(&w);
}

static void test_runaway_line(void **state)
{
        size_t n = LOGWRITER_PARTIAL_MAX + 1000;
        char *big = malloc(n + 1);
        char *got;
        struct logwriter w;
        (void)state;

        memset(big, 'x', n);
        big[n] = '\0';
        assert_int_equal(logwriter_open(&w, log_path, 1024, 2), 0);
        feed(&w, "first\n");
        assert_int_equal(logwriter_feed(&w, big, n), 0);
        /* Written out rather than held, after a rotation (it does not fit)... */
        got = slurp(0);
        assert_int_equal(strlen(got), n);
        free(got);
        assert_file(1, "first\n");
        /* ...and its end joins it in the same file: no rotation inside a line. */
        feed(&w, "yyy\nnext\n");
        got = slurp(1);
        assert_int_equal(strlen(got), n + 4);
        assert_memory_equal(got + n, "yyy\n", 4);
        free(got);
        assert_file(0, "next\n");
        assert_file(2, "first\n");
        logwriter_close(&w);
        free(big);
}

/*
 * A stamped line longer than the writer's stamping buffer, arriving in ragged
 * pieces: one stamp in front, the line whole and unchanged, the next line
 * stamped as usual.
 */
static void test_long_stamped_line(void **state)
{
        enum { N = 50000, PIECE = 3001 };
        char *line = malloc(N + 1);
        char *s;
        struct logwriter w;
        (void)state;

        for (size_t i = 0; i < N; i++)
                line[i] = (char)('a' + i % 26);
        line[N] = '\n';
        assert_int_equal(logwriter_open(&w, log_path, 1 << 20, 2), 0);
        w.stamp = true;
        for (size_t i = 0; i < N + 1; i += PIECE)
                assert_int_equal(logwriter_feed(&w, line + i, N + 1 - i < PIECE ? N + 1 - i : PIECE), 0);
        feed(&w, "next\n");
        logwriter_close(&w);
        s = slurp(0);
        assert_non_null(s);
        assert_int_equal(strlen(s), 2 * LOGWRITER_STAMP_LEN + N + 1 + 5);
        assert_memory_equal(s + LOGWRITER_STAMP_LEN, line, N + 1);
        assert_string_equal(s + 2 * LOGWRITER_STAMP_LEN + N + 1, "next\n");
        free(s);
        free(line);
}

/*
 * A held line whose end would take it past LOGWRITER_PARTIAL_MAX: the held
 * part and its end are written as one line, after a rotation (it does not
 * fit), never split across files; the line after it goes on as usual.
 */
static void test_held_line_outgrows_its_room(void **state)
{
        size_t held = LOGWRITER_PARTIAL_MAX - 10;
        char *big = malloc(held);
        char *got;
        struct logwriter w;
        (void)state;

        memset(big, 'x', held);
        assert_int_equal(logwriter_open(&w, log_path, 1024, 2), 0);
        feed(&w, "first\n");
        assert_int_equal(logwriter_feed(&w, big, held), 0);
        assert_file(0, "first\n"); /* held, not written yet */
        feed(&w, "0123456789abcdef\nnext\n");
        got = slurp(1);
        assert_int_equal(strlen(got), held + 17);
        assert_memory_equal(got + held, "0123456789abcdef\n", 17);
        free(got);
        assert_file(2, "first\n");
        assert_file(0, "next\n");
        logwriter_close(&w);
        free(big);
}

/* A child writes "line N\n" for N in 0..9999 in ragged pieces; nothing lost, split or reordered. */
static void test_ten_thousand_lines_through_a_pipe(void **state)
{
        enum { LINES = 10000, MAX = 4096, KEEP = 100 };
        struct buf all = BUF_INIT, want = BUF_INIT;
        int fds[2], status, files = 0;
        pid_t pid;
        (void)state;

        for (int i = 0; i < LINES; i++)
                buf_printf(&want, "line %d\n", i);
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                size_t off = 0, step = 1;

                close(fds[0]);
                while (off < want.len) {
                        size_t k = want.len - off < step ? want.len - off : step;

                        if (write(fds[1], want.data + off, k) != (ssize_t)k)
                                _exit(1);
                        off += k;
                        step = step * 7 % 1021 + 1; /* 1 .. 1021 bytes, cutting lines anywhere */
                }
                _exit(0);
        }
        close(fds[1]);
        assert_int_equal(logwriter_run(fds[0], log_path, MAX, KEEP), 0);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* Oldest first: .KEEP .. .1, then the live file. */
        for (int k = KEEP; k >= 0; k--) {
                char *s = slurp(k);
                size_t len;

                if (!s)
                        continue;
                len = strlen(s);
                files++;
                if (len > MAX)
                        fail_msg("file .%d holds %zu bytes, more than %d", k, len, MAX);
                if (len == 0 || s[len - 1] != '\n')
                        fail_msg("file .%d does not end with a whole line", k);
                buf_puts(&all, s);
                free(s);
        }
        assert_true(files > 20);
        assert_true(files < KEEP);
        assert_int_equal(all.len, want.len);
        assert_string_equal(all.data, want.data);
        buf_release(&all);
        buf_release(&want);
}

/* A file size limit makes writes fail like a full disk; the loss is then noted in the file. */
static void test_write_failure_is_reported(void **state)
{
        struct rlimit saved, small;
        struct logwriter w;
        char *got;
        int r;
        (void)state;

        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(logwriter_open(&w, log_path, 1 << 20, 2), 0);
        feed(&w, "before\n");
        small = saved;
        small.rlim_cur = 10;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
        r = logwriter_feed(&w, "this line is lost\n", 18); /* 3 bytes fit, 15 do not */
        assert_int_equal(r, -EFBIG);
        assert_int_equal(w.lost, 15);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        signal(SIGXFSZ, SIG_DFL);
        feed(&w, "after\n");
        got = slurp(0);
        assert_string_equal(got, "before\nthi\ndeployex: 15 bytes of output were lost here: "
                                 "File too large\nafter\n");
        free(got);
        assert_int_equal(w.lost, 0);
        logwriter_close(&w);
}

/* A stamped writer puts the time each line began to arrive in front of it, once per line. */
static void test_stamped_lines(void **state)
{
        struct logwriter w;
        char stamp[LOGWRITER_STAMP_LEN + 1];
        uint64_t ms, before = time_now_ms() / 1000 * 1000;
        char *s;

        (void)state;
        logwriter_open(&w, log_path, 1 << 20, 3);
        w.stamp = true;
        assert_int_equal(logwriter_feed(&w, "one\ntw", 6), 0);
        assert_int_equal(logwriter_feed(&w, "o\nthree\n", 8), 0);
        logwriter_close(&w);
        s = slurp(0);
        assert_non_null(s);
        assert_int_equal(strlen(s), 3 * LOGWRITER_STAMP_LEN + strlen("one\ntwo\nthree\n"));
        assert_true(logwriter_parse_stamp(s, strlen(s), &ms));
        assert_true(ms >= before && ms <= time_now_ms());
        assert_string_equal(s + LOGWRITER_STAMP_LEN, strstr(s, "one\n"));
        assert_non_null(strstr(s, "Z two\n"));
        assert_non_null(strstr(s, "Z three\n"));
        free(s);

        logwriter_format_stamp(1764651600123ULL, stamp);
        assert_string_equal(stamp, "2025-12-02T05:00:00.123Z ");
        assert_true(logwriter_parse_stamp(stamp, strlen(stamp), &ms));
        assert_int_equal(ms, 1764651600123ULL);
        assert_false(logwriter_parse_stamp("2025-12-02 05:00:00.123Z x", 26, &ms));
        assert_false(logwriter_parse_stamp("short", 5, &ms));
}

/*
 * Issue 10 item 6: a shared log_path lets a user plant a symlink (or a FIFO,
 * or a hard link) where the root writer appends.  None of them is followed
 * or written through; a log directory owned by someone else is refused.
 */
static void test_planted_files_are_not_written_through(void **state)
{
        struct buf victim = BUF_INIT, p = BUF_INIT, sub = BUF_INIT;
        struct logwriter w;
        char *got;
        (void)state;

        buf_printf(&victim, "%s.victim", dir);
        assert_int_equal(atomic_write_file(victim.data, "root-owned\n", 11), 0);

        /* A symlink as the log file: refused, the target untouched. */
        assert_int_equal(symlink(victim.data, log_path), 0);
        assert_int_equal(logwriter_open(&w, log_path, 1 << 20, 2), -ELOOP);
        assert_int_equal(logwriter_feed(&w, "pwned\n", 6), -ELOOP);
        logwriter_close(&w);
        got = slurp(0); /* slurp does not follow it either */
        assert_null(got);
        assert_int_equal(file_read_all(victim.data, 100, &p), 0);
        assert_string_equal(p.data, "root-owned\n");
        unlink(log_path);

        /* A hard link to another file: refused. */
        assert_int_equal(link(victim.data, log_path), 0);
        assert_int_equal(logwriter_open(&w, log_path, 1 << 20, 2), -EMLINK);
        logwriter_close(&w);
        unlink(log_path);

        /* A FIFO: refused at once, never blocking. */
        assert_int_equal(mkfifo(log_path, 0600), 0);
        assert_int_equal(logwriter_open(&w, log_path, 1 << 20, 2), -FILE_ENOTREG);
        logwriter_close(&w);
        unlink(log_path);

        /* A symlink as the rotation target: renamed over, never written through. */
        buf_printf(&sub, "%s.1", log_path);
        assert_int_equal(symlink(victim.data, sub.data), 0);
        assert_int_equal(logwriter_open(&w, log_path, 8, 2), 0);
        feed(&w, "1234567\n");
        feed(&w, "abcdefg\n");
        logwriter_close(&w);
        assert_file(0, "abcdefg\n");
        assert_file(1, "1234567\n");
        assert_int_equal(file_read_all(victim.data, 100, &p), 0);
        assert_string_equal(p.data, "root-owned\n");

        /* The log directory itself a symlink, or owned by another user: refused. */
        buf_reset(&sub);
        buf_printf(&sub, "%s/linked", dir);
        assert_int_equal(symlink(dir, sub.data), 0);
        assert_int_equal(logwriter_check_dir(sub.data), -ELOOP);
        buf_reset(&p);
        buf_printf(&p, "%s/app-1-stdout.log", sub.data);
        assert_int_equal(logwriter_open(&w, p.data, 1 << 20, 2), -ELOOP);
        logwriter_close(&w);
        if (geteuid() == 0) {
                buf_reset(&sub);
                buf_printf(&sub, "%s/theirs", dir);
                assert_int_equal(mkdir(sub.data, 0777), 0);
                assert_int_equal(chown(sub.data, 65534, 65534), 0);
                assert_int_equal(logwriter_check_dir(sub.data), -EPERM);
        }
        /* Ours but group/world-writable: tightened. */
        {
                struct stat st;

                buf_reset(&sub);
                buf_printf(&sub, "%s/loose", dir);
                assert_int_equal(mkdir(sub.data, 0700), 0);
                assert_int_equal(chmod(sub.data, 01777), 0);
                assert_int_equal(logwriter_check_dir(sub.data), 0);
                assert_int_equal(stat(sub.data, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0755); /* write bits dropped */
        }
        unlink(victim.data);
        buf_release(&victim);
        buf_release(&p);
        buf_release(&sub);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_rotation_boundaries, reset),
                cmocka_unit_test_setup(test_keep_zero_and_reopen, reset),
                cmocka_unit_test_setup(test_long_line, reset),
                cmocka_unit_test_setup(test_partial_lines, reset),
                cmocka_unit_test_setup(test_runaway_line, reset),
                cmocka_unit_test_setup(test_long_stamped_line, reset),
                cmocka_unit_test_setup(test_held_line_outgrows_its_room, reset),
                cmocka_unit_test_setup(test_ten_thousand_lines_through_a_pipe, reset),
                cmocka_unit_test_setup(test_write_failure_is_reported, reset),
                cmocka_unit_test_setup(test_stamped_lines, reset),
                cmocka_unit_test_setup(test_planted_files_are_not_written_through, reset),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
