#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/proc.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/banned.h"

int proc_dir_open(void)
{
        int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);

        return fd >= 0 ? fd : AT_FDCWD;
}

/*
 * Field 22 (starttime) of a /proc/PID/stat line, and -ENOENT for a zombie
 * or a dead task (state Z or X) or a line that is not one.  comm (field 2)
 * may hold spaces and parentheses: the fields restart after the last ')'.
 */
static int stat_start_time(const char *line, size_t len, uint64_t *ret)
{
        const char *p = memrchr(line, ')', len), *end = line + len;
        unsigned long long start = 0;
        int field = 2;

        if (!p || end - p < 4 || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
                return -ENOENT;
        for (p++; p < end && field < 22; p++)
                if (*p == ' ')
                        field++;
        if (field != 22 || p >= end || *p < '0' || *p > '9')
                return -ENOENT;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
                if (start > (ULLONG_MAX - (unsigned)(*p - '0')) / 10)
                        return -ENOENT;
                start = start * 10 + (unsigned)(*p - '0');
        }
        *ret = start;
        return 0;
}

int proc_start_time_at(int procfd, int pid, uint64_t *ret, uid_t *ret_uid)
{
        char path[32], line[4096];
        struct stat st;
        ssize_t n;
        int fd, r;

        if (pid <= 0)
                return -ENOENT;
        snprintf(path, sizeof(path), procfd == AT_FDCWD ? "/proc/%d/stat" : "%d/stat", pid);
        fd = openat(procfd, path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /*
         * The kernel makes the whole line at the first read and hands out as
         * much as fits: a read shorter than the buffer is all of it (no second
         * read to see the end).  A line that fills it is not one.
         */
        do
                n = read(fd, line, sizeof(line));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                r = -errno;
        else if ((size_t)n >= sizeof(line))
                r = -ENOENT;
        else
                r = stat_start_time(line, (size_t)n, ret);
        if (r == 0 && ret_uid) {
                if (fstat(fd, &st) == 0)
                        *ret_uid = st.st_uid;
                else
                        r = -errno;
        }
        close(fd);
        return r;
}

int proc_start_time(int pid, uint64_t *ret)
{
        return proc_start_time_at(AT_FDCWD, pid, ret, NULL);
}

bool proc_is_same(int pid, uint64_t start_time)
{
        uint64_t t;

        if (start_time == 0 || proc_start_time(pid, &t) < 0)
                return false;
        return t == start_time;
}

static bool is_deployex(int pid)
{
        char comm_path[64];
        struct buf comm = BUF_INIT;
        bool r;

        snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", pid);
        r = file_read_all(comm_path, 64, &comm) == 0 && strncmp(comm.data, "deployex", 8) == 0;
        buf_release(&comm);
        return r;
}

/*
 * The process holding the flock on run/deployex.lock, from /proc/locks
 * ("1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"); 0 when none.
 */
static int lock_holder(const struct config *c)
{
        struct buf path = BUF_INIT, locks = BUF_INIT;
        struct stat st;
        int pid = 0;

        path_lock_file(c, &path);
        if (stat(path.data, &st) == 0 && file_read_all("/proc/locks", 1024 * 1024, &locks) == 0) {
                for (char *line = locks.data; line && *line && pid == 0;) {
                        char *next = strchr(line, '\n');
                        unsigned maj, min;
                        unsigned long long ino;
                        int p;

                        if (next)
                                *next++ = '\0';
                        if (sscanf(line, "%*s FLOCK %*s %*s %d %x:%x:%llu", &p, &maj, &min,
                                   &ino) == 4 &&
                            maj == major(st.st_dev) && min == minor(st.st_dev) &&
                            ino == (unsigned long long)st.st_ino)
                                pid = p;
                        line = next;
                }
        }
        buf_release(&path);
        buf_release(&locks);
        return pid;
}

int daemon_running_pid(const struct config *c)
{
        struct buf path = BUF_INIT, text = BUF_INIT;
        int pid = 0;

        path_pid_file(c, &path);
        if (file_read_all(path.data, 64, &text) == 0) {
                text.data[strcspn(text.data, " \n")] = '\0';
                if (parse_int(text.data, &pid) < 0)
                        pid = 0;
        }
        if (pid > 0 && !is_deployex(pid))
                pid = 0;
        /*
         * A daemon that started on a full or read-only var_path could not write
         * its pid file (a stale one may be left): the lock's holder is the daemon.
         */
        if (pid == 0) {
                pid = lock_holder(c);
                if (pid > 0 && !is_deployex(pid))
                        pid = 0;
        }
        buf_release(&path);
        buf_release(&text);
        return pid;
}

/* The value of `name` in /proc/PID/environ, into ret; false when absent or unreadable. */
static bool environ_get(int pid, const char *name, struct buf *ret)
{
        char path[64];
        struct buf env = BUF_INIT;
        size_t len = strlen(name);
        bool found = false;

        snprintf(path, sizeof(path), "/proc/%d/environ", pid);
        if (file_read_all(path, 1024 * 1024, &env) == 0) {
                for (size_t i = 0; i < env.len; i += strlen(env.data + i) + 1)
                        if (strncmp(env.data + i, name, len) == 0 && env.data[i + len] == '=') {
                                buf_reset(ret);
                                buf_puts(ret, env.data + i + len + 1);
                                found = true;
                                break;
                        }
        }
        buf_release(&env);
        return found;
}

/* Does /proc/PID/environ hold exactly `entry` ("NAME=value")? */
static bool environ_has(int pid, const char *entry)
{
        const char *eq = strchr(entry, '=');
        struct buf name = BUF_INIT, value = BUF_INIT;
        bool found;

        if (!eq)
                return false;
        buf_append(&name, entry, (size_t)(eq - entry));
        found = environ_get(pid, name.data, &value) && strcmp(value.data, eq + 1) == 0;
        buf_release(&name);
        buf_release(&value);
        return found;
}

int proc_kill_marked(const char *entry, uint64_t started_before, int sig)
{
        DIR *d = opendir("/proc");
        struct dirent *de;
        int n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                uint64_t start;

                if (*end || pid <= 1 || pid == getpid() || !environ_has((int)pid, entry))
                        continue;
                /* Unknown start time (it just exited): nothing to spare, nothing to kill. */
                if (started_before &&
                    (proc_start_time((int)pid, &start) < 0 || start >= started_before))
                        continue;
                if (kill((pid_t)pid, sig) == 0)
                        n++;
        }
        closedir(d);
        return n;
}

int proc_scan_marked(const char *name, proc_marked_fn fn, void *ctx)
{
        DIR *d = opendir("/proc");
        struct buf value = BUF_INIT;
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                uint64_t start = 0;

                /* An instance's process leads its own session (spawn.c: setsid). */
                if (*end || pid <= 1 || pid == getpid() || getsid((pid_t)pid) != (pid_t)pid)
                        continue;
                if (environ_get((int)pid, name, &value) && proc_start_time((int)pid, &start) == 0)
                        fn(ctx, value.data, (int)pid, start);
        }
        closedir(d);
        buf_release(&value);
        return 0;
}

/* Does environ hold an entry that is legacy, or legacy + "@..."? */
static bool environ_has_node(int pid, const char *legacy)
{
        char path[64];
        struct buf env = BUF_INIT;
        size_t len = strlen(legacy);
        bool found = false;

        snprintf(path, sizeof(path), "/proc/%d/environ", pid);
        if (file_read_all(path, 1024 * 1024, &env) == 0) {
                for (size_t i = 0; i < env.len && !found; i += strlen(env.data + i) + 1)
                        found = strncmp(env.data + i, legacy, len) == 0 &&
                                (env.data[i + len] == '\0' || env.data[i + len] == '@');
        }
        buf_release(&env);
        return found;
}

bool proc_has_marker(int pid, const char *want, const char *legacy)
{
        if (pid <= 0)
                return false;
        return environ_has(pid, want) || (legacy && environ_has_node(pid, legacy));
}

int proc_share_dir(const char *env_var, const char *name, struct buf *ret)
{
        const char *env = getenv(env_var);
        char exe[PATH_MAX];
        struct buf dir = BUF_INIT;
        struct stat st;
        ssize_t n;
        char *slash;

        if (!str_empty(env)) {
                buf_reset(ret);
                buf_puts(ret, env);
                return 0;
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return -ENOENT;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (!slash)
                return -ENOENT;
        *slash = '\0';
        /* PREFIX/bin/deployex, or a program of PREFIX/lib/deployex/ (the hook runner). */
        for (int up = 1; up <= 2; up++) {
                buf_reset(&dir);
                buf_printf(&dir, "%s/%s/share/deployex/%s", exe, up == 1 ? ".." : "../..", name);
                if (stat(dir.data, &st) == 0 && S_ISDIR(st.st_mode)) {
                        buf_release(ret);
                        *ret = dir;
                        return 0;
                }
        }
        buf_release(&dir);
        return -ENOENT;
}
