/* Unit tests: the daemon's own records — ghosts, history, instance, journal. */
#include <errno.h>
#include <fcntl.h>
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

#include "base/fsutil.h"
#include "state/ghosts.h"
#include "state/history.h"
#include "state/host_fault.h"
#include "state/instance.h"
#include "state/journal.h"
#include "state/json.h"
#include "base/util.h"

#include "base/banned.h"

/* 2026-11-26T05:00:00Z */
#define T0 1795669200000ULL

static char tmpdir[64];

static int setup(void **state)
{
        (void)state;
        str_copy(tmpdir, sizeof(tmpdir), "/tmp/deployex-test-records-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        return remove_tree(tmpdir);
}

static void tmp_path(struct buf *out, const char *name)
{
        buf_reset(out);
        buf_printf(out, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void assert_mode_0640(const char *path)
{
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640); /* group deployex reads state */
}

struct bad_case {
        const char *text;
        const char *want;
};

/* ---- ghosts ---------------------------------------------------------------- */

static const struct bad_case ghost_bad[] = {
        { "{}", "g.json: must be a JSON array, got an object" },
        { "[3]", "g.json: [0]: must be an object, got 3" },
        { "[{\"at\": \"2026-11-26T05:00:00Z\"}]", "g.json: [0].version: is required" },
        { "[{\"version\": \"1.0\", \"at\": \"2026-11-26T05:00:00Z\"}, {\"version\": \"1 1\", \"at\": \"2026-11-26T05:00:00Z\"}]",
          "g.json: [1].version: must match [A-Za-z0-9._+-]{1,64}, got \"1 1\"" },
        { "[{\"version\": \"1.0\"}]", "g.json: [0].at: is required" },
        { "[{\"version\": \"1.0\", \"at\": \"yesterday\"}]",
          "g.json: [0].at: must be a UTC time like \"2026-11-26T05:00:00Z\", got \"yesterday\"" },
        { "[{\"version\": \"1.0\", \"at\": 1795582800000}]", "g.json: [0].at: must be a UTC time" },
        { "[{\"version\": \"1.0\", \"at\": \"2026-11-26T05:00:00Z\", \"reason\": 5}]",
          "g.json: [0].reason: must be a string, got 5" },
        { "[{\"version\": \"1.0\", \"at\": \"2026-11-26T05:00:00Z\", \"hash\": true}]",
          "g.json: [0].hash: must be a string, got true" },
        { "[", "g.json: " },
};

static void test_ghosts_parse_rejects(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(ghost_bad); i++) {
                struct buf err = BUF_INIT;
                struct ghost_list l;

                memset(&l, 0x5a, sizeof(l));
                if (ghosts_parse(ghost_bad[i].text, strlen(ghost_bad[i].text), "g.json", &l, &err) !=
                            -EINVAL ||
                    !strstr(err.data, ghost_bad[i].want))
                        fail_msg("case %zu: err \"%s\", want \"%s\"", i, err.data, ghost_bad[i].want);
                assert_int_equal(((unsigned char *)&l)[0], 0x5a);
                buf_release(&err);
        }
}

static void test_ghosts_parse_accepts(void **state)
{
        const char *text =
                "[{\"version\": \"1.1.0\", \"hash\": \"abc\", \"at\": \"2026-11-26T05:00:00Z\","
                "  \"reason\": \"instance 1 not ready 600000 ms after deploy\", \"future\": [1]},"
                " {\"version\": \"1.2.0\", \"hash\": null, \"at\": \"2026-11-26T05:00:01.500Z\", \"reason\": null},"
                " {\"version\": \"1.1.0\", \"at\": \"2026-11-26T06:00:00Z\", \"reason\": \"again\"}]";
        struct buf err = BUF_INIT;
        struct ghost_list l;
        (void)state;

        assert_int_equal(ghosts_parse(text, strlen(text), "g.json", &l, &err), 0);
        /* The same version twice: the later entry wins and is the newest. */
        assert_int_equal(l.n, 2);
        assert_string_equal(l.items[0].version, "1.2.0");
        assert_string_equal(l.items[0].hash, "");
        assert_int_equal(l.items[0].at_ms, T0 + 1500);
        assert_string_equal(l.items[0].reason, "");
        assert_string_equal(l.items[1].version, "1.1.0");
        assert_string_equal(l.items[1].hash, "");
        assert_int_equal(l.items[1].at_ms, T0 + 3600 * 1000);
        assert_string_equal(l.items[1].reason, "again");
        ghosts_release(&l);

        assert_int_equal(ghosts_parse("[]", 2, "g.json", &l, &err), 0);
        assert_int_equal(l.n, 0);
        ghosts_release(&l);
        buf_release(&err);
}

static struct ghost make_ghost(const char *version, const char *hash, uint64_t at, const char *reason)
{
        struct ghost g = {0};

        str_copy(g.version, sizeof(g.version), version);
        str_copy(g.hash, sizeof(g.hash), hash);
        g.at_ms = at;
        str_copy(g.reason, sizeof(g.reason), reason);
        return g;
}

static void test_ghosts_add_replace_remove(void **state)
{
        struct ghost_list l = {0};
        struct ghost g;
        (void)state;

        assert_null(ghosts_find(&l, "1.0"));
        assert_false(ghosts_remove(&l, "1.0"));
        for (int i = 0; i < 10; i++) {
                char v[16];

                snprintf(v, sizeof(v), "1.%d", i);
                g = make_ghost(v, "h", T0 + (uint64_t)i * 1000, "r");
                ghosts_add(&l, &g);
        }
        assert_int_equal(l.n, 10);
        assert_int_equal(ghosts_find(&l, "1.7")->at_ms, T0 + 7000);
        assert_null(ghosts_find(&l, "1.10"));
        assert_null(ghosts_find(&l, NULL));

        /* Replace: one entry per version, moved to the end (newest). */
        g = make_ghost("1.3", "h2", T0 + 99000, "second failure");
        ghosts_add(&l, &g);
        assert_int_equal(l.n, 10);
        assert_string_equal(l.items[9].version, "1.3");
        assert_string_equal(ghosts_find(&l, "1.3")->reason, "second failure");
        /* Adding an entry of the list itself is safe. */
        ghosts_add(&l, &l.items[0]);
        assert_int_equal(l.n, 10);
        assert_string_equal(l.items[9].version, "1.0");

        /* Remove keeps the order of the others. */
        assert_true(ghosts_remove(&l, "1.5"));
        assert_false(ghosts_remove(&l, "1.5"));
        assert_int_equal(l.n, 9);
        assert_null(ghosts_find(&l, "1.5"));
        assert_string_equal(l.items[0].version, "1.1");
        assert_string_equal(l.items[2].version, "1.4");
        assert_string_equal(l.items[3].version, "1.6");
        ghosts_release(&l);
        assert_int_equal(l.n, 0);
}

static void test_ghosts_save_load(void **state)
{
        struct buf path = BUF_INIT, err = BUF_INIT, text = BUF_INIT;
        struct ghost_list l = {0}, back;
        struct ghost g;
        (void)state;

        tmp_path(&path, "ghosts.json");
        /* Absent = empty, not an error. */
        memset(&back, 0x5a, sizeof(back));
        assert_int_equal(ghosts_load(path.data, &back, &err), 0);
        assert_int_equal(back.n, 0);
        assert_null(back.items);
        assert_int_equal(err.len, 0);

        g = make_ghost("1.1.0", "abc", T0, "instance 1 not ready 600000 ms after deploy");
        ghosts_add(&l, &g);
        g = make_ghost("1.2.0", "", T0 + 1000, "");
        ghosts_add(&l, &g);
        assert_int_equal(ghosts_save(path.data, &l), 0);
        assert_mode_0640(path.data);
        assert_int_equal(file_read_all(path.data, 4096, &text), 0);
        assert_string_equal(text.data,
                            "[{\"version\":\"1.1.0\",\"hash\":\"abc\",\"at\":\"2026-11-26T05:00:00Z\","
                            "\"reason\":\"instance 1 not ready 600000 ms after deploy\"},"
                            "{\"version\":\"1.2.0\",\"hash\":null,\"at\":\"2026-11-26T05:00:01Z\","
                            "\"reason\":null}]\n");
        assert_int_equal(ghosts_load(path.data, &back, &err), 0);
        assert_int_equal(back.n, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_string_equal(back.items[i].version, l.items[i].version);
                assert_string_equal(back.items[i].hash, l.items[i].hash);
                assert_int_equal(back.items[i].at_ms, l.items[i].at_ms);
                assert_string_equal(back.items[i].reason, l.items[i].reason);
        }
        ghosts_release(&back);
        ghosts_release(&l);

        /* A corrupted file is an error naming it: forgetting ghosts is not an option. */
        write_file(path.data, "[{\"version\": \"1.1.0\"}");
        assert_true(ghosts_load(path.data, &back, &err) < 0);
        assert_non_null(strstr(err.data, path.data));
        buf_release(&path);
        buf_release(&err);
        buf_release(&text);
}

/* ---- history --------------------------------------------------------------- */

static void test_history_kinds(void **state)
{
        static const struct {
                enum history_kind k;
                const char *s;
        } kinds[] = {
                { HISTORY_FULL, "full" },
                { HISTORY_HOT, "hot" },
                { HISTORY_ROLLBACK, "rollback" },
                { HISTORY_RESTART, "restart" },
        };
        enum history_kind k;
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
                assert_string_equal(history_kind_to_string(kinds[i].k), kinds[i].s);
                assert_int_equal(history_kind_from_string(kinds[i].s, &k), 0);
                assert_int_equal(k, kinds[i].k);
        }
        k = HISTORY_HOT;
        assert_int_equal(history_kind_from_string("Full", &k), -EINVAL);
        assert_int_equal(history_kind_from_string("", &k), -EINVAL);
        assert_int_equal(history_kind_from_string(NULL, &k), -EINVAL);
        assert_int_equal(k, HISTORY_HOT);
        assert_string_equal(history_kind_to_string((enum history_kind)42), "unknown");
}

static struct history_event make_event(int instance, enum history_kind kind, const char *from,
                                       const char *version, bool ok, const char *reason)
{
        struct history_event e = {0};

        e.at_ms = T0 + (uint64_t)instance * 1000;
        str_copy(e.app, sizeof(e.app), "myapp");
        e.instance = instance;
        e.kind = kind;
        str_copy(e.from, sizeof(e.from), from);
        str_copy(e.version, sizeof(e.version), version);
        str_copy(e.hash, sizeof(e.hash), "abc");
        e.ok = ok;
        str_copy(e.reason, sizeof(e.reason), reason);
        return e;
}

static void test_history_event_json(void **state)
{
        struct history_event e = make_event(1, HISTORY_FULL, "1.0.0", "1.0.1", true, "rolling update");
        struct buf json = BUF_INIT;
        (void)state;

        history_event_to_json(&e, &json);
        assert_string_equal(json.data,
                            "{\"at\":\"2026-11-26T05:00:01Z\",\"app\":\"myapp\",\"instance\":1,"
                            "\"kind\":\"full\",\"from\":\"1.0.0\",\"version\":\"1.0.1\",\"hash\":\"abc\","
                            "\"result\":\"ok\",\"reason\":\"rolling update\"}");

        /* Empty from, hash and reason are null; a failure says so. */
        buf_reset(&json);
        e = make_event(2, HISTORY_ROLLBACK, "", "1.0.0", false, "");
        e.hash[0] = '\0';
        history_event_to_json(&e, &json);
        assert_string_equal(json.data,
                            "{\"at\":\"2026-11-26T05:00:02Z\",\"app\":\"myapp\",\"instance\":2,"
                            "\"kind\":\"rollback\",\"from\":null,\"version\":\"1.0.0\",\"hash\":null,"
                            "\"result\":\"failed\",\"reason\":null}");

        /* A reason cut inside a UTF-8 character still gives valid JSON. */
        buf_reset(&json);
        e = make_event(3, HISTORY_HOT, "1", "2", false, "caf\xc3");
        history_event_to_json(&e, &json);
        assert_non_null(strstr(json.data, "\"reason\":\"caf?\"}"));
        buf_release(&json);
}

static void test_history_append_load(void **state)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        struct history_list l;
        struct history_event e;
        int fd;
        (void)state;

        tmp_path(&path, "history.jsonl");
        /* Absent = empty. */
        memset(&l, 0x5a, sizeof(l));
        assert_int_equal(history_load(path.data, &l, &err), 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(l.skipped, 0);
        history_release(&l);

        e = make_event(1, HISTORY_FULL, "", "1.0.0", true, "first deploy of 1.0.0");
        assert_int_equal(history_append(path.data, &e), 0);
        assert_mode_0640(path.data);
        e = make_event(2, HISTORY_HOT, "1.0.0", "1.0.1", false, "rpc timeout");
        assert_int_equal(history_append(path.data, &e), 0);
        e = make_event(1, HISTORY_RESTART, "1.0.1", "1.0.1", true, "");
        assert_int_equal(history_append(path.data, &e), 0);

        /* A torn last line (power loss mid-append): skipped, counted, others kept. */
        fd = open(path.data, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{\"at\":\"2026-11-26T05:0", 22), 22);
        close(fd);
        assert_int_equal(history_load(path.data, &l, &err), 0);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.skipped, 1);
        assert_int_equal(l.items[0].instance, 1);
        assert_int_equal(l.items[0].kind, HISTORY_FULL);
        assert_string_equal(l.items[0].from, "");
        assert_string_equal(l.items[0].version, "1.0.0");
        assert_true(l.items[0].ok);
        assert_string_equal(l.items[0].reason, "first deploy of 1.0.0");
        assert_int_equal(l.items[0].at_ms, T0 + 1000);
        assert_int_equal(l.items[1].kind, HISTORY_HOT);
        assert_false(l.items[1].ok);
        assert_string_equal(l.items[1].from, "1.0.0");
        assert_string_equal(l.items[1].hash, "abc");
        assert_string_equal(l.items[1].reason, "rpc timeout");
        assert_int_equal(l.items[2].kind, HISTORY_RESTART);
        history_release(&l);

        /* The next append starts a new line: the torn one does not swallow it. */
        e = make_event(3, HISTORY_ROLLBACK, "1.0.1", "1.0.0", true, "after the tear");
        assert_int_equal(history_append(path.data, &e), 0);
        assert_int_equal(history_load(path.data, &l, &err), 0);
        assert_int_equal(l.n, 4);
        assert_int_equal(l.skipped, 1);
        assert_string_equal(l.items[3].reason, "after the tear");
        history_release(&l);
        assert_int_equal(err.len, 0);
        buf_release(&path);
        buf_release(&err);
}

static void test_history_malformed_lines(void **state)
{
        const char *good = "{\"at\":\"2026-11-26T05:00:00Z\",\"app\":\"myapp\",\"instance\":1,"
                           "\"kind\":\"full\",\"from\":null,\"version\":\"1.0.0\",\"hash\":null,"
                           "\"result\":\"ok\",\"reason\":null,\"newer_key\":{\"x\":1}}";
        static const char *const bad[] = {
                "not json",
                "[]",
                "{\"at\":\"2026-11-26T05:00:00Z\",\"app\":\"myapp\",\"instance\":1,\"kind\":\"sideways\","
                "\"version\":\"1.0.0\",\"result\":\"ok\"}",
                "{\"at\":\"2026-11-26T05:00:00Z\",\"app\":\"myapp\",\"instance\":1,\"kind\":\"full\","
                "\"version\":\"1.0.0\",\"result\":\"maybe\"}",
                "{\"at\":\"2026-11-26T05:00:00Z\",\"app\":\"myapp\",\"instance\":-1,\"kind\":\"full\","
                "\"version\":\"1.0.0\",\"result\":\"ok\"}",
                "{\"at\":\"2026-11-26T05:00:00Z\",\"app\":\"myapp\",\"instance\":1,\"kind\":\"full\","
                "\"version\":\"1 0\",\"result\":\"ok\"}",
                "{\"app\":\"myapp\",\"instance\":1,\"kind\":\"full\",\"version\":\"1.0.0\",\"result\":\"ok\"}",
        };
        struct buf path = BUF_INIT, err = BUF_INIT, text = BUF_INIT;
        struct history_list l;
        (void)state;

        tmp_path(&path, "mixed.jsonl");
        buf_printf(&text, "%s\n\n", good);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                buf_printf(&text, "%s\n%s\r\n   \n", bad[i], good);
        write_file(path.data, text.data);
        assert_int_equal(history_load(path.data, &l, &err), 0);
        /* Blank lines are not events and not counted; each bad line is. */
        assert_int_equal(l.n, 1 + ARRAY_SIZE(bad));
        assert_int_equal(l.skipped, ARRAY_SIZE(bad));
        assert_string_equal(l.items[ARRAY_SIZE(bad)].version, "1.0.0");
        history_release(&l);
        buf_release(&path);
        buf_release(&err);
        buf_release(&text);
}

/* ---- instance -------------------------------------------------------------- */

static void test_instance_states(void **state)
{
        static const char *const names[INSTANCE_STATE_COUNT] = {
                "stopped", "deploying", "pre_commands", "starting", "running", "backoff", "upgrading",
        };
        enum instance_state s;
        (void)state;

        for (int i = 0; i < INSTANCE_STATE_COUNT; i++) {
                assert_string_equal(instance_state_to_string((enum instance_state)i), names[i]);
                assert_int_equal(instance_state_from_string(names[i], &s), 0);
                assert_int_equal(s, i);
        }
        s = INSTANCE_RUNNING;
        assert_int_equal(instance_state_from_string("ready", &s), -EINVAL);
        assert_int_equal(s, INSTANCE_RUNNING);
        assert_string_equal(instance_state_to_string((enum instance_state)INSTANCE_STATE_COUNT),
                            "unknown");
}

static struct instance_record full_record(int n)
{
        struct instance_record r;

        instance_record_init(&r, n);
        r.state = INSTANCE_BACKOFF;
        str_copy(r.version, sizeof(r.version), "1.0.1");
        str_copy(r.previous_version, sizeof(r.previous_version), "1.0.0");
        r.pid = 4242;
        r.proc_start_time = 123456789;
        r.started_at_ms = T0 + 1;
        r.deploy_started_at_ms = T0 + 2;
        r.ready = true;
        r.consecutive_crashes = 4000000000u;
        r.last_exit_at_ms = T0 + 3;
        r.crash_restarts = 17;
        r.forced_restarts = 5;
        str_copy(r.restart_token, sizeof(r.restart_token), "tok en");
        str_copy(r.instance_restart_token, sizeof(r.instance_restart_token), "t2");
        r.has_last_deploy = true;
        r.last_deploy_kind = HISTORY_ROLLBACK;
        r.last_deploy_ok = false;
        r.last_deploy_at_ms = T0 + 4;
        return r;
}

static void assert_record_equal(const struct instance_record *a, const struct instance_record *b)
{
        assert_int_equal(a->instance, b->instance);
        assert_int_equal(a->state, b->state);
        assert_string_equal(a->version, b->version);
        assert_string_equal(a->previous_version, b->previous_version);
        assert_int_equal(a->pid, b->pid);
        assert_int_equal(a->proc_start_time, b->proc_start_time);
        assert_int_equal(a->started_at_ms, b->started_at_ms);
        assert_int_equal(a->deploy_started_at_ms, b->deploy_started_at_ms);
        assert_int_equal(a->ready, b->ready);
        assert_int_equal(a->consecutive_crashes, b->consecutive_crashes);
        assert_int_equal(a->last_exit_at_ms, b->last_exit_at_ms);
        assert_int_equal(a->crash_restarts, b->crash_restarts);
        assert_int_equal(a->forced_restarts, b->forced_restarts);
        assert_string_equal(a->restart_token, b->restart_token);
        assert_string_equal(a->instance_restart_token, b->instance_restart_token);
        assert_int_equal(a->has_last_deploy, b->has_last_deploy);
        assert_int_equal(a->last_deploy_kind, b->last_deploy_kind);
        assert_int_equal(a->last_deploy_ok, b->last_deploy_ok);
        assert_int_equal(a->last_deploy_at_ms, b->last_deploy_at_ms);
}

static void test_instance_round_trip(void **state)
{
        struct instance_record recs[3], back;
        struct buf json = BUF_INIT, err = BUF_INIT;
        (void)state;

        recs[0] = full_record(7);
        instance_record_init(&recs[1], 1); /* all defaults */
        recs[2] = full_record(100000);
        recs[2].state = INSTANCE_PRE_COMMANDS;
        recs[2].last_deploy_kind = HISTORY_HOT;
        recs[2].last_deploy_ok = true;
        for (size_t i = 0; i < ARRAY_SIZE(recs); i++) {
                buf_reset(&json);
                instance_record_to_json(&recs[i], &json);
                memset(&back, 0x5a, sizeof(back));
                if (instance_record_parse(json.data, json.len, "1.json", &back, &err) != 0)
                        fail_msg("record %zu: %s -> %s", i, json.data, err.data);
                assert_record_equal(&recs[i], &back);
        }

        /* Defaults: what a missing key means; unknown keys are ignored. */
        buf_reset(&json);
        buf_puts(&json, "{\"instance\": 3, \"state\": \"running\", \"added_later\": true}");
        assert_int_equal(instance_record_parse(json.data, json.len, "3.json", &back, &err), 0);
        instance_record_init(&recs[0], 3);
        recs[0].state = INSTANCE_RUNNING;
        assert_record_equal(&recs[0], &back);
        buf_release(&json);
        buf_release(&err);
}

static const struct bad_case instance_bad[] = {
        { "{\"state\": \"running\"}", "i.json: instance: is required" },
        { "{\"instance\": 0, \"state\": \"running\"}", "i.json: instance: must be an integer from 1 to 100000, got 0" },
        { "{\"instance\": \"1\", \"state\": \"running\"}", "i.json: instance: must be an integer from 1 to 100000, got \"1\"" },
        { "{\"instance\": 1}", "i.json: state: is required" },
        { "{\"instance\": 1, \"state\": \"ready\"}", "i.json: state: must be stopped, deploying, pre_commands, starting, running, backoff or upgrading, got \"ready\"" },
        { "{\"instance\": 1, \"state\": \"running\", \"pid\": -1}", "i.json: pid: must be an integer from 0 to" },
        { "{\"instance\": 1, \"state\": \"running\", \"pid\": 1.5}", "i.json: pid: must be an integer" },
        { "{\"instance\": 1, \"state\": \"running\", \"ready\": \"yes\"}", "i.json: ready: must be true or false, got \"yes\"" },
        { "{\"instance\": 1, \"state\": \"running\", \"version\": \"a/b\"}", "i.json: version: must match" },
        { "{\"instance\": 1, \"state\": \"running\", \"started_at_ms\": -5}", "i.json: started_at_ms: must be an integer >= 0, got -5" },
        { "{\"instance\": 1, \"state\": \"running\", \"consecutive_crashes\": 4294967296}",
          "i.json: consecutive_crashes: must be an integer from 0 to 4294967295" },
        { "{\"instance\": 1, \"state\": \"running\", \"restart_token\": \"a\\nb\"}", "i.json: restart_token: must be free of control characters" },
        { "{\"instance\": 1, \"state\": \"running\", \"last_deploy\": 3}", "i.json: last_deploy: must be an object or null, got 3" },
        { "{\"instance\": 1, \"state\": \"running\", \"last_deploy\": {\"kind\": \"warm\", \"result\": \"ok\", \"at_ms\": 1}}",
          "i.json: last_deploy.kind: must be full, hot, rollback or restart, got \"warm\"" },
        { "{\"instance\": 1, \"state\": \"running\", \"last_deploy\": {\"kind\": \"full\", \"result\": \"meh\", \"at_ms\": 1}}",
          "i.json: last_deploy.result: must be ok or failed, got \"meh\"" },
        { "{\"instance\": 1, \"state\": \"running\", \"last_deploy\": {\"kind\": \"full\", \"result\": \"ok\"}}",
          "i.json: last_deploy.at_ms: is required" },
};

static void test_instance_parse_rejects(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(instance_bad); i++) {
                struct buf err = BUF_INIT;
                struct instance_record r;

                memset(&r, 0x5a, sizeof(r));
                if (instance_record_parse(instance_bad[i].text, strlen(instance_bad[i].text), "i.json",
                                          &r, &err) != -EINVAL ||
                    !strstr(err.data, instance_bad[i].want))
                        fail_msg("case %zu: err \"%s\", want \"%s\"", i, err.data, instance_bad[i].want);
                assert_int_equal(((unsigned char *)&r)[0], 0x5a);
                buf_release(&err);
        }
}

static void test_instance_load_dir(void **state)
{
        struct buf dir = BUF_INIT, path = BUF_INIT, err = BUF_INIT;
        struct instance_record *recs = (struct instance_record *)&dir, r;
        size_t n = 99;
        static const int numbers[] = { 10, 2, 1, 100 };
        static const char *const ignored[] = { "01.json", "x.json", "3.json.tmp.123", "0.json",
                                               "100001.json", "4.JSON", "5.json~" };
        (void)state;

        /* A missing directory: no records, no error. */
        tmp_path(&dir, "instances");
        assert_int_equal(instance_records_load_dir(dir.data, &recs, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_null(recs);
        assert_int_equal(err.len, 0);

        assert_int_equal(mkdir(dir.data, 0700), 0);
        for (size_t i = 0; i < ARRAY_SIZE(numbers); i++) {
                r = full_record(numbers[i]);
                buf_reset(&path);
                buf_printf(&path, "%s/%d.json", dir.data, numbers[i]);
                assert_int_equal(instance_record_save(path.data, &r), 0);
                assert_mode_0640(path.data);
        }
        /* Names that are not N.json are not records (a write in flight among them). */
        for (size_t i = 0; i < ARRAY_SIZE(ignored); i++) {
                buf_reset(&path);
                buf_printf(&path, "%s/%s", dir.data, ignored[i]);
                write_file(path.data, "garbage");
        }
        /* A corrupted record and one whose number disagrees with its name: reported, skipped. */
        buf_reset(&path);
        buf_printf(&path, "%s/5.json", dir.data);
        write_file(path.data, "{\"instance\": 5, \"state\": \"runn");
        buf_reset(&path);
        buf_printf(&path, "%s/7.json", dir.data);
        write_file(path.data, "{\"instance\": 8, \"state\": \"running\"}");

        assert_int_equal(instance_records_load_dir(dir.data, &recs, &n, &err), 0);
        assert_int_equal(n, 4);
        assert_int_equal(recs[0].instance, 1);
        assert_int_equal(recs[1].instance, 2);
        assert_int_equal(recs[2].instance, 10);
        assert_int_equal(recs[3].instance, 100);
        r = full_record(10);
        assert_record_equal(&recs[2], &r);
        free(recs);

        buf_reset(&path);
        buf_printf(&path, "%s/5.json: ", dir.data);
        assert_non_null(strstr(err.data, path.data));
        buf_reset(&path);
        buf_printf(&path, "%s/7.json: instance: 8 does not match the file name", dir.data);
        assert_non_null(strstr(err.data, path.data));
        /* Exactly those two problems, one line each. */
        assert_non_null(strchr(err.data, '\n'));
        assert_null(strchr(strchr(err.data, '\n') + 1, '\n'));

        buf_release(&dir);
        buf_release(&path);
        buf_release(&err);
}

/* ---- journal --------------------------------------------------------------- */

/*
 * Host faults (DESIGN §5, issue 10 item 3): which errors are the host's, not
 * a release's, and run/host_fault.json, which status reads.
 */
static void test_host_fault_errno(void **state)
{
        static const int host[] = { EMFILE, ENFILE, EAGAIN, ENOMEM, ENOSPC, EDQUOT, EROFS };
        static const int release[] = { 0, ENOENT, EACCES, EPERM, ENOEXEC, EINVAL, EIO, ETIMEDOUT };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(host); i++) {
                assert_true(host_fault_errno(host[i]));
                assert_true(host_fault_errno(-host[i]));
        }
        for (size_t i = 0; i < ARRAY_SIZE(release); i++) {
                assert_false(host_fault_errno(release[i]));
                assert_false(host_fault_errno(-release[i]));
        }
}

static void test_host_fault_save_load(void **state)
{
        struct host_fault f = { .err = EMFILE, .since_ms = T0, .last_ms = T0 + 5000, .count = 27,
                                .paused_to_ms = T0 + 60000 };
        struct host_fault got;
        struct buf path = BUF_INIT, err = BUF_INIT;

        (void)state;
        tmp_path(&path, "host_fault.json");
        assert_int_equal(host_fault_load(path.data, &got, &err), -ENOENT);
        assert_int_equal(got.err, 0);
        str_copy(f.what, sizeof(f.what), "cannot start job 'readiness demo/2'");
        assert_int_equal(host_fault_save(path.data, &f), 0);
        assert_int_equal(host_fault_load(path.data, &got, &err), 0);
        assert_true(got.err != 0);
        /* The reader shows "what: error" as one line. */
        assert_string_equal(got.what, "cannot start job 'readiness demo/2': Too many open files");
        assert_true(got.since_ms == T0);
        assert_int_equal(got.count, 27);
        assert_true(got.paused_to_ms == T0 + 60000);

        write_file(path.data, "{\"what\": \"x\", \"since\": \"2026-11-26T05:00:00Z\"}\n");
        assert_int_equal(host_fault_load(path.data, &got, &err), -EINVAL);
        assert_non_null(strstr(err.data, "error"));

        assert_int_equal(host_fault_clear(path.data), 0);
        assert_int_equal(host_fault_clear(path.data), 0); /* already gone: fine */
        assert_int_equal(host_fault_load(path.data, &got, &err), -ENOENT);
        buf_release(&path);
        buf_release(&err);
}

static void test_journal(void **state)
{
        struct buf path = BUF_INIT, err = BUF_INIT, text = BUF_INIT;
        struct journal j = {0}, back;
        (void)state;

        tmp_path(&path, "journal.json");
        memset(&back, 0x5a, sizeof(back));
        assert_int_equal(journal_load(path.data, &back, &err), -ENOENT);
        assert_int_equal(((unsigned char *)&back)[0], 0x5a);
        assert_int_equal(err.len, 0);
        assert_int_equal(journal_clear(path.data), 0); /* absent is fine */

        str_copy(j.app, sizeof(j.app), "myapp");
        j.instance = 2;
        str_copy(j.action, sizeof(j.action), "deploy-full");
        str_copy(j.from, sizeof(j.from), "1.0.0");
        str_copy(j.to, sizeof(j.to), "1.0.1");
        str_copy(j.phase, sizeof(j.phase), "rotated");
        j.started_at_ms = T0;
        assert_int_equal(journal_save(path.data, &j), 0);
        assert_mode_0640(path.data);
        assert_int_equal(file_read_all(path.data, 4096, &text), 0);
        assert_string_equal(text.data,
                            "{\"app\":\"myapp\",\"instance\":2,\"action\":\"deploy-full\","
                            "\"from\":\"1.0.0\",\"to\":\"1.0.1\",\"phase\":\"rotated\","
                            "\"started_at\":\"2026-11-26T05:00:00Z\"}\n");
        assert_int_equal(journal_load(path.data, &back, &err), 0);
        assert_string_equal(back.app, "myapp");
        assert_int_equal(back.instance, 2);
        assert_string_equal(back.action, "deploy-full");
        assert_string_equal(back.from, "1.0.0");
        assert_string_equal(back.to, "1.0.1");
        assert_string_equal(back.phase, "rotated");
        assert_int_equal(back.started_at_ms, T0);

        /* A first deploy has no from: null, and back to "". */
        j.from[0] = '\0';
        assert_int_equal(journal_save(path.data, &j), 0);
        assert_int_equal(journal_load(path.data, &back, &err), 0);
        assert_string_equal(back.from, "");

        assert_int_equal(journal_clear(path.data), 0);
        assert_int_equal(access(path.data, F_OK), -1);
        assert_int_equal(journal_load(path.data, &back, &err), -ENOENT);

        /* Corrupted: an error naming the file and the field. */
        write_file(path.data, "{\"app\": \"myapp\", \"instance\": 2, \"action\": \"deploy-full\","
                              " \"phase\": \"rotated\", \"started_at\": \"soon\"}");
        assert_int_equal(journal_load(path.data, &back, &err), -EINVAL);
        buf_reset(&text);
        buf_printf(&text, "%s: started_at: must be a UTC time", path.data);
        assert_non_null(strstr(err.data, text.data));
        buf_reset(&err);
        write_file(path.data, "{\"instance\": 2, \"action\": \"x\", \"phase\": \"y\","
                              " \"started_at\": \"2026-11-26T05:00:00Z\"}");
        assert_int_equal(journal_load(path.data, &back, &err), -EINVAL);
        assert_non_null(strstr(err.data, "journal.json: app: is required"));

        buf_release(&path);
        buf_release(&err);
        buf_release(&text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ghosts_parse_rejects),
                cmocka_unit_test(test_ghosts_parse_accepts),
                cmocka_unit_test(test_ghosts_add_replace_remove),
                cmocka_unit_test_setup_teardown(test_ghosts_save_load, setup, teardown),
                cmocka_unit_test(test_history_kinds),
                cmocka_unit_test(test_history_event_json),
                cmocka_unit_test_setup_teardown(test_history_append_load, setup, teardown),
                cmocka_unit_test_setup_teardown(test_history_malformed_lines, setup, teardown),
                cmocka_unit_test(test_instance_states),
                cmocka_unit_test(test_instance_round_trip),
                cmocka_unit_test(test_instance_parse_rejects),
                cmocka_unit_test_setup_teardown(test_instance_load_dir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
                cmocka_unit_test(test_host_fault_errno),
                cmocka_unit_test_setup_teardown(test_host_fault_save_load, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
