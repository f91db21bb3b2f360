/* sigv4.h: AWS Signature Version 4 (AWS4-HMAC-SHA256) request signing, in the
 * Authorization header or as a pre-signed query string, and the parser of the
 * signing suite's request.txt format.  Pure: no logging, no globals, no I/O.
 * Inputs are borrowed for the call only; every output is owned by its result. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One header.  Both strings are borrowed (owned by whoever built the array). */
struct sigv4_header {
        const char *name;
        const char *value;
};

/* The request to sign.  All pointers are borrowed from the caller. */
struct sigv4_request {
        const char *method; /* "GET", "POST": an HTTP token, required */
        const char *path;   /* as on the request line, before '?'; NULL or "" means "/" */
        const char *query;  /* raw query after '?' (encoded or not); NULL or "" if none */
        const struct sigv4_header *headers; /* must include Host */
        size_t n_headers;
        const void *body; /* may be NULL when body_len is 0 */
        size_t body_len;
};

/* Where the signature goes. */
enum sigv4_location {
        SIGV4_IN_HEADERS, /* Authorization and X-Amz-* headers (what the daemon uses) */
        SIGV4_IN_QUERY,   /* a pre-signed URL: X-Amz-* query parameters */
};

/* How to sign.  All strings are borrowed from the caller. */
struct sigv4_params {
        const char *access_key_id;
        const char *secret_access_key;
        const char *session_token; /* NULL or "" when the credentials have none */
        const char *region;        /* "us-east-1" */
        const char *service;       /* "ecs"; "s3" turns off double encoding of the path */
        time_t when;               /* signing time, UTC seconds */
        enum sigv4_location location;
        unsigned expires; /* SIGV4_IN_QUERY only: X-Amz-Expires, seconds (1..604800) */
        /* Remove "." and ".." segments and empty segments ("//") from the path
         * before signing; what the signing suite calls "normalize". */
        bool normalize_path;
        /* Sign an x-amz-content-sha256 header carrying the body hash (S3 wants
         * it; ECS does not).  Header signing only. */
        bool sign_body;
        /* Add the session token after signing, unsigned (some services, e.g.
         * IoT, want it so).  Default false: the token is signed. */
        bool omit_session_token;
};

/* At most: X-Amz-Security-Token, X-Amz-Date, x-amz-content-sha256, Authorization. */
#define SIGV4_MAX_HEADERS 4

/* The outcome.  Every string is owned by the result; free with
 * sigv4_result_done().  Fields a location does not use stay NULL. */
struct sigv4_result {
        char *amz_date;          /* "20150830T123600Z" */
        char *payload_hash;      /* hex SHA-256 of the body */
        char *canonical_request; /* the intermediate results, for tests and debugging */
        char *string_to_sign;
        char *signature;     /* 64 lowercase hex digits */
        char *authorization; /* SIGV4_IN_HEADERS: the Authorization header value */
        char *session_token; /* a copy of the token, when there is one */
        /* SIGV4_IN_QUERY: the query to send (the caller's raw query followed by
         * the X-Amz-* parameters, signature last). */
        char *query;
        /* SIGV4_IN_HEADERS: the headers the caller must add to the request, in
         * this order, after its own.  Names are static strings, values point
         * into the fields above. */
        struct sigv4_header headers[SIGV4_MAX_HEADERS];
        size_t n_headers;
};

/* Sign req.  Returns 0 and fills *ret, or -EINVAL on bad input (NULL or empty
 * method, region, service or keys; no Host header; a header the signer owns
 * (Authorization, X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256)
 * already present; a header name that is not an HTTP token; control
 * characters in a value other than folding whitespace), -ERANGE when `when`
 * is outside years 0..9999, -ENOMEM, or -EIO when libcrypto fails.  *ret is
 * written only on success. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *p,
               struct sigv4_result *ret);

/* Free what a result owns (secrets are wiped first) and zero it.  Accepts a
 * zeroed result. */
void sigv4_result_done(struct sigv4_result *r);

/* A request in the signing suite's request.txt format: request line
 * ("METHOD PATH[?QUERY] VERSION", the path may hold spaces), header lines
 * "Name:value" (a line starting with a space or tab continues the previous
 * value, kept with its newline), a blank line, then the body.  The parsed
 * message owns everything `request` points to. */
struct sigv4_message {
        struct sigv4_request request; /* views into this message */
        char *version;                /* "HTTP/1.1" */
        /* private: owned storage behind `request` */
        char *method_, *path_, *query_;
        struct sigv4_header *headers_;
        char **strings_;
        size_t n_strings_;
        void *body_;
};

/* Parse request.txt bytes (need not be NUL-terminated; CRLF or LF line ends).
 * Returns 0, -EINVAL with *ret_error (optional) set to a static description,
 * or -ENOMEM.  *ret is written only on success. */
int sigv4_message_parse(struct sigv4_message **ret, const void *text, size_t len,
                        const char **ret_error);

/* Accepts NULL; returns NULL. */
struct sigv4_message *sigv4_message_free(struct sigv4_message *m);

/* The signed request in the suite's signed-request.txt layout: for
 * SIGV4_IN_HEADERS the original request with result->headers appended after
 * its headers; for SIGV4_IN_QUERY the request line carries result->query.
 * LF line ends.  Returns 0 with *ret (NUL-terminated, caller frees) and
 * *ret_len, or -EINVAL/-ENOMEM. */
int sigv4_message_format_signed(const struct sigv4_message *m, const struct sigv4_result *r,
                                char **ret, size_t *ret_len);
