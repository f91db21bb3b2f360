/* test-http.c: the sd-event + libcurl client against a real HTTP server
 * (libmicrohttpd, one thread per connection) on a loopback port. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "test-loop.h"
#include "test.h"

static atomic_int n_connections;

struct upload {
        char buf[4096];
        size_t len;
};

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        (void)cls, (void)conn, (void)socket_context;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED)
                n_connections++;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             size_t len) {
        struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                                                 MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        MHD_add_response_header(r, "X-Test", "yes");
        ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_size, void **con_cls) {
        (void)cls, (void)version;
        /* Answer on the second call, once the request is complete: a response
         * queued on the first call makes microhttpd close the connection. */
        if (strcmp(url, "/echo") != 0 && !*con_cls) {
                *con_cls = (void *)1;
                return MHD_YES;
        }
        if (strcmp(url, "/echo") == 0) {
                struct upload *u = *con_cls;
                char out[8192];
                const char *probe;

                if (!u) {
                        *con_cls = calloc(1, sizeof(struct upload));
                        return MHD_YES;
                }
                if (*upload_size) {
                        size_t n = *upload_size;
                        if (n > sizeof u->buf - u->len)
                                n = sizeof u->buf - u->len;
                        memcpy(u->buf + u->len, upload_data, n);
                        u->len += n;
                        *upload_size = 0;
                        return MHD_YES;
                }
                probe = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Probe");
                snprintf(out, sizeof out, "%s %s %.*s", method, probe ? probe : "-", (int)u->len,
                         u->buf);
                free(u);
                *con_cls = NULL;
                return reply(conn, 200, out, strlen(out));
        }
        if (strncmp(url, "http://", 7) == 0) {
                /* An absolute URI: the request came as to a proxy. */
                char out[256];
                snprintf(out, sizeof out, "proxied %s", url);
                return reply(conn, 200, out, strlen(out));
        }
        if (strcmp(url, "/slow") == 0) {
                usleep(1500 * 1000);
                return reply(conn, 200, "slow", 4);
        }
        if (strcmp(url, "/big") == 0) {
                static char big[64 * 1024];
                memset(big, 'x', sizeof big);
                return reply(conn, 200, big, sizeof big);
        }
        if (strcmp(url, "/drop") == 0)
                return MHD_NO; /* closes the connection without an answer */
        if (strcmp(url, "/503") == 0)
                return reply(conn, 503, "busy", 4);
        return reply(conn, 200, "hello", 5);
}

struct result {
        bool done;
        int error;
        long status;
        char body[256];
        char header[64];
        bool reused;
        uint64_t when;
};

static void on_done(const struct http_response *r, void *userdata) {
        struct result *res = userdata;
        const char *h = http_response_header(r, "x-test");

        res->done = true;
        res->error = r->error;
        res->status = r->status;
        res->reused = r->connection_reused;
        res->when = test_now_usec();
        snprintf(res->body, sizeof res->body, "%s", r->body);
        snprintf(res->header, sizeof res->header, "%s", h ? h : "");
}

static void on_never(const struct http_response *r, void *userdata) {
        (void)r;
        *(bool *)userdata = true;
}

static int get(struct http *h, sd_event *e, const char *url, const struct http_request *tmpl,
               struct result *res) {
        struct http_request req = tmpl ? *tmpl : (struct http_request){};
        int r;

        req.method = req.method ? req.method : "GET";
        req.url = url;
        memset(res, 0, sizeof *res);
        r = http_submit(h, &req, on_done, res, NULL, NULL);
        if (r < 0)
                return r;
        return test_run_until(e, &res->done, 5000) ? 0 : -ETIME;
}

/* A request signed with SigV4 (or carrying a session token) goes over plain
 * http to loopback only: not even to IMDS. */
static void test_signed(struct http *h, sd_event *e, const char *base) {
        static const char *const auth[] = {"Authorization: AWS4-HMAC-SHA256 Credential=x", NULL};
        static const char *const token[] = {"x-amz-security-token: t", NULL};
        struct http_request req = {.method = "GET", .headers = auth};
        const char *why = NULL;
        bool called = false;
        struct result a;
        char url[128];
        int r;

        req.url = "http://169.254.169.254/latest";
        r = http_submit(h, &req, on_never, &called, NULL, &why);
        CHECK_INTEQ("a signed request over plain http to IMDS's address is refused", r, -EPERM);
        CHECK("the refusal says why", why && strstr(why, "signed request over plain http"));
        req.url = "http://[fd00:ec2::254]/latest";
        CHECK_INTEQ("the same for IMDS's IPv6 address",
                    http_submit(h, &req, on_never, &called, NULL, NULL), -EPERM);
        req.headers = token;
        req.url = "http://169.254.169.254/latest";
        CHECK_INTEQ("a session token header alone makes it signed",
                    http_submit(h, &req, on_never, &called, NULL, NULL), -EPERM);
        req.headers = NULL;
        req.url = "http://169.254.169.254/x?X-Amz-Credential=a&X-Amz-Signature=b";
        CHECK_INTEQ("so does a pre-signed query",
                    http_submit(h, &req, on_never, &called, NULL, NULL), -EPERM);
        CHECK("no callback ran", !called);

        snprintf(url, sizeof url, "%s/hello", base);
        req.headers = auth;
        r = get(h, e, url, &req, &a);
        CHECK("a signed request over plain http to loopback is sent",
              r == 0 && a.error == 0 && a.status == 200);
}

/* Only requests that ask for it go through the proxy; the environment's
 * proxy variables play no part.  The test server answers an absolute URI
 * as a forward proxy would. */
static void test_proxy(struct http *h, sd_event *e, const char *base) {
        static const char *const auth[] = {"Authorization: AWS4-HMAC-SHA256 Credential=x", NULL};
        struct http_request req = {.method = "GET"};
        const char *target = "http://127.0.0.2:9/probe"; /* nothing listens there */
        struct result a;
        uint64_t t0;

        setenv("http_proxy", base, 1);
        setenv("HTTPS_PROXY", base, 1);
        get(h, e, target, &req, &a);
        CHECK_INTEQ("without via_proxy the environment's http_proxy is not used", a.error,
                    -ECONNREFUSED);

        CHECK_INTEQ("set a proxy",
                    http_set_proxy(h, &(struct http_proxy){.http = base + strlen("http://")}), 0);
        get(h, e, target, &req, &a);
        CHECK_INTEQ("without via_proxy the set proxy is not used either", a.error, -ECONNREFUSED);
        req.via_proxy = true;
        get(h, e, target, &req, &a);
        CHECK("with via_proxy the request goes through the proxy (host:port means http://)",
              a.error == 0 && a.status == 200 &&
                      strcmp(a.body, "proxied http://127.0.0.2:9/probe") == 0);
        req.headers = auth;
        get(h, e, target, &req, &a);
        CHECK("a signed plain-http request through a loopback proxy is sent",
              a.error == 0 && strncmp(a.body, "proxied ", 8) == 0);

        http_set_proxy(h, &(struct http_proxy){.http = base, .no_proxy = "example.com, 127.0.0.2"});
        get(h, e, target, &req, &a);
        CHECK_INTEQ("a host in no_proxy is reached directly", a.error, -ECONNREFUSED);

        /* 192.0.2.1 (TEST-NET-1) is never connected to: refused at the socket. */
        http_set_proxy(h, &(struct http_proxy){.http = "http://192.0.2.1:3128"});
        t0 = test_now_usec();
        get(h, e, target, &req, &a);
        CHECK_INTEQ("a signed plain-http request through a non-loopback proxy is refused", a.error,
                    -EPERM);
        CHECK("at once, without trying to connect", a.when - t0 < 500 * 1000);

        CHECK_INTEQ("clear the proxy", http_set_proxy(h, NULL), 0);
        get(h, e, target, &req, &a);
        CHECK_INTEQ("without a proxy via_proxy goes direct", a.error, -ECONNREFUSED);
        unsetenv("http_proxy");
        unsetenv("HTTPS_PROXY");
}

int main(void) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        struct MHD_Daemon *d;
        sd_event *e = NULL;
        struct http *h = NULL;
        struct result a, b;
        char base[64], url[128];
        const char *why = NULL;
        unsigned port;
        int r;

        d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                             NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
        if (!CHECK("microhttpd test server starts", d))
                return test_done();
        port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
        snprintf(base, sizeof base, "http://127.0.0.1:%u", port);

        sd_event_default(&e);
        CHECK_INTEQ("http_new", http_new(&h, e), 0);

        snprintf(url, sizeof url, "%s/hello", base);
        r = get(h, e, url, NULL, &a);
        CHECK_INTEQ("GET completes", r, 0);
        CHECK_INTEQ("GET status", a.status, 200);
        CHECK_STREQ("GET body", a.body, "hello");
        CHECK_STREQ("response header lookup", a.header, "yes");

        /* Two more requests on the same host reuse the connection. */
        get(h, e, url, NULL, &a);
        get(h, e, url, NULL, &b);
        CHECK("second and third requests reuse the connection", a.reused && b.reused);
        CHECK_INTEQ("one TCP connection for three requests", n_connections, 1);

        {
                static const char *const hdrs[] = {"X-Probe: probe-value", NULL};
                struct http_request req = {
                        .method = "POST", .headers = hdrs, .body = "payload", .body_len = 7};
                snprintf(url, sizeof url, "%s/echo", base);
                get(h, e, url, &req, &a);
                CHECK_STREQ("POST sends method, header and body", a.body,
                            "POST probe-value payload");
        }

        snprintf(url, sizeof url, "%s/503", base);
        get(h, e, url, NULL, &a);
        CHECK("an HTTP error status is a response, not a transport error",
              a.error == 0 && a.status == 503);

        {
                struct http_request req = {.timeout_ms = 300};
                uint64_t t0 = test_now_usec();
                snprintf(url, sizeof url, "%s/slow", base);
                get(h, e, url, &req, &a);
                CHECK_INTEQ("per-request timeout gives -ETIMEDOUT", a.error, -ETIMEDOUT);
                CHECK("the timeout fires before the server answers", a.when - t0 < 1400 * 1000);
        }

        {
                struct http_request req = {.max_body = 1000};
                snprintf(url, sizeof url, "%s/big", base);
                get(h, e, url, &req, &a);
                CHECK_INTEQ("a body over the cap gives -EMSGSIZE", a.error, -EMSGSIZE);
                get(h, e, url, NULL, &a);
                CHECK("the same body under the default cap arrives",
                      a.error == 0 && a.status == 200);
        }

        snprintf(url, sizeof url, "%s/drop", base);
        get(h, e, url, NULL, &a);
        CHECK_INTEQ("a dropped connection gives -ECONNRESET", a.error, -ECONNRESET);

        {
                /* A port nobody listens on: bind, read the port, close. */
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in s2 = sa;
                socklen_t sl = sizeof s2;
                bind(fd, (struct sockaddr *)&s2, sizeof s2);
                getsockname(fd, (struct sockaddr *)&s2, &sl);
                close(fd);
                snprintf(url, sizeof url, "http://127.0.0.1:%u/", ntohs(s2.sin_port));
                get(h, e, url, NULL, &a);
                CHECK_INTEQ("connection refused gives -ECONNREFUSED", a.error, -ECONNREFUSED);
        }

        {
                /* The loop is never blocked: a fast request overtakes a slow one. */
                struct result slow = {}, fast = {};
                struct http_request req = {.method = "GET"};
                snprintf(url, sizeof url, "%s/slow", base);
                req.url = url;
                http_submit(h, &req, on_done, &slow, NULL, NULL);
                snprintf(url, sizeof url, "%s/hello", base);
                req.url = url;
                http_submit(h, &req, on_done, &fast, NULL, NULL);
                CHECK_INTEQ("two calls in flight", http_in_flight(h), 2);
                test_run_until(e, &slow.done, 5000);
                CHECK("a fast request finishes while a slow one is in flight",
                      fast.done && slow.done && fast.when < slow.when);
        }

        {
                bool called = false;
                struct http_call *c = NULL;
                struct http_request req = {.method = "GET", .url = url};
                snprintf(url, sizeof url, "%s/slow", base);
                http_submit(h, &req, on_never, &called, &c, NULL);
                http_call_cancel(c);
                CHECK_INTEQ("a cancelled call leaves nothing in flight", http_in_flight(h), 0);
                snprintf(url, sizeof url, "%s/hello", base);
                get(h, e, url, NULL, &a);
                CHECK("a cancelled call's callback never runs", !called && a.status == 200);
        }

        {
                bool called = false;
                struct http_request req = {.method = "GET", .url = "http://10.1.2.3/latest"};
                r = http_submit(h, &req, on_never, &called, NULL, &why);
                CHECK_INTEQ("plain http to a private address is refused", r, -EPERM);
                CHECK("the refusal says why", why && strstr(why, "plain http"));
                req.url = "ftp://127.0.0.1/";
                CHECK_INTEQ("other schemes are refused",
                            http_submit(h, &req, on_never, &called, NULL, NULL), -EINVAL);
        }

        CHECK("loopback v4 allowed", http_url_plain_allowed("http://127.0.0.1:1338/latest"));
        CHECK("127/8 allowed", http_url_plain_allowed("http://127.9.9.9/"));
        CHECK("IMDS v4 allowed", http_url_plain_allowed("http://169.254.169.254/latest"));
        CHECK("IMDS v6 allowed", http_url_plain_allowed("http://[fd00:ec2::254]/latest"));
        CHECK("::1 allowed", http_url_plain_allowed("http://[::1]:8080/"));
        CHECK("localhost allowed", http_url_plain_allowed("http://localhost:51678/v1/metadata"));
        CHECK("https anywhere allowed",
              http_url_plain_allowed("https://ecs.us-east-1.amazonaws.com/"));
        CHECK("plain http to a public name refused",
              !http_url_plain_allowed("http://ecs.us-east-1.amazonaws.com/"));
        CHECK("a name that starts like loopback refused",
              !http_url_plain_allowed("http://127.0.0.1.nip.io/"));
        CHECK("plain http to 10/8 refused", !http_url_plain_allowed("http://10.0.0.1/"));
        CHECK("userinfo does not fool the check",
              !http_url_plain_allowed("http://127.0.0.1@example.com/"));
        CHECK("link-local other than IMDS refused",
              !http_url_plain_allowed("http://169.254.1.1/latest"));
        CHECK("the ECS task metadata address refused",
              !http_url_plain_allowed("http://169.254.170.2/v2/credentials"));
        CHECK("IPv6 link-local refused", !http_url_plain_allowed("http://[fe80::1]/latest"));
        CHECK("IMDS v6 in another spelling allowed",
              http_url_plain_allowed("http://[fd00:0ec2:0:0::254]/latest"));

        test_signed(h, e, base);
        test_proxy(h, e, base);

        {
                /* Freeing with a call in flight must not leak or call back. */
                bool called = false;
                struct http_request req = {.method = "GET", .url = url};
                snprintf(url, sizeof url, "%s/slow", base);
                http_submit(h, &req, on_never, &called, NULL, NULL);
                sd_event_run(e, 10 * 1000);
                http_free(h);
                h = NULL;
                CHECK("freeing with a call in flight runs no callback", !called);
        }

        sd_event_unref(e);
        MHD_stop_daemon(d);
        return test_done();
}
