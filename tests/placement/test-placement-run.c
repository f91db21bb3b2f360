/* test-placement-run.c: the placement semantics placement-run.c decides on
 * its own, on a three-instance cluster: the service scheduler's request
 * (group, missing count, default strategies), the FARGATE rule and FARGATE's
 * empty placement, the strategy field kinds placement ranks by, and the work
 * limits (the estimate, the regexes' steps). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement-model.h"
#include "placement-query-eval.h"
#include "placement-run.h"
#include "placement-taskdef.h"
#include "test.h"

#define ARN "arn:aws:ecs:us-east-1:1:container-instance/c/"

/* Zone a: a1 (little CPU, much memory), a2 (the reverse); zone b: b1.  The
 * service web has a task desired RUNNING on each of a1 and a2, and one
 * desired STOPPED on b1, which does not count. */
static const char instances_json[] =
        "{\"containerInstances\": ["
        "{\"containerInstanceArn\": \"" ARN "a1\", \"remainingResources\": ["
        " {\"name\": \"CPU\", \"integerValue\": 1024}, {\"name\": \"MEMORY\", \"integerValue\": "
        "4096}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"a\"}]},"
        "{\"containerInstanceArn\": \"" ARN "a2\", \"remainingResources\": ["
        " {\"name\": \"CPU\", \"integerValue\": 4096}, {\"name\": \"MEMORY\", \"integerValue\": "
        "1024}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"a\"}]},"
        "{\"containerInstanceArn\": \"" ARN "b1\", \"remainingResources\": ["
        " {\"name\": \"CPU\", \"integerValue\": 2048}, {\"name\": \"MEMORY\", \"integerValue\": "
        "2048}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"b\"}]}]}";

static const char tasks_json[] =
        "{\"tasks\": ["
        "{\"containerInstanceArn\": \"" ARN "a1\", \"group\": \"service:web\","
        " \"desiredStatus\": \"RUNNING\"},"
        "{\"containerInstanceArn\": \"" ARN "a2\", \"group\": \"service:web\","
        " \"desiredStatus\": \"RUNNING\"},"
        "{\"containerInstanceArn\": \"" ARN "b1\", \"group\": \"service:web\","
        " \"desiredStatus\": \"STOPPED\"}]}";

static const char taskdef_json[] =
        "{\"family\": \"web\", \"containerDefinitions\": [{\"cpu\": 256, \"memory\": 512}]}";

static const char taskdef_constrained_json[] =
        "{\"family\": \"web\", \"containerDefinitions\": [{\"cpu\": 256, \"memory\": 512}],"
        " \"placementConstraints\": [{\"type\": \"memberOf\","
        " \"expression\": \"attribute:ecs.availability-zone == a\"}]}";

#define FARGATE_MESSAGE "Placement constraints are not supported with FARGATE launch type."

static struct placement_cluster *cluster(void) {
        struct placement_cluster *c = NULL;
        struct placement_error e = {};

        if (placement_cluster_new(&c) < 0 ||
            placement_cluster_load_instances(c, instances_json, strlen(instances_json), &e) < 0 ||
            placement_cluster_load_tasks(c, tasks_json, strlen(tasks_json), &e) < 0) {
                printf("# cluster: %s\n", e.message);
                return placement_cluster_free(c);
        }
        return c;
}

static struct placement_taskdef *taskdef(const char *json) {
        struct placement_taskdef *td = NULL;
        struct placement_error e = {};

        if (placement_taskdef_parse(&td, json, strlen(json), &e) < 0)
                printf("# taskdef: %s\n", e.message);
        return td;
}

/* The short id of the instance task t went to, "-" for none. */
static const char *placed_on(const struct placement_cluster *c, const struct placement_result *res,
                             size_t t) {
        if (!res || t >= res->n_tasks || res->tasks[t].instance < 0)
                return "-";
        return placement_instance_short_id(&c->instances[res->tasks[t].instance]);
}

static void test_service_defaults(struct placement_taskdef *td) {
        struct placement_cluster *c = cluster();
        struct placement_request req = {.taskdef = td, .seed = 1};
        struct placement_result *res = NULL;
        struct placement_error e = {};
        size_t existing = 99;
        int r;

        if (!CHECK("service: cluster loads", c))
                return;
        r = placement_request_service(&req, c, "web", 3, &existing, &e);
        CHECK_INTEQ("service: accepted", r, 0);
        CHECK_STREQ("service: group is service:<name>", req.group, "service:web");
        CHECK_INTEQ("service: counts its tasks desired RUNNING", existing, 2);
        CHECK_INTEQ("service: places desired minus existing", req.count, 1);
        if (CHECK_INTEQ("service: two default strategies", req.n_strategies, 2)) {
                CHECK("default 1: spread", req.strategies[0].type == PLACEMENT_STRATEGY_SPREAD);
                CHECK_STREQ("default 1: by zone", req.strategies[0].field,
                            "attribute:ecs.availability-zone");
                CHECK("default 1: field kind is an attribute",
                      req.strategies[0].field_kind == PLACEMENT_STRATEGY_FIELD_ATTRIBUTE);
                CHECK("default 2: spread", req.strategies[1].type == PLACEMENT_STRATEGY_SPREAD);
                CHECK_STREQ("default 2: by instance", req.strategies[1].field, "instanceId");
                CHECK("default 2: field kind is the instance",
                      req.strategies[1].field_kind == PLACEMENT_STRATEGY_FIELD_INSTANCE_ID);
        }
        r = placement_request_validate(&req, NULL, &e);
        CHECK_INTEQ("service: validates", r, 0);
        if (r == 0 && placement_run(c, &req, &res) == 0)
                /* Zone a holds both web tasks: the spread goes to zone b. */
                CHECK_STREQ("service: the default spreads to the empty zone", placed_on(c, res, 0),
                            "b1");
        placement_result_free(res);
        placement_request_done(&req);

        req = (struct placement_request){.taskdef = td};
        placement_request_add_strategies(&req, "type=binpack,field=memory", &e);
        r = placement_request_service(&req, c, "web", 1, &existing, &e);
        CHECK("service with a strategy: accepted", r == 0);
        CHECK("service with a strategy: no defaults added",
              req.n_strategies == 1 && req.strategies[0].type == PLACEMENT_STRATEGY_BINPACK);
        CHECK_INTEQ("service with enough tasks: places none", req.count, 0);
        placement_request_done(&req);

        req = (struct placement_request){.taskdef = td};
        r = placement_request_service(&req, c, "new", 2, NULL, &e);
        CHECK("new service: nothing existing, places all",
              r == 0 && req.count == 2 && req.n_strategies == 2);
        placement_request_done(&req);

        /* A Fargate service: no instances to spread over, no default
         * strategy, and so it validates and runs as ECS would run it. */
        req = (struct placement_request){.taskdef = td, .fargate = true};
        r = placement_request_service(&req, c, "api", 2, NULL, &e);
        CHECK("FARGATE service: no default strategy", r == 0 && req.n_strategies == 0);
        CHECK_INTEQ("FARGATE service: validates", placement_request_validate(&req, NULL, &e), 0);
        placement_request_done(&req);
        placement_cluster_free(c);
}

static void expect_fargate_refused(const char *name, struct placement_taskdef *td,
                                   const char *constraints, const char *strategies) {
        struct placement_request req = {.taskdef = td, .count = 1, .fargate = true};
        struct placement_error e = {};
        int r;

        if (constraints)
                placement_request_add_constraints(&req, constraints, NULL, &e);
        if (strategies)
                placement_request_add_strategies(&req, strategies, &e);
        r = placement_request_validate(&req, NULL, &e);
        if (CHECK(name, r < 0))
                CHECK_STREQ("... with ECS's message", e.message, FARGATE_MESSAGE);
        placement_request_done(&req);
}

static void test_fargate(struct placement_taskdef *td, struct placement_taskdef *constrained) {
        struct placement_cluster *c = cluster();
        struct placement_request req = {.taskdef = td, .count = 2, .fargate = true};
        struct placement_result *res = NULL;
        struct placement_error e = {};

        expect_fargate_refused("FARGATE refuses a strategy", td, NULL, "type=random");
        expect_fargate_refused("FARGATE refuses a constraint", td, "type=distinctInstance", NULL);
        expect_fargate_refused("FARGATE refuses the task definition's constraints", constrained,
                               NULL, NULL);

        if (!CHECK("fargate: cluster loads", c))
                return;
        CHECK_INTEQ("FARGATE without placement options validates",
                    placement_request_validate(&req, NULL, &e), 0);
        if (CHECK_INTEQ("FARGATE runs", placement_run(c, &req, &res), 0)) {
                CHECK_INTEQ("FARGATE: one result per task", res->n_tasks, 2);
                CHECK("FARGATE: on no instance, and not failed",
                      res->tasks[0].instance == -1 && !res->tasks[0].reason &&
                              res->tasks[1].instance == -1 && !res->tasks[1].reason);
                CHECK("FARGATE: the cluster is untouched",
                      c->instances[0].remaining.cpu == 1024 &&
                              c->instances[0].running_tasks_count == 0);
        }
        placement_result_free(res);
        placement_request_done(&req);

        /* The same request on EC2 is placed. */
        req = (struct placement_request){.taskdef = td, .count = 1, .seed = 1};
        res = NULL;
        if (placement_request_validate(&req, NULL, &e) == 0 && placement_run(c, &req, &res) == 0)
                CHECK("EC2: placed on an instance",
                      res->n_tasks == 1 && res->tasks[0].instance >= 0);
        placement_result_free(res);
        placement_request_done(&req);
        placement_cluster_free(c);
}

/* One task of service:web with one strategy on a fresh cluster: where it
 * goes.  Each strategy has one answer (no tie for the seed to break). */
static void expect_placed(const char *name, struct placement_taskdef *td, const char *strategy,
                          enum placement_strategy_field kind, const char *want) {
        struct placement_cluster *c = cluster();
        struct placement_request req = {
                .taskdef = td, .count = 1, .seed = 1, .group = strdup("service:web")};
        struct placement_result *res = NULL;
        struct placement_error e = {};

        if (c && placement_request_add_strategies(&req, strategy, &e) == 0 &&
            placement_request_validate(&req, NULL, &e) == 0 && placement_run(c, &req, &res) == 0) {
                CHECK(name, req.strategies[0].field_kind == kind);
                CHECK_STREQ("... and where the task goes", placed_on(c, res, 0), want);
        } else
                CHECK(name, false);
        placement_result_free(res);
        placement_request_done(&req);
        placement_cluster_free(c);
}

static void test_field_kinds(struct placement_taskdef *td) {
        expect_placed("binpack cpu: field kind, least CPU left", td, "type=binpack,field=cpu",
                      PLACEMENT_STRATEGY_FIELD_CPU, "a1");
        expect_placed("binpack MEMORY: field kind, least memory left", td,
                      "type=binpack,field=MEMORY", PLACEMENT_STRATEGY_FIELD_MEMORY, "a2");
        expect_placed("spread host: field kind, fewest tasks per instance", td,
                      "type=spread,field=host", PLACEMENT_STRATEGY_FIELD_INSTANCE_ID, "b1");
        expect_placed("spread by zone: field kind, fewest tasks per zone", td,
                      "type=spread,field=attribute:ecs.availability-zone",
                      PLACEMENT_STRATEGY_FIELD_ATTRIBUTE, "b1");
}

/* Work over PLACEMENT_WORK_MAX is refused before it starts: nothing placed,
 * nothing allocated for the tasks, the cluster as it was. */
static void test_work_limit(struct placement_taskdef *td) {
        struct placement_cluster *c = cluster();
        /* 3 instances x 4e9 tasks: 1.2e10 checks. */
        struct placement_request req = {.taskdef = td, .count = 4000000000u, .seed = 1};
        struct placement_result *res = NULL;
        struct placement_query *q = NULL;
        struct placement_error e = {};
        const char *expr = "attribute:x exists and task:group in [a, b]";
        size_t *sel = NULL, n = 0;

        if (!CHECK("work: cluster loads", c) ||
            !CHECK_INTEQ("work: request validates", placement_request_validate(&req, NULL, &e), 0))
                goto done;
        CHECK("work: 4e9 tasks on 3 instances is over the limit",
              placement_run_work(c, &req) > PLACEMENT_WORK_MAX);
        CHECK_INTEQ("work: placement_run() refuses it with -ERANGE", placement_run(c, &req, &res),
                    -ERANGE);
        CHECK("work: ... before it starts", !res && c->instances[0].running_tasks_count == 0 &&
                                                    c->instances[0].remaining.cpu == 1024);
        req.count = 1;
        /* One pass over 3 instances, then the task itself. */
        CHECK_INTEQ("work: one task on 3 instances is 4 checks", placement_run_work(c, &req), 4);
        if (!CHECK_INTEQ("work: filter expression parses",
                         placement_query_parse(&q, expr, strlen(expr), &e), 0))
                goto done;
        /* Per instance: its status (1), a search of its attributes (1 + 1),
         * its value against x's one argument (1), each of its task groups and
         * one more against both arguments (2 * (1 + groups)); 3 instances, 3
         * attributes and 2 groups in all: 3 + 6 + 3 + 2 * 5. */
        CHECK_INTEQ("work: the filter's estimate", placement_query_filter_work(q, c), 22);
        CHECK_INTEQ("work: a filter within the limit runs",
                    placement_query_filter(q, c, NULL, &sel, &n), 0);
done:
        free(sel);
        placement_query_free(q);
        placement_request_done(&req);
        placement_cluster_free(c);
}

/* The steps of a query's regexes count across its matches: past
 * PLACEMENT_REGEX_STEPS_MAX, -ETIME; a filter starts the count again. */
static void test_regex_steps(void) {
        struct placement_cluster *c = cluster();
        struct placement_query *q = NULL;
        struct placement_error e = {};
        const char *expr = "attribute:ecs.availability-zone =~ '[ab]'";
        size_t *sel = NULL, n = 0;

        if (!CHECK("steps: cluster loads", c) ||
            !CHECK_INTEQ("steps: expression parses",
                         placement_query_parse(&q, expr, strlen(expr), &e), 0))
                goto done;
        CHECK_INTEQ("steps: a match", placement_query_eval(q, &c->instances[0]), 1);
        CHECK("steps: ... is counted", *q->regex_steps > 0);
        *q->regex_steps = PLACEMENT_REGEX_STEPS_MAX - 1;
        CHECK_INTEQ("steps: past the limit, -ETIME", placement_query_eval(q, &c->instances[0]),
                    -ETIME);
        CHECK_INTEQ("steps: a filter counts afresh", placement_query_filter(q, c, NULL, &sel, &n),
                    0);
        CHECK_INTEQ("steps: ... and selects", n, 3);
done:
        free(sel);
        placement_query_free(q);
        placement_cluster_free(c);
}

/* Everything a placement changes on c, as text: remaining CPU and memory,
 * ports in use, running tasks, task groups. */
static char *cluster_state(const struct placement_cluster *c) {
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < c->n_instances; i++) {
                const struct placement_instance *ci = &c->instances[i];
                fprintf(f, "%s cpu=%lld mem=%lld tcp=%zu udp=%zu running=%lld groups=",
                        placement_instance_short_id(ci), (long long)ci->remaining.cpu,
                        (long long)ci->remaining.memory, ci->remaining.n_ports_tcp,
                        ci->remaining.n_ports_udp, (long long)ci->running_tasks_count);
                for (size_t k = 0; k < ci->n_groups; k++)
                        fprintf(f, "%s:%u,", ci->groups[k].group, ci->groups[k].count);
                fputc(';', f);
        }
        fclose(f);
        return s;
}

/* One request of count tasks of group, validated: the strategies given. */
static int request(struct placement_request *req, struct placement_taskdef *td, const char *group,
                   unsigned count, const char *constraints, const char *strategies) {
        struct placement_error e = {};

        *req = (struct placement_request){.taskdef = td, .count = count, .seed = 1};
        req->group = strdup(group);
        if (constraints && placement_request_add_constraints(req, constraints, NULL, &e) < 0)
                return -EINVAL;
        if (strategies && placement_request_add_strategies(req, strategies, &e) < 0)
                return -EINVAL;
        return placement_request_validate(req, NULL, &e);
}

/* A session: what an excluded instance takes away (its candidacy and its
 * tasks' counts), and a rollback that gives the cluster back as it was. */
static void test_session(struct placement_taskdef *td) {
        struct placement_cluster *c = cluster();
        struct placement_session *s = NULL;
        struct placement_request spread = {}, fresh = {}, distinct = {};
        struct placement_result *res = NULL;
        const char *reasons[3] = {};
        const bool lost_a1[3] = {true, false, false};
        char *before = NULL, *after = NULL;

        if (!CHECK("session: cluster loads", c) ||
            !CHECK_INTEQ("session: new", placement_session_new(&s, c), 0))
                goto done;
        if (request(&spread, td, "service:web", 1,
                    "type=memberOf,expression=attribute:ecs.availability-zone == b", NULL) < 0 ||
            placement_session_run(s, &spread, &res) < 0)
                goto done;
        CHECK_STREQ("session: a constrained run puts a web task on b1", placed_on(c, res, 0), "b1");
        res = placement_result_free(res);
        placement_request_done(&spread);
        CHECK_INTEQ("session: web has 3 tasks", placement_session_group_tasks(s, "service:web"), 3);

        before = cluster_state(c);
        CHECK_INTEQ("session: mark", placement_session_mark(s), 0);
        placement_session_exclude(s, lost_a1);
        CHECK_INTEQ("session: a1 lost, its task no longer counts",
                    placement_session_group_tasks(s, "service:web"), 2);
        /* Zones a and b hold one web task each once a1's is gone: the tie
         * goes to binpack, and a2 has the least memory.  Counting a1's task,
         * zone b would have won. */
        if (request(&spread, td, "service:web", 1, NULL,
                    "type=spread,field=attribute:ecs.availability-zone "
                    "type=binpack,field=memory") == 0 &&
            placement_session_run(s, &spread, &res) == 0)
                CHECK_STREQ("session: spread does not count a lost instance's tasks",
                            placed_on(c, res, 0), "a2");
        res = placement_result_free(res);
        if (request(&fresh, td, "service:new", 2, NULL, "type=spread,field=instanceId") == 0 &&
            placement_session_run(s, &fresh, &res) == 0)
                CHECK("session: a new group goes to the two instances left",
                      strcmp(placed_on(c, res, 0), placed_on(c, res, 1)) != 0 &&
                              strcmp(placed_on(c, res, 0), "a1") != 0 &&
                              strcmp(placed_on(c, res, 1), "a1") != 0);
        res = placement_result_free(res);
        if (request(&distinct, td, "service:web", 1, "type=distinctInstance", NULL) == 0 &&
            placement_session_reasons(s, &distinct, reasons) == 0) {
                CHECK_STREQ("reasons: a lost instance is taken out at the agent step", reasons[0],
                            "AGENT");
                /* a2 had 1024 MiB: a web task and a new one took it all. */
                CHECK_STREQ("reasons: a2 is full", reasons[1], "RESOURCE:MEMORY");
                CHECK_STREQ("reasons: b1 holds a web task", reasons[2],
                            "DistinctInstance placement constraint unsatisfied.");
        }
        placement_session_rollback(s);
        placement_session_exclude(s, NULL);
        after = cluster_state(c);
        CHECK_STREQ("session: rollback gives back the cluster as it was at the mark", after,
                    before);
        CHECK_INTEQ("session: and the index too", placement_session_group_tasks(s, "service:new"),
                    0);
        CHECK_INTEQ("session: web's tasks all count again",
                    placement_session_group_tasks(s, "service:web"), 3);
done:
        free(before);
        free(after);
        placement_result_free(res);
        placement_request_done(&spread);
        placement_request_done(&fresh);
        placement_request_done(&distinct);
        placement_session_free(s);
        placement_cluster_free(c);
}

/* A session keeps the verdicts of a memberOf on attributes for all its runs,
 * but one on task groups must be judged afresh: the second run of the same
 * request sees the first's task.  binpack would pick the same instance
 * again if the first run's verdict were kept. */
static void test_session_memo(struct placement_taskdef *td) {
        struct placement_cluster *c = cluster();
        struct placement_session *s = NULL;
        struct placement_request anti = {}, zone = {};
        struct placement_result *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;

        if (!CHECK("memo: cluster loads", c) ||
            !CHECK_INTEQ("memo: new", placement_session_new(&s, c), 0) ||
            request(&anti, td, "service:memo", 1,
                    "type=memberOf,expression=not(task:group == service:memo)",
                    "type=binpack,field=memory") < 0 ||
            request(&zone, td, "service:zone", 1,
                    "type=memberOf,expression=attribute:ecs.availability-zone == b",
                    "type=binpack,field=memory") < 0)
                goto done;
        if (placement_session_run(s, &anti, &r1) == 0 && placement_session_run(s, &anti, &r2) == 0)
                CHECK("memo: a memberOf on task:group sees the previous run's task",
                      strcmp(placed_on(c, r1, 0), placed_on(c, r2, 0)) != 0);
        if (placement_session_run(s, &zone, &r3) == 0 && placement_session_run(s, &zone, &r4) == 0)
                CHECK("memo: a memberOf on attributes keeps its verdict: b1 both times",
                      strcmp(placed_on(c, r3, 0), "b1") == 0 &&
                              strcmp(placed_on(c, r4, 0), "b1") == 0);
done:
        placement_result_free(r1);
        placement_result_free(r2);
        placement_result_free(r3);
        placement_result_free(r4);
        placement_request_done(&anti);
        placement_request_done(&zone);
        placement_session_free(s);
        placement_cluster_free(c);
}

int main(void) {
        struct placement_taskdef *td = taskdef(taskdef_json);
        struct placement_taskdef *constrained = taskdef(taskdef_constrained_json);

        if (CHECK("task definitions parse", td && constrained)) {
                test_service_defaults(td);
                test_fargate(td, constrained);
                test_field_kinds(td);
                test_work_limit(td);
                test_regex_steps();
                test_session(td);
                test_session_memo(td);
        }
        placement_taskdef_free(td);
        placement_taskdef_free(constrained);
        return test_done();
}
