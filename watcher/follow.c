/* follow.c: following a drained container instance (see follow.h).  One
 * call at a time; a tick asks DescribeContainerInstances for the counts
 * and, when the names are stale, goes on with ListTasks and DescribeTasks.
 * A real-time timer fires at FOLLOW_NEAR_SEC before the deadline and at
 * the deadline, so those reports come on time whatever the pace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "event-util.h"
#include "follow.h"
#include "log.h"

/* At most 6 calls at once, then one every 2.5 s, whatever the pace asks:
 * 54 in two minutes.  The reports before and at the deadline are never
 * held but borrow from the bucket, so only the last one's (at most 3
 * calls) can go beyond: 57 at most in a two-minute follow. */
#define BUCKET 6
#define REFILL_USEC 2500000ULL
#define NAMES_MAX_AGE_USEC (30ULL * 1000000)  /* names refreshed at least this often */
#define THROTTLED_FIRST_USEC (2ULL * 1000000) /* throttled: the pace, doubling ... */
#define THROTTLED_MAX_USEC (10ULL * 1000000)  /* ... to this, until a call goes through */

enum step { STEP_COUNTS, STEP_LIST, STEP_DESCRIBE };

struct follow {
        sd_event *event;
        struct ecs *ecs; /* borrowed */
        char *cluster, *arn;
        time_t deadline;
        follow_callback_t cb;
        void *userdata;

        sd_event_source *tick, *clock; /* the pace; the near-deadline and deadline moments */
        struct ecs_call *call;
        enum step step;
        double tokens;
        uint64_t tokens_at; /* CLOCK_MONOTONIC of the last refill */
        uint64_t backoff;   /* after throttling: the pace, doubling */

        bool counts_known, named, naming_denied, reported_first, reported_near, over;
        bool fewer;    /* the counts fell: DescribeTasks on the tasks known names what is left */
        bool by_known; /* the DescribeTasks in flight is of the tasks known, not listed */
        bool want_near, want_deadline; /* a report waits for fresh counts and names */
        uint64_t want_at;              /* CLOCK_MONOTONIC when it was wanted */
        unsigned running, pending;
        unsigned reported_left;       /* running + pending at the last report */
        uint64_t counts_at, names_at; /* CLOCK_MONOTONIC of the last counts, names */
        char **arns;
        size_t n_arns;
        struct follow_task *tasks;
        size_t n_tasks;
        uint64_t calls;
        bool loud; /* an error other than throttling was logged */
};

void follow_tasks_free(struct follow_task *t, size_t n) {
        for (size_t i = 0; t && i < n; i++) {
                free(t[i].arn);
                free(t[i].group);
                free(t[i].definition);
                free(t[i].last_status);
        }
        free(t);
}

static void free_arns(struct follow *f) {
        for (size_t i = 0; f->arns && i < f->n_arns; i++)
                free(f->arns[i]);
        f->arns = mfree(f->arns);
        f->n_arns = 0;
}

/* ---- pure parts ---------------------------------------------------------- */

static bool whole(const cJSON *n) {
        return cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble <= 1e6 &&
               n->valuedouble == (double)(unsigned)n->valuedouble;
}

int follow_parse_counts(const cJSON *answer, const char *arn, unsigned *ret_running,
                        unsigned *ret_pending) {
        const cJSON *ci;

        cJSON_ArrayForEach(ci, cJSON_GetObjectItemCaseSensitive(answer, "containerInstances")) {
                const cJSON *running = cJSON_GetObjectItemCaseSensitive(ci, "runningTasksCount"),
                            *pending = cJSON_GetObjectItemCaseSensitive(ci, "pendingTasksCount");
                if (!streq_ptr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                                       ci, "containerInstanceArn")),
                               arn))
                        continue;
                if (!whole(running) || !whole(pending))
                        return -EINVAL;
                *ret_running = (unsigned)running->valuedouble;
                *ret_pending = (unsigned)pending->valuedouble;
                return 0;
        }
        return -EINVAL;
}

/* A task ARN, in the characters ARNs are made of: nothing that could split
 * the space-separated list the empty hook gets, or a line. */
static bool is_task_arn(const char *s) {
        static const char arn_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789:/-_.";
        return s && strncmp(s, "arn:", 4) == 0 && strstr(s, ":task/") && strlen(s) < 512 &&
               s[strspn(s, arn_chars)] == 0;
}

int follow_parse_task_arns(const cJSON *answer, char ***ret, size_t *ret_n) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(answer, "taskArns"), *item;
        char **v;
        size_t n = 0;

        if (!cJSON_IsArray(list))
                return -EINVAL;
        v = calloc(FOLLOW_TASKS_MAX + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach(item, list) {
                if (n == FOLLOW_TASKS_MAX)
                        break;
                if (!is_task_arn(cJSON_GetStringValue(item)))
                        continue;
                if (!(v[n] = strdup(item->valuestring))) {
                        for (size_t i = 0; i < n; i++)
                                free(v[i]);
                        free(v);
                        return -ENOMEM;
                }
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static const char *field(const cJSON *o, const char *name) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
        return s && strlen(s) < 512 ? s : NULL;
}

/* "arn:aws:ecs:...:task-definition/web:12" -> "web:12". */
static const char *definition_of(const char *arn) {
        const char *slash = arn ? strrchr(arn, '/') : NULL;
        return slash ? slash + 1 : arn ? arn : "";
}

static bool on_its_way_out(const char *last, const char *desired) {
        return streq_ptr(desired, "STOPPED") || streq_ptr(last, "DEACTIVATING") ||
               streq_ptr(last, "STOPPING") || streq_ptr(last, "DEPROVISIONING");
}

static int task_cmp(const void *a, const void *b) {
        const struct follow_task *x = a, *y = b;
        int c = strcmp(x->group, y->group);
        return c ? c : strcmp(x->arn, y->arn);
}

/* One task of DescribeTasks, or 0 when it is not one to count (stopped). */
static int parse_task(const cJSON *t, struct follow_task *ret) {
        const char *arn = field(t, "taskArn"), *last = field(t, "lastStatus"),
                   *def = definition_of(field(t, "taskDefinitionArn")), *group = field(t, "group");
        char family[512], safe_group[512 * 4], safe_def[512 * 4];

        if (!is_task_arn(arn))
                return -EINVAL;
        if (streq_ptr(last, "STOPPED") || streq_ptr(last, "DELETED"))
                return 0;
        /* The group and the definition go to the log, STATUS= and the empty
         * hook's environment: no control character from ECS gets there. */
        snprintf(family, sizeof family, "family:%.*s", (int)strcspn(def, ":"), def);
        escape_controls(safe_group, sizeof safe_group, group && *group ? group : family);
        escape_controls(safe_def, sizeof safe_def, def);
        *ret = (struct follow_task){.arn = strdup(arn),
                                    .group = strdup(safe_group),
                                    .definition = strdup(safe_def),
                                    .last_status = strdup(last ? last : "UNKNOWN"),
                                    .stopping = on_its_way_out(last, field(t, "desiredStatus"))};
        if (!ret->arn || !ret->group || !ret->definition || !ret->last_status) {
                free(ret->arn), free(ret->group), free(ret->definition), free(ret->last_status);
                *ret = (struct follow_task){};
                return -ENOMEM;
        }
        return 1;
}

int follow_parse_tasks(const cJSON *answer, struct follow_task **ret, size_t *ret_n) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(answer, "tasks"), *t;
        struct follow_task *v;
        size_t n = 0;
        int r;

        if (!cJSON_IsArray(list))
                return -EINVAL;
        v = calloc(FOLLOW_TASKS_MAX + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach(t, list) {
                if (n == FOLLOW_TASKS_MAX)
                        break;
                r = parse_task(t, &v[n]);
                if (r == -ENOMEM) {
                        follow_tasks_free(v, n);
                        return r;
                }
                n += r > 0;
        }
        qsort(v, n, sizeof *v, task_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
}

struct group_count {
        const char *group;
        size_t n;
};

static int group_cmp(const void *a, const void *b) {
        const struct group_count *x = a, *y = b;
        return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->group, y->group);
}

char *follow_summary(const struct follow_task *t, size_t n, char *buf, size_t size) {
        struct group_count g[FOLLOW_TASKS_MAX];
        size_t n_g = 0, used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < n && i < FOLLOW_TASKS_MAX; i++) {
                size_t j = 0;
                while (j < n_g && strcmp(g[j].group, t[i].group) != 0)
                        j++;
                if (j == n_g)
                        g[n_g++] = (struct group_count){t[i].group, 0};
                g[j].n++;
        }
        qsort(g, n_g, sizeof *g, group_cmp);
        for (size_t j = 0; j < n_g; j++) {
                char one[600];
                int len = snprintf(one, sizeof one, "%s%s x%zu", j ? ", " : "", g[j].group, g[j].n);
                if (len < 0 || used + (size_t)len + 4 >= size) {
                        snprintf(buf + used, size - used, "%s", used + 5 < size ? ", ..." : "");
                        break;
                }
                memcpy(buf + used, one, (size_t)len + 1);
                used += (size_t)len;
        }
        return buf;
}

uint64_t follow_interval_usec(time_t now, time_t deadline, bool stopping, unsigned left) {
        if (stopping || deadline - now <= FOLLOW_NEAR_SEC)
                return 1000000;
        return left <= 1 ? 1500000 : 2500000;
}

/* ---- the follower -------------------------------------------------------- */

static void schedule(struct follow *f, uint64_t usec);
static void look(struct follow *f);

static struct follow_view view(const struct follow *f) {
        return (struct follow_view){.counts_known = f->counts_known,
                                    .running = f->running,
                                    .pending = f->pending,
                                    .tasks = f->tasks,
                                    .n_tasks = f->n_tasks,
                                    .named = f->named,
                                    .naming_denied = f->naming_denied,
                                    .deadline = f->deadline,
                                    .calls = f->calls};
}

/* The report is the last thing done with f when it ends the follow. */
static void report(struct follow *f, enum follow_report r) {
        struct follow_view v = view(f);

        if (r == FOLLOW_EMPTY || r == FOLLOW_DEADLINE) {
                f->over = true;
                f->tick = sd_event_source_disable_unref(f->tick);
                f->clock = sd_event_source_disable_unref(f->clock);
        }
        f->cb(r, &v, f->userdata);
}

static bool any_stopping(const struct follow *f) {
        for (size_t i = 0; i < f->n_tasks; i++)
                if (f->tasks[i].stopping)
                        return true;
        return false;
}

/* Take a token of the bucket, or say how long until there is one; forced,
 * take it now, in debt if need be (the looks after wait for it). */
static uint64_t take_token(struct follow *f, bool forced) {
        uint64_t now = event_now_usec(f->event);

        f->tokens += (double)(now - f->tokens_at) / (double)REFILL_USEC;
        if (f->tokens > BUCKET)
                f->tokens = BUCKET;
        f->tokens_at = now;
        if (f->tokens >= 1 || forced) {
                f->tokens -= 1;
                return 0;
        }
        return (uint64_t)((1 - f->tokens) * (double)REFILL_USEC) + 1;
}

static void set_tasks(struct follow *f, struct follow_task *t, size_t n) {
        follow_tasks_free(f->tasks, f->n_tasks);
        f->tasks = t;
        f->n_tasks = n;
        f->named = true;
        f->names_at = event_now_usec(f->event);
}

/* Whether the names must be (re)read before what comes next. */
static bool names_stale(const struct follow *f) {
        if (f->naming_denied || f->running + f->pending == 0)
                return false;
        return !f->named || event_now_usec(f->event) - f->names_at > NAMES_MAX_AGE_USEC ||
               ((f->want_near || f->want_deadline) && f->names_at < f->want_at);
}

/* The reports that are due once counts and names are fresh enough. */
static void report_due(struct follow *f) {
        unsigned left = f->running + f->pending;

        if (!f->reported_first && !f->want_deadline) {
                f->reported_first = true;
                f->reported_left = left;
                report(f, FOLLOW_FIRST);
        } else if (f->reported_first && left != f->reported_left && !f->want_deadline) {
                f->reported_left = left;
                report(f, FOLLOW_CHANGED);
        }
        if (f->want_near && !f->want_deadline) {
                f->want_near = false;
                f->reported_near = true;
                f->reported_left = left;
                report(f, FOLLOW_NEAR_DEADLINE);
        }
}

/* After a look: the next call, or the reports that are due and the pace. */
static void settle(struct follow *f) {
        bool wanted = f->want_near || f->want_deadline;

        if (f->counts_known && f->running + f->pending == 0) {
                set_tasks(f, NULL, 0); /* whatever was named has gone */
                report(f, FOLLOW_EMPTY);
                return;
        }
        if (!f->counts_known || (wanted && f->counts_at < f->want_at)) {
                f->step = STEP_COUNTS;
                schedule(f, f->counts_known ? 0 : REFILL_USEC);
                return;
        }
        if (names_stale(f)) {
                /* A refresh by age or before a deadline report lists anew. */
                f->step = f->fewer && !wanted ? STEP_DESCRIBE : STEP_LIST;
                f->by_known = f->step == STEP_DESCRIBE;
                f->fewer = false;
                schedule(f, 0);
                return;
        }
        if (f->want_deadline) {
                report(f, FOLLOW_DEADLINE);
                return;
        }
        report_due(f);
        f->step = STEP_COUNTS;
        schedule(f, f->backoff ? f->backoff
                               : follow_interval_usec(time(NULL), f->deadline, any_stopping(f),
                                                      f->running + f->pending));
}

/* A failed call: throttling slows the pace; anything else is said once
 * and the follow goes on at its pace (the counts may come back). */
static void failed(struct follow *f, const struct ecs_result *res) {
        if (res->kind == ECS_ERR_THROTTLED) {
                f->backoff = f->backoff ? f->backoff * 2 : THROTTLED_FIRST_USEC;
                if (f->backoff > THROTTLED_MAX_USEC)
                        f->backoff = THROTTLED_MAX_USEC;
                log_debug("Following %s: throttled, next look in %llu s", f->arn,
                          (unsigned long long)(f->backoff / 1000000));
        } else if (res->kind == ECS_ERR_ACCESS && f->step != STEP_COUNTS) {
                log_warn("%s; following the drain by counts only", res->message);
                f->naming_denied = true;
                f->named = false;
        } else if (!f->loud) {
                log_warn("Following the drain of %s: %s; going on", f->arn, res->message);
                f->loud = true;
        }
        if (f->want_deadline) {
                report(f, FOLLOW_DEADLINE); /* with what is known (maybe not even counts) */
                return;
        }
        f->step = STEP_COUNTS;
        schedule(f, f->backoff ? f->backoff
                               : follow_interval_usec(time(NULL), f->deadline, false,
                                                      f->running + f->pending));
}

static void on_counts(struct follow *f, const cJSON *answer) {
        unsigned running, pending;

        if (follow_parse_counts(answer, f->arn, &running, &pending) < 0) {
                log_warn("Following the drain of %s: DescribeContainerInstances answered without "
                         "its task counts",
                         f->arn);
                return;
        }
        if (f->counts_known && (running != f->running || pending != f->pending)) {
                f->named = false; /* the names are of the old counts */
                /* Fewer: no task came (none is placed on a DRAINING host), so
                 * the ones known, described again, are what is left. */
                f->fewer = running + pending < f->running + f->pending && f->n_arns > 0;
        }
        f->counts_known = true;
        f->counts_at = event_now_usec(f->event);
        f->running = running;
        f->pending = pending;
}

static void on_list(struct follow *f, const cJSON *answer) {
        free_arns(f);
        if (follow_parse_task_arns(answer, &f->arns, &f->n_arns) < 0)
                log_warn("Following the drain of %s: ListTasks answered no taskArns", f->arn);
}

/* The tasks known are now those described not STOPPED: the next
 * DescribeTasks after fewer counts asks only for them. */
static int keep_arns(struct follow *f) {
        char **v = calloc(f->n_tasks + 1, sizeof *v);

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < f->n_tasks; i++)
                if (!(v[i] = strdup(f->tasks[i].arn))) {
                        for (size_t j = 0; j < i; j++)
                                free(v[j]);
                        free(v);
                        return -ENOMEM;
                }
        free_arns(f);
        f->arns = v;
        f->n_arns = f->n_tasks;
        return 0;
}

static void on_describe(struct follow *f, const cJSON *answer) {
        struct follow_task *t = NULL;
        size_t n = 0;

        if (follow_parse_tasks(answer, &t, &n) < 0) {
                log_warn("Following the drain of %s: DescribeTasks answered no tasks", f->arn);
                return;
        }
        set_tasks(f, t, n);
        if (f->by_known && n < FOLLOW_TASKS_MAX && n != (size_t)f->running + f->pending)
                f->named = false; /* not the tasks the counts say: list them anew */
        f->by_known = false;
        if (keep_arns(f) < 0)
                f->named = false;
}

static void on_answer(const struct ecs_result *res, void *userdata) {
        struct follow *f = userdata;

        f->call = NULL;
        if (res->error) {
                failed(f, res);
                return;
        }
        f->backoff = 0;
        switch (f->step) {
        case STEP_COUNTS:
                on_counts(f, res->response);
                break;
        case STEP_LIST:
                f->by_known = false;
                on_list(f, res->response);
                if (f->n_arns > 0) {
                        f->step = STEP_DESCRIBE;
                        schedule(f, 0);
                        return;
                }
                set_tasks(f, NULL, 0); /* none listed: the counts say the rest */
                break;
        case STEP_DESCRIBE:
                on_describe(f, res->response);
                break;
        }
        settle(f);
}

static cJSON *request(const struct follow *f) {
        cJSON *req = cJSON_CreateObject();

        cJSON_AddStringToObject(req, "cluster", f->cluster);
        switch (f->step) {
        case STEP_COUNTS:
                cJSON_AddItemToObject(req, "containerInstances",
                                      cJSON_CreateStringArray((const char *const *)&f->arn, 1));
                break;
        case STEP_LIST:
                cJSON_AddStringToObject(req, "containerInstance", f->arn);
                cJSON_AddNumberToObject(req, "maxResults", FOLLOW_TASKS_MAX);
                break;
        case STEP_DESCRIBE:
                cJSON_AddItemToObject(
                        req, "tasks",
                        cJSON_CreateStringArray((const char *const *)f->arns, (int)f->n_arns));
                break;
        }
        return req;
}

static void look(struct follow *f) {
        static const char *const ops[] = {
                [STEP_COUNTS] = "DescribeContainerInstances",
                [STEP_LIST] = "ListTasks",
                [STEP_DESCRIBE] = "DescribeTasks",
        };
        /* The two reports that matter most are never held by the bucket. */
        uint64_t wait = take_token(f, f->want_deadline || f->want_near);
        cJSON *req;
        int r;

        if (wait) {
                schedule(f, wait);
                return;
        }
        req = request(f);
        f->calls++;
        r = req ? ecs_call(f->ecs, ops[f->step], req, on_answer, f, &f->call) : -ENOMEM;
        cJSON_Delete(req);
        if (r < 0) {
                f->call = NULL;
                log_error_errno(r, "Following the drain of %s: cannot call ECS: %m", f->arn);
                f->step = STEP_COUNTS;
                schedule(f, REFILL_USEC);
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        struct follow *f = userdata;

        (void)s, (void)usec;
        if (!f->call)
                look(f);
        return 0;
}

static void schedule(struct follow *f, uint64_t usec) {
        int r = sd_event_source_set_time(f->tick, event_now_usec(f->event) + usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(f->tick, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Following the drain of %s: cannot schedule a look: %m", f->arn);
}

/* The real-time moments: FOLLOW_NEAR_SEC before the deadline, and the
 * deadline: each asks for fresh counts and names, then its report. */
static void arm_clock(struct follow *f);

static int on_clock(sd_event_source *s, uint64_t usec, void *userdata) {
        struct follow *f = userdata;
        time_t now = time(NULL);

        (void)s, (void)usec;
        if (now >= f->deadline)
                f->want_deadline = true;
        else if (!f->reported_near && now >= f->deadline - FOLLOW_NEAR_SEC)
                f->want_near = true;
        f->want_at = event_now_usec(f->event);
        arm_clock(f);
        if (!f->call) {
                f->step = STEP_COUNTS;
                schedule(f, 0);
        }
        return 0;
}

static void arm_clock(struct follow *f) {
        time_t at = f->want_deadline                             ? 0
                    : f->reported_near || f->want_near           ? f->deadline
                    : f->deadline - FOLLOW_NEAR_SEC > time(NULL) ? f->deadline - FOLLOW_NEAR_SEC
                                                                 : f->deadline;
        int r;

        if (!at) {
                (void)sd_event_source_set_enabled(f->clock, SD_EVENT_OFF);
                return;
        }
        r = sd_event_source_set_time(f->clock, (uint64_t)at * 1000000);
        if (r >= 0)
                r = sd_event_source_set_enabled(f->clock, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Following the drain of %s: cannot set the deadline timer: %m",
                                f->arn);
}

void follow_set_deadline(struct follow *f, time_t deadline) {
        if (!f || f->over || deadline >= f->deadline)
                return;
        f->deadline = deadline;
        arm_clock(f);
}

int follow_new(struct follow **ret, sd_event *event, struct ecs *ecs, const char *cluster,
               const char *arn, time_t deadline, follow_callback_t cb, void *userdata) {
        _cleanup_(follow_freep) struct follow *f = calloc(1, sizeof *f);
        int r;

        if (!f)
                return -ENOMEM;
        *f = (struct follow){.event = sd_event_ref(event),
                             .ecs = ecs,
                             .cluster = strdup(cluster),
                             .arn = strdup(arn),
                             .deadline = deadline,
                             .cb = cb,
                             .userdata = userdata,
                             .tokens = BUCKET,
                             .tokens_at = event_now_usec(event),
                             .want_deadline = time(NULL) >= deadline,
                             .want_at = event_now_usec(event)};
        if (!f->cluster || !f->arn)
                return -ENOMEM;
        r = sd_event_add_time(event, &f->tick, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_USEC, on_tick, f);
        if (r >= 0)
                r = sd_event_add_time(event, &f->clock, CLOCK_REALTIME, 0, TIMER_ACCURACY_USEC,
                                      on_clock, f);
        if (r < 0)
                return r;
        arm_clock(f);
        *ret = TAKE_PTR(f);
        return 0;
}

struct follow *follow_free(struct follow *f) {
        if (!f)
                return NULL;
        ecs_call_cancel(f->call);
        sd_event_source_disable_unref(f->tick);
        sd_event_source_disable_unref(f->clock);
        free_arns(f);
        follow_tasks_free(f->tasks, f->n_tasks);
        free(f->cluster);
        free(f->arn);
        sd_event_unref(f->event);
        free(f);
        return NULL;
}
