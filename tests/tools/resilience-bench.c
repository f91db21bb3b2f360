/* resilience-bench.c: `make bench` for `ecs-place resilience` (issue 14).
 * On 5,000 synthetic container instances (3 zones x 10 instance types = 30
 * Spot pools) running 200 services at their desired count, it times the
 * loss of each zone and each pool: the library (the service scheduler's
 * placement of every displaced task, with each service's constraints and
 * strategies) against the floor `run` is measured by, one linear scan of the
 * instances per task (least memory that fits, nothing else), done for the
 * same failures and the same displaced tasks.  Goal: within 3x.  It checks
 * that both see the same displaced tasks and place them all, and reports
 * peak memory (ru_maxrss).  Exits non-zero only when a result is wrong. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "placement-model.h"
#include "placement-resilience.h"
#include "placement-services.h"
#include "placement-taskdef.h"

#define N_INSTANCES 5000
#define N_SERVICES 200
#define N_FAMILIES 10
#define REPEAT 3 /* timed passes of each; the best counts */

static const char *const zones[] = {"us-east-1a", "us-east-1b", "us-east-1d"};
static const char *const types[] = {"c5.large",  "c5.xlarge",  "m5.large",  "m5.xlarge",
                                    "r5.large",  "r5.xlarge",  "c6g.large", "m6g.large",
                                    "t3.medium", "g4dn.xlarge"};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

/* Per family: CPU units and MiB per task. */
static const int family_cpu[N_FAMILIES] = {128, 256, 256, 512, 128, 256, 512, 1024, 128, 256};
static const int family_mem[N_FAMILIES] = {256, 512, 1024, 1024, 128, 768, 2048, 2048, 512, 256};

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t lcg(uint32_t *s) {
        *s = *s * 1664525u + 1013904223u;
        return *s >> 8;
}

/* Each service's placement, as describe-services would give it: a mix of the
 * default, spread and binpack, a memberOf on an instance family, and a few
 * distinctInstance ones with fewer tasks than instances. */
static void service_placement(FILE *f, int s) {
        switch (s % 5) {
        case 0: /* the service default: spread by zone, then instance */
                fputs("\"placementConstraints\": [], \"placementStrategy\": []", f);
                break;
        case 1:
                fputs("\"placementConstraints\": [], \"placementStrategy\": ["
                      "{\"type\": \"spread\", \"field\": \"attribute:ecs.availability-zone\"}, "
                      "{\"type\": \"binpack\", \"field\": \"memory\"}]",
                      f);
                break;
        case 2:
                fputs("\"placementConstraints\": [{\"type\": \"memberOf\", \"expression\": "
                      "\"attribute:ecs.instance-type =~ '[cm]5\\\\..*'\"}], "
                      "\"placementStrategy\": [{\"type\": \"spread\", \"field\": "
                      "\"attribute:ecs.availability-zone\"}, {\"type\": \"spread\", \"field\": "
                      "\"attribute:ecs.instance-type\"}, {\"type\": \"binpack\", \"field\": "
                      "\"memory\"}]",
                      f);
                break;
        case 3:
                fputs("\"placementConstraints\": [{\"type\": \"distinctInstance\"}], "
                      "\"placementStrategy\": [{\"type\": \"spread\", \"field\": "
                      "\"attribute:ecs.availability-zone\"}]",
                      f);
                break;
        default:
                fputs("\"placementConstraints\": [], \"placementStrategy\": ["
                      "{\"type\": \"binpack\", \"field\": \"cpu\"}]",
                      f);
        }
}

struct bench_json {
        char *instances, *tasks, *services, *taskdefs[N_FAMILIES];
        size_t n_tasks;
};

static bool allowed(int s, int type) {
        /* memberOf of case 2: c5.* and m5.* */
        return s % 5 != 2 || strncmp(types[type], "c5.", 3) == 0 ||
               strncmp(types[type], "m5.", 3) == 0;
}

/* The cluster, its tasks and services, placed so that everything fits:
 * each service's tasks on instances (distinct ones for all services, so
 * distinctInstance holds) with room, charged to remainingResources. */
static void make_json(struct bench_json *j) {
        static int cpu_left[N_INSTANCES], mem_left[N_INSTANCES], cpu_reg[N_INSTANCES],
                mem_reg[N_INSTANCES], type_of[N_INSTANCES];
        static unsigned char used_by[N_INSTANCES]; /* last service + 1 placed there (mod 256) */
        size_t a = 0, b = 0, c = 0;
        FILE *fi = open_memstream(&j->instances, &a), *ft = open_memstream(&j->tasks, &b),
             *fs = open_memstream(&j->services, &c);
        uint32_t s = 4242;

        for (int i = 0; i < N_INSTANCES; i++) {
                int vcpu = 2 << (lcg(&s) % 3);
                type_of[i] = (int)(lcg(&s) % N_TYPES);
                cpu_reg[i] = cpu_left[i] = vcpu * 1024;
                mem_reg[i] = mem_left[i] = vcpu * 3800;
        }
        fputs("{\"tasks\": [", ft);
        fputs("{\"services\": [", fs);
        j->n_tasks = 0;
        for (int sv = 0; sv < N_SERVICES; sv++) {
                int fam = sv % N_FAMILIES, desired = 20 + (sv * 7) % 41;
                for (int t = 0; t < desired; t++) {
                        int i;
                        do /* a random instance with room (and not this service's yet) */
                                i = (int)(lcg(&s) % N_INSTANCES);
                        while (i % 97 == 0 || i % 101 == 0 || !allowed(sv, type_of[i]) ||
                               used_by[i] == (unsigned char)(sv + 1) ||
                               cpu_left[i] < family_cpu[fam] || mem_left[i] < family_mem[fam]);
                        used_by[i] = (unsigned char)(sv + 1);
                        cpu_left[i] -= family_cpu[fam];
                        mem_left[i] -= family_mem[fam];
                        fprintf(ft,
                                "%s{\"containerInstanceArn\": "
                                "\"arn:aws:ecs:us-east-1:123456789012:container-instance/bench/"
                                "%08d\", \"group\": \"service:svc%03d\", \"desiredStatus\": "
                                "\"RUNNING\"}",
                                j->n_tasks++ ? ", " : "", i, sv);
                }
                fprintf(fs,
                        "%s{\"serviceName\": \"svc%03d\", \"status\": \"ACTIVE\", "
                        "\"desiredCount\": %d, \"launchType\": \"EC2\", \"taskDefinition\": "
                        "\"arn:aws:ecs:us-east-1:123456789012:task-definition/fam%d:1\", ",
                        sv ? ", " : "", sv, desired, fam);
                service_placement(fs, sv);
                fputs("}", fs);
        }
        fputs("]}", ft);
        fputs("]}", fs);
        fputs("{\"containerInstances\": [", fi);
        for (int i = 0; i < N_INSTANCES; i++)
                fprintf(fi,
                        "%s{\"containerInstanceArn\": "
                        "\"arn:aws:ecs:us-east-1:123456789012:container-instance/bench/%08d\", "
                        "\"ec2InstanceId\": \"i-%08x\", \"status\": \"%s\", \"agentConnected\": "
                        "%s, \"remainingResources\": [{\"name\": \"CPU\", \"integerValue\": %d}, "
                        "{\"name\": \"MEMORY\", \"integerValue\": %d}, {\"name\": \"PORTS\", "
                        "\"stringSetValue\": [\"22\", \"2375\", \"2376\", \"51678\"]}], "
                        "\"registeredResources\": [{\"name\": \"CPU\", \"integerValue\": %d}, "
                        "{\"name\": \"MEMORY\", \"integerValue\": %d}], "
                        "\"attributes\": [{\"name\": \"ecs.os-type\", \"value\": \"linux\"}, "
                        "{\"name\": \"ecs.instance-type\", \"value\": \"%s\"}, "
                        "{\"name\": \"ecs.availability-zone\", \"value\": \"%s\"}]}",
                        i ? ", " : "", i, (unsigned)i, i % 97 == 0 ? "DRAINING" : "ACTIVE",
                        i % 101 == 0 ? "false" : "true", cpu_left[i], mem_left[i], cpu_reg[i],
                        mem_reg[i], types[type_of[i]], zones[i % 3]);
        fputs("]}", fi);
        fclose(fi);
        fclose(ft);
        fclose(fs);
        for (int f = 0; f < N_FAMILIES; f++)
                if (asprintf(&j->taskdefs[f],
                             "{\"taskDefinition\": {\"taskDefinitionArn\": "
                             "\"arn:aws:ecs:us-east-1:123456789012:task-definition/fam%d:1\", "
                             "\"family\": \"fam%d\", \"revision\": 1, \"containerDefinitions\": "
                             "[{\"name\": \"c\", \"cpu\": %d, \"memory\": %d}]}}",
                             f, f, family_cpu[f], family_mem[f]) < 0)
                        exit(2);
}

static void fail(const char *what, const struct placement_error *e) {
        fprintf(stderr, "resilience-bench: %s: %s\n", what, e->message);
        exit(2);
}

static struct placement_cluster *load(const struct bench_json *j) {
        struct placement_cluster *c = NULL;
        struct placement_error e = {};

        if (placement_cluster_new(&c) < 0 ||
            placement_cluster_load_instances(c, j->instances, strlen(j->instances), &e) < 0 ||
            placement_cluster_load_tasks(c, j->tasks, strlen(j->tasks), &e) < 0)
                fail("load", &e);
        return c;
}

/* What the floor places, per failure: the tasks on the lost instances. */
struct floor_task {
        int64_t cpu, memory;
};

/* One task by one linear scan: the usable instance left with the least
 * memory that fits; -1 for none. */
static long floor_place(struct placement_cluster *c, const bool *usable,
                        const struct floor_task *t) {
        long best = -1;

        for (size_t i = 0; i < c->n_instances; i++) {
                const struct placement_instance *ci = &c->instances[i];
                if (!usable[i] || ci->remaining.cpu < t->cpu || ci->remaining.memory < t->memory)
                        continue;
                if (best < 0 || ci->remaining.memory < c->instances[best].remaining.memory)
                        best = (long)i;
        }
        if (best >= 0) {
                c->instances[best].remaining.cpu -= t->cpu;
                c->instances[best].remaining.memory -= t->memory;
        }
        return best;
}

struct floor_placed {
        long instance;
        const struct floor_task *task;
};

/* The floor: for each failure, the tasks on its lost instances, each placed
 * by floor_place() on the usable instances left, then given back.  Returns
 * the tasks placed; *displaced the tasks it had to place. */
static size_t floor_run(struct placement_cluster *c, const struct placement_resilience *r,
                        const struct floor_task *per_group, size_t *displaced) {
        bool *usable = malloc(c->n_instances * sizeof(bool));
        struct floor_placed *took = malloc(sizeof(*took) * (c->n_tasks + 1));
        size_t placed = 0;

        *displaced = 0;
        for (size_t f = 0; f < r->n_failures; f++) {
                const struct placement_failure *fl = &r->failures[f];
                size_t n_took = 0;

                /* Status does not change: a good loop judges it once per failure. */
                for (size_t i = 0; i < c->n_instances; i++)
                        usable[i] = c->instances[i].agent_connected &&
                                    strcmp(c->instances[i].status, "ACTIVE") == 0;
                for (size_t l = 0; l < fl->n_lost; l++)
                        usable[fl->lost[l]] = false;
                for (size_t l = 0; l < fl->n_lost; l++) {
                        const struct placement_instance *gone = &c->instances[fl->lost[l]];
                        for (size_t g = 0; g < gone->n_groups; g++) {
                                /* "service:svcNNN" */
                                const struct floor_task *t =
                                        &per_group[strtol(gone->groups[g].group + 11, NULL, 10)];
                                for (unsigned k = 0; k < gone->groups[g].count; k++) {
                                        long i = floor_place(c, usable, t);
                                        (*displaced)++;
                                        if (i >= 0)
                                                took[n_took++] = (struct floor_placed){i, t};
                                }
                        }
                }
                placed += n_took;
                for (size_t k = 0; k < n_took; k++) {
                        c->instances[took[k].instance].remaining.cpu += took[k].task->cpu;
                        c->instances[took[k].instance].remaining.memory += took[k].task->memory;
                }
        }
        free(usable);
        free(took);
        return placed;
}

int main(void) {
        struct bench_json j = {};
        struct placement_taskdef *tds[N_FAMILIES] = {};
        struct placement_services *services = NULL;
        struct floor_task per_group[N_SERVICES];
        struct placement_error e = {};
        double t0, best_lib = 1e9, best_floor = 1e9;
        uint64_t lib_displaced = 0, lib_placed = 0, lib_short = 0;
        size_t floor_placed = 0, floor_displaced = 0, n_failures = 0;
        int wrong = 0;
        struct rusage ru;

        make_json(&j);
        if (placement_services_new(&services) < 0 ||
            placement_services_load(services, j.services, strlen(j.services), &e) < 0)
                fail("services", &e);
        for (int f = 0; f < N_FAMILIES; f++)
                if (placement_taskdef_parse(&tds[f], j.taskdefs[f], strlen(j.taskdefs[f]), &e) < 0)
                        fail("task definition", &e);
        for (int s = 0; s < N_SERVICES; s++)
                per_group[s] =
                        (struct floor_task){family_cpu[s % N_FAMILIES], family_mem[s % N_FAMILIES]};
        printf("cluster: %d instances, %zu tasks of %d services, %zu failures to simulate "
               "(%zu zones, %zu pools)\n",
               N_INSTANCES, j.n_tasks, N_SERVICES, sizeof(zones) / sizeof(zones[0]) * (1 + N_TYPES),
               sizeof(zones) / sizeof(zones[0]), sizeof(zones) / sizeof(zones[0]) * N_TYPES);

        for (int k = 0; k < REPEAT; k++) {
                struct placement_cluster *c1 = load(&j), *c2 = load(&j);
                struct placement_resilience *r = NULL;
                double dt;

                if (placement_resilience_new(&r, c1, services, tds, N_FAMILIES, 1, &e) < 0 ||
                    placement_resilience_add(r, PLACEMENT_LOSE_ZONE, NULL, NULL, &e) < 0 ||
                    placement_resilience_add(r, PLACEMENT_LOSE_POOL, NULL, NULL, &e) < 0)
                        fail("resilience", &e);
                t0 = now();
                if (placement_resilience_run(r) < 0) {
                        fprintf(stderr, "resilience-bench: run failed\n");
                        return 2;
                }
                dt = now() - t0;
                if (dt < best_lib)
                        best_lib = dt;
                lib_displaced = lib_placed = lib_short = 0;
                for (size_t f = 0; f < r->n_failures; f++)
                        for (size_t o = 0; o < r->failures[f].n_outcomes; o++) {
                                lib_displaced += r->failures[f].outcomes[o].displaced;
                                lib_placed += r->failures[f].outcomes[o].n_placed;
                                lib_short += r->failures[f].outcomes[o].short_tasks;
                        }
                n_failures = r->n_failures;

                t0 = now();
                floor_placed = floor_run(c2, r, per_group, &floor_displaced);
                dt = now() - t0;
                if (dt < best_floor)
                        best_floor = dt;
                if (r->baseline.n_outcomes != 0) {
                        printf("resilience: WRONG: the baseline placed tasks (every service is "
                               "at its desired count)\n");
                        wrong = 1;
                }
                placement_resilience_free(r);
                placement_cluster_free(c1);
                placement_cluster_free(c2);
        }
        if (n_failures != 33 || lib_displaced != floor_displaced ||
            lib_placed + lib_short != lib_displaced) {
                printf("resilience: WRONG: %zu failures; library displaced %llu (placed %llu, "
                       "short %llu), floor %zu\n",
                       n_failures, (unsigned long long)lib_displaced,
                       (unsigned long long)lib_placed, (unsigned long long)lib_short,
                       floor_displaced);
                wrong = 1;
        }
        printf("resilience: %zu failures, %llu tasks displaced in all; library placed %llu, "
               "%llu short; one scan per task placed %zu\n",
               n_failures, (unsigned long long)lib_displaced, (unsigned long long)lib_placed,
               (unsigned long long)lib_short, floor_placed);
        printf("resilience: library %.1f ms, one scan per task %.1f ms: %.2fx (goal <= 3x: %s)\n",
               best_lib * 1e3, best_floor * 1e3, best_lib / best_floor,
               best_lib / best_floor <= 3 ? "met" : "missed");
        getrusage(RUSAGE_SELF, &ru);
        printf("peak memory: %.1f MiB (the JSON, the services, two clusters loaded at once)\n",
               (double)ru.ru_maxrss / 1024);
        for (int f = 0; f < N_FAMILIES; f++) {
                placement_taskdef_free(tds[f]);
                free(j.taskdefs[f]);
        }
        placement_services_free(services);
        free(j.instances);
        free(j.tasks);
        free(j.services);
        return wrong;
}
