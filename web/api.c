/*
 * api: the JSON routes of DESIGN §9.  Readers answer with the documents of
 * reconciler/shared/report.h (byte for byte what the CLI's --json prints); writers
 * call reconciler/shared/actions.h (the CLI writers' code), audited with the
 * client's address.  Errors are one-line {"error": "..."}: 404 for an
 * unknown app, instance or route, 400 for a bad body.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/http.h"
#include "web/helper.h"
#include "reconciler/shared/actions.h"
#include "reconciler/shared/report.h"
#include "state/ghosts.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/banned.h"

/* "/api/apps/APP/REST": the app (NULL when unknown) and REST. */
static const struct app_config *app_of(const char *url, const char **ret_rest, char *name,
                                       size_t n)
{
        const char *p = url + strlen("/api/apps/");
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);

        *ret_rest = slash ? slash + 1 : "";
        if (len == 0 || len >= n)
                return NULL;
        memcpy(name, p, len);
        name[len] = '\0';
        return app_name_is_valid(name) ? config_find_app(web_g.o->cfg, name) : NULL;
}

static enum MHD_Result send_doc(struct MHD_Connection *c, int r, struct buf *doc, struct buf *err)
{
        enum MHD_Result ret = r < 0 ? http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err->data)
                                    : http_json(c, MHD_HTTP_OK, doc->data);

        buf_release(doc);
        buf_release(err);
        return ret;
}

/*
 * "instances/N/WHAT": N into *ret_n and "/WHAT" returned, or NULL after
 * answering 404 (no such instance or route).
 */
static const char *instance_of(struct MHD_Connection *c, const struct app_config *app, const char *rest,
                               int *ret_n)
{
        char num[8];
        const char *p = rest + 10, *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : 0;

        if (!slash || len == 0 || len >= sizeof(num)) {
                (void)http_error(c, MHD_HTTP_NOT_FOUND, "no such route: /api/apps/%s/%s", app->name, rest);
                return NULL;
        }
        memcpy(num, p, len);
        num[len] = '\0';
        if (parse_int(num, ret_n) < 0 || *ret_n < 1 || *ret_n > app->replicas) {
                (void)http_error(c, MHD_HTTP_NOT_FOUND, "%s has no instance %s", app->name, num);
                return NULL;
        }
        return slash;
}

/*
 * GET .../instances/N/processes: `deployex __processes APP N` run by the
 * helper (the node's cookie is not ours to read), its JSON as it is; its
 * {"error"} (node down, timeout, bad cookie) as a 502.
 */
static enum MHD_Result processes_serve(struct MHD_Connection *c, const struct app_config *app, int n)
{
        struct buf out = BUF_INIT, err = BUF_INIT;
        enum MHD_Result ret;
        yajl_val doc = NULL, e;
        int r = helper_processes(app->name, n, &out);

        if (r < 0)
                ret = http_error(c, MHD_HTTP_BAD_GATEWAY, "cannot list the processes of %s/%d: %s",
                                 app->name, n, strerror(-r));
        else if (json_parse(out.data, out.len, "the process list", &doc, &err) < 0 || !YAJL_IS_OBJECT(doc))
                ret = http_error(c, MHD_HTTP_BAD_GATEWAY, "%s/%d: no process list (see the web UI's log)",
                                 app->name, n);
        else if ((e = yajl_tree_get(doc, (const char *[]){ "error", NULL }, yajl_t_string)))
                ret = http_error(c, MHD_HTTP_BAD_GATEWAY, "%s", YAJL_GET_STRING(e));
        else
                ret = http_json(c, MHD_HTTP_OK, out.data);
        if (doc)
                yajl_tree_free(doc);
        buf_release(&out);
        buf_release(&err);
        return ret;
}

enum MHD_Result api_get(struct MHD_Connection *c, const char *url)
{
        const struct config *cfg = web_g.o->cfg;
        struct buf doc = BUF_INIT, err = BUF_INIT;
        const struct app_config *app;
        char name[APP_NAME_MAX + 2];
        const char *rest;
        int n;

        if (strcmp(url, "/api/status") == 0) {
                web_status_json(&doc);
                return send_doc(c, 0, &doc, &err);
        }
        if (strcmp(url, "/api/host") == 0) {
                host_json(&doc);
                return send_doc(c, 0, &doc, &err);
        }
        if (strcmp(url, "/api/events") == 0)
                return events_serve(c);
        /* DESIGN §9 lists "/plan" beside /api/status: every app, as `plan --json`. */
        if (strcmp(url, "/api/plan") == 0) {
                web_plan_json(NULL, &doc);
                return send_doc(c, 0, &doc, &err);
        }
        if (strncmp(url, "/api/apps/", 10) != 0)
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such route: %s", url);
        if (!(app = app_of(url, &rest, name, sizeof(name))))
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such app");
        if (strcmp(rest, "history") == 0)
                return send_doc(c, report_history_json(cfg, app, &doc, NULL, &err), &doc, &err);
        if (strcmp(rest, "ghosts") == 0)
                return send_doc(c, report_ghosts_json(cfg, app, &doc, &err), &doc, &err);
        if (strcmp(rest, "plan") == 0) {
                web_plan_json(app->name, &doc);
                return send_doc(c, 0, &doc, &err);
        }
        if (strncmp(rest, "instances/", 10) == 0) {
                const char *what = instance_of(c, app, rest, &n);

                if (!what)
                        return MHD_YES; /* answered */
                if (strcmp(what, "/logs") == 0)
                        return logstream_serve(c, app, n);
                if (strcmp(what, "/processes") == 0)
                        return processes_serve(c, app, n);
                if (strcmp(what, "/shell") == 0)
                        return shell_serve(c, app, n);
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such route: %s", url);
        }
        return http_error(c, MHD_HTTP_NOT_FOUND, "no such route: %s", url);
}

/* A string member, NULL when absent; false (and err) when present but not a string. */
static bool opt_string(yajl_val body, const char *key, const char **ret, struct buf *err)
{
        yajl_val v = json_get(body, key);

        *ret = NULL;
        if (!v || YAJL_IS_NULL(v))
                return true;
        if (!YAJL_IS_STRING(v)) {
                buf_printf(err, "\"%s\" must be a string", key);
                return false;
        }
        *ret = YAJL_GET_STRING(v);
        return true;
}

/* Whether `version` is among app's ghosts (an unreadable list: no). */
static bool is_ghost(const struct config *cfg, const struct app_config *app, const char *version)
{
        struct ghost_list l;
        struct buf path = BUF_INIT, err = BUF_INIT;
        bool found;

        memset(&l, 0, sizeof(l));
        path_ghosts(cfg, app->name, &path);
        found = ghosts_load(path.data, &l, &err) == 0 && ghosts_find(&l, version) != NULL;
        ghosts_release(&l);
        buf_release(&path);
        buf_release(&err);
        return found;
}

static int do_action(const struct config *cfg, const struct app_config *app, const char *what,
                     yajl_val body, const struct action_origin *o, struct buf *msg,
                     struct buf *err)
{
        const char *version;
        yajl_val v;

        if (strcmp(what, "pin") == 0) {
                if (!opt_string(body, "version", &version, err))
                        return -EINVAL;
                if (!version) {
                        buf_puts(err, "pin needs {\"version\": \"...\"}");
                        return -EINVAL;
                }
                /* {"force": true}: as `deployex pin --force` (no ghost or published check). */
                v = json_get(body, "force");
                return action_pin(cfg, app, version, v && YAJL_IS_TRUE(v), o, msg, err);
        }
        if (strcmp(what, "unpin") == 0)
                return action_unpin(cfg, app, o, msg, err);
        if (strcmp(what, "pause") == 0 || strcmp(what, "resume") == 0)
                return action_pause(cfg, app, strcmp(what, "pause") == 0, o, msg, err);
        if (strcmp(what, "restart") == 0) {
                long long n = 0;

                v = json_get(body, "instance");
                if (v && !YAJL_IS_NULL(v)) {
                        int ns = 0;

                        /* 2 or "2": a form or a script may send either. */
                        if (YAJL_IS_STRING(v) && parse_int(YAJL_GET_STRING(v), &ns) == 0)
                                n = ns;
                        else if (YAJL_IS_INTEGER(v))
                                n = YAJL_GET_INTEGER(v);
                        if (n < 1 || n > app->replicas) {
                                buf_printf(err, "\"instance\" must be an integer from 1 to %d",
                                           app->replicas);
                                return -EINVAL;
                        }
                }
                return action_restart(cfg, app, (int)n, o, msg, err);
        }
        if (strcmp(what, "unghost") == 0) {
                v = json_get(body, "all");
                if (!opt_string(body, "version", &version, err))
                        return -EINVAL;
                if (v && YAJL_IS_TRUE(v) && !version)
                        return action_unghost(cfg, app, NULL, o, msg, err);
                /* DESIGN §9 writes the body {"version" | "all"}: "all" as a value, too. */
                if (version && strcmp(version, "all") == 0 && !is_ghost(cfg, app, version))
                        return action_unghost(cfg, app, NULL, o, msg, err);
                if (!version) {
                        buf_puts(err, "unghost needs {\"version\": \"...\"} or {\"all\": true}");
                        return -EINVAL;
                }
                return action_unghost(cfg, app, version, o, msg, err);
        }
        return -ENOENT;
}

enum MHD_Result api_post(struct MHD_Connection *c, struct request *req, const char *url)
{
        const struct config *cfg = web_g.o->cfg;
        struct action_origin o = { .via = "web", .from = req->ip };
        struct buf msg = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
        const struct app_config *app;
        char name[APP_NAME_MAX + 2];
        const char *rest;
        yajl_val body = NULL;
        enum MHD_Result ret;
        yajl_gen g;
        int r;

        if (strncmp(url, "/api/apps/", 10) != 0)
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such route: %s", url);
        if (!(app = app_of(url, &rest, name, sizeof(name))))
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such app");
        if (strncmp(rest, "instances/", 10) == 0) {
                const char *what = instance_of(c, app, rest, &r);

                if (!what)
                        return MHD_YES;
                if (strcmp(what, "/shell") == 0)
                        return shell_ticket(c, app, r);
                return http_error(c, MHD_HTTP_NOT_FOUND, "no such route: %s", url);
        }
        if (req->body.len == 0)
                buf_puts(&req->body, "{}");
        if (json_parse(req->body.data, req->body.len, "body", &body, &err) < 0) {
                ret = http_error(c, MHD_HTTP_BAD_REQUEST, "%s", err.data);
                goto out;
        }
        if (!YAJL_IS_OBJECT(body)) {
                ret = http_error(c, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
                goto out;
        }
        r = do_action(cfg, app, rest, body, &o, &msg, &err);
        if (r == -ENOENT && !msg.len && !err.len) {
                ret = http_error(c, MHD_HTTP_NOT_FOUND, "no such action: %s", rest);
                goto out;
        }
        if (r < 0) {
                ret = http_error(c, r == -EINVAL ? MHD_HTTP_BAD_REQUEST
                                                 : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 "%s", err.data);
                goto out;
        }
        g = json_gen_new(&out);
        yajl_gen_map_open(g);
        json_gen_kv_bool(g, "ok", true);
        json_gen_kv_str(g, "message", msg.data);
        json_gen_kv_str(g, "warning", err.len ? err.data : NULL);
        yajl_gen_map_close(g);
        yajl_gen_free(g);
        ret = http_json(c, MHD_HTTP_OK, out.data);
out:
        if (body)
                yajl_tree_free(body);
        buf_release(&msg);
        buf_release(&err);
        buf_release(&out);
        return ret;
}
