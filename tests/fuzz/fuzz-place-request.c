/* fuzz-place-request.c: libFuzzer target for the other inputs of
 * `ecs-place run`: the task definition JSON and the constraint / strategy
 * arguments (shorthand or JSON).  The first byte picks the parser; a task
 * definition that parses is also run on a two-instance cluster. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "placement-model.h"
#include "placement-run.h"
#include "placement-taskdef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char instances_json[] =
        "{\"containerInstances\": ["
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/1\","
        " \"remainingResources\": [{\"name\": \"CPU\", \"integerValue\": 2048},"
        "  {\"name\": \"MEMORY\", \"integerValue\": 4096},"
        "  {\"name\": \"PORTS\", \"stringSetValue\": [\"22\"]}],"
        " \"attributes\": [{\"name\": \"ecs.availability-zone\", \"value\": \"a\"}]},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:r:1:container-instance/c/2\","
        " \"attributes\": [{\"name\": \"stack\"}]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct placement_request req = {.count = 3, .seed = 1};
        struct placement_error e = {};
        const char *expression = NULL;
        char *text;

        if (size < 1 || size > 8192)
                return 0;
        text = strndup((const char *)data + 1, size - 1);
        if (!text)
                return 0;
        if (data[0] % 3 == 0) {
                struct placement_taskdef *td = NULL;
                struct placement_cluster *c = NULL;
                struct placement_result *res = NULL;

                if (placement_taskdef_parse(&td, (const char *)data + 1, size - 1, &e) == 0 &&
                    placement_cluster_new(&c) == 0 &&
                    placement_cluster_load_instances(c, instances_json, strlen(instances_json),
                                                     &e) == 0) {
                        req.taskdef = td;
                        placement_request_add_strategies(&req, "type=binpack,field=memory", &e);
                        if (placement_request_validate(&req, &expression, &e) == 0 &&
                            placement_run(c, &req, &res) == 0) {
                                if (res->n_tasks != req.count)
                                        abort();
                                placement_result_free(res);
                        }
                }
                placement_cluster_free(c);
                placement_taskdef_free(td);
        } else if (data[0] % 3 == 1) {
                if (placement_request_add_constraints(&req, text, &expression, &e) < 0 &&
                    !e.message[0])
                        abort();
        } else if (placement_request_add_strategies(&req, text, &e) < 0 && !e.message[0])
                abort();
        placement_request_done(&req);
        free(text);
        return 0;
}
