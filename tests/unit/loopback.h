/*
 * loopback: a one-thread HTTP/1.1 server on 127.0.0.1 for unit tests of the
 * HTTP client side.  It answers every connection with one scripted response
 * (or never, in hang mode), and keeps the last request's head and body so a
 * test can assert on what the client really sent.  Header-only: each test
 * binary that includes it gets its own copy.
 */
#ifndef DEPLOYEX_TEST_LOOPBACK_H
#define DEPLOYEX_TEST_LOOPBACK_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct loopback {
        int listen_fd;
        int stop_pipe[2];
        int port;
        pthread_t thread;
        const char *response; /* written verbatim */
        size_t response_len;
        bool hang;            /* read the request, never answer */
        char request[16384];  /* head + body of the last request */
        int requests;
};

static inline int lb_read_request(int fd, char *dst, size_t n)
{
        size_t len = 0;
        const char *end = NULL;
        long body = 0;

        while (len + 1 < n) {
                ssize_t r = read(fd, dst + len, n - 1 - len);
                if (r <= 0)
                        return -1;
                len += (size_t)r;
                dst[len] = '\0';
                if (!end && (end = strstr(dst, "\r\n\r\n"))) {
                        const char *cl = strcasestr(dst, "\r\ncontent-length:");
                        if (cl && cl < end)
                                body = strtol(cl + 17, NULL, 10);
                }
                if (end && (long)(len - (size_t)(end + 4 - dst)) >= body)
                        return 0;
        }
        return 0;
}

static inline void *lb_main(void *arg)
{
        struct loopback *lb = arg;

        for (;;) {
                struct pollfd p[2] = { { lb->listen_fd, POLLIN, 0 }, { lb->stop_pipe[0], POLLIN, 0 } };
                int fd;

                if (poll(p, 2, -1) < 0 || p[1].revents)
                        return NULL;
                fd = accept4(lb->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                if (lb_read_request(fd, lb->request, sizeof(lb->request)) == 0) {
                        lb->requests++;
                        if (lb->hang) {
                                struct pollfd s = { lb->stop_pipe[0], POLLIN, 0 };
                                (void)poll(&s, 1, -1);
                        } else {
                                size_t off = 0;
                                while (off < lb->response_len) {
                                        ssize_t w = write(fd, lb->response + off, lb->response_len - off);
                                        if (w <= 0)
                                                break;
                                        off += (size_t)w;
                                }
                        }
                }
                close(fd);
        }
}

static inline void loopback_start(struct loopback *lb, const char *response, size_t len)
{
        struct sockaddr_in a;
        socklen_t alen = sizeof(a);

        memset(lb, 0, sizeof(*lb));
        lb->response = response;
        lb->response_len = len;
        lb->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (lb->listen_fd < 0 || bind(lb->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(lb->listen_fd, 8) < 0 || getsockname(lb->listen_fd, (struct sockaddr *)&a, &alen) < 0 ||
            pipe2(lb->stop_pipe, O_CLOEXEC) < 0)
                abort();
        lb->port = ntohs(a.sin_port);
        pthread_create(&lb->thread, NULL, lb_main, lb);
}

static inline void loopback_stop(struct loopback *lb)
{
        (void)!write(lb->stop_pipe[1], "x", 1);
        pthread_join(lb->thread, NULL);
        close(lb->listen_fd);
        close(lb->stop_pipe[0]);
        close(lb->stop_pipe[1]);
}

#endif
