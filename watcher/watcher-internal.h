/* watcher-internal.h: what the watcher's own files share (watcher.c, the
 * polling and the drain state machine; drain-follow.c, following a drain
 * to empty; drain-asg.c, the Auto Scaling lifecycle hook): the notice being handled and the watcher.  Not for anyone
 * else: the rest of the daemon sees watcher.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "asg-lifecycle.h"
#include "aws-clients.h"
#include "config.h"
#include "ecs.h"
#include "follow.h"
#include "hook.h"
#include "ledger.h"
#include "macro.h"
#include "notice.h"
#include "watcher.h"

#define EVENT_HOOK_ENV 9 /* the drain hook's variables, NULL last */

/* One notice being handled: what the ledger keeps, and what is in flight. */
struct event {
        struct ledger_entry rec;
        time_t deadline; /* stop trying to drain after this */
        time_t drain_at; /* maintenance lead: when the drain starts */
        bool drains;     /* selected by ECS_HOSTD_DRAIN_ON */
        bool gave_up;
        bool present;   /* seen in the latest definite read of its signal */
        uint64_t round; /* the round that last saw it */

        uint64_t seen_usec; /* CLOCK_MONOTONIC when first seen */
        struct ecs_call *call;
        sd_event_source *retry;
        unsigned attempts;
        bool loud;    /* a non-retryable failure was logged */
        bool undrain; /* the call in flight sets ACTIVE */
        struct watcher *w;
        struct event *next;
};


struct watcher {
        struct aws_clients *aws;  /* borrowed */
        const struct config *cfg; /* borrowed */
        struct hooks *hooks;      /* borrowed: the daemon's runner, which outlives us */
        watcher_status_t status_cb;
        void *userdata;
        struct ecs *ecs; /* ours: one attempt per call, the watcher retries */
        char *cluster, *arn;
        char *datadir;

        uint64_t interval_usec;
        bool drains[_NOTICE_KIND_MAX]; /* which kinds drain */
        bool undrain, dry_run;
        int64_t lead_sec; /* -1: no lead configured */
        const char *hook_path;
        const char *empty_hook_path;
        uint64_t hook_timeout_usec;

        sd_event_source *tick;
        uint64_t next_tick;
        bool round_running;
        size_t step; /* index into signal_reads[] */
        struct imds_request *req;
        uint64_t round;
        bool spot_answered;             /* instance-action gave a notice this round */
        unsigned spot_failures;         /* instance-action reads failed in a row */
        bool read_ok[_NOTICE_KIND_MAX]; /* per kind: a definite answer this round */

        struct event *events;        /* newest first, as the ledger keeps them */
        struct watcher_stats *stats; /* the daemon's */
        struct watcher_stats start;  /* *stats when we started, for the log at the end */
        const char *ecs_status;      /* "DRAINING" or "ACTIVE" once ECS confirmed one */
        char status[300];

        struct follow *follow;  /* following the drain to empty (drain-follow.c) */
        struct event *followed; /* the notice whose drain it follows */
        struct follow_view last_view; /* what it last said (tasks not kept) */

        /* drain-asg.c: the Auto Scaling lifecycle hook, when configured */
        struct asg_lifecycle *asg;
        uint64_t asg_heartbeat_usec;
        time_t asg_timeout_sec;
        sd_event_source *asg_heartbeat; /* while a Terminated drain is followed */
        struct asg_lifecycle_request *asg_beat, *asg_release;
};

/* watcher.c */
const char *watcher_fmt_time(time_t t, char *buf, size_t n);
void watcher_save(struct watcher *w);
void watcher_set_status(struct watcher *w, const char *fmt, ...) _printf_(2, 3);
/* How a notice reads in the log: "spot terminate", "asg Terminated",
 * "maintenance instance-stop", "rebalance recommendation". */
const char *event_what(const struct event *e);
/* The status line of a notice: "spot terminate at ... (in 118 s): WHAT". */
void event_status(struct event *e, const char *what);
/* The drain hook's environment: the event as ECS_HOSTD_* variables. */
int event_hook_env(const struct event *e, char *env[static EVENT_HOOK_ENV]);

/* drain-follow.c: following a confirmed drain until the host is empty or
 * the deadline passes; the story in the log and STATUS=, the empty hook. */
void drain_follow_start(struct event *e);
/* Stop following (the drain was undone, or the watcher goes). */
void drain_follow_stop(struct watcher *w);
/* After a restart: follow again the drain a notice left unfinished. */
void drain_follow_resume(struct watcher *w);

/* drain-asg.c: holding and releasing an Auto Scaling lifecycle hook. */
int drain_asg_new(struct watcher *w); /* reads the keys; the hook's client when one is set */
void drain_asg_free(struct watcher *w);
/* e (an Auto Scaling notice) drained: heartbeats while its drain is followed. */
void drain_asg_hold(struct event *e);
/* The follow ended: CompleteLifecycleAction CONTINUE for the drained
 * Terminated notices not yet released (the outcome goes to the ledger). */
void drain_asg_release(struct watcher *w);
/* The drain was undone: no more heartbeats. */
void drain_asg_stop(struct watcher *w);
