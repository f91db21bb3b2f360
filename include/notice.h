/* notice.h: the IMDS interruption signals, parsed.  Pure functions: the
 * watcher fetches the bodies, these say what they mean.  Garbage is an error
 * with a message naming the path's field and what was wrong (never the whole
 * body), never a crash. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define NOTICE_SPOT_ACTION_PATH "/latest/meta-data/spot/instance-action"
#define NOTICE_TERMINATION_TIME_PATH "/latest/meta-data/spot/termination-time"
#define NOTICE_REBALANCE_PATH "/latest/meta-data/events/recommendations/rebalance"
#define NOTICE_ASG_PATH "/latest/meta-data/autoscaling/target-lifecycle-state"
#define NOTICE_MAINTENANCE_PATH "/latest/meta-data/events/maintenance/scheduled"

enum notice_kind {
        NOTICE_SPOT,
        NOTICE_REBALANCE,
        NOTICE_ASG,
        NOTICE_MAINTENANCE,
        _NOTICE_KIND_MAX,
};

/* Lowercase name used in logs, hook environment and DRAIN_ON: "spot",
 * "rebalance", "asg", "maintenance". */
const char *notice_kind_name(enum notice_kind k);

struct notice {
        enum notice_kind kind;
        char *action;      /* spot: terminate|stop|hibernate; asg: the state
                              ("Terminated"); maintenance: the event code;
                              rebalance: "rebalance" */
        time_t time;       /* spot: the action time; rebalance: noticeTime;
                              maintenance: NotBefore; asg: 0 */
        char *id;          /* identity for de-duplication: the same notice seen
                              again has the same id; another time, action or event
                              gives another id (e.g. "spot/terminate/2026-11-22T12:02:00Z",
                              "maintenance/instance-event-0d59937288b749b32") */
        char *event_id;    /* maintenance: EventId; else NULL */
        char *description; /* maintenance: Description; else NULL */
        char *warning;     /* set when the input was odd but usable (e.g. an
                              unknown Spot action taken as terminate) */
};
void notice_done(struct notice *n);
void notice_list_free(struct notice *v, size_t n);

/* spot/instance-action: {"action": "terminate", "time": "2017-09-18T08:22:00Z"}.
 * An unknown action is taken as terminate, with a warning.  -EINVAL with
 * *error (malloc'd) on garbage. */
int notice_parse_spot_action(const char *body, size_t len, struct notice *ret, char **error);

/* spot/termination-time (legacy): a plain ISO 8601 time.  The notice uses
 * action "terminate".  Pure parsing: the caller decides whether a past time
 * counts. */
int notice_parse_termination_time(const char *body, size_t len, struct notice *ret, char **error);

/* events/recommendations/rebalance: {"noticeTime": "2020-10-27T08:22:00Z"}. */
int notice_parse_rebalance(const char *body, size_t len, struct notice *ret, char **error);

/* autoscaling/target-lifecycle-state: one of InService, Terminated, Standby,
 * Detached, Pending, Warmed:Pending, Warmed:Running, Warmed:Stopped,
 * Warmed:Hibernated, Warmed:Terminated (optional trailing newline).  Anything
 * else is -EINVAL with *error.  *ret is a copy of the state. */
int notice_parse_asg_state(const char *body, size_t len, char **ret, char **error);

/* events/maintenance/scheduled: a JSON array of {"Code", "Description",
 * "State", "EventId", "NotBefore", "NotAfter", "NotBeforeDeadline"}, dates
 * like "21 Jan 2019 09:00:43 GMT".  Only events whose State is "active" are
 * returned (canceled/completed ones are not notices).  An empty array is 0
 * notices (*ret = NULL), and so is an empty body; a lone object is taken as a
 * list of one.  Events are numbered from 1 in messages ("event 2: ...").  The
 * id is "maintenance/<EventId>": AWS keeps the EventId when an event is
 * rescheduled, and the new NotBefore arrives in ->time. */
int notice_parse_maintenance(const char *body, size_t len, struct notice **ret, size_t *ret_n,
                             char **error);

/* "21 Jan 2019 09:00:43 GMT" (IMDS's maintenance dates; English month names
 * whatever the locale). */
int notice_parse_maintenance_time(const char *s, time_t *ret);
/* "2017-09-18T08:22:00Z" (with optional fractional seconds, "+00:00" or any
 * other offset; surrounding whitespace ignored; years 1970..9999). */
int notice_parse_iso_time(const char *s, time_t *ret);

/* "2017-09-18T08:22:00Z" into buf (at least 21 bytes).  -ERANGE outside
 * 1970..9999 or when buf is too small. */
int notice_format_iso_time(time_t t, char *buf, size_t size);

/* The ASG notice for a state notice_parse_asg_state() returned: kind
 * NOTICE_ASG, action the state, time 0, id "asg/<state>". */
int notice_from_asg_state(const char *state, struct notice *ret);

/* A deep copy (the watcher keeps the notice it is handling across polls). */
int notice_copy(const struct notice *src, struct notice *ret);
