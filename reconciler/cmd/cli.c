/*
 * cli: helpers shared by the commands: help, usage errors, config loading
 * and app lookup, each printing the one-line message an operator needs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "base/fsutil.h"
#include "buckets/secrets.h"
#include "state/paths.h"
#include "base/banned.h"

int cli_check_state_readable(const struct cli_command *cmd, const struct config *c)
{
        /* The directories readers need, and the pid file that tells whether the daemon runs. */
        static void (*const parts[])(const struct config *, struct buf *) = {
                path_state_root, path_run_dir, path_pid_file,
        };
        struct buf path = BUF_INIT;
        int status = EXIT_OK;

        for (size_t i = 0; i < ARRAY_SIZE(parts) && status == EXIT_OK; i++) {
                bool dir = i < 2;

                parts[i](c, &path);
                if (access(path.data, dir ? R_OK | X_OK : R_OK) == 0 || errno == ENOENT)
                        continue;
                if (errno == EACCES || errno == EPERM)
                        fprintf(stderr, "deployex %s: cannot read %s: permission denied; are you in "
                                        "group deployex?\n", cmd->name, path.data);
                else
                        fprintf(stderr, "deployex %s: cannot read %s: %s\n", cmd->name, path.data,
                                strerror(errno));
                status = EXIT_FAIL;
        }
        buf_release(&path);
        return status;
}

bool cli_wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return false;
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return true;
        }
        return false;
}

void cli_print_help(const struct cli_command *cmd)
{
        printf("usage: deployex [-c FILE] %s\n\n%s\n", cmd->usage, cmd->summary);
        if (cmd->help && cmd->help[0])
                printf("\n%s", cmd->help);
        printf("\nExit status: 0 ok, 1 failure, 2 usage error.\n");
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "deployex %s: ", cmd->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nusage: deployex [-c FILE] %s  (see 'deployex %s --help')\n", cmd->usage,
                cmd->name);
        return EXIT_USAGE;
}

int cli_load_config(const struct cli *cli, struct config *ret)
{
        struct buf err = BUF_INIT;
        int r = config_load(cli->config_path, ret, &err);

        if (r < 0) {
                if (err.len == 0)
                        buf_printf(&err, "cannot load the configuration: %s", file_strerror(r));
                /* One line per problem, each already naming file and field. */
                fprintf(stderr, "%s%s", err.data, err.data[err.len - 1] == '\n' ? "" : "\n");
                buf_release(&err);
                return EXIT_FAIL;
        }
        buf_release(&err);
        return EXIT_OK;
}

int cli_load_job_secrets(struct config *c)
{
        struct buf err = BUF_INIT;
        int r = secrets_load_with(c, NULL, &err);

        if (r < 0)
                fprintf(stderr, "deployex: %s\n", err.len ? err.data : file_strerror(r));
        buf_release(&err);
        return r < 0 ? EXIT_FAIL : EXIT_OK;
}

const struct app_config *cli_find_app(const struct config *c, const char *name)
{
        const struct app_config *app = config_find_app(c, name);

        if (!app) {
                fprintf(stderr, "deployex: unknown app '%s' in %s (configured:", name, c->origin);
                for (size_t i = 0; i < c->napps; i++)
                        fprintf(stderr, "%s %s", i ? "," : "", c->apps[i].name);
                fprintf(stderr, "%s)\n", c->napps ? "" : " none");
        }
        return app;
}

int cli_parse_json_app(const struct cli_command *cmd, int argc, char **argv, bool app_required,
                       bool *ret_json, const char **ret_app)
{
        const char *app = NULL;
        bool json = false;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else if (argv[i][0] == '-')
                        return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
                else if (!app)
                        app = argv[i];
                else
                        return cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        }
        if (app_required && !app)
                return cli_usage_error(cmd, "expected APP");
        *ret_json = json;
        *ret_app = app;
        return EXIT_OK;
}

/*
 * An RFC 3339 time with a numeric offset ("2026-11-26T07:00:00+02:00", what
 * `date -Iseconds` prints): the same instant in UTC.  time_parse_iso() reads
 * the "Z" form the readers print.
 */
static int parse_offset_time(const char *s, uint64_t *ret_ms)
{
        size_t len = strlen(s);
        char utc[64];
        uint64_t t, off;
        unsigned hh, mm;

        if (len < 7 || len - 6 + 2 > sizeof(utc) || (s[len - 6] != '+' && s[len - 6] != '-') ||
            s[len - 3] != ':' || sscanf(s + len - 5, "%2u", &hh) != 1 ||
            sscanf(s + len - 2, "%2u", &mm) != 1 || hh > 23 || mm > 59 ||
            strspn(s + len - 5, "0123456789") != 2 || strspn(s + len - 2, "0123456789") != 2)
                return -EINVAL;
        memcpy(utc, s, len - 6);
        utc[len - 6] = 'Z';
        utc[len - 5] = '\0';
        if (time_parse_iso(utc, &t) < 0)
                return -EINVAL;
        off = ((uint64_t)hh * 60 + mm) * 60000;
        /* +02:00 is two hours ahead of UTC: subtract; -05:00: add. */
        if (s[len - 6] == '+')
                *ret_ms = t >= off ? t - off : 0;
        else
                *ret_ms = t + off;
        return 0;
}

int cli_parse_since(const char *s, uint64_t now_ms, uint64_t *ret_ms)
{
        static const struct {
                char unit;
                uint64_t ms;
        } units[] = { { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 } };
        size_t len = strlen(s);
        uint64_t n;

        if (time_parse_iso(s, ret_ms) == 0 || parse_offset_time(s, ret_ms) == 0)
                return 0;
        for (size_t i = 0; len >= 2 && i < ARRAY_SIZE(units); i++) {
                char digits[24];

                if (s[len - 1] != units[i].unit || len - 1 >= sizeof(digits))
                        continue;
                memcpy(digits, s, len - 1);
                digits[len - 1] = '\0';
                if (parse_u64(digits, &n) < 0 || n > UINT64_MAX / units[i].ms)
                        return -EINVAL;
                *ret_ms = n * units[i].ms > now_ms ? 0 : now_ms - n * units[i].ms;
                return 0;
        }
        return -EINVAL;
}
