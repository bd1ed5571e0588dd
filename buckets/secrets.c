/*
 * secrets: AWS Secrets Manager, GCP Secret Manager and environment adapters.
 * See secrets.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buckets/aws_sigv4.h"
#include "buckets/gcp_auth.h"
#include "buckets/http.h"
#include "state/json.h"
#include "buckets/secrets.h"
#include "buckets/source_remote.h"
#include "base/banned.h"

#define SECRET_TIMEOUT_MS 15000
#define SECRET_MAX_BYTES (64 * 1024)
#define COOKIE_MAX 255
#define GCP_SECRETS_DEFAULT_ENDPOINT "https://secretmanager.googleapis.com"

#define KEY_COOKIE "DEPLOYEX_ERLANG_COOKIE"
#define KEY_HASH "DEPLOYEX_ADMIN_HASHED_PASSWORD"
#define KEY_BASE "DEPLOYEX_SECRET_KEY_BASE"

static void wipe_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

static void wipe_buf(struct buf *b)
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
        wipe_buf(&ignored);
        return r;
}

static const char *env_or(const char *a, const char *b)
{
        const char *v = getenv(a);

        if (str_empty(v) && b)
                v = getenv(b);
        return str_empty(v) ? NULL : v;
}

static int from_env(struct secrets *ret, struct buf *err)
{
        struct secrets s;
        const char *v;
        int r = 0;

        memset(&s, 0, sizeof(s));
        if ((v = env_or(KEY_COOKIE, NULL))) {
                if (!cookie_ok(v)) {
                        buf_puts(err, "secrets (env): " KEY_COOKIE ": must be 1 to 255 printable "
                                      "characters without spaces");
                        r = -EINVAL;
                        goto out;
                }
                s.erlang_cookie = xstrdup(v);
        }
        if ((v = env_or(KEY_HASH, NULL))) {
                if (!hash_ok(v)) {
                        buf_puts(err, "secrets (env): " KEY_HASH ": must be a bcrypt hash (\"$2b$...\")");
                        r = -EINVAL;
                        goto out;
                }
                s.admin_password_hash = xstrdup(v);
        }
        if ((v = env_or(KEY_BASE, NULL)))
                s.secret_key_base = xstrdup(v);
        *ret = s;
        memset(&s, 0, sizeof(s));
out:
        secrets_release(&s);
        return r;
}

static void endpoint_base(const char *url, struct buf *out)
{
        size_t n = strlen(url);

        while (n > 0 && url[n - 1] == '/')
                n--;
        buf_append(out, url, n);
}

static int from_aws(const struct config *c, const char *id, struct secrets *ret, struct buf *err)
{
        const char *region = aws_region_or_default(c->aws_region);
        const char *ep = env_or("DEPLOYEX_SECRETS_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER");
        const char *headers[] = { "Content-Type: application/x-amz-json-1.1",
                                  "X-Amz-Target: secretsmanager.GetSecretValue", NULL };
        struct buf url = BUF_INIT, body = BUF_INIT, why = BUF_INIT, where = BUF_INIT;
        struct http_response resp;
        struct aws_creds creds;
        yajl_val tree = NULL, str;
        yajl_gen g;
        int r;

        memset(&creds, 0, sizeof(creds));
        http_response_init(&resp);
        buf_printf(&where, "secrets (aws): %s", id);
        if (ep)
                endpoint_base(ep, &url);
        else
                buf_printf(&url, "https://secretsmanager.%s.amazonaws.com", region);
        buf_putc(&url, '/');
        g = json_gen_new(&body);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "SecretId", id);
        yajl_gen_map_close(g);
        yajl_gen_free(g);

        r = aws_creds_get(NULL, time_now_ms(), &creds, &why);
        if (r < 0) {
                buf_printf(err, "%s: %s", where.data, why.data);
                goto out;
        }
        {
                struct http_request req = {
                        .method = "POST",
                        .url = url.data,
                        .headers = headers,
                        .body = body.data,
                        .body_len = body.len,
                        .timeout_ms = SECRET_TIMEOUT_MS,
                        .max_bytes = SECRET_MAX_BYTES,
                };
                r = aws_sigv4_perform(&creds, region, "secretsmanager", &req, &resp, &why);
        }
        if (r < 0) {
                buf_printf(err, "%s: %s", where.data, why.data);
                goto out;
        }
        if (resp.status != 200) {
                struct buf summary = BUF_INIT;

                aws_error_summary(resp.body.data, &summary);
                remote_status_error(where.data, resp.status, summary.data, err);
                /* The JSON protocols answer 400 for refused credentials too. */
                r = strstr(summary.data, "ResourceNotFound") ? -ENOENT :
                    resp.status >= 500 ? -EAGAIN : -EACCES;
                buf_release(&summary);
                goto out;
        }
        if (json_parse(resp.body.data, resp.body.len, where.data, &tree, &why) < 0 ||
            !YAJL_IS_STRING(str = json_get(tree, "SecretString"))) {
                buf_printf(err, "%s: the answer has no SecretString (binary secrets are not supported)",
                           where.data);
                r = -EINVAL;
                goto out;
        }
        {
                const char *text = str->u.string;
                r = secrets_parse(text, strlen(text), where.data, ret, err);
        }
out:
        if (tree)
                yajl_tree_free(tree);
        aws_creds_release(&creds);
        http_response_release(&resp);
        buf_release(&url);
        buf_release(&body);
        wipe_buf(&why);
        buf_release(&where);
        return r;
}

/* Standard base64 (with padding) into out; -EINVAL when malformed. */
static int base64_decode(const char *in, size_t len, struct buf *out)
{
        size_t pad = 0;
        unsigned char *tmp;
        int n;

        if (len % 4 != 0)
                return -EINVAL;
        if (len >= 1 && in[len - 1] == '=')
                pad++;
        if (len >= 2 && in[len - 2] == '=')
                pad++;
        tmp = xmalloc(len / 4 * 3 + 1);
        n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
        if (n < 0 || (size_t)n < pad) {
                free(tmp);
                return -EINVAL;
        }
        buf_append(out, tmp, (size_t)n - pad);
        explicit_bzero(tmp, (size_t)n);
        free(tmp);
        return 0;
}

static int from_gcp(const struct config *c, const char *spec, struct secrets *ret, struct buf *err)
{
        const char *ep = env_or("DEPLOYEX_SECRETS_ENDPOINT", NULL);
        const char *project = env_or("GOOGLE_CLOUD_PROJECT", NULL);
        struct buf name = BUF_INIT, url = BUF_INIT, auth = BUF_INIT, why = BUF_INIT;
        struct buf where = BUF_INIT, payload = BUF_INIT;
        const char *headers[] = { NULL, NULL };
        struct http_response resp;
        struct gcp_auth *a = NULL;
        yajl_val tree = NULL, data;
        int r;

        http_response_init(&resp);
        if (strncmp(spec, "projects/", 9) == 0) {
                buf_puts(&name, spec);
        } else if (project && !strchr(spec, '/')) {
                buf_printf(&name, "projects/%s/secrets/%s", project, spec);
        } else {
                buf_printf(err, "secrets (gcp): DEPLOYEX_SECRETS_PATH must be projects/P/secrets/S, "
                                "or a secret name with GOOGLE_CLOUD_PROJECT set; got '%s'", spec);
                r = -EINVAL;
                goto out;
        }
        if (!strstr(name.data, "/versions/"))
                buf_puts(&name, "/versions/latest");
        buf_printf(&where, "secrets (gcp): %s", name.data);
        endpoint_base(ep ? ep : GCP_SECRETS_DEFAULT_ENDPOINT, &url);
        /* The resource name goes in as it is: its '/' are path separators. */
        buf_printf(&url, "/v1/%s:access", name.data);

        a = gcp_auth_new(c->gcp_credentials, GCP_SCOPE_CLOUD_PLATFORM);
        r = gcp_auth_header(a, time_now_ms(), &auth, &why);
        if (r < 0) {
                buf_printf(err, "%s: %s", where.data, why.data);
                goto out;
        }
        headers[0] = auth.data;
        {
                struct http_request req = {
                        .url = url.data,
                        .headers = headers,
                        .timeout_ms = SECRET_TIMEOUT_MS,
                        .max_bytes = SECRET_MAX_BYTES,
                };
                r = http_perform(&req, &resp, &why);
        }
        if (r < 0) {
                buf_printf(err, "%s: %s", where.data, why.data);
                goto out;
        }
        if (resp.status != 200) {
                remote_status_error(where.data, resp.status, "", err);
                r = remote_status_to_errno(resp.status);
                goto out;
        }
        if (json_parse(resp.body.data, resp.body.len, where.data, &tree, &why) < 0 ||
            !YAJL_IS_STRING(data = json_get(json_get(tree, "payload"), "data")) ||
            base64_decode(data->u.string, strlen(data->u.string), &payload) < 0) {
                buf_printf(err, "%s: the answer has no base64 payload.data", where.data);
                r = -EINVAL;
                goto out;
        }
        r = secrets_parse(payload.data, payload.len, where.data, ret, err);
out:
        if (tree)
                yajl_tree_free(tree);
        gcp_auth_free(a);
        http_response_release(&resp);
        wipe_buf(&auth);
        wipe_buf(&payload);
        wipe_buf(&why);
        buf_release(&name);
        buf_release(&url);
        buf_release(&where);
        return r;
}

int secrets_fetch(const struct config *c, struct secrets *ret, struct buf *err)
{
        const char *adapter = env_or("DEPLOYEX_SECRETS_ADAPTER", NULL);
        const char *path = env_or("DEPLOYEX_SECRETS_PATH", NULL);
        struct secrets s;
        int r;

        memset(&s, 0, sizeof(s));
        if (!adapter)
                return -ENOENT;
        if (strcmp(adapter, "env") == 0) {
                r = from_env(&s, err);
        } else if (strcmp(adapter, "aws") == 0 || strcmp(adapter, "gcp") == 0) {
                if (!path) {
                        buf_printf(err, "secrets (%s): DEPLOYEX_SECRETS_PATH is required", adapter);
                        return -EINVAL;
                }
                r = adapter[0] == 'a' ? from_aws(c, path, &s, err) : from_gcp(c, path, &s, err);
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

int secrets_load(struct config *c, struct buf *err)
{
        struct secrets s;
        int r;

        memset(&s, 0, sizeof(s));
        r = secrets_fetch(c, &s, err);
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
