/*
 * notify: real AF_UNIX datagram sockets (a path and an abstract name)
 * receive what sd_notify_send() sends; bad addresses are refused; no
 * $NOTIFY_SOCKET is a no-op.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "reconciler/daemon/notify.h"
#include "base/banned.h"

/* A bound datagram socket at address ("/path" or "@abstract"). */
static int listen_at(const char *address)
{
        struct sockaddr_un sa;
        size_t len = strlen(address);
        socklen_t sa_len;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        assert_true(len < sizeof(sa.sun_path));
        memcpy(sa.sun_path, address, len);
        if (address[0] == '@') {
                sa.sun_path[0] = '\0';
                sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        } else {
                sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
        }
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sa_len), 0);
        return fd;
}

static void expect_datagram(int fd, const char *want)
{
        char got[4200];
        ssize_t n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);

        assert_true(n >= 0);
        got[n] = '\0';
        assert_string_equal(got, want);
}

static void expect_nothing(int fd)
{
        char got[16];

        assert_int_equal(recv(fd, got, sizeof(got), MSG_DONTWAIT), -1);
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void test_path_socket(void **state)
{
        char dir[] = "/tmp/test_notify_XXXXXX";
        char path[64];
        int fd;
        (void)state;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/notify", dir);
        fd = listen_at(path);
        setenv("NOTIFY_SOCKET", path, 1);
        assert_int_equal(sd_notify_send("READY=1"), 0);
        expect_datagram(fd, "READY=1");
        assert_int_equal(sd_notify_sendf("STATUS=%d apps, %d instances running", 3, 9), 0);
        expect_datagram(fd, "STATUS=3 apps, 9 instances running");
        assert_int_equal(sd_notify_send("STOPPING=1"), 0);
        expect_datagram(fd, "STOPPING=1");
        expect_nothing(fd);
        unsetenv("NOTIFY_SOCKET");
        close(fd);
        unlink(path);
        rmdir(dir);
}

static void test_abstract_socket(void **state)
{
        char name[64];
        int fd;
        (void)state;

        snprintf(name, sizeof(name), "@deployex-test-notify-%d", (int)getpid());
        fd = listen_at(name);
        setenv("NOTIFY_SOCKET", name, 1);
        assert_int_equal(sd_notify_send("READY=1\nSTATUS=up"), 0);
        expect_datagram(fd, "READY=1\nSTATUS=up");
        /* A long message goes as one datagram, cut at 4096 bytes. */
        {
                char big[5000];

                memset(big, 'a', sizeof(big) - 1);
                big[sizeof(big) - 1] = '\0';
                assert_int_equal(sd_notify_sendf("STATUS=%s", big), 0);
                {
                        char got[6000];
                        ssize_t n = recv(fd, got, sizeof(got), MSG_DONTWAIT);

                        assert_int_equal(n, 4096);
                        assert_memory_equal(got, "STATUS=aaa", 10);
                }
        }
        unsetenv("NOTIFY_SOCKET");
        close(fd);
}

static void test_errors_and_no_op(void **state)
{
        char long_path[200];
        (void)state;

        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(sd_notify_send("READY=1"), 0);
        setenv("NOTIFY_SOCKET", "", 1);
        assert_int_equal(sd_notify_send("READY=1"), 0);
        unsetenv("NOTIFY_SOCKET");

        memset(long_path, 'x', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = '\0';
        assert_int_equal(sd_notify_send_to(long_path, "READY=1"), -ENAMETOOLONG);
        long_path[0] = '@';
        assert_int_equal(sd_notify_send_to(long_path, "READY=1"), -ENAMETOOLONG);
        assert_int_equal(sd_notify_send_to("relative/path", "READY=1"), -EAFNOSUPPORT);
        assert_int_equal(sd_notify_send_to("vsock:2:1234", "READY=1"), -EAFNOSUPPORT);
        /* Nobody listening: the error comes back, nothing crashes. */
        assert_int_equal(sd_notify_send_to("/tmp/deployex-test-no-such-socket", "READY=1"), -ENOENT);
        assert_int_equal(sd_notify_send_to("@deployex-test-nobody-listens-here", "READY=1"), -ECONNREFUSED);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path_socket),
                cmocka_unit_test(test_abstract_socket),
                cmocka_unit_test(test_errors_and_no_op),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
