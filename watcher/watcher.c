/* watcher.c: the interruption watcher.  A fixed-rhythm timer starts a poll
 * round; a round reads the signal paths one after another on the shared IMDS
 * client (one connection, one token) and never overlaps the next round (a
 * tick that finds a round still running is counted and skipped, never
 * queued).  Events (one per notice id) carry their own ECS call, retry timer
 * and hook process, so nothing an event does can delay the polling. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "notice.h"
#include "state.h"
#include "watcher.h"
#include <systemd/sd-daemon.h>

#define LEDGER_FILE "notices.json"
#define LEDGER_MAX 64                     /* notices remembered */
#define DRAIN_RETRY_FIRST_USEC 200000ULL  /* retryable failures: 0.2 s ... */
#define DRAIN_RETRY_CAP_USEC 2000000ULL   /* ... doubling to 2 s */
#define DRAIN_RETRY_SLOW_USEC 10000000ULL /* access/auth problems: every 10 s */
#define ASG_DEADLINE_SEC 600 /* Auto Scaling announces no deadline: keep trying 10 min */
#define SPOT_GRACE_SEC 30    /* keep trying a little past the announced time */
#define HOOK_OUTPUT_MAX 4096
/* Spot and Auto Scaling are read every poll; the slower signals less often,
 * which keeps a poll cheap: rebalance (AWS suggests every 5 s) and the legacy
 * termination-time every 5th poll, maintenance (scheduled days ahead) every
 * 10th.  A failing instance-action read brings termination-time forward. */
#define SLOW_SIGNAL_EVERY 5
#define MAINTENANCE_EVERY 10
/* Failed Spot reads in a row (each already retried by the IMDS client) before
 * the watcher says it is blind. */
#define BLIND_AFTER_POLLS 3

enum step {
        STEP_SPOT,
        STEP_TERMINATION_TIME,
        STEP_ASG,
        STEP_REBALANCE,
        STEP_MAINTENANCE,
        STEP_END
};

/* Counters since watcher_new(); watcher_free() logs them in one line. */
struct watcher_stats {
        uint64_t polls;         /* ticks that started a poll round */
        uint64_t polls_skipped; /* ticks that found the previous round still running */
        uint64_t imds_errors;   /* signal reads that failed (not 404) or were garbled */
        uint64_t notices;       /* distinct notices seen */
        uint64_t drains_confirmed;
        uint64_t drain_attempts; /* ECS calls, drains and undos */
};

struct hook;

struct event {
        char *id;
        enum notice_kind kind;
        char *action;
        time_t time;     /* the notice's own time (spot: action time) */
        time_t deadline; /* stop trying to drain after this */
        time_t drain_at; /* maintenance lead: when the drain starts */
        bool drains;     /* selected by ECS_HOSTD_DRAIN_ON */
        bool drained;    /* confirmed DRAINING by ECS */
        bool by_us;      /* ecs-hostd set it (undo is allowed) */
        bool hook_done;
        bool undone;
        bool gave_up;
        bool present;   /* seen in the latest definite read of its signal */
        uint64_t round; /* the round that last saw it */
        char result[32];

        uint64_t seen_usec; /* CLOCK_MONOTONIC when first seen */
        struct ecs_call *call;
        sd_event_source *retry;
        unsigned attempts;
        bool loud;    /* a non-retryable failure was logged */
        bool undrain; /* the call in flight sets ACTIVE */
        struct watcher *w;
        struct event *next;
};

struct hook {
        struct watcher *w;
        pid_t pid;
        sd_event_source *child, *out, *timer;
        int fd;
        char buf[HOOK_OUTPUT_MAX];
        size_t len;
        char *id;
        struct hook *next;
};

struct watcher {
        struct aws_clients *aws;  /* borrowed */
        const struct config *cfg; /* borrowed */
        struct ecs *ecs;          /* ours: one attempt per call, the watcher retries */
        char *cluster, *arn;
        char *datadir;

        uint64_t interval_usec;
        bool spot, rebalance, asg, maintenance; /* which kinds drain */
        bool undrain, dry_run;
        int64_t lead_sec;
        const char *hook_path;
        uint64_t hook_timeout_usec;

        sd_event_source *tick;
        uint64_t next_tick;
        bool round_running;
        enum step step;
        struct imds_request *req;
        uint64_t round;
        bool spot_answered;     /* instance-action gave a notice this round */
        unsigned spot_failures; /* instance-action reads failed in a row */
        bool read_ok[4];        /* per kind: a definite answer this round */

        struct event *events;
        struct hook *hooks;
        struct watcher_stats stats;
        char status[300];
};

static uint64_t now_usec(struct watcher *w) {
        uint64_t t = 0;
        sd_event_now(w->aws->event, CLOCK_MONOTONIC, &t);
        return t;
}

static const char *fmt_time(time_t t, char *buf, size_t n) {
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(buf, n, "%lld", (long long)t);
        return buf;
}

/* How a notice reads in the log: "spot terminate", "asg Terminated",
 * "maintenance instance-stop", "rebalance recommendation". */
static const char *what_kind(enum notice_kind k) {
        return notice_kind_name(k);
}

static const char *what_action(enum notice_kind k, const char *action) {
        return k == NOTICE_REBALANCE ? "recommendation" : action;
}

/* ---- the ledger (notices.json) ---------------------------------------- */

static void event_free(struct event *e) {
        ecs_call_cancel(e->call);
        sd_event_source_disable_unref(e->retry);
        free(e->id);
        free(e->action);
        free(e);
}

static void ledger_save(struct watcher *w) {
        cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "notices");
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        int r;

        for (struct event *e = w->events; e && n < LEDGER_MAX; e = e->next, n++) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "id", e->id);
                cJSON_AddStringToObject(j, "kind", notice_kind_name(e->kind));
                cJSON_AddStringToObject(j, "action", e->action);
                cJSON_AddNumberToObject(j, "time", (double)e->time);
                cJSON_AddBoolToObject(j, "drained", e->drained);
                cJSON_AddBoolToObject(j, "byUs", e->by_us);
                cJSON_AddBoolToObject(j, "hookDone", e->hook_done);
                cJSON_AddBoolToObject(j, "undone", e->undone);
                cJSON_AddStringToObject(j, "result", e->result);
                cJSON_AddItemToArray(a, j);
        }
        text = cJSON_Print(o);
        cJSON_Delete(o);
        if (!text)
                return;
        r = state_write_atomic(w->datadir, LEDGER_FILE, text);
        if (r < 0)
                log_error_errno(r, "Failed to save %s/" LEDGER_FILE ": %m", w->datadir);
}

static int kind_from_name(const char *s, enum notice_kind *ret) {
        for (int k = NOTICE_SPOT; k <= NOTICE_MAINTENANCE; k++)
                if (streq_ptr(s, notice_kind_name((enum notice_kind)k))) {
                        *ret = (enum notice_kind)k;
                        return 0;
                }
        return -EINVAL;
}

/* Pure: notices.json's text to a list of events (newest first, as saved). */
static int ledger_parse(const char *text, size_t len, struct event **ret) {
        cJSON *o = cJSON_ParseWithLength(text, len);
        const cJSON *item;
        struct event *head = NULL, **tail = &head;
        size_t n = 0;

        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return -EINVAL;
        }
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "notices")) {
                const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "id"));
                const char *kind =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "kind"));
                const char *action =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "action"));
                const char *result =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "result"));
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "time");
                struct event *e;
                enum notice_kind k;

                /* A time outside 1970..9999 (or not a number) would not
                 * convert to time_t: such an entry is not ours. */
                if (!id || !*id || strlen(id) > 512 || !action || strlen(action) > 128 ||
                    kind_from_name(kind, &k) < 0 || n >= LEDGER_MAX || !cJSON_IsNumber(t) ||
                    !(t->valuedouble >= 0 && t->valuedouble < 253402300800.0))
                        continue;
                e = calloc(1, sizeof *e);
                if (!e || !(e->id = strdup(id)) || !(e->action = strdup(action))) {
                        if (e)
                                event_free(e);
                        break;
                }
                e->kind = k;
                e->w = NULL; /* set by the loader */
                e->time = (time_t)t->valuedouble;
                e->drained = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "drained"));
                e->by_us = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "byUs"));
                e->hook_done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "hookDone"));
                e->undone = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "undone"));
                snprintf(e->result, sizeof e->result, "%s", result ? result : "");
                *tail = e;
                tail = &e->next;
                n++;
        }
        cJSON_Delete(o);
        *ret = head;
        return 0;
}

static void ledger_load(struct watcher *w) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len = 0;
        FILE *f;

        if (asprintf(&path, "%s/" LEDGER_FILE, w->datadir) < 0)
                return;
        f = fopen(path, "re");
        if (!f)
                return;
        text = malloc(256 * 1024);
        if (text)
                len = fread(text, 1, 256 * 1024 - 1, f);
        fclose(f);
        if (!text)
                return;
        text[len] = 0;
        if (ledger_parse(text, len, &w->events) < 0)
                log_warn("%s is not a notice ledger; starting with no notices remembered", path);
        for (struct event *e = w->events; e; e = e->next)
                e->w = w;
        for (struct event *e = w->events; e; e = e->next)
                log_info("Remembering %s notice %s from before the restart (%s%s)",
                         notice_kind_name(e->kind), e->id, e->drained ? "drained" : "not drained",
                         e->hook_done ? ", hook ran" : "");
}

int watcher_ledger_check(const char *text, size_t len) {
        struct event *events = NULL;
        int n = 0, r = ledger_parse(text, len, &events);

        while (events) {
                struct event *e = events;
                events = e->next;
                event_free(e);
                n++;
        }
        return r < 0 ? r : n;
}

/* ---- the drain hook ------------------------------------------------------ */

static void hook_free(struct hook *h) {
        struct hook **p = h->w ? &h->w->hooks : NULL;

        while (p && *p && *p != h)
                p = &(*p)->next;
        if (p && *p)
                *p = h->next;
        sd_event_source_disable_unref(h->child);
        sd_event_source_disable_unref(h->out);
        sd_event_source_disable_unref(h->timer);
        if (h->fd >= 0)
                close(h->fd);
        free(h->id);
        free(h);
}

static void hook_flush(struct hook *h, bool all) {
        char *nl;

        while ((nl = memchr(h->buf, '\n', h->len)) || (all && h->len)) {
                size_t n = nl ? (size_t)(nl - h->buf) : h->len;
                log_info("Drain hook [%d] for %s: %.*s", (int)h->pid, h->id, (int)n, h->buf);
                n = nl ? n + 1 : n;
                memmove(h->buf, h->buf + n, h->len - n);
                h->len -= n;
        }
}

static int on_hook_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct hook *h = userdata;
        ssize_t n;

        (void)s, (void)revents;
        if (h->len == sizeof h->buf)
                hook_flush(h, true); /* an over-long line: log it in pieces */
        n = read(fd, h->buf + h->len, sizeof h->buf - h->len);
        if (n > 0) {
                h->len += (size_t)n;
                hook_flush(h, false);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                hook_flush(h, true);
                h->out = sd_event_source_disable_unref(h->out);
        }
        return 0;
}

static int on_hook_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct hook *h = userdata;

        (void)s;
        /* Drain what is left in the pipe before reporting. */
        if (h->out)
                while (on_hook_output(NULL, h->fd, 0, h), h->out)
                        ;
        if (si->si_code == CLD_EXITED && si->si_status == 0)
                log_info("Drain hook for %s finished", h->id);
        else if (si->si_code == CLD_EXITED)
                log_warn("Drain hook for %s failed with exit status %d", h->id, si->si_status);
        else
                log_warn("Drain hook for %s was killed by signal %d%s", h->id, si->si_status,
                         h->timer ? "" : " (time limit)");
        hook_free(h);
        return 0;
}

static int on_hook_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct hook *h = userdata;

        (void)s, (void)usec;
        log_warn("Drain hook for %s exceeded its time limit; killing it", h->id);
        h->timer = sd_event_source_disable_unref(h->timer);
        kill(-h->pid, SIGKILL); /* its whole process group */
        return 0;
}

static void run_hook(struct watcher *w, struct event *e) {
        char t[32], d[32];
        struct hook *h;
        int pipefd[2];
        pid_t pid;
        int r;

        if (e->hook_done)
                return;
        e->hook_done = true;
        ledger_save(w);
        if (!w->hook_path || !*w->hook_path)
                return;
        if (w->dry_run) {
                log_info("Dry run: would run the drain hook %s for %s", w->hook_path, e->id);
                return;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                log_error_errno(errno, "Failed to run the drain hook: %m");
                return;
        }
        fmt_time(e->time, t, sizeof t);
        fmt_time(e->deadline, d, sizeof d);
        pid = fork();
        if (pid < 0) {
                log_error_errno(errno, "Failed to run the drain hook: %m");
                close(pipefd[0]);
                close(pipefd[1]);
                return;
        }
        if (pid == 0) {
                sigset_t none;
                char *argv[] = {(char *)(uintptr_t)w->hook_path, NULL};
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                setpgid(0, 0);
                dup2(pipefd[1], STDOUT_FILENO);
                dup2(pipefd[1], STDERR_FILENO);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, STDIN_FILENO);
                setenv("ECS_HOSTD_EVENT_KIND", notice_kind_name(e->kind), 1);
                setenv("ECS_HOSTD_EVENT_ACTION", e->action, 1);
                setenv("ECS_HOSTD_EVENT_ID", e->id, 1);
                setenv("ECS_HOSTD_EVENT_TIME", t, 1);
                setenv("ECS_HOSTD_DEADLINE", d, 1);
                setenv("ECS_HOSTD_CLUSTER", w->cluster ? w->cluster : "", 1);
                setenv("ECS_HOSTD_CONTAINER_INSTANCE_ARN", w->arn ? w->arn : "", 1);
                setenv("ECS_HOSTD_DRAIN_RESULT", e->result, 1);
                execv(w->hook_path, argv);
                dprintf(STDERR_FILENO, "cannot execute %s: %s\n", w->hook_path, strerror(errno));
                _exit(127);
        }
        close(pipefd[1]);
        h = calloc(1, sizeof *h);
        if (!h) {
                close(pipefd[0]);
                return;
        }
        h->w = w;
        h->pid = pid;
        h->fd = pipefd[0];
        h->id = strdup(e->id);
        fcntl(h->fd, F_SETFL, O_NONBLOCK);
        h->next = w->hooks;
        w->hooks = h;
        log_info("Running the drain hook %s for %s (pid %d, result %s)", w->hook_path, e->id,
                 (int)pid, e->result);
        r = sd_event_add_io(w->aws->event, &h->out, h->fd, EPOLLIN, on_hook_output, h);
        if (r >= 0)
                r = sd_event_add_child(w->aws->event, &h->child, pid, WEXITED, on_hook_exit, h);
        if (r >= 0)
                r = sd_event_add_time_relative(w->aws->event, &h->timer, CLOCK_MONOTONIC,
                                               w->hook_timeout_usec, TIMER_ACCURACY_USEC,
                                               on_hook_timeout, h);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the drain hook: %m");
                kill(-pid, SIGKILL);
                waitpid(pid, NULL, 0);
                hook_free(h);
        }
}

/* ---- draining ------------------------------------------------------------ */

static void set_status(struct watcher *w, struct event *e, const char *what) {
        char t[32];
        long left = (long)(e->time - time(NULL));

        snprintf(w->status, sizeof w->status, "%s %s at %s (in %ld s): %s", what_kind(e->kind),
                 what_action(e->kind, e->action), fmt_time(e->time, t, sizeof t),
                 left > 0 ? left : 0, what);
        sd_notifyf(false, "STATUS=%s", w->status);
}

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
        snprintf(e->result, sizeof e->result, "failed");
        log_crit("%s %s at %s: the deadline passed without a confirmed drain of %s (%s)",
                 what_kind(e->kind), what_action(e->kind, e->action),
                 fmt_time(e->time, t, sizeof t), e->w->arn, why);
        set_status(e->w, e, "drain NOT confirmed");
        ledger_save(e->w);
        run_hook(e->w, e);
}

static void on_update(const struct ecs_result *res, void *userdata) {
        struct event *e = userdata;
        struct watcher *w = e->w;
        const char *want = e->undrain ? "ACTIVE" : "DRAINING";
        const cJSON *ci, *failures;
        const char *status;
        char why[700];
        bool retryable;

        e->call = NULL;
        if (res->error == 0) {
                ci = cJSON_GetArrayItem(
                        cJSON_GetObjectItemCaseSensitive(res->response, "containerInstances"), 0);
                status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "status"));
                failures = cJSON_GetObjectItemCaseSensitive(res->response, "failures");
                if (streq_ptr(status, want) && cJSON_GetArraySize(failures) == 0) {
                        double secs = (double)(now_usec(w) - e->seen_usec) / 1e6;
                        char t[32];
                        if (e->undrain) {
                                e->undone = true;
                                e->drained = false;
                                snprintf(e->result, sizeof e->result, "undone");
                                log_notice("%s %s withdrawn: container instance %s is ACTIVE again",
                                           what_kind(e->kind), what_action(e->kind, e->action),
                                           w->arn);
                                snprintf(w->status, sizeof w->status,
                                         "%s notice withdrawn; ACTIVE again",
                                         notice_kind_name(e->kind));
                                sd_notifyf(false, "STATUS=%s", w->status);
                        } else {
                                long left = (long)(e->time - time(NULL));
                                e->drained = true;
                                e->by_us = true;
                                w->stats.drains_confirmed++;
                                snprintf(e->result, sizeof e->result, "confirmed");
                                log_struct(LOG_WARNING,
                                           ((const char *const[]){"ECS_HOSTD_EVENT=drained", NULL}),
                                           "%s %s at %s (in %ld s): container instance %s DRAINING "
                                           "after %.2f s",
                                           what_kind(e->kind), what_action(e->kind, e->action),
                                           fmt_time(e->time, t, sizeof t), left > 0 ? left : 0,
                                           w->arn, secs);
                                set_status(w, e, "DRAINING confirmed");
                        }
                        ledger_save(w);
                        if (!e->undrain)
                                run_hook(w, e);
                        return;
                }
                snprintf(why, sizeof why, "ECS UpdateContainerInstancesState answered %s%s",
                         status ? status : "no container instance",
                         cJSON_GetArraySize(failures) ? " with failures" : "");
                retryable = false;
        } else {
                snprintf(why, sizeof why, "%s", res->message ? res->message : "failed");
                retryable = ecs_kind_retryable(res->kind);
        }

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
        set_status(w, e, e->undrain ? "reactivating" : "draining, ECS not confirming yet");
}

static void send_update(struct event *e, bool undrain) {
        struct watcher *w = e->w;
        const char *arn = w->arn;
        cJSON *req;
        int r;

        e->undrain = undrain;
        e->attempts++;
        w->stats.drain_attempts++;
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

/* Bring one event's effect up to date: drain when it is time, undo a
 * withdrawn drain.  Does nothing while a call or a retry wait is pending. */
static void update_state(struct event *e) {
        struct watcher *w = e->w;
        time_t now = time(NULL);

        if (e->call || e->retry || !w->arn || e->gave_up)
                return;
        if (!e->present) {
                /* Withdrawn: undo only what we did, only for ASG and maintenance. */
                if (e->drained && e->by_us && !e->undone && w->undrain &&
                    (e->kind == NOTICE_ASG || e->kind == NOTICE_MAINTENANCE)) {
                        for (struct event *o = w->events; o; o = o->next)
                                if (o != e && o->present && o->drained && !o->undone)
                                        return; /* another notice still wants it drained */
                        if (w->dry_run) {
                                log_info("Dry run: would set %s ACTIVE again (%s withdrawn)",
                                         w->arn, e->id);
                                e->undone = true;
                                ledger_save(w);
                                return;
                        }
                        send_update(e, true);
                }
                return;
        }
        if (!e->drains || e->drained || now < e->drain_at)
                return;
        if (now > e->deadline) {
                give_up(e, "no drain was possible before the deadline");
                return;
        }
        if (w->dry_run) {
                log_warn("Dry run: would set container instance %s to DRAINING for %s", w->arn,
                         e->id);
                e->drained = true;
                snprintf(e->result, sizeof e->result, "dry-run");
                ledger_save(w);
                run_hook(w, e);
                return;
        }
        send_update(e, false);
}

/* ---- notices ------------------------------------------------------------- */

static bool kind_drains(const struct watcher *w, enum notice_kind k) {
        switch (k) {
        case NOTICE_SPOT:
                return w->spot;
        case NOTICE_REBALANCE:
                return w->rebalance;
        case NOTICE_ASG:
                return w->asg;
        default:
                return w->maintenance;
        }
}

static struct event *event_find(struct watcher *w, const char *id) {
        for (struct event *e = w->events; e; e = e->next)
                if (streq_ptr(e->id, id))
                        return e;
        return NULL;
}

/* A notice seen in this round: new ones are announced and remembered. */
static void seen(struct watcher *w, const struct notice *n) {
        struct event *e = event_find(w, n->id);
        time_t now = time(NULL);
        char t[32];

        if (!e) {
                e = calloc(1, sizeof *e);
                if (!e || !(e->id = strdup(n->id)) || !(e->action = strdup(n->action))) {
                        if (e)
                                event_free(e);
                        log_error("Out of memory handling notice %s", n->id);
                        return;
                }
                e->w = w;
                e->kind = n->kind;
                e->time = n->time;
                e->next = w->events;
                w->events = e;
                w->stats.notices++;
                if (n->warning)
                        log_warn("%s", n->warning);
                log_struct(LOG_WARNING, ((const char *const[]){"ECS_HOSTD_EVENT=notice", NULL}),
                           "%s %s at %s (in %ld s)%s", what_kind(n->kind),
                           what_action(n->kind, n->action),
                           n->time ? fmt_time(n->time, t, sizeof t) : "now",
                           n->time > now ? (long)(n->time - now) : 0L,
                           kind_drains(w, n->kind)
                                   ? (w->arn ? ": draining" : ": will drain once joined")
                                   : ": reported only (not in ECS_HOSTD_DRAIN_ON)");
                ledger_save(w);
        }
        if (!e->seen_usec)
                e->seen_usec = now_usec(w);
        e->present = true;
        e->drains = kind_drains(w, e->kind);
        e->drain_at = e->kind == NOTICE_MAINTENANCE && w->lead_sec >= 0 && e->time
                              ? e->time - (time_t)w->lead_sec
                              : 0;
        switch (e->kind) {
        case NOTICE_SPOT:
                e->deadline = (e->time > now ? e->time : now) + SPOT_GRACE_SEC;
                break;
        case NOTICE_MAINTENANCE:
                e->deadline = e->time > now ? e->time : now + SPOT_GRACE_SEC;
                break;
        default:
                /* Auto Scaling and rebalance announce no deadline. */
                if (!e->deadline)
                        e->deadline = now + ASG_DEADLINE_SEC;
                if (e->time == 0)
                        e->time = now;
        }
        e->round = w->round;
        update_state(e);
}

/* ---- polling ------------------------------------------------------------- */

static const char *step_path(enum step s) {
        switch (s) {
        case STEP_SPOT:
                return NOTICE_SPOT_ACTION_PATH;
        case STEP_TERMINATION_TIME:
                return NOTICE_TERMINATION_TIME_PATH;
        case STEP_ASG:
                return NOTICE_ASG_PATH;
        case STEP_REBALANCE:
                return NOTICE_REBALANCE_PATH;
        default:
                return NOTICE_MAINTENANCE_PATH;
        }
}

static void round_next(struct watcher *w);

/* End of a round: notices of a signal that answered definitely but did not
 * show them any more are withdrawn. */
static void round_end(struct watcher *w) {
        w->round_running = false;
        for (struct event *e = w->events; e; e = e->next) {
                if (w->read_ok[e->kind] && e->round != w->round && e->present) {
                        e->present = false;
                        if (e->kind != NOTICE_SPOT)
                                log_info("%s notice %s is gone", notice_kind_name(e->kind), e->id);
                        update_state(e);
                }
        }
}

static void report_garbage(struct watcher *w, const char *what) {
        w->stats.imds_errors++;
        log_warn("Ignoring a garbled answer: %s", what);
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

static void on_signal(const struct imds_result *r, void *userdata) {
        struct watcher *w = userdata;
        _cleanup_free_ char *err = NULL, *state = NULL;
        struct notice n = {};
        enum step s = w->step;

        w->req = NULL;
        if (s == STEP_SPOT)
                spot_read_result(w, r);
        if (r->error && r->error != -ENOENT) {
                w->stats.imds_errors++;
                log_debug("%s", r->error_text);
                goto next;
        }
        switch (s) {
        case STEP_SPOT:
                if (r->error == -ENOENT) {
                        w->read_ok[NOTICE_SPOT] = true;
                        break;
                }
                if (notice_parse_spot_action(r->body, r->body_len, &n, &err) < 0) {
                        report_garbage(w, err);
                        break;
                }
                w->read_ok[NOTICE_SPOT] = true;
                w->spot_answered = true;
                seen(w, &n);
                break;
        case STEP_TERMINATION_TIME:
                /* Legacy fallback: only a future time counts (it may linger
                 * after a termination that did not happen). */
                if (r->error == -ENOENT)
                        break;
                if (notice_parse_termination_time(r->body, r->body_len, &n, &err) < 0) {
                        report_garbage(w, err);
                        break;
                }
                if (n.time > time(NULL)) {
                        w->read_ok[NOTICE_SPOT] = true;
                        seen(w, &n);
                }
                break;
        case STEP_ASG:
                if (r->error == -ENOENT) {
                        w->read_ok[NOTICE_ASG] = true;
                        break;
                }
                if (notice_parse_asg_state(r->body, r->body_len, &state, &err) < 0) {
                        report_garbage(w, err);
                        break;
                }
                w->read_ok[NOTICE_ASG] = true;
                if (strcmp(state, "Terminated") == 0 && notice_from_asg_state(state, &n) == 0)
                        seen(w, &n);
                break;
        case STEP_REBALANCE:
                if (r->error == -ENOENT) {
                        w->read_ok[NOTICE_REBALANCE] = true;
                        break;
                }
                if (notice_parse_rebalance(r->body, r->body_len, &n, &err) < 0) {
                        report_garbage(w, err);
                        break;
                }
                w->read_ok[NOTICE_REBALANCE] = true;
                seen(w, &n);
                break;
        default: {
                struct notice *v = NULL;
                size_t nv = 0;
                if (r->error == -ENOENT) {
                        w->read_ok[NOTICE_MAINTENANCE] = true;
                        break;
                }
                if (notice_parse_maintenance(r->body, r->body_len, &v, &nv, &err) < 0) {
                        report_garbage(w, err);
                        break;
                }
                w->read_ok[NOTICE_MAINTENANCE] = true;
                for (size_t i = 0; i < nv; i++) {
                        if (config_list_contains(w->cfg, "ECS_HOSTD_DRAIN_MAINTENANCE_CODES",
                                                 v[i].action))
                                seen(w, &v[i]);
                }
                notice_list_free(v, nv);
        }
        }
        notice_done(&n);
next:
        round_next(w);
}

static bool step_wanted(struct watcher *w, enum step s) {
        switch (s) {
        case STEP_TERMINATION_TIME:
                return !w->spot_answered &&
                       (!w->read_ok[NOTICE_SPOT] || w->round % SLOW_SIGNAL_EVERY == 1);
        case STEP_REBALANCE:
                return w->round % SLOW_SIGNAL_EVERY == 1;
        case STEP_MAINTENANCE:
                return w->maintenance && w->round % MAINTENANCE_EVERY == 1;
        default:
                return true;
        }
}

static void round_next(struct watcher *w) {
        int r;

        do
                w->step++;
        while (w->step < STEP_END && !step_wanted(w, w->step));
        if (w->step >= STEP_END) {
                round_end(w);
                return;
        }
        r = imds_get(w->aws->imds, step_path(w->step), on_signal, w, &w->req);
        if (r < 0) {
                w->req = NULL;
                log_error_errno(r, "Failed to poll IMDS: %m");
                round_end(w);
        }
}

static void round_start(struct watcher *w) {
        int r;

        w->round++;
        w->round_running = true;
        w->spot_answered = false;
        memset(w->read_ok, 0, sizeof w->read_ok);
        w->step = STEP_SPOT;
        w->stats.polls++;
        r = imds_get(w->aws->imds, step_path(STEP_SPOT), on_signal, w, &w->req);
        if (r < 0) {
                w->req = NULL;
                log_error_errno(r, "Failed to poll IMDS: %m");
                round_end(w);
        }
}

/* Fixed rhythm: the next tick is due interval after the previous one was
 * due, whatever happened in between. */
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        struct watcher *w = userdata;

        (void)usec;
        w->next_tick += w->interval_usec;
        if (w->next_tick <= now_usec(w))
                w->next_tick = now_usec(w) + w->interval_usec;
        sd_event_source_set_time(s, w->next_tick);
        sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (w->round_running) {
                w->stats.polls_skipped++;
                return 0;
        }
        round_start(w);
        return 0;
}

int watcher_new(struct watcher **ret, struct aws_clients *aws, const struct config *cfg) {
        const char *spot_switch;
        struct watcher *w;
        int r;

        if (!ret || !aws || !aws->ecs || !cfg)
                return -EINVAL;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->aws = aws;
        w->cfg = cfg;
        w->datadir = strdup(config_get(cfg, "ECS_HOSTD_DATADIR"));
        if (!w->datadir) {
                free(w);
                return -ENOMEM;
        }
        w->interval_usec = (uint64_t)config_get_int(cfg, "ECS_HOSTD_POLL_INTERVAL_MS") * 1000;
        w->spot = config_list_contains(cfg, "ECS_HOSTD_DRAIN_ON", "spot");
        spot_switch = config_get(cfg, "ECS_ENABLE_SPOT_INSTANCE_DRAINING");
        if (w->spot && spot_switch && !config_get_bool(cfg, "ECS_ENABLE_SPOT_INSTANCE_DRAINING")) {
                w->spot = false;
                log_notice("ECS_ENABLE_SPOT_INSTANCE_DRAINING=false: Spot notices are reported, "
                           "not drained");
        }
        w->rebalance = config_list_contains(cfg, "ECS_HOSTD_DRAIN_ON", "rebalance");
        w->asg = config_list_contains(cfg, "ECS_HOSTD_DRAIN_ON", "asg");
        w->maintenance = config_list_contains(cfg, "ECS_HOSTD_DRAIN_ON", "maintenance");
        w->undrain = config_get_bool(cfg, "ECS_HOSTD_UNDRAIN");
        w->dry_run = config_get_bool(cfg, "ECS_HOSTD_DRY_RUN");
        w->lead_sec = config_get(cfg, "ECS_HOSTD_MAINTENANCE_LEAD")
                              ? config_get_int(cfg, "ECS_HOSTD_MAINTENANCE_LEAD") / 1000
                              : -1;
        w->hook_path = config_get(cfg, "ECS_HOSTD_DRAIN_HOOK");
        w->hook_timeout_usec = (uint64_t)config_get_int(cfg, "ECS_HOSTD_DRAIN_HOOK_TIMEOUT") * 1000;

        /* One attempt per call: the watcher's own retry runs to the deadline. */
        r = ecs_new(&w->ecs, aws->event, aws->http, aws->creds,
                    &(struct ecs_config){.region = aws->region,
                                         .endpoint = ecs_endpoint(aws->ecs),
                                         .max_attempts = 1,
                                         .timeout_ms = 5000});
        if (r < 0) {
                watcher_free(w);
                return r;
        }
        ledger_load(w);
        w->next_tick = now_usec(w);
        r = sd_event_add_time(aws->event, &w->tick, CLOCK_MONOTONIC, w->next_tick,
                              TIMER_ACCURACY_USEC, on_tick, w);
        if (r < 0) {
                watcher_free(w);
                return r;
        }
        sd_event_source_set_enabled(w->tick, SD_EVENT_ON);
        sd_event_source_set_description(w->tick, "watcher-tick");
        log_info("Watching IMDS every %llu ms for %s%s%s%s%s%s",
                 (unsigned long long)(w->interval_usec / 1000), "spot",
                 w->spot ? " (drains)" : " (reported)", ", rebalance",
                 w->rebalance ? " (drains)" : " (reported)",
                 w->asg ? ", asg (drains)" : ", asg (reported)",
                 w->maintenance ? ", maintenance (drains)" : "");
        if (w->dry_run)
                log_warn("ECS_HOSTD_DRY_RUN=true: notices are logged, nothing is changed in ECS");
        *ret = w;
        return 0;
}

struct watcher *watcher_free(struct watcher *w) {
        if (!w)
                return NULL;
        log_info("Interruption watcher stopped after %llu polls (%llu skipped while the previous "
                 "one ran): %llu failed or garbled IMDS reads, %llu notices, %llu drains "
                 "confirmed, %llu ECS calls",
                 (unsigned long long)w->stats.polls, (unsigned long long)w->stats.polls_skipped,
                 (unsigned long long)w->stats.imds_errors, (unsigned long long)w->stats.notices,
                 (unsigned long long)w->stats.drains_confirmed,
                 (unsigned long long)w->stats.drain_attempts);
        sd_event_source_disable_unref(w->tick);
        imds_request_cancel(w->req);
        while (w->events) {
                struct event *e = w->events;
                w->events = e->next;
                event_free(e);
        }
        /* A running hook outlives its watcher (a reload rebuilds the
         * watcher): it keeps its sources on the loop, so its output is still
         * logged, its time limit still applies, and it is reaped and freed
         * when it exits. */
        while (w->hooks) {
                struct hook *h = w->hooks;
                w->hooks = h->next;
                h->next = NULL;
                h->w = NULL;
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
        return 0;
}

const char *watcher_status(const struct watcher *w) {
        return w && w->status[0] ? w->status : NULL;
}
