/* test-credentials.c: the pure parts of the credentials module (the IMDS
 * role JSON and its times) and static keys; the IMDS path is exercised by the
 * scenario tests against the emulator. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "credentials.h"
#include "test.h"

static int parse(const char *json, struct aws_credentials *c, char **err) {
        *err = NULL;
        return credentials_parse_imds(json, strlen(json), c, err);
}

static void on_creds(const struct aws_credentials *c, int error, const char *text, void *ud) {
        (void)text;
        *(const char **)ud = error ? "error" : c->access_key_id;
}

int main(void) {
        struct aws_credentials c = {};
        char *err = NULL;
        time_t t;

        CHECK_INTEQ("parse ISO time", credentials_parse_time("2026-11-22T08:00:00Z", &t), 0);
        CHECK_INTEQ("the time is UTC", t, 1795334400);
        CHECK_INTEQ("fractional seconds", credentials_parse_time("2026-11-22T08:00:00.123Z", &t),
                    0);
        CHECK_INTEQ("+00:00 zone", credentials_parse_time("2026-11-22T08:00:00+00:00", &t), 0);
        CHECK_INTEQ("junk after the time", credentials_parse_time("2026-11-22T08:00:00Zjunk", &t),
                    -EINVAL);
        CHECK_INTEQ("no zone", credentials_parse_time("2026-11-22T08:00:00", &t), -EINVAL);
        CHECK_INTEQ("not a time", credentials_parse_time("tomorrow", &t), -EINVAL);

        CHECK_INTEQ("parse role JSON",
                    parse("{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-22T02:00:00Z\","
                          "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAEXAMPLE\","
                          "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\","
                          "\"Expiration\":\"2026-11-22T08:00:00Z\"}",
                          &c, &err),
                    0);
        CHECK_STREQ("access key id", c.access_key_id, "ASIAEXAMPLE");
        CHECK_STREQ("secret", c.secret_access_key, "s3cr3t");
        CHECK_STREQ("token", c.session_token, "tok");
        CHECK_INTEQ("expiration", c.expiration, 1795334400);
        aws_credentials_done(&c);

        CHECK_INTEQ(
                "a failed Code is refused",
                parse("{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"SecretAccessKey\":\"s3cr3t\"}",
                      &c, &err),
                -EINVAL);
        CHECK_STREQ("the Code is named", err,
                    "the role credentials say Code=AssumeRoleUnauthorizedAccess");
        free(err);

        CHECK_INTEQ(
                "a missing field is refused",
                parse("{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"hush\","
                      "\"Expiration\":\"2026-11-22T08:00:00Z\"}",
                      &c, &err),
                -EINVAL);
        CHECK_STREQ("the missing field is named", err, "the role credentials lack Token");
        CHECK("no secret in the error", !strstr(err, "hush"));
        free(err);

        CHECK_INTEQ("garbage is refused", parse("<html>oops</html>", &c, &err), -EINVAL);
        CHECK_STREQ("garbage message", err, "the role credentials are not a JSON object");
        free(err);

        CHECK_INTEQ("a bad Expiration is refused",
                    parse("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"hush\",\"Token\":\"t\","
                          "\"Expiration\":\"soon\"}",
                          &c, &err),
                    -EINVAL);
        CHECK("the bad time is not echoed", err && !strstr(err, "soon") && !strstr(err, "hush"));
        free(err);

        {
                sd_event *e = NULL;
                struct credentials *cr = NULL;
                const char *got = NULL;

                sd_event_default(&e);
                CHECK_INTEQ(
                        "static credentials",
                        credentials_new(&cr, e, NULL,
                                        &(struct credentials_config){.access_key_id = "AKIDSTATIC",
                                                                     .secret_access_key = "x"}),
                        0);
                credentials_get(cr, on_creds, &got, NULL);
                CHECK_STREQ("static keys are served at once", got, "AKIDSTATIC");
                CHECK_STREQ("source", credentials_source(cr), "environment");
                credentials_free(cr);

                got = NULL;
                credentials_new(&cr, e, NULL, &(struct credentials_config){});
                credentials_get(cr, on_creds, &got, NULL);
                CHECK_STREQ("no keys and no IMDS is an error, not a crash", got, "error");
                credentials_free(cr);
                sd_event_unref(e);
        }
        return test_done();
}
