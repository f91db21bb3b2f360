/* placement-model.h: a cluster as the AWS CLI describes it: container
 * instances from `aws ecs describe-container-instances` and tasks from
 * `aws ecs describe-tasks`, parsed from their JSON text by pure functions.
 * Invariant: every string is owned by the cluster and NUL-free; each
 * instance's groups[] counts its tasks whose desiredStatus is RUNNING. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement-error.h"

struct placement_attribute {
        char *name;
        char *value; /* NULL: the attribute has no value */
};

/* One entry of remainingResources / registeredResources that placement uses. */
struct placement_resources {
        int64_t cpu;         /* CPU units (1024 per vCPU); -1 when not reported */
        int64_t memory;      /* MiB; -1 when not reported */
        uint16_t *ports_tcp; /* PORTS: host ports in use, as reported */
        size_t n_ports_tcp;
        uint16_t *ports_udp; /* PORTS_UDP */
        size_t n_ports_udp;
};

struct placement_group_count {
        char *group; /* "service:cats", "family:mxnet", ... */
        unsigned count;
};

struct placement_instance {
        char *arn;             /* containerInstanceArn */
        char *ec2_instance_id; /* NULL when absent (external instances may lack it) */
        char *status;          /* "ACTIVE", "DRAINING", ...; "ACTIVE" when absent */
        bool agent_connected;  /* true when absent */
        char *agent_version;   /* versionInfo.agentVersion; NULL when absent */
        bool has_registered_at;
        int64_t registered_at; /* microseconds since the epoch */
        int64_t running_tasks_count;
        struct placement_attribute *attributes;
        size_t n_attributes;
        struct placement_resources remaining, registered;
        struct placement_group_count *groups; /* from the tasks, see above */
        size_t n_groups;
};

struct placement_task {
        char *arn;                    /* taskArn; NULL when absent */
        char *container_instance_arn; /* NULL for tasks not on an instance */
        char *group;                  /* NULL when absent */
        char *desired_status;         /* NULL when absent */
        char *last_status;            /* NULL when absent */
        char *task_definition_arn;    /* NULL when absent */
};

struct placement_cluster {
        struct placement_instance *instances; /* in input order */
        size_t n_instances;
        struct placement_task *tasks;
        size_t n_tasks;
};

/* The most work one filter or run may take, in checks: one check is one
 * instance against one filter step or strategy, or one value against one
 * argument of a predicate (a regular expression's own steps are bounded
 * apart, see placement-query-eval.h).  A full ECS cluster (5,000 instances,
 * ECS's quota) placing 100,000 tasks with 5 strategies and 10 constraints
 * takes about 3e9; at 1e10 a run takes a minute or two.  Past it the input is
 * not a real cluster, and the work is refused before it starts. */
#define PLACEMENT_WORK_MAX UINT64_C(10000000000)

/* What the work on a cluster grows with: its instances and, per instance, the
 * lists a check may have to search. */
struct placement_cluster_size {
        uint64_t instances;
        uint64_t attributes, groups, ports;             /* in all */
        uint64_t max_attributes, max_groups, max_ports; /* on one instance */
};

/* What judging one instance costs at most, in checks, by what it searches:
 *   lookup * (1 + its attributes) + per_group * (1 + its task groups)
 *   + per_port * (1 + its ports in use) + fixed. */
struct placement_instance_cost {
        uint64_t lookup, per_group, per_port, fixed;
};

/* Work estimates saturate: no input can wrap them. */
static inline uint64_t placement_work_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}
static inline uint64_t placement_work_mul(uint64_t a, uint64_t b) {
        return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

int placement_cluster_new(struct placement_cluster **ret);
struct placement_cluster *placement_cluster_free(struct placement_cluster *c);

/* Add the containerInstances[] of describe-container-instances output.  On
 * malformed JSON e has the position (line, column) and "malformed JSON"; on a
 * wrong shape e names the field ("containerInstances[2].attributes[0].name:
 * expected a string") and has no position.  On failure c is unchanged. */
int placement_cluster_load_instances(struct placement_cluster *c, const char *text, size_t len,
                                     struct placement_error *e);

/* Add the tasks[] of describe-tasks output, same error rules. */
int placement_cluster_load_tasks(struct placement_cluster *c, const char *text, size_t len,
                                 struct placement_error *e);

void placement_cluster_size(const struct placement_cluster *c, struct placement_cluster_size *ret);
/* The checks of judging every instance of a cluster of size z once at cost k. */
uint64_t placement_cost_all(const struct placement_instance_cost *k,
                            const struct placement_cluster_size *z);
/* The checks of judging its largest instance once (every list at its
 * longest, each grown by extra_groups and extra_ports). */
uint64_t placement_cost_max(const struct placement_instance_cost *k,
                            const struct placement_cluster_size *z, uint64_t extra_groups,
                            uint64_t extra_ports);

/* Count one more task of group on ci (desired RUNNING), as a placement does. */
int placement_instance_add_group(struct placement_instance *ci, const char *group);

/* Free n attributes and the array (NULL is fine). */
void placement_attributes_free(struct placement_attribute *v, size_t n);

/* The attribute named name, or NULL.  Borrowed from ci. */
const struct placement_attribute *placement_instance_attribute(const struct placement_instance *ci,
                                                               const char *name);
/* Tasks of group on ci (desiredStatus RUNNING); 0 when none. */
unsigned placement_instance_group_count(const struct placement_instance *ci, const char *group);
/* The id after the last '/' of the ARN ("arn:...:container-instance/c/0123" -> "0123"). */
const char *placement_instance_short_id(const struct placement_instance *ci);
