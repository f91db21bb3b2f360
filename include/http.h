/* http.h: asynchronous HTTP client on the daemon's sd-event loop, built on
 * libcurl's multi interface.  Nothing here blocks: requests are submitted and
 * their callback runs from the loop when they finish.  TLS verification is
 * always on.  Plain http is allowed only to loopback and to IMDS's addresses
 * (169.254.169.254, fd00:ec2::254: IMDS is http by design), and a signed
 * request (SigV4 Authorization or a session token) over plain http only to
 * loopback, checked on the address actually connected to (a proxy's, when
 * one is used); anything else is refused before any traffic.  A request
 * goes through a proxy only when it asks for one; the environment's proxy
 * variables are never read here (the configuration maps them). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct http;
struct http_call;

/* Defaults: a whole request may take 10 s; bodies are capped at 1 MiB. */
#define HTTP_DEFAULT_TIMEOUT_MS 10000
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)

struct http_request {
        const char *method;         /* "GET", "PUT", "POST", "DELETE" */
        const char *url;            /* http(s)://host[:port]/path?query */
        const char *const *headers; /* "Name: value" strings, NULL-terminated; may be NULL */
        const void *body;           /* copied at submit; may be NULL */
        size_t body_len;
        uint64_t timeout_ms;         /* whole transfer; 0 = HTTP_DEFAULT_TIMEOUT_MS */
        uint64_t connect_timeout_ms; /* 0 = HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
        size_t max_body;             /* response body cap; 0 = HTTP_DEFAULT_MAX_BODY */
        bool via_proxy; /* through http_set_proxy()'s proxy (ECS calls); else always direct */
};

/* Where requests with via_proxy go.  Strings are copied; NULL or "" means
 * none.  A proxy URL may carry user:password (kept, wiped when freed). */
struct http_proxy {
        const char *http;     /* for http:// URLs; "host:port" means http:// */
        const char *https;    /* for https:// URLs (a CONNECT tunnel) */
        const char *no_proxy; /* hosts reached directly, as curl's CURLOPT_NOPROXY */
};

struct http_response {
        /* 0 when an HTTP response arrived (any status); otherwise a negative
         * errno for the transport failure: -ETIMEDOUT, -ECONNREFUSED,
         * -ECONNRESET (connection dropped, nothing or a partial answer),
         * -EHOSTUNREACH (name resolution, routing), -EMSGSIZE (body over the
         * cap), -EPROTO (TLS or protocol error), -EIO (anything else). */
        int error;
        const char *error_text; /* human-readable cause when error != 0 */
        long status;            /* HTTP status when error == 0 */
        const char *body;       /* NUL-terminated; never NULL; valid during the callback */
        size_t body_len;
        bool connection_reused; /* no new connection was opened for this request */
        uint64_t elapsed_usec;
        struct http_call *call; /* for http_response_header() */
};

/* Value of a response header (case-insensitive name), or NULL.  Valid only
 * during the callback. */
const char *http_response_header(const struct http_response *r, const char *name);

/* The callback runs exactly once per submitted call unless the call is
 * cancelled first.  The call is freed right after the callback returns. */
typedef void (*http_callback_t)(const struct http_response *resp, void *userdata);

int http_new(struct http **ret, sd_event *event);
/* Cancels outstanding calls without running their callbacks. */
struct http *http_free(struct http *h);

/* Set (or, with NULL, clear) the proxy of later via_proxy requests. */
int http_set_proxy(struct http *h, const struct http_proxy *p);

/* Start a request.  *ret_call (optional) lets the caller cancel it; it stays
 * valid until the callback has run or http_call_cancel() was called.
 * Returns -EPERM (with *err_text set when given) for plain http to an
 * address it is not allowed to (see above), -EINVAL for a malformed URL or
 * request.  A signed plain-http request that would connect to a
 * non-loopback address (a proxy's) fails with -EPERM in its callback. */
int http_submit(struct http *h, const struct http_request *req, http_callback_t cb, void *userdata,
                struct http_call **ret_call, const char **err_text);

/* Abort a call; its callback will not run.  Accepts NULL. */
void http_call_cancel(struct http_call *c);

/* Whether this URL may be fetched unsigned: https anywhere, plain http to a
 * literal loopback address, localhost, 169.254.169.254 or fd00:ec2::254.
 * Pure; exposed for tests. */
bool http_url_plain_allowed(const char *url);

/* Number of calls in flight (tests and the introspection endpoint). */
unsigned http_in_flight(const struct http *h);
