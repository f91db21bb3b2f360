/* imds.c: the IMDS client.  Requests wait while a token is being fetched,
 * then go out with it; each request owns its retry timer.  Invariant: at most
 * one token PUT is in flight, and a request is in exactly one of the states
 * WAIT_TOKEN, IN_FLIGHT, BACKOFF until its callback has run. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "escape.h"
#include "event-util.h"
#include "imds.h"
#include "macro.h"
#include "opstats.h"

#define TOKEN_PATH "/latest/api/token"
#define TOKEN_MARGIN_MAX_USEC (60ULL * 1000000) /* refresh at most 60 s before expiry */
#define V1_RETRY_V2_USEC (300ULL * 1000000)     /* after a fallback, try v2 again in 5 min */
#define TOKEN_MAX_LEN 1024

enum state { WAIT_TOKEN, IN_FLIGHT, BACKOFF };

enum outcome { OUTCOME_SUCCESS, OUTCOME_NOT_FOUND, OUTCOME_HTTP_ERROR, OUTCOME_TRANSPORT_ERROR };

static struct opstats stats = {
        .outcomes = (const char *const[]){"success", "not_found", "http_error", "transport_error",
                                          NULL},
};

const struct opstats *imds_stats(void) {
        return &stats;
}

/* The operation a path is counted under: the path after /latest/, with the
 * role name (from IMDS) of a credentials path left out. */
static void count(const char *path, int error, long status) {
        static const char latest[] = "/latest/", creds[] = "meta-data/iam/security-credentials/";
        const char *op =
                strncmp(path, latest, sizeof latest - 1) == 0 ? path + sizeof latest - 1 : path;

        if (strncmp(op, creds, sizeof creds - 1) == 0 && op[sizeof creds - 1])
                op = "meta-data/iam/security-credentials/{role}";
        opstats_count(&stats, op,
                      !error          ? OUTCOME_SUCCESS
                      : status == 404 ? OUTCOME_NOT_FOUND
                      : status > 0    ? OUTCOME_HTTP_ERROR
                                      : OUTCOME_TRANSPORT_ERROR);
}

struct imds_request {
        struct imds *m;
        char *path;
        imds_callback_t cb;
        void *userdata;
        enum state state;
        struct http_call *call;
        sd_event_source *timer;
        unsigned attempts;
        bool retried_401;
        bool in_callback;
        char errbuf[256];
        struct imds_request *prev, *next;
};

struct imds {
        sd_event *event;
        struct http *http; /* borrowed: owned by the caller, outlives us */
        char *endpoint;
        unsigned ttl, timeout_ms, retries, backoff_ms;
        size_t max_body;
        bool v1_fallback;

        char *token;
        uint64_t token_expiry; /* CLOCK_MONOTONIC usec */
        bool v1;
        uint64_t v1_until;
        struct http_call *token_call;
        sd_event_source *token_timer;
        unsigned token_attempts;
        char token_err[256];

        struct imds_request *requests;
};

static void request_unlink(struct imds_request *q) {
        struct imds *m = q->m;
        if (q->prev)
                q->prev->next = q->next;
        else if (m->requests == q)
                m->requests = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->prev = q->next = NULL;
}

static void request_free(struct imds_request *q) {
        http_call_cancel(q->call);
        sd_event_source_disable_unref(q->timer);
        free(q->path);
        free(q);
}

static void finish(struct imds_request *q, int error, long status, const char *body, size_t len) {
        struct imds_result r = {
                .error = error,
                .status = status,
                .body = body ? body : "",
                .body_len = body ? len : 0,
                .error_text = error ? q->errbuf : NULL,
                .attempts = q->attempts,
        };

        count(q->path, error, status);
        request_unlink(q);
        q->call = NULL; /* finished or failed; nothing to cancel */
        q->in_callback = true;
        q->cb(&r, q->userdata);
        request_free(q);
}

static void fail(struct imds_request *q, int error, long status, const char *fmt, ...)
        _printf_(4, 5);
static void fail(struct imds_request *q, int error, long status, const char *fmt, ...) {
        va_list ap;
        int n;

        n = snprintf(q->errbuf, sizeof q->errbuf, "IMDS GET %s: ", q->path);
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof q->errbuf)
                vsnprintf(q->errbuf + n, sizeof q->errbuf - (size_t)n, fmt, ap);
        va_end(ap);
        finish(q, error, status, NULL, 0);
}

static uint64_t token_margin(const struct imds *m) {
        uint64_t margin = (uint64_t)m->ttl * 1000000 / 10;
        return margin < TOKEN_MARGIN_MAX_USEC ? margin : TOKEN_MARGIN_MAX_USEC;
}

static bool need_token(struct imds *m) {
        if (m->v1) {
                if (event_now_usec(m->event) < m->v1_until)
                        return false;
                m->v1 = false; /* time to see whether IMDSv2 is back */
        }
        return !m->token || event_now_usec(m->event) + token_margin(m) >= m->token_expiry;
}

/* Backoff with jitter: base * 2^(n-1), scaled by a random factor in [0.5, 1). */
static uint64_t backoff_usec(const struct imds *m, unsigned attempt) {
        uint64_t d = (uint64_t)m->backoff_ms * 1000 << (attempt > 10 ? 10 : attempt - 1);
        return d / 2 + (uint64_t)((double)(d / 2) * ((double)random() / ((double)RAND_MAX + 1)));
}

static bool retryable_status(long status) {
        return status == 429 || (status >= 500 && status <= 599);
}

static bool retryable_error(int error) {
        return error == -ETIMEDOUT || error == -ECONNRESET || error == -ECONNREFUSED ||
               error == -EHOSTUNREACH || error == -EIO;
}

static void start(struct imds_request *q);
static void ensure_token(struct imds *m);

static int on_request_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct imds_request *q = userdata;
        (void)s, (void)usec;
        q->timer = sd_event_source_disable_unref(q->timer);
        start(q);
        return 0;
}

/* Schedule another attempt, or give up after the configured retries. */
static void retry_or_fail(struct imds_request *q, int error, long status, const char *why) {
        int r;

        if (q->attempts > q->m->retries) {
                fail(q, error, status, "%s (gave up after %u attempts)", why, q->attempts);
                return;
        }
        q->state = BACKOFF;
        stats.retries++;
        r = sd_event_add_time_relative(q->m->event, &q->timer, CLOCK_MONOTONIC,
                                       backoff_usec(q->m, q->attempts), TIMER_ACCURACY_USEC,
                                       on_request_timer, q);
        if (r < 0)
                fail(q, r, status, "%s (cannot schedule a retry)", why);
}

static void on_get_done(const struct http_response *resp, void *userdata) {
        struct imds_request *q = userdata;
        struct imds *m = q->m;
        char why[128];

        q->call = NULL;
        q->attempts++;
        if (resp->error) {
                if (resp->error == -EMSGSIZE) {
                        fail(q, -EMSGSIZE, 0, "response larger than %zu bytes", m->max_body);
                        return;
                }
                snprintf(why, sizeof why, "%s", resp->error_text);
                if (retryable_error(resp->error))
                        retry_or_fail(q, resp->error, 0, why);
                else
                        fail(q, resp->error, 0, "%s", why);
                return;
        }

        switch (resp->status) {
        case 200:
                finish(q, 0, 200, resp->body, resp->body_len);
                return;
        case 404:
                fail(q, -ENOENT, 404, "not found (HTTP 404)");
                return;
        case 403:
                fail(q, -EACCES, 403,
                     "forbidden (HTTP 403): IMDS is disabled or the path is "
                     "not allowed");
                return;
        case 401:
                /* Token expired or unknown (or v1 used where v2 is required):
                 * a new token and one more try. */
                if (!q->retried_401) {
                        q->retried_401 = true;
                        m->token = erase_and_free(m->token);
                        m->v1 = false;
                        start(q);
                        return;
                }
                fail(q, -EPERM, 401, "unauthorized (HTTP 401) even with a fresh token");
                return;
        default:
                snprintf(why, sizeof why, "HTTP %ld", resp->status);
                if (retryable_status(resp->status))
                        retry_or_fail(q, -EBUSY, resp->status, why);
                else
                        fail(q, -EPROTO, resp->status, "unexpected %s", why);
        }
}

static void send_get(struct imds_request *q) {
        struct imds *m = q->m;
        _cleanup_free_ char *url = NULL;
        _cleanup_erase_ char *hdr = NULL; /* carries the IMDSv2 token */
        const char *headers[2] = {};
        const char *why = NULL;
        int r;

        if (asprintf(&url, "%s%s", m->endpoint, q->path) < 0) {
                fail(q, -ENOMEM, 0, "out of memory");
                return;
        }
        if (!m->v1 && m->token) {
                if (asprintf(&hdr, "X-aws-ec2-metadata-token: %s", m->token) < 0) {
                        fail(q, -ENOMEM, 0, "out of memory");
                        return;
                }
                headers[0] = hdr;
        }
        q->state = IN_FLIGHT;
        r = http_submit(m->http,
                        &(struct http_request){.method = "GET",
                                               .url = url,
                                               .headers = headers,
                                               .timeout_ms = m->timeout_ms,
                                               .connect_timeout_ms = m->timeout_ms,
                                               .max_body = m->max_body},
                        on_get_done, q, &q->call, &why);
        if (r < 0)
                fail(q, r, 0, "%s", why ? why : "cannot start the request");
}

static void start(struct imds_request *q) {
        if (need_token(q->m)) {
                q->state = WAIT_TOKEN;
                ensure_token(q->m);
        } else
                send_get(q);
}

/* Send every request that waited for the token.  Each step moves one request
 * out of WAIT_TOKEN, so callbacks that add or cancel requests are safe. */
static void dispatch_waiting(struct imds *m) {
        for (;;) {
                struct imds_request *q = m->requests;
                while (q && q->state != WAIT_TOKEN)
                        q = q->next;
                if (!q)
                        return;
                send_get(q);
        }
}

static void fail_waiting(struct imds *m, int error, long status) {
        for (;;) {
                struct imds_request *q = m->requests;
                while (q && q->state != WAIT_TOKEN)
                        q = q->next;
                if (!q)
                        return;
                q->attempts++;
                fail(q, error, status, "%s", m->token_err);
        }
}

static int on_token_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct imds *m = userdata;
        (void)s, (void)usec;
        m->token_timer = sd_event_source_disable_unref(m->token_timer);
        ensure_token(m);
        return 0;
}

static void token_retry_or_fail(struct imds *m, int error, long status) {
        int r;

        m->token_attempts++;
        if (m->token_attempts <= m->retries) {
                stats.retries++;
                r = sd_event_add_time_relative(m->event, &m->token_timer, CLOCK_MONOTONIC,
                                               backoff_usec(m, m->token_attempts),
                                               TIMER_ACCURACY_USEC, on_token_timer, m);
                if (r >= 0)
                        return;
        }
        m->token_attempts = 0;
        fail_waiting(m, error, status);
}

static bool token_is_sane(const char *t, size_t len) {
        if (len == 0 || len > TOKEN_MAX_LEN)
                return false;
        for (size_t i = 0; i < len; i++)
                if (t[i] < 0x21 || t[i] > 0x7e)
                        return false;
        return true;
}

static void on_token_done(const struct http_response *resp, void *userdata) {
        struct imds *m = userdata;
        const char *ttl_hdr;
        unsigned long ttl;
        char *end;

        m->token_call = NULL;
        count(TOKEN_PATH, resp->error || resp->status != 200 ? -EIO : 0,
              resp->error ? 0 : resp->status);
        if (resp->error) {
                snprintf(m->token_err, sizeof m->token_err, "IMDS token PUT: %s", resp->error_text);
                if (retryable_error(resp->error))
                        token_retry_or_fail(m, resp->error, 0);
                else
                        fail_waiting(m, resp->error, 0);
                return;
        }
        switch (resp->status) {
        case 200:
                if (!token_is_sane(resp->body, resp->body_len)) {
                        snprintf(m->token_err, sizeof m->token_err,
                                 "IMDS token PUT: the answer is not a token (%zu bytes)",
                                 resp->body_len);
                        token_retry_or_fail(m, -EPROTO, 200);
                        return;
                }
                erase_and_free(m->token);
                m->token = strndup(resp->body, resp->body_len);
                if (!m->token) {
                        snprintf(m->token_err, sizeof m->token_err, "out of memory");
                        fail_waiting(m, -ENOMEM, 200);
                        return;
                }
                ttl = m->ttl;
                ttl_hdr = http_response_header(resp, "X-aws-ec2-metadata-token-ttl-seconds");
                if (ttl_hdr) {
                        unsigned long v = strtoul(ttl_hdr, &end, 10);
                        if (*ttl_hdr && !*end && v > 0 && v < ttl)
                                ttl = v;
                }
                m->token_expiry = event_now_usec(m->event) + (uint64_t)ttl * 1000000;
                m->token_attempts = 0;
                dispatch_waiting(m);
                return;
        case 403:
        case 404:
        case 405:
                if (m->v1_fallback) {
                        m->v1 = true;
                        m->v1_until = event_now_usec(m->event) + V1_RETRY_V2_USEC;
                        m->token_attempts = 0;
                        dispatch_waiting(m);
                } else {
                        snprintf(m->token_err, sizeof m->token_err,
                                 "IMDS token PUT refused (HTTP %ld) and IMDSv1 fallback is "
                                 "disabled",
                                 resp->status);
                        fail_waiting(m, -EACCES, resp->status);
                }
                return;
        default:
                snprintf(m->token_err, sizeof m->token_err, "IMDS token PUT: HTTP %ld",
                         resp->status);
                if (retryable_status(resp->status))
                        token_retry_or_fail(m, -EBUSY, resp->status);
                else
                        fail_waiting(m, -EPROTO, resp->status);
        }
}

static void ensure_token(struct imds *m) {
        _cleanup_free_ char *url = NULL, *ttl = NULL;
        const char *headers[2] = {};
        const char *why = NULL;
        int r;

        if (m->token_call || m->token_timer)
                return;
        if (asprintf(&url, "%s" TOKEN_PATH, m->endpoint) < 0 ||
            asprintf(&ttl, "X-aws-ec2-metadata-token-ttl-seconds: %u", m->ttl) < 0) {
                snprintf(m->token_err, sizeof m->token_err, "out of memory");
                fail_waiting(m, -ENOMEM, 0);
                return;
        }
        headers[0] = ttl;
        r = http_submit(m->http,
                        &(struct http_request){.method = "PUT",
                                               .url = url,
                                               .headers = headers,
                                               .body = "",
                                               .body_len = 0,
                                               .timeout_ms = m->timeout_ms,
                                               .connect_timeout_ms = m->timeout_ms,
                                               .max_body = TOKEN_MAX_LEN + 1},
                        on_token_done, m, &m->token_call, &why);
        if (r < 0) {
                snprintf(m->token_err, sizeof m->token_err, "IMDS token PUT: %s",
                         why ? why : "cannot start the request");
                fail_waiting(m, r, 0);
        }
}

int imds_new(struct imds **ret, sd_event *event, struct http *http, const struct imds_config *cfg) {
        struct imds *m;
        const char *ep;
        size_t n;

        if (!ret || !event || !http || !cfg || cfg->token_ttl > 21600)
                return -EINVAL;
        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        ep = cfg->endpoint ? cfg->endpoint : IMDS_DEFAULT_ENDPOINT;
        n = strlen(ep);
        while (n > 0 && ep[n - 1] == '/')
                n--;
        m->endpoint = strndup(ep, n);
        if (!m->endpoint) {
                free(m);
                return -ENOMEM;
        }
        m->event = sd_event_ref(event);
        m->http = http;
        m->ttl = cfg->token_ttl ? cfg->token_ttl : IMDS_DEFAULT_TOKEN_TTL;
        m->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : IMDS_DEFAULT_TIMEOUT_MS;
        m->retries = cfg->retries ? cfg->retries : IMDS_DEFAULT_RETRIES;
        m->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 100;
        m->max_body = cfg->max_body ? cfg->max_body : IMDS_DEFAULT_MAX_BODY;
        m->v1_fallback = cfg->v1_fallback;
        *ret = m;
        return 0;
}

struct imds *imds_free(struct imds *m) {
        if (!m)
                return NULL;
        while (m->requests) {
                struct imds_request *q = m->requests;
                request_unlink(q);
                request_free(q);
        }
        http_call_cancel(m->token_call);
        sd_event_source_disable_unref(m->token_timer);
        erase_and_free(m->token);
        free(m->endpoint);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

int imds_get(struct imds *m, const char *path, imds_callback_t cb, void *userdata,
             struct imds_request **ret) {
        struct imds_request *q;

        if (!m || !path || path[0] != '/' || !cb)
                return -EINVAL;
        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->path = strdup(path);
        if (!q->path) {
                free(q);
                return -ENOMEM;
        }
        q->m = m;
        q->cb = cb;
        q->userdata = userdata;
        q->next = m->requests;
        if (m->requests)
                m->requests->prev = q;
        m->requests = q;
        if (ret)
                *ret = q;
        start(q); /* may finish (and free) q at once on a local failure */
        return 0;
}

void imds_request_cancel(struct imds_request *q) {
        if (!q || q->in_callback)
                return;
        request_unlink(q);
        request_free(q);
}

bool imds_using_v1(const struct imds *m) {
        return m && m->v1;
}

/* ---- the Auto Scaling group from the instance's tags ---- */

#define TAGS_PATH "/latest/meta-data/tags/instance"
#define GROUP_TAG_PATH TAGS_PATH "/" IMDS_ASG_TAG
#define GROUP_QUOTE_MAX 64 /* bytes of a bad tag value quoted */

/* The tag first; on a 404 the tag listing, to tell "tags off" from "no
 * such tag".  Owns at most one IMDS request. */
struct imds_group_request {
        struct imds *m;
        imds_group_callback_t cb;
        void *userdata;
        struct imds_request *q;
        bool in_callback;
};

static void group_finish(struct imds_group_request *g, int error, const char *group,
                         const char *text) {
        g->q = NULL;
        g->in_callback = true;
        g->cb(error, group, text, g->userdata);
        free(g);
}

static void on_tag_listing(const struct imds_result *r, void *userdata) {
        struct imds_group_request *g = userdata;
        char text[512];

        if (r->error == -ENOENT)
                group_finish(g, -ENODATA, NULL,
                             "IMDS serves no instance tags (" TAGS_PATH
                             " is 404), so the Auto Scaling group is unknown: turn instance "
                             "metadata tags on (aws ec2 modify-instance-metadata-options "
                             "--instance-metadata-tags enabled, or InstanceMetadataTags in the "
                             "launch template) or set ECS_HOSTD_ASG_NAME");
        else if (r->error) {
                snprintf(text, sizeof text, "cannot read the instance's Auto Scaling group: %s",
                         r->error_text);
                group_finish(g, r->error, NULL, text);
        } else
                group_finish(g, -ENOENT, NULL,
                             "the instance has no " IMDS_ASG_TAG " tag (IMDS lists its tags "
                             "without it), so no Auto Scaling group launched it; set "
                             "ECS_HOSTD_ASG_NAME if it belongs to one");
}

static void on_group_tag(const struct imds_result *r, void *userdata) {
        struct imds_group_request *g = userdata;
        _cleanup_free_ char *group = NULL;
        char text[512], q[ESCAPE_QUOTE_SIZE(GROUP_QUOTE_MAX)];
        int e;

        g->q = NULL;
        if (r->error == -ENOENT) {
                e = imds_get(g->m, TAGS_PATH, on_tag_listing, g, &g->q);
                if (e < 0)
                        group_finish(g, e, NULL, "cannot ask IMDS for the instance's tags");
                return;
        }
        if (r->error) {
                snprintf(text, sizeof text, "cannot read the instance's Auto Scaling group: %s",
                         r->error_text);
                group_finish(g, r->error, NULL, text);
                return;
        }
        group = strndup(r->body, r->body_len);
        if (!group) {
                group_finish(g, -ENOMEM, NULL, "out of memory");
                return;
        }
        if (strlen(group) != r->body_len || !config_asg_name_valid(group)) {
                snprintf(text, sizeof text,
                         "the instance's " IMDS_ASG_TAG " tag %s is not an Auto Scaling group "
                         "name; set ECS_HOSTD_ASG_NAME",
                         escape_quote(q, r->body, r->body_len, GROUP_QUOTE_MAX, '"'));
                group_finish(g, -EINVAL, NULL, text);
                return;
        }
        group_finish(g, 0, group, NULL);
}

int imds_get_autoscaling_group(struct imds *m, imds_group_callback_t cb, void *userdata,
                               struct imds_group_request **ret) {
        struct imds_group_request *g;
        int r;

        if (!m || !cb)
                return -EINVAL;
        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        *g = (struct imds_group_request){.m = m, .cb = cb, .userdata = userdata};
        if (ret)
                *ret = g;
        /* The callback may run (and free g) before imds_get returns. */
        r = imds_get(m, GROUP_TAG_PATH, on_group_tag, g, &g->q);
        if (r < 0) {
                if (ret)
                        *ret = NULL;
                free(g);
        }
        return r;
}

void imds_group_request_cancel(struct imds_group_request *g) {
        if (!g || g->in_callback)
                return;
        imds_request_cancel(g->q);
        free(g);
}
