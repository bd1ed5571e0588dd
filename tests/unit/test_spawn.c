/*
 * spawn: real children (sh, cat, sleep) -- exit statuses, exec failures,
 * environment and cwd, sessions, signal reset, output capture, the
 * timeout that takes the whole process group down, and the cgroup a child
 * starts in.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/spawn.h"
#include "base/banned.h"

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run argv with captured output; asserts it could start. */
static void run(char *const *argv, char *const *envp, const char *cwd, uint64_t timeout_ms,
                struct spawn_result *res)
{
        struct spawn_opts o = { argv, envp, cwd, -1, -1, -1, false, NULL, NULL };
        struct spawn_run r = { timeout_ms, 200, -1, -1, 4096 };

        assert_int_equal(spawn_run(&o, &r, res), 0);
}

static void test_exit_statuses(void **state)
{
        static const struct {
                const char *script;
                int code;
        } cases[] = { { "exit 0", 0 }, { "exit 3", 3 }, { "exit 255", 255 }, { "false", 1 } };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *argv[] = { "sh", "-c", (char *)cases[i].script, NULL };
                struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
                pid_t pid = 0;
                int st = -1;

                assert_int_equal(spawn_start(&o, &pid), 0);
                assert_true(pid > 0);
                assert_int_equal(spawn_wait(pid, 5000, 100, &st), 0);
                assert_true(WIFEXITED(st));
                assert_int_equal(WEXITSTATUS(st), cases[i].code);
        }
}

/*
 * spawn_start_async returns before the exec: the verdict comes through the
 * fd, the child stays the caller's to reap (exit 127 after a failed exec).
 */
static void test_exec_async(void **state)
{
        (void)state;
        {
                char *argv[] = { "sleep", "5", NULL };
                struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
                pid_t pid = 0, w;
                int fd = -1, st = 0;

                assert_int_equal(spawn_start_async(&o, &pid, &fd), 0);
                assert_true(pid > 0 && fd >= 0);
                /* Blocking read: EOF once sleep has executed. */
                assert_int_equal(spawn_exec_result(fd), 0);
                close(fd);
                assert_int_equal(kill(pid, SIGKILL), 0);
                do
                        w = waitpid(pid, &st, 0);
                while (w < 0 && errno == EINTR);
                assert_int_equal(w, pid);
                assert_true(WIFSIGNALED(st));
        }
        {
                char *argv[] = { "true", NULL };
                struct spawn_opts o = { argv, NULL, "/nonexistent/dir", -1, -1, -1, false, NULL, NULL };
                pid_t pid = 0, w;
                int fd = -1, st = 0, r;

                assert_int_equal(spawn_start_async(&o, &pid, &fd), 0);
                assert_true(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
                /* Non-blocking: in progress until the child has tried (never an early 0). */
                while ((r = spawn_exec_result(fd)) == -EINPROGRESS)
                        usleep(1000);
                assert_int_equal(r, -ENOENT);
                close(fd);
                do
                        w = waitpid(pid, &st, 0);
                while (w < 0 && errno == EINTR);
                assert_int_equal(w, pid);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 127);
        }
}

/*
 * The daemon's jobs: the pipes and the exec verdict, none of them blocking;
 * a program that cannot be executed is a child that exits 127, with the
 * errno on the verdict fd and nothing on its pipes.
 */
static void test_piped_async(void **state)
{
        char *argv[] = { "/nonexistent/program", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        pid_t pid = 0, w;
        int fds[2] = { -1, -1 }, fd = -1, st = 0, r;
        char c;

        (void)state;
        /* A path with '/' is not looked up: the child's execve fails. */
        assert_int_equal(spawn_start_piped_async(&o, &pid, fds, &fd), 0);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
        while ((r = spawn_exec_result(fd)) == -EINPROGRESS)
                usleep(1000);
        assert_int_equal(r, -ENOENT);
        do
                w = waitpid(pid, &st, 0);
        while (w < 0 && errno == EINTR);
        assert_int_equal(w, pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 127);
        assert_int_equal(read(fds[0], &c, 1), 0);
        assert_int_equal(read(fds[1], &c, 1), 0);
        close(fd);
        close(fds[0]);
        close(fds[1]);
}

static void test_exec_failures(void **state)
{
        char tmpl[] = "/tmp/test_spawn_XXXXXX";
        char noexec[64];
        int fd;
        (void)state;

        assert_non_null(mkdtemp(tmpl));
        snprintf(noexec, sizeof(noexec), "%s/plain", tmpl);
        fd = open(noexec, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
        close(fd);

        {
                char *argv[] = { "deployex-no-such-program", NULL };
                struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
                pid_t pid = 0;

                assert_int_equal(spawn_start(&o, &pid), -ENOENT);
                assert_int_equal(pid, 0); /* untouched */
        }
        {
                char *argv[] = { noexec, NULL };
                struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
                pid_t pid = 0;

                assert_int_equal(spawn_start(&o, &pid), -EACCES);
        }
        {
                char *argv[] = { "./missing", NULL };
                struct spawn_opts o = { argv, NULL, tmpl, -1, -1, -1, false, NULL, NULL };
                pid_t pid = 0;

                assert_int_equal(spawn_start(&o, &pid), -ENOENT);
        }
        {
                char *argv[] = { "true", NULL };
                struct spawn_opts o = { argv, NULL, "/nonexistent/dir", -1, -1, -1, false, NULL, NULL };
                pid_t pid = 0;

                assert_int_equal(spawn_start(&o, &pid), -ENOENT);
        }
        /* The failed children were reaped: nothing is left to wait for. */
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        unlink(noexec);
        rmdir(tmpl);
}

static void test_resolve(void **state)
{
        char *env_path[] = { "PATH=/nonexistent:/bin:/usr/bin", NULL };
        char *env_none[] = { "PATH=/nonexistent", NULL };
        struct buf b = BUF_INIT;
        (void)state;

        assert_int_equal(spawn_resolve("sh", env_path, &b), 0);
        assert_string_equal(b.data, "/bin/sh");
        assert_int_equal(spawn_resolve("sh", env_none, &b), -ENOENT);
        assert_string_equal(b.data, "/bin/sh"); /* untouched */
        assert_int_equal(spawn_resolve("bin/app", env_none, &b), 0);
        assert_string_equal(b.data, "bin/app");
        assert_int_equal(spawn_resolve("", env_path, &b), -ENOENT);
        buf_release(&b);
}

static void test_env_build(void **state)
{
        char *base[] = { "PATH=/bin", "RELEASE_NODE=old", "RELEASE_COOKIE=x", "BINDIR=/x",
                         "HOME=/root", "KEEP_RELEASE=1", NULL };
        const char *unset[] = { "RELEASE_*", "BINDIR" };
        struct kv set[] = { { "HOME", "/srv" }, { "PORT", "4000" }, { "PORT", "4001" } };
        const char *expect[] = { "PATH=/bin", "KEEP_RELEASE=1", "HOME=/srv", "PORT=4001" };
        char **env = spawn_env_build(base, unset, 2, set, 3);
        size_t n = 0;
        (void)state;

        for (; env[n]; n++) {
                assert_true(n < ARRAY_SIZE(expect));
                assert_string_equal(env[n], expect[n]);
        }
        assert_int_equal(n, ARRAY_SIZE(expect));
        spawn_strv_free(env);
}

static void test_env_and_cwd_reach_child(void **state)
{
        char *envp[] = { "PATH=/usr/bin:/bin", "GREETING=hello world", NULL };
        char *argv[] = { "sh", "-c", "printf '%s|%s|' \"$GREETING\" \"$(pwd)\"; env | wc -l", NULL };
        struct spawn_result res;
        (void)state;

        run(argv, envp, "/tmp", 5000, &res);
        assert_true(WIFEXITED(res.wstatus));
        /* sh adds PWD (and maybe SHLVL/_), but nothing of this process's environment leaks. */
        assert_true(strncmp(res.tail.data, "hello world|/tmp|", 17) == 0);
        assert_true(strtol(res.tail.data + 17, NULL, 10) <= 5);
        spawn_result_release(&res);
}

static void test_session_and_group(void **state)
{
        char *argv[] = { "sleep", "10", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        pid_t pid = 0;
        int st = 0;
        (void)state;

        assert_int_equal(spawn_start(&o, &pid), 0);
        assert_int_equal(getsid(pid), pid);
        assert_int_equal(getpgid(pid), pid);
        assert_int_equal(spawn_stop(pid, 1000, &st), 0);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGTERM);
}

static void test_signals_reset(void **state)
{
        char *argv[] = { "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status", NULL };
        struct sigaction ign, old_pipe;
        sigset_t block, old_mask;
        struct spawn_result res;
        (void)state;

        memset(&ign, 0, sizeof(ign));
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, &old_pipe);
        /* An ignored glibc-internal signal, as a parent may hand down. */
        unsigned long kernel_ign[4] = { (unsigned long)SIG_IGN, 0, 0, 0 }, kernel_old[4];
        syscall(SYS_rt_sigaction, 33, kernel_ign, kernel_old, sizeof(unsigned long));
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGCHLD);
        sigprocmask(SIG_BLOCK, &block, &old_mask);

        run(argv, NULL, NULL, 5000, &res);

        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
        syscall(SYS_rt_sigaction, 33, kernel_old, NULL, sizeof(unsigned long));
        {
                unsigned long long blk = 1, ign_mask = 1;
                assert_int_equal(sscanf(res.tail.data, "SigBlk:\t%llx\nSigIgn:\t%llx", &blk,
                                        &ign_mask), 2);
                assert_int_equal(blk, 0);
                /* Also glibc's own signals 32 and 33, which its sigaction() refuses. */
                assert_int_equal(ign_mask, 0);
        }
        spawn_result_release(&res);
}

/*
 * Frozen dispositions (the daemon's): a child resets only what was not
 * SIG_DFL at the freeze, and still execs with nothing ignored or blocked.
 * Last in the list: the freeze lasts for the rest of this process.
 */
static void test_signals_reset_frozen(void **state)
{
        char *argv[] = { "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status", NULL };
        unsigned long kernel_ign[4] = { (unsigned long)SIG_IGN, 0, 0, 0 };
        unsigned long long blk = 1, ign_mask = 1;
        struct spawn_result res;
        sigset_t block;
        (void)state;

        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        syscall(SYS_rt_sigaction, 33, kernel_ign, NULL, sizeof(unsigned long));
        spawn_freeze_signals();
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigprocmask(SIG_BLOCK, &block, NULL);

        run(argv, NULL, NULL, 5000, &res);
        assert_int_equal(sscanf(res.tail.data, "SigBlk:\t%llx\nSigIgn:\t%llx", &blk, &ign_mask),
                         2);
        assert_int_equal(blk, 0);
        assert_int_equal(ign_mask, 0);
        spawn_result_release(&res);
}

static void test_no_descriptor_leaks(void **state)
{
        /* ls opens one directory fd of its own (3): anything above means a leak. */
        char *argv[] = { "ls", "/proc/self/fd", NULL };
        struct spawn_result res;
        (void)state;

        run(argv, NULL, NULL, 5000, &res);
        assert_string_equal(res.tail.data, "0\n1\n2\n3\n");
        spawn_result_release(&res);
}

static bool process_gone(pid_t pid)
{
        char path[64], st[512];
        uint64_t until = now_ms() + 2000;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        while (now_ms() < until) {
                FILE *f = fopen(path, "re");
                char *p;

                if (!f)
                        return true;
                p = fgets(st, sizeof(st), f);
                fclose(f);
                /* A zombie waiting for init to reap it is gone for our purpose. */
                if (p && (p = strrchr(st, ')')) && p[1] == ' ' && p[2] == 'Z')
                        return true;
                usleep(10000);
        }
        return false;
}

static void test_timeout_kills_group(void **state)
{
        char *argv[] = { "sh", "-c", "sleep 100 & echo $!; wait", NULL };
        struct spawn_result res;
        uint64_t t0 = now_ms(), took;
        pid_t bg;
        (void)state;

        run(argv, NULL, NULL, 300, &res);
        took = now_ms() - t0;
        assert_true(res.timed_out);
        assert_true(took >= 300 && took < 3000);
        bg = (pid_t)strtol(res.tail.data, NULL, 10);
        assert_true(bg > 1);
        assert_true(process_gone(bg));
        spawn_result_release(&res);
}

static void test_leftovers_killed_after_exit(void **state)
{
        char *argv[] = { "sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!", NULL };
        struct spawn_result res;
        pid_t bg;
        (void)state;

        run(argv, NULL, NULL, 5000, &res);
        assert_false(res.timed_out);
        assert_true(WIFEXITED(res.wstatus));
        bg = (pid_t)strtol(res.tail.data, NULL, 10);
        assert_true(bg > 1);
        assert_true(process_gone(bg));
        spawn_result_release(&res);
}

/* ids: the child runs as the given uid, gid and groups (an app's user); root only. */
static void test_runs_as_ids(void **state)
{
        char *argv[] = { "sh", "-c", "echo $(id -u):$(id -g):$(id -G)", NULL };
        struct proc_ids ids = { 65534, 65533, 2, { 65533, 65532 } };
        struct spawn_opts o = { argv, NULL, "/", -1, -1, -1, false, &ids, NULL };
        struct spawn_run r = { 5000, 200, -1, -1, 4096 };
        struct spawn_result res;
        (void)state;

        if (geteuid() != 0)
                skip();
        assert_int_equal(spawn_run(&o, &r, &res), 0);
        assert_true(WIFEXITED(res.wstatus));
        assert_string_equal(res.tail.data, "65534:65533:65533 65532\n");
        spawn_result_release(&res);
        assert_int_equal(geteuid(), 0); /* the parent is still root */
}

static void test_term_ignored_then_kill(void **state)
{
        char *argv[] = { "sh", "-c", "trap '' TERM; echo ready; sleep 100", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        struct spawn_run r = { 200, 300, -1, -1, 100 };
        struct spawn_result res;
        uint64_t t0 = now_ms(), took;
        (void)state;

        assert_int_equal(spawn_run(&o, &r, &res), 0);
        took = now_ms() - t0;
        assert_true(res.timed_out);
        assert_true(WIFSIGNALED(res.wstatus));
        assert_int_equal(WTERMSIG(res.wstatus), SIGKILL);
        assert_true(took >= 500);
        assert_string_equal(res.tail.data, "ready\n");
        spawn_result_release(&res);
}

static void test_copy_fds_and_tail(void **state)
{
        char tmpl[] = "/tmp/test_spawn_XXXXXX";
        char out_path[64], err_path[64], text[64];
        /*
         * Output on two pipes has no order between them: the long run writes
         * stdout only (the tail is then exact), a second one stderr.
         */
        char *argv[] = { "sh", "-c",
                         "echo to-out; i=0; while [ $i -lt 500 ]; do "
                         "echo line$i; i=$((i+1)); done; echo END", NULL };
        char *argv_err[] = { "sh", "-c", "echo to-err >&2", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        struct spawn_run r = { 5000, 100, -1, -1, 9 };
        struct spawn_result res;
        FILE *f;
        (void)state;

        assert_non_null(mkdtemp(tmpl));
        snprintf(out_path, sizeof(out_path), "%s/out", tmpl);
        snprintf(err_path, sizeof(err_path), "%s/err", tmpl);
        r.stdout_copy_fd = open(out_path, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
        r.stderr_copy_fd = open(err_path, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
        assert_true(r.stdout_copy_fd >= 0 && r.stderr_copy_fd >= 0);

        assert_int_equal(spawn_run(&o, &r, &res), 0);
        assert_string_equal(res.tail.data, "e499\nEND\n");
        spawn_result_release(&res);
        o.argv = argv_err;
        assert_int_equal(spawn_run(&o, &r, &res), 0);
        assert_string_equal(res.tail.data, "to-err\n");
        close(r.stdout_copy_fd);
        close(r.stderr_copy_fd);

        f = fopen(err_path, "re");
        assert_non_null(f);
        assert_non_null(fgets(text, sizeof(text), f));
        assert_string_equal(text, "to-err\n");
        assert_null(fgets(text, sizeof(text), f));
        fclose(f);
        f = fopen(out_path, "re");
        assert_non_null(f);
        assert_non_null(fgets(text, sizeof(text), f));
        assert_string_equal(text, "to-out\n");
        fclose(f);
        spawn_result_release(&res);
        unlink(out_path);
        unlink(err_path);
        rmdir(tmpl);
}

static void test_same_fd_for_stdout_and_stderr(void **state)
{
        int p[2];
        char *argv[] = { "sh", "-c", "echo a; echo b >&2", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        char got[16] = "";
        ssize_t n, total = 0;
        pid_t pid;
        int st;
        (void)state;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        o.stdout_fd = p[1];
        o.stderr_fd = p[1];
        assert_int_equal(spawn_start(&o, &pid), 0);
        close(p[1]);
        while ((n = read(p[0], got + total, sizeof(got) - 1 - (size_t)total)) > 0)
                total += n;
        close(p[0]);
        assert_int_equal(spawn_wait(pid, 5000, 100, &st), 0);
        assert_string_equal(got, "a\nb\n");
}

static void test_describe_status(void **state)
{
        static const struct {
                int wstatus;
                bool timed_out;
                const char *text;
        } cases[] = {
                { 0, false, "exited with status 0" },
                { 3 << 8, false, "exited with status 3" },
                { SIGKILL, false, "killed by signal 9 (Killed)" },
                { SIGKILL, true, "timed out after 1500 ms" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct buf b = BUF_INIT;

                spawn_describe_status(cases[i].wstatus, cases[i].timed_out, 1500, &b);
                assert_string_equal(b.data, cases[i].text);
                buf_release(&b);
        }
}

/*
 * die_with_parent: a job's child is killed when the process that spawned it
 * dies; a child spawned without it (an instance) lives on.
 */
static pid_t spawn_from_dying_parent(bool die_with_parent)
{
        int p[2];
        pid_t middle, child = 0;

        assert_int_equal(pipe(p), 0);
        middle = fork();
        assert_true(middle >= 0);
        if (middle == 0) {
                char *argv[] = { (char *)"sleep", (char *)"30", NULL };
                struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, die_with_parent, NULL, NULL };
                pid_t pid = 0;
                (void)!spawn_start(&o, &pid);
                (void)!write(p[1], &pid, sizeof(pid));
                _exit(0);
        }
        close(p[1]);
        assert_int_equal(read(p[0], &child, sizeof(child)), (ssize_t)sizeof(child));
        close(p[0]);
        assert_true(child > 0);
        waitpid(middle, NULL, 0);
        return child;
}

static bool gone_within(pid_t pid, int ms)
{
        for (int i = 0; i < ms / 10; i++) {
                char path[64], state = 0;
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
                FILE *f = fopen(path, "r");
                if (!f)
                        return true;
                /* A zombie waiting for init to reap it is gone too. */
                if (fscanf(f, "%*d (%*[^)]) %c", &state) == 1 && state == 'Z') {
                        fclose(f);
                        return true;
                }
                fclose(f);
                usleep(10000);
        }
        return false;
}

static void test_die_with_parent(void **state)
{
        pid_t job, instance;

        (void)state;
        job = spawn_from_dying_parent(true);
        assert_true(gone_within(job, 2000));
        instance = spawn_from_dying_parent(false);
        assert_false(gone_within(instance, 300));
        kill(instance, SIGKILL);
}

/* --- the cgroup a child starts in --- */

/*
 * A new cgroup v2 below this process's own, its path into dir and its path
 * as /proc/PID/cgroup names it into rel; false where none can be made (not
 * root, no writable hierarchy): the test skips.
 */
static bool make_cgroup(const char *name, char *dir, size_t dir_size, char *rel, size_t rel_size)
{
        char line[4096], mnt[1024] = "", own[sizeof(line)] = "";
        FILE *f = fopen("/proc/self/mountinfo", "r");

        if (!f)
                return false;
        while (!mnt[0] && fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - cgroup2 ");
                char point[1024];
                if (sep && sscanf(line, "%*s %*s %*s %*s %1023s", point) == 1)
                        snprintf(mnt, sizeof(mnt), "%s", point);
        }
        fclose(f);
        f = fopen("/proc/self/cgroup", "r");
        if (!f)
                return false;
        while (!own[0] && fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(own, sizeof(own), "%s", strcmp(line + 3, "/") ? line + 3 : "");
                }
        fclose(f);
        if (!mnt[0] || geteuid() != 0)
                return false;
        snprintf(rel, rel_size, "%s/%s-%d", own, name, (int)getpid());
        snprintf(dir, dir_size, "%s%s", mnt, rel);
        return mkdir(dir, 0755) == 0;
}

/* What the child says of its own cgroup v2 ("0::PATH"), run with o->cgroup = cgroup. */
static void run_in_cgroup(const char *cgroup, struct spawn_result *res)
{
        char *argv[] = { "sed", "-n", "s/^0:://p", "/proc/self/cgroup", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        struct spawn_run r = { 5000, 200, -1, -1, 4096 };

        o.cgroup = cgroup;
        assert_int_equal(spawn_run(&o, &r, res), 0);
}

/*
 * A cgroup directory: the child is created inside it (clone3), never moved
 * in through cgroup.procs -- a migration waits for an RCU grace period,
 * 10-30 ms of every crash restart on a busy host.
 */
static void test_cgroup_created_inside(void **state)
{
        char dir[8192], rel[4200], want[4300], name[64];
        struct spawn_result res;
        bool opened = false;
        int ino;
        (void)state;

        if (!make_cgroup("deployex-test-spawn", dir, sizeof(dir), rel, sizeof(rel)))
                skip();
        ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(ino >= 0);
        assert_true(inotify_add_watch(ino, dir, IN_OPEN | IN_MODIFY) >= 0);
        run_in_cgroup(dir, &res);
        assert_true(WIFEXITED(res.wstatus) && WEXITSTATUS(res.wstatus) == 0);
        snprintf(want, sizeof(want), "%s\n", rel);
        assert_string_equal(res.tail.data, want);
        spawn_result_release(&res);
        for (;;) {
                char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                ssize_t n = read(ino, ev, sizeof(ev));
                if (n <= 0)
                        break;
                for (char *p = ev; p < ev + n;) {
                        const struct inotify_event *e = (const struct inotify_event *)p;
                        snprintf(name, sizeof(name), "%s", e->len ? e->name : "");
                        opened = opened || strcmp(name, "cgroup.procs") == 0;
                        p += sizeof(*e) + e->len;
                }
        }
        close(ino);
        assert_int_equal(rmdir(dir), 0);
        assert_false(opened);
}

/*
 * "DIR/cgroup.procs": the child joins by migration.  For a cgroup that went
 * through cgroup.kill, in which Linux (6.18 here) kills every child created
 * inside: the child must live and run there.
 */
static void test_cgroup_joined_after_kill(void **state)
{
        char dir[8192], rel[4200], want[4300], path[8300];
        char *argv[] = { "sleep", "100", NULL };
        struct spawn_opts o = { argv, NULL, NULL, -1, -1, -1, false, NULL, NULL };
        struct spawn_result res;
        pid_t victim;
        int fd, st;
        (void)state;

        if (!make_cgroup("deployex-test-spawn-kill", dir, sizeof(dir), rel, sizeof(rel)))
                skip();
        o.cgroup = dir;
        assert_int_equal(spawn_start(&o, &victim), 0);
        snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) { /* before Linux 5.14: nothing to guard against */
                kill(victim, SIGKILL);
                waitpid(victim, NULL, 0);
                rmdir(dir);
                skip();
        }
        assert_int_equal(write(fd, "1", 1), 1);
        close(fd);
        assert_int_equal(waitpid(victim, &st, 0), victim);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        run_in_cgroup(path, &res);
        assert_true(WIFEXITED(res.wstatus) && WEXITSTATUS(res.wstatus) == 0);
        snprintf(want, sizeof(want), "%s\n", rel);
        assert_string_equal(res.tail.data, want);
        spawn_result_release(&res);
        assert_int_equal(rmdir(dir), 0);
}

/*
 * Where clone3 cannot create the child in the cgroup (an older kernel; here
 * a directory that is no cgroup), the child still joins it through its
 * cgroup.procs: it writes itself ("0") there before it executes.
 */
static void test_cgroup_joined_where_clone3_cannot(void **state)
{
        char tmpl[] = "/tmp/deployex-test-cgroup.XXXXXX", path[64], text[8] = "";
        struct spawn_result res;
        int fd;
        (void)state;

        assert_non_null(mkdtemp(tmpl));
        snprintf(path, sizeof(path), "%s/cgroup.procs", tmpl);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        run_in_cgroup(tmpl, &res);
        assert_true(WIFEXITED(res.wstatus) && WEXITSTATUS(res.wstatus) == 0);
        spawn_result_release(&res);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, text, sizeof(text) - 1), 1);
        close(fd);
        assert_string_equal(text, "0");
        unlink(path);
        rmdir(tmpl);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exit_statuses),
                cmocka_unit_test(test_exec_failures),
                cmocka_unit_test(test_exec_async),
                cmocka_unit_test(test_piped_async),
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_env_build),
                cmocka_unit_test(test_env_and_cwd_reach_child),
                cmocka_unit_test(test_session_and_group),
                cmocka_unit_test(test_signals_reset),
                cmocka_unit_test(test_no_descriptor_leaks),
                cmocka_unit_test(test_timeout_kills_group),
                cmocka_unit_test(test_leftovers_killed_after_exit),
                cmocka_unit_test(test_term_ignored_then_kill),
                cmocka_unit_test(test_copy_fds_and_tail),
                cmocka_unit_test(test_same_fd_for_stdout_and_stderr),
                cmocka_unit_test(test_describe_status),
                cmocka_unit_test(test_die_with_parent),
                cmocka_unit_test(test_runs_as_ids),
                cmocka_unit_test(test_cgroup_created_inside),
                cmocka_unit_test(test_cgroup_joined_after_kill),
                cmocka_unit_test(test_cgroup_joined_where_clone3_cannot),
                cmocka_unit_test(test_signals_reset_frozen),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
