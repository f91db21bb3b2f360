/* aws-errors.c: the SDKs' standard retry mode's code lists (see
 * aws-errors.h), in one place for every client. */
#include <stdbool.h>
#include <string.h>

#include "aws-errors.h"

static const char *const throttling_codes[] = {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        NULL,
};
static const char *const auth_codes[] = {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "AuthFailure",
        "InvalidAccessKeyId",
        "RequestExpired",
        NULL,
};
static const char *const access_codes[] = {"AccessDenied", "AccessDeniedException", NULL};
static const char *const server_codes[] = {
        "InternalFailure", "InternalError",           "ServiceUnavailable",
        "RequestTimeout",  "RequestTimeoutException", NULL,
};

static bool in_list(const char *code, const char *const *list) {
        for (size_t i = 0; code && list && list[i]; i++)
                if (strcmp(code, list[i]) == 0)
                        return true;
        return false;
}

enum aws_error_class aws_error_classify(long status, const char *code,
                                        const char *const *extra_server) {
        if (status == 200 && !code)
                return AWS_ERR_NONE;
        if (in_list(code, throttling_codes) || status == 429)
                return AWS_ERR_THROTTLED;
        if (in_list(code, auth_codes))
                return AWS_ERR_AUTH;
        if (in_list(code, access_codes))
                return AWS_ERR_ACCESS;
        if (in_list(code, server_codes) || in_list(code, extra_server) || status >= 500)
                return AWS_ERR_SERVER;
        if (status == 403 && !code)
                return AWS_ERR_ACCESS;
        return AWS_ERR_CLIENT;
}
