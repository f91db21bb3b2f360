/* watcher.h: decides when the host must drain, and drains it.  Polls the
 * IMDS interruption signals on the daemon's loop (one reused connection and
 * token), at ECS_HOSTD_POLL_INTERVAL_MS, in a fixed rhythm that nothing else
 * can delay: ECS calls, retries and the drain hook all run alongside.  Each
 * notice is handled once (remembered in ECS_HOSTD_DATADIR/notices.json, see
 * ledger.h, across restarts); a drain is confirmed only by ECS's answer. */
#pragma once

#include "asg-lifecycle.h"
#include "aws-clients.h"
#include "config.h"
#include "hook.h"
#include "macro.h"
#include "notice.h"

struct watcher;

enum watcher_drain_result {
        WATCHER_DRAIN_CONFIRMED, /* ECS said DRAINING */
        WATCHER_DRAIN_FAILED,    /* the deadline passed without that answer */
        WATCHER_DRAIN_UNDONE,    /* the notice was withdrawn; ECS said ACTIVE again */
        WATCHER_DRAIN_DRY_RUN,   /* ECS_HOSTD_DRY_RUN: would have drained */
        _WATCHER_DRAIN_RESULT_MAX,
};

/* "confirmed", "failed", "undone", "dry_run". */
const char *watcher_drain_result_name(enum watcher_drain_result r);

/* What the watchers did, for the daemon's metrics.  The daemon owns it and
 * hands it to each watcher it makes, so the counts only grow across
 * reloads; the watcher writes it and never calls into metrics. */
struct watcher_stats {
        uint64_t polls;                     /* ticks that started a poll round */
        uint64_t polls_skipped;             /* ticks that found the previous round still running */
        uint64_t imds_errors;               /* signal reads that failed (not 404) or were garbled */
        uint64_t notices[_NOTICE_KIND_MAX]; /* distinct notices seen */
        uint64_t drains[_NOTICE_KIND_MAX][_WATCHER_DRAIN_RESULT_MAX];
        uint64_t drain_calls;      /* UpdateContainerInstancesState calls, drains and undos */
        double last_drain_seconds; /* notice first seen to DRAINING confirmed; < 0: none yet */
        /* Following drains to empty: how they ended, and the last one's time
         * from DRAINING confirmed to empty (< 0: none yet). */
        uint64_t follows_empty, follows_deadline;
        uint64_t follow_calls; /* ECS calls made following drains */
        double last_time_to_empty_seconds;
        /* Auto Scaling lifecycle hook calls, by action and outcome. */
        uint64_t asg_actions[2][_ASG_LIFECYCLE_OUTCOME_MAX];
};

/* What the watcher knows now. */
struct watcher_state {
        bool blind; /* the Spot signal has not been read for a few polls in a row */
        unsigned pending[_NOTICE_KIND_MAX];    /* notices IMDS still shows */
        time_t pending_time[_NOTICE_KIND_MAX]; /* the earliest announced time of those, or 0 */
        const char *ecs_status; /* what ECS last confirmed to a drain or undo, or NULL */
        bool following;         /* a drain is followed until the host is empty */
        bool tasks_known;       /* tasks_left holds ECS's count */
        unsigned tasks_left;    /* running and pending on the draining host */
        time_t follow_deadline; /* when the followed drain runs out of time */
};
void watcher_get_state(const struct watcher *w, struct watcher_state *ret);

/* The watcher's status line changed (watcher_status()); the daemon, which
 * owns STATUS=, composes it. */
typedef void (*watcher_status_t)(void *userdata);

/* aws, cfg, hooks and stats are borrowed and outlive the watcher.  Polling starts
 * at once; drains wait until watcher_set_target() names the container
 * instance. */
int watcher_new(struct watcher **ret, struct aws_clients *aws, const struct config *cfg,
                struct hooks *hooks, struct watcher_stats *stats, watcher_status_t status_cb,
                void *userdata);
struct watcher *watcher_free(struct watcher *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct watcher *, watcher_free)

/* The container instance to drain (after joining; both strings copied). */
_must_check_ int watcher_set_target(struct watcher *w, const char *cluster, const char *arn);

/* The line for STATUS= while a notice is or was handled ("spot terminate at
 * ... (in 118 s): DRAINING confirmed"), else NULL. */
const char *watcher_status(const struct watcher *w);
