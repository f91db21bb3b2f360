/* fuzz-place-taskdef.c: libFuzzer target for the task definition reader as
 * resilience uses it: the input is describe-task-definition output or a
 * register input.  One that parses must charge no negative CPU or memory,
 * be found again by its own name (placement_taskdef_find()), and a service
 * of three tasks using it is analysed on a fixed cluster, each instance lost
 * in turn, with its table and picture. */
#define _GNU_SOURCE
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
        " \"remainingResources\": [{\"name\": \"CPU\", \"integerValue\": 4096},"
        "  {\"name\": \"MEMORY\", \"integerValue\": 8192},"
        "  {\"name\": \"PORTS\", \"stringSetValue\": [\"22\", \"80\"]}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"a\"},"
        "  {\"name\": \"ecs.instance-type\", \"value\": \"m5.xlarge\"}, {\"name\": \"gpu\"}]},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/2\","
        " \"remainingResources\": [{\"name\": \"CPU\", \"integerValue\": 1024},"
        "  {\"name\": \"MEMORY\", \"integerValue\": 2048}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"b\"},"
        "  {\"name\": \"stack\", \"value\": \"prod\"}]}]}";

/* The service as a describe-services entry would give it, naming td. */
static void analyse(struct placement_taskdef *td, struct placement_cluster *c) {
        struct placement_service sv = {.name = (char *)"svc",
                                       .status = (char *)"ACTIVE",
                                       .task_definition = td->arn,
                                       .desired = 3,
                                       .strategies = (char *)"[{\"type\": \"spread\", "
                                                             "\"field\": \"instanceId\"}]"};
        struct placement_services s = {.services = &sv, .n_services = 1};
        struct placement_resilience *r = NULL;
        struct placement_error e = {};
        char *text = NULL;

        if (placement_resilience_new(&r, c, &s, &td, 1, 3, &e) < 0) {
                if (!e.message[0])
                        abort();
                return;
        }
        if (placement_resilience_add(r, PLACEMENT_LOSE_INSTANCE, NULL, NULL, &e) < 0)
                abort();
        if (placement_resilience_work(r) <= FUZZ_WORK_MAX && placement_resilience_run(r) == 0) {
                if (placement_report_table(r, &text) == 0)
                        free(text);
                if (placement_resilience_show(r, 0) < 0)
                        abort();
        }
        placement_resilience_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct placement_taskdef *td = NULL;
        struct placement_cluster *c = NULL;
        struct placement_error e = {};

        if (size > FUZZ_INPUT_MAX)
                return 0;
        if (placement_taskdef_parse(&td, (const char *)data, size, &e) < 0) {
                if (td || !e.message[0])
                        abort();
                return 0;
        }
        if (td->cpu < 0 || td->memory < 0 || !td->family)
                abort();
        if (td->arn && placement_taskdef_find(&td, 1, td->arn) != td)
                abort();
        if (td->arn && placement_cluster_new(&c) == 0 &&
            placement_cluster_load_instances(c, instances_json, strlen(instances_json), &e) == 0)
                analyse(td, c);
        placement_cluster_free(c);
        placement_taskdef_free(td);
        return 0;
}
