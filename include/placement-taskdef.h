/* placement-taskdef.h: what placement needs from a task definition, read from
 * `aws ecs describe-task-definition` output ({"taskDefinition": {...}}) or
 * register-task-definition input (the object itself).  Pure; errors name the
 * field.  Invariant: cpu and memory are the charge ECS makes for one task. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement-error.h"
#include "placement-model.h"

struct placement_port {
        uint16_t port;
        bool udp;
};

struct placement_taskdef_constraint {
        char *type;       /* "memberOf", "distinctInstance", ... as written */
        char *expression; /* NULL when absent */
};

struct placement_taskdef {
        char *family;
        char *arn;                    /* taskDefinitionArn, or family:revision for register input */
        char *network_mode;           /* "bridge" when absent */
        int64_t cpu;                  /* CPU units charged per task */
        int64_t memory;               /* MiB charged per task */
        struct placement_port *ports; /* fixed host ports the task takes */
        size_t n_ports;
        struct placement_attribute *requires_attributes; /* value NULL: any value */
        size_t n_requires_attributes;
        struct placement_taskdef_constraint *constraints;
        size_t n_constraints;
};

/* Parse; on malformed JSON e has the position, on a wrong shape the field. */
int placement_taskdef_parse(struct placement_taskdef **ret, const char *text, size_t len,
                            struct placement_error *e);
struct placement_taskdef *placement_taskdef_free(struct placement_taskdef *td);

/* The task definition ref names (a service's taskDefinition) among v[0..n):
 * the one with the same family:revision, which is what follows
 * "task-definition/" in an ARN and a register input's own name.  NULL when
 * none has it.  Borrowed from v. */
const struct placement_taskdef *placement_taskdef_find(struct placement_taskdef *const *v, size_t n,
                                                       const char *ref);
