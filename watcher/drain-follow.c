/* drain-follow.c: after a drain is confirmed, follow the container instance
 * until its tasks are gone or the deadline passes (the follower is
 * follow.c), and tell the story: the journal (with ECS_HOSTD_EVENT,
 * ECS_HOSTD_EVENT_ID, ECS_HOSTD_TASKS_LEFT and ECS_HOSTD_SECONDS_TO_DEADLINE
 * fields), STATUS=, the ledger (so a restart follows on), the daemon's
 * counts, and ECS_HOSTD_EMPTY_HOOK once it is over.  One follow at a time:
 * the instance drains once, whatever notices asked; a later notice with an
 * earlier deadline takes the story over.  An Auto Scaling lifecycle hook is
 * held while the follow runs and released at its end (drain-asg.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event-util.h"
#include "log.h"
#include "watcher-internal.h"

#define UNANNOUNCED_SEC 600 /* Auto Scaling and rebalance announce no time: follow 10 min */
#define ARNS_SHOWN 5        /* task ARNs named in the log at the deadline */
#define EMPTY_HOOK_ENV (EVENT_HOOK_ENV + 6)
#define SUMMARY_MAX 400

/* When the followed drain runs out of time: the notice's own time for Spot
 * (the interruption) and maintenance (NotBefore), else 10 minutes. */
static time_t deadline_of(const struct event *e) {
        time_t from = e->rec.drained_at ? e->rec.drained_at : time(NULL);

        if ((e->rec.kind == NOTICE_SPOT || e->rec.kind == NOTICE_MAINTENANCE) && e->rec.time)
                return e->rec.time;
        if (e->rec.kind == NOTICE_ASG && e->w->asg) /* the lifecycle hook's own wait */
                return from + e->w->asg_timeout_sec;
        return from + UNANNOUNCED_SEC;
}

static unsigned left_of(const struct follow_view *v) {
        return v->running + v->pending;
}

/* "service:web x4, service:api x2", or the counts when the tasks have no names. */
static const char *what_is_left(const struct follow_view *v, char *buf, size_t size) {
        if (v->n_tasks > 0 && v->named)
                return follow_summary(v->tasks, v->n_tasks, buf, size);
        snprintf(buf, size, "%u running, %u pending", v->running, v->pending);
        return buf;
}

/* The first task ARNs, space-separated: who holds the host. */
static const char *arns_of(const struct follow_view *v, size_t max, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < v->n_tasks && i < max; i++) {
                int n = snprintf(buf + used, size - used, "%s%s", i ? " " : "", v->tasks[i].arn);
                if (n < 0 || used + (size_t)n >= size)
                        break;
                used += (size_t)n;
        }
        if (v->n_tasks > max && used + 16 < size)
                snprintf(buf + used, size - used, " +%zu more", v->n_tasks - max);
        return buf;
}

/* One line of the story, with the journal fields a log search wants. */
static void tell(const struct event *e, int level, const char *kind, const struct follow_view *v,
                 const char *text) {
        char f_event[64], f_id[600], f_left[48], f_to[64], t[32];
        const char *fields[] = {f_event, f_id, f_left, f_to, NULL};

        snprintf(f_event, sizeof f_event, "ECS_HOSTD_EVENT=%s", kind);
        snprintf(f_id, sizeof f_id, "ECS_HOSTD_EVENT_ID=%s", e->rec.id);
        snprintf(f_left, sizeof f_left, "ECS_HOSTD_TASKS_LEFT=%u", left_of(v));
        snprintf(f_to, sizeof f_to, "ECS_HOSTD_SECONDS_TO_DEADLINE=%lld",
                 (long long)(v->deadline - time(NULL)));
        if (!v->counts_known)
                fields[2] = NULL; /* no count is better than a wrong one */
        log_struct(level, fields, "%s %s at %s: %s", notice_kind_name(e->rec.kind), event_what(e),
                   watcher_fmt_time(e->rec.time, t, sizeof t), text);
}

static const char *plural(unsigned n) {
        return n == 1 ? "" : "s";
}

static void told_progress(struct event *e, enum follow_report r, const struct follow_view *v) {
        char what[SUMMARY_MAX], text[SUMMARY_MAX + 200], status[SUMMARY_MAX + 100];
        unsigned left = left_of(v);
        long to = (long)(v->deadline - time(NULL));

        what_is_left(v, what, sizeof what);
        if (r == FOLLOW_NEAR_DEADLINE)
                snprintf(text, sizeof text, "%u task%s left %ld s before the deadline: %s", left,
                         plural(left), to > 0 ? to : 0, what);
        else
                snprintf(text, sizeof text, "%u task%s left (%s), %ld s to the deadline", left,
                         plural(left), what, to > 0 ? to : 0);
        tell(e, r == FOLLOW_NEAR_DEADLINE ? LOG_WARNING : LOG_INFO, "follow", v, text);
        snprintf(status, sizeof status, "DRAINING, %u task%s left (%s)", left, plural(left), what);
        event_status(e, status);
}

/* The empty hook's environment: the drain hook's, and how the follow ended. */
static int empty_hook_env(const struct event *e, const struct follow_view *v, const char *result,
                          char *env[static EMPTY_HOOK_ENV]) {
        char what[SUMMARY_MAX], arns[4096];
        int r = event_hook_env(e, env);
        size_t n = EVENT_HOOK_ENV - 1;

        if (r < 0)
                return r;
        if (asprintf(&env[n++], "ECS_HOSTD_FOLLOW_RESULT=%s", result) < 0 ||
            (v->counts_known ? asprintf(&env[n++], "ECS_HOSTD_TASKS_LEFT=%u", left_of(v))
                             : asprintf(&env[n++], "ECS_HOSTD_TASKS_LEFT=")) < 0 ||
            asprintf(&env[n++], "ECS_HOSTD_TASKS_LEFT_GROUPS=%s",
                     left_of(v) && v->named
                             ? follow_summary(v->tasks, v->n_tasks, what, sizeof what)
                             : "") < 0 ||
            asprintf(&env[n++], "ECS_HOSTD_TASKS_LEFT_ARNS=%s",
                     arns_of(v, FOLLOW_TASKS_MAX, arns, sizeof arns)) < 0 ||
            asprintf(&env[n++], "ECS_HOSTD_SECONDS_TO_DEADLINE=%lld",
                     (long long)(v->deadline - time(NULL))) < 0)
                return -ENOMEM;
        return 0;
}

static void run_empty_hook(struct event *e, const struct follow_view *v, const char *result) {
        struct watcher *w = e->w;
        char *env[EMPTY_HOOK_ENV] = {}, id[600];
        int r;

        if (!w->empty_hook_path)
                return;
        snprintf(id, sizeof id, "%s/%s", e->rec.id, result);
        r = empty_hook_env(e, v, result, env);
        if (r >= 0)
                r = hooks_run(w->hooks, "Empty hook", w->empty_hook_path, id,
                              (const char *const *)env, w->hook_timeout_usec);
        for (size_t i = 0; i < ELEMENTSOF(env); i++)
                free(env[i]);
        if (r >= 0)
                log_info("Running the empty hook %s for %s (pid %d)", w->empty_hook_path, id, r);
        else if (r != -EPERM) /* the runner said why */
                log_error_errno(r, "Failed to run the empty hook: %m");
}

/* The follow is over: the last line, the ledger (every drained notice it
 * stood for), the counts, the hook; then the follower goes. */
static void told_end(struct event *e, enum follow_report r, const struct follow_view *v) {
        struct watcher *w = e->w;
        const char *result = r == FOLLOW_EMPTY ? "empty" : "deadline";
        char what[SUMMARY_MAX], arns[1024], text[SUMMARY_MAX + 1200];
        long to = (long)(v->deadline - time(NULL)), took = (long)(time(NULL) - e->rec.drained_at);
        unsigned left = left_of(v);

        if (r == FOLLOW_EMPTY) {
                snprintf(text, sizeof text, "empty after %ld s, %ld s %s the deadline", took,
                         to >= 0 ? to : -to, to >= 0 ? "before" : "after");
                tell(e, LOG_NOTICE, "empty", v, text);
                event_status(e, "DRAINING, empty");
                w->stats->follows_empty++;
                w->stats->last_time_to_empty_seconds = (double)took;
        } else {
                if (!v->counts_known)
                        snprintf(text, sizeof text,
                                 "the deadline passed and ECS did not say what is left");
                else
                        snprintf(text, sizeof text,
                                 "%u task%s still running at the deadline: %s%s%s%s", left,
                                 plural(left), what_is_left(v, what, sizeof what),
                                 v->n_tasks ? " (" : "", arns_of(v, ARNS_SHOWN, arns, sizeof arns),
                                 v->n_tasks ? ")" : "");
                tell(e, LOG_WARNING, "deadline", v, text);
                event_status(e, "DRAINING, tasks left at the deadline");
                w->stats->follows_deadline++;
        }
        for (struct event *o = w->events; o; o = o->next)
                if (o->rec.drained && !o->rec.follow[0] && !o->rec.undone)
                        snprintf(o->rec.follow, sizeof o->rec.follow, "%s", result);
        watcher_save(w);
        run_empty_hook(e, v, result);
        drain_asg_release(w);
}

static void on_follow(enum follow_report r, const struct follow_view *v, void *userdata) {
        struct watcher *w = userdata;
        struct event *e = w->followed;

        w->stats->follow_calls += v->calls - w->last_view.calls;
        w->last_view = *v;
        w->last_view.tasks = NULL; /* the follower's, not kept */
        if (!e)
                return;
        if (r == FOLLOW_EMPTY || r == FOLLOW_DEADLINE) {
                told_end(e, r, v);
                w->follow = follow_free(w->follow); /* the report is the follower's last act */
                w->followed = NULL;
                return;
        }
        told_progress(e, r, v);
}

void drain_follow_start(struct event *e) {
        struct watcher *w = e->w;
        time_t deadline = deadline_of(e);
        int r;

        if (!w->arn || w->dry_run || !e->rec.drained || e->rec.follow[0] || e->rec.undone)
                return;
        drain_asg_hold(e);
        if (w->follow) {
                /* Already following this instance: the notice with less time tells on. */
                if (deadline < deadline_of(w->followed)) {
                        follow_set_deadline(w->follow, deadline);
                        w->followed = e;
                }
                return;
        }
        w->last_view = (struct follow_view){.deadline = deadline};
        r = follow_new(&w->follow, w->aws->event, w->ecs, w->cluster, w->arn, deadline, on_follow,
                       w);
        if (r < 0) {
                log_error_errno(r, "Failed to follow the drain of %s: %m", w->arn);
                return;
        }
        w->followed = e;
}

void drain_follow_stop(struct watcher *w) {
        w->follow = follow_free(w->follow);
        w->followed = NULL;
        w->last_view = (struct follow_view){};
}

void drain_follow_resume(struct watcher *w) {
        /* Oldest first, so a later notice with less time takes over, as live. */
        struct event *v[LEDGER_MAX + 8];
        size_t n = 0;

        for (struct event *e = w->events; e && n < ELEMENTSOF(v); e = e->next)
                if (e->rec.drained && e->rec.drained_at && !e->rec.follow[0] && !e->rec.undone)
                        v[n++] = e;
        while (n-- > 0) {
                if (!w->follow)
                        log_info("Following the drain %s left unfinished at the last stop",
                                 v[n]->rec.id);
                drain_follow_start(v[n]);
        }
        if (!w->follow)
                drain_asg_release(w); /* a follow that ended, its hook not released */
}
