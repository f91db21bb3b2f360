/* placement-services.h: services as `aws ecs describe-services` prints them
 * ({"services": [...]}), read by a pure function: what the service scheduler
 * needs to place a service's tasks.  Fields placement does not use are
 * ignored; the constraints and strategies are kept as the JSON text the
 * request parser takes (placement_request_add_constraints()), which judges
 * them as it judges the command line's.  Invariant: every string is owned
 * by the list and NUL-free. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement-error.h"

#define PLACEMENT_SERVICE_DESIRED_MAX 100000 /* tasks, as --desired-count */

struct placement_service {
        char *name;            /* serviceName */
        char *arn;             /* serviceArn; NULL when absent */
        char *status;          /* "ACTIVE", "DRAINING", ...; "ACTIVE" when absent */
        char *task_definition; /* taskDefinition (an ARN); NULL when absent */
        int64_t desired;       /* desiredCount, 0..PLACEMENT_SERVICE_DESIRED_MAX */
        bool fargate;          /* launchType FARGATE, or only FARGATE / FARGATE_SPOT providers */
        bool daemon;           /* schedulingStrategy DAEMON */
        char *constraints;     /* placementConstraints as a JSON array; NULL when none */
        char *strategies;      /* placementStrategy as a JSON array; NULL when none */
};

struct placement_services {
        struct placement_service *services; /* in input order */
        size_t n_services;
};

int placement_services_new(struct placement_services **ret);
struct placement_services *placement_services_free(struct placement_services *s);

/* Add the services[] of describe-services output.  On malformed JSON e has
 * the position; on a wrong shape it names the field
 * ("services[1].desiredCount: expected an integer"), without position.  On
 * failure s is unchanged. */
int placement_services_load(struct placement_services *s, const char *text, size_t len,
                            struct placement_error *e);
