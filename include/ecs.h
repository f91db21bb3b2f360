/* ecs.h: client of the Amazon ECS API (JSON 1.1 protocol, SigV4-signed).
 * Each call is `POST /` with X-Amz-Target AmazonEC2ContainerServiceV20141113.<Op>.
 * Retries follow the AWS SDKs' standard mode: throttling, 5xx, timeouts and
 * connection errors are retried with full-jitter backoff (capped at 20 s);
 * access, validation and client errors are returned at once.  An
 * authentication error with instance-role credentials fetches new ones and
 * retries once; with static keys it is returned at once. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "credentials.h"
#include "http.h"
#include "opstats.h"

#define ECS_TARGET_PREFIX "AmazonEC2ContainerServiceV20141113."
#define ECS_DEFAULT_MAX_ATTEMPTS 3 /* the SDKs' standard mode */
#define ECS_BACKOFF_CAP_MS 20000   /* standard mode's maximum delay */
#define ECS_DEFAULT_TIMEOUT_MS 10000

struct ecs;
struct ecs_call;

struct ecs_config {
        const char *region;       /* required */
        const char *endpoint;     /* NULL: https://ecs.<region>.amazonaws.com */
        unsigned max_attempts;    /* 0: ECS_DEFAULT_MAX_ATTEMPTS */
        unsigned backoff_base_ms; /* 0: 1000; delay = random(0,1) * min(base * 2^n, cap) */
        unsigned timeout_ms;      /* 0: ECS_DEFAULT_TIMEOUT_MS */
};

/* Classes of failure, for callers deciding what to do next. */
enum ecs_error_kind {
        ECS_OK,
        ECS_ERR_THROTTLED,   /* throttling codes, after the retries */
        ECS_ERR_SERVER,      /* 5xx, after the retries */
        ECS_ERR_TRANSPORT,   /* timeout, refused, reset, after the retries */
        ECS_ERR_AUTH,        /* signature, unknown key, expired token */
        ECS_ERR_ACCESS,      /* AccessDenied: the policy lacks the action */
        ECS_ERR_CLIENT,      /* ClientException, InvalidParameterException, ... */
        ECS_ERR_CREDENTIALS, /* no credentials could be had */
        ECS_ERR_PROTOCOL,    /* an answer that is not what ECS sends */
};

struct ecs_result {
        int error; /* 0, or a negative errno matching kind */
        enum ecs_error_kind kind;
        long status;                 /* HTTP status of the last attempt, 0 if none */
        const char *code;            /* AWS error code without its "prefix#", or NULL */
        const char *service_message; /* the error answer's own message, or NULL */
        const char *message;   /* one line for the log: operation, code, message; no secrets */
        const cJSON *response; /* the parsed answer on success (borrowed) */
        unsigned attempts;
};

typedef void (*ecs_callback_t)(const struct ecs_result *r, void *userdata);

/* http and creds are borrowed and must outlive the client. */
int ecs_new(struct ecs **ret, sd_event *event, struct http *http, struct credentials *creds,
            const struct ecs_config *cfg);
struct ecs *ecs_free(struct ecs *e);

/* Call an operation ("DescribeClusters") with a JSON request (copied).  The
 * callback runs exactly once, from the event loop, unless cancelled. */
int ecs_call(struct ecs *e, const char *operation, const cJSON *request, ecs_callback_t cb,
             void *userdata, struct ecs_call **ret);
void ecs_call_cancel(struct ecs_call *c);

/* The endpoint actually used (for logs). */
const char *ecs_endpoint(const struct ecs *e);

/* Pure helpers, exposed for tests and the fuzzer. */

/* Extract the error code and message from an error answer: JSON
 * {"__type": "prefix#Code", "message"|"Message": "..."} or XML
 * <Error><Code>..</Code><Message>..</Message></Error> (what emulators send
 * for authentication failures).  Returns 0 with malloc'd strings (message
 * may be NULL) or -EINVAL when neither form is found. */
int ecs_parse_error(const char *body, size_t len, char **ret_code, char **ret_message);

/* Classify an HTTP status and error code. */
enum ecs_error_kind ecs_classify(long status, const char *code);
bool ecs_kind_retryable(enum ecs_error_kind kind);

/* Calls since the process started, by operation and outcome (success,
 * throttled, server_error, ...: enum ecs_error_kind's order); retries counts
 * the attempts after the first. */
const struct opstats *ecs_stats(void);

/* A container instance ARN, as ECS writes it:
 *   arn:PARTITION:ecs:REGION:ACCOUNT:container-instance/CLUSTER/ID  (the long format)
 *   arn:PARTITION:ecs:REGION:ACCOUNT:container-instance/ID          (before 2018)
 * PARTITION is aws or aws-*, ACCOUNT 12 digits, CLUSTER 1-255 letters,
 * digits, '-' and '_', ID 32 hexadecimal digits or a UUID. */
struct ecs_arn {
        char partition[32];
        char region[33];
        char account[13];
        char cluster[256]; /* "" in the old format */
        char id[37];
};

/* Pure: 0 and *ret (written only then), or -EINVAL for anything else. */
int ecs_arn_parse_container_instance(const char *s, struct ecs_arn *ret);

/* The cluster name of ECS_CLUSTER's value, which may also be a cluster ARN
 * (arn:...:cluster/NAME), as the official agent accepts.  Points into s. */
const char *ecs_cluster_name(const char *s);

/* The cluster named in the request does not exist: ClusterNotFoundException,
 * or RegisterContainerInstance's ClientException "Cluster not found.". */
bool ecs_cluster_not_found(const struct ecs_result *r);
