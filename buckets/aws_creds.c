/*
 * aws_creds: the credential chain (environment, shared file, IMDSv2).  See
 * aws_creds.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buckets/aws_creds.h"
#include "buckets/http.h"
#include "state/json.h"
#include "base/banned.h"

#define CREDENTIALS_FILE_MAX (256 * 1024)
#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TIMEOUT_MS 3000
#define IMDS_CONNECT_TIMEOUT_MS 1000
/* Refresh temporary credentials this long before they expire. */
#define REFRESH_MARGIN_MS (5 * 60 * 1000)

const char *aws_creds_origin_to_string(enum aws_creds_origin o)
{
        switch (o) {
        case AWS_CREDS_ENV:
                return "environment";
        case AWS_CREDS_FILE:
                return "shared credentials file";
        case AWS_CREDS_IMDS:
                return "instance metadata";
        }
        return "?";
}

void aws_creds_release(struct aws_creds *c)
{
        explicit_bzero(c, sizeof(*c));
}

void aws_creds_cache_init(struct aws_creds_cache *c)
{
        memset(c, 0, sizeof(*c));
        pthread_mutex_init(&c->lock, NULL);
}

void aws_creds_cache_release(struct aws_creds_cache *c)
{
        aws_creds_release(&c->creds);
        c->have = 0;
        pthread_mutex_destroy(&c->lock);
}

static const char *env_nonempty(const char *name)
{
        const char *v = getenv(name);

        return str_empty(v) ? NULL : v;
}

static bool set_field(char *dst, size_t n, const char *value)
{
        return str_copy(dst, n, value);
}

static int from_env(struct aws_creds *ret, struct buf *err)
{
        const char *id = env_nonempty("AWS_ACCESS_KEY_ID");
        const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
        const char *token = env_nonempty("AWS_SESSION_TOKEN");
        struct aws_creds c;

        if (!id && !secret)
                return -ENOKEY;
        if (!id || !secret) {
                buf_printf(err, "aws credentials: %s is set but %s is not",
                           id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                           id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
                return -EINVAL;
        }
        memset(&c, 0, sizeof(c));
        if (!set_field(c.key_id, sizeof(c.key_id), id) ||
            !set_field(c.secret, sizeof(c.secret), secret) ||
            (token && !set_field(c.token, sizeof(c.token), token))) {
                aws_creds_release(&c);
                buf_puts(err, "aws credentials: a value in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
                              "or AWS_SESSION_TOKEN is too long");
                return -EINVAL;
        }
        c.origin = AWS_CREDS_ENV;
        *ret = c;
        return 0;
}

/* Trim spaces and tabs on both sides, in place. */
static char *trim(char *s)
{
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
        *e = '\0';
        return s;
}

int aws_creds_parse_file(const char *text, const char *profile, struct aws_creds *ret)
{
        size_t len = strlen(text);
        char *copy = xmalloc(len + 1), *line, *next;
        bool in_section = false, found = false, too_long = false;
        struct aws_creds c;
        int r;

        memcpy(copy, text, len + 1);
        memset(&c, 0, sizeof(c));
        for (line = copy, next = NULL; line; line = next) {
                char *s, *eq;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                s = trim(line);
                if (*s == '\0' || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        char *end = strchr(s, ']');
                        char *name;

                        if (!end)
                                continue;
                        *end = '\0';
                        name = trim(s + 1);
                        /* The config file's spelling, "[profile x]", is accepted too. */
                        if (strncmp(name, "profile ", 8) == 0)
                                name = trim(name + 8);
                        in_section = strcmp(name, profile) == 0;
                        found = found || in_section;
                        continue;
                }
                if (!in_section || !(eq = strchr(s, '=')))
                        continue;
                *eq = '\0';
                s = trim(s);
                if (strcasecmp(s, "aws_access_key_id") == 0)
                        too_long |= !set_field(c.key_id, sizeof(c.key_id), trim(eq + 1));
                else if (strcasecmp(s, "aws_secret_access_key") == 0)
                        too_long |= !set_field(c.secret, sizeof(c.secret), trim(eq + 1));
                else if (strcasecmp(s, "aws_session_token") == 0)
                        too_long |= !set_field(c.token, sizeof(c.token), trim(eq + 1));
        }
        if (!found)
                r = -ENOENT;
        else if (too_long || !c.key_id[0] || !c.secret[0])
                r = -EINVAL;
        else
                r = 0;
        if (r == 0) {
                c.origin = AWS_CREDS_FILE;
                *ret = c;
        } else {
                aws_creds_release(&c);
        }
        explicit_bzero(copy, len);
        free(copy);
        return r;
}

static int from_file(struct aws_creds *ret, struct buf *err)
{
        const char *explicit_profile = env_nonempty("AWS_PROFILE");
        const char *profile = explicit_profile ? explicit_profile : "default";
        const char *file = env_nonempty("AWS_SHARED_CREDENTIALS_FILE");
        const char *home = env_nonempty("HOME");
        struct buf path = BUF_INIT, text = BUF_INIT;
        int r;

        if (file)
                buf_puts(&path, file);
        else if (home)
                buf_printf(&path, "%s/.aws/credentials", home);
        else
                return explicit_profile ? -EINVAL : -ENOKEY;
        r = file_read_all_flags(path.data, FILE_FOLLOW, CREDENTIALS_FILE_MAX, &text);
        if (r == -ENOENT) {
                r = -ENOKEY;
                /* A profile asked for by name must exist: no silent fallback to another identity. */
                if (explicit_profile) {
                        buf_printf(err, "aws credentials: AWS_PROFILE=%s but '%s' does not exist",
                                   profile, path.data);
                        r = -EINVAL;
                }
                goto out;
        }
        if (r < 0) {
                buf_printf(err, "aws credentials: cannot read '%s': %s", path.data, file_strerror(r));
                goto out;
        }
        r = aws_creds_parse_file(text.data, profile, ret);
        if (r == -ENOENT && !explicit_profile) {
                r = -ENOKEY;
        } else if (r == -ENOENT) {
                buf_printf(err, "aws credentials: '%s' has no profile [%s] (AWS_PROFILE)",
                           path.data, profile);
                r = -EINVAL;
        } else if (r < 0) {
                buf_printf(err, "aws credentials: '%s' [%s]: needs aws_access_key_id and "
                                "aws_secret_access_key (values of at most %d bytes)",
                           path.data, profile, AWS_SECRET_MAX);
        }
out:
        if (text.cap)
                explicit_bzero(text.data, text.cap);
        buf_release(&text);
        buf_release(&path);
        return r;
}

static const char *imds_endpoint(void)
{
        const char *e = env_nonempty("DEPLOYEX_IMDS_ENDPOINT");

        if (!e)
                e = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        return e ? e : IMDS_DEFAULT_ENDPOINT;
}

static int imds_get(const char *url, const char *const *headers, const char *method,
                    struct http_response *resp, struct buf *err)
{
        struct http_request req = {
                .method = method,
                .url = url,
                .headers = headers,
                .connect_timeout_ms = IMDS_CONNECT_TIMEOUT_MS,
                .timeout_ms = IMDS_TIMEOUT_MS,
                .max_bytes = 64 * 1024,
        };
        int r = http_perform(&req, resp, err);

        if (r < 0)
                return r;
        if (resp->status != 200) {
                buf_printf(err, "%s %s: HTTP %ld", method, url, resp->status);
                return resp->status == 404 ? -ENOKEY : -EIO;
        }
        return 0;
}

static bool copy_json_string(yajl_val obj, const char *key, char *dst, size_t n)
{
        yajl_val v = json_get(obj, key);

        return YAJL_IS_STRING(v) && set_field(dst, n, YAJL_GET_STRING(v));
}

static int from_imds(struct aws_creds *ret, struct buf *err)
{
        const char *base = imds_endpoint();
        const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
        struct buf url = BUF_INIT, token_hdr = BUF_INIT, role = BUF_INIT, ignored = BUF_INIT;
        const char *ttl_headers[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL };
        const char *token_headers[] = { NULL, NULL };
        struct http_response resp;
        struct aws_creds c;
        yajl_val tree = NULL;
        size_t n;
        int r;

        if (disabled && strcasecmp(disabled, "true") == 0)
                return -ENOKEY;
        memset(&c, 0, sizeof(c));
        http_response_init(&resp);
        n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
                n--;

        buf_append(&url, base, n);
        buf_puts(&url, "/latest/api/token");
        r = imds_get(url.data, ttl_headers, "PUT", &resp, err);
        if (r < 0)
                goto out;
        buf_printf(&token_hdr, "X-aws-ec2-metadata-token: %.*s", (int)strcspn(resp.body.data, "\r\n"),
                   resp.body.data);
        token_headers[0] = token_hdr.data;

        buf_reset(&url);
        buf_append(&url, base, n);
        buf_puts(&url, "/latest/meta-data/iam/security-credentials/");
        r = imds_get(url.data, token_headers, "GET", &resp, err);
        if (r < 0)
                goto out;
        buf_append(&role, resp.body.data, strcspn(resp.body.data, "\r\n"));
        if (role.len == 0 || strchr(role.data, '/')) {
                buf_printf(err, "GET %s: no instance role attached", url.data);
                r = -ENOKEY;
                goto out;
        }
        buf_puts(&url, role.data);
        r = imds_get(url.data, token_headers, "GET", &resp, err);
        if (r < 0)
                goto out;
        if (json_parse(resp.body.data, resp.body.len, url.data, &tree, &ignored) < 0 ||
            !copy_json_string(tree, "AccessKeyId", c.key_id, sizeof(c.key_id)) ||
            !copy_json_string(tree, "SecretAccessKey", c.secret, sizeof(c.secret)) ||
            !copy_json_string(tree, "Token", c.token, sizeof(c.token))) {
                buf_printf(err, "GET %s: not a credentials document", url.data);
                r = -EINVAL;
                goto out;
        }
        {
                yajl_val exp = json_get(tree, "Expiration");
                if (!YAJL_IS_STRING(exp) || time_parse_iso(YAJL_GET_STRING(exp), &c.expires_ms) < 0) {
                        buf_printf(err, "GET %s: no valid Expiration", url.data);
                        r = -EINVAL;
                        goto out;
                }
        }
        c.origin = AWS_CREDS_IMDS;
        *ret = c;
        memset(&c, 0, sizeof(c));
        r = 0;
out:
        if (tree)
                yajl_tree_free(tree);
        aws_creds_release(&c);
        explicit_bzero(token_hdr.data, token_hdr.len);
        http_response_release(&resp);
        buf_release(&url);
        buf_release(&token_hdr);
        buf_release(&role);
        buf_release(&ignored);
        return r;
}

int aws_creds_get(struct aws_creds_cache *cache, uint64_t now_ms, struct aws_creds *ret,
                  struct buf *err)
{
        struct buf imds_err = BUF_INIT;
        int r;

        r = from_env(ret, err);
        if (r != -ENOKEY)
                return r;
        r = from_file(ret, err);
        if (r != -ENOKEY)
                return r;

        if (cache) {
                pthread_mutex_lock(&cache->lock);
                if (cache->have && now_ms + REFRESH_MARGIN_MS < cache->creds.expires_ms) {
                        *ret = cache->creds;
                        pthread_mutex_unlock(&cache->lock);
                        return 0;
                }
        }
        r = from_imds(ret, &imds_err);
        if (r == 0 && cache) {
                cache->creds = *ret;
                cache->have = 1;
        }
        if (cache)
                pthread_mutex_unlock(&cache->lock);
        if (r < 0) {
                buf_puts(err, "aws credentials: none in the environment (AWS_ACCESS_KEY_ID), "
                              "the shared credentials file or instance metadata");
                if (imds_err.len)
                        buf_printf(err, " (%s)", imds_err.data);
                if (r == -EINVAL || r == -ENOKEY)
                        r = -ENOKEY;
        }
        buf_release(&imds_err);
        return r;
}
