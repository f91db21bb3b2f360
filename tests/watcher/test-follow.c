/* test-follow.c: the follower's pure parts on ECS answers as ECS writes
 * them, and on what it must not believe: the counts of the right instance
 * only, task ARNs only, stopped tasks not counted, a group for every task,
 * the summary's order and its cut, and the pace. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "follow.h"
#include "macro.h"
#include "test.h"

#define ARN "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc"
#define TASK(id) "arn:aws:ecs:us-east-1:123456789012:task/prod/" id
#define DEF(f) "arn:aws:ecs:us-east-1:123456789012:task-definition/" f

static int counts(const char *json, unsigned *running, unsigned *pending) {
        cJSON *j = cJSON_Parse(json);
        int r = follow_parse_counts(j, ARN, running, pending);
        cJSON_Delete(j);
        return r;
}

static void test_counts(void) {
        unsigned running = 99, pending = 99;

        CHECK_INTEQ("DescribeContainerInstances",
                    counts("{\"containerInstances\": [{\"containerInstanceArn\": \"other\", "
                           "\"runningTasksCount\": 7, \"pendingTasksCount\": 7}, "
                           "{\"containerInstanceArn\": \"" ARN "\", \"runningTasksCount\": 4, "
                           "\"pendingTasksCount\": 1}], \"failures\": []}",
                           &running, &pending),
                    0);
        CHECK("the counts of this instance, not another's", running == 4 && pending == 1);
        CHECK_INTEQ("not there",
                    counts("{\"containerInstances\": [], \"failures\": [{\"arn\": \"" ARN
                           "\", \"reason\": \"MISSING\"}]}",
                           &running, &pending),
                    -EINVAL);
        CHECK_INTEQ("a negative count",
                    counts("{\"containerInstances\": [{\"containerInstanceArn\": \"" ARN
                           "\", \"runningTasksCount\": -1, \"pendingTasksCount\": 0}]}",
                           &running, &pending),
                    -EINVAL);
        CHECK_INTEQ("a fraction",
                    counts("{\"containerInstances\": [{\"containerInstanceArn\": \"" ARN
                           "\", \"runningTasksCount\": 1.5, \"pendingTasksCount\": 0}]}",
                           &running, &pending),
                    -EINVAL);
        CHECK_INTEQ("a string",
                    counts("{\"containerInstances\": [{\"containerInstanceArn\": \"" ARN
                           "\", \"runningTasksCount\": \"1\", \"pendingTasksCount\": 0}]}",
                           &running, &pending),
                    -EINVAL);
        CHECK_INTEQ("not an answer", counts("[1, 2]", &running, &pending), -EINVAL);
}

static void test_arns(void) {
        cJSON *j = cJSON_Parse("{\"taskArns\": [\"" TASK("a") "\", \"not-an-arn\", 7, \"" TASK(
                "b") "\", \"arn:aws:ecs:us-east-1:1:container-instance/x\"]}");
        char **v = NULL;
        size_t n = 0;

        CHECK_INTEQ("ListTasks", follow_parse_task_arns(j, &v, &n), 0);
        CHECK("task ARNs only, in order",
              n == 2 && strcmp(v[0], TASK("a")) == 0 && strcmp(v[1], TASK("b")) == 0 && !v[2]);
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        cJSON_Delete(j);
        j = cJSON_Parse("{\"nextToken\": \"x\"}");
        CHECK_INTEQ("no taskArns", follow_parse_task_arns(j, &v, &n), -EINVAL);
        cJSON_Delete(j);
}

/* A DescribeTasks answer: web:3 running, api:1 being stopped, web:2
 * stopped, a standalone batch task pending, and garbage. */
static const char DESCRIBE_TASKS[] =
        "{\"tasks\": ["
        "{\"taskArn\": \"arn:aws:ecs:us-east-1:1:task/prod/3\", \"group\": \"service:web\","
        " \"lastStatus\": \"RUNNING\", \"desiredStatus\": \"RUNNING\","
        " \"taskDefinitionArn\": \"arn:aws:ecs:us-east-1:1:task-definition/web:12\"},"
        "{\"taskArn\": \"arn:aws:ecs:us-east-1:1:task/prod/1\", \"group\": \"service:api\","
        " \"lastStatus\": \"RUNNING\", \"desiredStatus\": \"STOPPED\","
        " \"taskDefinitionArn\": \"arn:aws:ecs:us-east-1:1:task-definition/api:3\"},"
        "{\"taskArn\": \"arn:aws:ecs:us-east-1:1:task/prod/2\", \"group\": \"service:web\","
        " \"lastStatus\": \"STOPPED\", \"desiredStatus\": \"STOPPED\","
        " \"taskDefinitionArn\": \"arn:aws:ecs:us-east-1:1:task-definition/web:12\"},"
        "{\"taskArn\": \"arn:aws:ecs:us-east-1:1:task/prod/0\", \"lastStatus\": \"PENDING\","
        " \"taskDefinitionArn\": \"arn:aws:ecs:us-east-1:1:task-definition/batch:1\"},"
        "{\"taskArn\": \"garbage\", \"lastStatus\": \"RUNNING\"}"
        "], \"failures\": []}";

static void test_tasks(void) {
        cJSON *j = cJSON_Parse(DESCRIBE_TASKS);
        struct follow_task *t = NULL;
        size_t n = 0;
        char buf[128];

        CHECK_INTEQ("DescribeTasks", follow_parse_tasks(j, &t, &n), 0);
        CHECK_INTEQ("the stopped task and the garbage are not counted", n, 3);
        if (n == 3) {
                CHECK("sorted by group", strcmp(t[0].group, "family:batch") == 0 &&
                                                 strcmp(t[1].group, "service:api") == 0 &&
                                                 strcmp(t[2].group, "service:web") == 0);
                CHECK("no group: the family's", strcmp(t[0].definition, "batch:1") == 0);
                CHECK("desired STOPPED: on its way out", t[1].stopping && !t[2].stopping);
                CHECK("family:revision", strcmp(t[2].definition, "web:12") == 0);
        }
        CHECK_STREQ("one of each, by name", follow_summary(t, n, buf, sizeof buf),
                    "family:batch x1, service:api x1, service:web x1");
        follow_tasks_free(t, n);
        cJSON_Delete(j);
}

/* Text from ECS reaches the empty hook's environment: a control character
 * in a group or definition is escaped, and an "ARN" that could split the
 * list of ARNs (a space, a newline) is no task. */
static void test_hostile_tasks(void) {
        static const char text[] =
                "{\"tasks\": ["
                "{\"taskArn\": \"arn:aws:ecs:us-east-1:1:task/prod/1\", \"group\": "
                "\"service:a\\nX=1\","
                " \"lastStatus\": \"RUNNING\","
                " \"taskDefinitionArn\": \"arn:aws:ecs:us-east-1:1:task-definition/w\\u0007:1\"},"
                "{\"taskArn\": \"arn:aws:ecs:us-east-1:1:task/prod/2 arn:x\", \"lastStatus\": "
                "\"RUNNING\"},"
                "{\"taskArn\": \"arn:aws:ecs:us-east-1:1:task/prod/3\\nX\", \"lastStatus\": "
                "\"RUNNING\"}"
                "]}";
        cJSON *j = cJSON_Parse(text);
        struct follow_task *t = NULL;
        size_t n = 0;

        CHECK_INTEQ("parsed", follow_parse_tasks(j, &t, &n), 0);
        CHECK_INTEQ("an ARN with a space or a newline is no task", n, 1);
        if (n == 1) {
                CHECK_STREQ("a newline in the group is escaped", t[0].group, "service:a\\x0aX=1");
                CHECK_STREQ("a control character in the definition is escaped", t[0].definition,
                            "w\\x07:1");
        }
        follow_tasks_free(t, n);
        cJSON_Delete(j);
}

static void test_summary(void) {
        struct follow_task t[7] = {};
        static char api[] = "service:api", web[] = "service:web", cron[] = "family:cron";
        char *groups[] = {api, web, web, web, web, api, cron};
        char buf[128], small[24];

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                t[i].group = groups[i];
        CHECK_STREQ("most first, then by name", follow_summary(t, ELEMENTSOF(t), buf, sizeof buf),
                    "service:web x4, service:api x2, family:cron x1");
        CHECK_STREQ("cut to fit", follow_summary(t, ELEMENTSOF(t), small, sizeof small),
                    "service:web x4, ...");
        CHECK_STREQ("nothing", follow_summary(t, 0, buf, sizeof buf), "");
}

static void test_pace(void) {
        CHECK_INTEQ("far from the deadline, tasks left: every 2.5 s",
                    follow_interval_usec(0, 120, false, 5), 2500000);
        CHECK_INTEQ("one task left: every 1.5 s (the next change is empty)",
                    follow_interval_usec(0, 120, false, 1), 1500000);
        CHECK_INTEQ("within 30 s: every second", follow_interval_usec(100, 120, false, 5), 1000000);
        CHECK_INTEQ("a task on its way out: every second", follow_interval_usec(0, 120, true, 5),
                    1000000);
}

int main(void) {
        test_counts();
        test_arns();
        test_tasks();
        test_hostile_tasks();
        test_summary();
        test_pace();
        return test_done();
}
