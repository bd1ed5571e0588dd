/*
 * test_executor: the executor (reconciler/daemon/executor.c) driven through
 * a fake child table.  The runtime's jobs spawn nothing: a started job is
 * recorded with its argv, and the test completes it with the exit status,
 * stdout and stderr it chooses, through the table's real completion path
 * (job_reap).  State files live in a temporary var_path; an instance that
 * "runs" is a real child process in its own group, so that stops are real
 * signals and exits are reaped.
 *
 * journal_save is wrapped (-Wl,--wrap=journal_save, Makefile) to record the
 * phase of every journal write: the journal is written before each phase
 * runs, in the order of the phases.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fsutil.h"
#include "base/util.h"
#include "reconciler/daemon/executor.h"
#include "reconciler/daemon/supervisor.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/jobs/unpack.h"
#include "state/deferred.h"
#include "state/desired.h"
#include "state/ghosts.h"
#include "state/journal.h"
#include "state/paths.h"

#include "base/banned.h"

#define MAX_JOBS 64
#define MAX_ARGS 12
#define MAX_POINTS 64

/* ---- the recorded journal writes ---- */

static char points[MAX_POINTS][32];
static size_t npoints;

int __real_journal_save(const char *path, const struct journal *j);
int __wrap_journal_save(const char *path, const struct journal *j);

int __wrap_journal_save(const char *path, const struct journal *j)
{
        if (npoints < MAX_POINTS)
                str_copy(points[npoints++], sizeof(points[0]), j->phase);
        return __real_journal_save(path, j);
}

/* ---- the fake child table ---- */

struct fake_job {
        struct job *j;                /* NULL once completed */
        char args[MAX_ARGS][256];     /* argv after the program: "__hook", "demo", "1", ... */
        size_t nargs;
        char journal_phase[32];       /* the journal's last phase when it started */
};

static struct fake_job fakes[MAX_JOBS];
static size_t nfakes;
static pid_t next_fake_pid;

static int fake_spawn(struct jobs *js, struct job *j, const struct proc_ids *ids,
                      const char *const *argv)
{
        struct fake_job *f;
        size_t i = 1;

        (void)js;
        (void)ids;
        assert_true(nfakes < MAX_JOBS);
        f = &fakes[nfakes++];
        memset(f, 0, sizeof(*f));
        f->j = j;
        if (argv[i] && strcmp(argv[i], "-c") == 0)
                i += 2;
        for (; argv[i] && f->nargs < MAX_ARGS; i++)
                str_copy(f->args[f->nargs++], sizeof(f->args[0]), argv[i]);
        str_copy(f->journal_phase, sizeof(f->journal_phase), npoints ? points[npoints - 1] : "");
        /* No process: pids no process has, pipes already at EOF. */
        j->pid = next_fake_pid++;
        j->out.fd = j->err.fd = -1;
        return 0;
}

static int fake_kill(pid_t pid, int sig)
{
        (void)pid;
        (void)sig;
        return 0;
}

/* The job's name as the test speaks of it: "__fetch", "preflight", "start", ... */
static const char *job_kind(const struct fake_job *f)
{
        if (strcmp(f->args[0], "__hook") == 0 && f->nargs > 3)
                return f->args[3];
        return f->args[0];
}

static bool is_event(const struct fake_job *f)
{
        return strcmp(job_kind(f), "on_event") == 0;
}

/* The one job of that kind still running (on_event hooks aside): asserts there is one. */
static struct fake_job *running(const char *kind)
{
        struct fake_job *found = NULL;

        for (size_t i = 0; i < nfakes; i++)
                if (fakes[i].j && !is_event(&fakes[i]) && strcmp(job_kind(&fakes[i]), kind) == 0)
                        found = &fakes[i];
        if (!found)
                fail_msg("no %s job is running", kind);
        return found;
}

/* How many on_event jobs are running. */
static size_t nevents(void)
{
        size_t n = 0;

        for (size_t i = 0; i < nfakes; i++)
                n += fakes[i].j && is_event(&fakes[i]);
        return n;
}

/* The running on_event job ends with this answer on its stdout. */
static void complete_event(const char *out)
{
        for (size_t i = 0; i < nfakes; i++) {
                struct job *j = fakes[i].j;
                if (!j || !is_event(&fakes[i]))
                        continue;
                fakes[i].j = NULL;
                buf_puts(&j->out_buf, out);
                assert_true(job_reap(j->table, j->pid, 0));
                return;
        }
        fail_msg("no on_event job is running");
}

/* How many step jobs (on_event hooks aside) are running. */
static size_t nrunning(void)
{
        size_t n = 0;

        for (size_t i = 0; i < nfakes; i++)
                n += fakes[i].j && !is_event(&fakes[i]);
        return n;
}

static void complete(const char *kind, int status, const char *out, const char *err)
{
        struct fake_job *f = running(kind);
        struct job *j = f->j;

        f->j = NULL;
        buf_puts(&j->out_buf, out);
        buf_puts(&j->err_buf, err);
        assert_true(job_reap(j->table, j->pid, (status & 0xff) << 8));
}

/*
 * The job's program could not be executed (err, positive): the spawn did not
 * wait for the exec, so the verdict comes through the exec pipe, as the
 * child writes it, and then the child's exit (127).
 */
static void not_executed(const char *kind, int err)
{
        struct fake_job *f = running(kind);
        struct job *j = f->j;
        int p[2];

        f->j = NULL;
        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(write(p[1], &err, sizeof(err)), (ssize_t)sizeof(err));
        close(p[1]);
        j->exec.fd = p[0];
        j->exec.on_ready(&j->exec, EPOLLIN);
        assert_int_equal(j->exec.fd, -1);
        assert_true(job_reap(j->table, j->pid, 127 << 8));
}

/* ---- the fixture: a runtime, one app "demo", its instance 1 at 1.0.0 ---- */

struct fixture {
        char dir[64];
        struct config cfg;
        struct runtime rt;
        struct app_rt *a;
        struct instance_rt *in;
        pid_t child;                  /* the instance's process, 0 = stopped */
};

static struct fixture fx;

static void release_dir(const char *which, struct buf *out)
{
        buf_reset(out);
        path_release_dir(&fx.cfg, "demo", 1, which, out);
}

/* A release tree `which` holding a file named after version (what the test checks moves). */
static void make_release(const char *which, const char *version)
{
        struct buf dir = BUF_INIT, file = BUF_INIT;

        release_dir(which, &dir);
        assert_int_equal(mkdir_p(dir.data, 0700), 0);
        buf_printf(&file, "%s/release-%s", dir.data, version);
        assert_int_equal(atomic_write_file(file.data, "", 0), 0);
        buf_release(&dir);
        buf_release(&file);
}

static bool release_holds(const char *which, const char *version)
{
        struct buf file = BUF_INIT;
        bool r;

        release_dir(which, &file);
        buf_printf(&file, "/release-%s", version);
        r = access(file.data, F_OK) == 0;
        buf_release(&file);
        return r;
}

static bool release_exists(const char *which)
{
        struct buf dir = BUF_INIT;
        struct stat st;
        bool r;

        release_dir(which, &dir);
        r = stat(dir.data, &st) == 0;
        buf_release(&dir);
        return r;
}

static bool journal_exists(void)
{
        struct buf path = BUF_INIT;
        bool r;

        path_journal(&fx.cfg, "demo", &path);
        r = access(path.data, F_OK) == 0;
        buf_release(&path);
        return r;
}

static bool deferred_exists(void)
{
        struct buf path = BUF_INIT;
        bool r;

        path_deferred(&fx.cfg, "demo", &path);
        r = access(path.data, F_OK) == 0;
        buf_release(&path);
        return r;
}

/* The tarball of version in the cache: what a hot upgrade rebuilds previous/ from. */
static void cache_tarball(const char *version)
{
        struct buf path = BUF_INIT;

        path_cache_file(&fx.cfg, "demo", version, &path);
        assert_int_equal(atomic_write_file(path.data, "tar", 3), 0);
        buf_release(&path);
}

/* The daemon's: a job that cannot start on a host fault notes it (host_faults.c). */
static bool note_host_fault(struct jobs *js, int err, const char *what)
{
        return host_faults_note(runtime_of(js), err, what);
}

static int setup(void **state)
{
        struct buf text = BUF_INIT, err = BUF_INIT;

        (void)state;
        memset(&fx, 0, sizeof(fx));
        nfakes = npoints = 0;
        next_fake_pid = 0x7ff00000;
        str_copy(fx.dir, sizeof(fx.dir), "/tmp/test_executor.XXXXXX");
        assert_non_null(mkdtemp(fx.dir));
        buf_printf(&text,
                   "{\"source\": \"file://%s/bucket\", \"cookie\": \"secret\", "
                   "\"var_path\": \"%s/var\", \"log_path\": \"%s/log\", "
                   "\"apps\": [{\"name\": \"demo\", \"language\": \"elixir\", \"replicas\": 1}]}",
                   fx.dir, fx.dir, fx.dir);
        if (config_parse(text.data, text.len, "test.json", &fx.cfg, &err) < 0)
                fail_msg("config: %s", err.data);
        fx.rt.cfg = &fx.cfg;
        fx.rt.loop.epfd = -1;
        fx.rt.cli_exe = "/nonexistent/deployex";
        fx.rt.jobs = (struct jobs){ .loop = &fx.rt.loop, .cli_exe = "/nonexistent/deployex",
                                    .spawn = fake_spawn, .kill = fake_kill,
                                    .host_fault = note_host_fault };
        fx.a = xcalloc(1, sizeof(*fx.a));
        fx.a->rt = &fx.rt;
        fx.a->cfg = &fx.cfg.apps[0];
        str_copy(fx.a->name, sizeof(fx.a->name), "demo");
        desired_init(&fx.a->desired);
        fx.a->desired.origin = DESIRED_SOURCE;
        str_copy(fx.a->desired.release.version, sizeof(fx.a->desired.release.version), "1.0.1");
        fx.in = instance_get(fx.a, 1, true);
        str_copy(fx.in->rec.version, sizeof(fx.in->rec.version), "1.0.0");
        fx.in->rec.state = INSTANCE_STOPPED;
        make_release("current", "1.0.0");
        /* The directories the daemon makes at its start. */
        {
                struct buf dir = BUF_INIT;
                path_cache_file(&fx.cfg, "demo", "x", &dir);
                *strrchr(dir.data, '/') = '\0';
                assert_int_equal(mkdir_p(dir.data, 0700), 0);
                buf_reset(&dir);
                path_journal(&fx.cfg, "demo", &dir);
                *strrchr(dir.data, '/') = '\0';
                assert_int_equal(mkdir_p(dir.data, 0700), 0);
                buf_reset(&dir);
                path_instances_dir(&fx.cfg, "demo", &dir);
                assert_int_equal(mkdir_p(dir.data, 0700), 0);
                buf_release(&dir);
        }
        buf_release(&text);
        buf_release(&err);
        return 0;
}

static void reap_child(void);

static int teardown(void **state)
{
        struct buf rm = BUF_INIT;

        (void)state;
        if (fx.child > 0) {
                kill(-fx.child, SIGKILL);
                reap_child();
        }
        instance_free(&fx.rt, fx.a->inst[1]);
        jobs_release(&fx.rt.jobs);
        desired_release(&fx.a->desired);
        ghosts_release(&fx.a->ghosts);
        free(fx.a);
        config_release(&fx.cfg);
        assert_int_equal(remove_tree(fx.dir), 0);
        buf_release(&rm);
        return 0;
}

/*
 * The instance runs 1.0.0 and is ready: a real process in its own group
 * (SIGTERM ignored from its start when ignore_term: the parent ignores it
 * across the fork, so no signal can come first).
 */
static void start_instance_as(bool ignore_term)
{
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        pid_t pid;

        if (ignore_term)
                assert_int_equal(sigaction(SIGTERM, &ign, &old), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                setpgid(0, 0);
                for (;;)
                        pause();
        }
        if (ignore_term)
                assert_int_equal(sigaction(SIGTERM, &old, NULL), 0);
        setpgid(pid, pid);
        fx.child = pid;
        fx.in->rec.pid = pid;
        fx.in->own_child = true;
        fx.in->rec.ready = true;
        fx.in->rec.state = INSTANCE_RUNNING;
}

static void start_instance(void)
{
        start_instance_as(false);
}

/* The loop's part: the instance's process exited (a stop), hand it to the supervisor. */
static void reap_child(void)
{
        int wstatus;

        assert_int_equal(waitpid(fx.child, &wstatus, 0), fx.child);
        (void)sup_reap(&fx.rt, fx.a, fx.child, wstatus);
        fx.child = 0;
}

static void begin(enum plan_action action, const char *from, const char *to)
{
        struct plan_step s;

        memset(&s, 0, sizeof(s));
        s.instance = 1;
        s.action = action;
        s.runnable = true;
        str_copy(s.from, sizeof(s.from), from);
        str_copy(s.to, sizeof(s.to), to);
        str_copy(s.reason, sizeof(s.reason), "test");
        exec_begin(&fx.rt, fx.a, &s);
}

/* The unpack job did its work: new/ (or previous/) holds the release. */
static void complete_unpack(const char *version)
{
        struct fake_job *f = running("__unpack");
        struct buf file = BUF_INIT;

        assert_int_equal(mkdir_p(f->args[2], 0700), 0);
        buf_printf(&file, "%s/release-%s", f->args[2], version);
        assert_int_equal(atomic_write_file(file.data, "", 0), 0);
        buf_release(&file);
        complete("__unpack", 0, "", "");
}

static void assert_points(const char *const *want)
{
        size_t n = 0;

        while (want[n])
                n++;
        for (size_t i = 0; i < n && i < npoints; i++)
                if (strcmp(points[i], want[i]) != 0)
                        fail_msg("journal write %zu: phase %s, expected %s", i, points[i], want[i]);
        if (npoints != n)
                fail_msg("%zu journal writes, expected %zu (last: %s)", npoints, n,
                         npoints ? points[npoints - 1] : "none");
}

/* The step jobs started, in order (on_event hooks aside), and the journal's phase at each. */
static void assert_jobs(const char *const *kinds, const char *const *phases)
{
        size_t n = 0;

        for (size_t i = 0; i < nfakes; i++) {
                if (is_event(&fakes[i]))
                        continue;
                if (!kinds[n])
                        fail_msg("unexpected job %s", job_kind(&fakes[i]));
                if (strcmp(job_kind(&fakes[i]), kinds[n]) != 0)
                        fail_msg("job %zu: %s, expected %s", n, job_kind(&fakes[i]), kinds[n]);
                if (phases && strcmp(fakes[i].journal_phase, phases[n]) != 0)
                        fail_msg("job %s started with the journal at %s, expected %s",
                                 kinds[n], fakes[i].journal_phase, phases[n]);
                n++;
        }
        if (kinds[n])
                fail_msg("job %s never started", kinds[n]);
}

static bool ghosted(const char *version)
{
        return ghosts_find(&fx.a->ghosts, version) != NULL;
}

/* The step is over: no op, no journal, no step job left. */
static void assert_step_over(void)
{
        assert_null(fx.in->op);
        assert_false(journal_exists());
}

/* Runs a full deployment 1.0.0 -> 1.0.1 of a stopped instance up to (not into) phase stop_at. */
static void full_until(const char *stop_at)
{
        begin(PLAN_DEPLOY_FULL, "1.0.0", "1.0.1");
        if (strcmp(stop_at, "fetch") == 0)
                return;
        complete("__fetch", 0, "", "");
        if (strcmp(stop_at, "unpack") == 0)
                return;
        complete_unpack("1.0.1");
        if (strcmp(stop_at, "preflight") == 0)
                return;
        complete("preflight", 0, "{\"result\": true}\n", "");
        if (strcmp(stop_at, "pre_commands") == 0)
                return;
        complete("pre_commands", 0, "{\"result\": true}\n", "");
}

/* ---- full deployments ---- */

static void test_full_deployment_phases_in_order(void **state)
{
        /*
         * fetch to stop leave the instance untouched: a daemon dying there drops
         * the step, whichever of them the journal names, so "begin" (phase
         * fetch) stands for all of them; each write is two fsyncs in the loop.
         */
        static const char *const want_points[] = { "fetch", "rotate", "pre_commands", "start",
                                                   NULL };
        static const char *const want_jobs[] = { "__fetch", "__unpack", "preflight",
                                                 "pre_commands", "start", NULL };
        static const char *const journal_at[] = { "fetch", "fetch", "fetch", "pre_commands",
                                                  "start", NULL };

        (void)state;
        full_until("done");
        assert_points(want_points);
        assert_jobs(want_jobs, journal_at);
        assert_step_over();
        assert_string_equal(fx.in->rec.version, "1.0.1");
        assert_string_equal(fx.in->rec.previous_version, "1.0.0");
        assert_true(release_holds("current", "1.0.1"));
        assert_true(release_holds("previous", "1.0.0"));
        assert_false(release_exists("new"));
        assert_int_equal(fx.in->rec.state, INSTANCE_STARTING);
        assert_false(ghosted("1.0.1"));
        /* The start hook's answer is the supervisor's: the step is over already. */
        complete("start", 1, "", "start: no start command\n");
        assert_int_equal(fx.in->rec.state, INSTANCE_BACKOFF);
        assert_false(ghosted("1.0.1"));
}

static void test_full_deployment_of_a_running_instance(void **state)
{
        /*
         * fetch to stop leave the instance untouched: a daemon dying there drops
         * the step, whichever of them the journal names, so "begin" (phase
         * fetch) stands for all of them; each write is two fsyncs in the loop.
         */
        static const char *const want_points[] = { "fetch", "rotate", "pre_commands", "start",
                                                   NULL };
        static const char *const want_jobs[] = { "__fetch", "__unpack", "preflight",
                                                 "upgrade_kind", "pre_commands", "start",
                                                 NULL };

        (void)state;
        start_instance();
        full_until("preflight");
        complete("preflight", 0, "{\"result\": true}\n", "");
        complete("upgrade_kind", 0, "{\"result\": \"full\"}\n", "");
        /* stop: SIGTERM to the group; nothing moves until the process is gone. */
        assert_non_null(fx.in->op);
        /* Stopping: the journal still names a phase that recovery drops. */
        assert_string_equal(points[npoints - 1], "fetch");
        assert_true(release_holds("current", "1.0.0"));
        reap_child();
        complete("pre_commands", 0, "{\"result\": true}\n", "");
        assert_points(want_points);
        assert_jobs(want_jobs, NULL);
        assert_step_over();
        assert_true(release_holds("current", "1.0.1"));
        assert_string_equal(fx.in->rec.version, "1.0.1");
}

/*
 * A later replica's turn: the pre-commands of 1.0.1 ran on an earlier one, so
 * rotate goes straight to start and pre_commands is not journaled at all.
 */
static void test_later_replica_skips_the_pre_commands_journal(void **state)
{
        static const char *const want_points[] = { "fetch", "rotate", "start", NULL };
        static const char *const want_jobs[] = { "__fetch", "__unpack", "preflight", "start",
                                                 NULL };

        (void)state;
        assert_int_equal(desired_remember_release(&fx.cfg, "demo", &fx.a->desired.release), 0);
        assert_int_equal(desired_mark_pre_commands_done(&fx.cfg, "demo", "1.0.1", 5000), 0);
        full_until("pre_commands");
        assert_points(want_points);
        assert_jobs(want_jobs, NULL);
        assert_step_over();
        assert_string_equal(fx.in->rec.version, "1.0.1");
        assert_int_equal(fx.in->rec.state, INSTANCE_STARTING);
}

/* How many times the instance record was replaced (renamed into place) since watch_records(). */
static int records_fd = -1;

static void watch_records(void)
{
        struct buf dir = BUF_INIT;

        path_instances_dir(&fx.cfg, "demo", &dir);
        records_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(records_fd >= 0);
        /* IN_MOVED_FROM too: two IN_MOVED_TO in a row would be merged into one event. */
        assert_true(inotify_add_watch(records_fd, dir.data, IN_MOVED_FROM | IN_MOVED_TO) >= 0);
        buf_release(&dir);
}

static int record_writes(void)
{
        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int n = 0;
        ssize_t len;

        while ((len = read(records_fd, ev, sizeof(ev))) > 0) {
                for (char *p = ev; p < ev + len;) {
                        const struct inotify_event *e = (const struct inotify_event *)p;
                        if ((e->mask & IN_MOVED_TO) && e->len && strcmp(e->name, "1.json") == 0)
                                n++;
                        p += sizeof(*e) + e->len;
                }
        }
        close(records_fd);
        records_fd = -1;
        return n;
}

/*
 * Each record write is two fsyncs in the daemon's loop, which every app's
 * rollout waits on: a full deployment of a stopped instance, up to its start
 * hook, writes the record three times -- deploying, rotated (the new
 * version), pre_commands; "starting" and the step's end (its target cleared)
 * go with the write the start makes (its pid) or its failure.
 */
static void test_full_deployment_record_writes(void **state)
{
        (void)state;
        watch_records();
        full_until("done");
        assert_step_over();
        assert_int_equal(record_writes(), 3);
        assert_int_equal(fx.in->rec.state, INSTANCE_STARTING);
        assert_string_equal(fx.in->rec.target_version, "");
        /* The start hook fails: that write carries the step's end too. */
        watch_records();
        complete("start", 1, "", "start: no start command\n");
        assert_int_equal(record_writes(), 1);
        {
                struct instance_record rec;
                instance_record_read(&fx.cfg, "demo", 1, &rec);
                assert_int_equal(rec.state, INSTANCE_BACKOFF);
                assert_string_equal(rec.version, "1.0.1");
                assert_string_equal(rec.target_version, "");
        }
}

/*
 * The deployed instance answers ready: its state and the history's
 * last_deploy go to the record in one write, after the history line.
 */
static void test_ready_after_a_deployment_writes_the_record_once(void **state)
{
        struct buf path = BUF_INIT, text = BUF_INIT;

        (void)state;
        start_instance();
        fx.in->rec.ready = false;
        fx.in->rec.state = INSTANCE_STARTING;
        fx.in->rec.deploy_started_at_ms = 1000;
        sup_tick(&fx.rt, fx.a);
        watch_records();
        complete("__ready", 0, "{\"result\": {\"healthy_ms\": 0, \"ready_ms\": 300, \"cpu_ms\": 2}}\n", "");
        assert_int_equal(record_writes(), 1);
        assert_int_equal(fx.in->rec.state, INSTANCE_RUNNING);
        assert_true(fx.in->rec.ready);
        assert_true(fx.in->rec.has_last_deploy);
        assert_int_equal(fx.in->rec.deploy_started_at_ms, 0);
        path_history(&fx.cfg, "demo", &path);
        assert_int_equal(file_read_all(path.data, 1 << 20, &text), 0);
        assert_non_null(strstr(text.data, "\"ready\""));
        buf_release(&path);
        buf_release(&text);
}

/*
 * A step's end, a start and a ready answer concern one app: the loop plans
 * that app alone (apps_dirty), not every app with their files reread (dirty),
 * which with 50 apps rolling out kept the loop busy while every turn waited.
 */
static void test_an_instances_events_plan_its_app_alone(void **state)
{
        (void)state;
        full_until("pre_commands");
        fx.rt.loop.dirty = fx.rt.loop.apps_dirty = fx.a->dirty = false;
        complete("pre_commands", 0, "{\"result\": true}\n", "");
        assert_step_over();
        assert_true(fx.a->dirty && fx.rt.loop.apps_dirty);
        assert_false(fx.rt.loop.dirty);

        /* Its readiness answer too. */
        teardown(NULL);
        setup(NULL);
        start_instance();
        fx.in->rec.ready = false;
        fx.in->rec.state = INSTANCE_STARTING;
        sup_tick(&fx.rt, fx.a);
        fx.rt.loop.dirty = fx.rt.loop.apps_dirty = fx.a->dirty = false;
        complete("__ready", 0, "{\"result\": {\"healthy_ms\": 0, \"ready_ms\": 300, \"cpu_ms\": 2}}\n", "");
        assert_int_equal(fx.in->rec.state, INSTANCE_RUNNING);
        assert_true(fx.a->dirty && fx.rt.loop.apps_dirty);
        assert_false(fx.rt.loop.dirty);
}

/* Scale down: the stop's exit removes the instance, and its app is planned (under ASan: no use after free). */
static void test_remove_of_a_running_instance(void **state)
{
        (void)state;
        start_instance();
        begin(PLAN_REMOVE, "1.0.0", "");
        assert_non_null(fx.a->inst[1]);
        fx.rt.loop.dirty = fx.rt.loop.apps_dirty = fx.a->dirty = false;
        reap_child();
        assert_null(fx.a->inst[1]);
        assert_true(fx.rt.loop.dirty || (fx.a->dirty && fx.rt.loop.apps_dirty));
}

/* A fake cgroup of instance 1 under the fixture's directory: a process listed; out = its cgroup.kill. */
static void fake_cgroup(const char *name, struct buf *out)
{
        buf_reset(out);
        buf_printf(out, "%s/cg/%s", fx.dir, name);
        assert_int_equal(mkdir_p(out->data, 0755), 0);
        buf_puts(out, "/cgroup.procs");
        assert_int_equal(atomic_write_file(out->data, "999999\n", 7), 0);
        buf_reset(out);
        buf_printf(out, "%s/cg/%s/cgroup.kill", fx.dir, name);
        assert_int_equal(atomic_write_file(out->data, "", 0), 0);
}

/*
 * A crash restart without a spare, both cgroups busy (what the crash left in
 * demo-1, something dying in demo-1-b): the start joins demo-1, so the crash's
 * leftovers there are killed before it, never by cgroup_settle after it.
 */
static void test_crash_restart_joining_the_crashed_cgroup_is_not_killed(void **state)
{
        struct buf root = BUF_INIT, a = BUF_INIT, b = BUF_INIT, path = BUF_INIT, text = BUF_INIT;

        (void)state;
        buf_printf(&root, "%s/cg", fx.dir);
        fx.rt.cgroup_root = buf_detach(&root);
        fake_cgroup("demo-1", &a);
        fake_cgroup("demo-1-b", &b);
        fx.in->cgroup_cur = 1; /* CGROUP_A: the crashed process ran there */
        cgroup_kill(&fx.rt, fx.in, true);
        assert_true(cgroup_prepare(&fx.rt, fx.in, &path));
        assert_non_null(strstr(path.data, "/cg/demo-1/cgroup.procs"));
        assert_int_equal(file_read_all(a.data, 64, &text), 0);
        assert_string_equal(text.data, "1"); /* the crash's leftovers, before the start */
        assert_int_equal(atomic_write_file(a.data, "", 0), 0);
        cgroup_settle(&fx.rt, fx.in); /* the start has executed */
        assert_int_equal(file_read_all(a.data, 64, &text), 0);
        assert_string_equal(text.data, ""); /* not killed with the start inside */
        free(fx.rt.cgroup_root);
        fx.rt.cgroup_root = NULL;
        buf_release(&a);
        buf_release(&b);
        buf_release(&path);
        buf_release(&text);
}

/* A stop that SIGTERM does not end: SIGKILL at the stop deadline, then the step goes on. */
static void test_stop_ignored_is_killed(void **state)
{
        (void)state;
        start_instance_as(true);
        fx.in->rec.ready = false; /* not a hot candidate: straight to the stop */
        full_until("preflight");
        complete("preflight", 0, "{\"result\": true}\n", "");
        assert_non_null(fx.in->op);
        assert_int_not_equal(fx.in->kill_at_ms, 0);
        /* The process is still there: the loop's clock passes the deadline. */
        assert_int_equal(kill(fx.child, 0), 0);
        fx.rt.loop.now_ms = fx.in->kill_at_ms + 1;
        sup_tick(&fx.rt, fx.a);
        fx.rt.loop.now_ms = 0;
        reap_child();
        assert_string_equal(points[npoints - 1], "pre_commands");
        complete("pre_commands", 0, "", "");
        assert_step_over();
        assert_string_equal(fx.in->rec.version, "1.0.1");
}

/* ---- a failure in every phase ---- */

static void test_fetch_failure_defers(void **state)
{
        (void)state;
        full_until("fetch");
        complete("__fetch", 1, "", "fetch: sha256 mismatch\n");
        assert_step_over();
        assert_int_equal(nrunning(), 0);
        assert_false(ghosted("1.0.1"));
        assert_true(deferred_exists());
        assert_string_equal(fx.a->deferred.version, "1.0.1");
        assert_int_equal(fx.a->deferred.failures, 1);
        assert_true(fx.a->deferred.retry_at_ms > 0);
        assert_string_equal(fx.in->rec.version, "1.0.0");
        assert_int_equal(fx.in->rec.state, INSTANCE_STOPPED);
        assert_non_null(strstr(fx.in->rec.last_error, "sha256 mismatch"));
}

static void test_unpack_refused_ghosts(void **state)
{
        (void)state;
        full_until("unpack");
        complete("__unpack", 1, "", "unpack: an entry escapes the tree\n");
        assert_step_over();
        assert_int_equal(nrunning(), 0);
        assert_true(ghosted("1.0.1"));
        assert_false(deferred_exists());
        assert_string_equal(fx.in->rec.version, "1.0.0");
        assert_true(release_holds("current", "1.0.0"));
}

static void test_unpack_local_failure_defers(void **state)
{
        (void)state;
        full_until("unpack");
        complete("__unpack", JOB_EXIT_LOCAL, "", "unpack: no space left on device\n");
        assert_step_over();
        assert_false(ghosted("1.0.1"));
        assert_true(deferred_exists());
        assert_string_equal(fx.in->rec.version, "1.0.0");
}

static void test_preflight_failure_ghosts_before_anything_stops(void **state)
{
        (void)state;
        start_instance();
        full_until("preflight");
        complete("preflight", 1, "", "bin/demo is not executable\n");
        assert_step_over();
        assert_int_equal(nrunning(), 0);
        assert_true(ghosted("1.0.1"));
        assert_false(release_exists("new"));
        /* Nothing running was touched. */
        assert_int_equal(fx.in->rec.pid, fx.child);
        assert_int_equal(kill(fx.child, 0), 0);
        assert_int_equal(fx.in->rec.state, INSTANCE_RUNNING);
        assert_string_equal(fx.in->rec.version, "1.0.0");
        assert_non_null(strstr(fx.in->rec.last_error, "pre-flight: bin/demo is not executable"));
}

/* Hooks that cannot be loaded here are this host's fault: deferred, not ghosted, nothing stopped. */
static void test_preflight_local_failure_defers(void **state)
{
        (void)state;
        start_instance();
        full_until("preflight");
        complete("preflight", JOB_EXIT_LOCAL, "", "demo: no hooks directory (set DEPLOYEX_HOOKS_PATH ...)\n");
        assert_step_over();
        assert_int_equal(nrunning(), 0);
        assert_false(ghosted("1.0.1"));
        assert_true(deferred_exists());
        assert_false(release_exists("new"));
        assert_int_equal(fx.in->rec.pid, fx.child);
        assert_int_equal(kill(fx.child, 0), 0);
        assert_int_equal(fx.in->rec.state, INSTANCE_RUNNING);
        assert_string_equal(fx.in->rec.version, "1.0.0");
        assert_non_null(strstr(fx.in->rec.last_error, "no hooks directory"));
}

static void test_rotate_failure_ghosts(void **state)
{
        (void)state;
        full_until("unpack");
        /* The unpack "succeeded" and left nothing, and current/ is gone too. */
        complete("__unpack", 0, "", "");
        {
                struct buf dir = BUF_INIT;
                release_dir("current", &dir);
                assert_int_equal(remove_tree(dir.data), 0);
                buf_release(&dir);
        }
        complete("preflight", 0, "{\"result\": true}\n", "");
        assert_step_over();
        assert_string_equal(points[npoints - 1], "rotate");
        assert_true(ghosted("1.0.1"));
        assert_int_equal(nrunning(), 0);
        assert_string_equal(fx.in->rec.version, "1.0.0");
}

static void test_pre_commands_failure_ghosts(void **state)
{
        (void)state;
        full_until("pre_commands");
        complete("pre_commands", 1, "", "migration failed: relation exists\n");
        assert_step_over();
        assert_int_equal(nrunning(), 0);
        assert_true(ghosted("1.0.1"));
        /* Rotated already: the planner rolls back to previous/. */
        assert_string_equal(fx.in->rec.version, "1.0.1");
        assert_string_equal(fx.in->rec.previous_version, "1.0.0");
        assert_int_equal(fx.in->rec.state, INSTANCE_STOPPED);
        assert_non_null(strstr(fx.in->rec.last_error, "pre-commands: migration failed"));
}

/*
 * A phase's helper that cannot be executed (deployex's own program missing,
 * not executable): the step holds in its phase and retries; nothing is
 * ghosted, deferred or stopped, and status says why.
 */
static void test_preflight_not_executed_holds_and_retries(void **state)
{
        (void)state;
        start_instance();
        full_until("preflight");
        fx.rt.loop.now_ms = time_now_ms(); /* the clock stands still from here */
        not_executed("preflight", EACCES);
        assert_non_null(fx.in->op);
        assert_int_equal(fx.in->op->retry_at_ms, fx.rt.loop.now_ms + 5000);
        assert_int_equal(nrunning(), 0);
        assert_false(ghosted("1.0.1"));
        assert_false(deferred_exists());
        assert_int_equal(kill(fx.child, 0), 0);
        assert_string_equal(fx.in->rec.version, "1.0.0");
        assert_non_null(strstr(fx.in->rec.last_error, "cannot start job 'pre-flight demo-1.0.1"));
        assert_non_null(strstr(fx.in->rec.last_error, strerror(EACCES)));
        /* At the retry time the phase runs its job again; failing again, it waits twice as long. */
        fx.rt.loop.now_ms = fx.in->op->retry_at_ms;
        exec_tick(&fx.rt, fx.a);
        assert_non_null(running("preflight"));
        not_executed("preflight", EACCES);
        assert_int_equal(fx.in->op->retry_at_ms, fx.rt.loop.now_ms + 10000);
        assert_false(ghosted("1.0.1"));
        fx.rt.loop.now_ms = 0;
}

/* After the rotation too: pre-commands that could not start never ghost the release. */
static void test_pre_commands_not_executed_on_a_host_fault_holds(void **state)
{
        (void)state;
        full_until("pre_commands");
        not_executed("pre_commands", EAGAIN);
        assert_non_null(fx.in->op);
        assert_true(fx.in->op->retry_at_ms > 0);
        assert_false(ghosted("1.0.1"));
        assert_false(deferred_exists());
        assert_int_equal(nrunning(), 0);
}

/* The start hook's program not executed on a host fault: held, not counted as a crash. */
static void test_start_hook_not_executed_on_a_host_fault_is_held(void **state)
{
        (void)state;
        full_until("done");
        not_executed("start", EAGAIN);
        assert_false(ghosted("1.0.1"));
        assert_int_equal(fx.in->rec.consecutive_crashes, 0);
        assert_int_equal(fx.in->rec.state, INSTANCE_STOPPED);
        assert_non_null(strstr(fx.in->rec.last_error, "host fault"));
}

/*
 * Hooks that define no on_event: the first event's job says so, and later
 * events start no job while the hook files stay as they were; an edit (or
 * a new file) starts one again, and a hook that does define it runs each
 * time.
 */
static void test_on_event_skipped_while_the_hooks_define_none(void **state)
{
        struct buf dir = BUF_INIT, lang = BUF_INIT, app = BUF_INIT;
        char *was = getenv("DEPLOYEX_HOOKS_PATH") ? xstrdup(getenv("DEPLOYEX_HOOKS_PATH")) : NULL;

        (void)state;
        buf_printf(&dir, "%s/hooks", fx.dir);
        assert_int_equal(mkdir(dir.data, 0700), 0);
        buf_printf(&lang, "%s/elixir.lua", dir.data);
        assert_int_equal(atomic_write_file(lang.data, "-- none\n", 8), 0);
        assert_int_equal(setenv("DEPLOYEX_HOOKS_PATH", dir.data, 1), 0);

        sup_hook_event(&fx.rt, fx.in, "crashed");
        assert_int_equal(nevents(), 1);
        complete_event("{\"result\": \"undefined\"}\n");
        sup_hook_event(&fx.rt, fx.in, "crashed");
        sup_hook_event(&fx.rt, fx.in, "deployed");
        assert_int_equal(nevents(), 0);

        /* common.lua appears: it may define one. */
        buf_printf(&app, "%s/common.lua", dir.data);
        assert_int_equal(atomic_write_file(app.data, "function on_event(ctx, ev) end\n", 31), 0);
        sup_hook_event(&fx.rt, fx.in, "crashed");
        assert_int_equal(nevents(), 1);
        complete_event("\n"); /* it ran: no "undefined" */
        sup_hook_event(&fx.rt, fx.in, "crashed");
        assert_int_equal(nevents(), 1);
        complete_event("\n");

        /* Gone again, and said so: skipped again. */
        assert_int_equal(unlink(app.data), 0);
        sup_hook_event(&fx.rt, fx.in, "crashed");
        complete_event("{\"result\": \"undefined\"}\n");
        sup_hook_event(&fx.rt, fx.in, "crashed");
        assert_int_equal(nevents(), 0);
        assert_int_equal(was ? setenv("DEPLOYEX_HOOKS_PATH", was, 1) : unsetenv("DEPLOYEX_HOOKS_PATH"), 0);
        free(was);
        buf_release(&dir);
        buf_release(&lang);
        buf_release(&app);
}

static void test_start_failure_is_the_supervisors(void **state)
{
        (void)state;
        full_until("done");
        complete("start", 1, "", "start: the hook raised\n");
        /* The step ended at start: a failed start is a crash restart, not a ghost. */
        assert_step_over();
        assert_false(ghosted("1.0.1"));
        assert_int_equal(fx.in->rec.state, INSTANCE_BACKOFF);
        assert_int_equal(fx.in->rec.consecutive_crashes, 1);
        assert_string_equal(fx.in->rec.version, "1.0.1");
}

/* ---- hot upgrades ---- */

static void hot_until_upgrade(void)
{
        start_instance();
        cache_tarball("1.0.0");
        full_until("preflight");
        complete("preflight", 0, "{\"result\": true}\n", "");
        complete("upgrade_kind", 0, "{\"result\": \"hot\"}\n", "");
        assert_int_equal(fx.in->rec.state, INSTANCE_UPGRADING);
        complete("pre_commands", 0, "{\"result\": true}\n", "");
}

static void test_hot_upgrade_phases_in_order(void **state)
{
        static const char *const want_points[] = { "fetch", "hot_upgrade", "hot_previous",
                                                   NULL };
        static const char *const want_jobs[] = { "__fetch", "__unpack", "preflight",
                                                 "upgrade_kind", "pre_commands", "hot_upgrade",
                                                 "__unpack", NULL };
        static const char *const journal_at[] = { "fetch", "fetch", "fetch", "fetch", "fetch",
                                                  "hot_upgrade", "hot_previous", NULL };
        pid_t pid;

        (void)state;
        hot_until_upgrade();
        pid = fx.child;
        complete("hot_upgrade", 0, "{\"result\": true}\n", "");
        complete_unpack("1.0.0");
        assert_points(want_points);
        assert_jobs(want_jobs, journal_at);
        assert_step_over();
        /* Same process, new release; previous/ rebuilt from the old tarball. */
        assert_int_equal(fx.in->rec.pid, pid);
        assert_int_equal(kill(pid, 0), 0);
        assert_string_equal(fx.in->rec.version, "1.0.1");
        assert_string_equal(fx.in->rec.previous_version, "1.0.0");
        assert_true(release_holds("previous", "1.0.0"));
        assert_false(release_exists("new"));
        assert_int_equal(fx.in->rec.state, INSTANCE_RUNNING);
        assert_false(ghosted("1.0.1"));
}

static void test_upgrade_kind_failure_deploys_in_full(void **state)
{
        (void)state;
        start_instance();
        full_until("preflight");
        complete("preflight", 0, "{\"result\": true}\n", "");
        complete("upgrade_kind", 1, "", "upgrade_kind: cannot reach the node\n");
        /* Stopping: the journal still names a phase that recovery drops. */
        assert_string_equal(points[npoints - 1], "fetch");
        reap_child();
        assert_string_equal(points[npoints - 1], "pre_commands");
        assert_false(ghosted("1.0.1"));
}

/* The answer is parsed (answer.h): only a result of "hot" is hot, wherever else "hot" appears. */
static void test_upgrade_kind_answer_is_parsed(void **state)
{
        (void)state;
        start_instance();
        full_until("preflight");
        complete("preflight", 0, "{\"result\": true}\n", "");
        complete("upgrade_kind", 0, "{\"result\": \"full\", \"hot\": false}\n", "");
        /* Stopping: the journal still names a phase that recovery drops. */
        assert_string_equal(points[npoints - 1], "fetch");
        assert_int_equal(fx.in->op->step.action, PLAN_DEPLOY_FULL);
        reap_child();
        assert_string_equal(points[npoints - 1], "pre_commands");
}

static void test_upgrade_kind_bad_answer_deploys_in_full(void **state)
{
        (void)state;
        start_instance();
        full_until("preflight");
        complete("preflight", 0, "{\"result\": true}\n", "");
        complete("upgrade_kind", 0, "hot\n", "");
        /* Stopping: the journal still names a phase that recovery drops. */
        assert_string_equal(points[npoints - 1], "fetch");
        reap_child();
        assert_string_equal(points[npoints - 1], "pre_commands");
        assert_false(ghosted("1.0.1"));
}

static void test_hot_pre_commands_failure_ghosts_and_keeps_running(void **state)
{
        (void)state;
        start_instance();
        full_until("preflight");
        complete("preflight", 0, "{\"result\": true}\n", "");
        complete("upgrade_kind", 0, "{\"result\": \"hot\"}\n", "");
        complete("pre_commands", 1, "", "migration failed\n");
        assert_step_over();
        assert_int_equal(nrunning(), 0);
        assert_true(ghosted("1.0.1"));
        assert_false(release_exists("new"));
        assert_int_equal(kill(fx.child, 0), 0);
        assert_int_equal(fx.in->rec.state, INSTANCE_RUNNING);
        assert_string_equal(fx.in->rec.version, "1.0.0");
}

static void test_hot_upgrade_not_installed_ghosts(void **state)
{
        (void)state;
        hot_until_upgrade();
        complete("hot_upgrade", 1, "", "not_installed: no relup from 1.0.0\n");
        assert_step_over();
        assert_int_equal(nrunning(), 0);
        assert_true(ghosted("1.0.1"));
        assert_int_equal(kill(fx.child, 0), 0);
        assert_int_equal(fx.in->rec.state, INSTANCE_RUNNING);
        assert_string_equal(fx.in->rec.version, "1.0.0");
}

static void test_hot_upgrade_installed_failure_falls_back_to_full(void **state)
{
        static const char *const want_points[] = { "fetch", "hot_upgrade", "hot_previous",
                                                   "replace", "start", NULL };

        (void)state;
        hot_until_upgrade();
        complete("hot_upgrade", 1, "", "installed: make_permanent failed\n");
        /* previous/ is rebuilt from the old release, then the node is replaced. */
        complete_unpack("1.0.0");
        assert_string_equal(points[npoints - 1], "replace");
        assert_non_null(fx.in->op);
        reap_child();
        assert_points(want_points);
        assert_step_over();
        assert_int_equal(running("start")->nargs, 4);
        assert_false(ghosted("1.0.1"));
        assert_string_equal(fx.in->rec.version, "1.0.1");
        assert_true(release_holds("current", "1.0.1"));
        assert_true(release_holds("previous", "1.0.0"));
}

static void test_hot_upgrade_process_gone_falls_back(void **state)
{
        (void)state;
        hot_until_upgrade();
        /* The node died during the upgrade (its crash is the supervisor's to count). */
        kill(-fx.child, SIGKILL);
        reap_child();
        complete("hot_upgrade", 0, "{\"result\": true}\n", "");
        assert_string_equal(points[npoints - 1], "hot_previous");
        complete_unpack("1.0.0");
        /* Not running: replace goes straight on to start. */
        assert_step_over();
        assert_string_equal(points[npoints - 1], "start");
        assert_false(ghosted("1.0.1"));
        assert_string_equal(fx.in->rec.version, "1.0.1");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_crash_restart_joining_the_crashed_cgroup_is_not_killed,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_deployment_phases_in_order, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_full_deployment_of_a_running_instance, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_later_replica_skips_the_pre_commands_journal,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_deployment_record_writes, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ready_after_a_deployment_writes_the_record_once,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_an_instances_events_plan_its_app_alone, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_remove_of_a_running_instance, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_ignored_is_killed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fetch_failure_defers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unpack_refused_ghosts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unpack_local_failure_defers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_preflight_failure_ghosts_before_anything_stops,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_preflight_local_failure_defers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rotate_failure_ghosts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pre_commands_failure_ghosts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_preflight_not_executed_holds_and_retries, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_pre_commands_not_executed_on_a_host_fault_holds,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_start_hook_not_executed_on_a_host_fault_is_held,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_on_event_skipped_while_the_hooks_define_none,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_start_failure_is_the_supervisors, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_hot_upgrade_phases_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_upgrade_kind_failure_deploys_in_full, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_upgrade_kind_answer_is_parsed, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_upgrade_kind_bad_answer_deploys_in_full, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(
                        test_hot_pre_commands_failure_ghosts_and_keeps_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hot_upgrade_not_installed_ghosts, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(
                        test_hot_upgrade_installed_failure_falls_back_to_full, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hot_upgrade_process_gone_falls_back, setup,
                                                teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
