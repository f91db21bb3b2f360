/* metrics-server.c: the local HTTP endpoint (see metrics-server.h).  One
 * libmicrohttpd daemon per listen address, each run from the loop when its
 * epoll descriptor is readable or its timeout comes; every request is
 * answered from the loop (a scrape takes a few ms).  With basic auth, a
 * request whose credentials are not in the cache is suspended while the
 * worker runs bcrypt, and resumed from the loop with the verdict; every
 * suspended connection is on the server's list, so none is left suspended
 * when a daemon stops. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "basic-auth.h"
#include "collector.h"
#include "event-util.h"
#include "log.h"
#include "metrics-server.h"
#include "webconfig.h"

#define MAX_LISTENERS 8
#define CONNECTIONS_MAX 128           /* in all, per address */
#define BURST_CONNECTIONS 4           /* more at once, then at most one: the heap is trimmed */
#define CONNECTIONS_PER_CLIENT 64     /* from one IP address: another one still gets in */
#define IDLE_TIMEOUT_S 10             /* an idle (or slow) connection is closed */
#define CONNECTION_MEMORY (32 * 1024) /* bytes per connection: bounds the request headers */
#define REALM "ecs-hostd"
#define OPTIONS_MAX 8 /* the TLS and auth options of one daemon */

struct listener {
        struct metrics_server *server;
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer;
        unsigned short port;
        unsigned peak; /* most connections at once since the heap was last trimmed */
};

/* A request suspended while its credentials are checked, until it
 * completes (then MHD_OPTION_NOTIFY_COMPLETED frees it). */
struct request {
        struct listener *listener;
        struct MHD_Connection *connection;
        bool suspended, ok;
        struct request *prev, *next;
};

struct metrics_server {
        sd_event *event;
        const struct config *cfg; /* borrowed */
        const struct metrics_server_ops *ops;
        void *userdata;
        struct metrics_source *src;
        unsigned long collectors;
        struct listener v[MAX_LISTENERS];
        size_t n;
        struct webconfig *web;   /* NULL: plain http, no auth */
        struct basic_auth *auth; /* NULL: no basic_auth_users */
        struct request *requests;
};

static const char ROUTES[] = "ecs-hostd\n"
                             "\n"
                             "/metrics       host and daemon metrics (Prometheus text 0.0.4 or "
                             "OpenMetrics 1.0)\n"
                             "/v1/metadata   the container instance, as the ECS agent's "
                             "introspection API\n"
                             "/healthz       200 when the daemon runs, knows its container "
                             "instance and hears IMDS\n";

/* A response holding a copy of body (which may be NULL for none), with the
 * web configuration's headers. */
/* A response holding body: a copy of it, or body itself (malloc'd) when
 * mode is MHD_RESPMEM_MUST_FREE, which then is ours to free in any case. */
static enum MHD_Result reply_mode(const struct metrics_server *s, struct MHD_Connection *c,
                                  unsigned status, const char *type, const void *body, size_t len,
                                  const char *encoding, enum MHD_ResponseMemoryMode mode) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
        enum MHD_Result ret;

        if (!r) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free((void *)(uintptr_t)body);
                return MHD_NO;
        }
        if (type)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        if (encoding)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding);
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        "Basic realm=\"" REALM "\"");
        if (status == MHD_HTTP_TOO_MANY_REQUESTS)
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        for (size_t i = 0; s->web && i < s->web->n_headers; i++)
                MHD_add_response_header(r, s->web->headers[i].name, s->web->headers[i].value);
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result reply(const struct metrics_server *s, struct MHD_Connection *c,
                             unsigned status, const char *type, const void *body, size_t len,
                             const char *encoding) {
        return reply_mode(s, c, status, type, body, len, encoding, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result reply_text(const struct metrics_server *s, struct MHD_Connection *c,
                                  unsigned status, const char *text) {
        return reply(s, c, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

/* gzip of in (malloc'd), or NULL.  Level 1: a scrape is compressed in
 * well under a millisecond, to about a tenth of its size. */
static void *gzip(const char *in, size_t len, size_t *ret_len) {
        z_stream z = {};
        unsigned char *out = NULL;
        size_t cap;

        if (len > UINT_MAX ||
            deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return NULL;
        cap = deflateBound(&z, len) + 32; /* + the gzip header and trailer */
        out = malloc(cap);
        z.next_in = (unsigned char *)(uintptr_t)in;
        z.avail_in = (unsigned)len;
        z.next_out = out;
        z.avail_out = (unsigned)(cap < UINT_MAX ? cap : UINT_MAX);
        if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END) {
                deflateEnd(&z);
                free(out);
                return NULL;
        }
        *ret_len = z.total_out;
        deflateEnd(&z);
        return out;
}

static bool accepts_gzip(struct MHD_Connection *c) {
        const char *ae =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);

        for (const char *p = ae; p && *p;) {
                size_t n = strcspn(p, ",");
                while (*p == ' ')
                        p++, n--;
                if (n >= 4 && strncasecmp(p, "gzip", 4) == 0 &&
                    !(memmem(p, n, "q=0", 3) && !memmem(p, n, "q=0.", 4)))
                        return true;
                p += n + (p[n] == ',');
        }
        return false;
}

static enum MHD_Result serve_metrics(struct metrics_server *s, struct MHD_Connection *c) {
        enum expo_format f = expo_negotiate(
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ void *zipped = NULL;
        size_t len = 0, zlen = 0;
        struct expo e;

        expo_init(&e, f);
        collectors_run(&e, s->src, s->collectors);
        if (s->ops && s->ops->daemon_metrics)
                s->ops->daemon_metrics(&e, s->userdata);
        if (expo_finish(&e, &text, &len) < 0)
                return reply_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        /* The scrape (or its gzip) is handed over, not copied. */
        if (accepts_gzip(c) && (zipped = gzip(text, len, &zlen)))
                return reply_mode(s, c, MHD_HTTP_OK, expo_content_type(f), TAKE_PTR(zipped), zlen,
                                  "gzip", MHD_RESPMEM_MUST_FREE);
        return reply_mode(s, c, MHD_HTTP_OK, expo_content_type(f), TAKE_PTR(text), len, NULL,
                          MHD_RESPMEM_MUST_FREE);
}

/* The official agent's /v1/metadata: {"Cluster", "ContainerInstanceArn", "Version"}. */
static enum MHD_Result serve_metadata(struct metrics_server *s, struct MHD_Connection *c) {
        const char *cluster = NULL, *arn = NULL;
        _cleanup_free_ char *text = NULL;
        cJSON *o = cJSON_CreateObject();

        if (s->ops && s->ops->identity)
                s->ops->identity(&cluster, &arn, s->userdata);
        cJSON_AddStringToObject(o, "Cluster", cluster ? cluster : "");
        if (arn)
                cJSON_AddStringToObject(o, "ContainerInstanceArn", arn);
        else
                cJSON_AddNullToObject(o, "ContainerInstanceArn");
        cJSON_AddStringToObject(o, "Version", "ecs-hostd " HOSTD_VERSION " (" HOSTD_GIT_HASH ")");
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text)
                return reply_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(s, c, MHD_HTTP_OK, "application/json", text, strlen(text), NULL);
}

static enum MHD_Result serve_health(struct metrics_server *s, struct MHD_Connection *c) {
        const char *why = s->ops && s->ops->unhealthy ? s->ops->unhealthy(s->userdata) : NULL;
        char text[512];

        if (!why)
                return reply_text(s, c, MHD_HTTP_OK, "ok\n");
        snprintf(text, sizeof text, "unhealthy: %s\n", why);
        return reply_text(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static void schedule(struct listener *l);

/* ---- who may see the routes: client certificates and basic auth ---- */

/* The client certificate as client_auth_type asks, checked again here
 * whatever the handshake did: required ones present, given ones verified
 * against client_ca_file (for a TLS client's purpose). */
static bool client_cert_ok(const struct metrics_server *s, struct MHD_Connection *c) {
        enum webconfig_client_auth a = s->web ? s->web->client_auth : WEBCONFIG_NO_CLIENT_CERT;
        gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                         (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0};
        const union MHD_ConnectionInfo *ci;
        unsigned n = 0, status = 0;

        if (a == WEBCONFIG_NO_CLIENT_CERT || a == WEBCONFIG_REQUEST_CLIENT_CERT)
                return true;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return false;
        if (!gnutls_certificate_get_peers(ci->tls_session, &n) || n == 0)
                return a == WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN;
        if (a == WEBCONFIG_REQUIRE_ANY_CLIENT_CERT)
                return true;
        return gnutls_certificate_verify_peers(ci->tls_session, &purpose, 1, &status) >= 0 &&
               status == 0;
}

/* Ask for (or require, and verify) a client certificate in the handshake
 * of each new TLS connection, as client_auth_type says: libmicrohttpd
 * alone only requests one, and only with a trust list. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        static gnutls_typed_vdata_st purpose = {
                GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0};
        const struct listener *l = cls;
        const union MHD_ConnectionInfo *ci;
        gnutls_session_t session;

        (void)socket_context;
        if (code != MHD_CONNECTION_NOTIFY_STARTED ||
            !(ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION)) ||
            !ci->tls_session)
                return;
        session = ci->tls_session;
        switch (l->server->web->client_auth) {
        case WEBCONFIG_NO_CLIENT_CERT:
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_IGNORE);
                break;
        case WEBCONFIG_REQUEST_CLIENT_CERT:
        case WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN: /* verified in client_cert_ok() */
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
                break;
        case WEBCONFIG_REQUIRE_ANY_CLIENT_CERT:
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
                break;
        case WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT:
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
                gnutls_session_set_verify_cert2(session, &purpose, 1, 0);
                break;
        }
}

/* *con_cls from the first call (headers only) until check_auth() puts a
 * request there. */
static char headers_seen;

static void request_unlink(struct metrics_server *s, struct request *r) {
        if (r->prev)
                r->prev->next = r->next;
        else
                s->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        struct listener *l = cls;
        struct request *r = *con_cls;

        (void)c, (void)toe;
        *con_cls = NULL;
        if (!r || (void *)r == &headers_seen)
                return;
        request_unlink(l->server, r);
        free(r);
}

/* The worker's verdict on a suspended request: resume it and let
 * libmicrohttpd call on_request() again at once, which answers. */
static void on_verdict(void *cookie, bool ok, void *userdata) {
        struct request *r = cookie;
        struct listener *l = r->listener;

        (void)userdata;
        r->ok = ok;
        r->suspended = false;
        MHD_resume_connection(r->connection);
        (void)MHD_run(l->mhd); /* may complete the request and free r */
        schedule(l);
}

/* Basic auth: 1 to serve; 0 when *ret says what was done instead (an
 * answer queued, or the connection suspended until on_verdict()). */
static int check_auth(struct listener *l, struct MHD_Connection *c, void **con_cls,
                      enum MHD_Result *ret) {
        struct metrics_server *s = l->server;
        struct request *r = calloc(1, sizeof *r);
        enum basic_auth_result a;

        if (!r) {
                *ret = reply_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
                return 0;
        }
        a = basic_auth_check(
                s->auth,
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), r);
        if (a != BASIC_AUTH_PENDING) {
                free(r);
                if (a == BASIC_AUTH_OK)
                        return 1;
                *ret = a == BASIC_AUTH_BUSY
                               ? reply_text(s, c, MHD_HTTP_TOO_MANY_REQUESTS,
                                            "too many password checks in flight; retry\n")
                               : reply_text(s, c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
                return 0;
        }
        *r = (struct request){
                .listener = l, .connection = c, .suspended = true, .next = s->requests};
        if (r->next)
                r->next->prev = r;
        s->requests = r;
        *con_cls = r;
        MHD_suspend_connection(c);
        *ret = MHD_YES;
        return 0;
}

static int admit(struct listener *l, struct MHD_Connection *c, void **con_cls,
                 enum MHD_Result *ret) {
        struct metrics_server *s = l->server;
        const struct request *r = *con_cls == &headers_seen ? NULL : *con_cls;

        if (r) { /* resumed, with the worker's verdict */
                if (r->ok)
                        return 1;
                *ret = reply_text(s, c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
                return 0;
        }
        if (!client_cert_ok(s, c)) {
                *ret = reply_text(s, c, MHD_HTTP_FORBIDDEN,
                                  "a client certificate signed by the configured CA is required\n");
                return 0;
        }
        return s->auth ? check_auth(l, c, con_cls, ret) : 1;
}

/* Every route, unknown ones and 405s included, only for whom admit() lets in. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        struct listener *l = cls;
        struct metrics_server *s = l->server;
        enum MHD_Result ret = MHD_NO;

        (void)version, (void)upload_data;
        /* The first call has the headers only: answering then makes
         * libmicrohttpd close the connection (it cannot know the request is
         * over), so a keep-alive client would reconnect for every scrape. */
        if (!*con_cls) {
                *con_cls = &headers_seen;
                return MHD_YES;
        }
        if (!admit(l, c, con_cls, &ret))
                return ret;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return reply_text(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        if (*upload_data_size > 0)
                return reply_text(s, c, MHD_HTTP_BAD_REQUEST, "no body is expected\n");
        if (strcmp(url, "/metrics") == 0)
                return serve_metrics(s, c);
        if (strcmp(url, "/v1/metadata") == 0)
                return serve_metadata(s, c);
        if (strcmp(url, "/healthz") == 0)
                return serve_health(s, c);
        if (strcmp(url, "/") == 0)
                return reply_text(s, c, MHD_HTTP_OK, ROUTES);
        return reply_text(s, c, MHD_HTTP_NOT_FOUND, "not found; see /\n");
}

/* After a burst of clients (many connections at once, each with its scrape
 * in flight) the heap keeps its high-water mark, broken up: once they are
 * gone, give the pages back, so the daemon's memory is what one scraper
 * needs again. */
static void trim_after_burst(struct listener *l) {
        const union MHD_DaemonInfo *info =
                MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        unsigned n = info ? info->num_connections : 0;

        if (n > l->peak)
                l->peak = n;
        if (n <= 1 && l->peak > BURST_CONNECTIONS) {
                l->peak = n;
                (void)malloc_trim(0);
        }
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct listener *l = userdata;

        (void)src, (void)fd, (void)revents;
        (void)MHD_run(l->mhd);
        trim_after_burst(l);
        schedule(l);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        return on_io(src, -1, 0, userdata);
        (void)usec;
}

/* Wake up when libmicrohttpd has something timed to do (an idle timeout). */
static void schedule(struct listener *l) {
        MHD_UNSIGNED_LONG_LONG ms = 0;

        if (MHD_get_timeout(l->mhd, &ms) != MHD_YES) {
                (void)sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time(l->timer, event_now_usec(l->server->event) + ms * 1000);
        (void)sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
}

/* libmicrohttpd's own messages (a client over a limit, a bad request):
 * debug, without the newline it ends them with. */
static void on_mhd_error(void *cls, const char *fmt, va_list ap) _printf_(2, 0);
static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
        char text[256];

        (void)cls;
        vsnprintf(text, sizeof text, fmt, ap);
        text[strcspn(text, "\n")] = 0;
        log_debug("libmicrohttpd: %s", text);
}

static bool is_loopback(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >>
                        24) == 127;
        return sa->sa_family == AF_INET6 &&
               IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

/* One HOST:PORT ([V6]:PORT, :PORT for every address) as a socket address. */
static int resolve(const char *item, struct sockaddr_storage *ret) {
        _cleanup_free_ char *host = strdup(item);
        struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                                 .ai_socktype = SOCK_STREAM},
                        *ai = NULL;
        char *colon, *h;
        int r;

        if (!host)
                return -ENOMEM;
        colon = strrchr(host, ':');
        *colon = 0;
        h = host;
        if (*h == '[') {
                h++;
                h[strlen(h) - 1] = 0;
        }
        r = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai);
        if (r != 0)
                return -EADDRNOTAVAIL;
        memcpy(ret, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        return 0;
}

/* The options the web configuration adds (NULL-free, MHD_OPTION_END last). */
static void web_options(struct listener *l, struct MHD_OptionItem o[static OPTIONS_MAX]) {
        const struct webconfig *w = l->server->web;
        size_t n = 0;

        if (l->server->auth)
                o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                                 (intptr_t)on_completed, l};
        if (w && w->tls) {
                o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, w->cert.text};
                o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, w->key.text};
                o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, w->priorities};
                if (w->client_ca.text)
                        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                                         w->client_ca.text};
                o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
                                                 (intptr_t)on_connection, l};
        }
        o[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

static struct MHD_Daemon *start(struct listener *l, const struct sockaddr_storage *sa) {
        const struct metrics_server *s = l->server;
        struct MHD_OptionItem opts[OPTIONS_MAX];
        unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                         (sa->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) |
                         (s->web && s->web->tls ? MHD_USE_TLS : 0) |
                         (s->auth ? MHD_ALLOW_SUSPEND_RESUME : 0);

        web_options(l, opts);
        return MHD_start_daemon(flags, l->port, NULL, NULL, on_request, l,
                                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
                                MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned)CONNECTIONS_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                (unsigned)CONNECTIONS_PER_CLIENT, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                (size_t)CONNECTION_MEMORY, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

/* What the log says about one address: reachable from other hosts with
 * neither TLS nor basic auth is a warning. */
static void log_listening(const struct metrics_server *s, const char *item,
                          const struct sockaddr_storage *sa) {
        bool tls = s->web && s->web->tls, auth = s->auth;

        if (!is_loopback((const struct sockaddr *)sa) && !tls && !auth)
                log_warn("The metrics endpoint on %s is reachable from other hosts, without TLS "
                         "or authentication",
                         item);
        else
                log_info("Serving /metrics, /v1/metadata and /healthz on %s%s%s%s%s", item,
                         tls || auth ? " (" : "", tls ? "https" : "", tls && auth ? ", " : "",
                         auth  ? "basic auth)"
                         : tls ? ")"
                               : "");
}

static int listen_on(struct metrics_server *s, const char *item) {
        struct listener *l = &s->v[s->n];
        struct sockaddr_storage sa = {};
        const union MHD_DaemonInfo *info;
        int r;

        r = resolve(item, &sa);
        if (r < 0)
                return log_error_errno(r, "ECS_HOSTD_METRICS_LISTEN %s: cannot resolve it: %m",
                                       item);
        l->server = s;
        l->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                 : ((struct sockaddr_in *)&sa)->sin_port);
        l->mhd = start(l, &sa);
        if (!l->mhd)
                return log_error_errno(errno ? errno : EADDRINUSE,
                                       "Cannot listen on %s for /metrics: %m", item);
        info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        r = sd_event_add_io(s->event, &l->io, info->epoll_fd, EPOLLIN, on_io, l);
        if (r >= 0)
                r = sd_event_add_time(s->event, &l->timer, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_USEC,
                                      on_timer, l);
        if (r < 0) {
                MHD_stop_daemon(l->mhd);
                *l = (struct listener){};
                return log_error_errno(r, "Failed to watch the metrics endpoint: %m");
        }
        s->n++;
        schedule(l);
        log_listening(s, item, &sa);
        return 0;
}

/* ECS_HOSTD_METRICS_WEB_CONFIG, read again at every (re)build: the
 * certificate and key as they are now.  manager_load_config() checked it;
 * if it broke since, the endpoint stays off rather than serve plain http. */
static int load_web_config(struct metrics_server *s, const char *path) {
        struct errors errs = {};
        int r;

        r = webconfig_load(&s->web, path, &errs);
        log_errors(LOG_ERR, &errs);
        errors_done(&errs);
        if (r == -EINVAL)
                return log_error_errno(r,
                                       "ECS_HOSTD_METRICS_WEB_CONFIG %s is not usable (see "
                                       "above)",
                                       path);
        if (r < 0)
                return log_error_errno(r, "Failed to read ECS_HOSTD_METRICS_WEB_CONFIG %s: %m",
                                       path);
        if (s->web->n_users == 0)
                return 0;
        r = basic_auth_new(&s->auth, s->event, s->web->users, s->web->n_users, on_verdict, s);
        if (r < 0)
                return log_error_errno(r, "Failed to start the basic auth worker: %m");
        return 0;
}

int metrics_server_new(struct metrics_server **ret, sd_event *event, const struct config *cfg,
                       const struct metrics_server_ops *ops, void *userdata) {
        _cleanup_(metrics_server_freep) struct metrics_server *s = calloc(1, sizeof *s);
        const char *listen = config_string(cfg, KEY_ECS_HOSTD_METRICS_LISTEN),
                   *web = config_string(cfg, KEY_ECS_HOSTD_METRICS_WEB_CONFIG);
        _cleanup_free_ char *list = NULL;
        char *save = NULL;
        int r;

        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->cfg = cfg;
        s->ops = ops;
        s->userdata = userdata;
        s->collectors = collectors_enabled(cfg);
        r = collector_source_new(&s->src, cfg);
        if (r < 0)
                return r;
        if (web && (r = load_web_config(s, web)) < 0)
                return r;
        if (listen && strcmp(listen, "off") != 0) {
                if (!(list = strdup(listen)))
                        return -ENOMEM;
                for (char *item = strtok_r(list, ",", &save); item && s->n < MAX_LISTENERS;
                     item = strtok_r(NULL, ",", &save)) {
                        r = listen_on(s, item);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(s);
        return 0;
}

struct metrics_server *metrics_server_free(struct metrics_server *s) {
        if (!s)
                return NULL;
        /* No verdict comes after this; libmicrohttpd aborts when a daemon
         * stops with a connection suspended, so each is resumed first (and
         * closed by the stop, which completes its request). */
        s->auth = basic_auth_free(s->auth);
        for (struct request *r = s->requests; r; r = r->next)
                if (r->suspended) {
                        r->suspended = false;
                        MHD_resume_connection(r->connection);
                }
        for (size_t i = 0; i < s->n; i++) {
                sd_event_source_disable_unref(s->v[i].io);
                sd_event_source_disable_unref(s->v[i].timer);
                MHD_stop_daemon(s->v[i].mhd);
        }
        while (s->requests) {
                struct request *r = s->requests;
                s->requests = r->next;
                free(r);
        }
        webconfig_free(s->web);
        collector_source_free(s->src);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

size_t metrics_server_ports(const struct metrics_server *s, unsigned short ports[static 8]) {
        size_t n = 0;

        for (size_t i = 0; s && i < s->n && n < 8; i++)
                ports[n++] = s->v[i].port;
        return n;
}
