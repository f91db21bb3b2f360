/* asg-lifecycle.c: CompleteLifecycleAction and RecordLifecycleActionHeartbeat
 * for this instance, as requests on the event loop with their own retry
 * (the client makes one attempt per call, so the pace is ours, as the
 * watcher's drain).  Every request ends in one callback and one log line
 * that says what happened; an access problem is said loudly once per
 * action until a call of it succeeds again, then only at debug level. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asg-lifecycle.h"
#include "event-util.h"
#include "log.h"
#include "macro.h"

#define TOKEN_LEN 36 /* a LifecycleActionToken is a UUID */

struct asg_lifecycle {
        struct aws_clients *aws; /* borrowed */
        struct autoscaling *as;  /* ours: one attempt per call */
        char *hook, *group;      /* group: ECS_HOSTD_ASG_NAME or IMDS's tag, once known */
        bool loud[2];            /* an access problem was logged loudly, per action */
        struct asg_lifecycle_request *requests;
};

struct asg_lifecycle_request {
        struct asg_lifecycle *l;
        enum asg_lifecycle_action action;
        char *token;       /* or NULL */
        uint64_t deadline; /* CLOCK_MONOTONIC usec: no new attempt after it */
        unsigned attempts, retryable_failures;
        struct autoscaling_call *call;
        struct imds_group_request *group_req;
        sd_event_source *timer;
        asg_lifecycle_callback_t cb;
        void *userdata;
        struct asg_lifecycle_request *next;
};

static const char *const action_names[] = {
        [ASG_LIFECYCLE_COMPLETE] = "complete",
        [ASG_LIFECYCLE_HEARTBEAT] = "heartbeat",
};
static const char *const outcome_names[_ASG_LIFECYCLE_OUTCOME_MAX] = {
        [ASG_LIFECYCLE_DONE] = "done",       [ASG_LIFECYCLE_NO_ACTION] = "no_action",
        [ASG_LIFECYCLE_REFUSED] = "refused", [ASG_LIFECYCLE_NO_GROUP] = "no_group",
        [ASG_LIFECYCLE_DENIED] = "denied",   [ASG_LIFECYCLE_GAVE_UP] = "gave_up",
};

const char *asg_lifecycle_action_name(enum asg_lifecycle_action a) {
        return (unsigned)a < ELEMENTSOF(action_names) ? action_names[a] : NULL;
}

const char *asg_lifecycle_outcome_name(enum asg_lifecycle_outcome o) {
        return (unsigned)o < _ASG_LIFECYCLE_OUTCOME_MAX ? outcome_names[o] : NULL;
}

static const char *api_name(enum asg_lifecycle_action a) {
        return a == ASG_LIFECYCLE_COMPLETE ? "CompleteLifecycleAction"
                                           : "RecordLifecycleActionHeartbeat";
}

const char *asg_lifecycle_hook(const struct asg_lifecycle *l) {
        return l ? l->hook : NULL;
}

const char *asg_lifecycle_group(const struct asg_lifecycle *l) {
        return l ? l->group : NULL;
}

static const char *instance_id(const struct asg_lifecycle *l) {
        return l->aws->have_identity ? l->aws->identity.instance_id : NULL;
}

static void request_free(struct asg_lifecycle_request *q) {
        struct asg_lifecycle_request **p;

        for (p = &q->l->requests; *p && *p != q; p = &(*p)->next)
                ;
        if (*p)
                *p = q->next;
        autoscaling_call_cancel(q->call);
        imds_group_request_cancel(q->group_req);
        sd_event_source_disable_unref(q->timer);
        free(q->token);
        free(q);
}

void asg_lifecycle_request_cancel(struct asg_lifecycle_request *q) {
        if (q)
                request_free(q);
}

/* The end of a request: one log line at the level the outcome deserves,
 * then the callback, then the request is gone. */
static void finish(struct asg_lifecycle_request *q, enum asg_lifecycle_outcome outcome,
                   const struct autoscaling_result *res, const char *why) {
        struct asg_lifecycle *l = q->l;
        struct asg_lifecycle_result r = {
                .action = q->action,
                .outcome = outcome,
                .kind = res ? res->kind : AUTOSCALING_OK,
                .code = res ? res->code : NULL,
                .group = l->group,
                .attempts = q->attempts,
        };
        char line[900];

        if (outcome == ASG_LIFECYCLE_DONE) {
                l->loud[q->action] = false;
                if (q->action == ASG_LIFECYCLE_COMPLETE)
                        log_notice("Auto Scaling lifecycle hook %s released for %s in group %s: "
                                   "CompleteLifecycleAction CONTINUE accepted after %u attempt%s",
                                   l->hook, instance_id(l), l->group, q->attempts,
                                   q->attempts == 1 ? "" : "s");
                else
                        log_info("Auto Scaling lifecycle hook %s: heartbeat recorded for %s in "
                                 "group %s",
                                 l->hook, instance_id(l), l->group);
        } else {
                snprintf(line, sizeof line, "Auto Scaling lifecycle hook %s (%s): %s %s: %s",
                         l->hook, l->group ? l->group : "group unknown",
                         asg_lifecycle_action_name(q->action),
                         outcome == ASG_LIFECYCLE_NO_ACTION  ? "found no lifecycle action waiting"
                         : outcome == ASG_LIFECYCLE_REFUSED  ? "refused"
                         : outcome == ASG_LIFECYCLE_NO_GROUP ? "cannot name the group"
                                                             : "gave up",
                         why);
                r.message = line;
                if (outcome == ASG_LIFECYCLE_DENIED && l->loud[q->action])
                        /* The reason was said loudly already: the end only. */
                        log_error("Auto Scaling lifecycle hook %s: %s %s after %u attempts, "
                                  "still denied",
                                  l->hook, asg_lifecycle_action_name(q->action), "gave up",
                                  q->attempts);
                else if (outcome == ASG_LIFECYCLE_NO_ACTION)
                        log_warn("%s (completed already, timed out, or never held); not retried",
                                 line);
                else
                        log_error("%s", line);
        }
        q->cb(&r, q->userdata);
        request_free(q);
}

static void attempt(struct asg_lifecycle_request *q);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct asg_lifecycle_request *q = userdata;
        (void)s, (void)usec;
        q->timer = sd_event_source_disable_unref(q->timer);
        attempt(q);
        return 0;
}

/* Try again after delay if the budget allows; otherwise end with outcome. */
static void retry_or_finish(struct asg_lifecycle_request *q, uint64_t delay,
                            enum asg_lifecycle_outcome outcome,
                            const struct autoscaling_result *res, const char *why) {
        sd_event *event = q->l->aws->event;

        if (event_now_usec(event) + delay <= q->deadline &&
            sd_event_add_time_relative(event, &q->timer, CLOCK_MONOTONIC, delay,
                                       TIMER_ACCURACY_USEC, on_timer, q) >= 0)
                return;
        finish(q, outcome, res, why);
}

/* A failure that may pass: say it once loudly per action (access) or at
 * each first retry (the rest), then retry at the pace it asks for. */
static void failed(struct asg_lifecycle_request *q, const struct autoscaling_result *res) {
        struct asg_lifecycle *l = q->l;
        const char *why = res->message ? res->message : "failed";
        uint64_t d;

        if (res->kind == AUTOSCALING_ERR_ACCESS || res->kind == AUTOSCALING_ERR_AUTH ||
            res->kind == AUTOSCALING_ERR_CREDENTIALS) {
                if (!l->loud[q->action])
                        log_crit("Cannot send Auto Scaling %s for lifecycle hook %s: %s; retrying "
                                 "every %llu s",
                                 api_name(q->action), l->hook, why,
                                 (unsigned long long)(ASG_LIFECYCLE_RETRY_SLOW_USEC / 1000000));
                else
                        log_debug("%s; retrying", why);
                l->loud[q->action] = true;
                retry_or_finish(q, ASG_LIFECYCLE_RETRY_SLOW_USEC, ASG_LIFECYCLE_DENIED, res, why);
                return;
        }
        q->retryable_failures++;
        d = ASG_LIFECYCLE_RETRY_FIRST_USEC
            << (q->retryable_failures > 5 ? 5 : q->retryable_failures - 1);
        if (d > ASG_LIFECYCLE_RETRY_CAP_USEC)
                d = ASG_LIFECYCLE_RETRY_CAP_USEC;
        if (q->retryable_failures == 1)
                log_warn("%s; retrying", why);
        else
                log_debug("%s; retrying", why);
        retry_or_finish(q, d, ASG_LIFECYCLE_GAVE_UP, res, why);
}

static void on_answer(const struct autoscaling_result *res, void *userdata) {
        struct asg_lifecycle_request *q = userdata;

        q->call = NULL;
        if (!res->error)
                finish(q, ASG_LIFECYCLE_DONE, res, NULL);
        else if (autoscaling_no_active_lifecycle_action(res))
                finish(q, ASG_LIFECYCLE_NO_ACTION, res, res->message);
        else if (res->kind == AUTOSCALING_ERR_CLIENT)
                finish(q, ASG_LIFECYCLE_REFUSED, res, res->message);
        else
                failed(q, res);
}

static void on_group(int error, const char *group, const char *error_text, void *userdata) {
        struct asg_lifecycle_request *q = userdata;
        struct autoscaling_result res = {.kind = AUTOSCALING_ERR_TRANSPORT, .error = error};
        char why[600];

        q->group_req = NULL;
        if (error == 0) {
                if (!q->l->group && !(q->l->group = strdup(group))) {
                        finish(q, ASG_LIFECYCLE_GAVE_UP, NULL, "out of memory");
                        return;
                }
                attempt(q);
                return;
        }
        snprintf(why, sizeof why, "the group from IMDS: %s", error_text ? error_text : "failed");
        if (error == -ENODATA || error == -ENOENT || error == -EINVAL) {
                finish(q, ASG_LIFECYCLE_NO_GROUP, NULL, why);
                return;
        }
        res.message = why;
        failed(q, &res); /* IMDS may answer next time */
}

static void attempt(struct asg_lifecycle_request *q) {
        struct asg_lifecycle *l = q->l;
        int r;

        if (!l->group) {
                r = imds_get_autoscaling_group(l->aws->imds, on_group, q, &q->group_req);
                if (r < 0)
                        finish(q, ASG_LIFECYCLE_NO_GROUP, NULL, "cannot read IMDS");
                return;
        }
        q->attempts++;
        if (q->action == ASG_LIFECYCLE_COMPLETE)
                r = autoscaling_complete_lifecycle_action(l->as, l->group, l->hook, instance_id(l),
                                                          "CONTINUE", q->token, on_answer, q,
                                                          &q->call);
        else
                r = autoscaling_record_lifecycle_action_heartbeat(
                        l->as, l->group, l->hook, instance_id(l), q->token, on_answer, q, &q->call);
        if (r < 0) {
                q->call = NULL;
                finish(q, ASG_LIFECYCLE_REFUSED, NULL, strerror(-r));
        }
}

int asg_lifecycle_start(struct asg_lifecycle *l, enum asg_lifecycle_action action,
                        const char *token, uint64_t budget_usec, asg_lifecycle_callback_t cb,
                        void *userdata, struct asg_lifecycle_request **ret) {
        struct asg_lifecycle_request *q;

        if (!l || !cb || !asg_lifecycle_action_name(action) ||
            (token && strlen(token) != TOKEN_LEN))
                return -EINVAL;
        if (!instance_id(l))
                return -ENXIO;
        q = calloc(1, sizeof *q);
        if (!q || (token && !(q->token = strdup(token)))) {
                free(q);
                return -ENOMEM;
        }
        q->l = l;
        q->action = action;
        q->cb = cb;
        q->userdata = userdata;
        q->deadline = event_now_usec(l->aws->event) +
                      (budget_usec ? budget_usec : ASG_LIFECYCLE_DEFAULT_BUDGET_USEC);
        q->next = l->requests;
        l->requests = q;
        if (ret)
                *ret = q;
        /* From the loop, never from inside the caller's call. */
        if (sd_event_add_time_relative(l->aws->event, &q->timer, CLOCK_MONOTONIC, 0,
                                       TIMER_ACCURACY_USEC, on_timer, q) < 0) {
                request_free(q);
                return -ENOMEM;
        }
        return 0;
}

int asg_lifecycle_new(struct asg_lifecycle **ret, struct aws_clients *aws,
                      const struct config *cfg) {
        struct asg_lifecycle *l;
        const char *group = config_string(cfg, KEY_ECS_HOSTD_ASG_NAME);
        int r;

        if (!ret || !aws || !cfg)
                return -EINVAL;
        if (!aws->autoscaling || !config_string(cfg, KEY_ECS_HOSTD_ASG_LIFECYCLE_HOOK))
                return -ENOPKG;
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->aws = aws;
        if (!(l->hook = strdup(config_string(cfg, KEY_ECS_HOSTD_ASG_LIFECYCLE_HOOK))) ||
            (group && *group && !(l->group = strdup(group)))) {
                asg_lifecycle_free(l);
                return -ENOMEM;
        }
        r = autoscaling_new(
                &l->as, aws->event, aws->http, aws->creds,
                &(struct autoscaling_config){.region = aws->region,
                                             .endpoint = autoscaling_endpoint(aws->autoscaling),
                                             .max_attempts = 1,
                                             .timeout_ms = ASG_LIFECYCLE_ATTEMPT_TIMEOUT_MS});
        if (r < 0) {
                asg_lifecycle_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

struct asg_lifecycle *asg_lifecycle_free(struct asg_lifecycle *l) {
        if (!l)
                return NULL;
        while (l->requests)
                request_free(l->requests);
        autoscaling_free(l->as);
        free(l->hook);
        free(l->group);
        free(l);
        return NULL;
}
