/* fuzz-place-services.c: libFuzzer target for the describe-services reader
 * and what resilience makes of a service: the input is the services JSON;
 * a load that fails must leave the list as it was and say why, and one that
 * succeeds is analysed on a fixed three-zone cluster (every service's
 * constraints and strategies through the request parser, the baseline, each
 * zone lost, the table, the JSON and the picture). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "placement-picture.h"
#include "placement-report.h"
#include "placement-resilience.h"
#include "placement-services.h"
#include "placement-taskdef.h"

#define FUZZ_INPUT_MAX 16384
#define FUZZ_WORK_MAX 2000000 /* checks: keeps one input to milliseconds */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char instances_json[] =
        "{\"containerInstances\": ["
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/1\","
        " \"ec2InstanceId\": \"i-1\","
        " \"remainingResources\": [{\"name\": \"CPU\", \"integerValue\": 2048},"
        "  {\"name\": \"MEMORY\", \"integerValue\": 4096}],"
        " \"registeredResources\": [{\"name\": \"CPU\", \"integerValue\": 2048},"
        "  {\"name\": \"MEMORY\", \"integerValue\": 4096}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"a\"},"
        "  {\"name\": \"ecs.instance-type\", \"value\": \"m5.large\"}]},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/2\","
        " \"remainingResources\": [{\"name\": \"CPU\", \"integerValue\": 1024},"
        "  {\"name\": \"MEMORY\", \"integerValue\": 1024}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"b\"},"
        "  {\"name\": \"ecs.instance-type\", \"value\": \"c5.large\"}, {\"name\": \"stack\"}]},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/3\","
        " \"status\": \"DRAINING\","
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"c\"}]}]}";

static const char tasks_json[] =
        "{\"tasks\": ["
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/1\","
        " \"group\": \"service:api\", \"desiredStatus\": \"RUNNING\"},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/2\","
        " \"group\": \"family:batch\", \"desiredStatus\": \"RUNNING\"}]}";

/* Every service of the input names one of these (family "api", "web"). */
static const char *const taskdefs_json[] = {
        "{\"taskDefinition\": {\"taskDefinitionArn\": "
        "\"arn:aws:ecs:r:1:task-definition/api:1\", \"family\": \"api\", \"revision\": 1,"
        " \"containerDefinitions\": [{\"name\": \"a\", \"cpu\": 256, \"memory\": 512}]}}",
        "{\"family\": \"web\", \"revision\": 2, \"placementConstraints\": [{\"type\": "
        "\"memberOf\", \"expression\": \"attribute:stack exists\"}],"
        " \"containerDefinitions\": [{\"name\": \"w\", \"cpu\": 128, \"memory\": 256,"
        " \"portMappings\": [{\"containerPort\": 80, \"hostPort\": 8080}]}]}",
};

static void analyse(const struct placement_services *s, struct placement_cluster *c,
                    struct placement_taskdef *const *tds, size_t n_tds) {
        struct placement_resilience *r = NULL;
        struct placement_error e = {};
        char *text = NULL, **verdicts = NULL;
        cJSON *doc = NULL;

        if (placement_resilience_new(&r, c, s, tds, n_tds, 7, &e) < 0) {
                if (!e.message[0])
                        abort();
                return;
        }
        r->min_headroom = 0.25;
        if (placement_resilience_add(r, PLACEMENT_LOSE_ZONE, NULL, NULL, &e) < 0 ||
            placement_resilience_add(r, PLACEMENT_LOSE_INSTANCE, NULL, NULL, &e) < 0)
                abort();
        if (placement_resilience_work(r) <= FUZZ_WORK_MAX && placement_resilience_run(r) == 0) {
                /* The survived flags agree with the outcomes. */
                for (size_t f = 0; f < r->n_failures; f++)
                        for (size_t k = 0; k < r->failures[f].n_outcomes; k++) {
                                const struct placement_outcome *o = &r->failures[f].outcomes[k];
                                if (o->short_tasks != o->missing - o->n_placed ||
                                    (o->short_tasks && r->failures[f].survived))
                                        abort();
                        }
                if (placement_report_table(r, &text) == 0)
                        free(text);
                if (placement_report_verdicts(r, &verdicts) == 0)
                        placement_query_strv_free(verdicts);
                if (placement_report_json(r, "arn:aws:ecs:r:1:cluster/c", &doc) == 0)
                        cJSON_Delete(doc);
                if (r->n_failures > 0 && placement_resilience_show(r, 0) < 0)
                        abort();
        }
        placement_resilience_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct placement_taskdef *tds[2] = {};
        struct placement_services *s = NULL;
        struct placement_cluster *c = NULL;
        struct placement_error e = {};
        int r;

        if (size > FUZZ_INPUT_MAX || placement_services_new(&s) < 0)
                return 0;
        r = placement_services_load(s, (const char *)data, size, &e);
        if (r < 0 && (s->n_services != 0 || !e.message[0]))
                abort();
        for (size_t i = 0; r == 0 && i < s->n_services; i++) {
                const struct placement_service *sv = &s->services[i];
                if (!sv->name || !sv->status || sv->desired < 0 ||
                    sv->desired > PLACEMENT_SERVICE_DESIRED_MAX)
                        abort();
        }
        if (r == 0 && placement_cluster_new(&c) == 0 &&
            placement_cluster_load_instances(c, instances_json, strlen(instances_json), &e) == 0 &&
            placement_cluster_load_tasks(c, tasks_json, strlen(tasks_json), &e) == 0 &&
            placement_taskdef_parse(&tds[0], taskdefs_json[0], strlen(taskdefs_json[0]), &e) == 0 &&
            placement_taskdef_parse(&tds[1], taskdefs_json[1], strlen(taskdefs_json[1]), &e) == 0)
                analyse(s, c, tds, 2);
        placement_taskdef_free(tds[0]);
        placement_taskdef_free(tds[1]);
        placement_cluster_free(c);
        placement_services_free(s);
        return 0;
}
