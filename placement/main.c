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

#include "macro.h"
#include "placement-error.h"
#include "placement-model.h"
#include "placement-query-eval.h"
#include "placement-query.h"

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

static void usage(FILE *f) {
        fputs("Usage:\n"
              "  ecs-place check EXPRESSION\n"
              "  ecs-place filter --instances FILE [--tasks FILE] [--status STATUS]\n"
              "                   [--output json|text|table] EXPRESSION\n"
              "\n"
              "check   parse a cluster query expression and print its canonical form\n"
              "filter  print the container instances the expression selects, as\n"
              "        `aws ecs list-container-instances --filter` would\n"
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
        if (streq(argv[1], "run") || streq(argv[1], "service")) {
                fprintf(stderr, "error: '%s' is not implemented yet\n", argv[1]);
                return EXIT_USAGE;
        }
        fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
}
