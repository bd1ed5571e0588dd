/* Unit tests: the operator's override file (state/override.c). */
#include <errno.h>
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
#include "state/json.h"
#include "state/override.h"
#include "base/util.h"

#include "base/banned.h"

#define ORIGIN "/etc/deployex/overrides.d/myapp.json"

static size_t count_lines(const char *s)
{
        size_t n = *s ? 1 : 0;

        for (; *s; s++)
                if (*s == '\n' && s[1])
                        n++;
        return n;
}

struct bad_case {
        const char *text;
        const char *want;
        size_t lines;
};

static const struct bad_case bad_cases[] = {
        { "{\"pasued\": true}",
          ORIGIN ": pasued: unknown key (expected version, paused, restart, restart_instances)", 1 },
        { "{\"version\": \"1 0\"}", ORIGIN ": version: must match [A-Za-z0-9._+-]{1,64}, got \"1 0\"", 1 },
        { "{\"version\": 1}", ORIGIN ": version: must be a string (quote it: \"1.0.0\"), got 1", 1 },
        { "{\"paused\": \"yes\"}", ORIGIN ": paused: must be true or false, got \"yes\"", 1 },
        { "{\"paused\": 1}", ORIGIN ": paused: must be true or false, got 1", 1 },
        { "{\"restart\": 5}", ORIGIN ": restart: must be a token of 1 to 64 printable ASCII characters, got 5", 1 },
        { "{\"restart\": \"\"}", "restart: must be a token of 1 to 64", 1 },
        { "{\"restart\": \"tab\\there\"}", "restart: must be a token of 1 to 64", 1 },
        { "{\"restart\": \"caf\\u00e9\"}", "restart: must be a token", 1 },
        { "{\"restart\": \"0123456789012345678901234567890123456789012345678901234567890123X\"}",
          "restart: must be a token of 1 to 64", 1 },
        { "{\"restart_instances\": [\"2\"]}",
          ORIGIN ": restart_instances: must be an object of \"instance\": \"token\", got an array", 1 },
        { "{\"restart_instances\": {\"x\": \"t\"}}",
          ORIGIN ": restart_instances.x: instance must be a positive integer", 1 },
        { "{\"restart_instances\": {\"-1\": \"t\"}}", "restart_instances.-1: instance must be a positive integer", 1 },
        { "{\"restart_instances\": {\"0\": \"t\"}}", "restart_instances.0: instance must be a positive integer", 1 },
        { "{\"restart_instances\": {\"02\": \"t\"}}", "restart_instances.02: instance must be a positive integer", 1 },
        { "{\"restart_instances\": {\"101\": \"t\"}}", "restart_instances.101: instance must be from 1 to 100", 1 },
        { "{\"restart_instances\": {\"99999999999999999999\": \"t\"}}", "instance must be from 1 to 100", 1 },
        { "{\"restart_instances\": {\"2\": 3}}", "restart_instances.2: must be a token", 1 },
        { "{\"restart_instances\": {\"2\": \"a\", \"2\": \"b\"}}", "restart_instances.2: instance 2 is given twice", 1 },
        { "[]", ORIGIN ": must be a JSON object, got an array", 1 },
        /* Duplicates are refused, not "first wins" (issue 10 item 10). */
        { "{\"paused\": true, \"paused\": false}", ORIGIN ": paused: duplicate key", 1 },
        { "{\"version\": \"1.0.0\", \"restart\": \"a\", \"version\": \"2.0.0\"}", "version: duplicate key", 1 },
        /* An unknown key is echoed capped at 80 characters (issue 10 item 12). */
        { "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}",
          ORIGIN ": aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown key", 1 },
        { "{\"paused\": tru}", ORIGIN ": ", 1 },
        /* All problems at once. */
        { "{\"pasued\": true, \"version\": \"\", \"restart\": null, \"restart_instances\": {\"a\": \"1\", \"b\": 2}}",
          "restart_instances.b: must be a token", 4 },
};

static void test_parse_rejects(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
                const struct bad_case *bc = &bad_cases[i];
                struct buf err = BUF_INIT;
                struct override o;
                int r;

                memset(&o, 0x5a, sizeof(o));
                r = override_parse(bc->text, strlen(bc->text), ORIGIN, &o, &err);
                if (r != -EINVAL || !strstr(err.data, bc->want) || count_lines(err.data) != bc->lines)
                        fail_msg("case %zu (%s): ret %d, err \"%s\", want \"%s\" in %zu line(s)", i,
                                 bc->text, r, err.data, bc->want, bc->lines);
                assert_int_equal(((unsigned char *)&o)[0], 0x5a);
                buf_release(&err);
        }
}

struct good_case {
        const char *text;
        const char *version;
        const char *restart;
        size_t ntokens;
        const char *tok[3];
        int inst[3];
        bool paused;
};

static const struct good_case good_cases[] = {
        { "{}", "", "", 0, {NULL}, {0}, false },
        { "", "", "", 0, {NULL}, {0}, false },
        { " \n\t ", "", "", 0, {NULL}, {0}, false },
        { "{\"version\": \"1.0.0\", \"paused\": true, \"restart\": \"any-token\","
          " \"restart_instances\": {\"2\": \"any-token\"}}",
          "1.0.0", "any-token", 1, { "any-token" }, { 2 }, true },
        /* null means "not set"; a token may hold spaces and punctuation. */
        { "{\"version\": null, \"paused\": null, \"restart\": \"2026-11-26 05:00 by ops!\","
          " \"restart_instances\": null}",
          "", "2026-11-26 05:00 by ops!", 0, {NULL}, {0}, false },
        /* Sorted by instance whatever the file's order; a null token is no token. */
        { "{\"paused\": false, \"restart_instances\": {\"10\": \"b\", \"2\": \"a\", \"100\": \"c\", \"3\": null}}",
          "", "", 3, { "a", "b", "c" }, { 2, 10, 100 }, false },
        { "{\"version\": \"\"}", "", "", 0, {NULL}, {0}, false },
};

static void assert_good(const struct good_case *gc, const struct override *o)
{
        assert_string_equal(o->version, gc->version);
        assert_int_equal(o->paused, gc->paused);
        assert_string_equal(o->restart, gc->restart);
        assert_int_equal(o->nrestart_instances, gc->ntokens);
        for (size_t k = 0; k < gc->ntokens; k++) {
                assert_int_equal(o->restart_instances[k].instance, gc->inst[k]);
                assert_string_equal(o->restart_instances[k].token, gc->tok[k]);
                assert_string_equal(override_instance_token(o, gc->inst[k]), gc->tok[k]);
        }
}

static void test_parse_accepts(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(good_cases); i++) {
                struct buf err = BUF_INIT;
                struct override o;

                if (override_parse(good_cases[i].text, strlen(good_cases[i].text), ORIGIN, &o, &err))
                        fail_msg("case %zu: %s", i, err.data);
                assert_good(&good_cases[i], &o);
                assert_null(override_instance_token(&o, 1));
                override_release(&o);
                buf_release(&err);
        }
}

static void test_round_trip(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(good_cases); i++) {
                struct buf err = BUF_INIT, json = BUF_INIT;
                struct override a, b;

                assert_int_equal(override_parse(good_cases[i].text, strlen(good_cases[i].text),
                                                ORIGIN, &a, &err), 0);
                override_to_json(&a, &json);
                if (override_parse(json.data, json.len, "round-trip", &b, &err) != 0)
                        fail_msg("case %zu: %s -> %s", i, json.data, err.data);
                assert_good(&good_cases[i], &b);
                override_release(&a);
                override_release(&b);
                buf_release(&json);
                buf_release(&err);
        }
}

static void test_to_json_emits_only_set_keys(void **state)
{
        struct override o = {0};
        struct buf json = BUF_INIT;
        (void)state;

        override_to_json(&o, &json);
        assert_string_equal(json.data, "{}");

        buf_reset(&json);
        o.paused = true;
        override_to_json(&o, &json);
        assert_string_equal(json.data, "{\"paused\":true}");

        buf_reset(&json);
        str_copy(o.version, sizeof(o.version), "1.0.0");
        str_copy(o.restart, sizeof(o.restart), "t1");
        override_set_instance_token(&o, 3, "x");
        override_set_instance_token(&o, 1, "y");
        override_to_json(&o, &json);
        assert_string_equal(json.data, "{\"version\":\"1.0.0\",\"paused\":true,\"restart\":\"t1\","
                                       "\"restart_instances\":{\"1\":\"y\",\"3\":\"x\"}}");
        override_release(&o);
        buf_release(&json);
}

static void test_instance_tokens(void **state)
{
        struct override o = {0}, copy;
        (void)state;

        assert_null(override_instance_token(&o, 2));
        override_set_instance_token(&o, 2, "a");
        override_set_instance_token(&o, 5, "b");
        override_set_instance_token(&o, 1, "c");
        assert_int_equal(o.nrestart_instances, 3);
        assert_int_equal(o.restart_instances[0].instance, 1);
        assert_int_equal(o.restart_instances[2].instance, 5);
        /* Replace keeps one entry per instance. */
        override_set_instance_token(&o, 2, "a2");
        assert_int_equal(o.nrestart_instances, 3);
        assert_string_equal(override_instance_token(&o, 2), "a2");
        /* Many more than the first allocation holds. */
        for (int n = 6; n <= 100; n++)
                override_set_instance_token(&o, n, "many");
        assert_int_equal(o.nrestart_instances, 98);
        assert_string_equal(override_instance_token(&o, 100), "many");

        /* A deep copy outlives its source. */
        override_copy(&copy, &o);
        assert_ptr_not_equal(copy.restart_instances, o.restart_instances);

        /* NULL or "" removes. */
        override_set_instance_token(&o, 2, NULL);
        override_set_instance_token(&o, 7, "");
        override_set_instance_token(&o, 3, NULL); /* absent: no-op */
        assert_null(override_instance_token(&o, 2));
        assert_null(override_instance_token(&o, 7));
        assert_int_equal(o.nrestart_instances, 96);
        assert_string_equal(override_instance_token(&o, 1), "c");
        assert_string_equal(override_instance_token(&o, 5), "b");
        override_release(&o);
        assert_int_equal(o.nrestart_instances, 0);

        assert_int_equal(copy.nrestart_instances, 98);
        assert_string_equal(override_instance_token(&copy, 2), "a2");
        override_release(&copy);
}

static char tmpdir[64];

static int setup(void **state)
{
        (void)state;
        str_copy(tmpdir, sizeof(tmpdir), "/tmp/deployex-test-override-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        return remove_tree(tmpdir);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* Which files the daemon accepts (DESIGN §8): type, mode, owner. */
static void test_check_file(void **state)
{
        static const struct {
                mode_t mode;
                uid_t uid;
                gid_t gid;
                const char *why; /* NULL: accepted */
        } cases[] = {
                { S_IFREG | 0640, 0, 0, NULL },
                { S_IFREG | 0600, 0, 0, NULL },
                { S_IFREG | 0660, 0, 0, NULL }, /* root's group may write */
                { S_IFREG | 0666, 0, 0, "writable by every user (mode 0666)" },
                { S_IFREG | 0664, 47001, 47002, "writable by group 47002" },
                { S_IFREG | 0640, 47001, 47002, "belongs to uid 47001 and gid 47002" },
                { S_IFIFO | 0640, 0, 0, "not a regular file" },
                { S_IFLNK | 0777, 0, 0, "not a regular file" },
        };
        struct stat st;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct buf why = BUF_INIT;

                memset(&st, 0, sizeof(st));
                st.st_mode = cases[i].mode;
                st.st_uid = cases[i].uid;
                st.st_gid = cases[i].gid;
                if (!cases[i].why) {
                        assert_int_equal(override_check_file(&st, &why), 0);
                } else {
                        assert_int_equal(override_check_file(&st, &why), -EPERM);
                        assert_non_null(strstr(why.data, cases[i].why));
                }
                buf_release(&why);
        }
        /* This process's own files are accepted: a daemon run by hand as its user. */
        struct buf why = BUF_INIT;

        memset(&st, 0, sizeof(st));
        st.st_mode = S_IFREG | 0640;
        st.st_uid = geteuid();
        st.st_gid = 47002;
        assert_int_equal(override_check_file(&st, &why), 0);
        buf_release(&why);
}

static void test_load_and_save(void **state)
{
        struct buf path = BUF_INIT, err = BUF_INIT, text = BUF_INIT;
        struct override o, back;
        struct stat st;
        (void)state;

        buf_printf(&path, "%s/myapp.json", tmpdir);

        /* Absent: -ENOENT, an empty override, no message. */
        memset(&o, 0x5a, sizeof(o));
        assert_int_equal(override_load(path.data, &o, &err), -ENOENT);
        assert_string_equal(o.version, "");
        assert_false(o.paused);
        assert_int_equal(o.nrestart_instances, 0);
        assert_null(o.restart_instances);
        assert_int_equal(err.len, 0);

        /* Save, then load the same thing back; the file is 0640 and ends with a newline. */
        str_copy(o.version, sizeof(o.version), "1.2.3");
        o.paused = true;
        override_set_instance_token(&o, 4, "tok");
        assert_int_equal(override_save(path.data, &o), 0);
        assert_int_equal(stat(path.data, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        assert_int_equal(file_read_all(path.data, 4096, &text), 0);
        assert_string_equal(text.data,
                            "{\"version\":\"1.2.3\",\"paused\":true,\"restart_instances\":{\"4\":\"tok\"}}\n");
        assert_int_equal(override_load(path.data, &back, &err), 0);
        assert_string_equal(back.version, "1.2.3");
        assert_true(back.paused);
        assert_string_equal(override_instance_token(&back, 4), "tok");
        override_release(&back);
        override_release(&o);

        /* A malformed file names itself and the field. */
        write_file(path.data, "{\"paused\": \"no\"}");
        memset(&o, 0x5a, sizeof(o));
        assert_int_equal(override_load(path.data, &o, &err), -EINVAL);
        buf_reset(&text);
        buf_printf(&text, "%s: paused: must be true or false, got \"no\"", path.data);
        assert_string_equal(err.data, text.data);
        assert_int_equal(((unsigned char *)&o)[0], 0x5a);

        /* A directory in its place cannot be read. */
        buf_reset(&err);
        assert_int_equal(unlink(path.data), 0);
        assert_int_equal(mkdir(path.data, 0700), 0);
        assert_true(override_load(path.data, &o, &err) < 0);
        assert_non_null(strstr(err.data, path.data));
        assert_int_equal(rmdir(path.data), 0);

        buf_release(&path);
        buf_release(&err);
        buf_release(&text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_rejects),
                cmocka_unit_test(test_parse_accepts),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_to_json_emits_only_set_keys),
                cmocka_unit_test(test_instance_tokens),
                cmocka_unit_test(test_check_file),
                cmocka_unit_test_setup_teardown(test_load_and_save, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
