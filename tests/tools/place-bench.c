/* place-bench.c: `make bench` for ecs-place (issue 5).  On 5,000 synthetic
 * container instances it times, in one process:
 *   filter  a typical compound expression, against a hand-written C loop
 *           computing the same set (goal: within 2x of that floor);
 *   run     1,000 tasks with spread(zone), spread(instance type),
 *           binpack(memory), against one linear scan of the instances per
 *           task (goal: within 3x);
 * checks that each pair agrees, and reports peak memory.  Exits non-zero
 * only when a result is wrong; missing a goal is reported, not fatal. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "placement-model.h"
#include "placement-query-eval.h"
#include "placement-query.h"
#include "placement-run.h"
#include "placement-taskdef.h"

#define N_INSTANCES 5000
#define N_TASKS_EXISTING 10000
#define N_RUN 1000
#define FILTER_REPEAT 50 /* filter passes timed; the best one counts */
#define RUN_REPEAT 3     /* runs timed, each on a fresh cluster; the best counts */

static const char *const zones[] = {"us-east-1a", "us-east-1b", "us-east-1d"};
static const char *const types[] = {"c5.large", "c5.xlarge", "m5.large", "m5.xlarge",
                                    "r5.large", "t3.medium", "c4.large", "g4dn.xlarge"};
static const char *const groups[] = {"service:web", "service:db", "family:batch", "service:api"};

static const char expression[] = "attribute:ecs.instance-type =~ 'c5\\..*' and "
                                 "attribute:ecs.availability-zone in [us-east-1a, us-east-1b] "
                                 "and not(task:group == service:db) and runningTasksCount < 20";

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t lcg(uint32_t *s) {
        *s = *s * 1664525u + 1013904223u;
        return *s >> 8;
}

/* The synthetic cluster, as describe-container-instances / describe-tasks JSON. */
static void make_json(char **instances, char **tasks) {
        size_t a = 0, b = 0;
        FILE *f = open_memstream(instances, &a), *g = open_memstream(tasks, &b);
        uint32_t s = 12345;

        fputs("{\"containerInstances\": [", f);
        for (int i = 0; i < N_INSTANCES; i++) {
                int vcpu = 2 << (lcg(&s) % 3);
                fprintf(f,
                        "%s{\"containerInstanceArn\": "
                        "\"arn:aws:ecs:us-east-1:123456789012:container-instance/bench/%08d\", "
                        "\"ec2InstanceId\": \"i-%08x\", \"status\": \"%s\", "
                        "\"agentConnected\": %s, \"versionInfo\": {\"agentVersion\": \"1.%d.0\"}, "
                        "\"runningTasksCount\": %u, \"registeredAt\": \"2024-01-%02dT00:00:00Z\", "
                        "\"remainingResources\": [{\"name\": \"CPU\", \"integerValue\": %d}, "
                        "{\"name\": \"MEMORY\", \"integerValue\": %u}, {\"name\": \"PORTS\", "
                        "\"stringSetValue\": [\"22\", \"2375\", \"2376\", \"51678\"]}, "
                        "{\"name\": \"PORTS_UDP\", \"stringSetValue\": []}], "
                        "\"attributes\": [{\"name\": \"ecs.capability.secrets.asm\"}, "
                        "{\"name\": \"com.amazonaws.ecs.capability.docker-remote-api.1.17\"}, "
                        "{\"name\": \"ecs.ami-id\", \"value\": \"ami-0123456789\"}, "
                        "{\"name\": \"ecs.os-type\", \"value\": \"linux\"}, "
                        "{\"name\": \"ecs.cpu-architecture\", \"value\": \"x86_64\"}, "
                        "{\"name\": \"ecs.instance-type\", \"value\": \"%s\"}, "
                        "{\"name\": \"ecs.availability-zone\", \"value\": \"%s\"}, "
                        "{\"name\": \"stack\", \"value\": \"%s\"}]}",
                        i ? ", " : "", i, (unsigned)i, i % 97 == 0 ? "DRAINING" : "ACTIVE",
                        i % 101 == 0 ? "false" : "true", 20 + (int)(lcg(&s) % 60), lcg(&s) % 40,
                        1 + (int)(lcg(&s) % 28), vcpu * 1024, vcpu * 1800 + lcg(&s) % 4000,
                        types[lcg(&s) % 8], zones[i % 3], lcg(&s) % 2 ? "prod" : "dev");
        }
        fputs("]}", f);
        fputs("{\"tasks\": [", g);
        for (int t = 0; t < N_TASKS_EXISTING; t++)
                fprintf(g,
                        "%s{\"containerInstanceArn\": "
                        "\"arn:aws:ecs:us-east-1:123456789012:container-instance/bench/%08u\", "
                        "\"group\": \"%s\", \"desiredStatus\": \"%s\"}",
                        t ? ", " : "", lcg(&s) % N_INSTANCES, groups[lcg(&s) % 4],
                        t % 10 == 0 ? "STOPPED" : "RUNNING");
        fputs("]}", g);
        fclose(f);
        fclose(g);
}

static struct placement_cluster *load(const char *instances, const char *tasks) {
        struct placement_cluster *c = NULL;
        struct placement_error e = {};

        if (placement_cluster_new(&c) < 0 ||
            placement_cluster_load_instances(c, instances, strlen(instances), &e) < 0 ||
            placement_cluster_load_tasks(c, tasks, strlen(tasks), &e) < 0) {
                fprintf(stderr, "load: %s\n", e.message);
                exit(2);
        }
        return c;
}

static const char *attr(const struct placement_instance *ci, const char *name) {
        for (size_t i = 0; i < ci->n_attributes; i++)
                if (strcmp(ci->attributes[i].name, name) == 0)
                        return ci->attributes[i].value ? ci->attributes[i].value : "";
        return NULL;
}

/* The floor for the filter: the same set by hand, no parsing, no regex. */
static size_t hand_filter(const struct placement_cluster *c, size_t *out) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_instances; i++) {
                const struct placement_instance *ci = &c->instances[i];
                const char *type, *zone;
                bool db = false;

                if (strcmp(ci->status, "INACTIVE") == 0)
                        continue;
                type = attr(ci, "ecs.instance-type");
                if (!type || strncmp(type, "c5.", 3) != 0)
                        continue;
                zone = attr(ci, "ecs.availability-zone");
                if (!zone || (strcmp(zone, "us-east-1a") != 0 && strcmp(zone, "us-east-1b") != 0))
                        continue;
                for (size_t g = 0; g < ci->n_groups; g++)
                        db |= strcmp(ci->groups[g].group, "service:db") == 0;
                if (db || ci->running_tasks_count >= 20)
                        continue;
                out[n++] = i;
        }
        return n;
}

/* The floor for run: one linear scan per task, keeping the instance with the
 * least memory that fits. */
static void hand_run(struct placement_cluster *c, int64_t cpu, int64_t memory, long *out) {
        bool *ok = malloc(c->n_instances * sizeof(bool));

        /* Status does not change during a run: a good loop judges it once. */
        for (size_t i = 0; i < c->n_instances; i++)
                ok[i] = c->instances[i].agent_connected &&
                        strcmp(c->instances[i].status, "ACTIVE") == 0;
        for (int t = 0; t < N_RUN; t++) {
                long best = -1;
                for (size_t i = 0; i < c->n_instances; i++) {
                        const struct placement_instance *ci = &c->instances[i];
                        if (!ok[i] || ci->remaining.cpu < cpu || ci->remaining.memory < memory)
                                continue;
                        if (best < 0 || ci->remaining.memory < c->instances[best].remaining.memory)
                                best = (long)i;
                }
                out[t] = best;
                if (best >= 0) {
                        c->instances[best].remaining.cpu -= cpu;
                        c->instances[best].remaining.memory -= memory;
                }
        }
        free(ok);
}

int main(void) {
        char *instances = NULL, *tasks = NULL;
        struct placement_query *q = NULL;
        struct placement_error e = {};
        struct placement_taskdef *td = NULL;
        static const char tdjson[] = "{\"family\": \"bench\", \"containerDefinitions\": "
                                     "[{\"name\": \"b\", \"cpu\": 128, \"memory\": 256}]}";
        size_t *lib = malloc(N_INSTANCES * sizeof(size_t)),
               *hand = malloc(N_INSTANCES * sizeof(size_t));
        size_t n_lib = 0, n_hand = 0;
        double t0, best_lib = 1e9, best_hand = 1e9, load_time;
        long hand_placed[N_RUN];
        int wrong = 0;
        struct rusage ru;

        make_json(&instances, &tasks);
        t0 = now();
        struct placement_cluster *c = load(instances, tasks);
        load_time = now() - t0;
        printf("cluster: %d instances, %d tasks, %.1f MiB of JSON, loaded in %.1f ms\n",
               N_INSTANCES, N_TASKS_EXISTING, (double)(strlen(instances) + strlen(tasks)) / 1048576,
               load_time * 1e3);

        if (placement_query_parse(&q, expression, strlen(expression), &e) < 0) {
                fprintf(stderr, "parse: %s\n", e.message);
                return 2;
        }
        for (int k = 0; k < FILTER_REPEAT; k++) {
                size_t *sel = NULL;
                t0 = now();
                placement_query_filter(q, c, NULL, &sel, &n_lib);
                double dt = now() - t0;
                if (dt < best_lib)
                        best_lib = dt;
                memcpy(lib, sel, n_lib * sizeof(size_t));
                free(sel);
                t0 = now();
                n_hand = hand_filter(c, hand);
                dt = now() - t0;
                if (dt < best_hand)
                        best_hand = dt;
        }
        if (n_lib != n_hand || memcmp(lib, hand, n_lib * sizeof(size_t)) != 0) {
                printf("filter: WRONG: library selected %zu, hand loop %zu\n", n_lib, n_hand);
                wrong = 1;
        }
        printf("filter: %zu of %d selected; library %.3f ms, hand loop %.3f ms: %.2fx (goal <= 2x: "
               "%s)\n",
               n_lib, N_INSTANCES, best_lib * 1e3, best_hand * 1e3, best_lib / best_hand,
               best_lib / best_hand <= 2 ? "met" : "missed");

        if (placement_taskdef_parse(&td, tdjson, strlen(tdjson), &e) < 0)
                return 2;
        best_lib = best_hand = 1e9;
        for (int k = 0; k < RUN_REPEAT; k++) {
                struct placement_cluster *c1 = load(instances, tasks), *c2 = load(instances, tasks);
                struct placement_request req = {.taskdef = td, .count = N_RUN, .seed = 1};
                struct placement_result *res = NULL;
                size_t placed = 0;

                if (placement_request_add_strategies(
                            &req, "type=spread,field=attribute:ecs.availability-zone", &e) < 0 ||
                    placement_request_add_strategies(
                            &req, "type=spread,field=attribute:ecs.instance-type", &e) < 0 ||
                    placement_request_add_strategies(&req, "type=binpack,field=memory", &e) < 0 ||
                    placement_request_validate(&req, NULL, &e) < 0)
                        return 2;
                t0 = now();
                if (placement_run(c1, &req, &res) < 0)
                        return 2;
                double dt = now() - t0;
                if (dt < best_lib)
                        best_lib = dt;
                t0 = now();
                hand_run(c2, td->cpu, td->memory, hand_placed);
                dt = now() - t0;
                if (dt < best_hand)
                        best_hand = dt;
                for (size_t t = 0; t < res->n_tasks; t++)
                        placed += res->tasks[t].instance >= 0;
                if (placed != N_RUN) {
                        printf("run: WRONG: placed %zu of %d\n", placed, N_RUN);
                        wrong = 1;
                }
                if (k == 0)
                        printf("run: %zu of %d placed; ", placed, N_RUN);
                placement_result_free(res);
                placement_request_done(&req);
                placement_cluster_free(c1);
                placement_cluster_free(c2);
        }
        printf("library %.2f ms, one scan per task %.2f ms: %.2fx (goal <= 3x: %s)\n",
               best_lib * 1e3, best_hand * 1e3, best_lib / best_hand,
               best_lib / best_hand <= 3 ? "met" : "missed");

        getrusage(RUSAGE_SELF, &ru);
        printf("peak memory: %.1f MiB (three clusters loaded at once, plus the JSON)\n",
               (double)ru.ru_maxrss / 1024);
        placement_taskdef_free(td);
        placement_query_free(q);
        placement_cluster_free(c);
        free(lib);
        free(hand);
        free(instances);
        free(tasks);
        return wrong;
}
