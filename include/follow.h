/* follow.h: following a DRAINING container instance until its tasks are
 * gone or its deadline passes.  DescribeContainerInstances gives the counts
 * (runningTasksCount, pendingTasksCount: "empty" is both at 0); ListTasks
 * and DescribeTasks on the instance name what is left (group, task
 * definition, status) when the counts change (DescribeTasks alone on the
 * tasks known when they fall: no task is placed on a DRAINING host, and a
 * count that does not match lists them anew), at least every 30 s, and
 * fresh before the two reports that matter most: 30 s before the deadline
 * and at the deadline.  A look every 2.5 s, 1.5 s when one task is left,
 * every second in the last 30 s and while a task is on its way out, but
 * never beyond a bucket of 6 calls refilled one every 2.5 s (at most 57
 * calls in a two-minute follow, the report at the deadline included); a
 * throttled call slows it further.  The follower owns no policy: it reports
 * to its callback, and the watcher tells the story. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "ecs.h"
#include "macro.h"

#define FOLLOW_TASKS_MAX 100 /* tasks named (one ListTasks page, one DescribeTasks) */
#define FOLLOW_NEAR_SEC 30   /* the report before the deadline */

struct follow_task {
        char *arn;
        char *group;      /* "service:web", "family:web"; the family when ECS gives none */
        char *definition; /* "web:12" (family:revision) */
        char *last_status;
        bool stopping; /* desired STOPPED, or DEACTIVATING/STOPPING/DEPROVISIONING */
};
void follow_tasks_free(struct follow_task *t, size_t n);

/* What is known of the instance now. */
struct follow_view {
        bool counts_known;
        unsigned running, pending; /* ECS's counts */
        const struct follow_task *tasks;
        size_t n_tasks;     /* named tasks not STOPPED (at most FOLLOW_TASKS_MAX) */
        bool named;         /* tasks reflects the latest counts */
        bool naming_denied; /* ListTasks or DescribeTasks is not allowed: counts only */
        time_t deadline;
        uint64_t calls; /* ECS calls made */
};

enum follow_report {
        FOLLOW_FIRST,         /* the first counts (and names) after the drain */
        FOLLOW_CHANGED,       /* fewer (or other) tasks left */
        FOLLOW_NEAR_DEADLINE, /* FOLLOW_NEAR_SEC before the deadline, names fresh */
        FOLLOW_EMPTY,         /* nothing left: the follow is over */
        FOLLOW_DEADLINE,      /* the deadline passed with tasks left: the follow is over */
};

typedef void (*follow_callback_t)(enum follow_report report, const struct follow_view *v,
                                  void *userdata);

struct follow;

/* Follow the container instance arn of cluster until deadline (a Unix
 * time, maybe past already: then one look, and EMPTY or DEADLINE).  ecs is
 * borrowed and must outlive the follower (one attempt per call: the
 * follower paces and retries itself).  The callback may free the follower
 * only on EMPTY and DEADLINE. */
_must_check_ int follow_new(struct follow **ret, sd_event *event, struct ecs *ecs,
                            const char *cluster, const char *arn, time_t deadline,
                            follow_callback_t cb, void *userdata);
struct follow *follow_free(struct follow *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct follow *, follow_free)

/* An earlier deadline (a later notice announcing less time); a later one is ignored. */
void follow_set_deadline(struct follow *f, time_t deadline);

/* ---- pure parts, tested on strings ---- */

/* The counts of arn in a DescribeContainerInstances answer: 0, or -EINVAL
 * when the answer does not hold them (not there, or not whole numbers). */
int follow_parse_counts(const cJSON *answer, const char *arn, unsigned *ret_running,
                        unsigned *ret_pending);
/* The task ARNs of a ListTasks answer (at most FOLLOW_TASKS_MAX, each a
 * task ARN); *ret NULL-terminated, malloc'd. */
int follow_parse_task_arns(const cJSON *answer, char ***ret, size_t *ret_n);
/* The tasks of a DescribeTasks answer that are not STOPPED, sorted by group
 * then ARN; -EINVAL when it is not such an answer. */
int follow_parse_tasks(const cJSON *answer, struct follow_task **ret, size_t *ret_n);
/* "service:web x4, service:api x2": the groups by count (most first), then
 * name; cut with "..." to fit size.  Returns buf. */
char *follow_summary(const struct follow_task *t, size_t n, char *buf, size_t size);
/* How long to wait before the next look: 1 s while a task is on its way
 * out or the deadline is within FOLLOW_NEAR_SEC; 1.5 s when one task is
 * left (the next change is "empty"); else 2.5 s. */
uint64_t follow_interval_usec(time_t now, time_t deadline, bool stopping, unsigned left);
