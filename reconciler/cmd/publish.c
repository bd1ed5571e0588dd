/*
 * deployex publish: what CI runs to release a version (DESIGN §3, §4.2).
 *
 *   1. check the tarball before anything leaves the machine: it unpacks under
 *      the same rules as on the hosts (unpack.c: no hostile member, size
 *      caps) and has the layout the app's language needs;
 *   2. refuse a version already published with other bytes (unless --force);
 *   3. upload dist/APP/APP-VERSION.tar.gz;
 *   4. write versions/APP/ENV/current.json last, in one atomic write, so a
 *      host never sees a current.json naming a tarball that is not there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/unpack.h"
#include "buckets/aws_sigv4.h"
#include "buckets/bucket_put.h"
#include "base/fsutil.h"
#include "state/release.h"
#include "buckets/source.h"
#include "base/banned.h"

struct publish_args {
        const char *app, *version, *tarball, *hash;
        const char **pre_commands;
        size_t npre_commands;
        bool force;
};

/* A mapped, read-only tarball. */
struct tarball {
        const char *path;
        void *data;
        size_t len;
        char sha256[65];
};

static int tarball_map(struct tarball *t, uint64_t max_bytes)
{
        struct stat st;
        int fd = open(t->path, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
                fprintf(stderr, "deployex publish: %s: %s\n", t->path, strerror(errno));
                return EXIT_FAIL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
                fprintf(stderr, "deployex publish: %s: not a non-empty regular file\n", t->path);
                close(fd);
                return EXIT_FAIL;
        }
        if ((uint64_t)st.st_size > max_bytes) {
                fprintf(stderr, "deployex publish: %s: %lld bytes, more than max_release_bytes (%llu)\n",
                        t->path, (long long)st.st_size, (unsigned long long)max_bytes);
                close(fd);
                return EXIT_FAIL;
        }
        t->len = (size_t)st.st_size;
        t->data = mmap(NULL, t->len, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (t->data == MAP_FAILED) {
                t->data = NULL;
                fprintf(stderr, "deployex publish: %s: %s\n", t->path, strerror(errno));
                return EXIT_FAIL;
        }
        aws_sha256_hex(t->data, t->len, t->sha256);
        return EXIT_OK;
}

static bool is_dir(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Some DIR/NAME/ebin directory: the packages of a Gleam erlang-shipment. */
static bool has_ebin_below(const char *dir)
{
        struct buf q = BUF_INIT;
        DIR *d = opendir(dir);
        struct dirent *e;
        bool found = false;

        while (d && !found && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                buf_reset(&q);
                buf_printf(&q, "%s/%s/ebin", dir, e->d_name);
                found = is_dir(q.data);
        }
        if (d)
                closedir(d);
        buf_release(&q);
        return found;
}

/* The names under root/releases/ that are directories, for a hint. */
static void list_release_dirs(const char *root, struct buf *out)
{
        struct buf p = BUF_INIT, q = BUF_INIT;
        DIR *d;
        struct dirent *e;

        buf_printf(&p, "%s/releases", root);
        d = opendir(p.data);
        while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                buf_reset(&q);
                buf_printf(&q, "%s/%s", p.data, e->d_name);
                if (is_dir(q.data))
                        buf_printf(out, "%sreleases/%s/", out->len ? ", " : "", e->d_name);
        }
        if (d)
                closedir(d);
        buf_release(&p);
        buf_release(&q);
}

/*
 * What a host needs to start the release: an Elixir or Erlang
 * release has its start script bin/APP and releases/VERSION/ (see hooks/); a Gleam
 * erlang-shipment has PACKAGE/ebin directories, in erlang-shipment/ or at
 * the top.  One line into err when something is missing.
 */
static int check_layout(const char *root, const struct app_config *app, const char *version,
                        struct buf *err)
{
        struct buf p = BUF_INIT, seen = BUF_INIT;
        struct stat st;
        int r = 0;

        if (app->language == LANG_GLEAM) {
                buf_printf(&p, "%s/erlang-shipment", root);
                if (!has_ebin_below(p.data) && !has_ebin_below(root)) {
                        buf_printf(err, "no erlang-shipment/PACKAGE/ebin/ (a Gleam app ships "
                                        "'gleam export erlang-shipment' as the tarball's top)");
                        r = -EINVAL;
                }
                goto out;
        }
        buf_printf(&p, "%s/bin/%s", root, app->name);
        if (lstat(p.data, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
                buf_printf(err, "no executable start script bin/%s (is this a %s release of '%s'?)",
                           app->name, language_to_string(app->language), app->name);
                r = -EINVAL;
                goto out;
        }
        buf_reset(&p);
        buf_printf(&p, "%s/releases/%s", root, version);
        if (!is_dir(p.data)) {
                list_release_dirs(root, &seen);
                buf_printf(err, "no releases/%s/ (the tarball holds %s: was it built as version %s?)",
                           version, seen.len ? seen.data : "no releases/ at all", version);
                r = -EINVAL;
        }
out:
        buf_release(&p);
        buf_release(&seen);
        return r;
}

/* Unpack into a temporary directory under the unpack rules, then check the layout. */
static int verify_tarball(const struct config *c, const struct app_config *app,
                          const struct publish_args *a)
{
        const char *tmpdir = getenv("TMPDIR");
        struct buf dir = BUF_INIT, root = BUF_INIT, err = BUF_INIT;
        int r, status = EXIT_FAIL;

        buf_printf(&dir, "%s/deployex-publish.XXXXXX", str_empty(tmpdir) ? "/tmp" : tmpdir);
        if (!mkdtemp(dir.data)) {
                fprintf(stderr, "deployex publish: cannot create a directory like %s: %s\n", dir.data,
                        strerror(errno));
                goto out;
        }
        buf_printf(&root, "%s/release", dir.data);
        r = unpack_release(a->tarball, root.data, c->max_unpacked_bytes, &err);
        if (r < 0) {
                fprintf(stderr, "deployex publish: refused, nothing uploaded: %s\n", err.data);
                goto out;
        }
        r = check_layout(root.data, app, a->version, &err);
        if (r < 0) {
                fprintf(stderr, "deployex publish: %s: refused, nothing uploaded: %s\n", a->tarball,
                        err.data);
                goto out;
        }
        status = EXIT_OK;
out:
        if (dir.data[0] && is_dir(dir.data))
                remove_tree(dir.data);
        buf_release(&dir);
        buf_release(&root);
        buf_release(&err);
        return status;
}

/*
 * The sha256 of the tarball already published for this version, "" when
 * there is none.  EXIT_OK, or EXIT_FAIL after printing why (a bucket that
 * cannot be read must not be taken for an empty one).
 */
static int published_sha256(const struct config *c, const struct publish_args *a, char ret[65])
{
        struct source *src = NULL;
        struct buf err = BUF_INIT;
        struct stat st;
        void *data;
        int fd = -1, r, status = EXIT_FAIL;

        ret[0] = '\0';
        r = source_open(c, &src, &err);
        if (r < 0) {
                fprintf(stderr, "deployex publish: %s\n", err.data);
                goto out;
        }
        fd = memfd_create("published", MFD_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "deployex publish: memfd_create: %s\n", strerror(errno));
                goto out;
        }
        r = source_get_release(src, a->app, a->version, fd, c->max_release_bytes, &err);
        if (r == -ENOENT) {
                status = EXIT_OK;
                goto out;
        }
        if (r < 0) {
                fprintf(stderr, "deployex publish: cannot check what is published: %s\n", err.data);
                goto out;
        }
        if (fstat(fd, &st) < 0) {
                fprintf(stderr, "deployex publish: fstat: %s\n", strerror(errno));
                goto out;
        }
        if (st.st_size == 0) {
                aws_sha256_hex("", 0, ret);
        } else {
                data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (data == MAP_FAILED) {
                        fprintf(stderr, "deployex publish: mmap: %s\n", strerror(errno));
                        goto out;
                }
                aws_sha256_hex(data, (size_t)st.st_size, ret);
                munmap(data, (size_t)st.st_size);
        }
        status = EXIT_OK;
out:
        if (fd >= 0)
                close(fd);
        source_free(src);
        buf_release(&err);
        return status;
}

/* current.json, built and then read back by the hosts' own parser. */
static int build_current(const struct publish_args *a, const char *sha256, struct buf *out)
{
        struct release_desc d = {0}, check = {0};
        struct buf err = BUF_INIT;
        int r;

        str_copy(d.version, sizeof(d.version), a->version);
        str_copy(d.sha256, sizeof(d.sha256), sha256);
        if (a->hash && !str_copy(d.hash, sizeof(d.hash), a->hash)) {
                fprintf(stderr, "deployex publish: --hash: at most %d characters\n", HASH_MAX);
                return EXIT_USAGE;
        }
        d.pre_commands = (char **)a->pre_commands;
        d.npre_commands = a->npre_commands;
        release_desc_to_json(&d, out);
        buf_putc(out, '\n');
        r = release_desc_parse(out->data, out->len, "current.json", &check, &err);
        if (r < 0)
                fprintf(stderr, "deployex publish: %s\n", err.data);
        else
                release_desc_release(&check);
        buf_release(&err);
        return r < 0 ? EXIT_USAGE : EXIT_OK;
}

static int parse_args(int argc, char **argv, struct publish_args *a)
{
        const char *pos[3];
        int npos = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--force") == 0) {
                        a->force = true;
                } else if (strcmp(argv[i], "--pre-command") == 0 || strcmp(argv[i], "--hash") == 0) {
                        if (i + 1 >= argc)
                                return cli_usage_error(&cmd_publish, "%s needs a value", argv[i]);
                        if (strcmp(argv[i], "--hash") == 0) {
                                a->hash = argv[++i];
                        } else {
                                a->pre_commands = xrealloc(a->pre_commands,
                                                           (a->npre_commands + 1) * sizeof(char *));
                                a->pre_commands[a->npre_commands++] = argv[++i];
                        }
                } else if (strcmp(argv[i], "--") == 0) {
                        for (i++; i < argc; i++) {
                                if (npos == 3)
                                        return cli_usage_error(&cmd_publish, "unexpected argument '%s'", argv[i]);
                                pos[npos++] = argv[i];
                        }
                } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
                        return cli_usage_error(&cmd_publish, "unknown option '%s'", argv[i]);
                } else if (npos == 3) {
                        return cli_usage_error(&cmd_publish, "unexpected argument '%s'", argv[i]);
                } else {
                        pos[npos++] = argv[i];
                }
        }
        if (npos != 3)
                return cli_usage_error(&cmd_publish, "expected APP VERSION TARBALL");
        a->app = pos[0];
        a->version = pos[1];
        a->tarball = pos[2];
        if (!a->hash && !str_empty(getenv("GITHUB_SHA")))
                a->hash = getenv("GITHUB_SHA");
        if (!version_is_valid(a->version))
                return cli_usage_error(&cmd_publish, "VERSION '%s' must match [A-Za-z0-9._+-]{1,64}",
                                       a->version);
        return EXIT_OK;
}

static int run_publish(const struct cli *cli, int argc, char **argv)
{
        struct publish_args a = {0};
        struct config c = {0};
        struct tarball t = { .path = NULL };
        struct bucket_put *bp = NULL;
        struct buf current = BUF_INIT, rel = BUF_INIT, name = BUF_INIT, err = BUF_INIT;
        const struct app_config *app;
        char published[65];
        bool loaded = false;
        int status;

        status = parse_args(argc, argv, &a);
        if (status != EXIT_OK || !a.tarball)
                goto out;
        status = cli_load_config(cli, &c);
        if (status != EXIT_OK)
                goto out;
        loaded = true;
        status = EXIT_FAIL;
        app = cli_find_app(&c, a.app);
        if (!app)
                goto out;
        t.path = a.tarball;
        if (tarball_map(&t, c.max_release_bytes) != EXIT_OK)
                goto out;
        status = build_current(&a, t.sha256, &current);
        if (status != EXIT_OK)
                goto out;
        status = EXIT_FAIL;
        if (verify_tarball(&c, app, &a) != EXIT_OK)
                goto out;
        if (bucket_put_open(&c, &bp, &err) < 0) {
                fprintf(stderr, "deployex publish: %s\n", err.data);
                goto out;
        }
        if (published_sha256(&c, &a, published) != EXIT_OK)
                goto out;
        buf_printf(&rel, "dist/%s/%s-%s.tar.gz", a.app, a.app, a.version);
        bucket_put_name(bp, rel.data, &name);
        if (published[0] && strcmp(published, t.sha256) != 0 && !a.force) {
                fprintf(stderr, "deployex publish: %s is already published with other bytes "
                                "(sha256 %s, this tarball %s); publish a new version, or --force "
                                "to replace it\n", name.data, published, t.sha256);
                goto out;
        }
        if (published[0] && strcmp(published, t.sha256) == 0) {
                printf("%s: already published with these bytes\n", name.data);
        } else {
                if (bucket_put_object(bp, rel.data, t.data, t.len, "application/gzip", &err) < 0) {
                        fprintf(stderr, "deployex publish: upload failed, current.json untouched: %s\n",
                                err.data);
                        goto out;
                }
                printf("%s: uploaded (%zu bytes, sha256 %s)\n", name.data, t.len, t.sha256);
        }
        buf_reset(&rel);
        buf_printf(&rel, "versions/%s/%s/current.json", a.app, c.env);
        bucket_put_name(bp, rel.data, &name);
        if (bucket_put_object(bp, rel.data, current.data, current.len, "application/json", &err) < 0) {
                fprintf(stderr, "deployex publish: the tarball is uploaded but current.json is not: %s\n",
                        err.data);
                goto out;
        }
        printf("%s: publishes %s\n", name.data, a.version);
        status = EXIT_OK;
out:
        if (t.data)
                munmap(t.data, t.len);
        bucket_put_free(bp);
        free(a.pre_commands);
        if (loaded)
                config_release(&c);
        buf_release(&current);
        buf_release(&rel);
        buf_release(&name);
        buf_release(&err);
        return status;
}

const struct cli_command cmd_publish = {
        .name = "publish",
        .usage = "publish [--pre-command CMD].. [--hash H] [--force] APP VERSION TARBALL",
        .summary = "for CI: check a release tarball, upload it, then write current.json",
        .help = "Checks TARBALL as the hosts will (it unpacks under the same rules: no absolute\n"
                "or '..' path, no link leaving the tree, no device, no setuid bit; the size caps\n"
                "of the configuration) and its layout (bin/APP and releases/VERSION/ for Elixir\n"
                "and Erlang, erlang-shipment/PACKAGE/ebin/ for Gleam) before uploading anything.\n"
                "Then uploads it to {source}/dist/APP/APP-VERSION.tar.gz and, last, writes\n"
                "{source}/versions/APP/ENV/current.json in one atomic write:\n"
                "  {\"version\", \"hash\", \"sha256\", \"pre_commands\"}\n"
                "\n"
                "  --pre-command CMD  a pre-command the hosts run before starting VERSION\n"
                "                     (repeatable, in order; e.g. 'eval MyApp.Release.migrate()')\n"
                "  --hash H           the git commit; default $GITHUB_SHA, else none\n"
                "  --force            replace a tarball already published for VERSION with\n"
                "                     other bytes (refused by default: hosts may have it cached)\n"
                "\n"
                "Publishing the same bytes again only rewrites current.json (a re-run CI job).\n"
                "Credentials come from the environment as for the daemon (AWS_*, \n"
                "GOOGLE_APPLICATION_CREDENTIALS or gcp_credentials), never from arguments.\n",
        .run = run_publish,
};
