/* watcher.c: the interruption watcher: polling and the drain state machine.
 * A fixed-rhythm timer starts a poll round; a round reads the signals of
 * signal_reads[] one after another on the shared IMDS client (one
 * connection, one token) and never overlaps the next round (a tick that
 * finds a round still running is counted and skipped, never queued).
 * Events (one per notice id) carry their own ECS call and retry timer, and
 * hand the hook to the daemon's runner, so nothing an event does can delay
 * the polling.  What was handled is kept in the ledger (ledger.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event-util.h"
#include "hook.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "notice.h"
#include "watcher-internal.h"
#include "watcher.h"

#define DRAIN_RETRY_FIRST_USEC 200000ULL  /* retryable failures: 0.2 s ... */
#define DRAIN_RETRY_CAP_USEC 2000000ULL   /* ... doubling to 2 s */
#define DRAIN_RETRY_SLOW_USEC 10000000ULL /* access/auth problems: every 10 s */
#define ASG_DEADLINE_SEC 600 /* Auto Scaling announces no deadline: keep trying 10 min */
#define SPOT_GRACE_SEC 30    /* keep trying a little past the announced time */
/* Spot and Auto Scaling are read every poll; the slower signals less often,
 * which keeps a poll cheap: rebalance (AWS suggests every 5 s) and the legacy
 * termination-time every 5th poll, maintenance (scheduled days ahead) every
 * 10th.  A failing instance-action read brings termination-time forward. */
#define SLOW_SIGNAL_EVERY 5
#define MAINTENANCE_EVERY 10
/* Failed Spot reads in a row (each already retried by the IMDS client) before
 * the watcher says it is blind. */
#define BLIND_AFTER_POLLS 3

struct watcher;

/* One IMDS signal as the watcher reads it. */
struct signal_read {
        const char *path;
        enum notice_kind kind;
        /* The body as 0 or more notices (a pure function of notice.c's). */
        int (*parse)(const char *body, size_t len, struct notice **ret, size_t *ret_n,
                     char **error);
        /* Whether a parsed notice counts (NULL: all do). */
        bool (*accept)(const struct watcher *w, const struct notice *n);
        unsigned every; /* read on the 1st poll and every Nth after it */
        /* A fallback for its kind's main read (spot/termination-time): read
         * only when the main read gave no notice, every poll while the main
         * read fails; its silence proves nothing. */
        bool fallback;
        bool only_if_drains; /* not read at all unless its kind drains */
};

const char *watcher_fmt_time(time_t t, char *buf, size_t n) {
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(buf, n, "%lld", (long long)t);
        return buf;
}

/* How a notice reads in the log: "spot terminate", "asg Terminated",
 * "maintenance instance-stop", "rebalance recommendation". */
const char *event_what(const struct event *e) {
        return e->rec.kind == NOTICE_REBALANCE ? "recommendation" : e->rec.action;
}

/* ---- the signals ---------------------------------------------------------- */

static int one_notice(int r, struct notice *n, struct notice **ret, size_t *ret_n) {
        if (r < 0)
                return r;
        *ret = malloc(sizeof **ret);
        if (!*ret) {
                notice_done(n);
                return -ENOMEM;
        }
        **ret = *n;
        *ret_n = 1;
        return 0;
}

static int read_spot_action(const char *body, size_t len, struct notice **ret, size_t *ret_n,
                            char **error) {
        struct notice n = {};
        return one_notice(notice_parse_spot_action(body, len, &n, error), &n, ret, ret_n);
}

static int read_termination_time(const char *body, size_t len, struct notice **ret, size_t *ret_n,
                                 char **error) {
        struct notice n = {};
        return one_notice(notice_parse_termination_time(body, len, &n, error), &n, ret, ret_n);
}

static int read_rebalance(const char *body, size_t len, struct notice **ret, size_t *ret_n,
                          char **error) {
        struct notice n = {};
        return one_notice(notice_parse_rebalance(body, len, &n, error), &n, ret, ret_n);
}

/* Every valid state is a definite answer; only Terminated is a notice. */
static int read_asg(const char *body, size_t len, struct notice **ret, size_t *ret_n,
                    char **error) {
        _cleanup_free_ char *state = NULL;
        struct notice n = {};
        int r;

        r = notice_parse_asg_state(body, len, &state, error);
        if (r < 0)
                return r;
        *ret = NULL;
        *ret_n = 0;
        if (strcmp(state, "Terminated") != 0)
                return 0;
        return one_notice(notice_from_asg_state(state, &n), &n, ret, ret_n);
}

/* The legacy termination-time may linger after a termination that did not
 * happen: only a time still ahead counts. */
static bool in_future(const struct watcher *w, const struct notice *n) {
        (void)w;
        return n->time > time(NULL);
}

static bool code_drains(const struct watcher *w, const struct notice *n) {
        return config_list_has(w->cfg, KEY_ECS_HOSTD_DRAIN_MAINTENANCE_CODES, n->action);
}

/* In the order a round reads them. */
static const struct signal_read signal_reads[] = {
        {NOTICE_SPOT_ACTION_PATH, NOTICE_SPOT, read_spot_action, NULL, 1, false, false},
        {NOTICE_TERMINATION_TIME_PATH, NOTICE_SPOT, read_termination_time, in_future,
         SLOW_SIGNAL_EVERY, true, false},
        {NOTICE_ASG_PATH, NOTICE_ASG, read_asg, NULL, 1, false, false},
        {NOTICE_REBALANCE_PATH, NOTICE_REBALANCE, read_rebalance, NULL, SLOW_SIGNAL_EVERY, false,
         false},
        {NOTICE_MAINTENANCE_PATH, NOTICE_MAINTENANCE, notice_parse_maintenance, code_drains,
         MAINTENANCE_EVERY, false, true},
};

/* ---- the ledger ----------------------------------------------------------- */

void watcher_save(struct watcher *w) {
        const struct ledger_entry *v[LEDGER_MAX];
        size_t n = 0;
        int r;

        for (struct event *e = w->events; e && n < LEDGER_MAX; e = e->next)
                v[n++] = &e->rec;
        r = ledger_save(w->datadir, v, n);
        if (r < 0)
                log_error_errno(r, "Failed to save %s/" LEDGER_FILE ": %m", w->datadir);
}

static void event_free(struct event *e) {
        ecs_call_cancel(e->call);
        sd_event_source_disable_unref(e->retry);
        ledger_entry_done(&e->rec);
        free(e);
}

/* The notices handled before a restart, so they are not handled again. */
static void load(struct watcher *w) {
        _cleanup_free_ char *why = NULL;
        struct ledger_entry *v = NULL;
        struct event **tail = &w->events;
        size_t n = 0;
        int r;

        r = ledger_load(w->datadir, &v, &n, &why);
        if (r == -EBADMSG)
                log_warn("%s; starting with no notices remembered", why ? why : LEDGER_FILE);
        else if (r < 0 && r != -ENOENT)
                log_warn_errno(r,
                               "Failed to read %s/" LEDGER_FILE ": %m; starting with no "
                               "notices remembered",
                               w->datadir);
        for (size_t i = 0; i < n; i++) {
                struct event *e = calloc(1, sizeof *e);
                if (!e) {
                        log_error("Out of memory loading the notice ledger");
                        break;
                }
                e->rec = v[i];
                v[i] = (struct ledger_entry){};
                e->w = w;
                *tail = e;
                tail = &e->next;
                log_info("Remembering %s notice %s from before the restart (%s%s)",
                         notice_kind_name(e->rec.kind), e->rec.id,
                         e->rec.drained ? "drained" : "not drained",
                         e->rec.hook_done ? ", hook ran" : "");
        }
        ledger_entries_free(v, n);
}

/* ---- status and the hook -------------------------------------------------- */

void watcher_set_status(struct watcher *w, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(w->status, sizeof w->status, fmt, ap);
        va_end(ap);
        if (w->status_cb)
                w->status_cb(w->userdata);
}

void event_status(struct event *e, const char *what) {
        char t[32];
        long left = (long)(e->rec.time - time(NULL));

        watcher_set_status(e->w, "%s %s at %s (in %ld s): %s", notice_kind_name(e->rec.kind),
                           event_what(e), watcher_fmt_time(e->rec.time, t, sizeof t),
                           left > 0 ? left : 0, what);
}

/* The hook's environment: the event, as ECS_HOSTD_* variables. */
int event_hook_env(const struct event *e, char *env[static EVENT_HOOK_ENV]) {
        const struct watcher *w = e->w;
        char t[32], d[32];

        watcher_fmt_time(e->rec.time, t, sizeof t);
        watcher_fmt_time(e->deadline, d, sizeof d);
        memset(env, 0, EVENT_HOOK_ENV * sizeof *env);
        if (asprintf(&env[0], "ECS_HOSTD_EVENT_KIND=%s", notice_kind_name(e->rec.kind)) < 0 ||
            asprintf(&env[1], "ECS_HOSTD_EVENT_ACTION=%s", e->rec.action) < 0 ||
            asprintf(&env[2], "ECS_HOSTD_EVENT_ID=%s", e->rec.id) < 0 ||
            asprintf(&env[3], "ECS_HOSTD_EVENT_TIME=%s", t) < 0 ||
            asprintf(&env[4], "ECS_HOSTD_DEADLINE=%s", d) < 0 ||
            asprintf(&env[5], "ECS_HOSTD_CLUSTER=%s", w->cluster ?: "") < 0 ||
            asprintf(&env[6], "ECS_HOSTD_CONTAINER_INSTANCE_ARN=%s", w->arn ?: "") < 0 ||
            asprintf(&env[7], "ECS_HOSTD_DRAIN_RESULT=%s", e->rec.result) < 0)
                return -ENOMEM;
        return 0;
}

/* Once per notice, after the drain was confirmed (or its deadline passed). */
static void run_hook(struct event *e) {
        struct watcher *w = e->w;
        char *env[EVENT_HOOK_ENV];
        int r;

        if (e->rec.hook_done)
                return;
        e->rec.hook_done = true;
        watcher_save(w);
        if (!w->hook_path)
                return;
        if (w->dry_run) {
                log_info("Dry run: would run the drain hook %s for %s", w->hook_path, e->rec.id);
                return;
        }
        r = event_hook_env(e, env);
        if (r >= 0)
                r = hooks_run(w->hooks, "Drain hook", w->hook_path, e->rec.id,
                              (const char *const *)env, w->hook_timeout_usec);
        for (size_t i = 0; i < ELEMENTSOF(env); i++)
                free(env[i]);
        if (r == -EPERM)
                return; /* the runner said why */
        if (r < 0) {
                log_error_errno(r, "Failed to run the drain hook: %m");
                return;
        }
        log_info("Running the drain hook %s for %s (pid %d, result %s)", w->hook_path, e->rec.id, r,
                 e->rec.result);
}

/* ---- draining ------------------------------------------------------------- */

static void update_state(struct event *e);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct event *e = userdata;
        (void)s, (void)usec;
        e->retry = sd_event_source_disable_unref(e->retry);
        update_state(e);
        return 0;
}

static void schedule_retry(struct event *e, uint64_t usec) {
        e->retry = sd_event_source_disable_unref(e->retry);
        if (sd_event_add_time_relative(e->w->aws->event, &e->retry, CLOCK_MONOTONIC, usec,
                                       TIMER_ACCURACY_USEC, on_retry, e) < 0)
                log_error("Failed to schedule a drain retry");
}

/* The drain (or undrain) did not happen by the deadline: say so, run the hook. */
static void give_up(struct event *e, const char *why) {
        char t[32];

        e->gave_up = true;
        snprintf(e->rec.result, sizeof e->rec.result, "failed");
        e->w->stats->drains[e->rec.kind][WATCHER_DRAIN_FAILED]++;
        log_crit("%s %s at %s: the deadline passed without a confirmed drain of %s (%s)",
                 notice_kind_name(e->rec.kind), event_what(e),
                 watcher_fmt_time(e->rec.time, t, sizeof t), e->w->arn, why);
        event_status(e, "drain NOT confirmed");
        watcher_save(e->w);
        run_hook(e);
}

/* ECS confirmed what the call asked for. */
static void confirmed(struct event *e) {
        struct watcher *w = e->w;
        char t[32];

        if (e->undrain) {
                e->rec.undone = true;
                e->rec.drained = false;
                snprintf(e->rec.result, sizeof e->rec.result, "undone");
                w->stats->drains[e->rec.kind][WATCHER_DRAIN_UNDONE]++;
                w->ecs_status = "ACTIVE";
                if (w->follow) {
                        log_info("No longer following the drain of %s: ACTIVE again", w->arn);
                        drain_follow_stop(w);
                }
                drain_asg_stop(w);
                log_notice("%s %s withdrawn: container instance %s is ACTIVE again",
                           notice_kind_name(e->rec.kind), event_what(e), w->arn);
                watcher_set_status(w, "%s notice withdrawn; ACTIVE again",
                                   notice_kind_name(e->rec.kind));
                watcher_save(w);
                return;
        }
        long left = (long)(e->rec.time - time(NULL));
        e->rec.drained = true;
        e->rec.by_us = true;
        e->rec.drained_at = time(NULL);
        w->stats->drains[e->rec.kind][WATCHER_DRAIN_CONFIRMED]++;
        w->stats->last_drain_seconds = (double)(event_now_usec(w->aws->event) - e->seen_usec) / 1e6;
        w->ecs_status = "DRAINING";
        snprintf(e->rec.result, sizeof e->rec.result, "confirmed");
        log_struct(LOG_WARNING, ((const char *const[]){"ECS_HOSTD_EVENT=drained", NULL}),
                   "%s %s at %s (in %ld s): container instance %s DRAINING after %.2f s",
                   notice_kind_name(e->rec.kind), event_what(e),
                   watcher_fmt_time(e->rec.time, t, sizeof t), left > 0 ? left : 0, w->arn,
                   w->stats->last_drain_seconds);
        event_status(e, "DRAINING confirmed");
        watcher_save(w);
        run_hook(e);
        drain_follow_start(e);
}

/* The call failed (why): retry at the pace the failure asks for, until the
 * deadline. */
static void not_confirmed(struct event *e, const char *why, bool retryable) {
        struct watcher *w = e->w;

        if (time(NULL) > e->deadline) {
                if (!e->undrain)
                        give_up(e, why);
                return;
        }
        if (retryable) {
                uint64_t d = DRAIN_RETRY_FIRST_USEC << (e->attempts > 4 ? 4 : e->attempts - 1);
                log_warn("%s; retrying", why);
                schedule_retry(e, d < DRAIN_RETRY_CAP_USEC ? d : DRAIN_RETRY_CAP_USEC);
        } else {
                if (!e->loud) {
                        log_crit("Cannot %s container instance %s: %s; retrying every %llu s "
                                 "until the deadline",
                                 e->undrain ? "reactivate" : "drain", w->arn, why,
                                 (unsigned long long)(DRAIN_RETRY_SLOW_USEC / 1000000));
                        e->loud = true;
                } else
                        log_debug("%s; retrying", why);
                schedule_retry(e, DRAIN_RETRY_SLOW_USEC);
        }
        event_status(e, e->undrain ? "reactivating" : "draining, ECS not confirming yet");
}

static void on_update(const struct ecs_result *res, void *userdata) {
        struct event *e = userdata;
        const char *want = e->undrain ? "ACTIVE" : "DRAINING";
        const cJSON *ci, *failures;
        const char *status;
        char why[700];

        e->call = NULL;
        if (res->error) {
                snprintf(why, sizeof why, "%s", res->message ? res->message : "failed");
                not_confirmed(e, why, ecs_kind_retryable(res->kind));
                return;
        }
        ci = cJSON_GetArrayItem(
                cJSON_GetObjectItemCaseSensitive(res->response, "containerInstances"), 0);
        status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "status"));
        failures = cJSON_GetObjectItemCaseSensitive(res->response, "failures");
        if (streq_ptr(status, want) && cJSON_GetArraySize(failures) == 0) {
                confirmed(e);
                return;
        }
        snprintf(why, sizeof why, "ECS UpdateContainerInstancesState answered %s%s",
                 status ? status : "no container instance",
                 cJSON_GetArraySize(failures) ? " with failures" : "");
        not_confirmed(e, why, false);
}

static void send_update(struct event *e, bool undrain) {
        struct watcher *w = e->w;
        const char *arn = w->arn;
        cJSON *req;
        int r;

        e->undrain = undrain;
        e->attempts++;
        w->stats->drain_calls++;
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "cluster", w->cluster);
        cJSON_AddItemToObject(req, "containerInstances", cJSON_CreateStringArray(&arn, 1));
        cJSON_AddStringToObject(req, "status", undrain ? "ACTIVE" : "DRAINING");
        r = ecs_call(w->ecs, "UpdateContainerInstancesState", req, on_update, e, &e->call);
        cJSON_Delete(req);
        if (r < 0) {
                e->call = NULL;
                log_error_errno(r, "Failed to call UpdateContainerInstancesState: %m");
                schedule_retry(e, DRAIN_RETRY_CAP_USEC);
        }
}

/* Withdrawn: undo only what we did, only for ASG and maintenance, and only
 * when no other notice still wants the host drained. */
static void withdrawn(struct event *e) {
        struct watcher *w = e->w;

        if (!e->rec.drained || !e->rec.by_us || e->rec.undone || !w->undrain ||
            (e->rec.kind != NOTICE_ASG && e->rec.kind != NOTICE_MAINTENANCE))
                return;
        for (struct event *o = w->events; o; o = o->next)
                if (o != e && o->present && o->rec.drained && !o->rec.undone)
                        return;
        if (w->dry_run) {
                log_info("Dry run: would set %s ACTIVE again (%s withdrawn)", w->arn, e->rec.id);
                e->rec.undone = true;
                watcher_save(w);
                return;
        }
        send_update(e, true);
}

/* Bring one event's effect up to date: drain when it is time, undo a
 * withdrawn drain.  Does nothing while a call or a retry wait is pending. */
static void update_state(struct event *e) {
        struct watcher *w = e->w;
        time_t now = time(NULL);

        if (e->call || e->retry || !w->arn || e->gave_up)
                return;
        if (!e->present) {
                withdrawn(e);
                return;
        }
        if (!e->drains || e->rec.drained || now < e->drain_at)
                return;
        if (now > e->deadline) {
                give_up(e, "no drain was possible before the deadline");
                return;
        }
        if (w->dry_run) {
                log_warn("Dry run: would set container instance %s to DRAINING for %s", w->arn,
                         e->rec.id);
                e->rec.drained = true;
                snprintf(e->rec.result, sizeof e->rec.result, "dry-run");
                w->stats->drains[e->rec.kind][WATCHER_DRAIN_DRY_RUN]++;
                watcher_save(w);
                run_hook(e);
                return;
        }
        send_update(e, false);
}

/* ---- notices -------------------------------------------------------------- */

static struct event *event_find(struct watcher *w, const char *id) {
        for (struct event *e = w->events; e; e = e->next)
                if (streq_ptr(e->rec.id, id))
                        return e;
        return NULL;
}

/* Keep as many notices in memory as the ledger keeps on disk: IMDS (or
 * whatever answers for it) could otherwise make the list grow for ever.
 * The oldest go first, unless a call or a retry is still theirs, or their
 * signal still shows them (then they are not old). */
static void prune(struct watcher *w) {
        struct event **p = &w->events;
        size_t n = 0, forgotten = 0;

        while (*p) {
                struct event *e = *p;
                if (++n > LEDGER_MAX && !e->call && !e->retry && !e->present && e != w->followed) {
                        *p = e->next;
                        event_free(e);
                        forgotten++;
                } else
                        p = &e->next;
        }
        if (forgotten > 0)
                log_info("Forgot the %zu oldest notices: at most %d are remembered", forgotten,
                         LEDGER_MAX);
}

/* A notice not seen before: announce it and remember it. */
static struct event *event_new(struct watcher *w, const struct notice *n) {
        struct event *e = calloc(1, sizeof *e);
        time_t now = time(NULL);
        char t[32];

        if (!e || !(e->rec.id = strdup(n->id)) || !(e->rec.action = strdup(n->action))) {
                if (e)
                        event_free(e);
                log_error("Out of memory handling notice %s", n->id);
                return NULL;
        }
        e->w = w;
        e->rec.kind = n->kind;
        e->rec.time = n->time;
        e->next = w->events;
        w->events = e;
        prune(w);
        w->stats->notices[n->kind]++;
        if (n->warning)
                log_warn("%s", n->warning);
        log_struct(LOG_WARNING, ((const char *const[]){"ECS_HOSTD_EVENT=notice", NULL}),
                   "%s %s at %s (in %ld s)%s", notice_kind_name(n->kind), event_what(e),
                   n->time ? watcher_fmt_time(n->time, t, sizeof t) : "now",
                   n->time > now ? (long)(n->time - now) : 0L,
                   w->drains[n->kind] ? (w->arn ? ": draining" : ": will drain once joined")
                                      : ": reported only (not in ECS_HOSTD_DRAIN_ON)");
        watcher_save(w);
        return e;
}

/* When trying to drain stops: the announced time (Spot: plus a grace
 * period; maintenance: NotBefore), or 10 minutes for the signals that
 * announce none. */
static void set_deadline(struct event *e, time_t now) {
        switch (e->rec.kind) {
        case NOTICE_SPOT:
                e->deadline = (e->rec.time > now ? e->rec.time : now) + SPOT_GRACE_SEC;
                return;
        case NOTICE_MAINTENANCE:
                e->deadline = e->rec.time > now ? e->rec.time : now + SPOT_GRACE_SEC;
                return;
        case NOTICE_ASG:
        case NOTICE_REBALANCE:
                if (!e->deadline)
                        e->deadline = now + ASG_DEADLINE_SEC;
                if (e->rec.time == 0)
                        e->rec.time = now;
                return;
        case _NOTICE_KIND_MAX:
                return;
        }
}

/* A notice seen in this round. */
static void seen(struct watcher *w, const struct notice *n) {
        struct event *e = event_find(w, n->id);

        if (!e && !(e = event_new(w, n)))
                return;
        if (!e->seen_usec)
                e->seen_usec = event_now_usec(w->aws->event);
        e->present = true;
        e->drains = w->drains[e->rec.kind];
        e->drain_at = e->rec.kind == NOTICE_MAINTENANCE && w->lead_sec >= 0 && e->rec.time
                              ? e->rec.time - (time_t)w->lead_sec
                              : 0;
        set_deadline(e, time(NULL));
        e->round = w->round;
        update_state(e);
}

/* ---- polling -------------------------------------------------------------- */

/* End of a round: notices of a signal that answered definitely but did not
 * show them any more are withdrawn. */
static void round_end(struct watcher *w) {
        w->round_running = false;
        for (struct event *e = w->events; e; e = e->next) {
                if (w->read_ok[e->rec.kind] && e->round != w->round && e->present) {
                        e->present = false;
                        if (e->rec.kind != NOTICE_SPOT)
                                log_info("%s notice %s is gone", notice_kind_name(e->rec.kind),
                                         e->rec.id);
                        update_state(e);
                }
        }
}

/* A failing IMDS is said once when the Spot read has failed for a few polls
 * in a row, and again when it answers: notices could be missed meanwhile. */
static void spot_read_result(struct watcher *w, const struct imds_result *r) {
        if (r->error && r->error != -ENOENT) {
                if (++w->spot_failures == BLIND_AFTER_POLLS)
                        log_warn("Cannot read Spot notices from IMDS for %u polls in a row, so "
                                 "notices may be missed; retrying every poll. Last error: %s",
                                 w->spot_failures, r->error_text ? r->error_text : "no answer");
                return;
        }
        if (w->spot_failures >= BLIND_AFTER_POLLS)
                log_notice("IMDS answers again: Spot notices are read after %u failed polls",
                           w->spot_failures);
        w->spot_failures = 0;
}

/* A signal's body: its notices, or garbage that is logged and counted. */
static void read_body(struct watcher *w, const struct signal_read *s, const struct imds_result *r) {
        _cleanup_free_ char *err = NULL;
        struct notice *v = NULL;
        size_t n = 0;
        bool counted = false;

        if (s->parse(r->body, r->body_len, &v, &n, &err) < 0) {
                w->stats->imds_errors++;
                log_warn("Ignoring a garbled answer: %s", err ? err : s->path);
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (!s->accept || s->accept(w, &v[i])) {
                        seen(w, &v[i]);
                        counted = true;
                }
        if (!s->fallback || counted)
                w->read_ok[s->kind] = true;
        if (!s->fallback && s->kind == NOTICE_SPOT && n > 0)
                w->spot_answered = true;
        notice_list_free(v, n);
}

static void round_next(struct watcher *w);

static void on_signal(const struct imds_result *r, void *userdata) {
        struct watcher *w = userdata;
        const struct signal_read *s = &signal_reads[w->step];

        w->req = NULL;
        if (s->kind == NOTICE_SPOT && !s->fallback)
                spot_read_result(w, r);
        if (r->error == -ENOENT) {
                /* Nothing to say: a definite answer, except from a fallback. */
                if (!s->fallback)
                        w->read_ok[s->kind] = true;
        } else if (r->error) {
                w->stats->imds_errors++;
                log_debug("%s", r->error_text);
        } else
                read_body(w, s, r);
        round_next(w);
}

static bool read_wanted(const struct watcher *w, const struct signal_read *s) {
        bool due = (w->round - 1) % s->every == 0;

        if (s->fallback)
                return !w->spot_answered && (!w->read_ok[s->kind] || due);
        if (s->only_if_drains && !w->drains[s->kind])
                return false;
        return due;
}

/* Read signal_reads[from] or the next one wanted; end the round after the last. */
static void round_read(struct watcher *w, size_t from) {
        int r;

        w->step = from;
        while (w->step < ELEMENTSOF(signal_reads) && !read_wanted(w, &signal_reads[w->step]))
                w->step++;
        if (w->step >= ELEMENTSOF(signal_reads)) {
                round_end(w);
                return;
        }
        r = imds_get(w->aws->imds, signal_reads[w->step].path, on_signal, w, &w->req);
        if (r < 0) {
                w->req = NULL;
                log_error_errno(r, "Failed to poll IMDS: %m");
                round_end(w);
        }
}

static void round_next(struct watcher *w) {
        round_read(w, w->step + 1);
}

static void round_start(struct watcher *w) {
        w->round++;
        w->round_running = true;
        w->spot_answered = false;
        memset(w->read_ok, 0, sizeof w->read_ok);
        w->stats->polls++;
        round_read(w, 0);
}

/* Fixed rhythm: the next tick is due interval after the previous one was
 * due, whatever happened in between. */
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        struct watcher *w = userdata;
        uint64_t now = event_now_usec(w->aws->event);

        (void)usec;
        w->next_tick += w->interval_usec;
        if (w->next_tick <= now)
                w->next_tick = now + w->interval_usec;
        sd_event_source_set_time(s, w->next_tick);
        sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (w->round_running) {
                w->stats->polls_skipped++;
                return 0;
        }
        round_start(w);
        return 0;
}

/* ---- setup ---------------------------------------------------------------- */

/* The kinds that drain: ECS_HOSTD_DRAIN_ON, less Spot when the official
 * agent's switch says so. */
static void read_drain_kinds(struct watcher *w, const struct config *cfg) {
        static const unsigned bits[_NOTICE_KIND_MAX] = {
                [NOTICE_SPOT] = CONFIG_DRAIN_SPOT,
                [NOTICE_REBALANCE] = CONFIG_DRAIN_REBALANCE,
                [NOTICE_ASG] = CONFIG_DRAIN_ASG,
                [NOTICE_MAINTENANCE] = CONFIG_DRAIN_MAINTENANCE,
        };
        unsigned on = config_list(cfg, KEY_ECS_HOSTD_DRAIN_ON);

        for (size_t k = 0; k < _NOTICE_KIND_MAX; k++)
                w->drains[k] = on & bits[k];
        if (w->drains[NOTICE_SPOT] && config_is_set(cfg, KEY_ECS_ENABLE_SPOT_INSTANCE_DRAINING) &&
            !config_bool(cfg, KEY_ECS_ENABLE_SPOT_INSTANCE_DRAINING)) {
                w->drains[NOTICE_SPOT] = false;
                log_notice("ECS_ENABLE_SPOT_INSTANCE_DRAINING=false: Spot notices are reported, "
                           "not drained");
        }
}

static int read_config(struct watcher *w, const struct config *cfg) {
        w->datadir = strdup(config_string(cfg, KEY_ECS_HOSTD_DATADIR));
        if (!w->datadir)
                return -ENOMEM;
        w->interval_usec = (uint64_t)config_int(cfg, KEY_ECS_HOSTD_POLL_INTERVAL_MS) * 1000;
        read_drain_kinds(w, cfg);
        w->undrain = config_bool(cfg, KEY_ECS_HOSTD_UNDRAIN);
        w->dry_run = config_bool(cfg, KEY_ECS_HOSTD_DRY_RUN);
        w->lead_sec = config_is_set(cfg, KEY_ECS_HOSTD_MAINTENANCE_LEAD)
                              ? config_duration_ms(cfg, KEY_ECS_HOSTD_MAINTENANCE_LEAD) / 1000
                              : -1;
        w->hook_path = config_string(cfg, KEY_ECS_HOSTD_DRAIN_HOOK);
        w->empty_hook_path = config_string(cfg, KEY_ECS_HOSTD_EMPTY_HOOK);
        w->hook_timeout_usec =
                (uint64_t)config_duration_ms(cfg, KEY_ECS_HOSTD_DRAIN_HOOK_TIMEOUT) * 1000;
        return 0;
}

/* A hook that will not run is said at start, not at the first notice. */
static void check_hook(const char *key, const char *path) {
        _cleanup_free_ char *why = NULL;

        if (path && hook_check_file(path, &why) < 0)
                log_warn("%s %s will not run as it is: %s", key, path,
                         why ? why : "cannot check it");
}

static int start_polling(struct watcher *w) {
        int r;

        w->next_tick = event_now_usec(w->aws->event);
        r = sd_event_add_time(w->aws->event, &w->tick, CLOCK_MONOTONIC, w->next_tick,
                              TIMER_ACCURACY_USEC, on_tick, w);
        if (r < 0)
                return r;
        (void)sd_event_source_set_description(w->tick, "watcher-tick");
        log_info("Watching IMDS every %llu ms for spot%s, rebalance%s%s%s",
                 (unsigned long long)(w->interval_usec / 1000),
                 w->drains[NOTICE_SPOT] ? " (drains)" : " (reported)",
                 w->drains[NOTICE_REBALANCE] ? " (drains)" : " (reported)",
                 w->drains[NOTICE_ASG] ? ", asg (drains)" : ", asg (reported)",
                 w->drains[NOTICE_MAINTENANCE] ? ", maintenance (drains)" : "");
        if (w->dry_run)
                log_warn("ECS_HOSTD_DRY_RUN=true: notices are logged, nothing is changed in ECS");
        check_hook("ECS_HOSTD_DRAIN_HOOK", w->hook_path);
        check_hook("ECS_HOSTD_EMPTY_HOOK", w->empty_hook_path);
        return 0;
}

int watcher_new(struct watcher **ret, struct aws_clients *aws, const struct config *cfg,
                struct hooks *hooks, struct watcher_stats *stats, watcher_status_t status_cb,
                void *userdata) {
        _cleanup_(watcher_freep) struct watcher *w = NULL;
        int r;

        if (!ret || !aws || !aws->ecs || !cfg || !hooks || !stats)
                return -EINVAL;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->stats = stats;
        w->start = *stats;
        w->aws = aws;
        w->cfg = cfg;
        w->hooks = hooks;
        w->status_cb = status_cb;
        w->userdata = userdata;
        r = read_config(w, cfg);
        if (r < 0)
                return r;
        /* One attempt per call: the watcher's own retry runs to the deadline. */
        r = ecs_new(&w->ecs, aws->event, aws->http, aws->creds,
                    &(struct ecs_config){.region = aws->region,
                                         .endpoint = ecs_endpoint(aws->ecs),
                                         .max_attempts = 1,
                                         .timeout_ms = 5000});
        if (r < 0)
                return r;
        r = drain_asg_new(w);
        if (r < 0)
                return r;
        load(w);
        r = start_polling(w);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

static uint64_t sum(const uint64_t *v, size_t n, size_t stride) {
        uint64_t t = 0;
        for (size_t i = 0; i < n; i++)
                t += v[i * stride];
        return t;
}

/* What this watcher did (the daemon's counts now, minus when it started). */
static void log_stopped(const struct watcher *w) {
        const struct watcher_stats *a = &w->start, *b = w->stats;
        uint64_t drains_a = sum(&a->drains[0][WATCHER_DRAIN_CONFIRMED], _NOTICE_KIND_MAX,
                                _WATCHER_DRAIN_RESULT_MAX),
                 drains_b = sum(&b->drains[0][WATCHER_DRAIN_CONFIRMED], _NOTICE_KIND_MAX,
                                _WATCHER_DRAIN_RESULT_MAX);

        log_info("Interruption watcher stopped after %llu polls (%llu skipped while the previous "
                 "one ran): %llu failed or garbled IMDS reads, %llu notices, %llu drains "
                 "confirmed, %llu ECS calls",
                 (unsigned long long)(b->polls - a->polls),
                 (unsigned long long)(b->polls_skipped - a->polls_skipped),
                 (unsigned long long)(b->imds_errors - a->imds_errors),
                 (unsigned long long)(sum(b->notices, _NOTICE_KIND_MAX, 1) -
                                      sum(a->notices, _NOTICE_KIND_MAX, 1)),
                 (unsigned long long)(drains_b - drains_a),
                 (unsigned long long)(b->drain_calls - a->drain_calls));
}

struct watcher *watcher_free(struct watcher *w) {
        if (!w)
                return NULL;
        log_stopped(w);
        drain_follow_stop(w);
        drain_asg_free(w);
        sd_event_source_disable_unref(w->tick);
        imds_request_cancel(w->req);
        while (w->events) {
                struct event *e = w->events;
                w->events = e->next;
                event_free(e);
        }
        ecs_free(w->ecs);
        free(w->cluster);
        free(w->arn);
        free(w->datadir);
        free(w);
        return NULL;
}

int watcher_set_target(struct watcher *w, const char *cluster, const char *arn) {
        char *c = strdup(cluster), *a = strdup(arn);

        if (!c || !a) {
                free(c);
                free(a);
                return -ENOMEM;
        }
        free(w->cluster);
        free(w->arn);
        w->cluster = c;
        w->arn = a;
        for (struct event *e = w->events; e; e = e->next)
                update_state(e);
        drain_follow_resume(w);
        return 0;
}

const char *watcher_drain_result_name(enum watcher_drain_result r) {
        static const char *const names[_WATCHER_DRAIN_RESULT_MAX] = {
                [WATCHER_DRAIN_CONFIRMED] = "confirmed",
                [WATCHER_DRAIN_FAILED] = "failed",
                [WATCHER_DRAIN_UNDONE] = "undone",
                [WATCHER_DRAIN_DRY_RUN] = "dry_run",
        };
        return (unsigned)r < _WATCHER_DRAIN_RESULT_MAX ? names[r] : NULL;
}

void watcher_get_state(const struct watcher *w, struct watcher_state *ret) {
        *ret = (struct watcher_state){.blind = w->spot_failures >= BLIND_AFTER_POLLS,
                                      .ecs_status = w->ecs_status,
                                      .following = w->follow != NULL,
                                      .tasks_known = w->follow && w->last_view.counts_known,
                                      .tasks_left = w->last_view.running + w->last_view.pending,
                                      .follow_deadline = w->follow ? w->last_view.deadline : 0};
        for (const struct event *e = w->events; e; e = e->next) {
                enum notice_kind k = e->rec.kind;
                if (!e->present || e->rec.undone)
                        continue;
                ret->pending[k]++;
                if (e->rec.time && (!ret->pending_time[k] || e->rec.time < ret->pending_time[k]))
                        ret->pending_time[k] = e->rec.time;
        }
}

const char *watcher_status(const struct watcher *w) {
        return w && w->status[0] ? w->status : NULL;
}
