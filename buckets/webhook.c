/* webhook: queue files and their delivery.  See webhook.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/fsutil.h"
#include "buckets/http.h"
#include "state/json.h"
#include "state/paths.h"
#include "buckets/webhook.h"
#include "base/banned.h"

#define SECRET_MAX 4096

void webhook_sign(const void *key, size_t key_len, const char *body, size_t len, char ret[65])
{
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)body, len, mac, &n);
        for (unsigned i = 0; i < n && i < 32; i++)
                snprintf(ret + 2 * i, 3, "%02x", mac[i]);
        ret[64] = '\0';
}

/* Slack's incoming webhook wants {"text": "..."}: one line saying what happened. */
static void slack_body(const char *json_body, struct buf *out)
{
        struct buf text = BUF_INIT, ignored = BUF_INIT;
        yajl_val v = NULL;
        yajl_gen g;

        if (json_parse(json_body, strlen(json_body), "event", &v, &ignored) == 0) {
                yajl_val summary = json_get(v, "summary");
                buf_printf(&text, "deployex: %s", YAJL_IS_STRING(summary) ? summary->u.string : json_body);
                yajl_tree_free(v);
        } else {
                buf_printf(&text, "deployex: %s", json_body);
        }
        g = json_gen_new(out);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "text", text.data);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_release(&text);
        buf_release(&ignored);
}

/* A flat JSON object (strings, integers, booleans, null: what our event bodies hold). */
static void gen_flat(yajl_gen g, yajl_val body)
{
        yajl_gen_map_open(g);
        for (size_t i = 0; YAJL_IS_OBJECT(body) && i < body->u.object.len; i++) {
                yajl_val v = body->u.object.values[i];

                json_gen_str(g, body->u.object.keys[i]);
                if (YAJL_IS_STRING(v))
                        json_gen_str(g, v->u.string);
                else if (YAJL_IS_INTEGER(v))
                        yajl_gen_integer(g, YAJL_GET_INTEGER(v));
                else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
                        yajl_gen_bool(g, YAJL_IS_TRUE(v));
                else
                        yajl_gen_null(g);
        }
        yajl_gen_map_close(g);
}

static void write_entry(const char *id, const char *event, size_t target, const char *url,
                        yajl_val body, uint64_t attempts, uint64_t first_at, uint64_t next_at,
                        const char *last_error, struct buf *out)
{
        yajl_gen g;

        buf_reset(out);
        g = json_gen_new(out);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "id", id);
        json_gen_kv_str(g, "event", event);
        json_gen_kv_int(g, "target", (long long)target);
        json_gen_kv_str(g, "url", url);
        json_gen_str(g, "body");
        gen_flat(g, body);
        json_gen_kv_int(g, "attempts", (long long)attempts);
        json_gen_kv_int(g, "first_at", (long long)first_at);
        json_gen_kv_int(g, "next_at", (long long)next_at);
        json_gen_kv_str(g, "last_error", last_error && last_error[0] ? last_error : NULL);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(out, '\n');
}

int webhook_enqueue(const struct config *c, enum notify_event event, const char *id,
                    const char *body, uint64_t now_ms, struct buf *err)
{
        struct buf dir = BUF_INIT, path = BUF_INIT, text = BUF_INIT;
        yajl_val tree = NULL;
        struct stat st;
        int r;

        if ((r = json_parse(body, strlen(body), "event body", &tree, err)) < 0)
                return r;
        path_notify_dir(c, "queue", &dir);
        for (size_t t = 0; t < c->nnotify; t++) {
                if (!(c->notify[t].events & (unsigned)event) || !c->notify[t].url)
                        continue;
                if ((r = mkdir_p(dir.data, 0700)) < 0) {
                        buf_printf(err, "%s: %s", dir.data, strerror(-r));
                        break;
                }
                buf_reset(&path);
                buf_printf(&path, "%s/%s-%zu.json", dir.data, id, t);
                /* Queued (or delivered and removed) once: never a second copy. */
                if (stat(path.data, &st) == 0)
                        continue;
                write_entry(id, notify_event_to_string(event), t, c->notify[t].url, tree, 0, now_ms,
                            now_ms, NULL, &text);
                if ((r = atomic_write_file(path.data, text.data, text.len)) < 0) {
                        buf_printf(err, "%s: %s", path.data, strerror(-r));
                        break;
                }
        }
        yajl_tree_free(tree);
        buf_release(&dir);
        buf_release(&path);
        buf_release(&text);
        return r;
}

static uint64_t backoff_ms(uint64_t attempts)
{
        uint64_t d = WEBHOOK_RETRY_FIRST_MS;

        while (attempts-- > 1 && d < WEBHOOK_RETRY_MAX_MS)
                d *= 2;
        return d < WEBHOOK_RETRY_MAX_MS ? d : WEBHOOK_RETRY_MAX_MS;
}

/* POST one entry.  0 when the receiver took it (2xx), else -errno with why. */
static int post(const struct notify_target *t, const char *id, const char *event, const char *body,
                struct buf *why)
{
        struct buf secret = BUF_INIT, payload = BUF_INIT, sig = BUF_INIT, idh = BUF_INIT, evh = BUF_INIT;
        const char *headers[] = { "Content-Type: application/json", NULL, NULL, NULL, NULL };
        struct http_response resp;
        char hex[65];
        int r;

        http_response_init(&resp);
        r = file_read_all(t->secret_file, SECRET_MAX, &secret);
        if (r < 0) {
                buf_printf(why, "cannot read secret_file '%s': %s", t->secret_file, file_strerror(r));
                goto out;
        }
        while (secret.len > 0 && (secret.data[secret.len - 1] == '\n' || secret.data[secret.len - 1] == '\r'))
                secret.data[--secret.len] = '\0';
        if (t->slack)
                slack_body(body, &payload);
        else
                buf_puts(&payload, body);
        webhook_sign(secret.data, secret.len, payload.data, payload.len, hex);
        buf_printf(&sig, "X-Deployex-Signature: sha256=%s", hex);
        buf_printf(&idh, "X-Deployex-Delivery: %s", id);
        buf_printf(&evh, "X-Deployex-Event: %s", event);
        headers[1] = sig.data;
        headers[2] = idh.data;
        headers[3] = evh.data;
        {
                struct http_request req = {
                        .method = "POST",
                        .url = t->url,
                        .headers = headers,
                        .body = payload.data,
                        .body_len = payload.len,
                        .timeout_ms = WEBHOOK_TIMEOUT_MS,
                        .max_bytes = 64 * 1024,
                };
                r = http_perform(&req, &resp, why);
        }
        if (r == 0 && (resp.status < 200 || resp.status > 299)) {
                buf_printf(why, "POST %s: HTTP %ld", t->url, resp.status);
                r = -EPROTO;
        }
out:
        if (secret.cap)
                explicit_bzero(secret.data, secret.cap);
        buf_release(&secret);
        buf_release(&payload);
        buf_release(&sig);
        buf_release(&idh);
        buf_release(&evh);
        http_response_release(&resp);
        return r;
}

static uint64_t u64_of(yajl_val o, const char *key)
{
        yajl_val v = json_get(o, key);

        return v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0 ? (uint64_t)YAJL_GET_INTEGER(v) : 0;
}

static const char *str_of(yajl_val o, const char *key)
{
        yajl_val v = json_get(o, key);

        return v && YAJL_IS_STRING(v) ? v->u.string : "";
}

/* The body member, as JSON text again. */
static void body_text(yajl_val body, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        gen_flat(g, body);
        yajl_gen_free(g);
}

void webhook_deliver_due(const struct config *c, uint64_t now_ms, unsigned *ret_sent,
                         unsigned *ret_failed, struct buf *log)
{
        struct buf dir = BUF_INIT, path = BUF_INIT, err = BUF_INIT, body = BUF_INIT, why = BUF_INIT,
                   text = BUF_INIT, failed = BUF_INIT;
        DIR *d;
        struct dirent *e;

        *ret_sent = *ret_failed = 0;
        path_notify_dir(c, "queue", &dir);
        d = opendir(dir.data);
        while (d && (e = readdir(d))) {
                yajl_val v = NULL;
                size_t t, n = strlen(e->d_name);
                uint64_t attempts, first_at;
                bool configured;

                if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
                        continue;
                buf_reset(&path);
                buf_printf(&path, "%s/%s", dir.data, e->d_name);
                buf_reset(&err);
                if (json_parse_file(path.data, JSON_MAX_BYTES, &v, &err) < 0) {
                        buf_printf(log, "notify: dropping unreadable %s: %s\n", path.data, err.data);
                        unlink(path.data);
                        continue;
                }
                t = (size_t)u64_of(v, "target");
                configured = t < c->nnotify && c->notify[t].url &&
                             strcmp(str_of(v, "url"), c->notify[t].url) == 0;
                if (configured && u64_of(v, "next_at") > now_ms) {
                        yajl_tree_free(v);
                        continue;
                }
                attempts = u64_of(v, "attempts") + 1;
                first_at = u64_of(v, "first_at");
                buf_reset(&body);
                body_text(json_get(v, "body"), &body);
                buf_reset(&why);
                if (configured && post(&c->notify[t], str_of(v, "id"), str_of(v, "event"), body.data, &why) == 0) {
                        unlink(path.data);
                        (*ret_sent)++;
                        buf_printf(log, "notify: %s %s delivered to %s\n", str_of(v, "event"),
                                   str_of(v, "id"), c->notify[t].url);
                } else if (!configured || now_ms >= first_at + WEBHOOK_GIVE_UP_MS) {
                        path_notify_dir(c, "failed", &failed);
                        (void)mkdir_p(failed.data, 0700);
                        buf_printf(&failed, "/%s", e->d_name);
                        (void)rename(path.data, failed.data);
                        (*ret_failed)++;
                        buf_printf(log, "notify: gave up on %s %s after %llu attempts: %s\n",
                                   str_of(v, "event"), str_of(v, "id"), (unsigned long long)attempts,
                                   configured ? why.data : "its target is no longer configured");
                } else {
                        write_entry(str_of(v, "id"), str_of(v, "event"), t, str_of(v, "url"),
                                    json_get(v, "body"), attempts, first_at, now_ms + backoff_ms(attempts),
                                    why.data, &text);
                        (void)atomic_write_file(path.data, text.data, text.len);
                        (*ret_failed)++;
                        buf_printf(log, "notify: %s %s to %s failed (attempt %llu, next in %llu ms): %s\n",
                                   str_of(v, "event"), str_of(v, "id"), str_of(v, "url"),
                                   (unsigned long long)attempts, (unsigned long long)backoff_ms(attempts),
                                   why.data);
                }
                yajl_tree_free(v);
        }
        if (d)
                closedir(d);
        buf_release(&dir);
        buf_release(&path);
        buf_release(&err);
        buf_release(&body);
        buf_release(&why);
        buf_release(&text);
        buf_release(&failed);
}
