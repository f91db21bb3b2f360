/* test-sigv4: sigv4.c beyond the signing suite: the ECS JSON 1.1 POST the
 * daemon sends (checked against an independent recomputation of the key
 * chain), canonicalization corners, input validation, the request.txt parser. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>

#include "macro.h"
#include "sigv4.h"
#include "test.h"

/* 2024-01-02T03:04:05Z */
#define WHEN ((time_t)1704164645)
#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLE/+token=="
#define TARGET "AmazonEC2ContainerServiceV20141113.RegisterContainerInstance"
#define BODY "{\"cluster\":\"default\",\"totalResources\":[]}"

static const struct sigv4_header ecs_headers[] = {
        {"Host", "ecs.us-west-2.amazonaws.com"},
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", TARGET},
};

static struct sigv4_request ecs_request(void) {
        return (struct sigv4_request){
                .method = "POST",
                .path = "/",
                .headers = ecs_headers,
                .n_headers = ELEMENTSOF(ecs_headers),
                .body = BODY,
                .body_len = strlen(BODY),
        };
}

static struct sigv4_params ecs_params(void) {
        return (struct sigv4_params){
                .access_key_id = "ASIAEXAMPLE",
                .secret_access_key = "secretEXAMPLEKEY",
                .session_token = TOKEN,
                .region = "us-west-2",
                .service = "ecs",
                .when = WHEN,
                .normalize_path = true,
        };
}

static void sha256_hex(char out[65], const void *p, size_t n) {
        unsigned char md[32];
        unsigned len = 0;
        EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void hmac(unsigned char out[32], const void *key, size_t key_len, const char *data) {
        unsigned len = 0;
        HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &len);
}

/* The SigV4 key chain and final HMAC, written from the specification. */
static void expected_signature(char out[65], const char *secret, const char *date,
                               const char *region, const char *service, const char *sts) {
        char k0[128];
        unsigned char k[32], sig[32];
        snprintf(k0, sizeof(k0), "AWS4%s", secret);
        hmac(k, k0, strlen(k0), date);
        hmac(k, k, 32, region);
        hmac(k, k, 32, service);
        hmac(k, k, 32, "aws4_request");
        hmac(sig, k, 32, sts);
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", sig[i]);
}

static void test_ecs_post(void) {
        struct sigv4_request req = ecs_request();
        struct sigv4_params p = ecs_params();
        struct sigv4_result r = {};
        if (!CHECK_INTEQ("ecs: sign", sigv4_sign(&req, &p, &r), 0))
                return;

        char body_hash[65], want_cr[1024], cr_hash[65], want_sts[512], want_sig[65];
        sha256_hex(body_hash, BODY, strlen(BODY));
        CHECK_STREQ("ecs: payload hash is the body's SHA-256", r.payload_hash, body_hash);
        CHECK_STREQ("ecs: X-Amz-Date", r.amz_date, "20240102T030405Z");

        snprintf(want_cr, sizeof(want_cr),
                 "POST\n/\n\n"
                 "content-type:application/x-amz-json-1.1\n"
                 "host:ecs.us-west-2.amazonaws.com\n"
                 "x-amz-date:20240102T030405Z\n"
                 "x-amz-security-token:" TOKEN "\n"
                 "x-amz-target:" TARGET "\n"
                 "\n"
                 "content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n"
                 "%s",
                 body_hash);
        CHECK_STREQ("ecs: canonical request signs the token and the target", r.canonical_request,
                    want_cr);

        sha256_hex(cr_hash, r.canonical_request, strlen(r.canonical_request));
        snprintf(want_sts, sizeof(want_sts),
                 "AWS4-HMAC-SHA256\n20240102T030405Z\n20240102/us-west-2/ecs/aws4_request\n%s",
                 cr_hash);
        CHECK_STREQ("ecs: string to sign", r.string_to_sign, want_sts);

        expected_signature(want_sig, p.secret_access_key, "20240102", "us-west-2", "ecs", want_sts);
        CHECK_STREQ("ecs: signature matches an independent key chain", r.signature, want_sig);

        char want_auth[512];
        snprintf(want_auth, sizeof(want_auth),
                 "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20240102/us-west-2/ecs/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
                 "Signature=%s",
                 want_sig);
        CHECK_STREQ("ecs: Authorization shape", r.authorization, want_auth);

        if (CHECK_INTEQ("ecs: three headers to add", r.n_headers, 3)) {
                CHECK_STREQ("ecs: token header first", r.headers[0].name, "X-Amz-Security-Token");
                CHECK_STREQ("ecs: token value", r.headers[0].value, TOKEN);
                CHECK_STREQ("ecs: date header", r.headers[1].name, "X-Amz-Date");
                CHECK_STREQ("ecs: date value", r.headers[1].value, "20240102T030405Z");
                CHECK_STREQ("ecs: authorization last", r.headers[2].name, "Authorization");
                CHECK("ecs: authorization value is the result's",
                      r.headers[2].value == r.authorization);
        }
        CHECK("ecs: no query in header mode", !r.query);
        sigv4_result_done(&r);
}

static void test_published_example(void) {
        /* The worked example of the AWS General Reference ("Signature Version
         * 4 signing process", IAM ListUsers), whose signature AWS publishes. */
        const struct sigv4_header h[] = {
                {"Host", "iam.amazonaws.com"},
                {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        };
        struct sigv4_request req = {.method = "GET",
                                    .path = "/",
                                    .query = "Action=ListUsers&Version=2010-05-08",
                                    .headers = h,
                                    .n_headers = 2};
        struct sigv4_params p = {.access_key_id = "AKIDEXAMPLE",
                                 .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                 .region = "us-east-1",
                                 .service = "iam",
                                 .when = 1440938160, /* 2015-08-30T12:36:00Z */
                                 .normalize_path = true};
        struct sigv4_result r = {};
        if (!CHECK_INTEQ("aws example: sign", sigv4_sign(&req, &p, &r), 0))
                return;
        CHECK_STREQ("aws example: published signature", r.signature,
                    "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
        sigv4_result_done(&r);
}

static void test_determinism_and_secret(void) {
        struct sigv4_request req = ecs_request();
        struct sigv4_params p = ecs_params();
        struct sigv4_result a = {}, b = {}, c = {}, d = {};
        CHECK_INTEQ("determinism: first", sigv4_sign(&req, &p, &a), 0);
        CHECK_INTEQ("determinism: second", sigv4_sign(&req, &p, &b), 0);
        CHECK_STREQ("determinism: same canonical request", a.canonical_request,
                    b.canonical_request);
        CHECK_STREQ("determinism: same authorization", a.authorization, b.authorization);

        p.secret_access_key = "secretEXAMPLEKEZ";
        CHECK_INTEQ("wrong secret: sign", sigv4_sign(&req, &p, &c), 0);
        CHECK_STREQ("wrong secret: same string to sign", c.string_to_sign, a.string_to_sign);
        CHECK("wrong secret: different signature",
              a.signature && c.signature && strcmp(a.signature, c.signature) != 0);

        p = ecs_params();
        p.when = WHEN + 1;
        CHECK_INTEQ("one second later: sign", sigv4_sign(&req, &p, &d), 0);
        CHECK_STREQ("one second later: date", d.amz_date, "20240102T030406Z");
        CHECK("one second later: different signature",
              a.signature && d.signature && strcmp(a.signature, d.signature) != 0);

        sigv4_result_done(&a);
        sigv4_result_done(&b);
        sigv4_result_done(&c);
        sigv4_result_done(&d);
}

/* Whether sigv4_result_done(NULL) returns, seen from a child process: a
 * crash there fails this check instead of ending the whole test program. */
static bool result_done_null_returns(void) {
        fflush(stdout); /* the child must not print our buffered TAP lines again */
        pid_t pid = fork();
        if (pid == 0) {
                sigv4_result_done(NULL);
                _exit(42);
        }
        int status = 0;
        return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
               WEXITSTATUS(status) == 42;
}

static void test_result_done(void) {
        struct sigv4_request req = ecs_request();
        struct sigv4_params p = ecs_params();
        struct sigv4_result r = {}, zero = {};
        CHECK_INTEQ("done: sign", sigv4_sign(&req, &p, &r), 0);
        sigv4_result_done(&r);
        CHECK("done: result zeroed", memcmp(&r, &zero, sizeof(r)) == 0);
        sigv4_result_done(&r);
        CHECK("done: a zeroed result stays zeroed", memcmp(&r, &zero, sizeof(r)) == 0);
        CHECK("done: NULL accepted (returns in a child process)", result_done_null_returns());
}

/* Sign with one field broken; expect the error and an untouched result. */
static void expect_error(const char *name, const struct sigv4_request *req,
                         const struct sigv4_params *p, int want) {
        struct sigv4_result r, before;
        char untouched[160];
        memset(&r, 0x5a, sizeof(r));
        memset(&before, 0x5a, sizeof(before));
        CHECK_INTEQ(name, sigv4_sign(req, p, &r), want);
        snprintf(untouched, sizeof(untouched), "%s: result untouched", name);
        if (!CHECK(untouched, memcmp(&r, &before, sizeof(r)) == 0))
                sigv4_result_done(&r);
}

/* Set the `const char *` field at offset in a request or parameters. */
static void set_string_field(void *base, size_t offset, const char *value) {
        memcpy((char *)base + offset, &value, sizeof(value));
}

#define REQUEST_FIELD(f) false, offsetof(struct sigv4_request, f)
#define PARAMS_FIELD(f) true, offsetof(struct sigv4_params, f)

/* One string of the ECS request or its parameters missing or malformed. */
static void expect_bad_strings(void) {
        static const struct {
                const char *name;
                bool in_params; /* else in the request */
                size_t offset;  /* of a `const char *` field */
                const char *value;
        } cases[] = {
                {"bad: NULL method", REQUEST_FIELD(method), NULL},
                {"bad: empty method", REQUEST_FIELD(method), ""},
                {"bad: method with a space", REQUEST_FIELD(method), "GET /"},
                {"bad: missing region", PARAMS_FIELD(region), NULL},
                {"bad: empty region", PARAMS_FIELD(region), ""},
                {"bad: region with a slash", PARAMS_FIELD(region), "us/east"},
                {"bad: missing service", PARAMS_FIELD(service), NULL},
                {"bad: missing access key", PARAMS_FIELD(access_key_id), NULL},
                {"bad: empty secret", PARAMS_FIELD(secret_access_key), ""},
                {"bad: token with a line break", PARAMS_FIELD(session_token), "tok\nInjected: yes"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct sigv4_request req = ecs_request();
                struct sigv4_params p = ecs_params();
                set_string_field(cases[i].in_params ? (void *)&p : (void *)&req, cases[i].offset,
                                 cases[i].value);
                expect_error(cases[i].name, &req, &p, -EINVAL);
        }
}

static void test_bad_input(void) {
        const struct sigv4_request good = ecs_request();
        const struct sigv4_params gp = ecs_params();
        struct sigv4_request req;
        struct sigv4_params p;
        struct sigv4_result r = {};

        expect_error("bad: NULL request", NULL, &gp, -EINVAL);
        expect_error("bad: NULL params", &good, NULL, -EINVAL);
        CHECK_INTEQ("bad: NULL result", sigv4_sign(&good, &gp, NULL), -EINVAL);
        expect_bad_strings();

        p = gp, p.location = SIGV4_IN_QUERY, p.expires = 0;
        expect_error("bad: presigned without expiry", &good, &p, -EINVAL);
        p = gp, p.location = (enum sigv4_location)7;
        expect_error("bad: unknown location", &good, &p, -EINVAL);
        p = gp, p.when = (time_t)253402300800; /* year 10000 */
        expect_error("bad: year 10000", &good, &p, -ERANGE);

        req = good, req.n_headers = 0;
        expect_error("bad: no Host header", &req, &gp, -EINVAL);
        req = good, req.headers = NULL;
        expect_error("bad: headers NULL with a count", &req, &gp, -EINVAL);
        req = good, req.body = NULL;
        expect_error("bad: NULL body with a length", &req, &gp, -EINVAL);

        const struct sigv4_header bad_sets[][2] = {
                {{"Host", "x"}, {"", "v"}},
                {{"Host", "x"}, {"Bad Name", "v"}},
                {{"Host", "x"}, {"Bad:Name", "v"}},
                {{"Host", "x"}, {NULL, "v"}},
                {{"Host", "x"}, {"Name", NULL}},
                {{"Host", "x"}, {"Name", "a\001b"}},
                {{"Host", "x"}, {"Authorization", "AWS4-HMAC-SHA256 forged"}},
                {{"Host", "x"}, {"x-amz-date", "20240102T030405Z"}},
                {{"Host", "x"}, {"X-Amz-Security-Token", "t"}},
                {{"Host", "x"}, {"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_sets); i++) {
                char name[96];
                snprintf(name, sizeof(name), "bad: header %s: %s",
                         bad_sets[i][1].name ? bad_sets[i][1].name : "(null)",
                         bad_sets[i][1].value ? "value" : "(null)");
                req = good, req.headers = bad_sets[i], req.n_headers = 2;
                expect_error(name, &req, &gp, -EINVAL);
        }

        /* An empty body with a NULL pointer is the normal GET. */
        req = good, req.body = NULL, req.body_len = 0;
        CHECK_INTEQ("ok: NULL empty body", sigv4_sign(&req, &gp, &r), 0);
        CHECK_STREQ("ok: empty body hash", r.payload_hash,
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sigv4_result_done(&r);
}

static void test_tokens(void) {
        struct sigv4_request req = ecs_request();
        struct sigv4_params p = ecs_params();
        struct sigv4_result r = {};

        p.omit_session_token = true;
        if (CHECK_INTEQ("omit token: sign", sigv4_sign(&req, &p, &r), 0)) {
                CHECK("omit token: not signed", !strstr(r.canonical_request, "x-amz-security"));
                CHECK("omit token: not in SignedHeaders", !strstr(r.authorization, "security"));
                CHECK_INTEQ("omit token: still sent", r.n_headers, 3);
                CHECK_STREQ("omit token: after Authorization", r.headers[2].name,
                            "X-Amz-Security-Token");
        }
        sigv4_result_done(&r);

        p = ecs_params(), p.session_token = "";
        if (CHECK_INTEQ("empty token: sign", sigv4_sign(&req, &p, &r), 0)) {
                CHECK_INTEQ("empty token: no token header", r.n_headers, 2);
                CHECK("empty token: nothing signed", !strstr(r.canonical_request, "security"));
        }
        sigv4_result_done(&r);

        p = ecs_params(), p.sign_body = true;
        if (CHECK_INTEQ("sign body: sign", sigv4_sign(&req, &p, &r), 0)) {
                CHECK_INTEQ("sign body: four headers", r.n_headers, 4);
                CHECK_STREQ("sign body: content hash header", r.headers[2].name,
                            "x-amz-content-sha256");
                CHECK_STREQ("sign body: its value", r.headers[2].value, r.payload_hash);
                CHECK("sign body: signed", strstr(r.authorization, "x-amz-content-sha256;"));
        }
        sigv4_result_done(&r);
}

/* The canonical request's second (path) or third (query) line. */
static char *canonical_line(const char *path, const char *query, const char *service,
                            bool normalize, int which) {
        const struct sigv4_header h[] = {{"Host", "example.com"}};
        struct sigv4_request req = {
                .method = "GET", .path = path, .query = query, .headers = h, .n_headers = 1};
        struct sigv4_params p = {.access_key_id = "AK",
                                 .secret_access_key = "SK",
                                 .region = "us-east-1",
                                 .service = service,
                                 .when = WHEN,
                                 .normalize_path = normalize};
        struct sigv4_result r = {};
        if (sigv4_sign(&req, &p, &r) < 0)
                return NULL;
        const char *s = r.canonical_request;
        for (int i = 0; i < which; i++)
                s = strchr(s, '\n') + 1;
        char *line = strndup(s, strcspn(s, "\n"));
        sigv4_result_done(&r);
        return line;
}

static void test_canonical_uri_and_query(void) {
        static const struct {
                const char *name, *path, *query, *service;
                bool normalize;
                int line; /* of the canonical request: 1 the path, 2 the query */
                const char *want;
        } cases[] = {
                {"path: dot segments and empty segments", "/a/b/../c/./d//", NULL, "ecs", true, 1,
                 "/a/c/d/"},
                {"path: .. above the root stays at the root", "/../../x", NULL, "ecs", true, 1,
                 "/x"},
                {"path: empty is /", "", NULL, "ecs", true, 1, "/"},
                {"path: NULL is /", NULL, NULL, "ecs", false, 1, "/"},
                {"path: encoded twice outside S3", "/a%20b/c d", NULL, "ecs", false, 1,
                 "/a%2520b/c%20d"},
                {"path: S3 signs the path as sent", "/a%20b//c", NULL, "s3", false, 1, "/a%20b//c"},
                {"path: reserved characters encoded", "/a+b=c:d", NULL, "ecs", true, 1,
                 "/a%2Bb%3Dc%3Ad"},
                {"query: sorted by key then value, bare key gets =", NULL, "b=2&a=1&a=0&c", "ecs",
                 true, 2, "a=0&a=1&b=2&c="},
                {"query: decoded then encoded once", NULL, "k%7e=%2fv+w&x=%zz", "ecs", true, 2,
                 "k~=%2Fv%2Bw&x=%25zz"},
                {"query: empty pieces skipped", NULL, "&&a=1&", "ecs", true, 2, "a=1"},
                {"query: value keeps later =", NULL, "a=b=c", "ecs", true, 2, "a=b%3Dc"},
                {"query: encoded and raw UTF-8 sign alike", NULL, "%E1%88%B4=\xe1\x88\xb4", "ecs",
                 true, 2, "%E1%88%B4=%E1%88%B4"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got =
                        canonical_line(cases[i].path, cases[i].query, cases[i].service,
                                       cases[i].normalize, cases[i].line);
                CHECK_STREQ(cases[i].name, got, cases[i].want);
        }
}

static void test_canonical_headers(void) {
        const struct sigv4_header h[] = {
                {"Host", "example.com"}, {"X-B", "  two   words\t here  "},    {"x-a", "first"},
                {"X-A", "second"},       {"X-Fold", "one\n   two\r\n\tthree"}, {"X-Empty", ""},
        };
        struct sigv4_request req = {.method = "GET", .path = "/", .headers = h, .n_headers = 6};
        struct sigv4_params p = {.access_key_id = "AK",
                                 .secret_access_key = "SK",
                                 .region = "eu-west-1",
                                 .service = "ecs",
                                 .when = WHEN};
        struct sigv4_result r = {};
        if (!CHECK_INTEQ("headers: sign", sigv4_sign(&req, &p, &r), 0))
                return;
        CHECK_STREQ("headers: lowercased, sorted, duplicates joined in order, values collapsed",
                    r.canonical_request,
                    "GET\n/\n\n"
                    "host:example.com\n"
                    "x-a:first,second\n"
                    "x-amz-date:20240102T030405Z\n"
                    "x-b:two words here\n"
                    "x-empty:\n"
                    "x-fold:one two three\n"
                    "\n"
                    "host;x-a;x-amz-date;x-b;x-empty;x-fold\n"
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sigv4_result_done(&r);
}

static void test_presigned(void) {
        const struct sigv4_header h[] = {{"Host", "example.com"}};
        struct sigv4_request req = {
                .method = "GET", .path = "/", .query = "z=1", .headers = h, .n_headers = 1};
        struct sigv4_params p = ecs_params();
        p.location = SIGV4_IN_QUERY;
        p.expires = 60;
        struct sigv4_result r = {};
        if (!CHECK_INTEQ("presign: sign", sigv4_sign(&req, &p, &r), 0))
                return;
        CHECK("presign: no headers to add", r.n_headers == 0 && !r.authorization);
        char want[512];
        snprintf(want, sizeof(want),
                 "z=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%%2F20240102%%"
                 "2Fus-west-2%%2Fecs%%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-"
                 "SignedHeaders=host&X-Amz-Expires=60&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE"
                 "%%2F%%2Btoken%%3D%%3D&X-Amz-Signature=%s",
                 r.signature);
        CHECK_STREQ("presign: query carries the parameters, signature last", r.query, want);
        CHECK("presign: parameters signed in sorted order",
              strstr(r.canonical_request, "\nX-Amz-Algorithm=AWS4-HMAC-SHA256&") &&
                      strstr(r.canonical_request, "X-Amz-SignedHeaders=host&z=1\n"));
        sigv4_result_done(&r);
}

static void test_parse(void) {
        static const char text[] = "POST /p a/th?x=1&y HTTP/1.1\r\n"
                                   "Host:example.com\r\n"
                                   "X-Fold:one\r\n"
                                   "  two\r\n"
                                   "Empty:\r\n"
                                   "\r\n"
                                   "bo\0dy\n";
        struct sigv4_message *m = NULL;
        const char *err = NULL;
        if (!CHECK_INTEQ("parse: CRLF request",
                         sigv4_message_parse(&m, text, sizeof(text) - 1, &err), 0))
                return;
        CHECK_STREQ("parse: method", m->request.method, "POST");
        CHECK_STREQ("parse: path keeps its space", m->request.path, "/p a/th");
        CHECK_STREQ("parse: query", m->request.query, "x=1&y");
        CHECK_STREQ("parse: version", m->version, "HTTP/1.1");
        if (CHECK_INTEQ("parse: three headers", m->request.n_headers, 3)) {
                CHECK_STREQ("parse: folded value keeps its line", m->request.headers[1].value,
                            "one\n  two");
                CHECK_STREQ("parse: empty value", m->request.headers[2].value, "");
        }
        CHECK("parse: binary body",
              m->request.body_len == 6 && memcmp(m->request.body, "bo\0dy\n", 6) == 0);

        struct sigv4_params p = ecs_params();
        struct sigv4_result r = {};
        if (CHECK_INTEQ("parse: parsed request signs", sigv4_sign(&m->request, &p, &r), 0)) {
                _cleanup_free_ char *out = NULL;
                size_t len = 0;
                CHECK_INTEQ("parse: format", sigv4_message_format_signed(m, &r, &out, &len), 0);
                char want[1024];
                int n = snprintf(want, sizeof(want),
                                 "POST /p a/th?x=1&y HTTP/1.1\nHost:example.com\nX-Fold:one\n  "
                                 "two\nEmpty:\nX-Amz-Security-Token:%s\nX-Amz-Date:%s\n"
                                 "Authorization:%s\n\nbo",
                                 TOKEN, r.amz_date, r.authorization);
                CHECK("parse: signed request layout", out && len == (size_t)n + 4 &&
                                                              memcmp(out, want, (size_t)n) == 0 &&
                                                              memcmp(out + n, "\0dy\n", 4) == 0);
        }
        sigv4_result_done(&r);
        sigv4_message_free(m);

        static const struct {
                const char *name, *text;
        } bad[] = {
                {"parse: empty", ""},
                {"parse: blank first line", "\nHost:x\n"},
                {"parse: no version", "GET /\n"},
                {"parse: no path", "GET  HTTP/1.1\n"},
                {"parse: continuation first", "GET / HTTP/1.1\n  folded\n"},
                {"parse: header without colon", "GET / HTTP/1.1\nHost example.com\n"},
                {"parse: header without name", "GET / HTTP/1.1\n:value\n"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                m = NULL;
                err = NULL;
                int k = sigv4_message_parse(&m, bad[i].text, strlen(bad[i].text), &err);
                CHECK(bad[i].name, k == -EINVAL && !m && err && *err);
        }
        m = NULL;
        CHECK("parse: NUL in a header",
              sigv4_message_parse(&m, "GET / HTTP/1.1\nA:\0b\n", 19, NULL) == -EINVAL && !m);
        CHECK("parse: free NULL", sigv4_message_free(NULL) == NULL);
}

int main(void) {
        test_ecs_post();
        test_published_example();
        test_determinism_and_secret();
        test_result_done();
        test_bad_input();
        test_tokens();
        test_canonical_uri_and_query();
        test_canonical_headers();
        test_presigned();
        test_parse();
        return test_done();
}
