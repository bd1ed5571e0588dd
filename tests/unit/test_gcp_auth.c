/*
 * Unit tests: GCP OAuth2 (buckets/gcp_auth.c).  A key pair made at test time
 * signs the JWT, which is checked with the public half; a loopback server
 * plays the token endpoint and the metadata server, and an injected clock
 * drives the token cache.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "tests/unit/loopback.h"
#include "base/fsutil.h"
#include "buckets/gcp_auth.h"
#include "state/json.h"
#include "base/util.h"

#include "base/banned.h"

static const char TOKEN_RESPONSE[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n"
        "Connection: close\r\n\r\n"
        "{\"access_token\":\"tok-1\",\"expires_in\":3600,\"token_type\":\"Bearer\"}";

struct keys {
        EVP_PKEY *key;
        struct buf pem;
        char dir[64];
        struct buf file; /* service-account JSON */
};

static void make_keys(struct keys *k)
{
        BIO *bio = BIO_new(BIO_s_mem());
        char *data;
        long n;

        memset(k, 0, sizeof(*k));
        k->key = EVP_RSA_gen(2048);
        assert_non_null(k->key);
        assert_int_equal(PEM_write_bio_PrivateKey(bio, k->key, NULL, NULL, 0, NULL, NULL), 1);
        n = BIO_get_mem_data(bio, &data);
        buf_init(&k->pem);
        buf_append(&k->pem, data, (size_t)n);
        BIO_free(bio);
        str_copy(k->dir, sizeof(k->dir), "/tmp/deployex-gcp-XXXXXX");
        assert_non_null(mkdtemp(k->dir));
        buf_init(&k->file);
        buf_printf(&k->file, "%s/sa.json", k->dir);
}

static void write_sa(struct keys *k, const char *token_uri)
{
        struct buf out = BUF_INIT;
        yajl_gen g = json_gen_new(&out);

        yajl_gen_map_open(g);
        json_gen_kv_str(g, "type", "service_account");
        json_gen_kv_str(g, "client_email", "deployex@proj.iam.gserviceaccount.com");
        json_gen_kv_str(g, "private_key_id", "kid-1");
        json_gen_kv_str(g, "private_key", k->pem.data);
        json_gen_kv_str(g, "token_uri", token_uri);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        assert_int_equal(atomic_write_file(k->file.data, out.data, out.len), 0);
        buf_release(&out);
}

static void free_keys(struct keys *k)
{
        EVP_PKEY_free(k->key);
        buf_release(&k->pem);
        assert_int_equal(remove_tree(k->dir), 0);
        buf_release(&k->file);
}

static void b64url_decode(const char *s, size_t len, struct buf *out)
{
        struct buf std = BUF_INIT;
        unsigned char *tmp;
        int n;

        for (size_t i = 0; i < len; i++)
                buf_putc(&std, s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]);
        while (std.len % 4)
                buf_putc(&std, '=');
        tmp = xmalloc(std.len);
        n = EVP_DecodeBlock(tmp, (unsigned char *)std.data, (int)std.len);
        assert_true(n >= 0);
        while (std.len && std.data[std.len - 1] == '=') {
                std.len--;
                n--;
        }
        buf_append(out, tmp, (size_t)n);
        free(tmp);
        buf_release(&std);
}

static void test_base64url(void **state)
{
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
                { "\xfb\xff\xbf", "-_-_" },
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct buf out = BUF_INIT;
                gcp_base64url(cases[i].in, strlen(cases[i].in), &out);
                assert_string_equal(out.data, cases[i].want);
                buf_release(&out);
        }
}

/* The JWT verifies with the public key and carries the claims Google checks. */
static void test_jwt(void **state)
{
        struct keys k;
        struct buf jwt = BUF_INIT, err = BUF_INIT, header = BUF_INIT, claims = BUF_INIT, sig = BUF_INIT;
        const char *dot1, *dot2;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        yajl_val h = NULL, c = NULL;

        (void)state;
        make_keys(&k);
        assert_int_equal(gcp_jwt_build("sa@p.iam.gserviceaccount.com", "kid-1", k.pem.data,
                                       GCP_SCOPE_STORAGE_READ, "https://oauth2.example/token",
                                       1700000000, &jwt, &err), 0);
        dot1 = strchr(jwt.data, '.');
        assert_non_null(dot1);
        dot2 = strchr(dot1 + 1, '.');
        assert_non_null(dot2);
        assert_null(strchr(jwt.data, '='));
        b64url_decode(jwt.data, (size_t)(dot1 - jwt.data), &header);
        b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &claims);
        b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig);

        assert_int_equal(json_parse(header.data, header.len, "header", &h, &err), 0);
        assert_string_equal(YAJL_GET_STRING(json_get(h, "alg")), "RS256");
        assert_string_equal(YAJL_GET_STRING(json_get(h, "kid")), "kid-1");
        assert_int_equal(json_parse(claims.data, claims.len, "claims", &c, &err), 0);
        assert_string_equal(YAJL_GET_STRING(json_get(c, "iss")), "sa@p.iam.gserviceaccount.com");
        assert_string_equal(YAJL_GET_STRING(json_get(c, "scope")), GCP_SCOPE_STORAGE_READ);
        assert_string_equal(YAJL_GET_STRING(json_get(c, "aud")), "https://oauth2.example/token");
        assert_int_equal(YAJL_GET_INTEGER(json_get(c, "iat")), 1700000000);
        assert_int_equal(YAJL_GET_INTEGER(json_get(c, "exp")), 1700003600);

        assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k.key), 1);
        assert_int_equal(EVP_DigestVerify(md, (unsigned char *)sig.data, sig.len,
                                          (unsigned char *)jwt.data, (size_t)(dot2 - jwt.data)), 1);
        /* One flipped byte of the signed part: the signature no longer holds. */
        jwt.data[3] ^= 1;
        assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k.key), 1);
        assert_int_not_equal(EVP_DigestVerify(md, (unsigned char *)sig.data, sig.len,
                                              (unsigned char *)jwt.data, (size_t)(dot2 - jwt.data)), 1);

        /* Not a key: refused, and the text is not echoed. */
        buf_reset(&err);
        assert_int_equal(gcp_jwt_build("a", NULL, "-----BEGIN PRIVATE KEY-----\nSECRETJUNK\n", "s", "u",
                                       1, &jwt, &err), -EINVAL);
        assert_null(strstr(err.data, "SECRETJUNK"));

        yajl_tree_free(h);
        yajl_tree_free(c);
        EVP_MD_CTX_free(md);
        free_keys(&k);
        buf_release(&jwt);
        buf_release(&err);
        buf_release(&header);
        buf_release(&claims);
        buf_release(&sig);
}

/* One token for an hour, minus the margin; then a new one. */
static void test_token_cache(void **state)
{
        struct keys k;
        struct loopback lb;
        struct buf uri = BUF_INIT, hdr = BUF_INIT, err = BUF_INIT;
        struct gcp_auth *a;
        const uint64_t t0 = 1700000000000ULL;

        (void)state;
        make_keys(&k);
        loopback_start(&lb, TOKEN_RESPONSE, strlen(TOKEN_RESPONSE));
        buf_printf(&uri, "http://127.0.0.1:%d/token", lb.port);
        write_sa(&k, uri.data);
        a = gcp_auth_new(k.file.data, GCP_SCOPE_STORAGE_READ);

        assert_int_equal(gcp_auth_header(a, t0, &hdr, &err), 0);
        assert_string_equal(hdr.data, "Authorization: Bearer tok-1");
        assert_non_null(strstr(lb.request, "POST /token HTTP/1.1\r\n"));
        assert_non_null(strstr(lb.request, "application/x-www-form-urlencoded"));
        assert_non_null(strstr(lb.request, "\r\n\r\ngrant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey"));

        assert_int_equal(gcp_auth_header(a, t0 + 1000, &hdr, &err), 0);
        assert_int_equal(gcp_auth_header(a, t0 + 3600 * 1000 - GCP_TOKEN_MARGIN_MS - 1, &hdr, &err), 0);
        assert_int_equal(gcp_auth_fetches(a), 1);
        assert_int_equal(lb.requests, 1);

        assert_int_equal(gcp_auth_header(a, t0 + 3600 * 1000 - GCP_TOKEN_MARGIN_MS, &hdr, &err), 0);
        assert_int_equal(gcp_auth_fetches(a), 2);
        assert_int_equal(lb.requests, 2);

        gcp_auth_invalidate(a);
        assert_int_equal(gcp_auth_header(a, t0 + 3600 * 1000, &hdr, &err), 0);
        assert_int_equal(gcp_auth_fetches(a), 3);

        loopback_stop(&lb);
        gcp_auth_free(a);
        free_keys(&k);
        buf_release(&uri);
        buf_release(&hdr);
        buf_release(&err);
}

static void test_refused_grant(void **state)
{
        static const char refused[] =
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 70\r\n"
                "Connection: close\r\n\r\n"
                "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}";
        struct keys k;
        struct loopback lb;
        struct buf uri = BUF_INIT, hdr = BUF_INIT, err = BUF_INIT;
        struct gcp_auth *a;

        (void)state;
        make_keys(&k);
        loopback_start(&lb, refused, strlen(refused));
        buf_printf(&uri, "http://127.0.0.1:%d/token", lb.port);
        write_sa(&k, uri.data);
        a = gcp_auth_new(k.file.data, GCP_SCOPE_STORAGE_READ);
        assert_int_equal(gcp_auth_header(a, 1, &hdr, &err), -EACCES);
        assert_non_null(strstr(err.data, "HTTP 400 (invalid_grant: Invalid JWT Signature."));
        assert_null(strstr(err.data, "PRIVATE KEY"));
        loopback_stop(&lb);
        gcp_auth_free(a);

        /* A file that is not a service-account key is named, not quoted. */
        assert_int_equal(atomic_write_file(k.file.data, "{\"type\": \"authorized_user\"}", 27), 0);
        a = gcp_auth_new(k.file.data, GCP_SCOPE_STORAGE_READ);
        buf_reset(&err);
        assert_int_equal(gcp_auth_header(a, 1, &hdr, &err), -EINVAL);
        assert_non_null(strstr(err.data, k.file.data));
        assert_non_null(strstr(err.data, "not a service-account key"));
        gcp_auth_free(a);

        free_keys(&k);
        buf_release(&uri);
        buf_release(&hdr);
        buf_release(&err);
}

/* No key file anywhere: the metadata server, asked the way GCE expects. */
static void test_metadata_fallback(void **state)
{
        struct loopback lb;
        struct buf host = BUF_INIT, hdr = BUF_INIT, err = BUF_INIT;
        struct gcp_auth *a;

        (void)state;
        unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
        unsetenv("GCE_METADATA_HOST");
        loopback_start(&lb, TOKEN_RESPONSE, strlen(TOKEN_RESPONSE));
        buf_printf(&host, "127.0.0.1:%d", lb.port);
        setenv("DEPLOYEX_GCE_METADATA_HOST", host.data, 1);
        a = gcp_auth_new(NULL, GCP_SCOPE_STORAGE_READ);
        assert_int_equal(gcp_auth_header(a, 1, &hdr, &err), 0);
        assert_string_equal(hdr.data, "Authorization: Bearer tok-1");
        assert_non_null(strstr(lb.request, "GET /computeMetadata/v1/instance/service-accounts/default/token?scopes="
                                           "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdevstorage.read_only HTTP/1.1\r\n"));
        assert_non_null(strstr(lb.request, "Metadata-Flavor: Google\r\n"));
        loopback_stop(&lb);

        /* Nobody there: an error that says where we looked. */
        buf_reset(&err);
        gcp_auth_invalidate(a);
        assert_true(gcp_auth_header(a, 2, &hdr, &err) < 0);
        assert_non_null(strstr(err.data, "metadata server"));
        gcp_auth_free(a);
        unsetenv("DEPLOYEX_GCE_METADATA_HOST");
        buf_release(&host);
        buf_release(&hdr);
        buf_release(&err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base64url),
                cmocka_unit_test(test_jwt),
                cmocka_unit_test(test_token_cache),
                cmocka_unit_test(test_refused_grant),
                cmocka_unit_test(test_metadata_fallback),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
