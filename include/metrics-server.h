/* metrics-server.h: the local HTTP endpoint: /metrics (the host collectors
 * and the daemon's own ecs_hostd_* series), /v1/metadata (the official
 * agent's shape), /healthz and / (the routes).  libmicrohttpd driven by the
 * daemon's sd-event loop: its epoll descriptor is an io source and its
 * timeout a timer, so there is no thread, and nothing a client does can
 * hold the loop: connections are limited in number (in all and per client),
 * in header size and in idle time, and only GET and HEAD are served. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "expo.h"
#include "macro.h"

/* What the daemon answers; each is called from the loop, during a request. */
struct metrics_server_ops {
        /* ecs_hostd_* families (after the host collectors'). */
        void (*daemon_metrics)(struct expo *e, void *userdata);
        /* The cluster and container instance ARN (NULL when not known yet). */
        void (*identity)(const char **cluster, const char **arn, void *userdata);
        /* NULL when healthy, else why not (a static or userdata-owned string). */
        const char *(*unhealthy)(void *userdata);
};

struct metrics_server;

/* Listen on ECS_HOSTD_METRICS_LISTEN (nothing, and 0, when it is off).  A
 * non-loopback address is logged as reachable from other hosts.  cfg, ops
 * and userdata are borrowed. */
_must_check_ int metrics_server_new(struct metrics_server **ret, sd_event *event,
                                    const struct config *cfg, const struct metrics_server_ops *ops,
                                    void *userdata);
struct metrics_server *metrics_server_free(struct metrics_server *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct metrics_server *, metrics_server_free)

/* The ports it listens on (for the registered PORTS), NULL-free; n may be 0. */
size_t metrics_server_ports(const struct metrics_server *s, unsigned short ports[static 8]);
