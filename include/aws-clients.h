/* aws-clients.h: the AWS clients wired together from the configuration: one HTTP
 * client, IMDS, credentials, ECS and (when ECS_HOSTD_ASG_LIFECYCLE_HOOK is
 * set) Auto Scaling, all on the caller's event loop.  The ECS and Auto
 * Scaling clients exist once the region is known (configured, or read from
 * the instance identity document); aws_clients_start() finds it out.  Both
 * share the credentials, the HTTP client and its proxy. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "autoscaling.h"
#include "config.h"
#include "credentials.h"
#include "ecs.h"
#include "http.h"
#include "identity.h"
#include "imds.h"

struct aws_clients {
        sd_event *event;
        struct http *http;
        struct imds *imds;
        struct credentials *creds;
        struct ecs *ecs; /* NULL until aws_clients_start() has succeeded */
        /* NULL unless ECS_HOSTD_ASG_LIFECYCLE_HOOK is set; then made with ecs */
        struct autoscaling *autoscaling;
        struct identity identity; /* empty when IMDS could not be read */
        char *identity_document;  /* its text, as IMDS served it (RegisterContainerInstance) */
        bool have_identity;
        char *region;
        /* private */
        char *endpoint_override;
        char *autoscaling_endpoint; /* AWS_ENDPOINT_URL_AUTO_SCALING, or NULL */
        bool autoscaling_wanted;
        bool region_configured;
        struct imds_request *doc_req;
        void (*ready_cb)(struct aws_clients *a, int error, const char *error_text, void *userdata);
        void *ready_userdata;
};

typedef void (*aws_clients_ready_t)(struct aws_clients *a, int error, const char *error_text,
                                    void *userdata);

/* Build the clients from the configuration (read once; a reload builds anew). */
int aws_clients_new(struct aws_clients **ret, sd_event *event, const struct config *cfg);
struct aws_clients *aws_clients_free(struct aws_clients *a);

/* Read the identity document, settle the region and create the ECS client
 * (and the Auto Scaling one when wanted).
 * The callback runs once, from the loop; on failure it may be called again
 * later by calling aws_clients_start() again. */
int aws_clients_start(struct aws_clients *a, aws_clients_ready_t cb, void *userdata);

/* Where the region came from, for logs: "the configuration" or "the
 * instance identity document". */
const char *aws_clients_region_source(const struct aws_clients *a);
