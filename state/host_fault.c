/* host_fault: see host_fault.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "state/host_fault.h"
#include "state/json.h"
#include "state/record.h"

#include "base/banned.h"

bool host_fault_errno(int err)
{
        switch (err < 0 ? -err : err) {
        case EMFILE:
        case ENFILE:
        case EAGAIN:
        case ENOMEM:
        case ENOSPC:
        case EDQUOT:
        case EROFS:
                return true;
        default:
                return false;
        }
}

int host_fault_save(const char *path, const struct host_fault *f)
{
        struct buf text = BUF_INIT;
        yajl_gen g = json_gen_new(&text);
        int r;

        yajl_gen_map_open(g);
        record_gen_kv_str(g, "error", strerror(f->err));
        record_gen_kv_str(g, "what", f->what);
        record_gen_kv_time(g, "since", f->since_ms);
        record_gen_kv_u64(g, "count", f->count);
        record_gen_kv_time(g, "paused_to", f->paused_to_ms);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(&text, '\n');
        r = atomic_write_file(path, text.data, text.len);
        buf_release(&text);
        return r;
}

int host_fault_load(const char *path, struct host_fault *f, struct buf *err)
{
        struct record_ctx c = RECORD_CTX(path, err);
        struct buf text = BUF_INIT;
        char error[HOST_FAULT_WHAT_MAX + 1] = "";
        yajl_val root = NULL;
        uint64_t count = 0;
        int r;

        memset(f, 0, sizeof(*f));
        r = file_read_all(path, JSON_MAX_BYTES, &text);
        if (r < 0)
                goto out;
        r = record_parse_root(&c, text.data, text.len, false, &root);
        if (r < 0)
                goto out;
        record_string(&c, json_get(root, "error"), "error", REC_REQUIRED | REC_PRINTABLE,
                      HOST_FAULT_WHAT_MAX, error, sizeof(error));
        record_string(&c, json_get(root, "what"), "what", REC_PRINTABLE, HOST_FAULT_WHAT_MAX,
                      f->what, sizeof(f->what));
        record_time(&c, json_get(root, "since"), "since", REC_REQUIRED, &f->since_ms);
        record_u64(&c, json_get(root, "count"), "count", 0, 0, UINT32_MAX, &count);
        record_time(&c, json_get(root, "paused_to"), "paused_to", 0, &f->paused_to_ms);
        f->count = (uint32_t)count;
        /* The reader shows "what: error" as one text; the errno is the writer's business. */
        if (c.nerr == 0 && error[0]) {
                struct buf both = BUF_INIT;
                buf_printf(&both, "%s: %s", f->what, error);
                str_copy(f->what, sizeof(f->what), both.data);
                buf_release(&both);
        }
        if (c.nerr == 0)
                f->err = EIO;
        r = c.nerr ? -EINVAL : 0;
out:
        if (root)
                yajl_tree_free(root);
        buf_release(&text);
        return r;
}

int host_fault_clear(const char *path)
{
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}
