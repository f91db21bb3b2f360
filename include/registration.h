/* registration.h: join the cluster.  Find out this host's container
 * instance, in one of three modes (ECS_HOSTD_MODE):
 *   register:  RegisterContainerInstance, as the official agent does (an
 *              earlier registration of this EC2 instance, found with
 *              ListContainerInstances + DescribeContainerInstances, is adopted
 *              instead when no state is saved);
 *   companion: never register; learn the official agent's registration from
 *              its introspection endpoint, else from ListContainerInstances +
 *              DescribeContainerInstances matched on ec2InstanceId;
 *   auto:      companion when the introspection endpoint answers quickly;
 *              else register, but only in a cluster that is configured:
 *              with ECS_CLUSTER set nowhere (a fresh install) it joins
 *              nothing and says so (UNCONFIGURED).
 * The identity is kept in the state directory and reused after a restart
 * once DescribeContainerInstances confirms it, so restarts never leave a
 * second container instance behind. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "aws-clients.h"
#include "config.h"
#include "state.h"

struct registration;

enum registration_outcome {
        REGISTRATION_DONE,         /* arn and cluster are known */
        REGISTRATION_RETRY,        /* transient: try again later */
        REGISTRATION_RETRY_SLOW,   /* needs a human or a rotation (credentials, policy) */
        REGISTRATION_TERMINAL,     /* configuration conflict: exit 5 */
        REGISTRATION_UNCONFIGURED, /* nothing to join until configured (or the agent starts) */
};

struct registration_result {
        enum registration_outcome outcome;
        const char *message;       /* why, for the log (not on DONE) */
        const char *arn;           /* DONE: the container instance ARN */
        const char *cluster;       /* DONE: the cluster name */
        const char *mode;          /* "register" or "companion" */
        bool reused;               /* DONE: confirmed from the saved state */
        const char *status;        /* DONE: its status as ECS said (ACTIVE, DRAINING...) or NULL */
        const struct state *state; /* DONE: the saved state (owned attributes) */
};

typedef void (*registration_callback_t)(const struct registration_result *r, void *userdata);

/* aws must be started (identity known, ECS client ready); aws and cfg are
 * borrowed and must outlive the registration.  The callback runs once. */
int registration_start(struct registration **ret, struct aws_clients *aws, const struct config *cfg,
                       registration_callback_t cb, void *userdata);
struct registration *registration_free(struct registration *g);

/* After DONE: the state (identity and owned attributes), which the
 * attribute sync updates.  Owned by the registration. */
struct state *registration_state(struct registration *g);

/* Pure: the official agent's introspection answer (/v1/metadata:
 * {"Cluster", "ContainerInstanceArn", "Version"}).  0 with both strings
 * (malloc'd); -ENODATA when the agent has not registered yet; -EINVAL when
 * it is not such an answer. */
int registration_parse_introspection(const char *body, size_t len, char **ret_arn,
                                     char **ret_cluster);

/* Ask the official agent's introspection endpoint once, blocking (for
 * --check-config, never on the daemon's loop): 0 with *ret_arn when it
 * answers with a registration, -ENODATA when it answers without one,
 * -EAGAIN when it does not answer. */
int registration_probe_agent(const char *url, unsigned timeout_ms, char **ret_arn);
