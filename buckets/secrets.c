/*
 * secrets: the payload parser and the environment adapter (secrets.h).  The
 * store adapters, which speak HTTPS, are in secrets_store.c: this file links
 * with libc and yajl alone, so that the daemon (deployexd) can read secrets
 * that `deployex run` fetched for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state/json.h"
#include "buckets/secrets.h"
#include "state/secret_env.h"
#include "base/banned.h"

#define COOKIE_MAX 255

#define KEY_COOKIE SECRET_ENV_COOKIE
#define KEY_HASH SECRET_ENV_PASSWORD_HASH
#define KEY_BASE SECRET_ENV_KEY_BASE

static void wipe_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

void secrets_wipe_buf(struct buf *b)
{
        if (b->cap)
                explicit_bzero(b->data, b->cap);
        buf_release(b);
}

void secrets_release(struct secrets *s)
{
        wipe_free(s->erlang_cookie);
        wipe_free(s->admin_password_hash);
        wipe_free(s->secret_key_base);
        memset(s, 0, sizeof(*s));
}

static bool cookie_ok(const char *v)
{
        size_t n = strlen(v);

        if (n == 0 || n > COOKIE_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 127)
                        return false;
        return true;
}

static bool hash_ok(const char *v)
{
        return strncmp(v, "$2", 2) == 0 && strlen(v) >= 59 && strlen(v) <= 128;
}

static bool base_ok(const char *v)
{
        return strlen(v) >= 1 && strlen(v) <= 4096;
}

/* One key: absent is fine; present must be a valid string.  Never quotes the value. */
static int take(yajl_val obj, const char *key, bool (*valid)(const char *), const char *what,
                const char *where, char **ret, struct buf *err)
{
        yajl_val v = json_get(obj, key);

        if (!v)
                return 0;
        if (!YAJL_IS_STRING(v) || !valid(YAJL_GET_STRING(v))) {
                buf_printf(err, "%s: %s: must be %s", where, key, what);
                return -EINVAL;
        }
        *ret = xstrdup(YAJL_GET_STRING(v));
        return 1;
}

int secrets_parse(const char *text, size_t len, const char *where, struct secrets *ret,
                  struct buf *err)
{
        struct buf ignored = BUF_INIT;
        struct secrets s;
        yajl_val tree = NULL;
        int r, found = 0;

        memset(&s, 0, sizeof(s));
        /* yajl's message would quote the text, i.e. the secret: say it in our words. */
        if (json_parse(text, len, where, &tree, &ignored) < 0 || !YAJL_IS_OBJECT(tree)) {
                buf_printf(err, "%s: the secret is not a JSON object", where);
                r = -EINVAL;
                goto out;
        }
        if ((r = take(tree, KEY_COOKIE, cookie_ok, "1 to 255 printable characters without spaces",
                      where, &s.erlang_cookie, err)) < 0)
                goto out;
        found += r;
        if ((r = take(tree, KEY_HASH, hash_ok, "a bcrypt hash (\"$2b$...\")", where,
                      &s.admin_password_hash, err)) < 0)
                goto out;
        found += r;
        if ((r = take(tree, KEY_BASE, base_ok, "a string of 1 to 4096 bytes", where,
                      &s.secret_key_base, err)) < 0)
                goto out;
        found += r;
        if (found == 0) {
                buf_printf(err, "%s: has none of " KEY_COOKIE ", " KEY_HASH ", " KEY_BASE, where);
                r = -EINVAL;
                goto out;
        }
        *ret = s;
        memset(&s, 0, sizeof(s));
        r = 0;
out:
        secrets_release(&s);
        if (tree)
                yajl_tree_free(tree);
        secrets_wipe_buf(&ignored);
        return r;
}

const char *secrets_env(const char *a, const char *b)
{
        const char *v = getenv(a);

        if (str_empty(v) && b)
                v = getenv(b);
        return str_empty(v) ? NULL : v;
}

int secrets_from_env(struct secrets *ret, struct buf *err)
{
        struct secrets s;
        const char *v;
        int r = 0;

        memset(&s, 0, sizeof(s));
        if ((v = secrets_env(KEY_COOKIE, NULL))) {
                if (!cookie_ok(v)) {
                        buf_puts(err, "secrets (env): " KEY_COOKIE ": must be 1 to 255 printable "
                                      "characters without spaces");
                        r = -EINVAL;
                        goto out;
                }
                s.erlang_cookie = xstrdup(v);
        }
        if ((v = secrets_env(KEY_HASH, NULL))) {
                if (!hash_ok(v)) {
                        buf_puts(err, "secrets (env): " KEY_HASH ": must be a bcrypt hash (\"$2b$...\")");
                        r = -EINVAL;
                        goto out;
                }
                s.admin_password_hash = xstrdup(v);
        }
        if ((v = secrets_env(KEY_BASE, NULL)))
                s.secret_key_base = xstrdup(v);
        *ret = s;
        memset(&s, 0, sizeof(s));
out:
        secrets_release(&s);
        return r;
}

/*
 * The adapter named by DEPLOYEX_SECRETS_ADAPTER.  store fetches from aws or
 * gcp (secrets_store.c); NULL in a program that links no HTTP client, which
 * then reads the environment only.
 */
int secrets_fetch_with(const struct config *c, secrets_store_fn *store, struct secrets *ret,
                       struct buf *err)
{
        const char *adapter = secrets_env("DEPLOYEX_SECRETS_ADAPTER", NULL);
        const char *path = secrets_env("DEPLOYEX_SECRETS_PATH", NULL);
        struct secrets s;
        int r;

        memset(&s, 0, sizeof(s));
        if (!adapter)
                return -ENOENT;
        if (strcmp(adapter, "env") == 0) {
                r = secrets_from_env(&s, err);
        } else if (strcmp(adapter, "aws") == 0 || strcmp(adapter, "gcp") == 0) {
                if (!path) {
                        buf_printf(err, "secrets (%s): DEPLOYEX_SECRETS_PATH is required", adapter);
                        return -EINVAL;
                }
                if (!store) {
                        buf_printf(err, "secrets (%s): this program reads secrets from the environment "
                                        "only; start the daemon with 'deployex run', which fetches them",
                                   adapter);
                        return -EINVAL;
                }
                r = store(c, adapter, path, &s, err);
        } else {
                buf_printf(err, "DEPLOYEX_SECRETS_ADAPTER: must be \"aws\", \"gcp\" or \"env\", got \"%.32s\"",
                           adapter);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

int secrets_load_with(struct config *c, secrets_store_fn *store, struct buf *err)
{
        struct secrets s;
        int r;

        memset(&s, 0, sizeof(s));
        r = secrets_fetch_with(c, store, &s, err);
        if (r == -ENOENT && str_empty(getenv("DEPLOYEX_SECRETS_ADAPTER")))
                return 0;
        if (r < 0)
                return r;
        if (!c->cookie && !c->cookie_file && s.erlang_cookie) {
                c->cookie = s.erlang_cookie;
                s.erlang_cookie = NULL;
        }
        if (!c->admin_password_hash && s.admin_password_hash) {
                c->admin_password_hash = s.admin_password_hash;
                s.admin_password_hash = NULL;
        }
        secrets_release(&s);
        return 0;
}
