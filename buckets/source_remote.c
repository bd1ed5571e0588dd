/*
 * source_remote: helpers shared by source_s3.c and source_gcs.c.  See
 * source_remote.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buckets/source_remote.h"
#include "base/banned.h"

int remote_status_to_errno(long status)
{
        if ((status >= 200 && status <= 299) || status == 304)
                return 0;
        if (status == 404)
                return -ENOENT;
        if (status == 401 || status == 403)
                return -EACCES;
        if (status == 408 || status == 429 || (status >= 500 && status <= 599))
                return -EAGAIN;
        return -EPROTO;
}

void remote_status_error(const char *name, long status, const char *summary, struct buf *err)
{
        buf_printf(err, "%s: HTTP %ld", name, status);
        if (!str_empty(summary))
                buf_printf(err, " (%s)", summary);
}

void remote_finish_current(long status, const char *new_tag, const struct buf *resp_body,
                           const char *held, struct buf *body, char ret_etag[ETAG_MAX + 1],
                           bool *not_modified)
{
        const char *tag = str_empty(new_tag) ? held : new_tag;

        if (status == 304 || (!str_empty(held) && str_eq(new_tag, held))) {
                *not_modified = true;
                str_copy(ret_etag, ETAG_MAX + 1, tag ? tag : "");
                return;
        }
        /* No tag (a store that sends none): fine, the next poll is unconditional. */
        buf_reset(body);
        buf_append(body, resp_body->data, resp_body->len);
        if (!str_copy(ret_etag, ETAG_MAX + 1, new_tag ? new_tag : ""))
                ret_etag[0] = '\0';
}

/*
 * What the two GETs below share: the object named by rel_fmt through the
 * store's get into resp (initialised here, released by the caller).
 * missing: say "NAME: not found" for -ENOENT (a tarball); current.json's
 * absence is the caller's to word ("nothing published").
 */
__attribute__((format(printf, 7, 8)))
static int get_rel(struct source *s, remote_get_fn get, struct http_request *req,
                   struct http_response *resp, bool missing, struct buf *err,
                   const char *rel_fmt, ...)
{
        struct buf rel = BUF_INIT, name = BUF_INIT;
        va_list ap;
        int r;

        va_start(ap, rel_fmt);
        buf_vprintf(&rel, rel_fmt, ap);
        va_end(ap);
        http_response_init(resp);
        r = get(s, rel.data, req, resp, &name, err);
        if (r == -ENOENT && missing)
                buf_printf(err, "%s: not found", name.data);
        buf_release(&rel);
        buf_release(&name);
        return r;
}

int remote_get_current(struct source *s, remote_get_fn get, const char *app, const char *etag,
                       struct buf *body, char ret_etag[ETAG_MAX + 1], bool *not_modified,
                       struct buf *err)
{
        struct http_request req = {
                .if_none_match = etag,
                .timeout_ms = REMOTE_CURRENT_TIMEOUT_MS,
                .max_bytes = REMOTE_CURRENT_MAX_BYTES,
        };
        struct http_response resp;
        int r = get_rel(s, get, &req, &resp, false, err, "versions/%s/%s/current.json", app,
                        s->env);

        if (r == 0)
                remote_finish_current(resp.status, resp.etag, &resp.body, etag, body, ret_etag,
                                      not_modified);
        http_response_release(&resp);
        return r;
}

int remote_get_release(struct source *s, remote_get_fn get, const char *app, const char *version,
                       int fd, uint64_t max_bytes, struct buf *err)
{
        struct http_request req = {
                .timeout_ms = REMOTE_RELEASE_TIMEOUT_MS,
                .low_speed_bytes = REMOTE_LOW_SPEED_BYTES,
                .low_speed_secs = REMOTE_LOW_SPEED_SECS,
                .max_bytes = max_bytes,
                .on_data = http_sink_fd,
                .ctx = &fd,
        };
        struct http_response resp;
        int r = get_rel(s, get, &req, &resp, true, err, "dist/%s/%s-%s.tar.gz", app, app, version);

        http_response_release(&resp);
        return r;
}
