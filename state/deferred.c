/* deferred: a deployment put off for a passing reason, state/{app}/deferred.json. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "state/deferred.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/record.h"

#include "base/banned.h"

int deferred_parse(const char *text, size_t len, const char *origin, struct deferred *ret,
                   struct buf *err)
{
        struct record_ctx c = RECORD_CTX(origin, err);
        struct deferred d;
        yajl_val root = NULL;
        uint64_t failures = 0;
        int r;

        memset(&d, 0, sizeof(d));
        r = record_parse_root(&c, text, len, false, &root);
        if (r < 0)
                return r;
        record_version(&c, json_get(root, "version"), "version", REC_REQUIRED, d.version,
                       sizeof(d.version));
        if (record_u64(&c, json_get(root, "failures"), "failures", REC_REQUIRED, 1, UINT32_MAX,
                       &failures) > 0)
                d.failures = (uint32_t)failures;
        record_time(&c, json_get(root, "retry_at"), "retry_at", REC_REQUIRED, &d.retry_at_ms);
        record_string(&c, json_get(root, "reason"), "reason", REC_NULLABLE | REC_PRINTABLE,
                      REASON_MAX, d.reason, sizeof(d.reason));
        yajl_tree_free(root);
        if (c.nerr > 0)
                return -EINVAL;
        *ret = d;
        return 0;
}

static int parse_deferred(const char *text, size_t len, const char *origin, void *ret,
                          struct buf *err)
{
        return deferred_parse(text, len, origin, ret, err);
}

int deferred_load(const char *path, struct deferred *ret, struct buf *err)
{
        memset(ret, 0, sizeof(*ret));
        /* -ENOENT: nothing deferred. */
        return record_load(path, NULL, parse_deferred, ret, err);
}

int deferred_save(const char *path, const struct deferred *d)
{
        struct buf text = BUF_INIT;
        yajl_gen g = json_gen_new(&text);
        int r;

        yajl_gen_map_open(g);
        record_gen_kv_str(g, "version", d->version);
        record_gen_kv_u64(g, "failures", d->failures);
        record_gen_kv_time(g, "retry_at", d->retry_at_ms);
        record_gen_kv_str(g, "reason", d->reason);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(&text, '\n');
        r = atomic_write_file(path, text.data, text.len);
        buf_release(&text);
        return r;
}

int deferred_clear(const char *path)
{
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return fsync_dir_of(path);
}
