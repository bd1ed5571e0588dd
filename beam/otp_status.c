/*
 * otp_status: otp.json, what the OTP probe worker writes and status, the web UI
 * and metrics read (otp.h).  Apart from the probes in otp.c, which need libei,
 * so that a reader links it with yajl alone (the lean `deployex`, docs/daemon.md,
 * PROGRAMS).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beam/otp.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "state/json_arena.h"
#include "base/banned.h"

int otp_status_write(const char *path, const struct otp_probe *p, size_t n, uint64_t now_ms)
{
        struct buf out = BUF_INIT;
        yajl_gen g = json_gen_new(&out);
        int r;

        yajl_gen_map_open(g);
        json_gen_kv_int(g, "at", (long long)now_ms);
        json_gen_str(g, "instances");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < n; i++) {
                char key[16];

                snprintf(key, sizeof(key), "%d", p[i].instance);
                json_gen_str(g, key);
                yajl_gen_map_open(g);
                json_gen_kv_str(g, "otp", p[i].connected ? "connected" : "disconnected");
                json_gen_kv_str(g, "release", p[i].release[0] ? p[i].release : NULL);
                json_gen_kv_int(g, "pid", p[i].pid);
                json_gen_kv_int(g, "at", (long long)p[i].at_ms);
                json_gen_kv_str(g, "error", p[i].error[0] ? p[i].error : NULL);
                json_gen_str(g, "vm");
                if (p[i].has_vm) {
                        yajl_gen_map_open(g);
                        json_gen_kv_int(g, "memory_bytes", p[i].vm.memory_bytes);
                        json_gen_kv_int(g, "processes", p[i].vm.processes);
                        json_gen_kv_int(g, "process_limit", p[i].vm.process_limit);
                        json_gen_kv_int(g, "atoms", p[i].vm.atoms);
                        json_gen_kv_int(g, "atom_limit", p[i].vm.atom_limit);
                        json_gen_kv_int(g, "ports", p[i].vm.ports);
                        json_gen_kv_int(g, "port_limit", p[i].vm.port_limit);
                        yajl_gen_map_close(g);
                } else {
                        yajl_gen_null(g);
                }
                json_gen_kv_bool(g, "tls", p[i].connected && p[i].tls);
                yajl_gen_map_close(g);
        }
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        buf_putc(&out, '\n');
        r = atomic_write_shared(path, out.data, out.len, (gid_t)-1);
        buf_release(&out);
        return r;
}

static long long int_member(yajl_val obj, const char *key)
{
        yajl_val v = json_get(obj, key);

        return v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0 ? YAJL_GET_INTEGER(v) : 0;
}

int otp_status_load(const char *path, struct otp_probe **ret, size_t *ret_n, struct buf *err)
{
        yajl_val root = NULL, inst;
        struct otp_probe *list = NULL;
        struct json_arena arena; /* one file of an entry per instance: no malloc per node */
        size_t n = 0;
        int r;

        json_arena_init(&arena, NULL, 0);
        r = json_parse_file_in(path, JSON_MAX_BYTES, &arena, &root, err);
        if (r < 0) {
                json_arena_release(&arena);
                return r;
        }
        inst = json_get(root, "instances");
        if (!inst || !YAJL_IS_OBJECT(inst)) {
                buf_printf(err, "%s: instances: must be an object", path);
                json_arena_release(&arena);
                return -EINVAL;
        }
        list = xcalloc(inst->u.object.len + 1, sizeof(*list));
        for (size_t i = 0; i < inst->u.object.len; i++) {
                yajl_val e = inst->u.object.values[i], otp, rel, why, vm;
                struct otp_probe *p = &list[n];
                int num;

                if (parse_int(inst->u.object.keys[i], &num) < 0 || num < 1 || !YAJL_IS_OBJECT(e))
                        continue; /* written by us; anything else is not an entry */
                otp = json_get(e, "otp");
                rel = json_get(e, "release");
                why = json_get(e, "error");
                yajl_val tls = json_get(e, "tls");
                p->tls = tls && YAJL_IS_TRUE(tls);
                p->instance = num;
                p->connected = otp && YAJL_IS_STRING(otp) && strcmp(otp->u.string, "connected") == 0;
                if (rel && YAJL_IS_STRING(rel))
                        str_copy(p->release, sizeof(p->release), rel->u.string);
                if (why && YAJL_IS_STRING(why))
                        str_copy(p->error, sizeof(p->error), why->u.string);
                p->pid = (int)int_member(e, "pid");
                p->at_ms = (uint64_t)int_member(e, "at");
                vm = json_get(e, "vm");
                if (vm && YAJL_IS_OBJECT(vm)) {
                        p->has_vm = true;
                        p->vm.memory_bytes = int_member(vm, "memory_bytes");
                        p->vm.processes = int_member(vm, "processes");
                        p->vm.process_limit = int_member(vm, "process_limit");
                        p->vm.atoms = int_member(vm, "atoms");
                        p->vm.atom_limit = int_member(vm, "atom_limit");
                        p->vm.ports = int_member(vm, "ports");
                        p->vm.port_limit = int_member(vm, "port_limit");
                }
                n++;
        }
        json_arena_release(&arena);
        *ret = list;
        *ret_n = n;
        return 0;
}

bool otp_status_unchanged(const char *path, const struct otp_probe *p, size_t n, uint64_t now_ms)
{
        struct otp_probe *old = NULL;
        struct buf err = BUF_INIT;
        size_t nold = 0;
        bool same;

        same = otp_status_load(path, &old, &nold, &err) == 0 && nold == n;
        for (size_t i = 0; same && i < n; i++) {
                const struct otp_probe *o = otp_status_find(old, nold, p[i].instance);

                same = o && o->connected == p[i].connected && o->tls == p[i].tls && o->pid == p[i].pid &&
                       o->has_vm == p[i].has_vm &&
                       strcmp(o->release, p[i].release) == 0 && strcmp(o->error, p[i].error) == 0 &&
                       o->at_ms <= now_ms && now_ms - o->at_ms < OTP_REWRITE_MS;
        }
        free(old);
        buf_release(&err);
        return same;
}

const struct otp_probe *otp_status_find(const struct otp_probe *p, size_t n, int instance)
{
        for (size_t i = 0; i < n; i++)
                if (p[i].instance == instance)
                        return &p[i];
        return NULL;
}

const char *otp_status_of(const struct otp_probe *e, bool daemon_up, int live_pid, uint64_t now_ms)
{
        if (!daemon_up)
                return "unknown";
        if (live_pid <= 0)
                return "disconnected"; /* no process, no node */
        if (!e || e->at_ms == 0 || e->at_ms + OTP_FRESH_MS < now_ms || e->pid != live_pid)
                return "unknown";
        return e->connected ? "connected" : "disconnected";
}
