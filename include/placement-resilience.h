/* placement-resilience.h: what losing part of a cluster does to its
 * services, before it happens.  For each failure (a container instance, a
 * zone, an instance type, a Spot pool = instance type x zone, or the
 * instances a query selects) the lost instances and their tasks are taken
 * out, and each service's missing tasks are placed as the service scheduler
 * would place them: by placement_session_run(), the engine `run` and
 * `service` use, with the service's own request (group, constraints,
 * strategies, its task definition's constraints), its tasks still running
 * counted.  Pure apart from the cluster, which it updates and gives back as
 * it was (placement_resilience_show() excepted). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement-error.h"
#include "placement-model.h"
#include "placement-query.h"
#include "placement-run.h"
#include "placement-services.h"
#include "placement-taskdef.h"

enum placement_loss {
        PLACEMENT_LOSE_INSTANCE,      /* each container instance in turn */
        PLACEMENT_LOSE_ZONE,          /* each attribute:ecs.availability-zone */
        PLACEMENT_LOSE_INSTANCE_TYPE, /* each attribute:ecs.instance-type */
        PLACEMENT_LOSE_POOL,          /* each instance type x zone: a Spot capacity pool */
        PLACEMENT_LOSE_EXPRESSION,    /* every instance a query selects, at once */
        _PLACEMENT_LOSE_MAX,
};

/* "instance", "zone", "instance-type", "pool", "expression". */
const char *placement_loss_to_string(enum placement_loss kind);

/* One service as the analysis sees it. */
struct placement_resilience_service {
        const struct placement_service *service; /* borrowed from the services given */
        const struct placement_taskdef *taskdef; /* borrowed; NULL when skipped */
        char *group;                             /* service:<name> */
        struct placement_request request;        /* validated; count set per run */
        const char *skipped; /* NULL, or why no task of it is placed (see the .c) */
};

/* One reason tasks were not placed, in ECS's words, and how many. */
struct placement_shortfall {
        const char *reason; /* static: the engine's step names */
        uint64_t tasks;
};

/* What a failure (or the baseline) did to one service. */
struct placement_outcome {
        size_t service;     /* index into the analysis's services */
        uint64_t before;    /* its tasks before the failure (after the baseline) */
        uint64_t displaced; /* of those, on lost instances */
        uint64_t missing;   /* desired minus the tasks left: what was placed or failed */
        size_t *placed;     /* the instances the replacements went to, in order */
        size_t n_placed;
        struct placement_shortfall *short_by; /* the tasks not placed, by reason */
        size_t n_short_by;
        uint64_t short_tasks; /* missing - n_placed */
};

/* CPU (units) and memory (MiB) left and registered, over the usable
 * (ACTIVE, agent connected) instances that are not lost. */
struct placement_headroom {
        const char *zone; /* NULL: the whole cluster; borrowed from an instance */
        int64_t cpu_left, cpu_registered, memory_left, memory_registered;
};

struct placement_failure {
        enum placement_loss kind;
        char *name;       /* "us-east-1b", "c4.large", "c4.large in us-east-1a", the instance's
                           * EC2 id (or container instance id), the expression; "baseline" */
        const char *zone; /* PLACEMENT_LOSE_ZONE and _POOL: borrowed; else NULL */
        const char *type; /* PLACEMENT_LOSE_INSTANCE_TYPE and _POOL: borrowed; else NULL */
        size_t *lost;     /* instance indices, in input order */
        size_t n_lost;
        uint64_t standalone_lost; /* tasks of no service analysed, on the lost instances */
        struct placement_outcome *outcomes; /* the services it displaced or left short */
        size_t n_outcomes;
        struct placement_headroom total;
        struct placement_headroom *zones; /* by zone name; instances without a zone last */
        size_t n_zones;
        bool low_headroom; /* below the minimum headroom, when one is set */
        bool survived;     /* no service short, headroom not low */
};

struct placement_resilience {
        struct placement_cluster *c; /* borrowed */
        struct placement_resilience_service *services;
        size_t n_services;
        double min_headroom; /* a fraction of CPU and of memory; < 0: none */
        uint64_t seed;
        struct placement_failure baseline; /* the missing tasks placed before any loss */
        struct placement_failure *failures;
        size_t n_failures;
        bool survived; /* the baseline and every failure */
        /* What the runs keep (see the .c). */
        struct placement_session *session;
        uint64_t *before;        /* per service: its tasks after the baseline */
        size_t *by_group;        /* service indices sorted by group */
        const char **zone_names; /* sorted, borrowed from the instances */
        size_t n_zone_names;
        size_t *zone_of; /* per instance: its zone's index; n_zone_names for none */
};

/* Build the analysis: each ACTIVE replica service that runs on container
 * instances gets its request, with its task definition from taskdefs (found
 * by placement_taskdef_find()).  A service whose task definition is missing,
 * or whose constraints or strategies ECS would refuse, is an error naming
 * it.  c is borrowed for the analysis's life. */
int placement_resilience_new(struct placement_resilience **ret, struct placement_cluster *c,
                             const struct placement_services *services,
                             struct placement_taskdef *const *taskdefs, size_t n_taskdefs,
                             uint64_t seed, struct placement_error *e);
struct placement_resilience *placement_resilience_free(struct placement_resilience *r);

/* Add the failures a --lose names: one per instance, zone, type or pool
 * (instances that are INACTIVE or lack the attribute are in none), or the
 * one of every instance query selects (query borrowed; as the expression
 * was written).  A kind with nothing to lose adds nothing; a query that
 * selects nothing is an error. */
int placement_resilience_add(struct placement_resilience *r, enum placement_loss kind,
                             const struct placement_query *query, const char *expression,
                             struct placement_error *e);

/* The checks placement_resilience_run() makes at most (placement_run_work()
 * of each run, plus a pass over the instances per failure). */
uint64_t placement_resilience_work(const struct placement_resilience *r);

/* The baseline, then every failure; the cluster ends as the baseline left
 * it.  -ERANGE, before any work, past PLACEMENT_WORK_MAX checks. */
int placement_resilience_run(struct placement_resilience *r);

/* Leave the cluster as failure k (SIZE_MAX: the baseline) leaves it, for a
 * picture: its lost instances excluded, its replacements placed. */
int placement_resilience_show(struct placement_resilience *r, size_t k);

/* The service whose group is group ("service:api"), or NULL. */
const struct placement_resilience_service *
placement_resilience_service_of(const struct placement_resilience *r, const char *group);
