/* asg-lifecycle.h: the host's side of an Auto Scaling lifecycle hook
 * (ECS_HOSTD_ASG_LIFECYCLE_HOOK): release the lifecycle action that holds
 * this instance (CompleteLifecycleAction CONTINUE) or keep it waiting
 * (RecordLifecycleActionHeartbeat), from the daemon's event loop, never
 * blocking.  A request finds the group (ECS_HOSTD_ASG_NAME, else the
 * instance's aws:autoscaling:groupName tag in IMDS, read once and kept),
 * sends one attempt at a time, retries what may still pass until its
 * budget is spent, and ends in exactly one outcome, logged here once. */
#pragma once

#include <stdint.h>

#include "autoscaling.h"
#include "aws-clients.h"
#include "config.h"

/* Throttling, 5xx, a network error or a garbled answer: 0.5 s, doubling to 8 s. */
#define ASG_LIFECYCLE_RETRY_FIRST_USEC 500000ULL
#define ASG_LIFECYCLE_RETRY_CAP_USEC 8000000ULL
/* AccessDenied or an authentication error: every 10 s, as the watcher retries
 * its drain (a policy can be fixed, a role's keys rotate, meanwhile). */
#define ASG_LIFECYCLE_RETRY_SLOW_USEC 10000000ULL
/* A request's budget when the caller gives 0: 5 minutes. */
#define ASG_LIFECYCLE_DEFAULT_BUDGET_USEC 300000000ULL
/* Each attempt's own HTTP timeout. */
#define ASG_LIFECYCLE_ATTEMPT_TIMEOUT_MS 5000

struct asg_lifecycle;
struct asg_lifecycle_request;

enum asg_lifecycle_action {
        ASG_LIFECYCLE_COMPLETE,  /* CompleteLifecycleAction, LifecycleActionResult CONTINUE */
        ASG_LIFECYCLE_HEARTBEAT, /* RecordLifecycleActionHeartbeat */
};

/* How a request ended.  Only DENIED and GAVE_UP were retried (until the
 * budget was spent); the others are final at once. */
enum asg_lifecycle_outcome {
        ASG_LIFECYCLE_DONE,      /* Auto Scaling accepted it */
        ASG_LIFECYCLE_NO_ACTION, /* "No active Lifecycle Action found": completed, timed
                                  * out (Auto Scaling went on without us) or never held */
        ASG_LIFECYCLE_REFUSED,   /* another ValidationError or sender fault */
        ASG_LIFECYCLE_NO_GROUP,  /* no ECS_HOSTD_ASG_NAME and no group tag in IMDS */
        ASG_LIFECYCLE_DENIED,    /* AccessDenied or authentication, to the end of the budget */
        ASG_LIFECYCLE_GAVE_UP,   /* throttling, 5xx, network, to the end of the budget */
        _ASG_LIFECYCLE_OUTCOME_MAX,
};

struct asg_lifecycle_result {
        enum asg_lifecycle_action action;
        enum asg_lifecycle_outcome outcome;
        enum autoscaling_error_kind kind; /* of the last attempt; AUTOSCALING_OK when done */
        const char *code;                 /* the last error answer's Code, or NULL */
        const char *message;              /* one line, as logged; NULL when done.  No secrets. */
        const char *group;                /* the group named, or NULL when it could not be known */
        unsigned attempts; /* requests sent (an auth refresh inside one counts once) */
};

/* Strings of the result are borrowed: valid during the callback. */
typedef void (*asg_lifecycle_callback_t)(const struct asg_lifecycle_result *r, void *userdata);

/* aws and cfg are borrowed and must outlive the object.  -ENOPKG when
 * aws has no Auto Scaling client (ECS_HOSTD_ASG_LIFECYCLE_HOOK unset, or
 * aws_clients_start() has not succeeded yet). */
int asg_lifecycle_new(struct asg_lifecycle **ret, struct aws_clients *aws,
                      const struct config *cfg);
/* Cancels every request still running; their callbacks do not run. */
struct asg_lifecycle *asg_lifecycle_free(struct asg_lifecycle *l);

/* Start a request for this instance (the identity document's instance id)
 * and hook.  token: the LifecycleActionToken when the caller knows it (IMDS
 * does not give it; the InstanceId is enough), or NULL.  budget_usec: how
 * long to keep retrying (0: ASG_LIFECYCLE_DEFAULT_BUDGET_USEC).  The
 * callback runs exactly once, from the event loop, unless the request is
 * cancelled; *ret (optional) is written before it can run and is invalid
 * after it.  -EINVAL for an action or token Auto Scaling would refuse,
 * -ENXIO when the instance id is unknown (IMDS gave no identity). */
int asg_lifecycle_start(struct asg_lifecycle *l, enum asg_lifecycle_action action,
                        const char *token, uint64_t budget_usec, asg_lifecycle_callback_t cb,
                        void *userdata, struct asg_lifecycle_request **ret);
void asg_lifecycle_request_cancel(struct asg_lifecycle_request *q);

/* ECS_HOSTD_ASG_LIFECYCLE_HOOK; the group once known (NULL before). */
const char *asg_lifecycle_hook(const struct asg_lifecycle *l);
const char *asg_lifecycle_group(const struct asg_lifecycle *l);

/* "complete" / "heartbeat"; "done", "no_action", "refused", "no_group",
 * "denied", "gave_up" (for logs, metrics and tests). */
const char *asg_lifecycle_action_name(enum asg_lifecycle_action a);
const char *asg_lifecycle_outcome_name(enum asg_lifecycle_outcome o);
