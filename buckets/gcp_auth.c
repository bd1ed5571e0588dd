/*
 * gcp_auth: service-account JWT bearer flow and the metadata-server fallback,
 * with a token cache.  See gcp_auth.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buckets/gcp_auth.h"
#include "buckets/http.h"
#include "state/json.h"
#include "base/banned.h"

#define KEY_FILE_MAX (64 * 1024)
#define TOKEN_TIMEOUT_MS 15000
#define METADATA_TIMEOUT_MS 3000
#define METADATA_CONNECT_TIMEOUT_MS 1000
#define JWT_LIFETIME_S 3600
#define DEFAULT_METADATA_HOST "metadata.google.internal"

struct gcp_auth {
        pthread_mutex_t lock;
        char *credentials_path; /* NULL: environment, then metadata server */
        char *scope;
        struct buf header;      /* cached "Authorization: Bearer ..." */
        uint64_t expires_ms;    /* of the cached token */
        unsigned fetches;
};

struct gcp_auth *gcp_auth_new(const char *credentials_path, const char *scope)
{
        struct gcp_auth *a = xcalloc(1, sizeof(*a));

        pthread_mutex_init(&a->lock, NULL);
        a->credentials_path = str_empty(credentials_path) ? NULL : xstrdup(credentials_path);
        a->scope = xstrdup(scope);
        buf_init(&a->header);
        return a;
}

static void wipe_buf(struct buf *b)
{
        if (b->cap)
                explicit_bzero(b->data, b->cap);
        buf_release(b);
}

void gcp_auth_free(struct gcp_auth *a)
{
        if (!a)
                return;
        wipe_buf(&a->header);
        pthread_mutex_destroy(&a->lock);
        free(a->credentials_path);
        free(a->scope);
        free(a);
}

void gcp_auth_invalidate(struct gcp_auth *a)
{
        pthread_mutex_lock(&a->lock);
        wipe_buf(&a->header);
        a->expires_ms = 0;
        pthread_mutex_unlock(&a->lock);
}

unsigned gcp_auth_fetches(struct gcp_auth *a)
{
        unsigned n;

        pthread_mutex_lock(&a->lock);
        n = a->fetches;
        pthread_mutex_unlock(&a->lock);
        return n;
}

void gcp_base64url(const void *data, size_t len, struct buf *out)
{
        size_t n = 4 * ((len + 2) / 3);
        char *tmp = xmalloc(n + 1);
        int w = EVP_EncodeBlock((unsigned char *)tmp, data, (int)len);

        for (int i = 0; i < w; i++) {
                if (tmp[i] == '=')
                        break;
                buf_putc(out, tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i]);
        }
        free(tmp);
}

static int rs256_sign(const char *pem, const char *data, size_t len, struct buf *ret_sig)
{
        BIO *bio = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *key = NULL;
        EVP_MD_CTX *md = NULL;
        unsigned char *sig = NULL;
        size_t siglen = 0;
        int r = -EINVAL;

        if (!bio)
                return -ENOMEM;
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
                goto out;
        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1)
                goto out;
        if (EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)data, len) != 1)
                goto out;
        sig = xmalloc(siglen);
        if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data, len) != 1)
                goto out;
        gcp_base64url(sig, siglen, ret_sig);
        r = 0;
out:
        free(sig);
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(key);
        BIO_free(bio);
        return r;
}

int gcp_jwt_build(const char *client_email, const char *key_id, const char *private_key_pem,
                  const char *scope, const char *audience, uint64_t now_s, struct buf *ret,
                  struct buf *err)
{
        struct buf header = BUF_INIT, claims = BUF_INIT, out = BUF_INIT, sig = BUF_INIT;
        yajl_gen g;
        int r;

        g = json_gen_new(&header);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "alg", "RS256");
        json_gen_kv_str(g, "typ", "JWT");
        if (!str_empty(key_id))
                json_gen_kv_str(g, "kid", key_id);
        yajl_gen_map_close(g);
        yajl_gen_free(g);

        g = json_gen_new(&claims);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "iss", client_email);
        json_gen_kv_str(g, "scope", scope);
        json_gen_kv_str(g, "aud", audience);
        json_gen_kv_int(g, "iat", (long long)now_s);
        json_gen_kv_int(g, "exp", (long long)now_s + JWT_LIFETIME_S);
        yajl_gen_map_close(g);
        yajl_gen_free(g);

        gcp_base64url(header.data, header.len, &out);
        buf_putc(&out, '.');
        gcp_base64url(claims.data, claims.len, &out);
        r = rs256_sign(private_key_pem, out.data, out.len, &sig);
        if (r < 0) {
                buf_puts(err, "private_key: not an RSA private key in PEM form");
                goto done;
        }
        buf_putc(&out, '.');
        buf_append(&out, sig.data, sig.len);
        buf_reset(ret);
        buf_append(ret, out.data, out.len);
done:
        buf_release(&header);
        buf_release(&claims);
        buf_release(&out);
        buf_release(&sig);
        return r;
}

/* {"access_token", "expires_in"} of a token answer into the cache. */
static int take_token(struct gcp_auth *a, const struct http_response *resp, uint64_t now_ms,
                      const char *where, struct buf *err)
{
        struct buf ignored = BUF_INIT;
        yajl_val tree = NULL, tok, exp;
        int r = -EPROTO;

        if (json_parse(resp->body.data, resp->body.len, where, &tree, &ignored) < 0)
                goto out;
        tok = json_get(tree, "access_token");
        exp = json_get(tree, "expires_in");
        if (!YAJL_IS_STRING(tok) || str_empty(YAJL_GET_STRING(tok)) || !YAJL_IS_INTEGER(exp) ||
            YAJL_GET_INTEGER(exp) <= 0)
                goto out;
        wipe_buf(&a->header);
        buf_printf(&a->header, "Authorization: Bearer %s", YAJL_GET_STRING(tok));
        a->expires_ms = now_ms + (uint64_t)YAJL_GET_INTEGER(exp) * 1000;
        a->fetches++;
        r = 0;
out:
        if (r < 0)
                buf_printf(err, "%s: the answer is not an access token", where);
        if (tree)
                yajl_tree_free(tree);
        buf_release(&ignored);
        return r;
}

/* The OAuth2 error of a refused token request: "invalid_grant: description". */
static void oauth_error(const struct http_response *resp, const char *where, struct buf *err)
{
        struct buf ignored = BUF_INIT;
        yajl_val tree = NULL, e, d;

        buf_printf(err, "%s: HTTP %ld", where, resp->status);
        if (resp->body.len && json_parse(resp->body.data, resp->body.len, where, &tree, &ignored) == 0) {
                e = json_get(tree, "error");
                d = json_get(tree, "error_description");
                if (YAJL_IS_STRING(e))
                        buf_printf(err, " (%.128s", YAJL_GET_STRING(e));
                if (YAJL_IS_STRING(e) && YAJL_IS_STRING(d))
                        buf_printf(err, ": %.256s", YAJL_GET_STRING(d));
                if (YAJL_IS_STRING(e))
                        buf_putc(err, ')');
                yajl_tree_free(tree);
        }
        buf_release(&ignored);
}

static const char *json_str(yajl_val obj, const char *key)
{
        yajl_val v = json_get(obj, key);

        return YAJL_IS_STRING(v) && !str_empty(YAJL_GET_STRING(v)) ? YAJL_GET_STRING(v) : NULL;
}

static int fetch_with_key(struct gcp_auth *a, const char *path, uint64_t now_ms, struct buf *err)
{
        struct buf text = BUF_INIT, jwt = BUF_INIT, form = BUF_INIT, why = BUF_INIT;
        const char *email, *pem, *uri, *kid, *type;
        const char *headers[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
        struct http_response resp;
        yajl_val tree = NULL;
        int r;

        http_response_init(&resp);
        r = file_read_all_flags(path, FILE_FOLLOW, KEY_FILE_MAX, &text);
        if (r < 0) {
                buf_printf(err, "gcp credentials: cannot read '%s': %s", path, file_strerror(r));
                goto out;
        }
        /* Parse errors could quote the key: report the file only. */
        r = json_parse(text.data, text.len, path, &tree, &why);
        if (r < 0) {
                buf_printf(err, "gcp credentials: '%s' is not valid JSON", path);
                goto out;
        }
        type = json_str(tree, "type");
        email = json_str(tree, "client_email");
        pem = json_str(tree, "private_key");
        uri = json_str(tree, "token_uri");
        kid = json_str(tree, "private_key_id");
        if (!str_eq(type, "service_account") || !email || !pem || !uri) {
                buf_printf(err, "gcp credentials: '%s' is not a service-account key (needs type "
                                "\"service_account\", client_email, private_key, token_uri)", path);
                r = -EINVAL;
                goto out;
        }
        buf_reset(&why);
        r = gcp_jwt_build(email, kid, pem, a->scope, uri, now_ms / 1000, &jwt, &why);
        if (r < 0) {
                buf_printf(err, "gcp credentials: '%s': %s", path, why.data);
                goto out;
        }
        buf_puts(&form, "grant_type=");
        http_url_encode(&form, "urn:ietf:params:oauth:grant-type:jwt-bearer");
        buf_puts(&form, "&assertion=");
        http_url_encode(&form, jwt.data);
        {
                struct http_request req = {
                        .method = "POST",
                        .url = uri,
                        .headers = headers,
                        .body = form.data,
                        .body_len = form.len,
                        .timeout_ms = TOKEN_TIMEOUT_MS,
                        .max_bytes = 64 * 1024,
                };
                buf_reset(&why);
                r = http_perform(&req, &resp, &why);
        }
        if (r < 0) {
                buf_printf(err, "gcp token: %s", why.data);
                goto out;
        }
        if (resp.status != 200) {
                buf_puts(err, "gcp token: ");
                oauth_error(&resp, uri, err);
                r = resp.status == 400 || resp.status == 401 || resp.status == 403 ? -EACCES : -EAGAIN;
                goto out;
        }
        r = take_token(a, &resp, now_ms, uri, err);
out:
        if (tree)
                yajl_tree_free(tree);
        wipe_buf(&text);
        wipe_buf(&jwt);
        wipe_buf(&form);
        buf_release(&why);
        http_response_release(&resp);
        return r;
}

static int fetch_from_metadata(struct gcp_auth *a, uint64_t now_ms, struct buf *err)
{
        const char *host = getenv("DEPLOYEX_GCE_METADATA_HOST");
        const char *headers[] = { "Metadata-Flavor: Google", NULL };
        struct buf url = BUF_INIT, why = BUF_INIT;
        struct http_response resp;
        int r;

        if (str_empty(host))
                host = getenv("GCE_METADATA_HOST");
        if (str_empty(host))
                host = DEFAULT_METADATA_HOST;
        http_response_init(&resp);
        buf_printf(&url, "http://%s/computeMetadata/v1/instance/service-accounts/default/token?scopes=",
                   host);
        http_url_encode(&url, a->scope);
        {
                struct http_request req = {
                        .url = url.data,
                        .headers = headers,
                        .connect_timeout_ms = METADATA_CONNECT_TIMEOUT_MS,
                        .timeout_ms = METADATA_TIMEOUT_MS,
                        .max_bytes = 64 * 1024,
                };
                r = http_perform(&req, &resp, &why);
        }
        if (r < 0) {
                buf_printf(err, "gcp credentials: no key file (gcp_credentials, "
                                "GOOGLE_APPLICATION_CREDENTIALS) and no metadata server: %s",
                           why.data);
                goto out;
        }
        if (resp.status != 200) {
                buf_printf(err, "gcp credentials: metadata server: GET %s: HTTP %ld", url.data,
                           resp.status);
                r = resp.status == 404 ? -ENOKEY : -EAGAIN;
                goto out;
        }
        r = take_token(a, &resp, now_ms, url.data, err);
out:
        http_response_release(&resp);
        buf_release(&url);
        buf_release(&why);
        return r;
}

int gcp_auth_header(struct gcp_auth *a, uint64_t now_ms, struct buf *ret, struct buf *err)
{
        const char *path = a->credentials_path;
        int r = 0;

        if (!path && !str_empty(getenv("GOOGLE_APPLICATION_CREDENTIALS")))
                path = getenv("GOOGLE_APPLICATION_CREDENTIALS");
        /* One fetch at a time: concurrent callers wait for it and share the token. */
        pthread_mutex_lock(&a->lock);
        if (a->header.len == 0 || now_ms + GCP_TOKEN_MARGIN_MS >= a->expires_ms)
                r = path ? fetch_with_key(a, path, now_ms, err) : fetch_from_metadata(a, now_ms, err);
        if (r == 0) {
                buf_reset(ret);
                buf_append(ret, a->header.data, a->header.len);
        }
        pthread_mutex_unlock(&a->lock);
        return r;
}
