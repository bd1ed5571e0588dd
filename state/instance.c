/* instance: the daemon's record of one instance, state/{app}/instances/{n}.json. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "state/instance.h"
#include "state/json.h"
#include "state/json_arena.h"
#include "state/paths.h"
#include "state/record.h"

#include "base/banned.h"

/* File names N.json are accepted for N up to this; a sanity bound, not a replica limit. */
#define INSTANCE_FILE_MAX 100000

static const char *const instance_state_names[INSTANCE_STATE_COUNT] = {
        [INSTANCE_STOPPED] = "stopped",
        [INSTANCE_DEPLOYING] = "deploying",
        [INSTANCE_PRE_COMMANDS] = "pre_commands",
        [INSTANCE_STARTING] = "starting",
        [INSTANCE_RUNNING] = "running",
        [INSTANCE_BACKOFF] = "backoff",
        [INSTANCE_UPGRADING] = "upgrading",
};

const char *instance_state_to_string(enum instance_state s)
{
        if ((size_t)s >= ARRAY_SIZE(instance_state_names))
                return "unknown";
        return instance_state_names[s];
}

int instance_state_from_string(const char *s, enum instance_state *ret)
{
        for (size_t i = 0; s && i < ARRAY_SIZE(instance_state_names); i++) {
                if (strcmp(s, instance_state_names[i]) == 0) {
                        *ret = (enum instance_state)i;
                        return 0;
                }
        }
        return -EINVAL;
}

void instance_record_set_error(struct instance_record *r, uint64_t at_ms, const char *text)
{
        r->last_error_at_ms = at_ms;
        str_copy(r->last_error, sizeof(r->last_error), text ? text : "");
        /* One line: the record and status show it as such. */
        for (char *p = r->last_error; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = ' ';
}

static void parse_last_error(struct record_ctx *c, yajl_val v, struct instance_record *r)
{
        int nerr = c->nerr;

        if (!v || YAJL_IS_NULL(v))
                return;
        if (!YAJL_IS_OBJECT(v)) {
                record_fail_got(c, "last_error", "must be an object or null", v);
                return;
        }
        record_u64(c, json_get(v, "at_ms"), "last_error.at_ms", REC_REQUIRED, 0, UINT64_MAX,
                   &r->last_error_at_ms);
        record_string(c, json_get(v, "text"), "last_error.text", REC_REQUIRED | REC_PRINTABLE,
                      REASON_MAX, r->last_error, sizeof(r->last_error));
        if (c->nerr != nerr)
                r->last_error_at_ms = 0;
}

void instance_record_init(struct instance_record *r, int instance)
{
        memset(r, 0, sizeof(*r));
        r->instance = instance;
        r->state = INSTANCE_STOPPED;
}

static void parse_last_deploy(struct record_ctx *c, yajl_val v, struct instance_record *r)
{
        char kind[16] = "", result[16] = "";
        int nerr = c->nerr;

        if (!v || YAJL_IS_NULL(v))
                return;
        if (!YAJL_IS_OBJECT(v)) {
                record_fail_got(c, "last_deploy", "must be an object or null", v);
                return;
        }
        record_string(c, json_get(v, "kind"), "last_deploy.kind", REC_REQUIRED, sizeof(kind) - 1,
                      kind, sizeof(kind));
        if (c->nerr == nerr && history_kind_from_string(kind, &r->last_deploy_kind) < 0)
                record_fail_got(c, "last_deploy.kind", "must be full, hot, rollback or restart",
                                json_get(v, "kind"));
        record_string(c, json_get(v, "result"), "last_deploy.result", REC_REQUIRED,
                      sizeof(result) - 1, result, sizeof(result));
        if (str_eq(result, "ok"))
                r->last_deploy_ok = true;
        else if (!str_eq(result, "failed") && c->nerr == nerr)
                record_fail_got(c, "last_deploy.result", "must be ok or failed",
                                json_get(v, "result"));
        record_u64(c, json_get(v, "at_ms"), "last_deploy.at_ms", REC_REQUIRED, 0, UINT64_MAX,
                   &r->last_deploy_at_ms);
        r->has_last_deploy = c->nerr == nerr;
}

int instance_record_parse(const char *text, size_t len, const char *origin,
                          struct instance_record *ret, struct buf *err)
{
        struct record_ctx c = RECORD_CTX(origin, err);
        struct json_arena arena;
        char mem[8192];
        struct instance_record r;
        char state[32] = "";
        uint64_t crashes = 0;
        yajl_val root = NULL;
        int e;

        /* Status reads a record per instance: its tree on the stack, not a malloc per node. */
        json_arena_init(&arena, mem, sizeof(mem));
        e = record_parse_root_in(&c, text, len, false, &arena, &root);
        if (e < 0) {
                json_arena_release(&arena);
                return e;
        }
        instance_record_init(&r, 0);
        /*
         * The daemon's own file: unknown keys are left for a newer deployex and
         * a missing one keeps its initial value; what is present is checked.
         */
        record_int(&c, json_get(root, "instance"), "instance", REC_REQUIRED, 1, INSTANCE_FILE_MAX,
                   &r.instance);
        if (record_string(&c, json_get(root, "state"), "state", REC_REQUIRED, sizeof(state) - 1,
                          state, sizeof(state)) > 0 &&
            instance_state_from_string(state, &r.state) < 0)
                record_fail_got(&c, "state",
                                "must be stopped, deploying, pre_commands, starting, running, "
                                "backoff or upgrading",
                                json_get(root, "state"));
        record_version(&c, json_get(root, "version"), "version", REC_NULLABLE, r.version,
                       sizeof(r.version));
        record_version(&c, json_get(root, "previous_version"), "previous_version", REC_NULLABLE,
                       r.previous_version, sizeof(r.previous_version));
        record_int(&c, json_get(root, "pid"), "pid", 0, 0, INT_MAX, &r.pid);
        record_u64(&c, json_get(root, "proc_start_time"), "proc_start_time", 0, 0, UINT64_MAX,
                   &r.proc_start_time);
        record_u64(&c, json_get(root, "started_at_ms"), "started_at_ms", 0, 0, UINT64_MAX,
                   &r.started_at_ms);
        record_u64(&c, json_get(root, "deploy_started_at_ms"), "deploy_started_at_ms", 0, 0,
                   UINT64_MAX, &r.deploy_started_at_ms);
        record_bool(&c, json_get(root, "ready"), "ready", 0, &r.ready);
        if (record_u64(&c, json_get(root, "consecutive_crashes"), "consecutive_crashes", 0, 0,
                       UINT32_MAX, &crashes) > 0)
                r.consecutive_crashes = (uint32_t)crashes;
        record_u64(&c, json_get(root, "last_exit_at_ms"), "last_exit_at_ms", 0, 0, UINT64_MAX,
                   &r.last_exit_at_ms);
        record_u64(&c, json_get(root, "crash_restarts"), "crash_restarts", 0, 0, UINT64_MAX,
                   &r.crash_restarts);
        record_u64(&c, json_get(root, "forced_restarts"), "forced_restarts", 0, 0, UINT64_MAX,
                   &r.forced_restarts);
        record_string(&c, json_get(root, "restart_token"), "restart_token",
                      REC_NULLABLE | REC_PRINTABLE, TOKEN_MAX, r.restart_token,
                      sizeof(r.restart_token));
        record_string(&c, json_get(root, "instance_restart_token"), "instance_restart_token",
                      REC_NULLABLE | REC_PRINTABLE, TOKEN_MAX, r.instance_restart_token,
                      sizeof(r.instance_restart_token));
        parse_last_deploy(&c, json_get(root, "last_deploy"), &r);
        record_version(&c, json_get(root, "target_version"), "target_version", REC_NULLABLE,
                       r.target_version, sizeof(r.target_version));
        record_u64(&c, json_get(root, "probation_started_at_ms"), "probation_started_at_ms", 0, 0,
                   UINT64_MAX, &r.probation_started_at_ms);
        crashes = 0;
        if (record_u64(&c, json_get(root, "probation_crashes"), "probation_crashes", 0, 0,
                       UINT32_MAX, &crashes) > 0)
                r.probation_crashes = (uint32_t)crashes;
        parse_last_error(&c, json_get(root, "last_error"), &r);
        json_arena_release(&arena);
        if (c.nerr > 0)
                return -EINVAL;
        *ret = r;
        return 0;
}

void instance_record_to_json(const struct instance_record *r, struct buf *out)
{
        yajl_gen g = json_gen_new(out);

        yajl_gen_map_open(g);
        json_gen_kv_int(g, "instance", r->instance);
        record_gen_kv_str(g, "state", instance_state_to_string(r->state));
        record_gen_kv_opt(g, "version", r->version);
        record_gen_kv_opt(g, "previous_version", r->previous_version);
        json_gen_kv_int(g, "pid", r->pid);
        record_gen_kv_u64(g, "proc_start_time", r->proc_start_time);
        record_gen_kv_u64(g, "started_at_ms", r->started_at_ms);
        record_gen_kv_u64(g, "deploy_started_at_ms", r->deploy_started_at_ms);
        json_gen_kv_bool(g, "ready", r->ready);
        record_gen_kv_u64(g, "consecutive_crashes", r->consecutive_crashes);
        record_gen_kv_u64(g, "last_exit_at_ms", r->last_exit_at_ms);
        record_gen_kv_u64(g, "crash_restarts", r->crash_restarts);
        record_gen_kv_u64(g, "forced_restarts", r->forced_restarts);
        record_gen_kv_opt(g, "restart_token", r->restart_token);
        record_gen_kv_opt(g, "instance_restart_token", r->instance_restart_token);
        json_gen_str(g, "last_deploy");
        if (r->has_last_deploy) {
                yajl_gen_map_open(g);
                record_gen_kv_str(g, "kind", history_kind_to_string(r->last_deploy_kind));
                record_gen_kv_str(g, "result", r->last_deploy_ok ? "ok" : "failed");
                record_gen_kv_u64(g, "at_ms", r->last_deploy_at_ms);
                yajl_gen_map_close(g);
        } else {
                yajl_gen_null(g);
        }
        record_gen_kv_opt(g, "target_version", r->target_version);
        record_gen_kv_u64(g, "probation_started_at_ms", r->probation_started_at_ms);
        record_gen_kv_u64(g, "probation_crashes", r->probation_crashes);
        json_gen_str(g, "last_error");
        if (r->last_error_at_ms) {
                yajl_gen_map_open(g);
                record_gen_kv_u64(g, "at_ms", r->last_error_at_ms);
                record_gen_kv_str(g, "text", r->last_error);
                yajl_gen_map_close(g);
        } else {
                yajl_gen_null(g);
        }
        yajl_gen_map_close(g);
        yajl_gen_free(g);
}

void instance_record_read(const struct config *c, const char *app, int n,
                          struct instance_record *ret)
{
        struct buf path = BUF_INIT, text = BUF_INIT, ignored = BUF_INIT;

        instance_record_init(ret, n);
        path_instance_record(c, app, n, &path);
        if (file_read_all(path.data, JSON_MAX_BYTES, &text) == 0 &&
            instance_record_parse(text.data, text.len, path.data, ret, &ignored) < 0)
                instance_record_init(ret, n);
        buf_release(&path);
        buf_release(&text);
        buf_release(&ignored);
}

int instance_record_save(const char *path, const struct instance_record *r)
{
        struct buf text = BUF_INIT;
        int e;

        instance_record_to_json(r, &text);
        buf_putc(&text, '\n');
        e = atomic_write_shared(path, text.data, text.len, (gid_t)-1);
        buf_release(&text);
        return e;
}

/*
 * N from "N.json": plain decimal, no leading zero, 1..INSTANCE_FILE_MAX; 0
 * for anything else (the "N.json.tmp.PID" of a write in flight included).
 */
static int instance_file_number(const char *name)
{
        size_t digits = strspn(name, "0123456789");
        int n;

        if (digits == 0 || digits > 6 || name[0] == '0' || strcmp(name + digits, ".json") != 0)
                return 0;
        n = 0;
        for (size_t i = 0; i < digits; i++)
                n = n * 10 + (name[i] - '0');
        return n <= INSTANCE_FILE_MAX ? n : 0;
}

static int record_cmp(const void *a, const void *b)
{
        const struct instance_record *x = a, *y = b;

        return (x->instance > y->instance) - (x->instance < y->instance);
}

int instance_records_load_dir(const char *dir, struct instance_record **ret, size_t *ret_n,
                              struct buf *err)
{
        struct record_ctx c = RECORD_CTX(dir, err);
        struct instance_record *items = NULL;
        size_t n = 0, cap = 0;
        struct buf path = BUF_INIT, text = BUF_INIT;
        struct dirent *de;
        DIR *d;

        d = opendir(dir); /* glibc opens it O_CLOEXEC */
        if (!d) {
                int r = -errno;

                if (r == -ENOENT) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                record_fail(&c, "", "cannot open directory: %s", strerror(-r));
                return r;
        }
        while ((de = readdir(d))) {
                struct instance_record rec;
                int num = instance_file_number(de->d_name), r;

                if (num == 0)
                        continue;
                buf_reset(&path);
                buf_printf(&path, "%s/%s", dir, de->d_name);
                buf_reset(&text);
                r = file_read_all_at(dirfd(d), de->d_name, 0, JSON_MAX_BYTES, &text);
                if (r == -ENOENT)
                        continue; /* removed since readdir (scale-down) */
                c.origin = path.data;
                if (r == -EFBIG) {
                        record_fail(&c, "", "larger than %d bytes; record skipped", JSON_MAX_BYTES);
                        continue;
                }
                if (r < 0) {
                        record_fail(&c, "", "cannot read: %s; record skipped", file_strerror(r));
                        continue;
                }
                if (instance_record_parse(text.data, text.len, path.data, &rec, err) < 0)
                        continue;
                if (rec.instance != num) {
                        record_fail(&c, "instance",
                                    "%d does not match the file name; record skipped",
                                    rec.instance);
                        continue;
                }
                xgrow((void **)&items, &cap, n + 1, sizeof(*items));
                items[n++] = rec;
        }
        closedir(d);
        buf_release(&path);
        buf_release(&text);
        if (n > 1)
                qsort(items, n, sizeof(*items), record_cmp);
        *ret = items;
        *ret_n = n;
        return 0;
}
