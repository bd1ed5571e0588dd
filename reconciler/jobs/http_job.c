/*
 * __http: one deployex.http request for the lean hook runner, deployex-hook,
 * which links no libcurl (lua/api_http.h has the wire format).  The request
 * comes on stdin, the answer goes to stdout; nothing on argv, since headers
 * and bodies may carry credentials.  Exit 0 whenever an answer was written
 * ("status N" or "error"), 1 when the request itself was malformed.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/cmd/cli.h"
#include "lua/api_http.h"
#include "base/fsutil.h"
#include "base/banned.h"

/* The request: its lines, and a body up to what a Lua string in a hook would hold. */
#define REQUEST_MAX (64u << 20)

static int run_x_http(const struct cli *cli, int argc, char **argv)
{
        const char *headers[API_HTTP_HEADERS_MAX + 1];
        struct buf in = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
        struct api_http_request req;
        long status = 0;
        int r;

        (void)cli;
        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cmd_x_http, "takes no arguments; the request comes on stdin");
        if (fd_read_all(STDIN_FILENO, REQUEST_MAX, &in) < 0 ||
            api_http_wire_parse_request(in.data, in.len, &req, headers, &err) < 0) {
                fprintf(stderr, "%s\n", err.len ? err.data : "__http: cannot read the request");
                r = EXIT_FAIL;
                goto out;
        }
        buf_reset(&err);
        if (api_http_curl(&req, &status, &out, &err) == 0) {
                printf("status %ld\n", status);
                fflush(stdout);
                r = write_all(STDOUT_FILENO, out.data, out.len, NULL) < 0 ? EXIT_FAIL : EXIT_OK;
        } else {
                printf("error\n%s", err.data);
                r = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
        }
out:
        if (in.cap)
                explicit_bzero(in.data, in.cap);
        if (out.cap)
                explicit_bzero(out.data, out.cap);
        buf_release(&in);
        buf_release(&out);
        buf_release(&err);
        return r;
}

const struct cli_command cmd_x_http = {
        .name = "__http",
        .usage = "__http",
        .summary = "(internal) one deployex.http request for the hook runner (request on stdin)",
        .help = "",
        .run = run_x_http,
};
