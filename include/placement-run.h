/* placement-run.h: what RunTask (and the service scheduler) would do with a
 * task definition on a cluster, following the ECS order: drop instances that
 * are not ACTIVE or whose agent is disconnected, then those without the CPU,
 * memory, ports and attributes the task needs, then those failing a
 * constraint; order the rest by the strategies, place, and repeat for the
 * next task with the resources and tasks the earlier placements used.
 * Pure apart from the cluster it is given, which it updates as it places. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement-error.h"
#include "placement-model.h"
#include "placement-query.h"
#include "placement-taskdef.h"

#define PLACEMENT_MAX_CONSTRAINTS 10 /* per task: task definition and request together */
#define PLACEMENT_MAX_STRATEGIES 5
#define PLACEMENT_MAX_STEPS (6 + PLACEMENT_MAX_CONSTRAINTS)

enum placement_constraint_type {
        PLACEMENT_CONSTRAINT_MEMBER_OF,
        PLACEMENT_CONSTRAINT_DISTINCT_INSTANCE,
};

struct placement_constraint {
        enum placement_constraint_type type;
        char *expression;              /* memberOf: as written */
        struct placement_query *query; /* memberOf: parsed */
};

enum placement_strategy_type {
        PLACEMENT_STRATEGY_BINPACK,
        PLACEMENT_STRATEGY_SPREAD,
        PLACEMENT_STRATEGY_RANDOM,
};

/* What a strategy's field names, decided once when the strategy is parsed,
 * so placement never reads the field's text again. */
enum placement_strategy_field {
        PLACEMENT_STRATEGY_FIELD_NONE,        /* random */
        PLACEMENT_STRATEGY_FIELD_CPU,         /* binpack */
        PLACEMENT_STRATEGY_FIELD_MEMORY,      /* binpack */
        PLACEMENT_STRATEGY_FIELD_INSTANCE_ID, /* spread by instanceId (or host) */
        PLACEMENT_STRATEGY_FIELD_ATTRIBUTE,   /* spread by attribute:NAME */
};

struct placement_strategy {
        enum placement_strategy_type type;
        enum placement_strategy_field field_kind;
        char *field; /* as reported: binpack "cpu" / "memory"; spread "instanceId" or
                      * "attribute:NAME"; NULL for random */
};

struct placement_request {
        const struct placement_taskdef *taskdef; /* borrowed */
        unsigned count;
        char *group; /* NULL: family:<family> */
        struct placement_constraint *constraints;
        size_t n_constraints;
        struct placement_strategy *strategies;
        size_t n_strategies;
        bool fargate;
        uint64_t seed;
};

/* Append constraints / strategies written as the AWS CLI takes them: JSON
 * (`[{"type": "memberOf", "expression": "..."}]` or one object) or shorthand
 * (`type=spread,field=attribute:ecs.availability-zone`).  A memberOf
 * expression that does not parse fills e with its position in the
 * expression and sets *ret_expression (borrowed from the request) so the
 * caller can render it. */
int placement_request_add_constraints(struct placement_request *r, const char *text,
                                      const char **ret_expression, struct placement_error *e);
int placement_request_add_strategies(struct placement_request *r, const char *text,
                                     struct placement_error *e);

/* Check the request against ECS's rules (limits, distinctInstance, FARGATE)
 * and add the task definition's constraints.  Messages use ECS's wording;
 * with r->fargate, any constraint (the task definition's too) or strategy is
 * refused: "Placement constraints are not supported with FARGATE launch
 * type."  A request without a group gets family:<family>. */
int placement_request_validate(struct placement_request *r, const char **ret_expression,
                               struct placement_error *e);

/* Make r the service scheduler's request for the service called name: its
 * group is service:<name>, its count the tasks still missing (desired minus
 * the group's tasks already on c, desired RUNNING; 0 when there are
 * enough), and without strategies of its own it spreads by
 * attribute:ecs.availability-zone, then by instanceId (an EC2 service only:
 * a FARGATE service gets no default strategy, as in ECS).  Call it after adding
 * the request's strategies and before placement_request_validate(), which
 * then sees the defaults too.  *ret_existing (unless NULL) gets the tasks
 * found. */
int placement_request_service(struct placement_request *r, const struct placement_cluster *c,
                              const char *name, unsigned desired, size_t *ret_existing,
                              struct placement_error *e);
void placement_request_done(struct placement_request *r);

/* One filtering step of one task: how many candidates it removed. */
struct placement_step {
        const char *name; /* AGENT, RESOURCE:CPU, ..., or the constraint's failure reason */
        size_t removed, left;
};

struct placement_strategy_step {
        const struct placement_strategy *strategy; /* borrowed from the request */
        size_t kept;                               /* candidates left after it */
        int64_t score;      /* binpack: remaining amount; spread: tasks in the bucket */
        const char *bucket; /* spread: the winning bucket's value (NULL: missing) */
};

struct placement_task_result {
        long instance;      /* index into the cluster's instances; -1 when not placed */
        const char *reason; /* when not placed: the step that emptied the candidates */
        struct placement_step steps[PLACEMENT_MAX_STEPS];
        size_t n_steps;
        struct placement_strategy_step strategies[PLACEMENT_MAX_STRATEGIES];
        size_t n_strategies;
        size_t tied; /* candidates the final pseudo-random choice was among */
};

struct placement_result {
        struct placement_task_result *tasks;
        size_t n_tasks;
        char *group;
};

/* The checks placement_run() makes at most for the validated request r on c:
 * each task looks at every instance once, and once more per strategy; an
 * instance's ports, requiresAttributes and constraints are judged once, and
 * again after each placement on it. */
uint64_t placement_run_work(const struct placement_cluster *c, const struct placement_request *r);
/* The same for count tasks on a cluster of size z (placement_cluster_size()),
 * for a caller estimating many runs on one cluster. */
uint64_t placement_run_work_sized(const struct placement_cluster_size *z,
                                  const struct placement_request *r, uint64_t count);

/* Place r->count tasks on c (updated as tasks are placed).  With r->fargate
 * nothing is placed and c is untouched: every task is on no container
 * instance (instance -1) and has no reason, since it did not fail.  *ret is
 * malloc'd; free with placement_result_free().  -ERANGE, before any work,
 * when that is more than PLACEMENT_WORK_MAX checks (placement_run_work()). */
int placement_run(struct placement_cluster *c, const struct placement_request *r,
                  struct placement_result **ret);
struct placement_result *placement_result_free(struct placement_result *res);

/* A session places many requests on one cluster, which it borrows and
 * updates, and what it learns of the cluster once (status and agent, the
 * dense resource arrays, each spread field's buckets, who holds which task
 * group) serves every run: a run costs its tasks' passes, not a pass to set
 * up.  placement_run() is one session with one run.  While a session lives,
 * its cluster changes only through it.  After an error other than -EINVAL
 * the cluster and the session are in no defined state: free both. */
struct placement_session;

int placement_session_new(struct placement_session **ret, struct placement_cluster *c);
struct placement_session *placement_session_free(struct placement_session *s);

/* Take the instances with lost[i] out of the cluster (lost NULL: none):
 * they are no candidate, and their tasks count for no spread, group or
 * distinctInstance, as if they and their tasks were gone.  The cluster
 * itself keeps them, as they were. */
void placement_session_exclude(struct placement_session *s, const bool *lost);

/* Start a journal of the placements from here on; rollback undoes them
 * (resources, ports, task counts, groups: the cluster as it was at the
 * mark), and the journal goes on from the mark.  Without a mark, rollback
 * does nothing. */
int placement_session_mark(struct placement_session *s);
void placement_session_rollback(struct placement_session *s);

/* placement_run() for the validated request r, without its work check: a
 * caller placing many requests estimates them together (placement_run_work()
 * each). */
int placement_session_run(struct placement_session *s, const struct placement_request *r,
                          struct placement_result **ret);

/* Tasks of group (desired RUNNING) on the instances not excluded. */
uint64_t placement_session_group_tasks(const struct placement_session *s, const char *group);

/* Why each instance could not take one more task of r, as things stand:
 * ret[i] (one per instance of the cluster) is the first step it fails, in
 * ECS's words (AGENT, RESOURCE:MEMORY, MemberOf placement constraint
 * unsatisfied., ...), or NULL when it is a candidate. */
int placement_session_reasons(struct placement_session *s, const struct placement_request *r,
                              const char **ret);
