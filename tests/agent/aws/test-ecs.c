/* test-ecs.c: the ECS client's pure parts: error answers in JSON and XML,
 * and which failures are retried.  Calls against moto are in test_ecs.py. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ecs.h"
#include "escape.h"
#include "identity.h"
#include "macro.h"
#include "test.h"

static void parse(const char *name, const char *body, const char *code, const char *message) {
        char *c = NULL, *m = NULL;
        int r = ecs_parse_error(body, strlen(body), &c, &m);

        if (!code) {
                CHECK_INTEQ(name, r, -EINVAL);
                return;
        }
        CHECK_INTEQ(name, r, 0);
        CHECK_STREQ(name, c, code);
        if (message)
                CHECK_STREQ(name, m, message);
        else
                CHECK(name, m == NULL);
        free(c);
        free(m);
}

int main(void) {
        parse("JSON __type with prefix",
              "{\"__type\":\"com.amazonaws.ecs#ClientException\",\"message\":\"Cluster not "
              "found.\"}",
              "ClientException", "Cluster not found.");
        parse("JSON Message key",
              "{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}",
              "ThrottlingException", "Rate exceeded");
        parse("JSON type with :suffix",
              "{\"__type\":\"AccessDeniedException:http://internal\",\"message\":\"no\"}",
              "AccessDeniedException", "no");
        parse("JSON without message", "{\"__type\":\"ServerException\"}", "ServerException", NULL);
        parse("XML error (emulators)",
              "<?xml version=\"1.0\"?><ErrorResponse><Error><Code>InvalidClientTokenId</Code>"
              "<Message>The security token included in the request is invalid.</Message></Error>"
              "</ErrorResponse>",
              "InvalidClientTokenId", "The security token included in the request is invalid.");
        parse("control characters are neutralised",
              "{\"__type\":\"X\",\"message\":\"line1\\nFAKE LOG LINE\"}", "X",
              "line1 FAKE LOG LINE");
        parse("garbage has no code", "<html>502 Bad Gateway</html>", NULL, NULL);
        parse("empty body has no code", "", NULL, NULL);
        parse("unterminated XML", "<Error><Code>Throttling", NULL, NULL);

        CHECK_INTEQ("throttling", ecs_classify(400, "ThrottlingException"), ECS_ERR_THROTTLED);
        CHECK_INTEQ("429", ecs_classify(429, NULL), ECS_ERR_THROTTLED);
        CHECK_INTEQ("503", ecs_classify(503, NULL), ECS_ERR_SERVER);
        CHECK_INTEQ("ServerException", ecs_classify(500, "ServerException"), ECS_ERR_SERVER);
        CHECK_INTEQ("access denied", ecs_classify(400, "AccessDeniedException"), ECS_ERR_ACCESS);
        CHECK_INTEQ("bad signature", ecs_classify(403, "SignatureDoesNotMatch"), ECS_ERR_AUTH);
        CHECK_INTEQ("unknown token", ecs_classify(403, "InvalidClientTokenId"), ECS_ERR_AUTH);
        CHECK_INTEQ("client exception", ecs_classify(400, "ClientException"), ECS_ERR_CLIENT);
        CHECK_INTEQ("invalid parameter", ecs_classify(400, "InvalidParameterException"),
                    ECS_ERR_CLIENT);
        CHECK("throttling is retried", ecs_kind_retryable(ECS_ERR_THROTTLED));
        CHECK("5xx is retried", ecs_kind_retryable(ECS_ERR_SERVER));
        CHECK("transport errors are retried", ecs_kind_retryable(ECS_ERR_TRANSPORT));
        CHECK("access denied is not retried", !ecs_kind_retryable(ECS_ERR_ACCESS));
        CHECK("client errors are not retried", !ecs_kind_retryable(ECS_ERR_CLIENT));
        CHECK("auth errors are not retried blindly", !ecs_kind_retryable(ECS_ERR_AUTH));

        /* A missing cluster, by ECS's error code: the way most operations say
         * it, and RegisterContainerInstance's way, matched on its text as the
         * official agent matches it; nothing else that merely says "not found". */
        {
                static const struct {
                        const char *name, *code, *message;
                        bool want;
                } cases[] = {
                        {"ClusterNotFoundException", "ClusterNotFoundException",
                         "Cluster not found.", true},
                        {"RegisterContainerInstance's ClientException", "ClientException",
                         "Cluster not found.", true},
                        {"another ClientException", "ClientException",
                         "The specified container instance was not found.", false},
                        {"a message alone is no code", NULL, "Cluster not found.", false},
                        {"another code with the same text", "InvalidParameterException",
                         "Cluster not found.", false},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        struct ecs_result r = {.error = -EINVAL,
                                               .kind = ECS_ERR_CLIENT,
                                               .code = cases[i].code,
                                               .service_message = cases[i].message};
                        CHECK(cases[i].name, ecs_cluster_not_found(&r) == cases[i].want);
                }
        }

        /* Container instance ARNs, as ECS writes them, and what only starts like one. */
        {
                static const struct {
                        const char *arn;
                        int want;
                        const char *cluster, *id;
                } arns[] = {
                        {"arn:aws:ecs:us-east-1:123456789012:container-instance/prod/"
                         "0123456789abcdef0123456789abcdef",
                         0, "prod", "0123456789abcdef0123456789abcdef"},
                        {"arn:aws:ecs:us-east-1:123456789012:container-instance/lab_5-x/"
                         "6b1e0e0c-1d1e-4e3b-9d2a-0123456789ab",
                         0, "lab_5-x", "6b1e0e0c-1d1e-4e3b-9d2a-0123456789ab"},
                        {"arn:aws-cn:ecs:cn-north-1:123456789012:container-instance/"
                         "0123456789abcdef0123456789abcdef",
                         0, "", "0123456789abcdef0123456789abcdef"},
                        {"arn:", -EINVAL, NULL, NULL},
                        {"arn:aws:ecs:us-east-1:123456789012:container-instance/prod/x", -EINVAL,
                         NULL, NULL},
                        {"arn:aws:ec2:us-east-1:123456789012:container-instance/prod/"
                         "0123456789abcdef0123456789abcdef",
                         -EINVAL, NULL, NULL},
                        {"arn:aws:ecs:us-east-1:12345678901:container-instance/prod/"
                         "0123456789abcdef0123456789abcdef",
                         -EINVAL, NULL, NULL},
                        {"arn:aws:ecs:us-east-1:123456789012:cluster/prod", -EINVAL, NULL, NULL},
                        {"arn:evil:ecs:us-east-1:123456789012:container-instance/prod/"
                         "0123456789abcdef0123456789abcdef",
                         -EINVAL, NULL, NULL},
                        {"arn:aws:ecs:us-east-1:123456789012:container-instance/pr od/"
                         "0123456789abcdef0123456789abcdef",
                         -EINVAL, NULL, NULL},
                        {"arn:aws:ecs:us-east-1:123456789012:container-instance/prod/"
                         "0123456789abcdef0123456789abcdef\nWATCHDOG_USEC=1",
                         -EINVAL, NULL, NULL},
                        {"arn:aws:ecs:us-east-1:123456789012:container-instance/a/b/"
                         "0123456789abcdef0123456789abcdef",
                         -EINVAL, NULL, NULL},
                };
                for (size_t i = 0; i < ELEMENTSOF(arns); i++) {
                        struct ecs_arn a = {};
                        char name[300];
                        int r = ecs_arn_parse_container_instance(arns[i].arn, &a);
                        escape_controls(name, sizeof name, arns[i].arn);
                        CHECK_INTEQ(name, r, arns[i].want);
                        if (r == 0 && arns[i].want == 0)
                                CHECK(name, streq_ptr(a.cluster, arns[i].cluster) &&
                                                    streq_ptr(a.id, arns[i].id) &&
                                                    strcmp(a.account, "123456789012") == 0);
                }
                CHECK_STREQ("a cluster name is its own name", ecs_cluster_name("prod"), "prod");
                CHECK_STREQ("a cluster ARN's name",
                            ecs_cluster_name("arn:aws:ecs:us-east-1:123456789012:cluster/prod"),
                            "prod");
        }

        {
                struct identity id = {};
                char *err = NULL;
                const char *doc =
                        "{\"accountId\":\"123456789012\",\"architecture\":\"x86_64\","
                        "\"availabilityZone\":\"us-east-1a\",\"imageId\":\"ami-12c6146b\","
                        "\"instanceId\":\"i-1234567890abcdef0\",\"instanceType\":\"m4.xlarge\","
                        "\"privateIp\":\"172.31.0.1\",\"region\":\"us-east-1\",\"version\":\"2017-"
                        "09-30\"}";
                CHECK_INTEQ("identity document parses", identity_parse(doc, strlen(doc), &id, &err),
                            0);
                CHECK_STREQ("instance id", id.instance_id, "i-1234567890abcdef0");
                CHECK_STREQ("region", id.region, "us-east-1");
                CHECK_STREQ("AZ", id.availability_zone, "us-east-1a");
                identity_done(&id);
                CHECK_INTEQ("identity without region",
                            identity_parse("{\"instanceId\":\"i-1\"}", 20, &id, &err), -EINVAL);
                CHECK_STREQ("names the missing field", err,
                            "the instance identity document has no region");
                free(err);
                const char *bad = "{\"instanceId\":\"i-1\\nx\",\"region\":\"r\"}";
                CHECK_INTEQ("identity with a newline in a value",
                            identity_parse(bad, strlen(bad), &id, &err), -EINVAL);
                CHECK_STREQ(
                        "names the bad field", err,
                        "the instance identity document's instanceId is not a printable string");
                free(err);
        }
        return test_done();
}
