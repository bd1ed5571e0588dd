/*
 * tls (state/): tls_init's files pass tls_check; each kind of bad file is
 * one problem naming the field; the options file quotes paths as Erlang
 * strings and is rewritten only when its text changes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/json.h"
#include "state/tls.h"
#include "base/banned.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
        (void)state;
        str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_tls.XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        struct buf cmd = BUF_INIT;
        int r;

        (void)state;
        buf_printf(&cmd, "rm -rf '%s'", tmpdir);
        r = system(cmd.data);
        buf_release(&cmd);
        return r == 0 ? 0 : -1;
}

/* A config whose tls names DIR's node files and CA_DIR's CA. */
static void tls_config(struct config *c, const char *dir, const char *ca_dir)
{
        struct buf p = BUF_INIT;

        memset(c, 0, sizeof(*c));
        c->origin = xstrdup("test.json");
        c->var_path = xstrdup(tmpdir);
        c->has_tls = true;
        buf_printf(&p, "%s/node-cert.pem", dir);
        c->tls_cert = buf_detach(&p);
        buf_printf(&p, "%s/node-key.pem", dir);
        c->tls_key = buf_detach(&p);
        buf_printf(&p, "%s/ca-cert.pem", ca_dir);
        c->tls_ca = buf_detach(&p);
}

static void make_pki(const char *name, unsigned days, struct buf *ret_dir)
{
        static const char *const hosts[] = { "h1", "h1.example.org" };
        struct buf err = BUF_INIT;

        buf_reset(ret_dir);
        buf_printf(ret_dir, "%s/%s", tmpdir, name);
        assert_int_equal(tls_init(ret_dir->data, days, hosts, 2, &err), 0);
        assert_string_equal(err.data, "");
        buf_release(&err);
}

static void test_init_files_pass_check(void **state)
{
        struct buf dir = BUF_INIT, problems = BUF_INIT, warnings = BUF_INIT, err = BUF_INIT, p = BUF_INIT;
        static const char *const hosts[] = { "h1" };
        struct config c;
        struct stat st;

        (void)state;
        make_pki("good", 400, &dir);
        for (const char *const *f = (const char *const[]){ "ca-key", "ca-cert", "node-key", "node-cert", NULL }; *f; f++) {
                buf_reset(&p);
                buf_printf(&p, "%s/%s.pem", dir.data, *f);
                assert_int_equal(stat(p.data, &st), 0);
                assert_int_equal(st.st_mode & 0777, 0600);
        }
        tls_config(&c, dir.data, dir.data);
        assert_int_equal(tls_check(&c, &problems, &warnings), 0);
        assert_string_equal(problems.data, "");
        assert_string_equal(warnings.data, "");
        /* Never over an existing set. */
        assert_int_equal(tls_init(dir.data, 10, hosts, 1, &err), -EEXIST);
        assert_non_null(strstr(err.data, "ca-key.pem' exists"));
        config_release(&c);
        buf_release(&dir);
        buf_release(&problems);
        buf_release(&warnings);
        buf_release(&err);
        buf_release(&p);
}

static void test_check_finds_each_problem(void **state)
{
        struct buf a = BUF_INIT, b = BUF_INIT, problems = BUF_INIT, warnings = BUF_INIT, p = BUF_INIT;
        struct config c;

        (void)state;
        make_pki("a", 10, &a);
        make_pki("b", 400, &b);

        /* a's node files, b's CA: does not chain; a expires in 10 days: a warning only. */
        tls_config(&c, a.data, b.data);
        assert_int_equal(tls_check(&c, &problems, &warnings), 1);
        assert_non_null(strstr(problems.data, "test.json: tls.cert: "));
        assert_non_null(strstr(problems.data, "does not chain to the CA"));
        assert_non_null(strstr(warnings.data, "(in 10 days): renew it soon"));
        config_release(&c);

        /* a's certificate with b's key: no match; a group-readable key. */
        buf_reset(&problems);
        tls_config(&c, a.data, a.data);
        free(c.tls_key);
        buf_printf(&p, "%s/node-key.pem", b.data);
        c.tls_key = buf_detach(&p);
        assert_int_equal(chmod(c.tls_key, 0640), 0);
        assert_int_equal(tls_check(&c, &problems, &warnings), 2);
        assert_non_null(strstr(problems.data, "tls.key: '"));
        assert_non_null(strstr(problems.data, "can be read by other users (mode 0640)"));
        assert_non_null(strstr(problems.data, "does not match the certificate"));
        config_release(&c);

        /* A missing file and a file that is not PEM. */
        buf_reset(&problems);
        tls_config(&c, a.data, a.data);
        free(c.tls_ca);
        c.tls_ca = xstrdup("/nonexistent/ca.pem");
        free(c.tls_cert);
        buf_printf(&p, "%s/ca-key.pem", a.data);
        c.tls_cert = buf_detach(&p);
        assert_true(tls_check(&c, &problems, &warnings) >= 2);
        assert_non_null(strstr(problems.data, "tls.ca: cannot read '/nonexistent/ca.pem': No such file"));
        assert_non_null(strstr(problems.data, "is not a PEM certificate"));
        config_release(&c);

        buf_release(&a);
        buf_release(&b);
        buf_release(&problems);
        buf_release(&warnings);
        buf_release(&p);
}

static void test_dist_file(void **state)
{
        struct buf path = BUF_INIT, err = BUF_INIT, text = BUF_INIT;
        struct config c;
        struct stat st1, st2;

        (void)state;
        tls_config(&c, "/etc/dx \"q\"", "/etc/back\\slash");
        assert_int_equal(tls_dist_write(&c, "myapp", &path, &err), 0);
        assert_non_null(strstr(path.data, "/tls/myapp.ssl_dist.conf"));
        assert_int_equal(stat(path.data, &st1), 0);
        assert_int_equal(st1.st_mode & 0777, 0600);
        assert_int_equal(file_read_all(path.data, 65536, &text), 0);
        assert_non_null(strstr(text.data, "{certfile, \"/etc/dx \\\"q\\\"/node-cert.pem\"}"));
        assert_non_null(strstr(text.data, "{cacertfile, \"/etc/back\\\\slash/ca-cert.pem\"}"));
        assert_non_null(strstr(text.data, " {server, ["));
        assert_non_null(strstr(text.data, " {client, ["));
        /* The same text: the file is left alone (same inode). */
        assert_int_equal(tls_dist_write(&c, "myapp", &path, &err), 0);
        assert_int_equal(stat(path.data, &st2), 0);
        assert_int_equal(st1.st_ino, st2.st_ino);
        config_release(&c);
        buf_release(&path);
        buf_release(&err);
        buf_release(&text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_init_files_pass_check),
                cmocka_unit_test(test_check_finds_each_problem),
                cmocka_unit_test(test_dist_file),
        };

        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
