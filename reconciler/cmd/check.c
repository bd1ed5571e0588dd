/*
 * deployex check: validate the configuration, each app's override file, the
 * published current.json and the cookie; every problem is one line naming
 * the file and field.  Exit 1 when anything is wrong.  With tls, the
 * certificate, key and CA files (state/tls.h): a certificate that expires
 * within 30 days is a warning, not a problem.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "base/fsutil.h"
#include "lua/hooks.h"
#include "state/app_user.h"
#include "state/json.h"
#include "state/override.h"
#include "state/paths.h"
#include "state/release.h"
#include "buckets/source.h"
#include "state/tls.h"
#include "base/banned.h"

/* What check found: problems make it fail, warnings and notes do not. */
struct findings {
        bool json;
        struct buf problems; /* one a line */
        struct buf warnings; /* one a line */
        unsigned nproblems, nwarnings;
        yajl_gen apps;       /* --json: the "apps" array being built */
};

static void add_lines(struct buf *to, unsigned *count, struct buf *lines)
{
        for (const char *p = lines->data; *p;) {
                size_t n = strcspn(p, "\n");

                if (n > 0) {
                        buf_printf(to, "%.*s\n", (int)n, p);
                        (*count)++;
                }
                p += n + (p[n] == '\n');
        }
        buf_reset(lines);
}

/* err may hold several lines: one problem each. */
static void report(struct findings *f, struct buf *err)
{
        add_lines(&f->problems, &f->nproblems, err);
}

static void warn(struct findings *f, struct buf *w)
{
        add_lines(&f->warnings, &f->nwarnings, w);
}

/* A file:// bucket that does not exist is almost always a typo in the path. */
static void check_file_source(const struct config *c, struct findings *f)
{
        struct buf w = BUF_INIT;
        struct stat st;
        const char *path;

        if (!c->source || strncmp(c->source, "file://", 7) != 0)
                return;
        path = c->source + 7;
        if (stat(path, &st) < 0)
                buf_printf(&w, "%s: source: '%s' does not exist (a typo? nothing can be published "
                               "there until it is created)", c->origin, path);
        else if (!S_ISDIR(st.st_mode))
                buf_printf(&w, "%s: source: '%s' is not a directory", c->origin, path);
        warn(f, &w);
        buf_release(&w);
}

/* An override file names its app: one for an app the configuration lacks is a typo or a leftover. */
static void check_stray_overrides(const struct config *c, struct findings *f)
{
        struct buf err = BUF_INIT;
        struct dirent *de;
        DIR *d;

        if (str_empty(c->overrides_path) || !(d = opendir(c->overrides_path)))
                return;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                bool known = false;

                if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
                        continue;
                for (size_t i = 0; i < c->napps && !known; i++)
                        known = strlen(c->apps[i].name) == n - 5 &&
                                strncmp(c->apps[i].name, de->d_name, n - 5) == 0;
                if (!known)
                        buf_printf(&err, "%s/%.80s%s: no app '%.*s' in %s; this override applies to "
                                         "nothing (a typo, or remove it)\n",
                                   c->overrides_path, de->d_name, n > 80 ? "..." : "",
                                   (int)(n - 5 > 60 ? 60 : n - 5), de->d_name, c->origin);
        }
        closedir(d);
        report(f, &err);
        buf_release(&err);
}

/* The cookie file must be readable by its owner only (DESIGN §8). */
static void check_cookie_file_mode(const struct config *c, struct buf *err)
{
        struct stat st;

        if (!c->cookie_file || stat(c->cookie_file, &st) < 0)
                return; /* unreadable: config_read_cookie() says so */
        if (st.st_mode & 077)
                buf_printf(err, "%s: cookie_file: '%s' is readable by %s (mode %04o); "
                                "make it 0400 or 0600: chmod 0400 %s\n",
                           c->origin, c->cookie_file, st.st_mode & 07 ? "every user" : "its group",
                           (unsigned)(st.st_mode & 07777), c->cookie_file);
}

static void json_lines(yajl_gen g, const char *key, const struct buf *lines)
{
        json_gen_str(g, key);
        yajl_gen_array_open(g);
        for (const char *p = lines->data; *p;) {
                size_t n = strcspn(p, "\n");
                yajl_gen_string(g, (const unsigned char *)p, n);
                p += n + (p[n] == '\n');
        }
        yajl_gen_array_close(g);
}

static void check_app(const struct config *c, const struct app_config *app, struct source *src,
                      struct findings *f)
{
        const char *published = NULL;
        bool none_published = false;
        struct buf path = BUF_INIT, err = BUF_INIT, body = BUF_INIT;
        struct override o;
        struct release_desc rel;
        char etag[ETAG_MAX + 1];
        bool not_modified;
        int r;

        memset(&o, 0, sizeof(o));
        memset(&rel, 0, sizeof(rel));
        path_override(c, app->name, &path);
        (void)override_load(path.data, &o, &err); /* a problem is in err */
        for (size_t k = 0; k < o.nrestart_instances; k++)
                if (o.restart_instances[k].instance > app->replicas)
                        buf_printf(&err, "%s: restart_instances.%d: %s has %d replica%s; no such instance\n",
                                   path.data, o.restart_instances[k].instance, app->name, app->replicas,
                                   app->replicas == 1 ? "" : "s");
        report(f, &err);

        if (app->hooks && access(app->hooks, R_OK) < 0) {
                buf_printf(&err, "%s: apps.%s.hooks: cannot read '%s': %s", c->origin, app->name,
                           app->hooks, strerror(errno));
                report(f, &err);
        } else {
                /* The language default and the app's file, loaded as a call would. */
                (void)hooks_check_app(c, app, &err);
                report(f, &err);
        }
        if (src) {
                r = source_get_current(src, app->name, "", &body, etag, &not_modified, &err);
                if (r == -ENOENT) {
                        none_published = true;
                        if (!f->json)
                                printf("%s: nothing published yet at %s/versions/%s/%s/current.json\n",
                                       app->name, src->url, app->name, src->env);
                } else if (r == 0) {
                        buf_reset(&path);
                        buf_printf(&path, "%s/versions/%s/%s/current.json", src->url, app->name,
                                   src->env);
                        if (release_desc_parse(body.data, body.len, path.data, &rel, &err) == 0) {
                                published = rel.version;
                                if (!f->json)
                                        printf("%s: current.json publishes %s\n", app->name, rel.version);
                        }
                }
                report(f, &err);
        }
        if (f->json) {
                yajl_gen_map_open(f->apps);
                json_gen_kv_str(f->apps, "name", app->name);
                json_gen_kv_str(f->apps, "published", published);
                json_gen_kv_bool(f->apps, "nothing_published", none_published);
                yajl_gen_map_close(f->apps);
        }
        override_release(&o);
        release_desc_release(&rel);
        buf_release(&path);
        buf_release(&err);
        buf_release(&body);
}

static int run(const struct cli *cli, int argc, char **argv)
{
        struct findings f = { .problems = BUF_INIT, .warnings = BUF_INIT };
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct source *src = NULL;
        bool offline = false, loaded = false;
        struct config c;
        yajl_gen g;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        f.json = true;
                else if (strcmp(argv[i], "--offline") == 0)
                        offline = true;
                else
                        return cli_usage_error(&cmd_check, "unexpected argument '%s'", argv[i]);
        }
        /* --json: {"apps": [...] first, as check_app() goes, then the verdict. */
        g = f.apps = json_gen_new(&out);
        yajl_gen_map_open(g);
        json_gen_str(g, "apps");
        yajl_gen_array_open(g);
        /* Not cli_load_config: with --json its problems belong in the JSON too. */
        r = config_load(cli->config_path, &c, &err);
        if (r < 0) {
                if (err.len == 0)
                        buf_printf(&err, "cannot load the configuration: %s", strerror(-r));
                report(&f, &err);
                goto done;
        }
        loaded = true;
        /* Environment mode may have no cookie yet: a secrets adapter supplies it. */
        if (c.cookie || c.cookie_file) {
                struct buf cookie = BUF_INIT;
                r = config_read_cookie(&c, &cookie);
                explicit_bzero(cookie.data, cookie.len);
                buf_release(&cookie);
                if (r < 0)
                        buf_printf(&err, "%s: cookie_file: cannot read '%s': %s\n", c.origin,
                                   c.cookie_file ? c.cookie_file : "", file_strerror(r));
                check_cookie_file_mode(&c, &err);
        }
        report(&f, &err);
        {
                struct buf warnings = BUF_INIT;

                /* DESIGN §8: named users exist; a root daemon runs no app as root by default. */
                (void)config_resolve_users(&c, &err);
                report(&f, &err);
                (void)config_check_users(&c, geteuid() == 0, &err, &warnings);
                report(&f, &err);
                warn(&f, &warnings);
                buf_release(&warnings);
        }
        if (c.has_tls) {
                struct buf warnings = BUF_INIT;

                /* Expiring soon is not wrong yet: a warning, not a problem. */
                (void)tls_check(&c, &err, &warnings);
                report(&f, &err);
                warn(&f, &warnings);
                buf_release(&warnings);
        }
        check_stray_overrides(&c, &f);
        check_file_source(&c, &f);
        if (!offline && source_open(&c, &src, &err) < 0)
                report(&f, &err);
        for (size_t i = 0; i < c.napps; i++)
                check_app(&c, &c.apps[i], src, &f);
        source_free(src);
done:
        yajl_gen_array_close(g);
        if (f.json) {
                json_gen_kv_str(g, "config", loaded ? c.origin : cli->config_path);
                json_gen_kv_bool(g, "ok", f.nproblems == 0);
                json_lines(g, "problems", &f.problems);
                json_lines(g, "warnings", &f.warnings);
                yajl_gen_map_close(g);
                printf("%s\n", out.data);
        } else {
                fputs(f.problems.data, stderr);
                for (const char *p = f.warnings.data; *p;) {
                        size_t n = strcspn(p, "\n");
                        fprintf(stderr, "warning: %.*s\n", (int)n, p);
                        p += n + (p[n] == '\n');
                }
                if (!loaded)
                        ;
                else if (f.nproblems == 0)
                        printf("%s: ok (%zu app%s%s)\n", c.origin, c.napps, c.napps == 1 ? "" : "s",
                               f.nwarnings ? (f.nwarnings == 1 ? ", 1 warning" : ", warnings") : "");
                else
                        fprintf(stderr, "%s: %u problem%s\n", c.origin, f.nproblems,
                                f.nproblems == 1 ? "" : "s");
        }
        r = f.nproblems ? EXIT_FAIL : EXIT_OK;
        yajl_gen_free(g);
        if (loaded)
                config_release(&c);
        buf_release(&f.problems);
        buf_release(&f.warnings);
        buf_release(&err);
        buf_release(&out);
        return r;
}

const struct cli_command cmd_check = {
        .name = "check",
        .usage = "check [--json] [--offline]",
        .summary = "validate config, overrides and hooks; exit 1 on any error",
        .help = "Validates the configuration file (or the DeployEx 0.3 environment variables),\n"
                "every app's override file, the current.json the bucket publishes, the cookie,\n"
                "the hook files and, with tls, the certificate, key and CA (readable, the key\n"
                "private and matching the certificate, which chains to the CA and serves as TLS\n"
                "server and client; expired is a problem, expiring within 30 days a warning).\n"
                "Each problem is printed on its own line naming the file and\n"
                "the field, e.g.\n"
                "  /etc/deployex/deployex.json: apps[0].replicas: must be an integer from 0 to 100, got -1\n"
                "When run as root, every app needs \"user\" (the account its instances, hooks\n"
                "and unpacking run as; \"root\" on purpose), except in environment mode, which\n"
                "only warns; a user or group that does not exist is a problem, and so is a tls\n"
                "file that an app's user cannot read (check tries as that user).\n"
                "Warnings (a file:// source directory that does not exist) do not fail the check.\n\n"
                "  --json     {\"config\", \"ok\", \"problems\": [..], \"warnings\": [..],\n"
                "              \"apps\": [{\"name\", \"published\", \"nothing_published\"}]}\n"
                "  --offline  do not read the bucket\n",
        .run = run,
};
