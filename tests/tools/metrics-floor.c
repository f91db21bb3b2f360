/* metrics-floor.c: the floor the metrics endpoint is measured against: a
 * bare single-threaded poll() loop that answers every HTTP request on its
 * socket with what /metrics writes -- the same collectors, process_* and
 * the ecs_hostd_* families (of a daemon that has just joined), so the same
 * files read and the same text written -- and nothing else: no routes, no
 * negotiation, no limits, no event library.  What ecs-hostd's endpoint
 * costs above it is the server's price.  Configured from the environment
 * as the daemon is.
 *   metrics-floor PORT        (127.0.0.1; runs until killed) */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "collector.h"
#include "config.h"
#include "expo.h"
#include "hostd-metrics.h"
#include "macro.h"
#include "process-metrics.h"

#define MAX_CONN 256

extern char **environ;

struct conn {
        char buf[8192];
        size_t len;
};

static int listen_on(int port) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0)
                return -1;
        return fd;
}

/* One scrape, sent as a whole HTTP/1.1 response; false when the peer is gone. */
static bool answer(int fd, const struct metrics_source *src, unsigned long enabled) {
        _cleanup_free_ char *body = NULL;
        char head[160];
        struct expo e;
        size_t len = 0;
        int n;

        struct watcher_stats ws = {.last_drain_seconds = -1};
        struct watcher_state st = {};

        expo_init(&e, EXPO_TEXT);
        collectors_run(&e, src, enabled);
        hostd_metrics_write(&e, &(struct hostd_view){.mode = "register",
                                                     .cluster = "bench",
                                                     .arn = "arn:aws:ecs:us-east-1:123456789012:"
                                                            "container-instance/bench/0",
                                                     .ec2_instance_id = "i-0",
                                                     .ecs_status = "ACTIVE",
                                                     .watcher = &st,
                                                     .watcher_stats = &ws,
                                                     .imds = imds_stats(),
                                                     .ecs = ecs_stats(),
                                                     .credentials = credentials_stats()});
        process_metrics_write(&e);
        if (expo_finish(&e, &body, &len) < 0)
                return false;
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     expo_content_type(EXPO_TEXT), len);
        /* One writev: two writes would meet Nagle and the delayed ACK. */
        return writev(fd, (struct iovec[]){{head, (size_t)n}, {body, len}}, 2) ==
               (ssize_t)((size_t)n + len);
}

/* Read what came; answer each complete request; false to close. */
static bool on_readable(int fd, struct conn *c, const struct metrics_source *src,
                        unsigned long enabled) {
        ssize_t n = read(fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
        char *end;

        if (n <= 0)
                return false;
        c->len += (size_t)n;
        c->buf[c->len] = 0;
        while ((end = strstr(c->buf, "\r\n\r\n"))) {
                size_t used = (size_t)(end + 4 - c->buf);
                if (!answer(fd, src, enabled))
                        return false;
                memmove(c->buf, c->buf + used, c->len - used + 1);
                c->len -= used;
        }
        return c->len < sizeof c->buf - 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(collector_source_freep) struct metrics_source *src = NULL;
        _cleanup_(config_freep) struct config *cfg = NULL;
        static struct pollfd pfd[MAX_CONN + 1];
        static struct conn conns[MAX_CONN + 1];
        struct errors errs = {};
        unsigned long enabled;
        nfds_t n = 1;

        if (argc != 2 || config_load(&cfg, NULL, 0, true, environ, &errs) < 0 ||
            collector_source_new(&src, cfg) < 0) {
                errors_print(&errs, stderr);
                fprintf(stderr, "usage: metrics-floor PORT\n");
                return 2;
        }
        enabled = collectors_enabled(cfg);
        pfd[0] = (struct pollfd){.fd = listen_on(atoi(argv[1])), .events = POLLIN};
        if (pfd[0].fd < 0) {
                perror("metrics-floor: listen");
                return 1;
        }
        printf("metrics-floor: listening on 127.0.0.1:%s\n", argv[1]);
        fflush(stdout);
        for (;;) {
                if (poll(pfd, n, -1) < 0 && errno != EINTR)
                        return 1;
                for (nfds_t i = n; i-- > 1;)
                        if (pfd[i].revents && !on_readable(pfd[i].fd, &conns[i], src, enabled)) {
                                close(pfd[i].fd);
                                pfd[i] = pfd[--n];
                                conns[i] = conns[n];
                        }
                if ((pfd[0].revents & POLLIN) && n <= MAX_CONN) {
                        int fd = accept4(pfd[0].fd, NULL, NULL, SOCK_CLOEXEC);
                        if (fd >= 0) {
                                pfd[n] = (struct pollfd){.fd = fd, .events = POLLIN};
                                conns[n++].len = 0;
                        }
                }
        }
}
