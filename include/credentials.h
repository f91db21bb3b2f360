/* credentials.h: where the daemon's AWS credentials come from.  Static keys
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN) when set,
 * otherwise the instance role served by IMDS, refreshed ahead of its
 * Expiration and after an authentication error.  No function here ever puts
 * a secret into an error text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "imds.h"

/* IMDS publishes new role keys at least 5 minutes before Expiration. */
#define CREDENTIALS_REFRESH_AHEAD_SEC 300

struct aws_credentials {
        char *access_key_id;
        char *secret_access_key;
        char *session_token; /* NULL for long-term keys */
        time_t expiration;   /* 0: does not expire */
};
void aws_credentials_done(struct aws_credentials *c);

/* Parse the JSON of iam/security-credentials/<role>.  Pure.  On failure
 * returns -EINVAL and sets *error (malloc'd, caller frees) to a message that
 * names the field, never a value. */
int credentials_parse_imds(const char *json, size_t len, struct aws_credentials *ret, char **error);

/* Parse "2026-11-22T08:00:00Z" (ISO 8601, UTC); -EINVAL when malformed. */
int credentials_parse_time(const char *s, time_t *ret);

struct credentials;
struct credentials_request;

struct credentials_config {
        /* Static keys; used when both id and secret are set. */
        const char *access_key_id;
        const char *secret_access_key;
        const char *session_token;
};

/* imds may be NULL when only static keys are wanted; borrowed. */
int credentials_new(struct credentials **ret, sd_event *event, struct imds *imds,
                    const struct credentials_config *cfg);
struct credentials *credentials_free(struct credentials *c);

/* c is NULL on error.  The credentials are borrowed: valid during the callback. */
typedef void (*credentials_callback_t)(const struct aws_credentials *c, int error,
                                       const char *error_text, void *userdata);

/* Get usable credentials.  When they are cached and fresh the callback runs
 * before this returns; otherwise once IMDS has answered.  *ret (optional) is
 * written before any callback runs; clear it in the callback. */
int credentials_get(struct credentials *c, credentials_callback_t cb, void *userdata,
                    struct credentials_request **ret);
void credentials_request_cancel(struct credentials_request *q);

/* After an authentication error: the next get fetches anew (instance role
 * only; static keys cannot change). */
void credentials_invalidate(struct credentials *c);

/* Static keys (from the configuration) rather than the instance role. */
bool credentials_is_static(const struct credentials *c);

/* "environment" or "instance-role" (for logs and --check-config). */
const char *credentials_source(const struct credentials *c);

/* The instance role's credentials fetched from IMDS since the process
 * started (static keys are never fetched). */
struct credentials_stats {
        uint64_t refreshes; /* fetched and parsed */
        uint64_t failures;  /* a fetch that failed (IMDS, or an unusable answer) */
        time_t expiration;  /* of the last fetched credentials; 0 before any */
};
const struct credentials_stats *credentials_stats(void);
