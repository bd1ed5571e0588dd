/* journal: the step in flight for an app, state/{app}/journal.json. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/journal.h"
#include "state/json.h"
#include "state/record.h"

#include "base/banned.h"

int journal_parse(const char *text, size_t len, const char *origin, struct journal *ret,
                  struct buf *err)
{
        struct record_ctx c = RECORD_CTX(origin, err);
        struct journal j = {0};
        yajl_val root = NULL;
        int r;

        r = record_parse_root(&c, text, len, false, &root);
        if (r < 0)
                return r;
        /* The daemon's own file: unknown keys are left for a newer deployex. */
        record_string(&c, json_get(root, "app"), "app", REC_REQUIRED | REC_NONEMPTY | REC_PRINTABLE,
                      APP_NAME_MAX, j.app, sizeof(j.app));
        record_int(&c, json_get(root, "instance"), "instance", REC_REQUIRED, 0, 100000,
                   &j.instance);
        record_string(&c, json_get(root, "action"), "action",
                      REC_REQUIRED | REC_NONEMPTY | REC_PRINTABLE, sizeof(j.action) - 1, j.action,
                      sizeof(j.action));
        record_version(&c, json_get(root, "from"), "from", REC_NULLABLE, j.from, sizeof(j.from));
        record_version(&c, json_get(root, "to"), "to", REC_NULLABLE, j.to, sizeof(j.to));
        record_string(&c, json_get(root, "phase"), "phase",
                      REC_REQUIRED | REC_NONEMPTY | REC_PRINTABLE, sizeof(j.phase) - 1, j.phase,
                      sizeof(j.phase));
        record_time(&c, json_get(root, "started_at"), "started_at", REC_REQUIRED, &j.started_at_ms);
        yajl_tree_free(root);
        if (c.nerr > 0)
                return -EINVAL;
        *ret = j;
        return 0;
}

static int parse_journal(const char *text, size_t len, const char *origin, void *ret,
                         struct buf *err)
{
        return journal_parse(text, len, origin, ret, err);
}

int journal_load(const char *path, struct journal *ret, struct buf *err)
{
        /* -ENOENT: nothing in flight. */
        return record_load(path, NULL, parse_journal, ret, err);
}

void journal_to_json(const struct journal *j, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        yajl_gen_map_open(g);
        record_gen_kv_str(g, "app", j->app);
        json_gen_kv_int(g, "instance", j->instance);
        record_gen_kv_str(g, "action", j->action);
        record_gen_kv_opt(g, "from", j->from);
        record_gen_kv_opt(g, "to", j->to);
        record_gen_kv_str(g, "phase", j->phase);
        record_gen_kv_time(g, "started_at", j->started_at_ms);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}

int journal_save(const char *path, const struct journal *j)
{
        struct buf text = BUF_INIT;
        int r;

        journal_to_json(j, &text);
        buf_putc(&text, '\n');
        r = atomic_write_shared(path, text.data, text.len, (gid_t)-1);
        buf_release(&text);
        return r;
}

int journal_clear(const char *path)
{
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        /* The removal must survive a power loss too, or a finished step would be redone. */
        return fsync_dir_of(path);
}
