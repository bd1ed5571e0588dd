/*
 * The hook sandbox and the deployex.* API: escapes are refused, limits hold,
 * errors name the hook file and line, and the API does what hooks rely on
 * (exec with env/cwd/timeout and log capture, log masking, glob, read_file,
 * sleep_ms, tcp_check, http) against real processes and sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>

#include "lua/api.h"
#include "lua/api_http.h"
#include "lua/sandbox.h"
#include "base/fsutil.h"
#include "state/json.h"
#include "base/banned.h"

static char tmpdir[64];
static struct buf logged;

static void capture_log(void *data, const char *level, const char *msg)
{
        (void)data;
        buf_printf(&logged, "%s: %s\n", level, msg);
}

static struct api_env test_env = { "s3cr3t-cookie", NULL, NULL, capture_log, NULL, NULL, NULL };

/*
 * Run code as chunk "@name" under limits; 0 and the chunk's first result
 * (a string, else its type name) in out, or -EINVAL and the error in err.
 */
static int run_named(const char *name, const char *code, const struct sandbox_limits *lim,
                     struct buf *out, struct buf *err)
{
        struct sandbox *sb;
        struct buf chunk = BUF_INIT;
        lua_State *L;
        int r;

        assert_int_equal(sandbox_new(lim, &sb), 0);
        L = sandbox_state(sb);
        assert_int_equal(api_open(L), 0);
        api_bind(sb, &test_env);
        buf_printf(&chunk, "@%s", name);
        r = sandbox_load_string(sb, code, strlen(code), chunk.data, err);
        if (r == 0)
                r = sandbox_pcall(sb, 0, 1, err);
        if (r == 0) {
                if (lua_type(L, -1) == LUA_TSTRING)
                        buf_puts(out, lua_tostring(L, -1));
                else
                        buf_puts(out, luaL_typename(L, -1));
        }
        sandbox_free(sb);
        buf_release(&chunk);
        return r;
}

static int run(const char *code, struct buf *out, struct buf *err)
{
        struct sandbox_limits lim = { 8u << 20, 2000000, 5000 };

        return run_named("hooks/test.lua", code, &lim, out, err);
}

static void expect_error(const char *code, const char *needle)
{
        struct buf out = BUF_INIT, err = BUF_INIT;

        assert_int_equal(run(code, &out, &err), -EINVAL);
        if (!strstr(err.data, needle))
                fail_msg("code: %s\nexpected error containing: %s\ngot: %s", code, needle, err.data);
        buf_release(&out);
        buf_release(&err);
}

static void expect_result(const char *code, const char *want)
{
        struct buf out = BUF_INIT, err = BUF_INIT;

        if (run(code, &out, &err) != 0)
                fail_msg("code: %s\nfailed: %s", code, err.data);
        if (strcmp(out.data, want) != 0)
                fail_msg("code: %s\nexpected: %s\ngot: %s", code, want, out.data);
        buf_release(&out);
        buf_release(&err);
}

static void test_escapes_refused(void **state)
{
        static const struct {
                const char *code;
                const char *error;
        } cases[] = {
                { "local f = io.open('/etc/passwd')", "hooks/test.lua:1: attempt to index a nil value (global 'io')" },
                { "\nos.execute('touch /tmp/x')", "hooks/test.lua:2: attempt to call a nil value (field 'execute')" },
                { "os.remove('/tmp/x')", "hooks/test.lua:1: attempt to call a nil value (field 'remove')" },
                { "return os.getenv('HOME')", "hooks/test.lua:1: attempt to call a nil value (field 'getenv')" },
                { "return string.dump(print)", "hooks/test.lua:1: attempt to call a nil value (field 'dump')" },
                { "return ('x'):dump()", "hooks/test.lua:1: attempt to call a nil value (method 'dump')" },
                { "local f, e = load('\\27LuaT\\0\\25\\147\\r\\n\\26\\n') assert(f, e)",
                  "hooks/test.lua:1: attempt to load a binary chunk (mode is 't')" },
                { "load(function() return nil end)", "hooks/test.lua:1: load: only string chunks" },
                { "require('socket.core')", "hooks/test.lua:1: attempt to call a nil value (global 'require')" },
                { "return package.loadlib('libc.so.6', 'system')", "attempt to index a nil value (global 'package')" },
                { "dofile('/etc/passwd')", "attempt to call a nil value (global 'dofile')" },
                { "loadfile('/etc/passwd')", "attempt to call a nil value (global 'loadfile')" },
                { "debug.getregistry()", "attempt to index a nil value (global 'debug')" },
                { "collectgarbage('stop')", "attempt to call a nil value (global 'collectgarbage')" },
                { "getmetatable(deployex.atom('a')).__index = nil", "attempt to index a boolean value" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                expect_error(cases[i].code, cases[i].error);
}

static void test_safe_libraries_present(void **state)
{
        (void)state;
        expect_result("return table.concat({string.format('%d', 42), math.floor(2.5), utf8.char(72), "
                      "type(os.time()), type(os.clock()), os.date('!%Y', 0)}, ',')",
                      "42,2,H,number,number,1970");
        /* A text chunk compiles; its environment can be chosen. */
        expect_result("local f = load('return x', 'chunk', 't', {x = 'env ok'}) return f()", "env ok");
}

static void test_limits(void **state)
{
        (void)state;
        /* A memory bomb stops at the cap, attributed to the hook file. */
        expect_error("local t = {}\nfor i = 1, 1e6 do\n  t[i] = string.rep('x', 4096) .. i\nend",
                     "hooks/test.lua:3: memory limit exceeded (8 MiB)");
        expect_error("return string.rep('x', 1 << 30)", "hooks/test.lua: memory limit exceeded (8 MiB)");
        expect_error("local n = 0\nwhile true do n = n + 1 end",
                     "hooks/test.lua:2: instruction limit exceeded (2000000 instructions)");
        {
                struct sandbox_limits lim = { 8u << 20, 1ull << 40, 200 };
                struct buf out = BUF_INIT, err = BUF_INIT;

                assert_int_equal(run_named("t.lua", "\n\nwhile true do end", &lim, &out, &err), -EINVAL);
                assert_string_equal(err.data, "t.lua:3: time limit exceeded (200 ms)");
                buf_reset(&err);
                /* A blocking call is clipped to the time left, then stopped at its line. */
                assert_int_equal(run_named("t.lua", "deployex.sleep_ms(100)\ndeployex.sleep_ms(60000)",
                                           &lim, &out, &err), -EINVAL);
                assert_string_equal(err.data, "t.lua:2: time limit exceeded (200 ms)");
                buf_release(&out);
                buf_release(&err);
        }
        /* The state is still usable after a memory error (the test does not crash or leak). */
        expect_result("local ok, e = pcall(string.rep, 'x', 1 << 30) return tostring(ok)", "false");
}

static void test_errors_name_file_and_line(void **state)
{
        static const struct {
                const char *code;
                const char *error;
        } cases[] = {
                { "local x = 1\nerror('boom')", "hooks/test.lua:2: boom" },
                { "\n\nerror('no position', 0)", "hooks/test.lua:3: no position" },
                { "error({code = 1})", "hooks/test.lua:1: (error object is a table value)" },
                { "local function f()\n  return nil + 1\nend\nf()", "hooks/test.lua:2: attempt to perform arithmetic on a nil value" },
                { "x = = 1", "hooks/test.lua:1: unexpected symbol near '='" },
                { "deployex.exec('ls')", "hooks/test.lua:1: bad argument #1 to 'exec' (table expected, got string)" },
                { "\ndeployex.exec({'ls', 3})", "hooks/test.lua:2: exec: argv[2] must be a string, got number" },
                { "deployex.log('loud', 'x')", "hooks/test.lua:1: bad argument #1 to 'log' (invalid option 'loud')" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                expect_error(cases[i].code, cases[i].error);
}

static void test_long_paths_kept_whole(void **state)
{
        const char *name = "/tmp/a/very/long/directory/name/that/lua/would/shorten/with/dots/hook.lua";
        struct sandbox_limits lim = { 0, 0, 0 };
        struct buf out = BUF_INIT, err = BUF_INIT, want = BUF_INIT;
        (void)state;

        assert_int_equal(run_named(name, "local a = {}\nreturn a.b.c", &lim, &out, &err), -EINVAL);
        buf_printf(&want, "%s:2: attempt to index a nil value (field 'b')", name);
        assert_string_equal(err.data, want.data);
        buf_reset(&err);
        assert_int_equal(run_named(name, "return (", &lim, &out, &err), -EINVAL);
        assert_true(strncmp(err.data, name, strlen(name)) == 0);
        buf_release(&out);
        buf_release(&err);
        buf_release(&want);
}

static void test_log_masks_cookie(void **state)
{
        (void)state;
        buf_reset(&logged);
        expect_result("deployex.log('info', 'cookie is s3cr3t-cookie!')\n"
                      "print('again', 's3cr3t-cookie', 42)\n"
                      "deployex.log('warn', 7)\n"
                      "return 'done'",
                      "done");
        assert_string_equal(logged.data, "info: cookie is ********!\n"
                                         "info: again\t********\t42\n"
                                         "warn: 7\n");
}

static void test_exec(void **state)
{
        struct buf code = BUF_INIT, text = BUF_INIT;
        char out_log[128], err_log[128];
        (void)state;

        snprintf(out_log, sizeof(out_log), "%s/log/app/app-1-stdout.log", tmpdir);
        snprintf(err_log, sizeof(err_log), "%s/log/app/app-1-stderr.log", tmpdir);
        test_env.stdout_log = out_log;
        test_env.stderr_log = err_log;

        /* Exit status, output tail, both streams to the log files, argv never through a shell. */
        expect_result("local r = deployex.exec({'sh', '-c', 'echo \"$1\"; echo to-err >&2; exit 3', "
                      "'sh', 'a b; $(x)'})\n"
                      "return table.concat({tostring(r.ok), r.status, r.error, r.output}, '|')",
                      "false|3|exited with status 3|a b; $(x)\nto-err\n");
        assert_int_equal(file_read_all(out_log, 1 << 20, &text), 0);
        assert_non_null(strstr(text.data, "] exec: sh -c 'echo \"$1\"; echo to-err >&2; exit 3' sh 'a b; $(x)'\n"
                                          "a b; $(x)\n"));
        assert_non_null(strstr(text.data, "] exited with status 3\n"));
        assert_int_equal(file_read_all(err_log, 1 << 20, &text), 0);
        assert_string_equal(text.data, "to-err\n");

        /* env sets, false and unset patterns remove, cwd applies. */
        setenv("RELEASE_NODE", "inherited", 1);
        setenv("KEEP_ME", "kept", 1);
        expect_result("local r = deployex.exec({'sh', '-c', 'echo \"$FOO|${RELEASE_NODE-unset}|$KEEP_ME|"
                      "${HOME-nohome}|$PORT|$(pwd)\"'}, {env = {FOO = 'bar', PORT = 4001, HOME = false}, "
                      "unset = {'RELEASE_*'}, cwd = '/tmp'})\n"
                      "assert(r.ok and r.status == 0 and r.error == nil)\n"
                      "return r.output",
                      "bar|unset|kept|nohome|4001|/tmp\n");
        unsetenv("RELEASE_NODE");
        unsetenv("KEEP_ME");

        /* Timeouts take the process down; a missing program is a failure, not an error. */
        expect_result("local r = deployex.exec({'sleep', '10'}, {timeout_ms = 200})\n"
                      "return table.concat({tostring(r.ok), tostring(r.timed_out), r.signal, r.error}, '|')",
                      "false|true|15|timed out after 200 ms");
        expect_result("local r = deployex.exec({'deployex-no-such-program'})\n"
                      "return tostring(r.ok) .. '|' .. r.error",
                      "false|cannot execute 'deployex-no-such-program': No such file or directory");
        /* The cookie is masked in the log line and the output the hook gets back. */
        expect_result("return deployex.exec({'echo', 's3cr3t-cookie'}).output", "********\n");
        assert_int_equal(file_read_all(out_log, 1 << 20, &text), 0);
        /* (The program's own output is its business: it reaches the log as written.) */
        assert_null(strstr(text.data, "exec: echo s3cr3t-cookie"));
        assert_non_null(strstr(text.data, "exec: echo ********\n"));

        /* An output tail cut inside the cookie does not show the rest of it. */
        expect_result("local r = deployex.exec({'sh', '-c', 'printf %s \"$1\"; printf \"%4087s\" \"\" | "
                      "tr \" \" y', 'sh', 's3cr3t-cookie'})\n"
                      "return r.output == '********' .. string.rep('y', 4087) and 'masked' or r.output",
                      "masked");
        /* A cookie holding a quote is masked before the command line is quoted. */
        test_env.cookie = "it's-s3cr3t";
        expect_result("return deployex.exec({'echo', \"it's-s3cr3t\"}).output", "********\n");
        assert_int_equal(file_read_all(out_log, 1 << 20, &text), 0);
        assert_null(strstr(text.data, "s3cr3t'"));
        test_env.cookie = "s3cr3t-cookie";

        expect_error("deployex.exec({'true'}, {env = {['BAD NAME'] = 'x'}})", "exec: env: bad variable name 'BAD NAME'");
        expect_error("deployex.exec({'true'}, {timeout_ms = -1})", "exec: timeout_ms must be a positive integer");
        expect_error("deployex.exec({})", "exec: argv must be a list of 1 to 1024 strings");
        test_env.stdout_log = NULL;
        test_env.stderr_log = NULL;
        buf_release(&code);
        buf_release(&text);
}

static void test_files(void **state)
{
        char path[128];
        struct buf code = BUF_INIT;
        (void)state;

        snprintf(path, sizeof(path), "%s/files", tmpdir);
        assert_int_equal(mkdir_p(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/files/b.txt", tmpdir);
        assert_int_equal(atomic_write_file(path, "bee\n", 4), 0);
        snprintf(path, sizeof(path), "%s/files/a.txt", tmpdir);
        assert_int_equal(atomic_write_file(path, "ay", 2), 0);

        buf_printf(&code, "local g = deployex.glob('%s/files/*.txt')\n"
                          "local none = deployex.glob('%s/files/*.none')\n"
                          "local data = deployex.read_file(g[1])\n"
                          "local missing, e = deployex.read_file('%s/files/nope')\n"
                          "return #g .. '|' .. g[2]:match('[^/]*$') .. '|' .. data .. '|' .. #none .. '|' "
                          ".. tostring(missing) .. '|' .. e",
                   tmpdir, tmpdir, tmpdir);
        {
                struct buf out = BUF_INIT, err = BUF_INIT, want = BUF_INIT;

                assert_int_equal(run(code.data, &out, &err), 0);
                buf_printf(&want, "2|b.txt|ay|0|nil|cannot read '%s/files/nope': No such file or directory",
                           tmpdir);
                assert_string_equal(out.data, want.data);
                buf_release(&out);
                buf_release(&err);
                buf_release(&want);
        }
        buf_release(&code);
}

struct server {
        int fd;
        int port;
        char request[2048];
};

static int listen_local(int *ret_port)
{
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        *ret_port = ntohs(a.sin_port);
        return fd;
}

/* Answer the first connection that sends a request (tcp_check's probe sends nothing). */
static void *serve_one(void *arg)
{
        static const char reply[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 8\r\n"
                                    "Connection: close\r\n\r\nstarting";
        struct server *s = arg;

        for (int tries = 0; tries < 3; tries++) {
                int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
                size_t got = 0;

                if (c < 0)
                        return NULL;
                /* Read the head and the 4-byte body the test sends. */
                while (got < sizeof(s->request) - 1) {
                        ssize_t n = read(c, s->request + got, sizeof(s->request) - 1 - got);

                        if (n <= 0)
                                break;
                        got += (size_t)n;
                        s->request[got] = '\0';
                        if (strstr(s->request, "\r\n\r\nping"))
                                break;
                }
                if (got > 0 && write(c, reply, sizeof(reply) - 1) < 0)
                        s->request[0] = '\0';
                close(c);
                if (got > 0)
                        return NULL;
        }
        return NULL;
}

/* tcp_check and http against a real listener, with the HTTP sender the process has set. */
static void network_round_trip(void)
{
        struct server s;
        struct buf code = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
        pthread_t th;
        int closed_port, cfd;

        memset(&s, 0, sizeof(s));
        s.fd = listen_local(&s.port);
        cfd = listen_local(&closed_port);
        close(cfd); /* nothing listens there now */

        assert_int_equal(pthread_create(&th, NULL, serve_one, &s), 0);
        buf_printf(&code, "local up = deployex.tcp_check('127.0.0.1', %d, 1000)\n"
                          "local down, e = deployex.tcp_check('127.0.0.1', %d, 1000)\n"
                          "local status, body = deployex.http('POST', 'http://127.0.0.1:%d/health', "
                          "{headers = {['X-Check'] = 'yes'}, body = 'ping', timeout_ms = 2000})\n"
                          "assert(status, body)\n"
                          "return table.concat({tostring(up), tostring(down), e, status, body}, '|')",
                   s.port, closed_port, s.port);
        if (run(code.data, &out, &err) != 0)
                fail_msg("%s", err.data);
        pthread_join(th, NULL);
        buf_reset(&code);
        buf_printf(&code, "true|nil|tcp 127.0.0.1:%d: Connection refused|503|starting", closed_port);
        assert_string_equal(out.data, code.data);
        assert_true(strncmp(s.request, "POST /health HTTP/1.1\r\n", 23) == 0);
        assert_non_null(strstr(s.request, "X-Check: yes\r\n"));
        close(s.fd);

        /* http refused before anything is sent: only http(s), no header injection. */
        expect_error("deployex.http('GET', 'http://x/', {headers = {A = 'b\\r\\nEvil: 1'}})", "http: bad header 'A'");
        expect_error("deployex.http('get', 'http://x/')", "http: method must be upper case letters");
        buf_reset(&out);
        assert_int_equal(run("local s, e = deployex.http('GET', 'file:///etc/passwd') return tostring(s) .. '|' .. e",
                             &out, &err), 0);
        assert_true(strncmp(out.data, "nil|", 4) == 0);
        buf_release(&code);
        buf_release(&out);
        buf_release(&err);
}

/* The full binary's sender: libcurl in process. */
static void test_network(void **state)
{
        (void)state;
        api_set_http(api_http_curl);
        network_round_trip();
}

/*
 * The hook runner's sender (lua/api_http.h): the request through `deployex
 * __http` on a pipe, the same answers and the same errors.
 */
static void test_network_through_deployex(void **state)
{
        const char *deployex = getenv("DEPLOYEX");
        struct buf out = BUF_INIT, err = BUF_INIT;

        (void)state;
        if (!deployex || deployex[0] != '/')
                fail_msg("DEPLOYEX must name the deployex binary (tests/run sets it)");
        api_http_exec_program(deployex);
        api_set_http(api_http_exec);
        network_round_trip();
        /* A URL with a line break cannot travel on the wire: refused here, not sent. */
        assert_int_equal(run("local s, e = deployex.http('GET', 'http://x/\\nEvil') return tostring(s) .. '|' .. e",
                             &out, &err), 0);
        assert_string_equal(out.data, "nil|GET: the URL holds a line break");
        buf_reset(&out);
        assert_int_equal(run("local h = {} for i = 1, 101 do h['X-' .. i] = 'v' end "
                             "local s, e = deployex.http('GET', 'http://x/', {headers = h}) "
                             "return tostring(s) .. '|' .. e", &out, &err), 0);
        assert_string_equal(out.data, "nil|GET http://x/: more than 100 headers");
        /* No sender at all: a line that says so. */
        api_set_http(NULL);
        buf_reset(&out);
        assert_int_equal(run("local s, e = deployex.http('GET', 'http://x/') return tostring(s) .. '|' .. e",
                             &out, &err), 0);
        assert_string_equal(out.data, "nil|GET http://x/: this program has no HTTP client");
        api_set_http(api_http_curl);
        buf_release(&out);
        buf_release(&err);
}

static int setup(void **state)
{
        (void)state;
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_lua_sandbox_XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        remove_tree(tmpdir);
        buf_release(&logged);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escapes_refused),
                cmocka_unit_test(test_safe_libraries_present),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_errors_name_file_and_line),
                cmocka_unit_test(test_long_paths_kept_whole),
                cmocka_unit_test(test_log_masks_cookie),
                cmocka_unit_test(test_exec),
                cmocka_unit_test(test_files),
                cmocka_unit_test(test_network),
                cmocka_unit_test(test_network_through_deployex),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
