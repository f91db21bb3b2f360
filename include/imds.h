/* imds.h: asynchronous client of the EC2 instance metadata service.
 * IMDSv2 first: a session token is fetched with PUT and reused until shortly
 * before it expires; a 401 fetches a new token and retries once.  IMDSv1 is
 * used only when the token PUT answers 403/404/405 and fallback is allowed.
 * Throttling (429), 5xx and timeouts are retried a bounded number of times
 * with backoff; 404 means "not there" and is not retried. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "http.h"
#include "opstats.h"

struct imds;
struct imds_request;

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_DEFAULT_TOKEN_TTL 21600 /* seconds, the maximum IMDS allows */
#define IMDS_DEFAULT_TIMEOUT_MS 1000 /* connect and read, as the AWS SDKs */
#define IMDS_DEFAULT_RETRIES 3       /* after the first attempt */
#define IMDS_DEFAULT_MAX_BODY (64 * 1024)

struct imds_config {
        const char *endpoint; /* NULL = IMDS_DEFAULT_ENDPOINT; a trailing '/' is ignored */
        unsigned token_ttl;   /* seconds, 1..21600; 0 = default */
        bool v1_fallback;     /* allow IMDSv1 when the token PUT is refused */
        unsigned timeout_ms;  /* 0 = default */
        unsigned retries;     /* retries after the first attempt; 0 = default */
        unsigned backoff_ms;  /* first retry delay, doubled each time; 0 = 100 */
        size_t max_body;      /* 0 = default */
};

struct imds_result {
        /* 0: body holds the answer.  -ENOENT: 404 (not there; for notice
         * paths "no notice").  -EACCES: 403 (IMDS off or path not allowed).
         * Otherwise the last failure after retries: -ETIMEDOUT, -EBUSY
         * (429/5xx), -EMSGSIZE (body over the cap), -EPROTO (unexpected status),
         * -ECONNREFUSED, -ECONNRESET, ... */
        int error;
        long status;      /* last HTTP status, 0 if none */
        const char *body; /* NUL-terminated, valid during the callback */
        size_t body_len;
        const char *error_text; /* what went wrong, for the log; no secrets */
        unsigned attempts;
};

typedef void (*imds_callback_t)(const struct imds_result *r, void *userdata);

int imds_new(struct imds **ret, sd_event *event, struct http *http, const struct imds_config *cfg);
struct imds *imds_free(struct imds *m);

/* GET a path such as "/latest/meta-data/instance-id".  The callback runs
 * exactly once unless the request is cancelled. */
int imds_get(struct imds *m, const char *path, imds_callback_t cb, void *userdata,
             struct imds_request **ret);
void imds_request_cancel(struct imds_request *q);

/* True once the token PUT was refused and IMDSv1 is in use. */
bool imds_using_v1(const struct imds *m);

/* Requests since the process started, by operation (the path after
 * /latest/; the token PUT is "api/token") and outcome (success, not_found,
 * http_error, transport_error); retries counts the attempts after the first. */
const struct opstats *imds_stats(void);

/* The instance's Auto Scaling group: the tag Auto Scaling gives its
 * instances, aws:autoscaling:groupName, read from IMDS
 * (meta-data/tags/instance/aws:autoscaling:groupName), which serves tags
 * only when instance metadata tags are on.  The callback runs exactly once
 * unless cancelled, with the group (checked by Auto Scaling's rule;
 * borrowed, valid during the callback) or an error and a line for the
 * operator that says what to do:
 *   -ENODATA  instance metadata tags are off (meta-data/tags/instance is 404)
 *   -ENOENT   they are on, and the instance has no such tag
 *   -EINVAL   the tag is not a group name
 *   otherwise IMDS's error (imds_result's).
 * *ret (optional) is written before the callback can run: clear it there. */
#define IMDS_ASG_TAG "aws:autoscaling:groupName"
struct imds_group_request;
typedef void (*imds_group_callback_t)(int error, const char *group, const char *error_text,
                                      void *userdata);
int imds_get_autoscaling_group(struct imds *m, imds_group_callback_t cb, void *userdata,
                               struct imds_group_request **ret);
void imds_group_request_cancel(struct imds_group_request *g);
