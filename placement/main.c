/* main.c: ecs-place, the offline ECS placement evaluator.  It reads what the
 * AWS CLI prints, calls the pure placement library and is the only place that
 * prints: results on stdout, errors on stderr.  Exit status: 0 done, 1 bad
 * input file, 2 bad usage or a bad expression. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "placement-error.h"
#include "placement-model.h"
#include "placement-query-eval.h"
#include "placement-query.h"
#include "placement-run.h"
#include "placement-taskdef.h"

#define INPUT_MAX (256u << 20) /* bytes: refuse input files larger than 256 MiB */

#define streq(a, b) (strcmp((a), (b)) == 0)

#define EXIT_INPUT 1
#define EXIT_USAGE 2

enum output {
        OUTPUT_JSON,
        OUTPUT_TEXT,
        OUTPUT_TABLE,
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_query *, placement_query_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_cluster *, placement_cluster_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, placement_query_strv_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_taskdef *, placement_taskdef_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_result *, placement_result_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static void usage(FILE *f) {
        fputs("Usage:\n"
              "  ecs-place check EXPRESSION\n"
              "  ecs-place filter --instances FILE [--tasks FILE] [--status STATUS]\n"
              "                   [--output json|text|table] EXPRESSION\n"
              "  ecs-place run --instances FILE [--tasks FILE] --task-definition FILE\n"
              "                [--count N] [--group G] [--placement-constraints C...]\n"
              "                [--placement-strategy S...] [--launch-type EC2|FARGATE]\n"
              "                [--seed N] [--explain] [--output json|table]\n"
              "  ecs-place service --instances FILE [--tasks FILE] --task-definition FILE\n"
              "                --service-name S --desired-count N [as run]\n"
              "\n"
              "check   parse a cluster query expression and print its canonical form\n"
              "filter  print the container instances the expression selects, as\n"
              "        `aws ecs list-container-instances --filter` would\n"
              "run     place tasks as RunTask would and print RunTask's response\n"
              "service place a service's missing tasks as the service scheduler would\n"
              "\n"
              "FILE is the JSON printed by `aws ecs describe-container-instances` (--instances)\n"
              "or `aws ecs describe-tasks` (--tasks); `-` reads standard input.\n",
              f);
}

/* Read a whole file ("-": stdin) into a NUL-terminated buffer. */
static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *owned = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;
        FILE *f;

        if (streq_ptr(path, "-"))
                f = stdin;
        else {
                owned = fopen(path, "re");
                if (!owned)
                        return -errno;
                f = owned;
        }
        for (;;) {
                size_t n;
                if (len + 1 >= size) {
                        char *grown;
                        if (size >= INPUT_MAX)
                                return -EFBIG;
                        size = size ? size * 2 : 65536;
                        grown = realloc(buf, size);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                }
                n = fread(buf + len, 1, size - len - 1, f);
                len += n;
                if (n == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Print an expression error: "error: column N: ...", the line, the caret. */
static void print_expression_error(const struct placement_error *e, const char *expr) {
        _cleanup_free_ char *text = NULL;

        if (placement_error_render(e, expr, strlen(expr), &text) < 0)
                fprintf(stderr, "error: %s\n", e->message);
        else
                fprintf(stderr, "error: %s", text);
}

static int load(struct placement_cluster *c, const char *path, bool tasks) {
        _cleanup_free_ char *text = NULL;
        struct placement_error e = {};
        size_t len = 0;
        int r;

        r = read_file(path, &text, &len);
        if (r < 0) {
                fprintf(stderr, "error: %s: %s\n", path,
                        r == -EFBIG ? "file too large" : strerror(-r));
                return r;
        }
        r = tasks ? placement_cluster_load_tasks(c, text, len, &e)
                  : placement_cluster_load_instances(c, text, len, &e);
        if (r < 0) {
                if (e.line > 0)
                        fprintf(stderr, "error: %s:%u:%u: %s\n", path, e.line, e.column, e.message);
                else
                        fprintf(stderr, "error: %s: %s\n", path, e.message);
        }
        return r;
}

static int parse_expression(const char *expr, struct placement_query **ret) {
        struct placement_error e = {};
        int r;

        r = placement_query_parse(ret, expr, strlen(expr), &e);
        if (r < 0)
                print_expression_error(&e, expr);
        return r;
}

static int cmd_check(int argc, char **argv) {
        _cleanup_(placement_query_freep) struct placement_query *q = NULL;
        _cleanup_free_ char *canonical = NULL;

        if (argc != 2) {
                fprintf(stderr, "error: check takes one EXPRESSION\n");
                return EXIT_USAGE;
        }
        if (parse_expression(argv[1], &q) < 0)
                return EXIT_USAGE;
        if (placement_query_format(q, &canonical) < 0) {
                fprintf(stderr, "error: out of memory\n");
                return EXIT_INPUT;
        }
        printf("%s\n", canonical);
        return 0;
}

static void print_json_string(const char *s) {
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

/* The value a table cell shows for one subject of one instance. */
static char *cell(const struct placement_instance *ci, const char *subject) {
        char *s = NULL;

        if (strncmp(subject, "attribute:", 10) == 0) {
                const struct placement_attribute *a =
                        placement_instance_attribute(ci, subject + 10);
                return strdup(!a ? "-" : a->value ? a->value : "(no value)");
        }
        if (streq(subject, "agentConnected"))
                return strdup(ci->agent_connected ? "true" : "false");
        if (streq(subject, "agentVersion"))
                return strdup(ci->agent_version ? ci->agent_version : "-");
        if (streq(subject, "ec2InstanceId"))
                return strdup(ci->ec2_instance_id ? ci->ec2_instance_id : "-");
        if (streq(subject, "runningTasksCount"))
                return asprintf(&s, "%lld", (long long)ci->running_tasks_count) < 0 ? NULL : s;
        if (streq(subject, "registeredAt")) {
                time_t t = (time_t)(ci->registered_at / 1000000);
                struct tm tm;
                char buf[64];
                if (!ci->has_registered_at || !gmtime_r(&t, &tm))
                        return strdup("-");
                strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
                return strdup(buf);
        }
        if (streq(subject, "task:group")) {
                size_t size = 0;
                FILE *f = open_memstream(&s, &size);
                if (!f)
                        return NULL;
                for (size_t i = 0; i < ci->n_groups; i++)
                        fprintf(f, "%s%s(%u)", i ? "," : "", ci->groups[i].group,
                                ci->groups[i].count);
                if (ci->n_groups == 0)
                        fputc('-', f);
                fclose(f);
                return s;
        }
        return strdup("?");
}

static int print_table(const struct placement_cluster *c, const struct placement_query *q,
                       const size_t *sel, size_t n, size_t considered) {
        _cleanup_(placement_query_strv_freep) char **subjects = NULL;
        static const char *const fixed[] = {"CONTAINER INSTANCE", "EC2 INSTANCE", "ZONE", "TYPE"};
        const char **headers;
        char **cells;
        size_t ncol = ELEMENTSOF(fixed), *width;
        int r;

        r = placement_query_subjects(q, &subjects);
        if (r < 0)
                return r;
        for (char **s = subjects; *s; s++)
                ncol++;
        headers = calloc(ncol, sizeof(*headers));
        width = calloc(ncol, sizeof(*width));
        cells = calloc((n + 1) * ncol, sizeof(*cells));
        if (!headers || !width || !cells) {
                free(headers);
                free(width);
                free(cells);
                return -ENOMEM;
        }
        ncol = 0;
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                headers[ncol++] = fixed[i];
        for (char **s = subjects; *s; s++)
                /* The fixed columns already show these. */
                if (!streq(*s, "attribute:ecs.availability-zone") &&
                    !streq(*s, "attribute:ecs.instance-type") && !streq(*s, "ec2InstanceId"))
                        headers[ncol++] = *s;

        for (size_t row = 0; row < n; row++) {
                const struct placement_instance *ci = &c->instances[sel[row]];
                char **line = cells + row * ncol;
                line[0] = strdup(placement_instance_short_id(ci));
                line[1] = cell(ci, "ec2InstanceId");
                line[2] = cell(ci, "attribute:ecs.availability-zone");
                line[3] = cell(ci, "attribute:ecs.instance-type");
                for (size_t k = ELEMENTSOF(fixed); k < ncol; k++)
                        line[k] = cell(ci, headers[k]);
        }
        for (size_t k = 0; k < ncol; k++) {
                width[k] = strlen(headers[k]);
                for (size_t row = 0; row < n; row++) {
                        const char *v = cells[row * ncol + k];
                        if (v && strlen(v) > width[k])
                                width[k] = strlen(v);
                }
        }
        for (size_t row = 0; row <= n; row++) {
                for (size_t k = 0; k < ncol; k++) {
                        const char *v = row == 0 ? headers[k] : cells[(row - 1) * ncol + k];
                        if (k + 1 < ncol)
                                printf("%-*s  ", (int)width[k], v ? v : "?");
                        else
                                printf("%s\n", v ? v : "?");
                }
        }
        printf("%zu of %zu container instances match\n", n, considered);
        for (size_t i = 0; i < n * ncol; i++)
                free(cells[i]);
        free(cells);
        free(width);
        free(headers);
        return 0;
}

static int cmd_filter(int argc, char **argv) {
        static const struct option options[] = {
                {"instances", required_argument, NULL, 'i'},
                {"tasks", required_argument, NULL, 't'},
                {"status", required_argument, NULL, 's'},
                {"output", required_argument, NULL, 'o'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_(placement_query_freep) struct placement_query *q = NULL;
        _cleanup_(placement_cluster_freep) struct placement_cluster *c = NULL;
        _cleanup_free_ size_t *sel = NULL;
        const char *instances = NULL, *tasks = NULL, *status = NULL;
        enum output output = OUTPUT_JSON;
        size_t n = 0, considered = 0;
        int opt, r;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 'i':
                        instances = optarg;
                        break;
                case 't':
                        tasks = optarg;
                        break;
                case 's':
                        status = optarg;
                        break;
                case 'o':
                        if (streq(optarg, "json"))
                                output = OUTPUT_JSON;
                        else if (streq(optarg, "text"))
                                output = OUTPUT_TEXT;
                        else if (streq(optarg, "table"))
                                output = OUTPUT_TABLE;
                        else {
                                fprintf(stderr,
                                        "error: --output: '%s' is not json, text or table\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (!instances) {
                fprintf(stderr, "error: filter needs --instances FILE\n");
                return EXIT_USAGE;
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "error: filter takes one EXPRESSION\n");
                return EXIT_USAGE;
        }
        if (parse_expression(argv[optind], &q) < 0)
                return EXIT_USAGE;

        if (placement_cluster_new(&c) < 0)
                return EXIT_INPUT;
        if (load(c, instances, false) < 0)
                return EXIT_INPUT;
        if (tasks && load(c, tasks, true) < 0)
                return EXIT_INPUT;

        r = placement_query_filter(q, c, status, &sel, &n);
        if (r < 0) {
                fprintf(stderr, "error: %s\n",
                        r == -E2BIG ? "a regular expression exceeded its backtracking limit"
                                    : strerror(-r));
                return EXIT_INPUT;
        }

        switch (output) {
        case OUTPUT_JSON:
                printf("{\n    \"containerInstanceArns\": [");
                for (size_t i = 0; i < n; i++) {
                        printf("%s\n        ", i ? "," : "");
                        print_json_string(c->instances[sel[i]].arn);
                }
                printf("%s]\n}\n", n ? "\n    " : "");
                break;
        case OUTPUT_TEXT:
                for (size_t i = 0; i < n; i++)
                        printf("%s\n", c->instances[sel[i]].arn);
                break;
        case OUTPUT_TABLE:
                for (size_t i = 0; i < c->n_instances; i++)
                        if (status ? streq(c->instances[i].status, status)
                                   : !streq(c->instances[i].status, "INACTIVE"))
                                considered++;
                if (print_table(c, q, sel, n, considered) < 0) {
                        fprintf(stderr, "error: out of memory\n");
                        return EXIT_INPUT;
                }
                break;
        }
        return 0;
}

/* JSON as the AWS CLI prints it (Python's json.dumps with indent=4). */
static void print_json(const cJSON *j, int indent) {
        const cJSON *c;

        if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
                bool obj = cJSON_IsObject(j);
                if (!j->child) {
                        fputs(obj ? "{}" : "[]", stdout);
                        return;
                }
                putchar(obj ? '{' : '[');
                for (c = j->child; c; c = c->next) {
                        printf("\n%*s", indent + 4, "");
                        if (obj) {
                                print_json_string(c->string);
                                fputs(": ", stdout);
                        }
                        print_json(c, indent + 4);
                        if (c->next)
                                putchar(',');
                }
                printf("\n%*s%c", indent, "", obj ? '}' : ']');
        } else if (cJSON_IsString(j))
                print_json_string(j->valuestring);
        else if (cJSON_IsRaw(j))
                fputs(j->valuestring, stdout);
        else if (cJSON_IsNumber(j))
                printf("%lld", (long long)j->valuedouble);
        else if (cJSON_IsBool(j))
                fputs(cJSON_IsTrue(j) ? "true" : "false", stdout);
        else
                fputs("null", stdout);
}

/* arn:aws:ecs:R:A:container-instance/CLUSTER/ID -> arn:aws:ecs:R:A:cluster/CLUSTER */
static char *cluster_arn(const struct placement_cluster *c) {
        const char *arn, *ci, *slash;
        char *s = NULL;

        if (c->n_instances == 0)
                return strdup("cluster");
        arn = c->instances[0].arn;
        ci = strstr(arn, ":container-instance/");
        if (!ci)
                return strdup("cluster");
        slash = strchr(ci + 20, '/');
        if (!slash)
                return strdup("cluster");
        if (asprintf(&s, "%.*s:cluster/%.*s", (int)(ci - arn), arn, (int)(slash - ci - 20),
                     ci + 20) < 0)
                return NULL;
        return s;
}

static cJSON *explain_json(const struct placement_result *res, const struct placement_cluster *c) {
        cJSON *arr = cJSON_CreateArray();

        for (size_t t = 0; arr && t < res->n_tasks; t++) {
                const struct placement_task_result *tr = &res->tasks[t];
                cJSON *o = cJSON_CreateObject(), *steps = cJSON_CreateArray(),
                      *strategies = cJSON_CreateArray();

                cJSON_AddItemToArray(arr, o);
                cJSON_AddNumberToObject(o, "task", (double)(t + 1));
                cJSON_AddItemToObject(o, "steps", steps);
                for (size_t i = 0; i < tr->n_steps; i++) {
                        cJSON *st = cJSON_CreateObject();
                        cJSON_AddItemToArray(steps, st);
                        cJSON_AddStringToObject(st, "step", tr->steps[i].name);
                        cJSON_AddNumberToObject(st, "removed", (double)tr->steps[i].removed);
                        cJSON_AddNumberToObject(st, "left", (double)tr->steps[i].left);
                }
                cJSON_AddItemToObject(o, "strategies", strategies);
                for (size_t i = 0; i < tr->n_strategies; i++) {
                        const struct placement_strategy_step *ss = &tr->strategies[i];
                        static const char *const types[] = {"binpack", "spread", "random"};
                        cJSON *st = cJSON_CreateObject();
                        cJSON_AddItemToArray(strategies, st);
                        cJSON_AddStringToObject(st, "type", types[ss->strategy->type]);
                        if (ss->strategy->field)
                                cJSON_AddStringToObject(st, "field", ss->strategy->field);
                        cJSON_AddNumberToObject(st, "kept", (double)ss->kept);
                        if (ss->strategy->type == PLACEMENT_STRATEGY_BINPACK)
                                cJSON_AddNumberToObject(st, "remaining", (double)ss->score);
                        if (ss->strategy->type == PLACEMENT_STRATEGY_SPREAD) {
                                if (ss->bucket)
                                        cJSON_AddStringToObject(st, "bucket", ss->bucket);
                                else
                                        cJSON_AddNullToObject(st, "bucket");
                                cJSON_AddNumberToObject(st, "groupTasks", (double)ss->score);
                        }
                }
                if (tr->instance >= 0) {
                        cJSON_AddNumberToObject(o, "tiedCandidates", (double)tr->tied);
                        cJSON_AddStringToObject(o, "containerInstanceArn",
                                                c->instances[tr->instance].arn);
                } else if (tr->reason)
                        cJSON_AddStringToObject(o, "reason", tr->reason);
                else
                        cJSON_AddStringToObject(o, "launchType", "FARGATE");
        }
        return arr;
}

static int print_run_json(const struct placement_result *res, const struct placement_cluster *c,
                          const struct placement_taskdef *td, uint64_t seed, long existing,
                          bool explain) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        _cleanup_free_ char *cluster = cluster_arn(c);
        cJSON *tasks = cJSON_CreateArray(), *failures = cJSON_CreateArray();
        char seedtext[32];

        if (!root || !tasks || !failures || !cluster) {
                cJSON_Delete(tasks);
                cJSON_Delete(failures);
                return -ENOMEM;
        }
        cJSON_AddItemToObject(root, "tasks", tasks);
        cJSON_AddItemToObject(root, "failures", failures);
        for (size_t t = 0; t < res->n_tasks; t++) {
                const struct placement_task_result *tr = &res->tasks[t];
                cJSON *o = cJSON_CreateObject();
                if (tr->instance >= 0 || !tr->reason) {
                        cJSON_AddItemToArray(tasks, o);
                        if (tr->instance >= 0)
                                cJSON_AddStringToObject(o, "containerInstanceArn",
                                                        c->instances[tr->instance].arn);
                        cJSON_AddStringToObject(o, "group", res->group);
                        cJSON_AddStringToObject(o, "taskDefinitionArn", td->arn);
                        cJSON_AddStringToObject(o, "lastStatus", "PENDING");
                        cJSON_AddStringToObject(o, "desiredStatus", "RUNNING");
                } else {
                        cJSON_AddItemToArray(failures, o);
                        cJSON_AddStringToObject(o, "arn", cluster);
                        cJSON_AddStringToObject(o, "reason", tr->reason);
                }
        }
        /* Raw, so a 64-bit seed is printed exactly (cJSON numbers are doubles). */
        snprintf(seedtext, sizeof(seedtext), "%llu", (unsigned long long)seed);
        cJSON_AddRawToObject(root, "seed", seedtext);
        if (existing >= 0)
                cJSON_AddNumberToObject(root, "existingTasks", (double)existing);
        if (explain)
                cJSON_AddItemToObject(root, "explain", explain_json(res, c));
        print_json(root, 0);
        putchar('\n');
        return 0;
}

/* Where the tasks went: per zone, per instance, with what is left. */
static void print_run_table(const struct placement_result *res, const struct placement_cluster *c,
                            uint64_t seed) {
        size_t placed = 0, failed = 0;
        _cleanup_free_ unsigned *count = calloc(c->n_instances + 1, sizeof(unsigned));
        _cleanup_free_ char *zones_done = calloc(c->n_instances + 1, 1);

        if (!count || !zones_done)
                return;
        for (size_t t = 0; t < res->n_tasks; t++) {
                if (res->tasks[t].instance >= 0) {
                        count[res->tasks[t].instance]++;
                        placed++;
                } else if (res->tasks[t].reason)
                        failed++;
                else
                        placed++; /* FARGATE: on no instance */
        }
        printf("%-12s  %-34s  %-12s  %-11s  %5s  %8s  %11s\n", "ZONE", "CONTAINER INSTANCE",
               "EC2 INSTANCE", "TYPE", "TASKS", "CPU LEFT", "MEMORY LEFT");
        /* Zones in order of first appearance; instances in input order. */
        for (size_t z = 0; z < c->n_instances; z++) {
                const struct placement_attribute *za =
                        placement_instance_attribute(&c->instances[z], "ecs.availability-zone");
                const char *zone = za && za->value ? za->value : "-";
                unsigned total = 0;

                if (zones_done[z] || !count[z])
                        continue;
                for (size_t i = z; i < c->n_instances; i++) {
                        const struct placement_instance *ci = &c->instances[i];
                        const struct placement_attribute *a =
                                placement_instance_attribute(ci, "ecs.availability-zone");
                        const struct placement_attribute *ty =
                                placement_instance_attribute(ci, "ecs.instance-type");
                        if (!streq(a && a->value ? a->value : "-", zone))
                                continue;
                        zones_done[i] = 1;
                        if (!count[i])
                                continue;
                        total += count[i];
                        printf("%-12s  %-34s  %-12s  %-11s  %5u  %8lld  %11lld\n", zone,
                               placement_instance_short_id(ci),
                               ci->ec2_instance_id ? ci->ec2_instance_id : "-",
                               ty && ty->value ? ty->value : "-", count[i],
                               (long long)ci->remaining.cpu, (long long)ci->remaining.memory);
                }
                printf("%-12s  %-34s  %-12s  %-11s  %5u\n", zone, "(zone total)", "", "", total);
        }
        printf("%zu placed, %zu failed", placed, failed);
        for (size_t t = 0; t < res->n_tasks; t++)
                if (res->tasks[t].reason) {
                        printf(" (task %zu: %s)", t + 1, res->tasks[t].reason);
                        break;
                }
        printf(", seed %llu\n", (unsigned long long)seed);
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return false;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (*end || errno == ERANGE || v > max)
                return false;
        *ret = v;
        return true;
}

static int request_error(const struct placement_error *e, const char *expression) {
        if (expression && e->line > 0)
                print_expression_error(e, expression);
        else
                fprintf(stderr, "error: %s\n", e->message);
        return EXIT_USAGE;
}

/* `run` and `service`: one argument parser, since `service` is RunTask with
 * the service's group, its default strategies and its existing tasks. */
static int cmd_run(int argc, char **argv, bool service) {
        _cleanup_(placement_cluster_freep) struct placement_cluster *c = NULL;
        _cleanup_(placement_taskdef_freep) struct placement_taskdef *td = NULL;
        _cleanup_(placement_result_freep) struct placement_result *res = NULL;
        _cleanup_free_ char *tdtext = NULL;
        struct placement_request req = {.count = 1};
        struct placement_error e = {};
        const char *instances = NULL, *tasks = NULL, *taskdef = NULL, *service_name = NULL,
                   *expression = NULL;
        bool explain = false, seeded = false, table = false, has_count = false;
        unsigned long long v, desired = 0;
        long existing = -1;
        size_t tdlen = 0;
        int r, ret = EXIT_USAGE;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *val = i + 1 < argc ? argv[i + 1] : NULL;

#define NEED_VALUE()                                                                               \
        do {                                                                                       \
                if (!val) {                                                                        \
                        fprintf(stderr, "error: %s needs a value\n", a);                           \
                        goto done;                                                                 \
                }                                                                                  \
                i++;                                                                               \
        } while (0)
                if (streq(a, "--instances")) {
                        NEED_VALUE();
                        instances = val;
                } else if (streq(a, "--tasks")) {
                        NEED_VALUE();
                        tasks = val;
                } else if (streq(a, "--task-definition")) {
                        NEED_VALUE();
                        taskdef = val;
                } else if (streq(a, "--count") && !service) {
                        NEED_VALUE();
                        if (!parse_uint(val, 100000, &v) || v == 0) {
                                fprintf(stderr, "error: --count: '%s' is not 1..100000\n", val);
                                goto done;
                        }
                        req.count = (unsigned)v;
                } else if (streq(a, "--desired-count") && service) {
                        NEED_VALUE();
                        if (!parse_uint(val, 100000, &desired)) {
                                fprintf(stderr, "error: --desired-count: '%s' is not 0..100000\n",
                                        val);
                                goto done;
                        }
                        has_count = true;
                } else if (streq(a, "--service-name") && service) {
                        NEED_VALUE();
                        service_name = val;
                } else if (streq(a, "--group") && !service) {
                        NEED_VALUE();
                        free(req.group);
                        req.group = strdup(val);
                } else if (streq(a, "--seed")) {
                        NEED_VALUE();
                        if (!parse_uint(val, UINT64_MAX, &v)) {
                                fprintf(stderr, "error: --seed: '%s' is not a number\n", val);
                                goto done;
                        }
                        req.seed = v;
                        seeded = true;
                } else if (streq(a, "--launch-type")) {
                        NEED_VALUE();
                        if (!streq(val, "EC2") && !streq(val, "FARGATE")) {
                                fprintf(stderr,
                                        "error: --launch-type: '%s' is not EC2 or FARGATE\n", val);
                                goto done;
                        }
                        req.fargate = streq(val, "FARGATE");
                } else if (streq(a, "--output")) {
                        NEED_VALUE();
                        if (!streq(val, "json") && !streq(val, "table")) {
                                fprintf(stderr, "error: --output: '%s' is not json or table\n",
                                        val);
                                goto done;
                        }
                        table = streq(val, "table");
                } else if (streq(a, "--explain")) {
                        explain = true;
                } else if (streq(a, "--placement-constraints") ||
                           streq(a, "--placement-strategy")) {
                        bool constraints = streq(a, "--placement-constraints");
                        int n = 0;
                        /* Like the AWS CLI: one or more values up to the next option. */
                        while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                                i++;
                                n++;
                                r = constraints
                                            ? placement_request_add_constraints(&req, argv[i],
                                                                                &expression, &e)
                                            : placement_request_add_strategies(&req, argv[i], &e);
                                if (r < 0) {
                                        ret = request_error(&e, expression);
                                        goto done;
                                }
                        }
                        if (n == 0) {
                                fprintf(stderr, "error: %s needs a value\n", a);
                                goto done;
                        }
                } else if (streq(a, "--help") || streq(a, "-h")) {
                        usage(stdout);
                        ret = 0;
                        goto done;
                } else {
                        fprintf(stderr, "error: unknown option '%s'\n", a);
                        goto done;
                }
#undef NEED_VALUE
        }
        if (!instances || !taskdef) {
                fprintf(stderr, "error: %s needs --instances FILE and --task-definition FILE\n",
                        service ? "service" : "run");
                goto done;
        }
        if (service && (!service_name || !has_count)) {
                fprintf(stderr, "error: service needs --service-name S and --desired-count N\n");
                goto done;
        }

        ret = EXIT_INPUT;
        r = read_file(taskdef, &tdtext, &tdlen);
        if (r < 0) {
                fprintf(stderr, "error: %s: %s\n", taskdef, strerror(-r));
                goto done;
        }
        r = placement_taskdef_parse(&td, tdtext, tdlen, &e);
        if (r < 0) {
                if (e.line > 0)
                        fprintf(stderr, "error: %s:%u:%u: %s\n", taskdef, e.line, e.column,
                                e.message);
                else
                        fprintf(stderr, "error: %s: %s\n", taskdef, e.message);
                goto done;
        }
        if (placement_cluster_new(&c) < 0 || load(c, instances, false) < 0 ||
            (tasks && load(c, tasks, true) < 0))
                goto done;

        if (service) {
                size_t found = 0;
                if (placement_request_service(&req, c, service_name, (unsigned)desired, &found,
                                              &e) < 0) {
                        fprintf(stderr, "error: %s\n", e.message);
                        goto done;
                }
                existing = (long)found;
        }
        req.taskdef = td;
        if (placement_request_validate(&req, &expression, &e) < 0) {
                ret = request_error(&e, expression);
                goto done;
        }
        if (!seeded) /* reported in the output, so any run can be replayed */
                req.seed = ((uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid()) &
                           ((1ULL << 53) - 1);
        r = placement_run(c, &req, &res);
        if (r < 0) {
                fprintf(stderr, "error: %s\n",
                        r == -E2BIG ? "a regular expression exceeded its backtracking limit"
                                    : strerror(-r));
                goto done;
        }
        if (table)
                print_run_table(res, c, req.seed);
        else if (print_run_json(res, c, td, req.seed, existing, explain) < 0) {
                fprintf(stderr, "error: out of memory\n");
                goto done;
        }
        ret = 0;
done:
        placement_request_done(&req);
        return ret;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(stdout);
                return 0;
        }
        if (streq(argv[1], "--version")) {
                printf("ecs-place %s (%s)\n", HOSTD_VERSION, HOSTD_GIT_HASH);
                return 0;
        }
        if (streq(argv[1], "check"))
                return cmd_check(argc - 1, argv + 1);
        if (streq(argv[1], "filter"))
                return cmd_filter(argc - 1, argv + 1);
        if (streq(argv[1], "run") || streq(argv[1], "service"))
                return cmd_run(argc - 1, argv + 1, streq(argv[1], "service"));
        fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
}
