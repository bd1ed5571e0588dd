/*
 * secrets_store: the AWS Secrets Manager and GCP Secret Manager adapters
 * (secrets.h), over HTTPS (http.h, libcurl) with SigV4 or an OAuth2 token.
 * Only the CLI links them: `deployex run` fetches before it execs the daemon.
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
#define GCP_SECRETS_DEFAULT_ENDPOINT "https://secretmanager.googleapis.com"

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
        const char *ep = secrets_env("DEPLOYEX_SECRETS_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER");
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
        secrets_wipe_buf(&why);
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
        const char *ep = secrets_env("DEPLOYEX_SECRETS_ENDPOINT", NULL);
        const char *project = secrets_env("GOOGLE_CLOUD_PROJECT", NULL);
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
        secrets_wipe_buf(&auth);
        secrets_wipe_buf(&payload);
        secrets_wipe_buf(&why);
        buf_release(&name);
        buf_release(&url);
        buf_release(&where);
        return r;
}

static int from_store(const struct config *c, const char *adapter, const char *path,
                      struct secrets *ret, struct buf *err)
{
        return strcmp(adapter, "aws") == 0 ? from_aws(c, path, ret, err) : from_gcp(c, path, ret, err);
}

int secrets_fetch(const struct config *c, struct secrets *ret, struct buf *err)
{
        return secrets_fetch_with(c, from_store, ret, err);
}

int secrets_load(struct config *c, struct buf *err)
{
        return secrets_load_with(c, from_store, err);
}
