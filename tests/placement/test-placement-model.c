/* test-placement-model.c: the pure pieces under the query language: typed
 * values (versions, times, numbers), error rendering, escaping for the
 * terminal, and reading the AWS CLI's JSON into a cluster, including every
 * way that input can be wrong. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement-error.h"
#include "placement-escape.h"
#include "placement-json.h"
#include "placement-model.h"
#include "placement-query.h"
#include "placement-taskdef.h"
#include "placement-value.h"
#include "test.h"

static int cmp_versions(const char *a, const char *b) {
        int r = 99;
        if (placement_value_compare_versions(a, b, &r) < 0)
                return 99;
        return r;
}

static void test_versions(void) {
        CHECK_INTEQ("1.9.0 < 1.14.5", cmp_versions("1.9.0", "1.14.5"), -1);
        CHECK_INTEQ("1.14.5 > 1.9.0", cmp_versions("1.14.5", "1.9.0"), 1);
        CHECK_INTEQ("1.14 == 1.14.0", cmp_versions("1.14", "1.14.0"), 0);
        CHECK_INTEQ("1.14.0.1 > 1.14", cmp_versions("1.14.0.1", "1.14"), 1);
        CHECK_INTEQ("leading zeros: 1.010 == 1.10", cmp_versions("1.010", "1.10"), 0);
        CHECK_INTEQ("no overflow on long components",
                    cmp_versions("1.99999999999999999999999", "1.99999999999999999999998"), 1);
        CHECK_INTEQ("not a version: latest", cmp_versions("latest", "1.0"), 99);
        CHECK_INTEQ("not a version: 1..2", cmp_versions("1..2", "1.0"), 99);
        CHECK_INTEQ("not a version: trailing dot", cmp_versions("1.2.", "1.0"), 99);
        CHECK("is_version 1.20.1", placement_value_is_version("1.20.1"));
        CHECK("!is_version 1.20.1-beta", !placement_value_is_version("1.20.1-beta"));
        CHECK("!is_version empty", !placement_value_is_version(""));
}

static int64_t t(const char *s) {
        int64_t v = -1;
        if (placement_value_parse_time(s, &v) < 0)
                return -1;
        return v;
}

static void test_times(void) {
        /* 2018-06-18T22:28:28Z is 1529360908 seconds after the epoch. */
        CHECK_INTEQ("Z", t("2018-06-18T22:28:28Z"), 1529360908LL * 1000000);
        CHECK_INTEQ("+00:00", t("2018-06-18T22:28:28+00:00"), 1529360908LL * 1000000);
        CHECK_INTEQ("no zone is UTC", t("2018-06-18T22:28:28"), 1529360908LL * 1000000);
        CHECK_INTEQ("date is midnight UTC", t("2018-06-18"), 1529280000LL * 1000000);
        CHECK_INTEQ("offset -07:00", t("2018-06-18T15:28:28-07:00"), 1529360908LL * 1000000);
        CHECK_INTEQ("CLI v2 fraction", t("2018-06-18T22:28:28.123000+00:00"),
                    1529360908LL * 1000000 + 123000);
        CHECK_INTEQ("epoch", t("1970-01-01"), 0);
        CHECK_INTEQ("leap day", t("2016-02-29"), 1456704000LL * 1000000);
        CHECK_INTEQ("not a leap day", t("2018-02-29"), -1);
        CHECK_INTEQ("month 13", t("2018-13-01"), -1);
        CHECK_INTEQ("space separator", t("2018-06-18 22:28:28"), -1);
        CHECK_INTEQ("trailing garbage", t("2018-06-18Tx"), -1);
        CHECK_INTEQ("short year", t("18-06-18"), -1);
        CHECK_INTEQ("empty fraction", t("2018-06-18T22:28:28.Z"), -1);
}

static void test_numbers(void) {
        double d = 0;
        int64_t i = 0;

        CHECK("10 is a number", placement_value_parse_number("10", &d) && d == 10);
        CHECK("-1.5e3 is a number", placement_value_parse_number("-1.5e3", &d) && d == -1500);
        CHECK(".5 is a number", placement_value_parse_number(".5", &d) && d == 0.5);
        CHECK("0x10 is not a number", !placement_value_parse_number("0x10", &d));
        CHECK("nan is not a number", !placement_value_parse_number("nan", &d));
        CHECK("inf is not a number", !placement_value_parse_number("inf", &d));
        CHECK("1e999 is not a number", !placement_value_parse_number("1e999", &d));
        CHECK("10a is not a number", !placement_value_parse_number("10a", &d));
        CHECK("integer 01", placement_value_parse_integer("01", &i) && i == 1);
        CHECK("integer overflow", !placement_value_parse_integer("99999999999999999999", &i));
        CHECK("integer 1.0 is not", !placement_value_parse_integer("1.0", &i));
}

static void test_render(void) {
        struct placement_error e = {};
        char *s = NULL;
        const char *multi = "attribute:a exists and\n  (attribute:b exists";
        const char *tabbed = "attribute:a ==\tb c";

        placement_error_at(&e, multi, strlen(multi), strlen(multi), "')' expected");
        CHECK_INTEQ("multi-line: line", e.line, 2);
        CHECK_INTEQ("multi-line: column", e.column, 22);
        placement_error_render(&e, multi, strlen(multi), &s);
        CHECK_STREQ("multi-line render shows the line", s,
                    "line 2, column 22: ')' expected\n  (attribute:b exists\n"
                    "                     ^\n");
        free(s);

        placement_error_at(&e, tabbed, strlen(tabbed), 17, "x");
        placement_error_render(&e, tabbed, strlen(tabbed), &s);
        CHECK_STREQ("tabs are kept in the caret line", s,
                    "column 18: x\nattribute:a ==\tb c\n              \t  ^\n");
        free(s);

        CHECK_INTEQ("placement_error_set returns r",
                    placement_error_set(&e, -E2BIG, "too long: %d", 2001), -E2BIG);
        placement_error_render(&e, "", 0, &s);
        CHECK_STREQ("no position: message only", s, "too long: 2001\n");
        free(s);
}

/* Issue 10: no byte that a terminal acts on is kept. */
static void expect_escaped(const char *name, const char *s, bool utf8, const char *want) {
        char *got = placement_escape(s, utf8);

        CHECK_STREQ(name, got, want);
        free(got);
}

static void test_escape(void) {
        struct placement_error e = {};
        const char *line = "attribute:x == \"\x1b[2J\" (";
        char *s = NULL;

        expect_escaped("escape: printable ASCII and backslash as themselves", "a-b_c.d/e\\f g@h",
                       false, "a-b_c.d/e\\f g@h");
        expect_escaped("escape: ESC, CR, LF, tab, DEL as \\xNN", "\x1b[31m\r\n\t\x7f", false,
                       "\\x1b[31m\\x0d\\x0a\\x09\\x7f");
        expect_escaped("escape ASCII: UTF-8 as bytes", "h\xc3\xa9", false, "h\\xc3\\xa9");
        expect_escaped("escape UTF-8: a character kept", "h\xc3\xa9 \xe2\x82\xac", true,
                       "h\xc3\xa9 \xe2\x82\xac");
        expect_escaped("escape UTF-8: C1 control CSI (U+009B) escaped",
                       "\xc2\x9b"
                       "2J",
                       true, "\\xc2\\x9b2J");
        expect_escaped("escape UTF-8: a lone 0x9b escaped",
                       "\x9b"
                       "2J",
                       true, "\\x9b2J");
        expect_escaped("escape UTF-8: an overlong ESC escaped", "\xc0\x9b", true, "\\xc0\\x9b");
        expect_escaped("escape UTF-8: a surrogate escaped", "\xed\xa0\x80", true,
                       "\\xed\\xa0\\x80");
        expect_escaped("escape UTF-8: a cut character escaped", "\xe2\x82", true, "\\xe2\\x82");

        placement_error_at(&e, line, strlen(line), strlen(line) - 1, "x");
        placement_error_render(&e, line, strlen(line), &s);
        CHECK_STREQ("render: the line escaped, the caret four columns on per escape", s,
                    "column 23: x\nattribute:x == \"\\x1b[2J\" (\n"
                    "                         ^\n");
        free(s);
}

static int load(struct placement_cluster *c, const char *json, struct placement_error *e) {
        return placement_cluster_load_instances(c, json, strlen(json), e);
}

static void expect_error(const char *name, const char *json, const char *message, unsigned line,
                         unsigned column) {
        struct placement_cluster *c = NULL;
        struct placement_error e = {};

        placement_cluster_new(&c);
        CHECK_INTEQ(name, load(c, json, &e), -EINVAL);
        CHECK_STREQ(name, e.message, message);
        if (line > 0) {
                CHECK_INTEQ(name, e.line, line);
                CHECK_INTEQ(name, e.column, column);
        }
        CHECK_INTEQ(name, c->n_instances, 0);
        placement_cluster_free(c);
}

/* Issue 10: a dense document is refused before cJSON builds its tree; a
 * comma inside a string is not a value. */
static void test_json_values_limit(void) {
        size_t n = PLACEMENT_JSON_VALUES_MAX;
        char *json = malloc(2 * n + 64);
        struct placement_cluster *c = NULL;
        struct placement_error e = {};
        size_t k = 0;

        if (!CHECK("values: buffer", json) ||
            !CHECK("values: cluster", placement_cluster_new(&c) == 0))
                goto done;
        /* The object, the array, n - 3 zeros and x: n values, the limit. */
        k += (size_t)sprintf(json, "{\"containerInstances\": [0");
        for (size_t i = 1; i < n - 3; i++)
                json[k++] = ',', json[k++] = '0';
        strcpy(json + k, "], \"x\": \",,,[[{{\"}");
        CHECK_STREQ("values: at the limit, parsed (and refused for its shape)",
                    load(c, json, &e) < 0 ? e.message : "",
                    "containerInstances[0]: expected an object");
        strcpy(json + k, ",0,0]}"); /* n + 1 */
        CHECK_INTEQ("values: one over the limit, -EFBIG", load(c, json, &e), -EFBIG);
        CHECK_STREQ("values: ... saying the limit", e.message,
                    "more than 4000000 JSON values, ecs-place's limit for an input file (5,000 "
                    "container instances, ECS's most per cluster, at 800 values)");
        CHECK_INTEQ("values: ... with no position", e.line, 0);
done:
        placement_cluster_free(c);
        free(json);
}

static void test_bad_input(void) {
        struct placement_cluster *c = NULL;
        struct placement_error e = {};
        const char *good = "{\"containerInstances\": [{\"containerInstanceArn\": \"arn:a/1\"}]}";

        expect_error("malformed: trailing comma", "{\"containerInstances\": [\n  1,]}",
                     "malformed JSON", 2, 5);
        expect_error("malformed: end of input", "{\"containerInstances\": [",
                     "malformed JSON (unexpected end of input)", 1, 25);
        expect_error("malformed: trailing garbage", "{\"containerInstances\": []} x",
                     "malformed JSON", 1, 28);
        expect_error("malformed: empty file", "", "malformed JSON (unexpected end of input)", 1, 1);
        expect_error("not an object", "[]",
                     "expected an object with \"containerInstances\" (the output of aws ecs "
                     "describe-container-instances)",
                     0, 0);
        expect_error("tasks file given as instances", "{\"tasks\": []}",
                     "containerInstances: missing (expected the output of aws ecs "
                     "describe-container-instances)",
                     0, 0);
        expect_error("containerInstances not an array", "{\"containerInstances\": {}}",
                     "containerInstances: expected an array", 0, 0);
        expect_error("instance not an object", "{\"containerInstances\": [1]}",
                     "containerInstances[0]: expected an object", 0, 0);
        expect_error("arn missing", "{\"containerInstances\": [{}]}",
                     "containerInstances[0]: containerInstanceArn: missing", 0, 0);
        expect_error("attribute name not a string",
                     "{\"containerInstances\": [{\"containerInstanceArn\": \"a\"}, "
                     "{\"containerInstanceArn\": \"b\", \"attributes\": [{\"name\": 7}]}]}",
                     "containerInstances[1].attributes[0]: name: expected a string", 0, 0);
        expect_error("agentConnected not a bool",
                     "{\"containerInstances\": [{\"containerInstanceArn\": \"a\", "
                     "\"agentConnected\": \"yes\"}]}",
                     "containerInstances[0]: agentConnected: expected true or false", 0, 0);
        expect_error("runningTasksCount fractional",
                     "{\"containerInstances\": [{\"containerInstanceArn\": \"a\", "
                     "\"runningTasksCount\": 1.5}]}",
                     "containerInstances[0].runningTasksCount: expected an integer", 0, 0);
        expect_error("registeredAt not a time",
                     "{\"containerInstances\": [{\"containerInstanceArn\": \"a\", "
                     "\"registeredAt\": \"yesterday\"}]}",
                     "containerInstances[0]: registeredAt: expected epoch seconds or an ISO "
                     "8601 time",
                     0, 0);
        expect_error("port not a number",
                     "{\"containerInstances\": [{\"containerInstanceArn\": \"a\", "
                     "\"remainingResources\": [{\"name\": \"PORTS\", \"stringSetValue\": "
                     "[\"22\", \"http\"]}]}]}",
                     "containerInstances[0].remainingResources[0].stringSetValue: [1]: expected "
                     "a port number string",
                     0, 0);

        /* A resource named twice: the last one counts (the fuzzer found the
         * first one's ports leaked). */
        placement_cluster_new(&c);
        CHECK_INTEQ("PORTS twice loads",
                    load(c,
                         "{\"containerInstances\": [{\"containerInstanceArn\": \"a\", "
                         "\"remainingResources\": [{\"name\": \"PORTS\", \"stringSetValue\": "
                         "[\"22\", \"80\"]}, {\"name\": \"PORTS\", \"stringSetValue\": "
                         "[\"443\"]}]}]}",
                         &e),
                    0);
        CHECK("PORTS twice: the last set counts",
              c->n_instances == 1 && c->instances[0].remaining.n_ports_tcp == 1 &&
                      c->instances[0].remaining.ports_tcp[0] == 443);
        placement_cluster_free(c);

        /* A failed load leaves what was loaded before untouched. */
        placement_cluster_new(&c);
        CHECK_INTEQ("good load", load(c, good, &e), 0);
        CHECK_INTEQ("bad load after a good one", load(c, "{\"containerInstances\": [{}]}", &e),
                    -EINVAL);
        CHECK_INTEQ("cluster unchanged", c->n_instances, 1);
        CHECK_STREQ("defaults: status ACTIVE", c->instances[0].status, "ACTIVE");
        CHECK("defaults: agent connected", c->instances[0].agent_connected);
        CHECK_STREQ("short id", placement_instance_short_id(&c->instances[0]), "1");
        placement_cluster_free(c);
}

static void test_tasks(void) {
        struct placement_cluster *c = NULL;
        struct placement_error e = {};
        const char *instances =
                "{\"containerInstances\": [{\"containerInstanceArn\": \"arn:b\", "
                "\"registeredAt\": 1529360908.5, \"remainingResources\": [{\"name\": \"CPU\", "
                "\"integerValue\": 1024}, {\"name\": \"MEMORY\", \"integerValue\": 2048}]}, "
                "{\"containerInstanceArn\": \"arn:a\"}]}";
        const char *tasks = "{\"tasks\": ["
                            "{\"containerInstanceArn\": \"arn:a\", \"group\": \"g1\", "
                            "\"desiredStatus\": \"RUNNING\"},"
                            "{\"containerInstanceArn\": \"arn:a\", \"group\": \"g1\", "
                            "\"desiredStatus\": \"RUNNING\"},"
                            "{\"containerInstanceArn\": \"arn:a\", \"group\": \"g2\", "
                            "\"desiredStatus\": \"STOPPED\", \"lastStatus\": \"RUNNING\"},"
                            "{\"containerInstanceArn\": \"arn:b\", \"group\": \"g2\", "
                            "\"desiredStatus\": \"RUNNING\"},"
                            "{\"containerInstanceArn\": \"arn:zzz\", \"group\": \"g3\", "
                            "\"desiredStatus\": \"RUNNING\"},"
                            "{\"group\": \"g4\", \"desiredStatus\": \"RUNNING\"}]}";

        placement_cluster_new(&c);
        CHECK_INTEQ("instances load", load(c, instances, &e), 0);
        CHECK_INTEQ("epoch registeredAt", c->instances[0].registered_at,
                    1529360908LL * 1000000 + 500000);
        CHECK_INTEQ("remaining CPU", c->instances[0].remaining.cpu, 1024);
        CHECK_INTEQ("remaining memory", c->instances[0].remaining.memory, 2048);
        CHECK_INTEQ("unreported CPU is -1", c->instances[1].remaining.cpu, -1);
        CHECK_INTEQ("tasks load", placement_cluster_load_tasks(c, tasks, strlen(tasks), &e), 0);
        CHECK_INTEQ("n_tasks", c->n_tasks, 6);
        CHECK_INTEQ("g1 counted twice on arn:a",
                    placement_instance_group_count(&c->instances[1], "g1"), 2);
        CHECK_INTEQ("desired STOPPED does not count",
                    placement_instance_group_count(&c->instances[1], "g2"), 0);
        CHECK_INTEQ("g2 on arn:b", placement_instance_group_count(&c->instances[0], "g2"), 1);
        CHECK_INTEQ("arn:b has one group", c->instances[0].n_groups, 1);
        CHECK_INTEQ("instances file given as tasks",
                    placement_cluster_load_tasks(c, instances, strlen(instances), &e), -EINVAL);
        CHECK_STREQ("instances file given as tasks: message", e.message,
                    "tasks: missing (expected the output of aws ecs describe-tasks)");
        placement_cluster_free(c);
}

static void test_query_api(void) {
        struct placement_query *q = NULL;
        struct placement_error e = {};
        const char *expr = "attribute:b exists and (task:group == x or attribute:b == y) and "
                           "not(registeredAt < 2018-01-01)";
        char **v = NULL;
        char big[2100];

        CHECK_INTEQ("parse", placement_query_parse(&q, expr, strlen(expr), &e), 0);
        CHECK_INTEQ("subjects", placement_query_subjects(q, &v), 0);
        CHECK("subjects in order of first use, distinct",
              v && v[0] && v[1] && v[2] && !v[3] && strcmp(v[0], "attribute:b") == 0 &&
                      strcmp(v[1], "task:group") == 0 && strcmp(v[2], "registeredAt") == 0);
        placement_query_strv_free(v);
        placement_query_free(q);

        memset(big, ' ', sizeof(big));
        memcpy(big, "attribute:a exists", 18);
        CHECK_INTEQ("2000 characters are fine", placement_query_parse(&q, big, 2000, &e), 0);
        placement_query_free(q);
        q = NULL;
        CHECK_INTEQ("2001 characters are not", placement_query_parse(&q, big, 2001, &e), -EINVAL);
        CHECK_STREQ("2001 characters: ECS's wording", e.message,
                    "The expression can have a maximum length of 2000 characters (it has 2001).");
        CHECK("no query on failure", q == NULL);

        CHECK_INTEQ("NUL byte", placement_query_parse(&q, "attribute:a\0 exists", 19, &e), -EINVAL);
        CHECK_STREQ("NUL byte message", e.message, "NUL byte in expression");
        CHECK_INTEQ("NUL byte column", e.column, 12);
}

static struct placement_taskdef *taskdef(const char *json, struct placement_error *e) {
        struct placement_taskdef *td = NULL;
        if (placement_taskdef_parse(&td, json, strlen(json), e) < 0)
                return NULL;
        return td;
}

static void test_taskdef(void) {
        struct placement_error e = {};
        struct placement_taskdef *td;

        td = taskdef("{\"taskDefinition\": {\"family\": \"f\", \"revision\": 3, "
                     "\"containerDefinitions\": ["
                     "{\"cpu\": 100, \"memory\": 512, \"memoryReservation\": 128,"
                     " \"portMappings\": [{\"containerPort\": 80, \"hostPort\": 8080},"
                     "  {\"containerPort\": 81, \"hostPort\": 0},"
                     "  {\"containerPort\": 53, \"hostPort\": 53, \"protocol\": \"udp\"}]},"
                     "{\"cpu\": 28, \"memory\": 256}]}}",
                     &e);
        if (CHECK("describe-task-definition shape parses", td)) {
                CHECK_INTEQ("cpu: sum of containers", td->cpu, 128);
                CHECK_INTEQ("memory: reservation, else hard limit", td->memory, 128 + 256);
                CHECK_STREQ("arn from family and revision", td->arn, "f:3");
                CHECK_STREQ("network mode defaults to bridge", td->network_mode, "bridge");
                CHECK_INTEQ("dynamic host port takes no fixed port", td->n_ports, 2);
                CHECK("tcp 8080",
                      td->n_ports == 2 && td->ports[0].port == 8080 && !td->ports[0].udp);
                CHECK("udp 53", td->n_ports == 2 && td->ports[1].port == 53 && td->ports[1].udp);
        }
        placement_taskdef_free(td);

        td = taskdef("{\"family\": \"g\", \"cpu\": \"0.5 vCPU\", \"memory\": \"2 GB\", "
                     "\"networkMode\": \"awsvpc\", \"containerDefinitions\": [{\"cpu\": 4096, "
                     "\"memory\": 9999, \"portMappings\": [{\"containerPort\": 80, \"hostPort\": "
                     "80}]}]}",
                     &e);
        if (CHECK("register-task-definition input parses", td)) {
                CHECK_INTEQ("task-level cpu wins", td->cpu, 512);
                CHECK_INTEQ("task-level memory wins", td->memory, 2048);
                CHECK_INTEQ("awsvpc takes no host ports", td->n_ports, 0);
        }
        placement_taskdef_free(td);

        td = taskdef("{\"family\": \"h\", \"networkMode\": \"host\", \"containerDefinitions\": "
                     "[{\"memory\": 1, \"portMappings\": [{\"containerPort\": 9000}]}]}",
                     &e);
        CHECK("host mode: container port is the host port",
              td && td->n_ports == 1 && td->ports[0].port == 9000);
        placement_taskdef_free(td);

        CHECK("missing family", !taskdef("{\"containerDefinitions\": []}", &e));
        CHECK_STREQ("missing family: message", e.message, "taskDefinition: family: missing");
        CHECK("bad memory type", !taskdef("{\"family\": \"f\", \"containerDefinitions\": "
                                          "[{\"memory\": \"lots\"}]}",
                                          &e));
        CHECK_STREQ("bad memory type: message", e.message,
                    "containerDefinitions[0].memory: expected an integer");
        CHECK("bad task cpu unit", !taskdef("{\"family\": \"f\", \"cpu\": \"2 cores\", "
                                            "\"containerDefinitions\": []}",
                                            &e));
        CHECK_STREQ("bad task cpu unit: message", e.message,
                    "taskDefinition.cpu: expected a number or \"N vCPU\"");
}

int main(void) {
        test_versions();
        test_times();
        test_numbers();
        test_render();
        test_escape();
        test_bad_input();
        test_json_values_limit();
        test_tasks();
        test_query_api();
        test_taskdef();
        return test_done();
}
