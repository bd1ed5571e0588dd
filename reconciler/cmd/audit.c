/*
 * deployex audit [--json] [-n N]: the operator actions recorded in
 * state/audit.jsonl by the CLI writers and the web UI, oldest first.
 */
#include <stdio.h>
#include <string.h>

#include "reconciler/cmd/cli.h"
#include "state/audit.h"
#include "state/paths.h"
#include "base/banned.h"

static int run(const struct cli *cli, int argc, char **argv)
{
        struct config c;
        struct audit_list l;
        struct buf path = BUF_INIT, err = BUF_INIT, line = BUF_INIT;
        bool json = false;
        int last = 50, r, status = EXIT_FAIL;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc &&
                         parse_int(argv[i + 1], &last) == 0 && last >= 0)
                        i++;
                else if (strcmp(argv[i], "-n") == 0)
                        return cli_usage_error(&cmd_audit, "-n needs a number of entries (0 = all)");
                else
                        return cli_usage_error(&cmd_audit, "unexpected argument '%s'", argv[i]);
        }
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        memset(&l, 0, sizeof(l));
        path_audit(&c, &path);
        if (audit_load(path.data, (size_t)last, &l, &err) < 0) {
                fprintf(stderr, "deployex audit: %s\n", err.data);
                goto out;
        }
        if (l.skipped)
                fprintf(stderr, "deployex audit: %s: skipped %zu malformed line%s\n", path.data,
                        l.skipped, l.skipped == 1 ? "" : "s");
        if (json)
                printf("[");
        else if (l.n == 0)
                printf("no actions recorded yet (%s)\n", path.data);
        for (size_t i = 0; i < l.n; i++) {
                const struct audit_entry *e = &l.items[i];

                if (json) {
                        buf_reset(&line);
                        audit_entry_to_json(e, &line);
                        printf("%s%s", i ? ",\n " : "", line.data);
                } else {
                        char at[32];

                        time_format_iso(e->at_ms, at, sizeof(at));
                        printf("%s  %-3s %-20s %-8s %s%s%s  %s%s%s\n", at, e->via, e->from,
                               e->action, e->app[0] ? e->app : "-", e->detail[0] ? " " : "",
                               e->detail, e->ok ? "ok" : "FAILED", e->error[0] ? ": " : "",
                               e->error);
                }
        }
        if (json)
                printf("]\n");
        status = EXIT_OK;
out:
        audit_release(&l);
        config_release(&c);
        buf_release(&path);
        buf_release(&err);
        buf_release(&line);
        return status;
}

const struct cli_command cmd_audit = {
        .name = "audit",
        .usage = "audit [--json] [-n N]",
        .summary = "operator actions from the CLI and the web UI, oldest first",
        .help = "Reads state/audit.jsonl: every pin, unpin, pause, resume, restart and unghost\n"
                "(CLI or web), every web login and logout, with when, via what, from where\n"
                "(the client address, or the calling uid) and the result.\n\n"
                "  -n N     the last N entries (default 50; 0 = all)\n"
                "  --json   an array of {\"at\", \"via\", \"from\", \"action\", \"app\", \"detail\",\n"
                "           \"result\", \"error\"}\n",
        .run = run,
};
