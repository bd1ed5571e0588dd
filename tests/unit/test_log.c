/*
 * log: a daemon log line carries an RFC 3339 UTC time, except when stderr
 * is journald's stream (JOURNAL_STREAM names stderr's device and inode),
 * which stamps lines itself (DESIGN §5, Failures are explained).  log.c
 * decides once per process, so each case logs from a child of its own.
 */
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/banned.h"

enum journal { NO_JOURNAL, STDERR_IS_JOURNAL, JOURNAL_ELSEWHERE };

/* What one log_info() call writes to stderr, in a child whose stderr is a file. */
static void logged_line(enum journal how, const char *msg, char *out, size_t n)
{
        char path[] = "/tmp/test_log.XXXXXX", other[] = "/tmp/test_log_other.XXXXXX";
        int fd = mkstemp(path), ofd = mkstemp(other), status;
        struct stat st;
        ssize_t got;
        pid_t pid;

        assert_true(fd >= 0 && ofd >= 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char js[64];

                if (dup2(fd, 2) < 0)
                        _exit(2);
                unsetenv("JOURNAL_STREAM");
                if (how != NO_JOURNAL) {
                        /* journald's stream is another file when stderr was redirected after it. */
                        if (fstat(how == STDERR_IS_JOURNAL ? 2 : ofd, &st) < 0)
                                _exit(2);
                        snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
                                 (unsigned long long)st.st_ino);
                        setenv("JOURNAL_STREAM", js, 1);
                }
                log_info("%s", msg);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        got = pread(fd, out, n - 1, 0);
        assert_true(got > 0);
        out[got] = '\0';
        close(fd);
        close(ofd);
        unlink(path);
        unlink(other);
}

static void assert_stamped(const char *line, const char *rest)
{
        regex_t re;

        assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ",
                                 REG_EXTENDED | REG_NOSUB), 0);
        if (regexec(&re, line, 0, NULL, 0) != 0)
                fail_msg("no RFC 3339 time at the start of: %s", line);
        regfree(&re);
        assert_string_equal(strchr(line, ' ') + 1, rest);
}

static void test_a_terminal_or_file_gets_the_time(void **state)
{
        char line[512];

        (void)state;
        logged_line(NO_JOURNAL, "app=demo instance=1: starting -> running", line, sizeof(line));
        assert_stamped(line, "deployex: info: app=demo instance=1: starting -> running\n");
}

static void test_journald_stamps_its_own(void **state)
{
        char line[512];

        (void)state;
        logged_line(STDERR_IS_JOURNAL, "app=demo: version=1.0.1 ghosted", line, sizeof(line));
        assert_string_equal(line, "deployex: info: app=demo: version=1.0.1 ghosted\n");
}

/* JOURNAL_STREAM inherited by a process whose stderr went elsewhere: not the journal. */
static void test_journal_stream_of_another_file_is_not_stderr(void **state)
{
        char line[512];

        (void)state;
        logged_line(JOURNAL_ELSEWHERE, "hello", line, sizeof(line));
        assert_stamped(line, "deployex: info: hello\n");
}

/* A newline in a message would forge a second entry: one event, one line. */
static void test_one_event_one_line(void **state)
{
        char line[512];

        (void)state;
        logged_line(STDERR_IS_JOURNAL, "bad\nfake: error: forged\rline", line, sizeof(line));
        assert_string_equal(line, "deployex: info: bad fake: error: forged line\n");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_terminal_or_file_gets_the_time),
                cmocka_unit_test(test_journald_stamps_its_own),
                cmocka_unit_test(test_journal_stream_of_another_file_is_not_stderr),
                cmocka_unit_test(test_one_event_one_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
