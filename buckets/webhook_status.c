/*
 * webhook_status: what the notify queue holds, for status and metrics
 * (webhook.h).  Apart from the delivery in webhook.c, which signs with
 * OpenSSL and posts with libcurl, so that a reader links it with yajl alone
 * (the lean `deployex`, docs/daemon.md, PROGRAMS).
 */
#include <dirent.h>
#include <string.h>

#include "state/json.h"
#include "state/paths.h"
#include "buckets/webhook.h"
#include "base/banned.h"

static unsigned count_dir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        unsigned n = 0;

        while (d && (e = readdir(d)))
                n += e->d_name[0] != '.' && strstr(e->d_name, ".json") && !strstr(e->d_name, ".tmp.");
        if (d)
                closedir(d);
        return n;
}

void webhook_status(const struct config *c, struct webhook_status *ret)
{
        struct buf dir = BUF_INIT, path = BUF_INIT, err = BUF_INIT;
        DIR *d;
        struct dirent *e;

        memset(ret, 0, sizeof(*ret));
        path_notify_dir(c, "failed", &dir);
        ret->failed = count_dir(dir.data);
        path_notify_dir(c, "queue", &dir);
        ret->queued = count_dir(dir.data);
        d = opendir(dir.data);
        while (d && (e = readdir(d))) {
                yajl_val v = NULL;

                if (e->d_name[0] == '.' || !strstr(e->d_name, ".json") || strstr(e->d_name, ".tmp."))
                        continue;
                buf_reset(&path);
                buf_printf(&path, "%s/%s", dir.data, e->d_name);
                if (json_parse_file(path.data, JSON_MAX_BYTES, &v, &err) < 0)
                        continue;
                yajl_val why = json_get(v, "last_error"), next = json_get(v, "next_at");
                uint64_t at = next && YAJL_IS_INTEGER(next) && YAJL_GET_INTEGER(next) > 0
                                      ? (uint64_t)YAJL_GET_INTEGER(next) : 0;

                if (why && YAJL_IS_STRING(why) && why->u.string[0] && at >= ret->last_error_at) {
                        ret->last_error_at = at;
                        str_copy(ret->last_error, sizeof(ret->last_error), why->u.string);
                }
                yajl_tree_free(v);
        }
        if (d)
                closedir(d);
        buf_release(&dir);
        buf_release(&path);
        buf_release(&err);
}
