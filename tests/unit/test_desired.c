/*
 * desired_merge: the table of how current.json, the override and the ghosts
 * combine into the desired state, with errors kept alongside.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "reconciler/core/desired_merge.h"
#include "reconciler/shared/desired_load.h"
#include "state/desired.h"
#include "base/fsutil.h"
#include "buckets/source.h"
#include "base/banned.h"

struct merge_case {
        const char *name;
        const char *source_version; /* NULL: no current.json */
        const char *source_error;
        const char *pin;            /* NULL: no override file */
        bool paused;
        const char *override_error;
        const char *ghost;          /* a ghosted version, or NULL */
        /* expected */
        enum desired_origin origin;
        const char *version;
        bool ghosted;
        const char *error_part;     /* NULL: error must be NULL */
        const char *hash;           /* expected hash */
};

static const struct merge_case cases[] = {
        { "nothing published", NULL, NULL, NULL, false, NULL, NULL,
          DESIRED_NONE, "", false, NULL, "" },
        { "published", "1.0.1", NULL, NULL, false, NULL, NULL,
          DESIRED_SOURCE, "1.0.1", false, NULL, "h-1.0.1" },
        { "pin wins over source", "1.0.1", NULL, "1.0.0", false, NULL, NULL,
          DESIRED_OVERRIDE, "1.0.0", false, NULL, "" },
        { "pin to the published version keeps its hash", "1.0.1", NULL, "1.0.1", false, NULL,
          NULL, DESIRED_OVERRIDE, "1.0.1", false, NULL, "h-1.0.1" },
        { "pin with nothing published", NULL, NULL, "0.9.0", false, NULL, NULL,
          DESIRED_OVERRIDE, "0.9.0", false, NULL, "" },
        { "paused without pin follows source", "1.0.1", NULL, NULL, true, NULL, NULL,
          DESIRED_SOURCE, "1.0.1", false, NULL, "h-1.0.1" },
        { "ghosted source version", "1.0.1", NULL, NULL, false, NULL, "1.0.1",
          DESIRED_SOURCE, "1.0.1", true, "version 1.0.1 is ghosted", "h-1.0.1" },
        { "pin to a ghost is refused", "1.0.1", NULL, "1.0.0", false, NULL, "1.0.0",
          DESIRED_OVERRIDE, "1.0.0", true, "pinned version 1.0.0 is ghosted", "" },
        { "other ghost does not matter", "1.0.1", NULL, NULL, false, NULL, "1.0.0",
          DESIRED_SOURCE, "1.0.1", false, NULL, "h-1.0.1" },
        { "bad current.json keeps last good", "1.0.0", "current.json: version: bad", NULL,
          false, NULL, NULL, DESIRED_SOURCE, "1.0.0", false, "current.json: version: bad",
          "h-1.0.0" },
        { "bad current.json, no last good", NULL, "current.json: not found", NULL, false, NULL,
          NULL, DESIRED_NONE, "", false, "not found", "" },
        { "both errors kept", "1.0.0", "source down", "0.9.0", false, "x.json: pasued: unknown",
          NULL, DESIRED_OVERRIDE, "0.9.0", false, "source down; x.json: pasued: unknown", "" },
};

static void test_merge_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct merge_case *c = &cases[i];
                struct release_desc src;
                struct override ov;
                struct ghost_list ghosts;
                struct ghost g;
                struct desired d;

                memset(&src, 0, sizeof(src));
                memset(&ov, 0, sizeof(ov));
                memset(&ghosts, 0, sizeof(ghosts));
                memset(&g, 0, sizeof(g));
                if (c->source_version) {
                        str_copy(src.version, sizeof(src.version), c->source_version);
                        snprintf(src.hash, sizeof(src.hash), "h-%s", c->source_version);
                }
                if (c->pin)
                        str_copy(ov.version, sizeof(ov.version), c->pin);
                ov.paused = c->paused;
                if (c->ghost) {
                        str_copy(g.version, sizeof(g.version), c->ghost);
                        str_copy(g.reason, sizeof(g.reason), "not ready");
                        ghosts_add(&ghosts, &g);
                }
                desired_merge(c->source_version ? &src : NULL, c->source_error,
                              c->pin || c->paused ? &ov : NULL, c->override_error, &ghosts, &d);

                print_message("case: %s\n", c->name);
                assert_int_equal(d.origin, c->origin);
                assert_string_equal(d.release.version, c->version);
                assert_string_equal(d.release.hash, c->hash);
                assert_int_equal(d.ghosted, c->ghosted);
                assert_int_equal(d.override.paused, c->paused);
                if (c->error_part) {
                        assert_non_null(d.error);
                        assert_non_null(strstr(d.error, c->error_part));
                } else {
                        assert_null(d.error);
                }
                desired_release(&d);
                ghosts_release(&ghosts);
        }
}

static void test_merge_keeps_tokens(void **state)
{
        struct override ov;
        struct desired d;

        (void)state;
        memset(&ov, 0, sizeof(ov));
        str_copy(ov.restart, sizeof(ov.restart), "tok-1");
        override_set_instance_token(&ov, 2, "tok-2");
        desired_merge(NULL, NULL, &ov, NULL, NULL, &d);
        assert_string_equal(d.override.restart, "tok-1");
        assert_string_equal(override_instance_token(&d.override, 2), "tok-2");
        assert_null(override_instance_token(&d.override, 1));
        desired_release(&d);
        override_release(&ov);
}


/* desired_load: last good current.json and override stay in force, errors alongside. */
static void write_file(const char *dir, const char *rel, const char *text)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        assert_int_equal(atomic_write_file(path, text, strlen(text)), 0);
}

static void test_load_keeps_last_good(void **state)
{
        char root[] = "/tmp/deployex-desired.XXXXXX";
        char dir[600], source[600], var[600], overrides[600];
        struct app_config app;
        struct config c;
        struct source *src = NULL;
        struct buf err = BUF_INIT;
        struct desired d;

        (void)state;
        assert_non_null(mkdtemp(root));
        snprintf(dir, sizeof(dir), "%s/bucket/versions/myapp/prod", root);
        snprintf(source, sizeof(source), "file://%s/bucket", root);
        snprintf(var, sizeof(var), "%s/var", root);
        snprintf(overrides, sizeof(overrides), "%s/overrides", root);
        assert_int_equal(mkdir_p(dir, 0700), 0);
        assert_int_equal(mkdir_p(overrides, 0700), 0);
        memset(&c, 0, sizeof(c));
        memset(&app, 0, sizeof(app));
        c.origin = (char *)"test";
        c.env = (char *)"prod";
        c.source = source;
        c.var_path = var;
        c.overrides_path = overrides;
        app.name = (char *)"myapp";
        assert_int_equal(source_open(&c, &src, &err), 0);

        /* Good inputs: taken, and remembered (persist). */
        write_file(dir, "current.json", "{\"version\": \"1.0.0\", \"hash\": \"aaa\"}");
        write_file(overrides, "myapp.json", "{\"paused\": true}");
        desired_load(&c, &app, src, NULL, true, &d);
        assert_string_equal(d.release.version, "1.0.0");
        assert_true(d.override.paused);
        assert_null(d.error);
        desired_release(&d);

        /* Broken inputs: the last good values stay in force, the errors are shown. */
        write_file(dir, "current.json", "{\"version\": ");
        write_file(overrides, "myapp.json", "{\"paused\": \"yes\"}");
        desired_load(&c, &app, src, NULL, false, &d);
        assert_string_equal(d.release.version, "1.0.0");
        assert_string_equal(d.release.hash, "aaa");
        assert_true(d.override.paused);
        assert_non_null(d.error);
        assert_non_null(strstr(d.error, "current.json"));
        assert_non_null(strstr(d.error, "paused"));
        desired_release(&d);

        /* Unchanged current.json (same etag) still yields the stored release. */
        write_file(dir, "current.json", "{\"version\": \"1.0.2\"}");
        desired_load(&c, &app, src, NULL, true, &d);
        assert_string_equal(d.release.version, "1.0.2");
        desired_release(&d);
        desired_load(&c, &app, src, NULL, true, &d);
        assert_string_equal(d.release.version, "1.0.2");
        desired_release(&d);

        /* No fetch (a remote source polled elsewhere): the last good value, with its error. */
        desired_load(&c, &app, NULL, "s3: 503 Service Unavailable", false, &d);
        assert_string_equal(d.release.version, "1.0.2");
        assert_non_null(strstr(d.error, "503"));
        desired_release(&d);

        source_free(src);
        buf_release(&err);
        assert_int_equal(remove_tree(root), 0);
}

/* Pre-commands are done once per version and sha256: other bytes start afresh. */
static void test_pre_commands_once_per_bytes(void **state)
{
        char root[] = "/tmp/deployex-desired.XXXXXX";
        char var[600], path[700];
        struct config c;
        struct release_desc r;
        struct stat before, after;
        uint64_t at = 0;

        (void)state;
        assert_non_null(mkdtemp(root));
        snprintf(var, sizeof(var), "%s/var", root);
        memset(&c, 0, sizeof(c));
        c.var_path = var;
        memset(&r, 0, sizeof(r));
        snprintf(r.version, sizeof(r.version), "1.0.1");
        snprintf(r.sha256, sizeof(r.sha256), "%064d", 1);

        assert_int_equal(desired_pre_commands_done(&c, "myapp", "1.0.1", &at), 0);
        assert_int_equal(desired_mark_pre_commands_done(&c, "myapp", "1.0.1", 5000), -ENOENT);
        assert_int_equal(desired_remember_release(&c, "myapp", &r), 0);
        assert_int_equal(desired_pre_commands_done(&c, "myapp", "1.0.1", &at), 0);
        assert_int_equal(desired_mark_pre_commands_done(&c, "myapp", "1.0.1", 5000), 0);
        assert_int_equal(desired_pre_commands_done(&c, "myapp", "1.0.1", &at), 1);
        assert_true(at == 5000);
        /* The next instance's deployment remembers the same release: still done, */
        snprintf(path, sizeof(path), "%s/state/myapp/releases/1.0.1.json", var);
        assert_int_equal(stat(path, &before), 0);
        assert_int_equal(desired_remember_release(&c, "myapp", &r), 0);
        assert_int_equal(desired_pre_commands_done(&c, "myapp", "1.0.1", &at), 1);
        /* and the same bytes are not written again (a rename would give a new inode). */
        assert_int_equal(stat(path, &after), 0);
        assert_true(before.st_ino == after.st_ino);
        /* A republish with other bytes is a new version for the pre-commands. */
        snprintf(r.sha256, sizeof(r.sha256), "%064d", 2);
        assert_int_equal(desired_remember_release(&c, "myapp", &r), 0);
        assert_int_equal(desired_pre_commands_done(&c, "myapp", "1.0.1", &at), 0);
        assert_int_equal(desired_pre_commands_done(&c, "myapp", "9.9.9", &at), 0);
        assert_int_equal(remove_tree(root), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_merge_table),
                cmocka_unit_test(test_merge_keeps_tokens),
                cmocka_unit_test(test_load_keeps_last_good),
                cmocka_unit_test(test_pre_commands_once_per_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
