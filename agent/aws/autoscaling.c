/* autoscaling.c: the Auto Scaling Query-protocol client.  A call moves as in
 * ecs.c: credentials -> sign and send the form -> classify the answer ->
 * (maybe) wait and go again; each call owns at most one of a credentials
 * request, an HTTP call, a backoff timer.  Answers are read by one XML
 * reader: libxml2 without network access, stopped at a document type
 * declaration (before any entity is declared, so nothing is ever expanded),
 * at AUTOSCALING_XML_MAX bytes and AUTOSCALING_XML_DEPTH_MAX levels.
 * Messages handed to callers never hold a secret. */
#include <curl/curl.h>
#include <errno.h>
#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaling.h"
#include "aws-errors.h"
#include "config.h"
#include "event-util.h"
#include "macro.h"
#include "opstats.h"
#include "sigv4.h"

#define MESSAGE_MAX 600
#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define CODE_MAX 128         /* bytes of an error code kept */
#define SERVICE_TEXT_MAX 400 /* bytes of an error message kept */
#define INSTANCE_ID_MAX 19   /* XmlStringMaxLen19 */
#define TOKEN_LEN 36         /* a LifecycleActionToken is a UUID */

struct autoscaling_call {
        struct autoscaling *as;
        char *action;
        char *body;
        autoscaling_callback_t cb;
        void *userdata;
        unsigned attempts;
        bool auth_retried;
        bool in_callback;
        char *service_message; /* the last error answer's own message */
        char *request_id;      /* the last answer's RequestId */
        struct credentials_request *creds_req;
        struct http_call *http_call;
        sd_event_source *timer;
        struct autoscaling_call *prev, *next;
};

struct autoscaling {
        sd_event *event;
        struct http *http;         /* borrowed */
        struct credentials *creds; /* borrowed */
        char *region, *endpoint, *host;
        unsigned max_attempts, backoff_base_ms, timeout_ms;
        struct autoscaling_call *calls;
};

/* ---- the form ---- */

static bool unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~';
}

/* As the AWS SDKs write a form (botocore: urlencode): a space as '+'. */
static void put_encoded(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (unreserved(*p))
                        fputc(*p, f);
                else if (*p == ' ')
                        fputc('+', f);
                else
                        fprintf(f, "%%%02X", *p);
}

int autoscaling_encode(const char *action, const struct autoscaling_param *params, size_t n_params,
                       char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!action || !*action || !ret || (n_params && !params))
                return -EINVAL;
        for (size_t i = 0; i < n_params; i++)
                if (!params[i].name || !*params[i].name || !params[i].value)
                        return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("Action=", f);
        put_encoded(f, action);
        fputs("&Version=" AUTOSCALING_API_VERSION, f);
        for (size_t i = 0; i < n_params; i++) {
                fputc('&', f);
                put_encoded(f, params[i].name);
                fputc('=', f);
                put_encoded(f, params[i].value);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

/* ---- the XML reader ---- */

struct reader {
        unsigned depth;
        int refused; /* -ENOTSUP, -ELOOP: why the parse was stopped */
};

/* <!DOCTYPE name ...>: called before the internal subset is read, so no
 * entity (billion laughs, an external one) is ever declared. */
static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                               const xmlChar *system_id) {
        xmlParserCtxtPtr ctxt = ctx;
        struct reader *r = ctxt->_private;

        (void)name, (void)external_id, (void)system_id;
        r->refused = -ENOTSUP;
        xmlStopParser(ctxt);
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes) {
        xmlParserCtxtPtr ctxt = ctx;
        struct reader *r = ctxt->_private;

        if (++r->depth > AUTOSCALING_XML_DEPTH_MAX) {
                r->refused = -ELOOP;
                xmlStopParser(ctxt);
                return;
        }
        xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                              nb_defaulted, attributes);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri) {
        xmlParserCtxtPtr ctxt = ctx;
        struct reader *r = ctxt->_private;

        r->depth--;
        xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/* A pure parser says nothing: libxml2 would print to stderr otherwise. */
static void on_error(void *userdata, xmlErrorPtr error) {
        (void)userdata, (void)error;
}

static int xml_read(const char *body, size_t len, xmlDoc **ret) {
        struct reader r = {};
        xmlParserCtxtPtr ctxt;
        xmlDoc *doc;

        if (!body)
                return -EINVAL;
        if (len > AUTOSCALING_XML_MAX)
                return -EMSGSIZE;
        xmlInitParser();
        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        ctxt->_private = &r;
        ctxt->sax->internalSubset = on_internal_subset;
        ctxt->sax->startElementNs = on_start;
        ctxt->sax->endElementNs = on_end;
        ctxt->sax->serror = on_error;
        /* No NOENT (entities stay references), no DTDLOAD, no HUGE; NONET in
         * case anything would still reach out.  AWS answers in UTF-8. */
        doc = xmlCtxtReadMemory(ctxt, body, (int)len, NULL, "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlFreeParserCtxt(ctxt);
        if (r.refused || !doc) {
                xmlFreeDoc(doc);
                return r.refused ? r.refused : -EBADMSG;
        }
        *ret = doc;
        return 0;
}

const char *autoscaling_xml_strerror(int error) {
        switch (error) {
        case -EMSGSIZE:
                return "larger than the answers accepted";
        case -ENOTSUP:
                return "a document type declaration, refused";
        case -ELOOP:
                return "nested too deep";
        case -EBADMSG:
                return "not well-formed XML";
        case -EPROTO:
                return "not the answer expected";
        case -ENOMEM:
                return "out of memory";
        default:
                return "unreadable";
        }
}

static xmlNode *child(xmlNode *parent, const char *name) {
        for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)name))
                        return n;
        return NULL;
}

/* The text of an element, at most max bytes, control characters as spaces
 * (so a hostile answer cannot forge log lines); NULL when absent or empty. */
static char *text_of(xmlNode *n, size_t max) {
        xmlChar *content;
        char *out = NULL;

        if (!n)
                return NULL;
        content = xmlNodeGetContent(n);
        if (content && *content) {
                out = strndup((const char *)content, max);
                for (char *p = out; p && *p; p++)
                        if ((unsigned char)*p < 0x20 || *p == 0x7f)
                                *p = ' ';
        }
        xmlFree(content);
        return out;
}

struct _xmlDoc *autoscaling_document_free(struct _xmlDoc *doc) {
        xmlFreeDoc(doc);
        return NULL;
}

int autoscaling_parse_answer(const char *body, size_t len, const char *action,
                             struct _xmlDoc **ret_doc, char **ret_request_id) {
        _cleanup_free_ char *want = NULL;
        xmlDoc *doc = NULL;
        xmlNode *root;
        int r;

        if (!action || !ret_doc || !ret_request_id)
                return -EINVAL;
        if (asprintf(&want, "%sResponse", action) < 0)
                return -ENOMEM;
        r = xml_read(body, len, &doc);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (!root || !xmlStrEqual(root->name, (const xmlChar *)want)) {
                xmlFreeDoc(doc);
                return -EPROTO;
        }
        *ret_request_id = text_of(child(child(root, "ResponseMetadata"), "RequestId"), CODE_MAX);
        *ret_doc = doc;
        return 0;
}

void autoscaling_error_done(struct autoscaling_error *e) {
        if (!e)
                return;
        free(e->type);
        free(e->code);
        free(e->message);
        free(e->request_id);
        *e = (struct autoscaling_error){};
}

int autoscaling_parse_error(const char *body, size_t len, struct autoscaling_error *ret) {
        struct autoscaling_error e = {};
        xmlDoc *doc = NULL;
        xmlNode *root, *err;
        int r;

        if (!ret)
                return -EINVAL;
        r = xml_read(body, len, &doc);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (root && !xmlStrEqual(root->name, (const xmlChar *)"ErrorResponse") &&
            !xmlStrEqual(root->name, (const xmlChar *)"Response"))
                root = NULL;
        /* AWS: ErrorResponse/Error; moto and EC2: .../Errors/Error */
        err = child(root, "Error");
        if (!err)
                err = child(child(root, "Errors"), "Error");
        e.code = text_of(child(err, "Code"), CODE_MAX);
        if (!e.code) {
                xmlFreeDoc(doc);
                return -EPROTO;
        }
        e.type = text_of(child(err, "Type"), CODE_MAX);
        e.message = text_of(child(err, "Message"), SERVICE_TEXT_MAX);
        e.request_id = text_of(child(root, "RequestId"), CODE_MAX);
        if (!e.request_id)
                e.request_id = text_of(child(root, "RequestID"), CODE_MAX);
        xmlFreeDoc(doc);
        *ret = e;
        return 0;
}

/* ---- classification ---- */

/* ResourceContention: "a pending update" (HTTP 500), worth another try. */
static const char *const own_server_codes[] = {"ResourceContention", NULL};

/* The SDKs' classes (aws-errors.c), in this client's names. */
enum autoscaling_error_kind autoscaling_classify(long status, const char *code) {
        switch (aws_error_classify(status, code, own_server_codes)) {
        case AWS_ERR_NONE:
                return AUTOSCALING_OK;
        case AWS_ERR_THROTTLED:
                return AUTOSCALING_ERR_THROTTLED;
        case AWS_ERR_SERVER:
                return AUTOSCALING_ERR_SERVER;
        case AWS_ERR_AUTH:
                return AUTOSCALING_ERR_AUTH;
        case AWS_ERR_ACCESS:
                return AUTOSCALING_ERR_ACCESS;
        case AWS_ERR_CLIENT:
                return AUTOSCALING_ERR_CLIENT;
        }
        return AUTOSCALING_ERR_CLIENT;
}

bool autoscaling_kind_retryable(enum autoscaling_error_kind kind) {
        return kind == AUTOSCALING_ERR_THROTTLED || kind == AUTOSCALING_ERR_SERVER ||
               kind == AUTOSCALING_ERR_TRANSPORT || kind == AUTOSCALING_ERR_PROTOCOL;
}

bool autoscaling_no_active_lifecycle_action(const struct autoscaling_result *r) {
        static const char prefix[] = "No active Lifecycle Action found";

        return r && streq_ptr(r->code, "ValidationError") && r->service_message &&
               strncmp(r->service_message, prefix, sizeof prefix - 1) == 0;
}

static int kind_errno(enum autoscaling_error_kind kind) {
        static const int errnos[] = {
                [AUTOSCALING_OK] = 0,
                [AUTOSCALING_ERR_THROTTLED] = -EBUSY,
                [AUTOSCALING_ERR_SERVER] = -EBUSY,
                [AUTOSCALING_ERR_TRANSPORT] = -ETIMEDOUT,
                [AUTOSCALING_ERR_AUTH] = -EPERM,
                [AUTOSCALING_ERR_ACCESS] = -EACCES,
                [AUTOSCALING_ERR_CLIENT] = -EINVAL,
                [AUTOSCALING_ERR_CREDENTIALS] = -ENOKEY,
                [AUTOSCALING_ERR_PROTOCOL] = -EPROTO,
        };
        return errnos[kind];
}

/* ---- calls ---- */

/* Outcome names, in enum autoscaling_error_kind's order (ecs_stats()'s). */
static struct opstats stats = {
        .outcomes = (const char *const[]){"success", "throttled", "server_error", "transport_error",
                                          "auth_error", "access_denied", "client_error",
                                          "no_credentials", "protocol_error", NULL},
};

const struct opstats *autoscaling_stats(void) {
        return &stats;
}

static void call_unlink(struct autoscaling_call *c) {
        struct autoscaling *a = c->as;
        if (c->prev)
                c->prev->next = c->next;
        else if (a->calls == c)
                a->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void call_free(struct autoscaling_call *c) {
        credentials_request_cancel(c->creds_req);
        http_call_cancel(c->http_call);
        sd_event_source_disable_unref(c->timer);
        free(c->action);
        free(c->body);
        free(c->service_message);
        free(c->request_id);
        free(c);
}

static void finish(struct autoscaling_call *c, enum autoscaling_error_kind kind, long status,
                   const char *code, const xmlDoc *doc, const char *fmt, ...) _printf_(6, 7);
static void finish(struct autoscaling_call *c, enum autoscaling_error_kind kind, long status,
                   const char *code, const xmlDoc *doc, const char *fmt, ...) {
        char message[MESSAGE_MAX] = "";
        struct autoscaling_result r = {
                .error = kind_errno(kind),
                .kind = kind,
                .status = status,
                .code = code,
                .service_message = code ? c->service_message : NULL,
                .request_id = c->request_id,
                .document = doc,
                .attempts = c->attempts,
        };
        va_list ap;
        int n;

        if (fmt) {
                n = snprintf(message, sizeof message, "Auto Scaling %s: ", c->action);
                va_start(ap, fmt);
                if (n > 0 && (size_t)n < sizeof message)
                        vsnprintf(message + n, sizeof message - (size_t)n, fmt, ap);
                va_end(ap);
                r.message = message;
        }
        opstats_count(&stats, c->action, kind);
        call_unlink(c);
        c->in_callback = true;
        c->cb(&r, c->userdata);
        call_free(c);
}

static void start(struct autoscaling_call *c);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct autoscaling_call *c = userdata;
        (void)s, (void)usec;
        c->timer = sd_event_source_disable_unref(c->timer);
        start(c);
        return 0;
}

/* Full jitter: random(0,1) * min(base * 2^(attempt-1), cap). */
static uint64_t backoff_usec(const struct autoscaling *a, unsigned attempt) {
        uint64_t cap = (uint64_t)a->backoff_base_ms << (attempt > 16 ? 16 : attempt - 1);
        if (cap > AUTOSCALING_BACKOFF_CAP_MS)
                cap = AUTOSCALING_BACKOFF_CAP_MS;
        return (uint64_t)((double)cap * 1000 * ((double)random() / ((double)RAND_MAX + 1)));
}

/* Retry a retryable failure while attempts remain; otherwise report it. */
static void retry_or_finish(struct autoscaling_call *c, enum autoscaling_error_kind kind,
                            long status, const char *code, const char *what) {
        int r;

        if (c->attempts < c->as->max_attempts) {
                r = sd_event_add_time_relative(c->as->event, &c->timer, CLOCK_MONOTONIC,
                                               backoff_usec(c->as, c->attempts),
                                               TIMER_ACCURACY_USEC, on_timer, c);
                if (r >= 0) {
                        stats.retries++;
                        return;
                }
        }
        finish(c, kind, status, code, NULL, "%s (after %u attempts)", what, c->attempts);
}

static void on_success(struct autoscaling_call *c, const struct http_response *resp) {
        char what[MESSAGE_MAX];
        xmlDoc *doc = NULL;
        char *request_id = NULL;
        int r;

        r = autoscaling_parse_answer(resp->body, resp->body_len, c->action, &doc, &request_id);
        if (r < 0) {
                snprintf(what, sizeof what, "the answer is not a %sResponse (%s)", c->action,
                         autoscaling_xml_strerror(r));
                retry_or_finish(c, AUTOSCALING_ERR_PROTOCOL, 200, NULL, what);
                return;
        }
        free(c->request_id);
        c->request_id = request_id;
        finish(c, AUTOSCALING_OK, 200, NULL, doc, NULL);
        xmlFreeDoc(doc);
}

static void on_error_answer(struct autoscaling_call *c, const struct http_response *resp) {
        struct autoscaling_error e = {};
        char what[MESSAGE_MAX];
        enum autoscaling_error_kind kind;

        if (autoscaling_parse_error(resp->body, resp->body_len, &e) < 0)
                e = (struct autoscaling_error){};
        free(c->service_message);
        c->service_message = TAKE_PTR(e.message);
        free(c->request_id);
        c->request_id = TAKE_PTR(e.request_id);
        kind = autoscaling_classify(resp->status, e.code);
        snprintf(what, sizeof what, "%s%s%s (HTTP %ld)", e.code ? e.code : "error",
                 c->service_message ? ": " : "", c->service_message ? c->service_message : "",
                 resp->status);

        if (kind == AUTOSCALING_ERR_AUTH && !c->auth_retried &&
            !credentials_is_static(c->as->creds)) {
                /* Role keys rotate: fetch new ones and try once more.  Static
                 * keys cannot change, so retrying would only repeat the error. */
                c->auth_retried = true;
                stats.retries++;
                credentials_invalidate(c->as->creds);
                start(c);
        } else if (kind == AUTOSCALING_ERR_AUTH)
                finish(c, kind, resp->status, e.code, NULL,
                       "authentication failed: %s; check the credentials (%s)", what,
                       credentials_source(c->as->creds));
        else if (kind == AUTOSCALING_ERR_ACCESS)
                finish(c, kind, resp->status, e.code, NULL,
                       "%s; the IAM policy must allow autoscaling:%s", what, c->action);
        else if (autoscaling_kind_retryable(kind))
                retry_or_finish(c, kind, resp->status, e.code, what);
        else
                finish(c, kind, resp->status, e.code, NULL, "%s", what);
        autoscaling_error_done(&e);
}

static void on_http(const struct http_response *resp, void *userdata) {
        struct autoscaling_call *c = userdata;
        char what[MESSAGE_MAX];

        c->http_call = NULL;
        c->attempts++;
        if (resp->error) {
                snprintf(what, sizeof what, "cannot reach %s: %s", c->as->endpoint,
                         resp->error_text);
                retry_or_finish(c,
                                resp->error == -EMSGSIZE ? AUTOSCALING_ERR_PROTOCOL
                                                         : AUTOSCALING_ERR_TRANSPORT,
                                0, NULL, what);
        } else if (resp->status == 200)
                on_success(c, resp);
        else
                on_error_answer(c, resp);
}

/* The request's headers as "Name: value" strings: ours, then the signer's
 * (extra[] holds those, the session token among them, for the caller to
 * wipe).  0, or -ENOMEM. */
static int build_headers(const struct autoscaling *a, const struct sigv4_result *sr, char **h_host,
                         char *extra[SIGV4_MAX_HEADERS],
                         const char *headers[4 + SIGV4_MAX_HEADERS + 1]) {
        size_t n = 0;

        if (asprintf(h_host, "Host: %s", a->host) < 0) {
                *h_host = NULL;
                return -ENOMEM;
        }
        headers[n++] = *h_host;
        headers[n++] = "Content-Type: " CONTENT_TYPE;
        headers[n++] = "User-Agent: ecs-hostd/" HOSTD_VERSION;
        for (size_t i = 0; i < sr->n_headers; i++) {
                if (asprintf(&extra[i], "%s: %s", sr->headers[i].name, sr->headers[i].value) < 0) {
                        extra[i] = NULL;
                        return -ENOMEM;
                }
                headers[n++] = extra[i];
        }
        headers[n] = NULL;
        return 0;
}

static void send_signed(struct autoscaling_call *c, const struct aws_credentials *cr) {
        struct autoscaling *a = c->as;
        _cleanup_free_ char *h_host = NULL;
        char *extra[SIGV4_MAX_HEADERS] = {};
        const char *headers[4 + SIGV4_MAX_HEADERS + 1] = {};
        struct sigv4_header sh[] = {{"Host", a->host}, {"Content-Type", CONTENT_TYPE}};
        struct sigv4_result sr = {};
        const char *why = NULL;
        int r;

        r = sigv4_sign(&(struct sigv4_request){.method = "POST",
                                               .path = "/",
                                               .headers = sh,
                                               .n_headers = ELEMENTSOF(sh),
                                               .body = c->body,
                                               .body_len = strlen(c->body)},
                       &(struct sigv4_params){.access_key_id = cr->access_key_id,
                                              .secret_access_key = cr->secret_access_key,
                                              .session_token = cr->session_token,
                                              .region = a->region,
                                              .service = "autoscaling",
                                              .when = time(NULL),
                                              .location = SIGV4_IN_HEADERS,
                                              .normalize_path = true},
                       &sr);
        if (r < 0) {
                finish(c, AUTOSCALING_ERR_CREDENTIALS, 0, NULL, NULL,
                       "cannot sign the request (%s): the credentials are malformed", strerror(-r));
                return;
        }
        r = build_headers(a, &sr, &h_host, extra, headers);
        if (r >= 0)
                r = http_submit(a->http,
                                &(struct http_request){.method = "POST",
                                                       .url = a->endpoint,
                                                       .headers = headers,
                                                       .body = c->body,
                                                       .body_len = strlen(c->body),
                                                       .timeout_ms = a->timeout_ms,
                                                       .max_body = AUTOSCALING_XML_MAX,
                                                       .via_proxy = true},
                                on_http, c, &c->http_call, &why);
        else
                why = "out of memory";
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                erase_and_free(extra[i]); /* the token's header */
        sigv4_result_done(&sr);
        if (r < 0)
                finish(c, AUTOSCALING_ERR_TRANSPORT, 0, NULL, NULL, "cannot send to %s: %s",
                       a->endpoint, why ? why : strerror(-r));
}

static void on_creds(const struct aws_credentials *cr, int error, const char *text,
                     void *userdata) {
        struct autoscaling_call *c = userdata;

        c->creds_req = NULL;
        if (error < 0) {
                c->attempts++;
                finish(c, AUTOSCALING_ERR_CREDENTIALS, 0, NULL, NULL, "no credentials: %s",
                       text ? text : strerror(-error));
                return;
        }
        send_signed(c, cr);
}

static void start(struct autoscaling_call *c) {
        int r = credentials_get(c->as->creds, on_creds, c, &c->creds_req);
        if (r < 0)
                finish(c, AUTOSCALING_ERR_CREDENTIALS, 0, NULL, NULL, "no credentials: %s",
                       strerror(-r));
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

int autoscaling_new(struct autoscaling **ret, sd_event *event, struct http *http,
                    struct credentials *creds, const struct autoscaling_config *cfg) {
        _cleanup_free_ char *endpoint = NULL;
        struct autoscaling *a;
        int r;

        if (!ret || !event || !http || !creds || !cfg || !cfg->region || !*cfg->region)
                return -EINVAL;
        if (cfg->endpoint && *cfg->endpoint)
                endpoint = strdup(cfg->endpoint);
        else if (asprintf(&endpoint, "https://autoscaling.%s.amazonaws.com/", cfg->region) < 0)
                endpoint = NULL;
        if (!endpoint)
                return -ENOMEM;
        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        r = host_of(endpoint, &a->host);
        if (r < 0) {
                free(a);
                return r;
        }
        a->endpoint = TAKE_PTR(endpoint);
        a->region = strdup(cfg->region);
        if (!a->region) {
                autoscaling_free(a);
                return -ENOMEM;
        }
        xmlInitParser();
        a->event = sd_event_ref(event);
        a->http = http;
        a->creds = creds;
        a->max_attempts = cfg->max_attempts ? cfg->max_attempts : AUTOSCALING_DEFAULT_MAX_ATTEMPTS;
        a->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : 1000;
        a->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : AUTOSCALING_DEFAULT_TIMEOUT_MS;
        *ret = a;
        return 0;
}

struct autoscaling *autoscaling_free(struct autoscaling *a) {
        if (!a)
                return NULL;
        while (a->calls) {
                struct autoscaling_call *c = a->calls;
                call_unlink(c);
                call_free(c);
        }
        free(a->region);
        free(a->endpoint);
        free(a->host);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

int autoscaling_call(struct autoscaling *a, const char *action,
                     const struct autoscaling_param *params, size_t n_params,
                     autoscaling_callback_t cb, void *userdata, struct autoscaling_call **ret) {
        struct autoscaling_call *c;
        int r;

        if (!a || !action || !*action || !cb)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->as = a;
        c->cb = cb;
        c->userdata = userdata;
        c->action = strdup(action);
        r = c->action ? autoscaling_encode(action, params, n_params, &c->body) : -ENOMEM;
        if (r < 0) {
                call_free(c);
                return r;
        }
        c->next = a->calls;
        if (a->calls)
                a->calls->prev = c;
        a->calls = c;
        if (ret)
                *ret = c;
        start(c);
        return 0;
}

void autoscaling_call_cancel(struct autoscaling_call *c) {
        if (!c || c->in_callback)
                return;
        call_unlink(c);
        call_free(c);
}

/* CompleteLifecycleAction (result set) or RecordLifecycleActionHeartbeat,
 * after Auto Scaling's own checks of what the caller gave. */
static int lifecycle_call(struct autoscaling *a, const char *action, const char *group,
                          const char *hook, const char *instance_id, const char *result,
                          const char *token, autoscaling_callback_t cb, void *userdata,
                          struct autoscaling_call **ret) {
        struct autoscaling_param p[5];
        size_t n = 0;

        if (!config_asg_name_valid(group) || !config_asg_hook_name_valid(hook) ||
            (!instance_id && !token) ||
            (instance_id && (!*instance_id || strlen(instance_id) > INSTANCE_ID_MAX)) ||
            (token && strlen(token) != TOKEN_LEN))
                return -EINVAL;
        p[n++] = (struct autoscaling_param){"AutoScalingGroupName", group};
        p[n++] = (struct autoscaling_param){"LifecycleHookName", hook};
        if (instance_id)
                p[n++] = (struct autoscaling_param){"InstanceId", instance_id};
        if (result)
                p[n++] = (struct autoscaling_param){"LifecycleActionResult", result};
        if (token)
                p[n++] = (struct autoscaling_param){"LifecycleActionToken", token};
        return autoscaling_call(a, action, p, n, cb, userdata, ret);
}

int autoscaling_complete_lifecycle_action(struct autoscaling *a, const char *group,
                                          const char *hook, const char *instance_id,
                                          const char *result, const char *token,
                                          autoscaling_callback_t cb, void *userdata,
                                          struct autoscaling_call **ret) {
        if (!streq_ptr(result, "CONTINUE") && !streq_ptr(result, "ABANDON"))
                return -EINVAL;
        return lifecycle_call(a, "CompleteLifecycleAction", group, hook, instance_id, result, token,
                              cb, userdata, ret);
}

int autoscaling_record_lifecycle_action_heartbeat(struct autoscaling *a, const char *group,
                                                  const char *hook, const char *instance_id,
                                                  const char *token, autoscaling_callback_t cb,
                                                  void *userdata, struct autoscaling_call **ret) {
        return lifecycle_call(a, "RecordLifecycleActionHeartbeat", group, hook, instance_id, NULL,
                              token, cb, userdata, ret);
}

const char *autoscaling_endpoint(const struct autoscaling *a) {
        return a ? a->endpoint : NULL;
}
