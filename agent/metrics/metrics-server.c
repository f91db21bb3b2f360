/* metrics-server.c: the local HTTP endpoint (see metrics-server.h).  One
 * libmicrohttpd daemon per listen address, each run from the loop when its
 * epoll descriptor is readable or its timeout comes; every request is
 * answered at once from the loop (a scrape takes a few ms), so no
 * connection is ever suspended. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "collector.h"
#include "event-util.h"
#include "log.h"
#include "metrics-server.h"

#define MAX_LISTENERS 8
#define CONNECTIONS_MAX 64            /* in all, per address */
#define CONNECTIONS_PER_CLIENT 8      /* from one IP address */
#define IDLE_TIMEOUT_S 10             /* an idle (or slow) connection is closed */
#define CONNECTION_MEMORY (32 * 1024) /* bytes per connection: bounds the request headers */

struct listener {
        struct metrics_server *server;
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer;
        unsigned short port;
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
};

static const char ROUTES[] = "ecs-hostd\n"
                             "\n"
                             "/metrics       host and daemon metrics (Prometheus text 0.0.4 or "
                             "OpenMetrics 1.0)\n"
                             "/v1/metadata   the container instance, as the ECS agent's "
                             "introspection API\n"
                             "/healthz       200 when the daemon runs, knows its container "
                             "instance and hears IMDS\n";

/* A response holding a copy of body (which may be NULL for none). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const void *body, size_t len, const char *encoding) {
        struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                                                 MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        if (type)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        if (encoding)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding);
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text) {
        return reply(c, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
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
                return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        if (accepts_gzip(c) && (zipped = gzip(text, len, &zlen)))
                return reply(c, MHD_HTTP_OK, expo_content_type(f), zipped, zlen, "gzip");
        return reply(c, MHD_HTTP_OK, expo_content_type(f), text, len, NULL);
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
                return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(c, MHD_HTTP_OK, "application/json", text, strlen(text), NULL);
}

static enum MHD_Result serve_health(struct metrics_server *s, struct MHD_Connection *c) {
        const char *why = s->ops && s->ops->unhealthy ? s->ops->unhealthy(s->userdata) : NULL;
        char text[512];

        if (!why)
                return reply_text(c, MHD_HTTP_OK, "ok\n");
        snprintf(text, sizeof text, "unhealthy: %s\n", why);
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        struct metrics_server *s = cls;

        (void)version, (void)upload_data, (void)con_cls;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        if (*upload_data_size > 0)
                return reply_text(c, MHD_HTTP_BAD_REQUEST, "no body is expected\n");
        if (strcmp(url, "/metrics") == 0)
                return serve_metrics(s, c);
        if (strcmp(url, "/v1/metadata") == 0)
                return serve_metadata(s, c);
        if (strcmp(url, "/healthz") == 0)
                return serve_health(s, c);
        if (strcmp(url, "/") == 0)
                return reply_text(c, MHD_HTTP_OK, ROUTES);
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found; see /\n");
}

static void schedule(struct listener *l);

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct listener *l = userdata;

        (void)src, (void)fd, (void)revents;
        (void)MHD_run(l->mhd);
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

static void on_mhd_error(void *cls, const char *fmt, va_list ap) _printf_(2, 0);
static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
        (void)cls;
        log_internalv(LOG_DEBUG, 0, __FILE__, __LINE__, __func__, fmt, ap);
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
        l->mhd = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                l->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONNECTIONS_PER_CLIENT,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL, MHD_OPTION_END);
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
        if (!is_loopback((struct sockaddr *)&sa))
                log_warn("The metrics endpoint on %s is reachable from other hosts, without TLS "
                         "or authentication",
                         item);
        else
                log_info("Serving /metrics, /v1/metadata and /healthz on %s", item);
        return 0;
}

int metrics_server_new(struct metrics_server **ret, sd_event *event, const struct config *cfg,
                       const struct metrics_server_ops *ops, void *userdata) {
        _cleanup_(metrics_server_freep) struct metrics_server *s = calloc(1, sizeof *s);
        const char *listen = config_string(cfg, KEY_ECS_HOSTD_METRICS_LISTEN);
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
        for (size_t i = 0; i < s->n; i++) {
                sd_event_source_disable_unref(s->v[i].io);
                sd_event_source_disable_unref(s->v[i].timer);
                MHD_stop_daemon(s->v[i].mhd);
        }
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
