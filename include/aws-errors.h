/* aws-errors.h: what an AWS error answer means to whoever retries it, by
 * the code lists of the AWS SDKs' standard retry mode.  Shared by the ECS
 * (JSON) and Auto Scaling (Query) clients, whose own enums name the same
 * classes in the same order.  Pure. */
#pragma once

enum aws_error_class {
        AWS_ERR_NONE,      /* 200 and no error code */
        AWS_ERR_THROTTLED, /* a throttling code, or HTTP 429 */
        AWS_ERR_SERVER,    /* a server-fault code, or HTTP 5xx */
        AWS_ERR_AUTH,      /* signature, unknown key, expired token */
        AWS_ERR_ACCESS,    /* AccessDenied: the policy lacks the action */
        AWS_ERR_CLIENT,    /* any other sender fault */
};

/* The class of an answer: its HTTP status and error code (without any
 * "prefix#"; NULL when there is none).  extra_server: the service's own
 * server-fault codes beyond the SDKs' (NULL-terminated; NULL for none). */
enum aws_error_class aws_error_classify(long status, const char *code,
                                        const char *const *extra_server);
