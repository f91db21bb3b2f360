/* hostd-metrics.c: the ecs_hostd_* families (see hostd-metrics.h).  Label
 * values that come from outside (the cluster, the ARN, the status ECS
 * answered) are escaped by expo; the status becomes a label only when it is
 * one of the statuses ECS documents, so no answer can add series. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hostd-metrics.h"
#include "macro.h"

static const char *const ECS_STATUSES[] = {
        "ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED", "INACTIVE"};

static void one(struct expo *e, const char *name, enum expo_type t, const char *help, double v) {
        expo_family(e, name, t, help);
        expo_sample(e, NULL, v);
}

static void identity(struct expo *e, const struct hostd_view *v) {
        expo_family(e, "ecs_hostd_build_info", EXPO_GAUGE,
                    "The ecs-hostd version and the commit it was built from.");
        expo_sample(
                e,
                (const char *const[]){"version", HOSTD_VERSION, "revision", HOSTD_GIT_HASH, NULL},
                1);
        expo_family(e, "ecs_hostd_mode", EXPO_GAUGE,
                    "How ecs-hostd joins: register, companion (next to the official agent) or "
                    "auto (not decided yet).");
        expo_sample(e, (const char *const[]){"mode", v->mode ? v->mode : "unknown", NULL}, 1);
        one(e, "ecs_hostd_container_instance_known", EXPO_GAUGE,
            "Whether ecs-hostd knows its container instance (joined the cluster).", v->arn != NULL);
        if (v->arn) {
                expo_family(e, "ecs_hostd_container_instance_info", EXPO_GAUGE,
                            "The container instance ecs-hostd drains.");
                expo_sample(
                        e,
                        (const char *const[]){"cluster", v->cluster ? v->cluster : "",
                                              "container_instance_arn", v->arn, "ec2_instance_id",
                                              v->ec2_instance_id ? v->ec2_instance_id : "", NULL},
                        1);
        }
        if (v->ecs_status) {
                expo_family(e, "ecs_hostd_container_instance_status", EXPO_GAUGE,
                            "The container instance's status as ECS last said it.");
                for (size_t i = 0; i < ELEMENTSOF(ECS_STATUSES); i++)
                        expo_sample(e, (const char *const[]){"status", ECS_STATUSES[i], NULL},
                                    strcmp(v->ecs_status, ECS_STATUSES[i]) == 0);
        }
}

static void by_kind(struct expo *e, const char *name, enum expo_type t, const char *help,
                    const uint64_t *n) {
        expo_family(e, name, t, help);
        for (int k = 0; k < _NOTICE_KIND_MAX; k++)
                expo_sample(e, (const char *const[]){"kind", notice_kind_name(k), NULL},
                            (double)n[k]);
}

/* Auto Scaling lifecycle hook calls by action and outcome, the ones that
 * happened (none without ECS_HOSTD_ASG_LIFECYCLE_HOOK). */
static void asg_actions(struct expo *e, const struct watcher_stats *s) {
        static const enum asg_lifecycle_action actions[] = {ASG_LIFECYCLE_HEARTBEAT,
                                                            ASG_LIFECYCLE_COMPLETE};
        bool any = false;

        for (size_t a = 0; a < ELEMENTSOF(actions); a++)
                for (int o = 0; o < _ASG_LIFECYCLE_OUTCOME_MAX; o++)
                        any = any || s->asg_actions[actions[a]][o];
        if (!any)
                return;
        expo_family(e, "ecs_hostd_asg_lifecycle_actions_total", EXPO_COUNTER,
                    "Auto Scaling lifecycle hook calls (heartbeat, complete) by outcome.");
        for (size_t a = 0; a < ELEMENTSOF(actions); a++)
                for (int o = 0; o < _ASG_LIFECYCLE_OUTCOME_MAX; o++)
                        if (s->asg_actions[actions[a]][o])
                                expo_sample(e,
                                            (const char *const[]){
                                                    "action", asg_lifecycle_action_name(actions[a]),
                                                    "outcome", asg_lifecycle_outcome_name(o), NULL},
                                            (double)s->asg_actions[actions[a]][o]);
}

/* Following drains to empty: the one in progress, and how the others ended. */
static void follows(struct expo *e, const struct hostd_view *v) {
        const struct watcher_stats *s = v->watcher_stats;
        const struct watcher_state *w = v->watcher;

        if (w && w->following) {
                if (w->tasks_known)
                        one(e, "ecs_hostd_drain_tasks_left", EXPO_GAUGE,
                            "Tasks still running or pending on the draining host.", w->tasks_left);
                one(e, "ecs_hostd_drain_deadline_timestamp_seconds", EXPO_GAUGE,
                    "When the followed drain runs out of time (Spot: the interruption), as a "
                    "Unix time.",
                    (double)w->follow_deadline);
                one(e, "ecs_hostd_drain_seconds_to_deadline", EXPO_GAUGE,
                    "Seconds from this scrape to the followed drain's deadline (negative once "
                    "past).",
                    difftime(w->follow_deadline, time(NULL)));
        }
        expo_family(e, "ecs_hostd_drain_follows_total", EXPO_COUNTER,
                    "Drains followed to their end: the host empty, or the deadline reached with "
                    "tasks left.");
        expo_sample(e, (const char *const[]){"result", "empty", NULL}, (double)s->follows_empty);
        expo_sample(e, (const char *const[]){"result", "deadline", NULL},
                    (double)s->follows_deadline);
        one(e, "ecs_hostd_drain_follow_calls_total", EXPO_COUNTER,
            "ECS calls made following drains (DescribeContainerInstances, ListTasks, "
            "DescribeTasks).",
            (double)s->follow_calls);
        asg_actions(e, s);
        if (s->last_time_to_empty_seconds >= 0)
                one(e, "ecs_hostd_last_drain_time_to_empty_seconds", EXPO_GAUGE,
                    "From DRAINING confirmed to the host empty, for the last drain that emptied.",
                    s->last_time_to_empty_seconds);
}

static void notices(struct expo *e, const struct hostd_view *v) {
        const struct watcher_stats *s = v->watcher_stats;
        const struct watcher_state *w = v->watcher;

        if (w) {
                uint64_t pending[_NOTICE_KIND_MAX];
                for (int k = 0; k < _NOTICE_KIND_MAX; k++)
                        pending[k] = w->pending[k];
                by_kind(e, "ecs_hostd_interruption_notices_pending", EXPO_GAUGE,
                        "Interruption notices IMDS shows now, by kind.", pending);
                for (int k = 0, first = 1; k < _NOTICE_KIND_MAX; k++) {
                        if (!w->pending_time[k])
                                continue;
                        if (first)
                                expo_family(e, "ecs_hostd_interruption_time_seconds", EXPO_GAUGE,
                                            "The time a pending notice announces (Spot: the "
                                            "action; maintenance: NotBefore), by kind, as a "
                                            "Unix time.");
                        first = 0;
                        expo_sample(e, (const char *const[]){"kind", notice_kind_name(k), NULL},
                                    (double)w->pending_time[k]);
                }
        }
        if (!s)
                return;
        by_kind(e, "ecs_hostd_interruption_notices_total", EXPO_COUNTER,
                "Distinct interruption notices seen, by kind.", s->notices);
        expo_family(e, "ecs_hostd_drains_total", EXPO_COUNTER,
                    "Drains by the notice's kind and result (confirmed: ECS said DRAINING; "
                    "failed: not by the deadline; undone: withdrawn, ACTIVE again; dry_run).");
        for (int k = 0; k < _NOTICE_KIND_MAX; k++)
                for (int r = 0; r < _WATCHER_DRAIN_RESULT_MAX; r++)
                        expo_sample(e,
                                    (const char *const[]){"kind", notice_kind_name(k), "result",
                                                          watcher_drain_result_name(r), NULL},
                                    (double)s->drains[k][r]);
        one(e, "ecs_hostd_drain_calls_total", EXPO_COUNTER,
            "UpdateContainerInstancesState calls made to drain or undo a drain.",
            (double)s->drain_calls);
        if (s->last_drain_seconds >= 0)
                one(e, "ecs_hostd_last_drain_seconds", EXPO_GAUGE,
                    "From the last drained notice first seen to ECS confirming DRAINING.",
                    s->last_drain_seconds);
        follows(e, v);
}

static void watcher(struct expo *e, const struct hostd_view *v) {
        const struct watcher_stats *s = v->watcher_stats;

        one(e, "ecs_hostd_watcher_running", EXPO_GAUGE,
            "Whether the interruption watcher polls IMDS (it starts once IMDS answered).",
            v->watcher != NULL);
        one(e, "ecs_hostd_watcher_blind", EXPO_GAUGE,
            "Whether the Spot signal has not been read for several polls in a row.",
            v->watcher && v->watcher->blind);
        if (!s)
                return;
        one(e, "ecs_hostd_watcher_polls_total", EXPO_COUNTER, "Poll rounds started.",
            (double)s->polls);
        one(e, "ecs_hostd_watcher_polls_skipped_total", EXPO_COUNTER,
            "Poll ticks skipped because the previous round was still running.",
            (double)s->polls_skipped);
        one(e, "ecs_hostd_watcher_imds_errors_total", EXPO_COUNTER,
            "Signal reads that failed (other than not found) or were garbled.",
            (double)s->imds_errors);
}

/* name_requests_total{operation,outcome} and name_retries_total. */
static void requests(struct expo *e, const char *name, const char *what, const struct opstats *s) {
        char family[96], help[160];

        if (!s)
                return;
        snprintf(family, sizeof family, "ecs_hostd_%s_requests_total", name);
        snprintf(help, sizeof help, "%s requests by operation and outcome (after retries).", what);
        expo_family(e, family, EXPO_COUNTER, help);
        /* Success always; the other outcomes once they happened (most never
         * do, and nine zeros per operation would be most of the scrape). */
        for (size_t i = 0; i < s->n_ops; i++)
                for (size_t k = 0; k < OPSTATS_OUTCOMES_MAX && s->outcomes[k]; k++)
                        if (k == 0 || s->ops[i].n[k])
                                expo_sample(e,
                                            (const char *const[]){"operation", s->ops[i].name,
                                                                  "outcome", s->outcomes[k], NULL},
                                            (double)s->ops[i].n[k]);
        snprintf(family, sizeof family, "ecs_hostd_%s_retries_total", name);
        snprintf(help, sizeof help, "%s attempts after the first of a request.", what);
        one(e, family, EXPO_COUNTER, help, (double)s->retries);
}

static void clients(struct expo *e, const struct hostd_view *v) {
        const struct credentials_stats *c = v->credentials;

        requests(e, "imds", "IMDS", v->imds);
        requests(e, "ecs", "ECS API", v->ecs);
        if (c) {
                expo_family(e, "ecs_hostd_credential_refreshes_total", EXPO_COUNTER,
                            "Instance role credentials fetched from IMDS, by result.");
                expo_sample(e, (const char *const[]){"result", "success", NULL},
                            (double)c->refreshes);
                expo_sample(e, (const char *const[]){"result", "failure", NULL},
                            (double)c->failures);
                if (c->expiration)
                        one(e, "ecs_hostd_credentials_expiration_timestamp_seconds", EXPO_GAUGE,
                            "When the instance role credentials in use expire, as a Unix time.",
                            (double)c->expiration);
        }
        expo_family(e, "ecs_hostd_attribute_syncs_total", EXPO_COUNTER,
                    "Attribute syncs with ECS, by result.");
        expo_sample(e, (const char *const[]){"result", "success", NULL},
                    (double)v->attribute_syncs[HOSTD_SYNC_SUCCESS]);
        expo_sample(e, (const char *const[]){"result", "failure", NULL},
                    (double)v->attribute_syncs[HOSTD_SYNC_FAILURE]);
}

void hostd_metrics_write(struct expo *e, const struct hostd_view *v) {
        identity(e, v);
        watcher(e, v);
        notices(e, v);
        clients(e, v);
}
