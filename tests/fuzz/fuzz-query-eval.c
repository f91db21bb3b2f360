/* fuzz-query-eval.c: libFuzzer target for the query evaluator over a small
 * fixed cluster (every subject present on some instance and missing on
 * another).  Checks that not(q) is the exact negation of q on every instance
 * and that evaluation never changes the cluster's answer between runs. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement-model.h"
#include "placement-query-eval.h"
#include "placement-query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char instances_json[] =
        "{\"containerInstances\": ["
        "{\"containerInstanceArn\": \"arn:aws:ecs:us-east-1:1:container-instance/c/1\","
        " \"ec2InstanceId\": \"i-00000001\", \"agentConnected\": true, \"status\": \"ACTIVE\","
        " \"versionInfo\": {\"agentVersion\": \"1.20.1\"}, \"runningTasksCount\": 2,"
        " \"registeredAt\": \"2018-02-10T09:00:00.123000+00:00\","
        " \"attributes\": [{\"name\": \"ecs.instance-type\", \"value\": \"c4.large\"},"
        "  {\"name\": \"ecs.availability-zone\", \"value\": \"us-east-1a\"},"
        "  {\"name\": \"weight\", \"value\": \"10\"}, {\"name\": \"flag\"}]},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:us-east-1:1:container-instance/c/2\","
        " \"ec2InstanceId\": \"i-abcd1234\", \"agentConnected\": false, \"status\": \"DRAINING\","
        " \"versionInfo\": {\"agentVersion\": \"1.9.0\"}, \"runningTasksCount\": 0,"
        " \"registeredAt\": 1517000000.5,"
        " \"attributes\": [{\"name\": \"ecs.instance-type\", \"value\": \"t2.small\"},"
        "  {\"name\": \"stack\", \"value\": \"prod\"}, {\"name\": \"weight\", \"value\": "
        "\"abc\"}]},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:us-east-1:1:container-instance/c/3\","
        " \"runningTasksCount\": 1, \"versionInfo\": {\"agentVersion\": \"weird\"}}]}";

static const char tasks_json[] =
        "{\"tasks\": ["
        "{\"containerInstanceArn\": \"arn:aws:ecs:us-east-1:1:container-instance/c/1\","
        " \"group\": \"service:cats\", \"desiredStatus\": \"RUNNING\"},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:us-east-1:1:container-instance/c/1\","
        " \"group\": \"database\", \"desiredStatus\": \"RUNNING\"},"
        "{\"containerInstanceArn\": \"arn:aws:ecs:us-east-1:1:container-instance/c/3\","
        " \"group\": \"service:cats\", \"desiredStatus\": \"STOPPED\"}]}";

static struct placement_cluster *cluster;

static void load_cluster(void) {
        struct placement_error e = {};

        if (placement_cluster_new(&cluster) < 0 ||
            placement_cluster_load_instances(cluster, instances_json, strlen(instances_json), &e) <
                    0 ||
            placement_cluster_load_tasks(cluster, tasks_json, strlen(tasks_json), &e) < 0) {
                fprintf(stderr, "fixture: %s\n", e.message);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct placement_query *q = NULL, *neg = NULL;
        struct placement_error e = {};
        char *canonical = NULL, *negated = NULL;
        size_t *sel = NULL, n = 0;

        if (!cluster)
                load_cluster();
        if (size > 4 * PLACEMENT_QUERY_MAX_LENGTH)
                return 0;
        if (placement_query_parse(&q, (const char *)data, size, &e) < 0)
                return 0;
        if (placement_query_format(q, &canonical) < 0 ||
            asprintf(&negated, "not(%s)", canonical) < 0)
                abort();
        /* The wrapper can push a query over the length or depth limit. */
        if (placement_query_parse(&neg, negated, strlen(negated), &e) == 0)
                for (size_t i = 0; i < cluster->n_instances; i++) {
                        int a = placement_query_eval(q, &cluster->instances[i]);
                        int b = placement_query_eval(neg, &cluster->instances[i]);
                        int a2 = placement_query_eval(q, &cluster->instances[i]);
                        if (a != a2)
                                abort(); /* evaluation must not depend on history */
                        if (a >= 0 && b >= 0 && a == b)
                                abort(); /* not(q) must negate q */
                }
        if (placement_query_filter(q, cluster, NULL, &sel, &n) == 0 && n > cluster->n_instances)
                abort();
        free(sel);
        free(canonical);
        free(negated);
        placement_query_free(neg);
        placement_query_free(q);
        return 0;
}
