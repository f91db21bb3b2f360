/* test-autoscaling.c: the Auto Scaling client's pure parts: the form it
 * sends, the XML answers and errors it reads (and the hostile XML it
 * refuses without expanding anything), which failures are retried, and the
 * lifecycle wrappers' checks of their arguments.  Calls against moto and
 * the recording proxy are in test_autoscaling.py. */
#include <errno.h>
#include <fcntl.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autoscaling.h"
#include "macro.h"
#include "test.h"

#define RID "c4bd1a0e-7f55-4d4b-8a3e-0d2f1f0e9a11"
#define NS "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\""

static void encode(const char *name, const char *action, const struct autoscaling_param *p,
                   size_t n, const char *want) {
        _cleanup_free_ char *got = NULL;
        int r = autoscaling_encode(action, p, n, &got);

        if (!want) {
                CHECK_INTEQ(name, r, -EINVAL);
                return;
        }
        CHECK_STREQ(name, r == 0 ? got : "(error)", want);
}

static void test_encode(void) {
        static const struct autoscaling_param lifecycle[] = {
                {"AutoScalingGroupName", "web-asg"},
                {"LifecycleHookName", "ecs/drain"},
                {"InstanceId", "i-0123456789abcdef0"},
                {"LifecycleActionResult", "CONTINUE"},
        };
        static const struct autoscaling_param odd[] = {
                {"AutoScalingGroupName", "a b+c=d&e/f~g.h_i-j%k"},
                {"X", "caf\xc3\xa9\t\n"},
                {"Empty", ""},
        };
        static const struct autoscaling_param null_value[] = {{"A", NULL}};
        static const struct autoscaling_param null_name[] = {{NULL, "x"}};

        encode("no parameters", "DescribeAccountLimits", NULL, 0,
               "Action=DescribeAccountLimits&Version=2011-01-01");
        encode("CompleteLifecycleAction's form, in order", "CompleteLifecycleAction", lifecycle,
               ELEMENTSOF(lifecycle),
               "Action=CompleteLifecycleAction&Version=2011-01-01&AutoScalingGroupName=web-asg&"
               "LifecycleHookName=ecs%2Fdrain&InstanceId=i-0123456789abcdef0&"
               "LifecycleActionResult=CONTINUE");
        encode("as botocore writes a form: A-Z a-z 0-9 - . _ ~ kept, a space as +, the rest %XX",
               "Describe", odd, ELEMENTSOF(odd),
               "Action=Describe&Version=2011-01-01&AutoScalingGroupName="
               "a+b%2Bc%3Dd%26e%2Ff~g.h_i-j%25k&X=caf%C3%A9%09%0A&Empty=");
        encode("a NULL value", "A", null_value, 1, NULL);
        encode("a NULL name", "A", null_name, 1, NULL);
        encode("no action", "", NULL, 0, NULL);
}

static void test_answers(void) {
        static const char ok[] = "<CompleteLifecycleActionResponse " NS ">\n"
                                 "  <CompleteLifecycleActionResult/>\n"
                                 "  <ResponseMetadata>\n    <RequestId>" RID "</RequestId>\n"
                                 "  </ResponseMetadata>\n</CompleteLifecycleActionResponse>\n";
        static const struct {
                const char *name, *body;
                int want;
        } bad[] = {
                {"another action's answer",
                 "<RecordLifecycleActionHeartbeatResponse " NS
                 "><RecordLifecycleActionHeartbeatResult/>"
                 "</RecordLifecycleActionHeartbeatResponse>",
                 -EPROTO},
                {"an error answer is no answer",
                 "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>", -EPROTO},
                {"JSON", "{\"CompleteLifecycleActionResponse\": {}}", -EBADMSG},
                {"empty", "", -EBADMSG},
                {"cut short", "<CompleteLifecycleActionResponse " NS "><Complete", -EBADMSG},
                {"moto's 500 page (HTML)",
                 "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n",
                 -EBADMSG},
        };
        xmlDoc *doc = NULL;
        char *rid = NULL;
        int r;

        r = autoscaling_parse_answer(ok, strlen(ok), "CompleteLifecycleAction", &doc, &rid);
        CHECK_INTEQ("CompleteLifecycleActionResponse", r, 0);
        CHECK_STREQ("its RequestId", rid, RID);
        CHECK("the document is handed over",
              doc && xmlStrEqual(xmlDocGetRootElement(doc)->name,
                                 (const xmlChar *)"CompleteLifecycleActionResponse"));
        free(rid);
        doc = autoscaling_document_free(doc);

        r = autoscaling_parse_answer("<RecordLifecycleActionHeartbeatResponse/>", 41,
                                     "RecordLifecycleActionHeartbeat", &doc, &rid);
        CHECK("no RequestId, no namespace: still the answer", r == 0 && rid == NULL && doc);
        doc = autoscaling_document_free(doc);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                doc = NULL;
                r = autoscaling_parse_answer(bad[i].body, strlen(bad[i].body),
                                             "CompleteLifecycleAction", &doc, &rid);
                CHECK_INTEQ(bad[i].name, r, bad[i].want);
                CHECK("... and nothing handed over", doc == NULL);
        }
}

static void error(const char *name, const char *body, const char *code, const char *message,
                  const char *type, const char *rid) {
        struct autoscaling_error e = {};
        int r = autoscaling_parse_error(body, strlen(body), &e);

        if (!code) {
                CHECK_INTEQ(name, r, -EPROTO);
                return;
        }
        if (!CHECK_INTEQ(name, r, 0))
                return;
        CHECK_STREQ(name, e.code, code);
        CHECK(name, streq_ptr(e.message, message) && streq_ptr(e.type, type) &&
                            streq_ptr(e.request_id, rid));
        autoscaling_error_done(&e);
}

static void test_errors(void) {
        error("AWS's form: ErrorResponse/Error, RequestId",
              "<ErrorResponse " NS "><Error><Type>Sender</Type><Code>ValidationError</Code>"
              "<Message>No active Lifecycle Action found with instance ID i-0123456789abcdef0"
              "</Message></Error><RequestId>" RID "</RequestId></ErrorResponse>",
              "ValidationError",
              "No active Lifecycle Action found with instance ID i-0123456789abcdef0", "Sender",
              RID);
        error("moto's form: ErrorResponse/Errors/Error",
              "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error>"
              "<Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/r/s "
              "is not authorized to perform: autoscaling:CompleteLifecycleAction</Message>"
              "<Type>Sender</Type></Error></Errors></ErrorResponse>",
              "AccessDenied",
              "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: "
              "autoscaling:CompleteLifecycleAction",
              "Sender", NULL);
        error("throttling",
              "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded"
              "</Message></Error></ErrorResponse>",
              "Throttling", "Rate exceeded", NULL, NULL);
        error("EC2's form: Response/Errors/Error, RequestID",
              "<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors>"
              "<RequestID>" RID "</RequestID></Response>",
              "RequestLimitExceeded", NULL, NULL, RID);
        error("control characters in the message cannot forge a log line",
              "<ErrorResponse><Error><Code>ValidationError</Code><Message>a&#10;FAKE&#13;"
              "<![CDATA[ b\t]]></Message></Error></ErrorResponse>",
              "ValidationError", "a FAKE  b ", NULL, NULL);
        error("escaped markup is text",
              "<ErrorResponse><Error><Code>X</Code><Message>&lt;b&gt; "
              "&amp; &quot;q&quot;</Message></Error></ErrorResponse>",
              "X", "<b> & \"q\"", NULL, NULL);
        error("no Code", "<ErrorResponse><Error><Message>m</Message></Error></ErrorResponse>", NULL,
              NULL, NULL, NULL);
        error("an empty Code", "<ErrorResponse><Error><Code></Code></Error></ErrorResponse>", NULL,
              NULL, NULL, NULL);
        error("another root", "<Fault><Error><Code>X</Code></Error></Fault>", NULL, NULL, NULL,
              NULL);
        error("a success answer", "<CompleteLifecycleActionResponse/>", NULL, NULL, NULL, NULL);
        {
                struct autoscaling_error e = {};
                static const char html[] = "<html><body>502 Bad Gateway</body>";
                CHECK_INTEQ("an HTML page that is not XML",
                            autoscaling_parse_error(html, strlen(html), &e), -EBADMSG);
        }
}

/* Parse body as an error answer with stderr pointed at a file; the milliseconds it took,
 * and whether anything was written there (a pure parser prints nothing). */
static int parse_quietly(const char *body, size_t len, double *ret_ms, bool *ret_quiet) {
        char path[] = "/tmp/test-autoscaling-XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO), r;
        struct autoscaling_error e = {};
        struct timespec t0, t1;

        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = autoscaling_parse_error(body, len, &e);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        *ret_quiet = lseek(fd, 0, SEEK_END) == 0;
        close(fd);
        unlink(path);
        autoscaling_error_done(&e);
        *ret_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        return r;
}

static void hostile(const char *name, const char *body, size_t len, int want) {
        double ms;
        bool quiet;
        int r = parse_quietly(body, len, &ms, &quiet);
        char what[160];

        CHECK_INTEQ(name, r, want);
        snprintf(what, sizeof what, "%s: in %.1f ms", name, ms);
        CHECK(what, ms < 200);
        snprintf(what, sizeof what, "%s: nothing on stderr", name);
        CHECK(what, quiet);
}

static char *nested(unsigned depth) {
        size_t n = 0, cap = (size_t)depth * 8 + 64;
        char *s = malloc(cap);

        n += (size_t)snprintf(s + n, cap - n, "<ErrorResponse><Error><Code>X</Code>");
        for (unsigned i = 2; i < depth; i++)
                n += (size_t)snprintf(s + n, cap - n, "<a>");
        for (unsigned i = 2; i < depth; i++)
                n += (size_t)snprintf(s + n, cap - n, "</a>");
        snprintf(s + n, cap - n, "</Error></ErrorResponse>");
        return s;
}

static void test_hostile(void) {
        static const char laughs[] =
                "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
                " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
                " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
                " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
                " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
                " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
                " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
                "]>\n<ErrorResponse><Error><Code>&lol9;</Code></Error></ErrorResponse>";
        static const char xxe[] = "<?xml version=\"1.0\"?>\n<!DOCTYPE e [ <!ENTITY xxe SYSTEM "
                                  "\"file:///etc/passwd\"> ]>\n<ErrorResponse><Error><Code>&xxe;"
                                  "</Code></Error></ErrorResponse>";
        static const char param[] =
                "<!DOCTYPE e [ <!ENTITY % p SYSTEM \"http://127.0.0.1:9/x.dtd\">"
                " %p; ]><ErrorResponse><Error><Code>X</Code></Error>"
                "</ErrorResponse>";
        static const char external_dtd[] =
                "<!DOCTYPE ErrorResponse SYSTEM \"http://127.0.0.1:9/x\">"
                "<ErrorResponse><Error><Code>X</Code></Error>"
                "</ErrorResponse>";
        static const char undeclared[] = "<ErrorResponse><Error><Code>&xxe;</Code></Error>"
                                         "</ErrorResponse>";
        static const char xinclude[] =
                "<ErrorResponse xmlns:xi=\"http://www.w3.org/2001/XInclude\"><Error><Code>X</Code>"
                "<Message><xi:include href=\"file:///etc/passwd\" parse=\"text\"/></Message>"
                "</Error></ErrorResponse>";
        _cleanup_free_ char *deep_ok = nested(AUTOSCALING_XML_DEPTH_MAX);
        _cleanup_free_ char *too_deep = nested(AUTOSCALING_XML_DEPTH_MAX + 1);
        _cleanup_free_ char *very_deep = nested(100000);
        _cleanup_free_ char *huge = malloc(AUTOSCALING_XML_MAX + 1);
        struct autoscaling_error e = {};

        hostile("billion laughs: refused at the DOCTYPE, nothing expanded", laughs, strlen(laughs),
                -ENOTSUP);
        hostile("an external entity (XXE) is never declared", xxe, strlen(xxe), -ENOTSUP);
        hostile("a parameter entity naming a URL: refused before it is read", param, strlen(param),
                -ENOTSUP);
        hostile("an external DTD: refused, not fetched", external_dtd, strlen(external_dtd),
                -ENOTSUP);
        hostile("an undeclared entity: not well-formed", undeclared, strlen(undeclared), -EBADMSG);
        hostile("nesting at the limit is read", deep_ok, strlen(deep_ok), 0);
        hostile("one level deeper is refused", too_deep, strlen(too_deep), -ELOOP);
        hostile("100000 levels: refused at the limit, quickly", very_deep, strlen(very_deep),
                -ELOOP);
        memset(huge, ' ', AUTOSCALING_XML_MAX + 1);
        memcpy(huge, "<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>", 60);
        hostile("a byte over the size cap is refused unread", huge, AUTOSCALING_XML_MAX + 1,
                -EMSGSIZE);
        hostile("at the cap it is read", huge, AUTOSCALING_XML_MAX, 0);
        CHECK("an XInclude is left as it is, not followed",
              autoscaling_parse_error(xinclude, strlen(xinclude), &e) == 0 && e.message == NULL);
        autoscaling_error_done(&e);
        CHECK_INTEQ("embedded NUL: not well-formed",
                    autoscaling_parse_error("<ErrorResponse>\0</ErrorResponse>", 32, &e), -EBADMSG);
        CHECK_INTEQ("not UTF-8", autoscaling_parse_error("<E>\xff</E>", 7, &e), -EBADMSG);
        CHECK_STREQ("strerror: DTD", autoscaling_xml_strerror(-ENOTSUP),
                    "a document type declaration, refused");
        CHECK_STREQ("strerror: depth", autoscaling_xml_strerror(-ELOOP), "nested too deep");
}

static void test_classify(void) {
        static const struct {
                long status;
                const char *code;
                enum autoscaling_error_kind want;
        } cases[] = {
                {200, NULL, AUTOSCALING_OK},
                {400, "Throttling", AUTOSCALING_ERR_THROTTLED},
                {429, NULL, AUTOSCALING_ERR_THROTTLED},
                {500, "InternalFailure", AUTOSCALING_ERR_SERVER},
                {500, "ResourceContention", AUTOSCALING_ERR_SERVER},
                {503, NULL, AUTOSCALING_ERR_SERVER},
                {500, NULL, AUTOSCALING_ERR_SERVER},
                {403, "InvalidClientTokenId", AUTOSCALING_ERR_AUTH},
                {403, "SignatureDoesNotMatch", AUTOSCALING_ERR_AUTH},
                {403, "ExpiredToken", AUTOSCALING_ERR_AUTH},
                {403, "AccessDenied", AUTOSCALING_ERR_ACCESS},
                {403, NULL, AUTOSCALING_ERR_ACCESS},
                {400, "ValidationError", AUTOSCALING_ERR_CLIENT},
                {400, "ResourceInUse", AUTOSCALING_ERR_CLIENT},
                {404, NULL, AUTOSCALING_ERR_CLIENT},
        };
        char name[96];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(name, sizeof name, "classify %ld %s", cases[i].status,
                         cases[i].code ? cases[i].code : "(no code)");
                CHECK_INTEQ(name, autoscaling_classify(cases[i].status, cases[i].code),
                            cases[i].want);
        }
        CHECK("throttling, 5xx, transport and garbled answers are retried",
              autoscaling_kind_retryable(AUTOSCALING_ERR_THROTTLED) &&
                      autoscaling_kind_retryable(AUTOSCALING_ERR_SERVER) &&
                      autoscaling_kind_retryable(AUTOSCALING_ERR_TRANSPORT) &&
                      autoscaling_kind_retryable(AUTOSCALING_ERR_PROTOCOL));
        CHECK("auth (retried once, after a refresh, not here), access and client errors are not",
              !autoscaling_kind_retryable(AUTOSCALING_ERR_AUTH) &&
                      !autoscaling_kind_retryable(AUTOSCALING_ERR_ACCESS) &&
                      !autoscaling_kind_retryable(AUTOSCALING_ERR_CLIENT) &&
                      !autoscaling_kind_retryable(AUTOSCALING_ERR_CREDENTIALS));
        CHECK_STREQ("outcome names are ecs_stats()'s", autoscaling_stats()->outcomes[5],
                    "access_denied");
}

static void never(const struct autoscaling_result *r, void *userdata) {
        (void)r, (void)userdata;
        abort();
}

/* The wrappers refuse what Auto Scaling would, before anything is sent
 * (nothing runs the loop here, so a call that started would go nowhere). */
static void test_wrappers(void) {
        static const char tok[] = "b4d9a4b2-1bde-4d58-9a56-0e7a5c7e0d11";
        sd_event *event = NULL;
        struct http *http = NULL;
        struct credentials *creds = NULL;
        struct autoscaling *a = NULL;
        struct autoscaling_call *c = NULL;

        if (sd_event_new(&event) < 0 || http_new(&http, event) < 0 ||
            credentials_new(&creds, event, NULL,
                            &(struct credentials_config){.access_key_id = "AKIDEXAMPLE",
                                                         .secret_access_key = "secret"}) < 0)
                abort();
        CHECK_INTEQ("no region",
                    autoscaling_new(&a, event, http, creds, &(struct autoscaling_config){}),
                    -EINVAL);
        CHECK_INTEQ("new",
                    autoscaling_new(&a, event, http, creds,
                                    &(struct autoscaling_config){.region = "eu-west-1"}),
                    0);
        CHECK_STREQ("the default endpoint", autoscaling_endpoint(a),
                    "https://autoscaling.eu-west-1.amazonaws.com/");
        CHECK_INTEQ("result other than CONTINUE or ABANDON",
                    autoscaling_complete_lifecycle_action(a, "g", "h", "i-1", "continue", NULL,
                                                          never, NULL, NULL),
                    -EINVAL);
        CHECK_INTEQ("hook name with a dot",
                    autoscaling_complete_lifecycle_action(a, "g", "h.1", "i-1", "CONTINUE", NULL,
                                                          never, NULL, NULL),
                    -EINVAL);
        CHECK_INTEQ("empty group",
                    autoscaling_record_lifecycle_action_heartbeat(a, "", "h", "i-1", NULL, never,
                                                                  NULL, NULL),
                    -EINVAL);
        CHECK_INTEQ("neither instance nor token",
                    autoscaling_record_lifecycle_action_heartbeat(a, "g", "h", NULL, NULL, never,
                                                                  NULL, NULL),
                    -EINVAL);
        CHECK_INTEQ("an instance id over 19 characters",
                    autoscaling_record_lifecycle_action_heartbeat(
                            a, "g", "h", "i-0123456789abcdef01", NULL, never, NULL, NULL),
                    -EINVAL);
        CHECK_INTEQ("a token that is not 36 characters",
                    autoscaling_record_lifecycle_action_heartbeat(a, "g", "h", NULL, "abc", never,
                                                                  NULL, NULL),
                    -EINVAL);
        CHECK_INTEQ("a token alone will do",
                    autoscaling_record_lifecycle_action_heartbeat(a, "g", "h", NULL, tok, never,
                                                                  NULL, &c),
                    0);
        autoscaling_call_cancel(c);
        a = autoscaling_free(a);
        credentials_free(creds);
        http_free(http);
        sd_event_unref(event);
}

static void test_no_active_action(void) {
        struct autoscaling_result gone = {.code = "ValidationError",
                                          .service_message =
                                                  "No active Lifecycle Action found "
                                                  "with instance ID i-0123456789abcdef0"},
                                  by_token = {.code = "ValidationError",
                                              .service_message =
                                                      "No active Lifecycle Action found with "
                                                      "token 3e9f1d2c-0000-4000-8000-000000000001"},
                                  other = {.code = "ValidationError",
                                           .service_message = "1 validation error detected"},
                                  denied = {.code = "AccessDenied",
                                            .service_message = "No active Lifecycle Action found"},
                                  bare = {.code = "ValidationError"};

        CHECK("no active action, by instance", autoscaling_no_active_lifecycle_action(&gone));
        CHECK("no active action, by token", autoscaling_no_active_lifecycle_action(&by_token));
        CHECK("another ValidationError is not", !autoscaling_no_active_lifecycle_action(&other));
        CHECK("the words under another code are not",
              !autoscaling_no_active_lifecycle_action(&denied));
        CHECK("a ValidationError without a message is not",
              !autoscaling_no_active_lifecycle_action(&bare));
        CHECK("NULL is not", !autoscaling_no_active_lifecycle_action(NULL));
}

int main(void) {
        test_encode();
        test_answers();
        test_errors();
        test_hostile();
        test_classify();
        test_wrappers();
        test_no_active_action();
        return test_done();
}
