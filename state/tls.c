/*
 * tls: the options file of TLS distribution.  See tls.h.  No OpenSSL here:
 * the hook runner writes this file and links no OpenSSL; the checks of the
 * configured files are tls_check.c.
 */
#include "state/tls.h"
#include "state/app_user.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/banned.h"

#define DIST_FILE_MAX 65536

/* s as an Erlang string literal. */
static void erl_string(struct buf *out, const char *s)
{
        buf_putc(out, '"');
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        buf_putc(out, '\\');
                buf_putc(out, *s);
        }
        buf_putc(out, '"');
}

static void side(struct buf *out, const struct config *c, const char *name)
{
        buf_printf(out, " {%s, [{certfile, ", name);
        erl_string(out, c->tls_cert);
        buf_puts(out, "},\n           {keyfile, ");
        erl_string(out, c->tls_key);
        buf_puts(out, "},\n           {cacertfile, ");
        erl_string(out, c->tls_ca);
        /* fail_if_no_peer_cert matters to the server side; OTP 25 accepts it on both. */
        buf_puts(out, "},\n           {verify, verify_peer}, {fail_if_no_peer_cert, true},\n"
                      "           {secure_renegotiate, true}]}");
}

void tls_dist_text(const struct config *c, struct buf *out)
{
        buf_puts(out, "%% deployex: TLS distribution options (-ssl_dist_optfile), from the \"tls\"\n"
                      "%% configuration; rewritten when it changes.\n[");
        side(out, c, "server");
        buf_puts(out, ",\n");
        side(out, c, "client");
        buf_puts(out, "].\n");
}

int tls_dist_write(const struct config *c, const char *app, struct buf *ret_path, struct buf *err)
{
        struct buf want = BUF_INIT, have = BUF_INIT, dir = BUF_INIT;
        const struct app_config *a;
        int r;

        path_tls_dist_file(c, app, ret_path);
        tls_dist_text(c, &want);
        buf_printf(&dir, "%.*s", (int)(strrchr(ret_path->data, '/') - ret_path->data), ret_path->data);
        if (file_read_all(ret_path->data, DIST_FILE_MAX, &have) == 0 && have.len == want.len &&
            memcmp(have.data, want.data, want.len) == 0) {
                r = 0;
                goto owner;
        }
        if ((r = mkdir_p(dir.data, 0700)) < 0) {
                buf_printf(err, "cannot create '%s': %s", dir.data, strerror(-r));
                goto out;
        }
        if ((r = atomic_write_file_mode(ret_path->data, want.data, want.len, 0600)) < 0) {
                buf_printf(err, "cannot write '%s': %s", ret_path->data, strerror(-r));
                goto out;
        }
owner:
        /*
         * The app's VMs read it as the app's user (DESIGN §8): theirs, 0600,
         * in a directory others may pass through but not list.
         */
        if ((a = config_find_app(c, app)) && a->ids && geteuid() == 0) {
                if ((r = app_user_let_through(c->var_path)) < 0 ||
                    (r = app_user_let_through(dir.data)) < 0 ||
                    (r = app_user_chown(a, ret_path->data)) < 0)
                        buf_printf(err, "cannot give '%s' to user %s: %s", ret_path->data, a->user,
                                   strerror(-r));
        }
out:
        buf_release(&want);
        buf_release(&have);
        buf_release(&dir);
        return r;
}
