/* ecs.c: the ECS JSON 1.1 client.  A call moves through: credentials ->
 * sign and send -> classify the answer -> (maybe) wait and go again.  Each
 * call owns at most one of: a credentials request, an HTTP call, a backoff
 * timer.  Messages handed to callers never hold a secret: they are built
 * from the operation, the AWS error code and the service's message only. */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws-errors.h"
#include "ecs.h"
#include "event-util.h"
#include "macro.h"
#include "opstats.h"
#include "sigv4.h"

#define MESSAGE_MAX 600

struct ecs_call {
        struct ecs *ecs;
        char *op;
        char *body;
        ecs_callback_t cb;
        void *userdata;
        unsigned attempts;
        bool auth_retried;
        bool in_callback;
        char *service_message; /* the last error answer's own message */
        struct credentials_request *creds_req;
        struct http_call *http_call;
        sd_event_source *timer;
        struct ecs_call *prev, *next;
};

struct ecs {
        sd_event *event;
        struct http *http;         /* borrowed */
        struct credentials *creds; /* borrowed */
        char *region, *endpoint, *host;
        unsigned max_attempts, backoff_base_ms, timeout_ms;
        struct ecs_call *calls;
};

/* ECS's own server fault (HTTP 500). */
static const char *const own_server_codes[] = {"ServerException", NULL};

/* The SDKs' classes (aws-errors.c), in this client's names. */
enum ecs_error_kind ecs_classify(long status, const char *code) {
        switch (aws_error_classify(status, code, own_server_codes)) {
        case AWS_ERR_NONE:
                return ECS_OK;
        case AWS_ERR_THROTTLED:
                return ECS_ERR_THROTTLED;
        case AWS_ERR_SERVER:
                return ECS_ERR_SERVER;
        case AWS_ERR_AUTH:
                return ECS_ERR_AUTH;
        case AWS_ERR_ACCESS:
                return ECS_ERR_ACCESS;
        case AWS_ERR_CLIENT:
                return ECS_ERR_CLIENT;
        }
        return ECS_ERR_CLIENT;
}

/* Copy the n bytes at s into a field of size bytes, each one allowed by ok. */
static int arn_field(char *field, size_t size, const char *s, size_t n, bool (*ok)(char c)) {
        if (n == 0 || n >= size)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!ok(s[i]))
                        return -EINVAL;
        memcpy(field, s, n);
        field[n] = 0;
        return 0;
}

static bool is_lower_digit_dash(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}
static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}
static bool is_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
               c == '_';
}
static bool is_hex(char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* 32 hexadecimal digits, or a UUID (8-4-4-4-12). */
static bool instance_id_valid(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
                if (dash ? s[i] != '-' : !is_hex(s[i]))
                        return false;
        }
        return n == 32 || n == 36;
}

int ecs_arn_parse_container_instance(const char *s, struct ecs_arn *ret) {
        static const char resource[] = "container-instance/";
        const char *f[5], *p = s, *slash;
        struct ecs_arn a = {};

        if (!s || strncmp(s, "arn:", 4) != 0)
                return -EINVAL;
        /* arn : partition : ecs : region : account : resource */
        for (size_t i = 0; i < ELEMENTSOF(f); i++) {
                f[i] = p;
                p = strchr(p, ':');
                if (!p)
                        return -EINVAL;
                p++;
        }
        if (arn_field(a.partition, sizeof a.partition, f[1], (size_t)(f[2] - f[1] - 1),
                      is_lower_digit_dash) < 0 ||
            (strcmp(a.partition, "aws") != 0 && strncmp(a.partition, "aws-", 4) != 0) ||
            strncmp(f[2], "ecs:", 4) != 0 ||
            arn_field(a.region, sizeof a.region, f[3], (size_t)(f[4] - f[3] - 1),
                      is_lower_digit_dash) < 0 ||
            arn_field(a.account, sizeof a.account, f[4], (size_t)(p - f[4] - 1), is_digit) < 0 ||
            strlen(a.account) != 12 || strncmp(p, resource, strlen(resource)) != 0)
                return -EINVAL;
        p += strlen(resource);
        slash = strchr(p, '/');
        if (slash &&
            arn_field(a.cluster, sizeof a.cluster, p, (size_t)(slash - p), is_name_char) < 0)
                return -EINVAL;
        p = slash ? slash + 1 : p;
        if (!instance_id_valid(p, strlen(p)))
                return -EINVAL;
        memcpy(a.id, p, strlen(p) + 1);
        *ret = a;
        return 0;
}

const char *ecs_cluster_name(const char *s) {
        const char *c;

        if (!s || strncmp(s, "arn:", 4) != 0)
                return s;
        c = strstr(s, ":cluster/");
        return c ? c + strlen(":cluster/") : s;
}

bool ecs_cluster_not_found(const struct ecs_result *r) {
        /* ClusterNotFoundException from most operations; RegisterContainerInstance
         * says it as a ClientException, matched on its exact text as the
         * official agent does. */
        return streq_ptr(r->code, "ClusterNotFoundException") ||
               (streq_ptr(r->code, "ClientException") &&
                streq_ptr(r->service_message, "Cluster not found."));
}

bool ecs_kind_retryable(enum ecs_error_kind kind) {
        return kind == ECS_ERR_THROTTLED || kind == ECS_ERR_SERVER || kind == ECS_ERR_TRANSPORT ||
               kind == ECS_ERR_PROTOCOL;
}

static int kind_errno(enum ecs_error_kind kind) {
        static const int errnos[] = {
                [ECS_OK] = 0,
                [ECS_ERR_THROTTLED] = -EBUSY,
                [ECS_ERR_SERVER] = -EBUSY,
                [ECS_ERR_TRANSPORT] = -ETIMEDOUT,
                [ECS_ERR_AUTH] = -EPERM,
                [ECS_ERR_ACCESS] = -EACCES,
                [ECS_ERR_CLIENT] = -EINVAL,
                [ECS_ERR_CREDENTIALS] = -ENOKEY,
                [ECS_ERR_PROTOCOL] = -EPROTO,
        };
        return errnos[kind];
}

/* Copy at most max bytes of s, with control characters replaced, so a
 * hostile answer cannot forge log lines. */
static char *clean_copy(const char *s, size_t n, size_t max) {
        char *out;

        if (n > max)
                n = max;
        out = strndup(s, n);
        if (!out)
                return NULL;
        for (char *p = out; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = ' ';
        return out;
}

/* The code without "prefix#" and without ":suffix". */
static char *clean_code(const char *s, size_t n) {
        const char *hash = memrchr(s, '#', n);
        const char *colon;

        if (hash) {
                n -= (size_t)(hash + 1 - s);
                s = hash + 1;
        }
        colon = memchr(s, ':', n);
        if (colon)
                n = (size_t)(colon - s);
        return n ? clean_copy(s, n, 128) : NULL;
}

static int xml_element(const char *body, size_t len, const char *name, const char **ret,
                       size_t *ret_len) {
        char open[32], close[32];
        const char *a, *b;

        snprintf(open, sizeof open, "<%s>", name);
        snprintf(close, sizeof close, "</%s>", name);
        a = memmem(body, len, open, strlen(open));
        if (!a)
                return -ENOENT;
        a += strlen(open);
        b = memmem(a, len - (size_t)(a - body), close, strlen(close));
        if (!b)
                return -ENOENT;
        *ret = a;
        *ret_len = (size_t)(b - a);
        return 0;
}

int ecs_parse_error(const char *body, size_t len, char **ret_code, char **ret_message) {
        char *code = NULL, *message = NULL;
        cJSON *j;

        if (!body || !ret_code || !ret_message)
                return -EINVAL;
        j = cJSON_ParseWithLength(body, len);
        if (cJSON_IsObject(j)) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
                if (!cJSON_IsString(m))
                        m = cJSON_GetObjectItemCaseSensitive(j, "Message");
                if (!cJSON_IsString(t))
                        t = cJSON_GetObjectItemCaseSensitive(j, "code");
                if (cJSON_IsString(t))
                        code = clean_code(t->valuestring, strlen(t->valuestring));
                if (cJSON_IsString(m))
                        message = clean_copy(m->valuestring, strlen(m->valuestring), 400);
        } else {
                const char *s;
                size_t n;
                if (xml_element(body, len, "Code", &s, &n) == 0)
                        code = clean_code(s, n);
                if (xml_element(body, len, "Message", &s, &n) == 0)
                        message = clean_copy(s, n, 400);
        }
        cJSON_Delete(j);
        if (!code) {
                free(message);
                return -EINVAL;
        }
        *ret_code = code;
        *ret_message = message;
        return 0;
}

static void call_unlink(struct ecs_call *c) {
        struct ecs *e = c->ecs;
        if (c->prev)
                c->prev->next = c->next;
        else if (e->calls == c)
                e->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void call_free(struct ecs_call *c) {
        credentials_request_cancel(c->creds_req);
        http_call_cancel(c->http_call);
        sd_event_source_disable_unref(c->timer);
        free(c->op);
        free(c->body);
        free(c->service_message);
        free(c);
}

/* Outcome names, in enum ecs_error_kind's order. */
static struct opstats stats = {
        .outcomes = (const char *const[]){"success", "throttled", "server_error", "transport_error",
                                          "auth_error", "access_denied", "client_error",
                                          "no_credentials", "protocol_error", NULL},
};

const struct opstats *ecs_stats(void) {
        return &stats;
}

static void finish(struct ecs_call *c, enum ecs_error_kind kind, long status, const char *code,
                   const cJSON *response, const char *fmt, ...) _printf_(6, 7);
static void finish(struct ecs_call *c, enum ecs_error_kind kind, long status, const char *code,
                   const cJSON *response, const char *fmt, ...) {
        char message[MESSAGE_MAX] = "";
        struct ecs_result r = {
                .error = kind_errno(kind),
                .kind = kind,
                .status = status,
                .code = code,
                .service_message = code ? c->service_message : NULL,
                .response = response,
                .attempts = c->attempts,
        };
        va_list ap;
        int n;

        if (fmt) {
                n = snprintf(message, sizeof message, "ECS %s: ", c->op);
                va_start(ap, fmt);
                if (n > 0 && (size_t)n < sizeof message)
                        vsnprintf(message + n, sizeof message - (size_t)n, fmt, ap);
                va_end(ap);
                r.message = message;
        }
        opstats_count(&stats, c->op, kind);
        call_unlink(c);
        c->in_callback = true;
        c->cb(&r, c->userdata);
        call_free(c);
}

static void start(struct ecs_call *c);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct ecs_call *c = userdata;
        (void)s, (void)usec;
        c->timer = sd_event_source_disable_unref(c->timer);
        start(c);
        return 0;
}

/* Full jitter: random(0,1) * min(base * 2^(attempt-1), cap). */
static uint64_t backoff_usec(const struct ecs *e, unsigned attempt) {
        uint64_t cap = (uint64_t)e->backoff_base_ms << (attempt > 16 ? 16 : attempt - 1);
        if (cap > ECS_BACKOFF_CAP_MS)
                cap = ECS_BACKOFF_CAP_MS;
        return (uint64_t)((double)cap * 1000 * ((double)random() / ((double)RAND_MAX + 1)));
}

/* Retry a retryable failure while attempts remain; otherwise report it. */
static void retry_or_finish(struct ecs_call *c, enum ecs_error_kind kind, long status,
                            const char *code, const char *what) {
        int r;

        if (c->attempts < c->ecs->max_attempts) {
                r = sd_event_add_time_relative(c->ecs->event, &c->timer, CLOCK_MONOTONIC,
                                               backoff_usec(c->ecs, c->attempts),
                                               TIMER_ACCURACY_USEC, on_timer, c);
                if (r >= 0) {
                        stats.retries++;
                        return;
                }
        }
        finish(c, kind, status, code, NULL, "%s (after %u attempts)", what, c->attempts);
}

static void on_http(const struct http_response *resp, void *userdata) {
        struct ecs_call *c = userdata;
        _cleanup_free_ char *code = NULL, *message = NULL;
        char what[MESSAGE_MAX];
        enum ecs_error_kind kind;
        cJSON *j;

        c->http_call = NULL;
        c->attempts++;
        if (resp->error) {
                snprintf(what, sizeof what, "cannot reach %s: %s", c->ecs->endpoint,
                         resp->error_text);
                retry_or_finish(c, resp->error == -EMSGSIZE ? ECS_ERR_PROTOCOL : ECS_ERR_TRANSPORT,
                                0, NULL, what);
                return;
        }
        if (resp->status == 200) {
                j = cJSON_ParseWithLength(resp->body, resp->body_len);
                if (!cJSON_IsObject(j)) {
                        cJSON_Delete(j);
                        retry_or_finish(c, ECS_ERR_PROTOCOL, 200, NULL,
                                        "the answer is not a JSON object");
                        return;
                }
                finish(c, ECS_OK, 200, NULL, j, NULL);
                cJSON_Delete(j);
                return;
        }

        if (ecs_parse_error(resp->body, resp->body_len, &code, &message) < 0)
                code = NULL;
        free(c->service_message);
        c->service_message = message ? strdup(message) : NULL;
        kind = ecs_classify(resp->status, code);
        snprintf(what, sizeof what, "%s%s%s (HTTP %ld)", code ? code : "error", message ? ": " : "",
                 message ? message : "", resp->status);

        switch (kind) {
        case ECS_ERR_AUTH:
                /* Role keys rotate: fetch new ones and try once more.  Static
                 * keys cannot change, so retrying would only repeat the error. */
                if (!c->auth_retried && !credentials_is_static(c->ecs->creds)) {
                        c->auth_retried = true;
                        stats.retries++;
                        credentials_invalidate(c->ecs->creds);
                        start(c);
                        return;
                }
                finish(c, kind, resp->status, code, NULL,
                       "authentication failed: %s; check the credentials (%s)", what,
                       credentials_source(c->ecs->creds));
                return;
        case ECS_ERR_ACCESS:
                finish(c, kind, resp->status, code, NULL, "%s; the IAM policy must allow ecs:%s",
                       what, c->op);
                return;
        default:
                if (ecs_kind_retryable(kind))
                        retry_or_finish(c, kind, resp->status, code, what);
                else
                        finish(c, kind, resp->status, code, NULL, "%s", what);
        }
}

static void send_signed(struct ecs_call *c, const struct aws_credentials *cr) {
        struct ecs *e = c->ecs;
        _cleanup_free_ char *target = NULL, *h_host = NULL, *h_target = NULL;
        char *extra[SIGV4_MAX_HEADERS] = {};
        const char *headers[5 + SIGV4_MAX_HEADERS + 1] = {};
        struct sigv4_header sh[3];
        struct sigv4_result sr = {};
        const char *why = NULL;
        size_t n = 0;
        int r;

        if (asprintf(&target, ECS_TARGET_PREFIX "%s", c->op) < 0) {
                finish(c, ECS_ERR_PROTOCOL, 0, NULL, NULL, "out of memory");
                return;
        }
        sh[0] = (struct sigv4_header){"Host", e->host};
        sh[1] = (struct sigv4_header){"Content-Type", "application/x-amz-json-1.1"};
        sh[2] = (struct sigv4_header){"X-Amz-Target", target};
        r = sigv4_sign(&(struct sigv4_request){.method = "POST",
                                               .path = "/",
                                               .headers = sh,
                                               .n_headers = ELEMENTSOF(sh),
                                               .body = c->body,
                                               .body_len = strlen(c->body)},
                       &(struct sigv4_params){.access_key_id = cr->access_key_id,
                                              .secret_access_key = cr->secret_access_key,
                                              .session_token = cr->session_token,
                                              .region = e->region,
                                              .service = "ecs",
                                              .when = time(NULL),
                                              .location = SIGV4_IN_HEADERS,
                                              .normalize_path = true},
                       &sr);
        if (r < 0) {
                finish(c, ECS_ERR_CREDENTIALS, 0, NULL, NULL,
                       "cannot sign the request (%s): the credentials are malformed", strerror(-r));
                return;
        }

        if (asprintf(&h_host, "Host: %s", e->host) < 0 ||
            asprintf(&h_target, "X-Amz-Target: %s", target) < 0)
                goto oom;
        headers[n++] = h_host;
        headers[n++] = "Content-Type: application/x-amz-json-1.1";
        headers[n++] = h_target;
        headers[n++] = "User-Agent: ecs-hostd/" HOSTD_VERSION;
        for (size_t i = 0; i < sr.n_headers; i++) {
                if (asprintf(&extra[i], "%s: %s", sr.headers[i].name, sr.headers[i].value) < 0)
                        goto oom;
                headers[n++] = extra[i];
        }
        r = http_submit(e->http,
                        &(struct http_request){.method = "POST",
                                               .url = e->endpoint,
                                               .headers = headers,
                                               .body = c->body,
                                               .body_len = strlen(c->body),
                                               .timeout_ms = e->timeout_ms,
                                               .via_proxy = true},
                        on_http, c, &c->http_call, &why);
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                erase_and_free(extra[i]); /* the token's header */
        sigv4_result_done(&sr);
        if (r < 0)
                finish(c, ECS_ERR_TRANSPORT, 0, NULL, NULL, "cannot send to %s: %s", e->endpoint,
                       why ? why : strerror(-r));
        return;
oom:
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                erase_and_free(extra[i]);
        sigv4_result_done(&sr);
        finish(c, ECS_ERR_PROTOCOL, 0, NULL, NULL, "out of memory");
}

static void on_creds(const struct aws_credentials *cr, int error, const char *text,
                     void *userdata) {
        struct ecs_call *c = userdata;

        c->creds_req = NULL;
        if (error < 0) {
                c->attempts++;
                finish(c, ECS_ERR_CREDENTIALS, 0, NULL, NULL, "no credentials: %s",
                       text ? text : strerror(-error));
                return;
        }
        send_signed(c, cr);
}

static void start(struct ecs_call *c) {
        int r = credentials_get(c->ecs->creds, on_creds, c, &c->creds_req);
        if (r < 0)
                finish(c, ECS_ERR_CREDENTIALS, 0, NULL, NULL, "no credentials: %s", strerror(-r));
}

static int host_of(const char *url, char **ret) {
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL;
        int r = -EINVAL;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                /* Only an explicit port is part of Host: curl sends the same. */
                if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
                        r = asprintf(ret, "%s:%s", host, port) < 0 ? -ENOMEM : 0;
                else
                        r = (*ret = strdup(host)) ? 0 : -ENOMEM;
        }
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

int ecs_new(struct ecs **ret, sd_event *event, struct http *http, struct credentials *creds,
            const struct ecs_config *cfg) {
        _cleanup_free_ char *endpoint = NULL;
        struct ecs *e;
        int r;

        if (!ret || !event || !http || !creds || !cfg || !cfg->region || !*cfg->region)
                return -EINVAL;
        if (cfg->endpoint && *cfg->endpoint)
                endpoint = strdup(cfg->endpoint);
        else if (asprintf(&endpoint, "https://ecs.%s.amazonaws.com/", cfg->region) < 0)
                endpoint = NULL;
        if (!endpoint)
                return -ENOMEM;
        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        r = host_of(endpoint, &e->host);
        if (r < 0) {
                free(e);
                return r;
        }
        e->endpoint = TAKE_PTR(endpoint);
        e->region = strdup(cfg->region);
        if (!e->region) {
                ecs_free(e);
                return -ENOMEM;
        }
        e->event = sd_event_ref(event);
        e->http = http;
        e->creds = creds;
        e->max_attempts = cfg->max_attempts ? cfg->max_attempts : ECS_DEFAULT_MAX_ATTEMPTS;
        e->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : 1000;
        e->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : ECS_DEFAULT_TIMEOUT_MS;
        *ret = e;
        return 0;
}

struct ecs *ecs_free(struct ecs *e) {
        if (!e)
                return NULL;
        while (e->calls) {
                struct ecs_call *c = e->calls;
                call_unlink(c);
                call_free(c);
        }
        free(e->region);
        free(e->endpoint);
        free(e->host);
        sd_event_unref(e->event);
        free(e);
        return NULL;
}

int ecs_call(struct ecs *e, const char *operation, const cJSON *request, ecs_callback_t cb,
             void *userdata, struct ecs_call **ret) {
        struct ecs_call *c;

        if (!e || !operation || !*operation || !cb)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->ecs = e;
        c->cb = cb;
        c->userdata = userdata;
        c->op = strdup(operation);
        c->body = request ? cJSON_PrintUnformatted(request) : strdup("{}");
        if (!c->op || !c->body) {
                call_free(c);
                return -ENOMEM;
        }
        c->next = e->calls;
        if (e->calls)
                e->calls->prev = c;
        e->calls = c;
        if (ret)
                *ret = c;
        start(c);
        return 0;
}

void ecs_call_cancel(struct ecs_call *c) {
        if (!c || c->in_callback)
                return;
        call_unlink(c);
        call_free(c);
}

const char *ecs_endpoint(const struct ecs *e) {
        return e ? e->endpoint : NULL;
}
