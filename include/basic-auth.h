/* basic-auth.h: HTTP Basic authentication of the metrics endpoint against
 * the web configuration's bcrypt hashes, without ever running bcrypt on
 * the daemon's loop (which also polls IMDS every second).  Credentials
 * that verified before are answered on the loop from a small cache (a
 * salted SHA-256 of user and password, compared in constant time); any
 * other attempt goes to one worker thread through a bounded queue, and its
 * verdict comes back on the loop through an eventfd.  A full queue answers
 * at once (BASIC_AUTH_BUSY), so wrong passwords cost at most one bcrypt
 * run at a time and a few waiting.  Failures are never cached.  This is
 * the daemon's one thread: it touches nothing but its jobs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "webconfig.h"

#define BASIC_AUTH_CACHE_MAX 16     /* credentials remembered as verified */
#define BASIC_AUTH_JOBS_MAX 4       /* checks queued, running or being answered */
#define BASIC_AUTH_DECODED_MAX 1024 /* bytes of user:password in a header */

enum basic_auth_result {
        BASIC_AUTH_OK,      /* right credentials (from the cache) */
        BASIC_AUTH_DENIED,  /* none, malformed, or wrong in a way seen at once */
        BASIC_AUTH_PENDING, /* the worker checks them: done() will say */
        BASIC_AUTH_BUSY,    /* too many checks in flight: try again later */
};

/* A PENDING check's verdict, called from the loop with its cookie. */
typedef void (*basic_auth_done_fn)(void *cookie, bool ok, void *userdata);

struct basic_auth;

/* users (copied) are the accepted credentials, n_users >= 1; the worker
 * starts at once.  done and userdata are borrowed. */
_must_check_ int basic_auth_new(struct basic_auth **ret, sd_event *event,
                                const struct webconfig_user *users, size_t n_users,
                                basic_auth_done_fn done, void *userdata);
/* Stops the worker (after the bcrypt run it is in, if any); checks still
 * pending are dropped without a done() call.  Accepts NULL. */
struct basic_auth *basic_auth_free(struct basic_auth *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct basic_auth *, basic_auth_free)

/* Check an Authorization header's value (NULL: none).  cookie comes back
 * to done() for BASIC_AUTH_PENDING; it is not looked at. */
enum basic_auth_result basic_auth_check(struct basic_auth *a, const char *authorization,
                                        void *cookie);

/* The user:password of a "Basic <base64>" header value, decoded into buf
 * (BASIC_AUTH_DECODED_MAX bytes): its length, or -EINVAL.  Pure. */
int basic_auth_decode(const char *authorization, char buf[static BASIC_AUTH_DECODED_MAX]);
