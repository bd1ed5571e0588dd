/* source_stats: state/{app}/source.json.  See source_stats.h. */
#include <errno.h>
#include <string.h>

#include "base/fsutil.h"
#include "state/json.h"
#include "state/paths.h"
#include "buckets/source_stats.h"
#include "base/banned.h"

#define STATS_MAX_BYTES 4096

static uint64_t u64_member(yajl_val obj, const char *key)
{
        yajl_val v = json_get(obj, key);

        return v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0 ? (uint64_t)YAJL_GET_INTEGER(v) : 0;
}

int source_stats_load(const struct config *c, const char *app, struct source_stats *ret)
{
        struct buf path = BUF_INIT, err = BUF_INIT;
        yajl_val root = NULL;
        int r;

        memset(ret, 0, sizeof(*ret));
        path_source_stats(c, app, &path);
        r = json_parse_file(path.data, STATS_MAX_BYTES, &root, &err);
        if (r == 0) {
                ret->polls = u64_member(root, "polls");
                ret->errors = u64_member(root, "errors");
                ret->last_success_ms = u64_member(root, "last_success_at");
                ret->last_error_ms = u64_member(root, "last_error_at");
                yajl_tree_free(root);
        }
        buf_release(&path);
        buf_release(&err);
        return r;
}

int source_stats_record(const struct config *c, const char *app, bool ok, uint64_t now_ms)
{
        struct source_stats s;
        struct buf path = BUF_INIT, out = BUF_INIT;
        yajl_gen g;
        int r;

        (void)source_stats_load(c, app, &s); /* a lost file restarts the counters */
        s.polls++;
        if (ok) {
                s.last_success_ms = now_ms;
        } else {
                s.errors++;
                s.last_error_ms = now_ms;
        }
        g = json_gen_new(&out);
        yajl_gen_map_open(g);
        json_gen_kv_int(g, "polls", (long long)s.polls);
        json_gen_kv_int(g, "errors", (long long)s.errors);
        json_gen_kv_int(g, "last_success_at", (long long)s.last_success_ms);
        json_gen_kv_int(g, "last_error_at", (long long)s.last_error_ms);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(&out, '\n');
        path_source_stats(c, app, &path);
        r = atomic_write_shared(path.data, out.data, out.len, (gid_t)-1); /* status, metrics read it */
        buf_release(&path);
        buf_release(&out);
        return r;
}
