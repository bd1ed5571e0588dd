/*
 * proc: the start time and owner of a process from /proc/PID/stat, read with
 * one openat relative to /proc (proc_start_time_at), against the same field
 * read by stdio; a name with spaces and parentheses; a zombie; a pid gone.
 */
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/proc.h"
#include "base/banned.h"

/* Field 22 of /proc/PID/stat, read the slow and obvious way. */
static unsigned long long reference_start(int pid)
{
        char path[64], line[4096];
        unsigned long long start = 0;
        size_t n;
        FILE *f;
        char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        f = fopen(path, "r");
        assert_non_null(f);
        n = fread(line, 1, sizeof(line) - 1, f);
        fclose(f);
        line[n] = '\0';
        p = strrchr(line, ')');
        assert_non_null(p);
        p += 2; /* field 3 */
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                assert_non_null(p);
                p++;
        }
        assert_int_equal(sscanf(p, "%llu", &start), 1);
        return start;
}

/* A child that names itself name and waits for SIGKILL. */
static pid_t child_named(const char *name)
{
        int ready[2];
        char c;
        pid_t pid;

        assert_int_equal(pipe(ready), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_NAME, name, 0, 0, 0);
                (void)!write(ready[1], "x", 1);
                for (;;)
                        pause();
        }
        close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        close(ready[0]);
        return pid;
}

static void test_start_time_and_owner(void **state)
{
        int procfd = proc_dir_open();
        pid_t pid = child_named("a) b (c) d");
        uint64_t t1 = 0, t2 = 0, t3 = 0;
        uid_t uid = (uid_t)-1;

        (void)state;
        assert_true(procfd >= 0);
        assert_int_equal(proc_start_time_at(procfd, pid, &t1, &uid), 0);
        assert_int_equal(proc_start_time_at(AT_FDCWD, pid, &t2, NULL), 0);
        assert_int_equal(proc_start_time(pid, &t3), 0);
        assert_true(t1 == reference_start(pid));
        assert_true(t1 == t2 && t2 == t3);
        assert_int_equal(uid, geteuid());
        assert_true(proc_is_same(pid, t1));
        assert_false(proc_is_same(pid, t1 + 1));
        assert_false(proc_is_same(pid, 0));
        /* This process too (its name has no parenthesis). */
        assert_int_equal(proc_start_time_at(procfd, getpid(), &t1, NULL), 0);
        assert_true(t1 == reference_start(getpid()));

        /* A zombie has no start time; a reaped pid neither. */
        kill(pid, SIGKILL);
        {
                siginfo_t si;

                /* Until it is a zombie, left unreaped (WNOWAIT). */
                assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
        }
        assert_int_equal(proc_start_time_at(procfd, pid, &t1, &uid), -ENOENT);
        assert_int_equal(proc_start_time(pid, &t1), -ENOENT);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_true(proc_start_time_at(procfd, pid, &t1, NULL) < 0);
        assert_true(proc_start_time_at(procfd, 0, &t1, NULL) < 0);
        assert_true(proc_start_time_at(procfd, -1, &t1, NULL) < 0);
        close(procfd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_time_and_owner),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
