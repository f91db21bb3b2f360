/* autoscaling.h: client of the Amazon EC2 Auto Scaling API, which speaks the
 * AWS Query protocol: each call is `POST /` with a form-encoded body
 * (Action=...&Version=2011-01-01&Name=Value...), SigV4-signed for service
 * "autoscaling", answered in XML.  Answers are parsed by libxml2 with the
 * network, DTDs and entities off, the size and the nesting bounded.  Retries
 * and error classes are ecs.h's: throttling, 5xx, timeouts and connection
 * errors are retried with full-jitter backoff; access, validation and
 * client errors are returned at once; an authentication error with
 * instance-role credentials fetches new ones and retries once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "credentials.h"
#include "http.h"
#include "opstats.h"

#define AUTOSCALING_API_VERSION "2011-01-01"
#define AUTOSCALING_XMLNS "http://autoscaling.amazonaws.com/doc/2011-01-01/"
#define AUTOSCALING_DEFAULT_MAX_ATTEMPTS 3 /* the SDKs' standard mode */
#define AUTOSCALING_BACKOFF_CAP_MS 20000   /* standard mode's maximum delay */
#define AUTOSCALING_DEFAULT_TIMEOUT_MS 10000
/* An answer larger than this is refused before it is parsed: the lifecycle
 * answers are a few hundred bytes, a full DescribeAutoScalingGroups page
 * some hundred KiB. */
#define AUTOSCALING_XML_MAX (1024 * 1024) /* bytes */
/* Deepest element nesting accepted (AWS's answers nest 6 or 7 deep). */
#define AUTOSCALING_XML_DEPTH_MAX 32

struct autoscaling;
struct autoscaling_call;
struct _xmlDoc; /* libxml2's xmlDoc */

struct autoscaling_config {
        const char *region;       /* required */
        const char *endpoint;     /* NULL: https://autoscaling.<region>.amazonaws.com/ */
        unsigned max_attempts;    /* 0: AUTOSCALING_DEFAULT_MAX_ATTEMPTS */
        unsigned backoff_base_ms; /* 0: 1000; delay = random(0,1) * min(base * 2^n, cap) */
        unsigned timeout_ms;      /* 0: AUTOSCALING_DEFAULT_TIMEOUT_MS */
};

/* Classes of failure, in ecs.h's order (and with its outcome names). */
enum autoscaling_error_kind {
        AUTOSCALING_OK,
        AUTOSCALING_ERR_THROTTLED, /* Throttling, after the retries */
        AUTOSCALING_ERR_SERVER, /* 5xx (InternalFailure, ResourceContention), after the retries */
        AUTOSCALING_ERR_TRANSPORT,   /* timeout, refused, reset, after the retries */
        AUTOSCALING_ERR_AUTH,        /* signature, unknown key, expired token */
        AUTOSCALING_ERR_ACCESS,      /* AccessDenied: the policy lacks the action */
        AUTOSCALING_ERR_CLIENT,      /* ValidationError and the other sender faults */
        AUTOSCALING_ERR_CREDENTIALS, /* no credentials could be had */
        AUTOSCALING_ERR_PROTOCOL,    /* an answer that is not what Auto Scaling sends */
};

/* One form field of a call.  Both strings are borrowed from the caller. */
struct autoscaling_param {
        const char *name;
        const char *value;
};

struct autoscaling_result {
        int error; /* 0, or a negative errno matching kind */
        enum autoscaling_error_kind kind;
        long status;                 /* HTTP status of the last attempt, 0 if none */
        const char *code;            /* the error answer's Code, or NULL */
        const char *service_message; /* the error answer's own Message, or NULL */
        const char *message;    /* one line for the log: operation, code, message; no secrets */
        const char *request_id; /* AWS's RequestId of the last answer, or NULL */
        /* The parsed answer on success, e.g. <CompleteLifecycleActionResponse>
         * (borrowed: valid during the callback). */
        const struct _xmlDoc *document;
        unsigned attempts;
};

typedef void (*autoscaling_callback_t)(const struct autoscaling_result *r, void *userdata);

/* http and creds are borrowed and must outlive the client. */
int autoscaling_new(struct autoscaling **ret, sd_event *event, struct http *http,
                    struct credentials *creds, const struct autoscaling_config *cfg);
struct autoscaling *autoscaling_free(struct autoscaling *a);

/* Call an action ("CompleteLifecycleAction") with its form fields (copied;
 * Action and Version are added).  The callback runs exactly once, from the
 * event loop, unless cancelled; *ret (optional) is written before. */
int autoscaling_call(struct autoscaling *a, const char *action,
                     const struct autoscaling_param *params, size_t n_params,
                     autoscaling_callback_t cb, void *userdata, struct autoscaling_call **ret);
void autoscaling_call_cancel(struct autoscaling_call *c);

/* Release the lifecycle action of instance_id held by hook in group:
 * result "CONTINUE" or "ABANDON"; token (the LifecycleActionToken) may be
 * NULL, instance_id may be NULL when token is not.  -EINVAL at once for a
 * name that breaks Auto Scaling's rules (config_asg_name_valid(),
 * config_asg_hook_name_valid()) or another result. */
int autoscaling_complete_lifecycle_action(struct autoscaling *a, const char *group,
                                          const char *hook, const char *instance_id,
                                          const char *result, const char *token,
                                          autoscaling_callback_t cb, void *userdata,
                                          struct autoscaling_call **ret);
/* Keep the lifecycle action waiting for another heartbeat timeout. */
int autoscaling_record_lifecycle_action_heartbeat(struct autoscaling *a, const char *group,
                                                  const char *hook, const char *instance_id,
                                                  const char *token, autoscaling_callback_t cb,
                                                  void *userdata, struct autoscaling_call **ret);

/* The endpoint actually used (for logs). */
const char *autoscaling_endpoint(const struct autoscaling *a);

/* Calls since the process started, by action and outcome (success,
 * throttled, server_error, ...: enum autoscaling_error_kind's order);
 * retries counts the attempts after the first. */
const struct opstats *autoscaling_stats(void);

/* ---- pure helpers, exposed for tests and the fuzzer ---- */

/* The form body of a call: "Action=A&Version=2011-01-01" then each
 * "name=value" in order, as the AWS SDKs write it (botocore's urlencode):
 * RFC 3986's unreserved bytes (A-Z a-z 0-9 - . _ ~) as they are, a space as
 * '+', every other byte %XX.  (AWS reads %20 as well; moto, which checks a
 * form's signature over the form it re-encodes, does not.)  0 and *ret
 * (malloc'd), -EINVAL (no action, a NULL name or value) or -ENOMEM. */
int autoscaling_encode(const char *action, const struct autoscaling_param *params, size_t n_params,
                       char **ret);

/* A success answer: <ACTIONResponse> with <ResponseMetadata><RequestId>.
 * *ret_doc (free with autoscaling_document_free()) and *ret_request_id
 * (malloc'd, NULL when absent) are written only on success. */
int autoscaling_parse_answer(const char *body, size_t len, const char *action,
                             struct _xmlDoc **ret_doc, char **ret_request_id);
struct _xmlDoc *autoscaling_document_free(struct _xmlDoc *doc);

/* An error answer: <ErrorResponse><Error><Type/><Code/><Message/></Error>
 * <RequestId/></ErrorResponse> (also with <Errors> around <Error>, as moto
 * and EC2 write it).  Strings are malloc'd, control characters replaced by
 * spaces, the message cut to 400 bytes; any may be NULL but code. */
struct autoscaling_error {
        char *type; /* Sender or Receiver */
        char *code;
        char *message;
        char *request_id;
};
int autoscaling_parse_error(const char *body, size_t len, struct autoscaling_error *ret);
void autoscaling_error_done(struct autoscaling_error *e);

/* What both parsers return besides 0: -EMSGSIZE (over AUTOSCALING_XML_MAX),
 * -ENOTSUP (a document type declaration: DTDs and entities are refused
 * before they are read), -ELOOP (nested deeper than
 * AUTOSCALING_XML_DEPTH_MAX), -EBADMSG (not well-formed XML), -EPROTO
 * (well-formed, but not the answer expected), -ENOMEM.  A phrase for each,
 * for messages: */
const char *autoscaling_xml_strerror(int error);

/* Classify an HTTP status and error code. */
enum autoscaling_error_kind autoscaling_classify(long status, const char *code);
bool autoscaling_kind_retryable(enum autoscaling_error_kind kind);

/* The lifecycle action a call named is not waiting: Auto Scaling's
 * ValidationError "No active Lifecycle Action found with instance ID ..."
 * (or "... with token ..."): already completed, timed out, or never held.
 * Retrying cannot change it. */
bool autoscaling_no_active_lifecycle_action(const struct autoscaling_result *r);
