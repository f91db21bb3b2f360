/* hostd-metrics.h: the daemon's own series (ecs_hostd_*), written from a
 * view the daemon fills from what its parts expose (watcher_get_state(),
 * imds_stats(), ...).  Pure: the view in, the families out, so the names
 * and labels are tested on strings. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "credentials.h"
#include "expo.h"
#include "opstats.h"
#include "watcher.h"

enum { HOSTD_SYNC_SUCCESS, HOSTD_SYNC_FAILURE, _HOSTD_SYNC_MAX };

struct hostd_view {
        const char *mode;            /* register or companion once joined, else as configured */
        const char *cluster, *arn;   /* the container instance, NULL until known */
        const char *ec2_instance_id; /* NULL until IMDS said */
        const char *ecs_status;      /* as ECS last said (ACTIVE, DRAINING, ...), or NULL */
        const struct watcher_state *watcher; /* NULL: not watching (yet) */
        const struct watcher_stats *watcher_stats;
        const struct opstats *imds, *ecs;
        const struct credentials_stats *credentials;
        uint64_t attribute_syncs[_HOSTD_SYNC_MAX];
};

void hostd_metrics_write(struct expo *e, const struct hostd_view *v);
