/* http.c: libcurl multi interface joined to sd-event.  One io source per
 * socket curl asks us to watch, one timer for curl's timeouts; finished
 * transfers are drained after every curl_multi_socket_action() and their
 * callbacks run there, outside any curl callback, so they may submit or
 * cancel calls freely.  Connections are reused through the multi handle's
 * connection cache.  What a call owns may be secret (the signed headers with
 * the session token, the role's credentials in a body): it is wiped before
 * it is freed. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event-util.h"
#include "http.h"
#include "macro.h"

struct http_call {
        struct http *http;
        CURL *easy;
        struct curl_slist *headers;
        char *req_body;
        size_t req_body_len;
        char *buf;
        size_t len, cap, max;
        bool too_big;
        bool refused;     /* a signed plain-http request met a non-loopback address */
        bool in_callback; /* cancel is a no-op while its own callback runs */
        http_callback_t cb;
        void *userdata;
        uint64_t started;
        char errbuf[CURL_ERROR_SIZE];
        struct http_call *prev, *next;
};

struct http {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        sd_event_source *now; /* curl's "act at once": a defer, not a timerfd round trip */
        struct http_call *calls;
        unsigned n_calls;
        /* http_set_proxy()'s, owned; a proxy URL may hold a password */
        char *proxy_http, *proxy_https, *no_proxy;
};

/* The request's headers and body, the response's body: wiped, then freed. */
static void call_free_buffers(struct http_call *c) {
        for (struct curl_slist *l = c->headers; l; l = l->next)
                explicit_bzero(l->data, strlen(l->data));
        curl_slist_free_all(c->headers);
        erase_free(c->req_body, c->req_body_len);
        erase_free(c->buf, c->len);
}

static void call_unlink_free(struct http_call *c) {
        struct http *h = c->http;

        if (c->prev)
                c->prev->next = c->next;
        else
                h->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        h->n_calls--;
        curl_multi_remove_handle(h->multi, c->easy);
        curl_easy_cleanup(c->easy);
        call_free_buffers(c);
        free(c);
}

static int map_curl_error(CURLcode code, bool too_big) {
        if (too_big)
                return -EMSGSIZE;
        switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_FILESIZE_EXCEEDED:
                return -EMSGSIZE;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTO;
        default:
                return -EIO;
        }
}

/* Drain finished transfers and run their callbacks. */
static void check_finished(struct http *h) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(h->multi, &left))) {
                struct http_call *c = NULL;
                struct http_response r = {};
                long connects = 0;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
                if (!c)
                        continue;

                r.call = c;
                r.body = c->buf ? c->buf : "";
                r.body_len = c->len;
                r.elapsed_usec = event_now_usec(h->event) - c->started;
                if (msg->data.result == CURLE_OK && !c->too_big) {
                        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r.status);
                } else if (c->refused) {
                        r.error = -EPERM;
                        r.error_text = "refusing to send a signed request over plain http to a "
                                       "non-loopback address (a proxy's): use https";
                } else {
                        r.error = map_curl_error(msg->data.result, c->too_big);
                        r.error_text = c->too_big     ? "response body exceeds the size limit"
                                       : c->errbuf[0] ? c->errbuf
                                                      : curl_easy_strerror(msg->data.result);
                }
                curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects);
                r.connection_reused = connects == 0;

                /* Detach before the callback so it may cancel or submit freely. */
                curl_multi_remove_handle(h->multi, c->easy);
                c->in_callback = true;
                c->cb(&r, c->userdata);
                call_unlink_free(c);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct http *h = userdata;
        int action = 0, running;

        (void)s;
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        curl_multi_socket_action(h->multi, fd, action, &running);
        check_finished(h);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct http *h = userdata;
        int running;

        (void)s, (void)usec;
        curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_finished(h);
        return 0;
}

/* CURLMOPT_SOCKETFUNCTION: keep one io source per socket, stored with
 * curl_multi_assign(). */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        struct http *h = userp;
        sd_event_source *s = socketp;
        uint32_t events = 0;

        (void)easy;
        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        sd_event_source_disable_unref(s);
                        curl_multi_assign(h->multi, fd, NULL);
                }
                return 0;
        }
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (s) {
                if (sd_event_source_set_io_events(s, events) < 0)
                        return -1;
                return sd_event_source_set_enabled(s, SD_EVENT_ON) < 0 ? -1 : 0;
        }
        if (sd_event_add_io(h->event, &s, fd, events, on_io, h) < 0)
                return -1;
        sd_event_source_set_description(s, "http-io");
        if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
                sd_event_source_disable_unref(s);
                return -1;
        }
        return 0;
}

static int on_now(sd_event_source *s, void *userdata) {
        return on_timer(s, 0, userdata);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer, 0 means "as soon as possible"
 * (curl asks for that after every new transfer: a defer source serves it
 * without reprogramming the timerfd). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        struct http *h = userp;
        uint64_t when;

        (void)multi;
        if (timeout_ms < 0)
                return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (timeout_ms == 0)
                return sd_event_source_set_enabled(h->now, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
        when = event_now_usec(h->event) + (uint64_t)timeout_ms * 1000;
        if (sd_event_source_set_time(h->timer, when) < 0)
                return -1;
        return sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata) {
        struct http_call *c = userdata;
        size_t n = size * nmemb;

        if (c->len + n > c->max) {
                c->too_big = true;
                return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        if (c->len + n + 1 > c->cap) {
                size_t cap = c->cap ? c->cap : 1024;
                char *p;

                while (cap < c->len + n + 1)
                        cap *= 2;
                p = erase_realloc(c->buf, c->len, cap);
                if (!p)
                        return 0;
                c->buf = p;
                c->cap = cap;
        }
        memcpy(c->buf + c->len, data, n);
        c->len += n;
        c->buf[c->len] = 0;
        return n;
}

int http_new(struct http **ret, sd_event *event) {
        struct http *h;
        int r;

        if (!ret || !event)
                return -EINVAL;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(event);
        h->multi = curl_multi_init();
        if (!h->multi) {
                http_free(h);
                return -ENOMEM;
        }
        r = sd_event_add_time(event, &h->timer, CLOCK_MONOTONIC, UINT64_MAX, TIMER_ACCURACY_USEC,
                              on_timer, h);
        if (r < 0) {
                http_free(h);
                return r;
        }
        sd_event_source_set_description(h->timer, "http-timer");
        sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        r = sd_event_add_defer(event, &h->now, on_now, h);
        if (r < 0) {
                http_free(h);
                return r;
        }
        sd_event_source_set_description(h->now, "http-now");
        sd_event_source_set_enabled(h->now, SD_EVENT_OFF);
        curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
        curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
        *ret = h;
        return 0;
}

struct http *http_free(struct http *h) {
        if (!h)
                return NULL;
        while (h->calls)
                call_unlink_free(h->calls);
        if (h->multi)
                curl_multi_cleanup(h->multi); /* removes remaining io sources via the callback */
        sd_event_source_disable_unref(h->timer);
        sd_event_source_disable_unref(h->now);
        sd_event_unref(h->event);
        erase_and_free(h->proxy_http);
        erase_and_free(h->proxy_https);
        free(h->no_proxy);
        free(h);
        return NULL;
}

static int set_string(char **dst, const char *value) {
        char *v = NULL;

        if (value && *value && !(v = strdup(value)))
                return -ENOMEM;
        erase_and_free(*dst);
        *dst = v;
        return 0;
}

int http_set_proxy(struct http *h, const struct http_proxy *p) {
        static const struct http_proxy none = {};
        int r;

        if (!h)
                return -EINVAL;
        p = p ? p : &none;
        r = set_string(&h->proxy_http, p->http);
        if (r >= 0)
                r = set_string(&h->proxy_https, p->https);
        if (r >= 0)
                r = set_string(&h->no_proxy, p->no_proxy);
        return r;
}

static const struct in6_addr imds6 = {
        {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}}}; /* fd00:ec2::254 */

/* A literal address (IPv6 with or without brackets) into *a4 or *a6;
 * AF_INET, AF_INET6, or 0 for anything else (a name). */
static int parse_address(const char *host, struct in_addr *a4, struct in6_addr *a6) {
        char buf[INET6_ADDRSTRLEN + 2];
        size_t n = strlen(host);

        if (inet_pton(AF_INET, host, a4) == 1)
                return AF_INET;
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
                memcpy(buf, host + 1, n - 2);
                buf[n - 2] = 0;
                host = buf;
        }
        return inet_pton(AF_INET6, host, a6) == 1 ? AF_INET6 : 0;
}

/* Literal addresses only (and the name localhost): a name that resolves to
 * loopback is not trusted.  loopback_only: IMDS's addresses do not count. */
static bool host_plain_allowed(const char *host, bool loopback_only) {
        struct in_addr a4;
        struct in6_addr a6;

        switch (parse_address(host, &a4, &a6)) {
        case AF_INET:
                return (ntohl(a4.s_addr) >> 24) == 127 ||
                       (!loopback_only && ntohl(a4.s_addr) == 0xa9fea9fe); /* 169.254.169.254 */
        case AF_INET6:
                return IN6_IS_ADDR_LOOPBACK(&a6) ||
                       (!loopback_only && memcmp(&a6, &imds6, sizeof a6) == 0);
        default:
                return strcasecmp(host, "localhost") == 0;
        }
}

/* Whether url may be fetched: https anywhere, plain http to loopback or
 * (unless loopback_only) IMDS. */
static bool url_allowed(const char *url, bool loopback_only) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL;
        bool ok = false;

        if (!u)
                return false;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
                ok = strcasecmp(scheme, "https") == 0 ||
                     (strcasecmp(scheme, "http") == 0 && host_plain_allowed(host, loopback_only));
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return ok;
}

bool http_url_plain_allowed(const char *url) {
        return url_allowed(url, false);
}

/* A request that carries a SigV4 signature or a session token: in its
 * headers (Authorization, X-Amz-Security-Token) or a pre-signed query. */
static bool request_is_signed(const struct http_request *req) {
        for (const char *const *p = req->headers; p && *p; p++)
                if (strncasecmp(*p, "Authorization:", 14) == 0 ||
                    strncasecmp(*p, "X-Amz-Security-Token:", 21) == 0)
                        return true;
        return strstr(req->url, "X-Amz-Signature=") || strstr(req->url, "X-Amz-Credential=");
}

/* Only http and https; plain http only to loopback and IMDS, and for a
 * signed request only to loopback (see http.h). */
static int check_url(const struct http_request *req, const char **err_text) {
        const char *url = req->url;

        if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
                if (err_text)
                        *err_text = "only http:// and https:// URLs are supported";
                return -EINVAL;
        }
        if (!http_url_plain_allowed(url)) {
                if (err_text)
                        *err_text = "refusing plain http to a non-local address: use https "
                                    "(plain http is allowed only to loopback and to IMDS, "
                                    "169.254.169.254 and fd00:ec2::254)";
                return -EPERM;
        }
        if (request_is_signed(req) && !url_allowed(url, true)) {
                if (err_text)
                        *err_text = "refusing to send a signed request over plain http to a "
                                    "non-loopback address: use https";
                return -EPERM;
        }
        return 0;
}

static bool sockaddr_is_loopback(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
                return IN6_IS_ADDR_LOOPBACK(a) ||
                       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        }
        return false;
}

/* CURLOPT_OPENSOCKETFUNCTION of a signed plain-http request: the address
 * curl is about to connect to -- the target's, or a proxy's -- must be
 * loopback, or the signature and the token would cross the network in the
 * clear.  Checked on the address, so a name that resolves elsewhere or a
 * remote proxy is refused too. */
static curl_socket_t open_loopback_only(void *clientp, curlsocktype purpose,
                                        struct curl_sockaddr *a) {
        struct http_call *c = clientp;

        (void)purpose;
        if (!sockaddr_is_loopback(&a->addr)) {
                c->refused = true;
                return CURL_SOCKET_BAD;
        }
        return socket(a->family, a->socktype, a->protocol);
}

/* Free a call that is neither in the multi handle nor in h->calls yet. */
static void call_free_unstarted(struct http_call *c) {
        curl_easy_cleanup(c->easy);
        call_free_buffers(c);
        free(c);
}

static int call_add_header(struct http_call *c, const char *line) {
        struct curl_slist *l = curl_slist_append(c->headers, line);

        if (!l)
                return -ENOMEM;
        c->headers = l;
        return 0;
}

/* The caller's headers, then the body: copied, since curl sends it after
 * http_submit() has returned. */
static int call_set_headers_and_body(struct http_call *c, const struct http_request *req) {
        int r;

        for (const char *const *p = req->headers; p && *p; p++) {
                r = call_add_header(c, *p);
                if (r < 0)
                        return r;
        }
        if (!req->body)
                return 0;
        /* curl adds "Expect: 100-continue" to larger POSTs; AWS does not need
         * the extra round trip. */
        r = call_add_header(c, "Expect:");
        if (r < 0)
                return r;
        c->req_body = malloc(req->body_len ? req->body_len : 1);
        if (!c->req_body)
                return -ENOMEM;
        memcpy(c->req_body, req->body, req->body_len);
        c->req_body_len = req->body_len;
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->req_body);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        return 0;
}

/* The proxy a request uses: only when it asks for one (ECS calls), and the
 * one set for its scheme; NULL means none, whatever the environment says. */
static const char *call_proxy(const struct http *h, const struct http_request *req) {
        if (!req->via_proxy)
                return NULL;
        return strncasecmp(req->url, "https://", 8) == 0 ? h->proxy_https : h->proxy_http;
}

/* The transfer's settings: TLS verified, no redirects, a proxy only when
 * the request wants one, the request's timeouts and body cap, the response
 * into c. */
static void call_set_options(struct http_call *c, const struct http_request *req) {
        const char *proxy = call_proxy(c->http, req);
        CURL *e = c->easy;

        curl_easy_setopt(e, CURLOPT_URL, req->url);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        if (strcmp(req->method, "GET") == 0)
                curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        /* "" disables the proxy and overrides curl's reading of the
         * environment: IMDS and the introspection endpoint always go direct. */
        curl_easy_setopt(e, CURLOPT_PROXY, proxy ? proxy : "");
        curl_easy_setopt(e, CURLOPT_NOPROXY,
                         proxy ? (c->http->no_proxy ? c->http->no_proxy : "") : "*");
        if (strncasecmp(req->url, "http://", 7) == 0 && request_is_signed(req)) {
                curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_loopback_only);
                curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
        }
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                         (long)(req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS));
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(req->connect_timeout_ms ? req->connect_timeout_ms
                                                        : HTTP_DEFAULT_CONNECT_TIMEOUT_MS));
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
        curl_easy_setopt(e, CURLOPT_PRIVATE, c);
}

/* A call ready to be added to the multi handle; *ret written only on success. */
static int call_new(struct http_call **ret, struct http *h, const struct http_request *req,
                    http_callback_t cb, void *userdata) {
        struct http_call *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (struct http_call){
                .http = h,
                .easy = curl_easy_init(),
                .max = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY,
                .cb = cb,
                .userdata = userdata,
        };
        r = c->easy ? call_set_headers_and_body(c, req) : -ENOMEM;
        if (r < 0) {
                call_free_unstarted(c);
                return r;
        }
        call_set_options(c, req);
        *ret = c;
        return 0;
}

int http_submit(struct http *h, const struct http_request *req, http_callback_t cb, void *userdata,
                struct http_call **ret_call, const char **err_text) {
        struct http_call *c;
        int r;

        if (!h || !req || !req->url || !req->method || !cb)
                return -EINVAL;
        r = check_url(req, err_text);
        if (r < 0)
                return r;
        r = call_new(&c, h, req, cb, userdata);
        if (r < 0)
                return r;

        c->started = event_now_usec(h->event);
        if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
                call_free_unstarted(c);
                return -ENOMEM;
        }
        c->next = h->calls;
        if (h->calls)
                h->calls->prev = c;
        h->calls = c;
        h->n_calls++;
        if (ret_call)
                *ret_call = c;
        return 0;
}

void http_call_cancel(struct http_call *c) {
        if (c && !c->in_callback)
                call_unlink_free(c);
}

const char *http_response_header(const struct http_response *r, const char *name) {
        struct curl_header *hdr;

        if (!r || !r->call || r->error)
                return NULL;
        if (curl_easy_header(r->call->easy, name, 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK)
                return NULL;
        return hdr->value;
}

unsigned http_in_flight(const struct http *h) {
        return h ? h->n_calls : 0;
}
