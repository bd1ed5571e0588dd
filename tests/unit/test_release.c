/* Unit tests: the current.json codec (state/release.c). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/json.h"
#include "state/release.h"
#include "base/util.h"

#include "base/banned.h"

#define ORIGIN "/srv/b/versions/app/prod/current.json"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

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
        const char *want;   /* substring of the one-line message */
        size_t lines;       /* problems reported */
};

static const struct bad_case bad_cases[] = {
        { "{\"version\": \"1 0\"}",
          ORIGIN ": version: must match [A-Za-z0-9._+-]{1,64}, got \"1 0\"", 1 },
        { "{}", ORIGIN ": version: is required", 1 },
        { "{\"version\": null}", ORIGIN ": version: must be a string, got null", 1 },
        { "{\"version\": \"\"}", ORIGIN ": version: must match", 1 },
        { "{\"version\": 101}", ORIGIN ": version: must be a string (quote it: \"1.0.0\"), got 101", 1 },
        { "{\"version\": \"1.0/../../etc\"}", "version: must match", 1 },
        { "{\"version\": \"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\"}",
          "version: must match", 1 },
        { "{\"version\": \"1.0\", \"hash\": 7}", ORIGIN ": hash: must be a string, got 7", 1 },
        { "{\"version\": \"1.0\", \"hash\": \"a\\nb\"}", "hash: must be free of control characters", 1 },
        { "{\"version\": \"1.0\", \"sha256\": \"abc\"}",
          ORIGIN ": sha256: must be 64 hexadecimal characters, got \"abc\"", 1 },
        { "{\"version\": \"1.0\", \"sha256\": \"" HEX64 "0\"}", "sha256: must be", 1 },
        { "{\"version\": \"1.0\", \"sha256\": \"g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
          "sha256: must be 64 hexadecimal characters", 1 },
        { "{\"version\": \"1.0\", \"pre_commands\": \"eval X\"}",
          ORIGIN ": pre_commands: must be an array of strings, got \"eval X\"", 1 },
        { "{\"version\": \"1.0\", \"pre_commands\": [\"ok\", 3]}",
          ORIGIN ": pre_commands[1]: must be a string, got 3", 1 },
        { "{\"version\": \"1.0\", \"pre_commands\": [\"\"]}", "pre_commands[0]: must not be empty", 1 },
        { "{\"version\": \"1.0\", \"pre_commands\": [\"a\\nb\"]}",
          "pre_commands[0]: must not contain a newline", 1 },
        { "{\"version\": \"1.0\", \"pre_commands\": [\"a\\u0000b\"]}",
          ORIGIN ": contains an escaped NUL character", 1 },
        { "[1, 2]", ORIGIN ": must be a JSON object, got an array", 1 },
        { "{\"version\": \"1.0\"", ORIGIN ": ", 1 },
        /* Every problem is reported, one line each. */
        { "{\"version\": \"x y\", \"hash\": [], \"sha256\": 1}", "sha256: must be", 3 },
};

static void test_parse_rejects(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
                const struct bad_case *bc = &bad_cases[i];
                struct buf err = BUF_INIT;
                struct release_desc r;
                int ret;

                memset(&r, 0x5a, sizeof(r));
                ret = release_desc_parse(bc->text, strlen(bc->text), ORIGIN, &r, &err);
                if (ret != -EINVAL || !strstr(err.data, bc->want) ||
                    count_lines(err.data) != bc->lines || strchr(err.data, '\n') == err.data)
                        fail_msg("case %zu (%s): ret %d, err \"%s\", want \"%s\" in %zu line(s)", i,
                                 bc->text, ret, err.data, bc->want, bc->lines);
                /* Untouched on failure. */
                assert_int_equal(((unsigned char *)&r)[0], 0x5a);
                assert_int_equal(((unsigned char *)&r)[sizeof(r) - 1], 0x5a);
                buf_release(&err);
        }
}

static void test_parse_limits(void **state)
{
        struct buf text = BUF_INIT, err = BUF_INIT;
        struct release_desc r = {0};
        (void)state;

        /* 32 pre-commands are fine, 33 are not. */
        buf_puts(&text, "{\"version\": \"1\", \"pre_commands\": [");
        for (int i = 0; i < PRE_COMMANDS_MAX; i++)
                buf_printf(&text, "%s\"eval Mod.step%d()\"", i ? ", " : "", i);
        buf_puts(&text, "]}");
        assert_int_equal(release_desc_parse(text.data, text.len, ORIGIN, &r, &err), 0);
        assert_int_equal(r.npre_commands, PRE_COMMANDS_MAX);
        assert_string_equal(r.pre_commands[31], "eval Mod.step31()");
        release_desc_release(&r);

        buf_reset(&text);
        buf_puts(&text, "{\"version\": \"1\", \"pre_commands\": [");
        for (int i = 0; i <= PRE_COMMANDS_MAX; i++)
                buf_printf(&text, "%s\"x\"", i ? ", " : "");
        buf_puts(&text, "]}");
        assert_int_equal(release_desc_parse(text.data, text.len, ORIGIN, &r, &err), -EINVAL);
        assert_non_null(strstr(err.data, "pre_commands: must have at most 32 entries, got 33"));

        /* A command of 4096 bytes is fine, 4097 is not. */
        for (int len = PRE_COMMAND_LEN_MAX; len <= PRE_COMMAND_LEN_MAX + 1; len++) {
                buf_reset(&text);
                buf_reset(&err);
                buf_puts(&text, "{\"version\": \"1\", \"pre_commands\": [\"");
                for (int i = 0; i < len; i++)
                        buf_putc(&text, 'e');
                buf_puts(&text, "\"]}");
                if (len == PRE_COMMAND_LEN_MAX) {
                        assert_int_equal(release_desc_parse(text.data, text.len, ORIGIN, &r, &err), 0);
                        assert_int_equal(strlen(r.pre_commands[0]), PRE_COMMAND_LEN_MAX);
                        release_desc_release(&r);
                } else {
                        assert_int_equal(release_desc_parse(text.data, text.len, ORIGIN, &r, &err),
                                         -EINVAL);
                        assert_non_null(strstr(err.data, "pre_commands[0]: must be at most 4096 bytes"));
                }
        }

        /* Bounded input: more than JSON_MAX_BYTES is refused before parsing. */
        buf_reset(&text);
        buf_reset(&err);
        buf_puts(&text, "{\"version\": \"1\", \"pad\": \"");
        while (text.len <= JSON_MAX_BYTES)
                buf_puts(&text, "pppppppppppppppp");
        buf_puts(&text, "\"}");
        assert_int_equal(release_desc_parse(text.data, text.len, ORIGIN, &r, &err), -EFBIG);
        assert_non_null(strstr(err.data, ORIGIN ": "));

        buf_release(&text);
        buf_release(&err);
}

struct good_case {
        const char *text;
        const char *version, *hash, *sha256;
        size_t npre;
        const char *pre0;
};

static const struct good_case good_cases[] = {
        { "{\"version\": \"1.0.1\"}", "1.0.1", "", "", 0, NULL },
        { "{\"version\": \"1.0.1-rc.1+build_7\", \"hash\": \"abc\", \"pre_commands\": [\"eval M.f()\"],"
          " \"sha256\": \"" HEX64 "\"}",
          "1.0.1-rc.1+build_7", "abc", HEX64, 1, "eval M.f()" },
        /* Uppercase hex is accepted and normalised; unknown keys are ignored. */
        { "{\"version\": \"2\", \"sha256\": \"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789ABCDEF\","
          " \"built_by\": \"ci\", \"extra\": {\"a\": [1]}}",
          "2", "", HEX64, 0, NULL },
        /* Optional keys may be null; an empty pre_commands list is no list. */
        { "{\"version\": \"3\", \"hash\": null, \"sha256\": null, \"pre_commands\": null}", "3", "", "", 0, NULL },
        { "{\"version\": \"3\", \"pre_commands\": []}", "3", "", "", 0, NULL },
        { "{\"version\": \"3\", \"hash\": \"\"}", "3", "", "", 0, NULL },
};

static void test_parse_accepts(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(good_cases); i++) {
                const struct good_case *gc = &good_cases[i];
                struct buf err = BUF_INIT;
                struct release_desc r;

                if (release_desc_parse(gc->text, strlen(gc->text), ORIGIN, &r, &err) != 0)
                        fail_msg("case %zu: %s", i, err.data);
                assert_string_equal(r.version, gc->version);
                assert_string_equal(r.hash, gc->hash);
                assert_string_equal(r.sha256, gc->sha256);
                assert_int_equal(r.npre_commands, gc->npre);
                if (gc->pre0)
                        assert_string_equal(r.pre_commands[0], gc->pre0);
                assert_int_equal(err.len, 0);
                release_desc_release(&r);
                buf_release(&err);
        }
}

static void assert_release_equal(const struct release_desc *a, const struct release_desc *b)
{
        assert_string_equal(a->version, b->version);
        assert_string_equal(a->hash, b->hash);
        assert_string_equal(a->sha256, b->sha256);
        assert_int_equal(a->npre_commands, b->npre_commands);
        for (size_t i = 0; i < a->npre_commands; i++)
                assert_string_equal(a->pre_commands[i], b->pre_commands[i]);
}

static void test_round_trip(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(good_cases); i++) {
                struct release_desc a, b;
                struct buf json = BUF_INIT, err = BUF_INIT;

                assert_int_equal(release_desc_parse(good_cases[i].text, strlen(good_cases[i].text),
                                                    ORIGIN, &a, &err), 0);
                release_desc_to_json(&a, &json);
                if (release_desc_parse(json.data, json.len, "round-trip", &b, &err) != 0)
                        fail_msg("case %zu: %s -> %s", i, json.data, err.data);
                assert_release_equal(&a, &b);
                release_desc_release(&a);
                release_desc_release(&b);
                buf_release(&json);
                buf_release(&err);
        }
}

static void test_to_json_shape(void **state)
{
        struct release_desc r = {0};
        char *cmds[] = { "eval \"quoted\" \\ back", "eval M.g()" };
        struct buf json = BUF_INIT;
        (void)state;

        str_copy(r.version, sizeof(r.version), "1.0");
        release_desc_to_json(&r, &json);
        /* Only what is set. */
        assert_string_equal(json.data, "{\"version\":\"1.0\"}");

        buf_reset(&json);
        str_copy(r.hash, sizeof(r.hash), "abc");
        str_copy(r.sha256, sizeof(r.sha256), HEX64);
        r.pre_commands = cmds;
        r.npre_commands = 2;
        release_desc_to_json(&r, &json);
        assert_string_equal(json.data,
                            "{\"version\":\"1.0\",\"hash\":\"abc\",\"sha256\":\"" HEX64 "\","
                            "\"pre_commands\":[\"eval \\\"quoted\\\" \\\\ back\",\"eval M.g()\"]}");
        buf_release(&json);
}

static void test_copy_is_deep(void **state)
{
        const char *text = "{\"version\": \"1\", \"hash\": \"h\", \"pre_commands\": [\"a\", \"b\"]}";
        struct release_desc a, b;
        struct buf err = BUF_INIT;
        (void)state;

        assert_int_equal(release_desc_parse(text, strlen(text), ORIGIN, &a, &err), 0);
        release_desc_copy(&b, &a);
        assert_ptr_not_equal(a.pre_commands, b.pre_commands);
        assert_ptr_not_equal(a.pre_commands[0], b.pre_commands[0]);
        release_desc_release(&a);
        /* b outlives a (ASan would catch a shared pointer). */
        assert_string_equal(b.pre_commands[1], "b");
        assert_string_equal(b.hash, "h");
        release_desc_release(&b);
        /* Released twice is harmless: release zeroes. */
        release_desc_release(&b);
        assert_int_equal(b.npre_commands, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_rejects),
                cmocka_unit_test(test_parse_limits),
                cmocka_unit_test(test_parse_accepts),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_to_json_shape),
                cmocka_unit_test(test_copy_is_deep),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
