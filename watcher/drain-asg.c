/* drain-asg.c: the host's side of an Auto Scaling lifecycle hook
 * (ECS_HOSTD_ASG_LIFECYCLE_HOOK).  When an Auto Scaling Terminated notice
 * has drained the host, the hook is held with RecordLifecycleActionHeartbeat
 * every ECS_HOSTD_ASG_HEARTBEAT_INTERVAL while the drain is followed, and
 * released with CompleteLifecycleAction CONTINUE once the follow ends: the
 * host empty, or ECS_HOSTD_ASG_DRAIN_TIMEOUT passed (the follow's deadline
 * for such a notice).  The release's outcome is kept in the ledger, so a
 * restart releases a hook it had not, and never twice.  The calls, their
 * retries and their logging are asg-lifecycle.c's. */
#include <errno.h>
#include <stdio.h>

#include "event-util.h"
#include "log.h"
#include "watcher-internal.h"

int drain_asg_new(struct watcher *w) {
        int r;

        w->asg_heartbeat_usec =
                (uint64_t)config_duration_ms(w->cfg, KEY_ECS_HOSTD_ASG_HEARTBEAT_INTERVAL) * 1000;
        w->asg_timeout_sec =
                (time_t)(config_duration_ms(w->cfg, KEY_ECS_HOSTD_ASG_DRAIN_TIMEOUT) / 1000);
        if (!config_string(w->cfg, KEY_ECS_HOSTD_ASG_LIFECYCLE_HOOK))
                return 0;
        /* Never a reason not to watch: the drains go on without the hook. */
        r = asg_lifecycle_new(&w->asg, w->aws, w->cfg);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_error_errno(r, "Cannot hold the Auto Scaling lifecycle hook: %m");
                return 0;
        }
        log_info("Auto Scaling lifecycle hook %s: held while a Terminated drain is followed, "
                 "released when the host is empty or after %lld s",
                 asg_lifecycle_hook(w->asg), (long long)w->asg_timeout_sec);
        return 0;
}

/* A drained Auto Scaling notice whose lifecycle action is still ours to release. */
static bool held(const struct event *e) {
        return e->rec.kind == NOTICE_ASG && e->rec.drained && !e->rec.undone && !e->rec.release[0];
}

static void on_heartbeat_done(const struct asg_lifecycle_result *r, void *userdata) {
        struct watcher *w = userdata;

        w->asg_beat = NULL;
        w->stats->asg_actions[ASG_LIFECYCLE_HEARTBEAT][r->outcome]++;
        if (r->outcome == ASG_LIFECYCLE_NO_ACTION)
                /* Auto Scaling holds nothing any more (completed elsewhere, or
                 * its own timeout): nothing to keep alive. */
                w->asg_heartbeat = sd_event_source_disable_unref(w->asg_heartbeat);
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        struct watcher *w = userdata;
        int r;

        (void)sd_event_source_set_time(s, usec + w->asg_heartbeat_usec);
        (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (w->asg_beat)
                return 0; /* the last one is still trying */
        r = asg_lifecycle_start(w->asg, ASG_LIFECYCLE_HEARTBEAT, NULL, w->asg_heartbeat_usec,
                                on_heartbeat_done, w, &w->asg_beat);
        if (r < 0)
                log_warn_errno(r, "Cannot send the lifecycle heartbeat: %m");
        return 0;
}

void drain_asg_hold(struct event *e) {
        struct watcher *w = e->w;
        int r;

        if (!w->asg || !held(e) || w->asg_heartbeat)
                return;
        r = sd_event_add_time(w->aws->event, &w->asg_heartbeat, CLOCK_MONOTONIC,
                              event_now_usec(w->aws->event) + w->asg_heartbeat_usec,
                              TIMER_ACCURACY_USEC, on_heartbeat, w);
        if (r < 0) {
                log_warn_errno(r, "Cannot schedule the lifecycle heartbeats: %m");
                return;
        }
        (void)sd_event_source_set_description(w->asg_heartbeat, "asg-heartbeat");
        log_info("Holding Auto Scaling lifecycle hook %s while the tasks leave (a heartbeat "
                 "every %llu s)",
                 asg_lifecycle_hook(w->asg), (unsigned long long)(w->asg_heartbeat_usec / 1000000));
}

static void on_release_done(const struct asg_lifecycle_result *r, void *userdata) {
        struct watcher *w = userdata;
        const char *outcome = asg_lifecycle_outcome_name(r->outcome);

        w->asg_release = NULL;
        w->stats->asg_actions[ASG_LIFECYCLE_COMPLETE][r->outcome]++;
        for (struct event *e = w->events; e; e = e->next)
                if (held(e) && e->rec.follow[0])
                        snprintf(e->rec.release, sizeof e->rec.release, "%s", outcome);
        watcher_save(w);
}

void drain_asg_release(struct watcher *w) {
        bool due = false;
        int r;

        w->asg_heartbeat = sd_event_source_disable_unref(w->asg_heartbeat);
        if (!w->asg || w->asg_release)
                return;
        for (struct event *e = w->events; e; e = e->next)
                due = due || (held(e) && e->rec.follow[0]);
        if (!due)
                return;
        asg_lifecycle_request_cancel(w->asg_beat);
        w->asg_beat = NULL;
        log_info("Releasing Auto Scaling lifecycle hook %s (CompleteLifecycleAction CONTINUE)",
                 asg_lifecycle_hook(w->asg));
        r = asg_lifecycle_start(w->asg, ASG_LIFECYCLE_COMPLETE, NULL, 0, on_release_done, w,
                                &w->asg_release);
        if (r < 0)
                log_error_errno(r, "Cannot release the Auto Scaling lifecycle hook: %m");
}

void drain_asg_stop(struct watcher *w) {
        w->asg_heartbeat = sd_event_source_disable_unref(w->asg_heartbeat);
        asg_lifecycle_request_cancel(w->asg_beat);
        w->asg_beat = NULL;
}

void drain_asg_free(struct watcher *w) {
        drain_asg_stop(w);
        asg_lifecycle_request_cancel(w->asg_release);
        w->asg_release = NULL;
        w->asg = asg_lifecycle_free(w->asg);
}
