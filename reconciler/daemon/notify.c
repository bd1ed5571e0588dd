/*
 * notify: one datagram per call to $NOTIFY_SOCKET (see notify.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "reconciler/daemon/notify.h"
#include "base/util.h"
#include "base/banned.h"

#define NOTIFY_MESSAGE_MAX 4096

int sd_notify_send_to(const char *address, const char *state)
{
        struct sockaddr_un sa;
        size_t len, msg_len = strlen(state);
        socklen_t sa_len;
        ssize_t n;
        int fd, r = 0;

        if (!address || !address[0])
                return 0;
        if (address[0] != '/' && address[0] != '@')
                return -EAFNOSUPPORT; /* e.g. systemd's "vsock:" form */
        len = strlen(address);
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (address[0] == '@') {
                /* Abstract: a leading NUL and exactly len bytes, no terminator. */
                if (len > sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                memcpy(sa.sun_path + 1, address + 1, len - 1);
                sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        } else {
                if (len >= sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                memcpy(sa.sun_path, address, len);
                sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        do {
                n = sendto(fd, state, msg_len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, sa_len);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
                r = -errno;
        else if ((size_t)n != msg_len)
                r = -EMSGSIZE;
        close(fd);
        return r;
}

int sd_notify_send(const char *state)
{
        return sd_notify_send_to(getenv("NOTIFY_SOCKET"), state);
}

int sd_notify_sendf(const char *fmt, ...)
{
        struct buf msg = BUF_INIT;
        va_list ap;
        int r;

        va_start(ap, fmt);
        buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (msg.len > NOTIFY_MESSAGE_MAX) {
                msg.len = NOTIFY_MESSAGE_MAX;
                msg.data[msg.len] = '\0';
        }
        r = sd_notify_send(msg.data);
        buf_release(&msg);
        return r;
}
