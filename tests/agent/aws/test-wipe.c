/* test-wipe.c: memory that held a secret is wiped before it is freed.  In a
 * plain build this program interposes free() and realloc(): a block the
 * daemon's code frees (this executable, which links libhostd.a, or libcjson
 * on its behalf) must hold no piece of the test's secrets.  Blocks that
 * libcurl, OpenSSL, libmicrohttpd or libc free are wiped here instead, so
 * their memory, once reused, is never taken for the daemon's.  Under ASan
 * the allocator is ASan's and those checks are skipped; the request header
 * lists are checked in both builds (curl_slist_free_all() is interposed). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "credentials.h"
#include "ecs.h"
#include "http.h"
#include "imds.h"
#include "sigv4.h"
#include "test-loop.h"
#include "test.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WIPE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WIPE_ASAN 1
#endif
#ifndef WIPE_ASAN
#define WIPE_ASAN 0
#endif

/* The secrets are a short unit repeated, so any piece of one long enough to
 * matter (two units) holds a whole unit: a grown buffer's old block is
 * caught as well as the final copy. */
#define SECRET_UNIT "SeCrEtUnIt"
#define TOKEN_UNIT "ToKeNuNiT"
#define SECRET SECRET_UNIT SECRET_UNIT SECRET_UNIT SECRET_UNIT /* 40 bytes, as AWS's */
#define TOKEN_16                                                                                   \
        TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT    \
                TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT TOKEN_UNIT       \
                        TOKEN_UNIT
/* 1152 bytes: longer than the first buffer of every growable string. */
#define TOKEN TOKEN_16 TOKEN_16 TOKEN_16 TOKEN_16 TOKEN_16 TOKEN_16 TOKEN_16 TOKEN_16
#define KEY_ID "AKIAWIPETESTEXAMPLE1"

static atomic_bool scanning;
static atomic_int n_unwiped;         /* blocks the daemon's code freed unwiped */
static atomic_int n_unwiped_headers; /* request header lists freed unwiped */
static atomic_uintptr_t last_caller; /* for the diagnostic: offset in the executable */
static const void *self_base, *cjson_base;

static bool holds_secret(const void *p, size_t n) {
        return memmem(p, n, SECRET_UNIT, strlen(SECRET_UNIT)) ||
               memmem(p, n, TOKEN_UNIT, strlen(TOKEN_UNIT));
}

#if !WIPE_ASAN
static bool from_daemon(const void *caller) {
        Dl_info i;

        return dladdr(caller, &i) && (i.dli_fbase == self_base || i.dli_fbase == cjson_base);
}

/* A block about to go back to the allocator. */
static void check_freed(void *p, size_t n, const void *caller) {
        if (!atomic_load(&scanning) || !holds_secret(p, n))
                return;
        if (from_daemon(caller)) {
                atomic_fetch_add(&n_unwiped, 1);
                atomic_store(&last_caller, (uintptr_t)caller - (uintptr_t)self_base);
        }
        explicit_bzero(p, n);
}

extern void __libc_free(void *p);
extern void *__libc_malloc(size_t size);
extern void *__libc_realloc(void *p, size_t size);

void free(void *p) {
        if (p)
                check_freed(p, malloc_usable_size(p), __builtin_return_address(0));
        __libc_free(p);
}

/* While scanning, a block always moves, so the old one is seen as realloc()
 * would free it when it moves. */
void *realloc(void *p, size_t size) {
        void *q = NULL;
        size_t n;

        if (!p || !atomic_load(&scanning))
                return __libc_realloc(p, size);
        n = malloc_usable_size(p);
        if (size) {
                q = __libc_malloc(size);
                if (!q)
                        return NULL;
                memcpy(q, p, n < size ? n : size);
        }
        check_freed(p, n, __builtin_return_address(0));
        __libc_free(p);
        return q;
}
#endif

/* http.c hands its header list to this; the real one frees it. */
void curl_slist_free_all(struct curl_slist *list) {
        static void (*real)(struct curl_slist *);

        if (!real)
                real = (void (*)(struct curl_slist *))dlsym(RTLD_NEXT, "curl_slist_free_all");
        for (struct curl_slist *l = list; l; l = l->next)
                if (atomic_load(&scanning) && holds_secret(l->data, strlen(l->data))) {
                        atomic_fetch_add(&n_unwiped_headers, 1);
                        explicit_bzero(l->data, strlen(l->data));
                }
        real(list);
}

/* Scan from here; the check holds when nothing was freed unwiped since. */
static void scan_begin(void) {
        atomic_store(&n_unwiped, 0);
        atomic_store(&n_unwiped_headers, 0);
        atomic_store(&scanning, true);
}

static void scan_check(const char *name) {
        char full[256];

        atomic_store(&scanning, false);
        snprintf(full, sizeof full, "%s: every block that held a secret was wiped", name);
        if (WIPE_ASAN) {
                printf("ok %d - %s # SKIP free() is ASan's in this build\n",
                       test_n_ok_ + test_n_fail_ + 1, full);
                test_n_ok_++;
                return;
        }
        if (atomic_load(&n_unwiped))
                printf("# %d block(s) freed unwiped, the last at executable offset %#lx\n",
                       atomic_load(&n_unwiped), (unsigned long)atomic_load(&last_caller));
        CHECK(full, atomic_load(&n_unwiped) == 0);
}

/* The test's own way of freeing a secret, against which the scan is checked. */
static void test_scanner(void) {
        char *s;

        if (WIPE_ASAN)
                return;
        scan_begin();
        s = strdup("x" SECRET);
        __asm__ __volatile__("" : : "r"(s) : "memory"); /* keep the copy */
        free(s);
        CHECK_INTEQ("the scan sees a secret freed unwiped", atomic_load(&n_unwiped), 1);
        scan_begin();
        s = strdup("x" SECRET);
        __asm__ __volatile__("" : : "r"(s) : "memory");
        explicit_bzero(s, strlen(s));
        free(s);
        CHECK_INTEQ("the scan passes a secret wiped before free", atomic_load(&n_unwiped), 0);
        atomic_store(&scanning, false);
}

static void test_config(void) {
        static const char text[] = "AWS_ACCESS_KEY_ID=" KEY_ID "\n"
                                   "AWS_SECRET_ACCESS_KEY=" SECRET "\n"
                                   "AWS_SESSION_TOKEN=\"" TOKEN "\"\n";
        char path[] = "/tmp/test-wipe-XXXXXX";
        const char *files[] = {path};
        struct errors errs = {};
        struct config *c = NULL;
        int fd;

        scan_begin();
        CHECK_INTEQ("config: the secrets parse", config_new_empty(&c), 0);
        CHECK_INTEQ("config: the secrets parse",
                    config_parse_text(c, "t.conf", text, strlen(text), &errs), 0);
        CHECK_STREQ("config: the token is stored whole", config_string(c, KEY_AWS_SESSION_TOKEN),
                    TOKEN);
        config_free(c);
        c = NULL;
        scan_check("config: parsed text, then freed");

        fd = mkstemp(path);
        if (!CHECK("config: a temporary file", fd >= 0 && write(fd, text, strlen(text)) > 0))
                return;
        close(fd);
        scan_begin();
        CHECK_INTEQ("config: the file loads", config_load(&c, files, 1, false, NULL, &errs), 0);
        config_free(c);
        scan_check("config: loaded from a file, then freed");
        unlink(path);
        errors_done(&errs);
}

static const char role_json[] = "{\"Code\": \"Success\", \"Type\": \"AWS-HMAC\", "
                                "\"AccessKeyId\": \"" KEY_ID "\", "
                                "\"SecretAccessKey\": \"" SECRET "\", "
                                "\"Token\": \"" TOKEN "\", "
                                "\"Expiration\": \"2099-01-01T00:00:00Z\"}";

static void test_credentials(void) {
        struct aws_credentials c = {};
        char *why = NULL;

        scan_begin();
        CHECK_INTEQ("credentials: the role's JSON parses",
                    credentials_parse_imds(role_json, strlen(role_json), &c, &why), 0);
        aws_credentials_done(&c);
        scan_check("credentials: the parsed tree and the copies");
        free(why);
}

static void test_sigv4(void) {
        const struct sigv4_header h[] = {{"Host", "ecs.us-east-1.amazonaws.com"},
                                         {"X-Amz-Target", "X.DescribeClusters"}};
        struct sigv4_request req = {.method = "POST",
                                    .path = "/",
                                    .headers = h,
                                    .n_headers = 2,
                                    .body = "{}",
                                    .body_len = 2};
        struct sigv4_params p = {.access_key_id = KEY_ID,
                                 .secret_access_key = SECRET,
                                 .session_token = TOKEN,
                                 .region = "us-east-1",
                                 .service = "ecs",
                                 .when = 1700000000};
        struct sigv4_result r = {};

        scan_begin();
        CHECK_INTEQ("sigv4: headers signed", sigv4_sign(&req, &p, &r), 0);
        CHECK("sigv4: the canonical request holds the token",
              r.canonical_request && strstr(r.canonical_request, TOKEN));
        sigv4_result_done(&r);
        p.location = SIGV4_IN_QUERY;
        p.expires = 60;
        CHECK_INTEQ("sigv4: query signed", sigv4_sign(&req, &p, &r), 0);
        sigv4_result_done(&r);
        scan_check("sigv4: canonical request, string to sign, header and query copies");
}

/* IMDS (token, role, role's credentials) and ECS on one loopback server. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_size, void **con_cls) {
        const char *body = "{}";
        struct MHD_Response *r;
        enum MHD_Result ret;

        (void)cls, (void)version, (void)upload_data;
        if (!*con_cls) {
                *con_cls = (void *)1;
                return MHD_YES;
        }
        if (*upload_size) {
                *upload_size = 0;
                return MHD_YES;
        }
        if (strcmp(method, "PUT") == 0)
                body = "imds-session";
        else if (strcmp(url, "/latest/meta-data/iam/security-credentials/") == 0)
                body = "role";
        else if (strcmp(url, "/latest/meta-data/iam/security-credentials/role") == 0)
                body = role_json;
        r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                            MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "X-aws-ec2-metadata-token-ttl-seconds", "21600");
        ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
}

struct ecs_done {
        bool done;
        int error;
};

static void on_ecs(const struct ecs_result *r, void *userdata) {
        struct ecs_done *d = userdata;

        d->done = true;
        d->error = r->error;
}

static void test_clients(unsigned port) {
        char base[64], endpoint[80];
        struct ecs_done d = {};
        sd_event *e = NULL;
        struct http *h = NULL;
        struct imds *m = NULL;
        struct credentials *cr = NULL;
        struct ecs *ecs = NULL;

        snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
        snprintf(endpoint, sizeof endpoint, "%s/", base);
        sd_event_default(&e);
        scan_begin();
        http_new(&h, e);
        imds_new(&m, e, h, &(struct imds_config){.endpoint = base});
        credentials_new(&cr, e, m, &(struct credentials_config){});
        if (!CHECK_INTEQ("clients: ECS client",
                         ecs_new(&ecs, e, h, cr,
                                 &(struct ecs_config){.region = "us-east-1", .endpoint = endpoint}),
                         0))
                return;
        ecs_call(ecs, "DescribeClusters", NULL, on_ecs, &d, NULL);
        test_run_until(e, &d.done, 5000);
        CHECK("clients: a signed call with the role's credentials answers", d.done && !d.error);
        ecs_free(ecs);
        credentials_free(cr);
        imds_free(m);
        http_free(h);
        sd_event_unref(e);
        CHECK_INTEQ("clients: the signed request's headers were wiped before they were freed",
                    atomic_load(&n_unwiped_headers), 0);
        scan_check("clients: the role's credentials body, the signed request");
}

int main(void) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        struct MHD_Daemon *d;
        Dl_info i;

        if (dladdr((void *)main, &i))
                self_base = i.dli_fbase;
        if (dladdr(dlsym(RTLD_DEFAULT, "cJSON_Delete"), &i))
                cjson_base = i.dli_fbase;
        CHECK("the executable and libcjson are found", self_base && cjson_base);

        test_scanner();
        test_config();
        test_credentials();
        test_sigv4();

        d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                             NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
        if (CHECK("microhttpd test server starts", d)) {
                test_clients(MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
                MHD_stop_daemon(d);
        }
        return test_done();
}
