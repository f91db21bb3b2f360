/* main.c: ecs-place, the offline ECS placement evaluator.  It reads what the
 * AWS CLI prints, calls the pure placement library and is the only place that
 * prints: results on stdout, errors on stderr, every value from an input file
 * escaped (placement-escape.h).  Exit status: 0 done, 1 bad input file, 2 bad
 * usage or a bad expression.  It decides no placement rule: each command
 * parses its options with getopt_long() and hands them over. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <dirent.h>

#include "macro.h"
#include "placement-error.h"
#include "placement-escape.h"
#include "placement-model.h"
#include "placement-picture.h"
#include "placement-query-eval.h"
#include "placement-query.h"
#include "placement-report.h"
#include "placement-resilience.h"
#include "placement-run.h"
#include "placement-services.h"
#include "placement-taskdef.h"

/* Bytes of one input file: a cluster has at most 5,000 container instances
 * (ECS's quota, not adjustable), and one instance's describe entry, as the
 * AWS CLI prints it, is 5-15 KiB (with 60-80 attributes), a few tens with
 * attachments: 5,000 x 32 KiB.  The JSON values in it are bounded apart
 * (PLACEMENT_JSON_VALUES_MAX): they, not the bytes, make the cJSON tree. */
#define INPUT_MAX (160u << 20)
#define INPUT_MAX_TEXT "160 MiB (5,000 container instances, ECS's most per cluster, at 32 KiB)"

#define streq(a, b) (strcmp((a), (b)) == 0)

#define EXIT_INPUT 1
#define EXIT_USAGE 2

enum output {
        OUTPUT_JSON,
        OUTPUT_TEXT,
        OUTPUT_TABLE,
        OUTPUT_SVG,
};

/* --output VALUE for a command that takes the formats in names (in the
 * order its error message lists them): 0 with *ret set, or -EINVAL, said. */
static int parse_output(const char *value, const char *const *names, enum output *ret) {
        static const char *const all[] = {[OUTPUT_JSON] = "json",
                                          [OUTPUT_TEXT] = "text",
                                          [OUTPUT_TABLE] = "table",
                                          [OUTPUT_SVG] = "svg"};
        bool taken = false;
        size_t n = 0;

        for (; names[n]; n++)
                taken = taken || streq(value, names[n]);
        for (size_t k = 0; taken && k < ELEMENTSOF(all); k++)
                if (streq(value, all[k])) {
                        *ret = (enum output)k;
                        return 0;
                }
        fprintf(stderr, "error: --output: '%s' is not ", value);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
        fputc('\n', stderr);
        return -EINVAL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_query *, placement_query_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_cluster *, placement_cluster_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, placement_query_strv_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_taskdef *, placement_taskdef_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_result *, placement_result_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_services *, placement_services_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_resilience *, placement_resilience_free);

static void usage(FILE *f) {
        fputs("Usage:\n"
              "  ecs-place check EXPRESSION\n"
              "  ecs-place filter --instances FILE [--tasks FILE] [--status STATUS]\n"
              "                   [--output json|text|table|svg] EXPRESSION\n"
              "  ecs-place run --instances FILE [--tasks FILE] --task-definition FILE\n"
              "                [--count N] [--group G] [--placement-constraints C...]\n"
              "                [--placement-strategy S...] [--launch-type EC2|FARGATE]\n"
              "                [--seed N] [--explain] [--output json|table|svg]\n"
              "  ecs-place service --instances FILE [--tasks FILE] --task-definition FILE\n"
              "                --service-name S --desired-count N [as run]\n"
              "  ecs-place resilience --instances FILE [--tasks FILE] --services FILE\n"
              "                --task-definitions FILE|DIR... [--lose WHAT]...\n"
              "                [--min-headroom FRACTION] [--seed N] [--show FAILURE]\n"
              "                [--output table|json|svg]\n"
              "\n"
              "check   parse a cluster query expression and print its canonical form\n"
              "filter  print the container instances the expression selects, as\n"
              "        `aws ecs list-container-instances --filter` would\n"
              "run     place tasks as RunTask would and print RunTask's response\n"
              "service place a service's missing tasks as the service scheduler would\n"
              "resilience  what losing capacity does to the services: WHAT is instance,\n"
              "        zone, instance-type, pool (type x zone) or an expression (default:\n"
              "        zone and pool); exit 0 every loss survived, 1 one not, 2 bad input\n"
              "\n"
              "FILE is the JSON printed by `aws ecs describe-container-instances` (--instances),\n"
              "`aws ecs describe-tasks` (--tasks), `aws ecs describe-services` (--services)\n"
              "or `aws ecs describe-task-definition`; `-` reads standard input.\n",
              f);
}

/* Read a whole file ("-": stdin) into a NUL-terminated buffer; -EFBIG past
 * INPUT_MAX bytes, before reading a regular file that is larger. */
static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *owned = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;
        struct stat st;
        FILE *f;

        if (streq_ptr(path, "-"))
                f = stdin;
        else {
                owned = fopen(path, "re");
                if (!owned)
                        return -errno;
                f = owned;
        }
        if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)INPUT_MAX)
                return -EFBIG;
        for (;;) {
                size_t n;
                if (len + 1 >= size) {
                        char *grown;
                        if (len > INPUT_MAX)
                                return -EFBIG;
                        /* One byte over the limit tells a file at the limit
                         * from a larger one, and one more holds the NUL. */
                        size = !size ? 65536 : size < INPUT_MAX / 2 ? size * 2 : INPUT_MAX + 2;
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

/* s as a terminal may show it (placement-escape.h: utf8 for messages, which
 * may quote what the user typed); out of memory, a placeholder. */
static void fputs_escaped(const char *s, bool utf8, FILE *f) {
        _cleanup_free_ char *e = placement_escape(s, utf8);

        fputs(e ? e : "(out of memory)", f);
}

/* "error: MESSAGE", or "error: PATH: MESSAGE": a library message may quote
 * an input file. */
static void print_error(const char *path, const char *message) {
        fputs("error: ", stderr);
        if (path) {
                fputs_escaped(path, true, stderr);
                fputs(": ", stderr);
        }
        fputs_escaped(message, true, stderr);
        fputc('\n', stderr);
}

/* Print an expression error: "error: column N: ...", the line, the caret
 * (placement_error_render() escapes the line). */
static void print_expression_error(const struct placement_error *e, const char *expr) {
        _cleanup_free_ char *text = NULL;

        if (placement_error_render(e, expr, strlen(expr), &text) < 0)
                print_error(NULL, e->message);
        else
                fprintf(stderr, "error: %s", text);
}

/* An input file's error: "FILE:LINE:COLUMN: ..." when e has a position. */
static void print_input_error(const char *path, const struct placement_error *e) {
        char where[32];

        if (e->line == 0) {
                print_error(path, e->message);
                return;
        }
        fputs("error: ", stderr);
        fputs_escaped(path, true, stderr);
        snprintf(where, sizeof(where), ":%u:%u: ", e->line, e->column);
        fputs(where, stderr);
        fputs_escaped(e->message, true, stderr);
        fputc('\n', stderr);
}

/* What a failed filter or run says (the library returns errno values). */
static const char *failure_message(int r) {
        static char steps[96];

        switch (r) {
        case -E2BIG:
                return "a regular expression exceeded its backtracking limit";
        case -ENOBUFS:
                return "a regular expression exceeded its memory limit";
        case -ETIME:
                snprintf(steps, sizeof(steps),
                         "regular expressions exceeded their limit of %llu steps in all",
                         (unsigned long long)PLACEMENT_REGEX_STEPS_MAX);
                return steps;
        case -ERANGE:
                return "too much work";
        }
        return strerror(-r);
}

/* Refuse work over the library's limit before it starts, saying what the
 * input holds (doing is "filtering" or "placing N tasks ... on"): the limit is
 * far above any real cluster, so it is the input that is too big. */
static bool too_much_work(const char *doing, uint64_t work, const struct placement_cluster *c) {
        struct placement_cluster_size z;

        if (work <= PLACEMENT_WORK_MAX)
                return false;
        placement_cluster_size(c, &z);
        fprintf(stderr,
                "error: too much work: %s %llu container instances (%llu attributes, %llu task "
                "groups, %llu ports in use) takes up to %llu checks, more than the limit of %llu "
                "(ECS allows 5,000 container instances per cluster)\n",
                doing, (unsigned long long)z.instances, (unsigned long long)z.attributes,
                (unsigned long long)z.groups, (unsigned long long)z.ports, (unsigned long long)work,
                (unsigned long long)PLACEMENT_WORK_MAX);
        return true;
}

/* read_file(), saying why not. */
static int read_input(const char *path, char **ret, size_t *ret_len) {
        int r = read_file(path, ret, ret_len);

        if (r == -EFBIG)
                print_error(path, "larger than " INPUT_MAX_TEXT ", ecs-place's limit for an "
                                  "input file");
        else if (r < 0)
                print_error(path, strerror(-r));
        return r;
}

static int load(struct placement_cluster *c, const char *path, bool tasks) {
        _cleanup_free_ char *text = NULL;
        struct placement_error e = {};
        size_t len = 0;
        int r;

        r = read_input(path, &text, &len);
        if (r < 0)
                return r;
        r = tasks ? placement_cluster_load_tasks(c, text, len, &e)
                  : placement_cluster_load_instances(c, text, len, &e);
        if (r < 0)
                print_input_error(path, &e);
        return r;
}

/* The cluster of --instances and, when given, --tasks. */
static int load_cluster(struct placement_cluster **ret, const char *instances, const char *tasks) {
        _cleanup_(placement_cluster_freep) struct placement_cluster *c = NULL;
        int r;

        r = placement_cluster_new(&c);
        if (r < 0) {
                fprintf(stderr, "error: %s\n", strerror(-r));
                return r;
        }
        r = load(c, instances, false);
        if (r < 0)
                return r;
        if (tasks) {
                r = load(c, tasks, true);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
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
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_(placement_query_freep) struct placement_query *q = NULL;
        _cleanup_free_ char *canonical = NULL;
        int at = 1;

        /* The only option is --help.  No expression begins with '-', so an
         * argument getopt_long() does not know is left to the parser, whose
         * message says what is wrong with it ("+": stop at a non-option). */
        optind = at;
        opterr = 0;
        if (at < argc && !streq(argv[at], "--")) {
                if (getopt_long(argc, argv, "+h", options, NULL) == 'h') {
                        usage(stdout);
                        return 0;
                }
                optind = at;
        }
        if (argc - optind != 1) {
                fprintf(stderr, "error: check takes one EXPRESSION\n");
                return EXIT_USAGE;
        }
        if (parse_expression(argv[optind], &q) < 0)
                return EXIT_USAGE;
        if (placement_query_format(q, &canonical) < 0) {
                fprintf(stderr, "error: out of memory\n");
                return EXIT_INPUT;
        }
        printf("%s\n", canonical);
        return 0;
}

/* A JSON string that is valid UTF-8 and safe on a terminal: controls (C0,
 * DEL, C1) as \u00XX, a byte that is not UTF-8 as U+FFFD (as jq does). */
static void print_json_string(const char *s) {
        size_t n = strlen(s);

        putchar('"');
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char)s[i];
                size_t keep = placement_escape_keep(s + i, n - i, true);

                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (keep > 0)
                        fwrite(s + i, 1, keep, stdout);
                else if (c < 0x80)
                        printf("\\u%04x", c);
                else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                         (unsigned char)s[i + 1] <= 0x9F) {
                        printf("\\u%04x", (unsigned char)s[i + 1]); /* a C1 control */
                        keep = 2;
                } else
                        fputs("\\ufffd", stdout);
                i += keep > 0 ? keep : 1;
        }
        putchar('"');
}

/* task:group as a table shows it: group(count),...; "-" for none. */
static char *groups_cell(const struct placement_instance *ci) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < ci->n_groups; i++)
                fprintf(f, "%s%s(%u)", i ? "," : "", ci->groups[i].group, ci->groups[i].count);
        if (ci->n_groups == 0)
                fputc('-', f);
        /* The stream's writes land in s only here, and may fail here. */
        if (fclose(f) != 0 || !s)
                return NULL;
        return TAKE_PTR(s);
}

static char *registered_at_cell(const struct placement_instance *ci) {
        time_t t = (time_t)(ci->registered_at / 1000000);
        struct tm tm;
        char buf[64];

        if (!ci->has_registered_at || !gmtime_r(&t, &tm))
                return strdup("-");
        if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return strdup("-"); /* a year too long for buf */
        return strdup(buf);
}

/* The value a table cell shows for one subject of one instance, before it
 * is escaped; NULL when out of memory. */
static char *cell_text(const struct placement_instance *ci, const char *subject) {
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
        if (streq(subject, "registeredAt"))
                return registered_at_cell(ci);
        if (streq(subject, "task:group"))
                return groups_cell(ci);
        return strdup("?");
}

/* The table's first columns, and the subject each shows (NULL: the
 * container instance's id); the expression's other subjects follow them. */
static const struct {
        const char *header, *subject;
} fixed_columns[] = {
        {"CONTAINER INSTANCE", NULL},
        {"EC2 INSTANCE", "ec2InstanceId"},
        {"ZONE", "attribute:ecs.availability-zone"},
        {"TYPE", "attribute:ecs.instance-type"},
};

/* A cell as the table shows it: escaped, so that a value cannot reach the
 * terminal as a control sequence, and as wide as it prints. */
static char *cell(const struct placement_instance *ci, const char *subject) {
        _cleanup_free_ char *text =
                subject ? cell_text(ci, subject) : strdup(placement_instance_short_id(ci));

        return text ? placement_escape(text, false) : NULL;
}

static bool shown_in_fixed_column(const char *subject) {
        for (size_t k = 0; k < ELEMENTSOF(fixed_columns); k++)
                if (streq_ptr(fixed_columns[k].subject, subject))
                        return true;
        return false;
}

static void cells_free(char **cells, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(cells[i]);
        free(cells);
}

/* n rows of ncol cells, for the selected instances; NULL when out of memory. */
static char **table_cells(const struct placement_cluster *c, const size_t *sel, size_t n,
                          const char *const *headers, size_t ncol) {
        char **cells = calloc((n + 1) * ncol, sizeof(*cells));

        if (!cells)
                return NULL;
        for (size_t row = 0; row < n; row++) {
                const struct placement_instance *ci = &c->instances[sel[row]];
                for (size_t k = 0; k < ncol; k++) {
                        const char *subject = k < ELEMENTSOF(fixed_columns)
                                                      ? fixed_columns[k].subject
                                                      : headers[k];
                        char *v = cell(ci, subject);
                        if (!v) {
                                cells_free(cells, (n + 1) * ncol);
                                return NULL;
                        }
                        cells[row * ncol + k] = v;
                }
        }
        return cells;
}

/* The header line and n rows, each column as wide as its widest value. */
static int print_cells(const char *const *headers, char *const *cells, size_t n, size_t ncol) {
        _cleanup_free_ size_t *width = calloc(ncol, sizeof(*width));

        if (!width)
                return -ENOMEM;
        for (size_t k = 0; k < ncol; k++) {
                width[k] = strlen(headers[k]);
                for (size_t row = 0; row < n; row++)
                        if (strlen(cells[row * ncol + k]) > width[k])
                                width[k] = strlen(cells[row * ncol + k]);
        }
        for (size_t row = 0; row <= n; row++)
                for (size_t k = 0; k < ncol; k++) {
                        const char *v = row == 0 ? headers[k] : cells[(row - 1) * ncol + k];
                        if (k + 1 < ncol)
                                printf("%-*s  ", (int)width[k], v);
                        else
                                printf("%s\n", v);
                }
        return 0;
}

static int print_table(const struct placement_cluster *c, const struct placement_query *q,
                       const size_t *sel, size_t n, size_t considered) {
        _cleanup_(placement_query_strv_freep) char **subjects = NULL;
        _cleanup_free_ const char **headers = NULL;
        char **cells;
        size_t ncol = ELEMENTSOF(fixed_columns);
        int r;

        r = placement_query_subjects(q, &subjects);
        if (r < 0)
                return r;
        for (char **s = subjects; *s; s++)
                ncol++;
        headers = calloc(ncol, sizeof(*headers));
        if (!headers)
                return -ENOMEM;
        ncol = 0;
        for (size_t k = 0; k < ELEMENTSOF(fixed_columns); k++)
                headers[ncol++] = fixed_columns[k].header;
        for (char **s = subjects; *s; s++)
                if (!shown_in_fixed_column(*s))
                        headers[ncol++] = *s;

        cells = table_cells(c, sel, n, headers, ncol);
        if (!cells)
                return -ENOMEM;
        /* The last row holds the headers as shown: a subject is typed by the
         * user, but may have been pasted from anywhere. */
        for (size_t k = 0; k < ncol && r >= 0; k++)
                if (!(cells[n * ncol + k] = placement_escape(headers[k], false)))
                        r = -ENOMEM;
        if (r >= 0)
                r = print_cells((const char *const *)&cells[n * ncol], cells, n, ncol);
        cells_free(cells, (n + 1) * ncol);
        if (r < 0)
                return r;
        printf("%zu of %zu container instances match\n", n, considered);
        return 0;
}

/* The instances ListContainerInstances would have looked at. */
static size_t count_considered(const struct placement_cluster *c, const char *status) {
        size_t considered = 0;

        for (size_t i = 0; i < c->n_instances; i++)
                if (status ? streq(c->instances[i].status, status)
                           : !streq(c->instances[i].status, "INACTIVE"))
                        considered++;
        return considered;
}

/* ---- pictures (--output svg) ---- */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_picture *, placement_picture_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_session *, placement_session_free);

static int print_picture(const struct placement_picture *p) {
        _cleanup_free_ char *svg = NULL;
        int k = placement_picture_svg(p, &svg);

        if (k < 0)
                return k;
        fputs(svg, stdout);
        return 0;
}

/* A picture line made with printf's format. */
static int picture_printf(struct placement_picture *p, const char *fmt, ...) _printf_(2, 3);
static int picture_printf(struct placement_picture *p, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (k < 0) {
                s = NULL;
                return -ENOMEM;
        }
        return placement_picture_line(p, s);
}

/* filter: the instances the expression selects as they are, the others
 * greyed. */
static int filter_svg(const struct placement_cluster *c, const char *expression, const char *status,
                      const size_t *sel, size_t n) {
        _cleanup_(placement_picture_freep) struct placement_picture *p = NULL;
        size_t next = 0;
        int k;

        k = placement_picture_new(&p, c);
        if (k < 0)
                return k;
        for (size_t i = 0; i < c->n_instances; i++) {
                if (next < n && sel[next] == i) {
                        next++;
                        continue;
                }
                if (status ? !streq(c->instances[i].status, status)
                           : p->instances[i].state == PLACEMENT_PICTURE_HIDDEN) {
                        p->instances[i].state = PLACEMENT_PICTURE_HIDDEN;
                        continue;
                }
                p->instances[i].state = PLACEMENT_PICTURE_REJECTED;
                p->instances[i].note = "not selected by the expression";
        }
        if ((k = picture_printf(p, "ecs-place filter: %s", expression)) < 0 ||
            (k = picture_printf(p, "%zu of %zu container instances match", n,
                                count_considered(c, status))) < 0)
                return k;
        return print_picture(p);
}

/* run / service: where the tasks went (outlined), and each instance that
 * could not take one greyed with the step that refused it, judged before
 * the first placement. */
static int run_svg(struct placement_cluster *c, const struct placement_request *req,
                   const char *service, long existing) {
        _cleanup_(placement_session_freep) struct placement_session *s = NULL;
        _cleanup_(placement_result_freep) struct placement_result *res = NULL;
        _cleanup_(placement_picture_freep) struct placement_picture *p = NULL;
        _cleanup_free_ const char **reasons = calloc(c->n_instances + 1, sizeof(*reasons));
        const char *first_reason = NULL;
        size_t placed = 0;
        int k;

        if (!reasons)
                return -ENOMEM;
        if ((k = placement_session_new(&s, c)) < 0 ||
            (!req->fargate && (k = placement_session_reasons(s, req, reasons)) < 0) ||
            (k = placement_session_run(s, req, &res)) < 0 || (k = placement_picture_new(&p, c)) < 0)
                return k;
        for (size_t i = 0; i < c->n_instances; i++)
                if (reasons[i] && p->instances[i].state != PLACEMENT_PICTURE_HIDDEN) {
                        p->instances[i].state = PLACEMENT_PICTURE_REJECTED;
                        p->instances[i].note = reasons[i];
                }
        for (size_t t = 0; t < res->n_tasks; t++)
                if (res->tasks[t].instance >= 0) {
                        placed++;
                        if ((k = placement_picture_add_task(p, (size_t)res->tasks[t].instance,
                                                            res->group)) < 0)
                                return k;
                }
        k = service ? picture_printf(p, "ecs-place service %s: %ld task%s running, %zu to place",
                                     service, existing, existing == 1 ? "" : "s", res->n_tasks)
                    : picture_printf(p, "ecs-place run: %zu task%s of %s", res->n_tasks,
                                     res->n_tasks == 1 ? "" : "s", res->group);
        for (size_t t = 0; t < res->n_tasks && !first_reason; t++)
                first_reason = res->tasks[t].reason;
        if (k >= 0)
                k = picture_printf(p, "%zu placed, %zu not placed%s%s%s, seed %llu", placed,
                                   res->n_tasks - placed, first_reason ? " (" : "",
                                   first_reason ? first_reason : "", first_reason ? ")" : "",
                                   (unsigned long long)req->seed);
        if (k < 0)
                return k;
        p->added_label = "task placed by this run";
        return print_picture(p);
}

/* resilience: failure show (SIZE_MAX: the baseline) as it leaves the
 * cluster, its lost instances struck out and the replacements outlined. */
static int print_resilience_svg(struct placement_resilience *r, size_t show) {
        const struct placement_failure *f = show == SIZE_MAX ? &r->baseline : &r->failures[show];
        _cleanup_(placement_picture_freep) struct placement_picture *p = NULL;
        _cleanup_(placement_query_strv_freep) char **verdicts = NULL;
        _cleanup_free_ char *verdict = NULL;
        int k;

        if ((k = placement_picture_new(&p, r->c)) < 0 ||
            (k = placement_report_verdict(r, f, &verdict)) < 0 ||
            (k = placement_report_verdicts(r, &verdicts)) < 0)
                return k;
        for (size_t i = 0; i < r->c->n_instances; i++) {
                const struct placement_instance *ci = &r->c->instances[i];
                if (p->instances[i].state == PLACEMENT_PICTURE_HIDDEN ||
                    (streq(ci->status, "ACTIVE") && ci->agent_connected))
                        continue;
                /* Never a target: ECS's AGENT step. */
                p->instances[i].state = PLACEMENT_PICTURE_REJECTED;
                p->instances[i].note =
                        streq(ci->status, "ACTIVE") ? "AGENT: agent disconnected" : ci->status;
        }
        for (size_t l = 0; l < f->n_lost; l++) {
                p->instances[f->lost[l]].state = PLACEMENT_PICTURE_LOST;
                p->instances[f->lost[l]].note = "LOST";
        }
        for (size_t o = 0; o < f->n_outcomes; o++)
                for (size_t t = 0; t < f->outcomes[o].n_placed; t++)
                        if ((k = placement_picture_add_task(
                                     p, f->outcomes[o].placed[t],
                                     r->services[f->outcomes[o].service].group)) < 0)
                                return k;
        k = show == SIZE_MAX ? picture_printf(p, "ecs-place resilience: before any loss")
            : f->kind == PLACEMENT_LOSE_EXPRESSION
                    ? picture_printf(p, "ecs-place resilience: losing %s", f->name)
                    : picture_printf(p, "ecs-place resilience: losing %s %s",
                                     placement_loss_to_string(f->kind), f->name);
        for (char **v = verdicts; k >= 0 && v && *v; v++)
                k = placement_picture_line(p, *v);
        if (k >= 0)
                k = placement_picture_line(p, verdict);
        if (k < 0)
                return k;
        p->added_label = show == SIZE_MAX ? "task placed before any loss" : "replacement task";
        return print_picture(p);
}

struct filter_options {
        const char *instances, *tasks, *status, *expression;
        enum output output;
};

/* 1: go on; 0: done (--help); <0: bad usage, said. */
static int filter_parse_options(int argc, char **argv, struct filter_options *o) {
        static const struct option options[] = {
                {"instances", required_argument, NULL, 'i'},
                {"tasks", required_argument, NULL, 't'},
                {"status", required_argument, NULL, 's'},
                {"output", required_argument, NULL, 'o'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int opt;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 'i':
                        o->instances = optarg;
                        break;
                case 't':
                        o->tasks = optarg;
                        break;
                case 's':
                        o->status = optarg;
                        break;
                case 'o':
                        if (parse_output(
                                    optarg,
                                    (const char *const[]){"json", "text", "table", "svg", NULL},
                                    &o->output) < 0)
                                return -EINVAL;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default: /* getopt_long() said what is wrong */
                        return -EINVAL;
                }
        if (!o->instances) {
                fprintf(stderr, "error: filter needs --instances FILE\n");
                return -EINVAL;
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "error: filter takes one EXPRESSION\n");
                return -EINVAL;
        }
        o->expression = argv[optind];
        return 1;
}

static int print_filter_result(const struct filter_options *o, const struct placement_cluster *c,
                               const struct placement_query *q, const size_t *sel, size_t n) {
        switch (o->output) {
        case OUTPUT_JSON:
                printf("{\n    \"containerInstanceArns\": [");
                for (size_t i = 0; i < n; i++) {
                        printf("%s\n        ", i ? "," : "");
                        print_json_string(c->instances[sel[i]].arn);
                }
                printf("%s]\n}\n", n ? "\n    " : "");
                return 0;
        case OUTPUT_TEXT:
                for (size_t i = 0; i < n; i++) {
                        fputs_escaped(c->instances[sel[i]].arn, false, stdout);
                        putchar('\n');
                }
                return 0;
        case OUTPUT_TABLE:
                return print_table(c, q, sel, n, count_considered(c, o->status));
        case OUTPUT_SVG:
                return filter_svg(c, o->expression, o->status, sel, n);
        }
        return -EINVAL;
}

static int cmd_filter(int argc, char **argv) {
        _cleanup_(placement_query_freep) struct placement_query *q = NULL;
        _cleanup_(placement_cluster_freep) struct placement_cluster *c = NULL;
        _cleanup_free_ size_t *sel = NULL;
        struct filter_options o = {.output = OUTPUT_JSON};
        size_t n = 0;
        int r;

        r = filter_parse_options(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        if (parse_expression(o.expression, &q) < 0)
                return EXIT_USAGE;
        if (load_cluster(&c, o.instances, o.tasks) < 0)
                return EXIT_INPUT;
        if (too_much_work("filtering", placement_query_filter_work(q, c), c))
                return EXIT_INPUT;

        r = placement_query_filter(q, c, o.status, &sel, &n);
        if (r < 0) {
                fprintf(stderr, "error: %s\n", failure_message(r));
                return EXIT_INPUT;
        }
        if (print_filter_result(&o, c, q, sel, n) < 0) {
                fprintf(stderr, "error: out of memory\n");
                return EXIT_INPUT;
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

/* A new object appended to the array arr; NULL when out of memory.  cJSON's
 * adders leave an item out silently when they fail, so every one is checked:
 * a short answer must not be printed as if it were whole. */
static cJSON *add_object(cJSON *arr) {
        cJSON *o = cJSON_CreateObject();

        if (o && cJSON_AddItemToArray(arr, o))
                return o;
        cJSON_Delete(o);
        return NULL;
}

static bool explain_step_json(cJSON *steps, const struct placement_step *step) {
        cJSON *st = add_object(steps);

        return st && cJSON_AddStringToObject(st, "step", step->name) &&
               cJSON_AddNumberToObject(st, "removed", (double)step->removed) &&
               cJSON_AddNumberToObject(st, "left", (double)step->left);
}

static bool explain_strategy_json(cJSON *strategies, const struct placement_strategy_step *ss) {
        static const char *const types[] = {"binpack", "spread", "random"};
        cJSON *st = add_object(strategies);

        if (!st || !cJSON_AddStringToObject(st, "type", types[ss->strategy->type]) ||
            (ss->strategy->field && !cJSON_AddStringToObject(st, "field", ss->strategy->field)) ||
            !cJSON_AddNumberToObject(st, "kept", (double)ss->kept))
                return false;
        switch (ss->strategy->type) {
        case PLACEMENT_STRATEGY_BINPACK:
                return cJSON_AddNumberToObject(st, "remaining", (double)ss->score);
        case PLACEMENT_STRATEGY_SPREAD:
                return (ss->bucket ? cJSON_AddStringToObject(st, "bucket", ss->bucket)
                                   : cJSON_AddNullToObject(st, "bucket")) &&
                       cJSON_AddNumberToObject(st, "groupTasks", (double)ss->score);
        case PLACEMENT_STRATEGY_RANDOM:
                break;
        }
        return true;
}

/* Task t's steps and strategies, then where it went, why not, or FARGATE. */
static bool explain_task_json(cJSON *arr, const struct placement_task_result *tr, size_t t,
                              const struct placement_cluster *c) {
        cJSON *o = add_object(arr), *steps, *strategies;

        if (!o || !cJSON_AddNumberToObject(o, "task", (double)(t + 1)) ||
            !(steps = cJSON_AddArrayToObject(o, "steps")))
                return false;
        for (size_t i = 0; i < tr->n_steps; i++)
                if (!explain_step_json(steps, &tr->steps[i]))
                        return false;
        if (!(strategies = cJSON_AddArrayToObject(o, "strategies")))
                return false;
        for (size_t i = 0; i < tr->n_strategies; i++)
                if (!explain_strategy_json(strategies, &tr->strategies[i]))
                        return false;
        if (tr->instance >= 0)
                return cJSON_AddNumberToObject(o, "tiedCandidates", (double)tr->tied) &&
                       cJSON_AddStringToObject(o, "containerInstanceArn",
                                               c->instances[tr->instance].arn);
        if (tr->reason)
                return cJSON_AddStringToObject(o, "reason", tr->reason);
        return cJSON_AddStringToObject(o, "launchType", "FARGATE");
}

/* One entry of RunTask's tasks[] (placed, or FARGATE) or failures[]. */
static bool run_task_json(cJSON *tasks, cJSON *failures, const struct placement_task_result *tr,
                          const struct placement_result *res, const struct placement_cluster *c,
                          const struct placement_taskdef *td, const char *cluster) {
        cJSON *o;

        if (tr->instance < 0 && tr->reason) {
                o = add_object(failures);
                return o && cJSON_AddStringToObject(o, "arn", cluster) &&
                       cJSON_AddStringToObject(o, "reason", tr->reason);
        }
        o = add_object(tasks);
        return o &&
               (tr->instance < 0 || cJSON_AddStringToObject(o, "containerInstanceArn",
                                                            c->instances[tr->instance].arn)) &&
               cJSON_AddStringToObject(o, "group", res->group) &&
               cJSON_AddStringToObject(o, "taskDefinitionArn", td->arn) &&
               cJSON_AddStringToObject(o, "lastStatus", "PENDING") &&
               cJSON_AddStringToObject(o, "desiredStatus", "RUNNING");
}

/* RunTask's response, plus the seed, a service's existing tasks (unless
 * existing < 0) and, with explain, why each task went where it did. */
static int print_run_json(const struct placement_result *res, const struct placement_cluster *c,
                          const struct placement_taskdef *td, uint64_t seed, long existing,
                          bool explain) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        _cleanup_free_ char *cluster = cluster_arn(c);
        cJSON *tasks, *failures, *explained = NULL;
        char seedtext[32];

        if (!root || !cluster || !(tasks = cJSON_AddArrayToObject(root, "tasks")) ||
            !(failures = cJSON_AddArrayToObject(root, "failures")))
                return -ENOMEM;
        for (size_t t = 0; t < res->n_tasks; t++)
                if (!run_task_json(tasks, failures, &res->tasks[t], res, c, td, cluster))
                        return -ENOMEM;
        /* Raw, so a 64-bit seed is printed exactly (cJSON numbers are doubles). */
        snprintf(seedtext, sizeof(seedtext), "%llu", (unsigned long long)seed);
        if (!cJSON_AddRawToObject(root, "seed", seedtext) ||
            (existing >= 0 && !cJSON_AddNumberToObject(root, "existingTasks", (double)existing)) ||
            (explain && !(explained = cJSON_AddArrayToObject(root, "explain"))))
                return -ENOMEM;
        for (size_t t = 0; explained && t < res->n_tasks; t++)
                if (!explain_task_json(explained, &res->tasks[t], t, c))
                        return -ENOMEM;
        print_json(root, 0);
        putchar('\n');
        return 0;
}

/* An attribute's value as the run table shows it: "-" when missing. */
static const char *attribute_cell(const struct placement_instance *ci, const char *name) {
        const struct placement_attribute *a = placement_instance_attribute(ci, name);
        return a && a->value ? a->value : "-";
}

/* The run table's first four columns, escaped: values from the input file. */
static int print_run_columns(const char *zone, const char *instance, const char *ec2,
                             const char *type) {
        static const int width[] = {12, 34, 12, 11};
        const char *v[] = {zone, instance, ec2, type};

        for (size_t k = 0; k < ELEMENTSOF(v); k++) {
                _cleanup_free_ char *e = placement_escape(v[k], false);
                if (!e)
                        return -ENOMEM;
                printf("%-*s  ", width[k], e);
        }
        return 0;
}

/* Where the tasks went: per zone, per instance, with what is left. */
static int print_run_table(const struct placement_result *res, const struct placement_cluster *c,
                           uint64_t seed) {
        size_t placed = 0, failed = 0;
        _cleanup_free_ unsigned *count = calloc(c->n_instances + 1, sizeof(unsigned));
        _cleanup_free_ char *zones_done = calloc(c->n_instances + 1, 1);

        if (!count || !zones_done)
                return -ENOMEM;
        for (size_t t = 0; t < res->n_tasks; t++) {
                if (res->tasks[t].instance >= 0) {
                        count[res->tasks[t].instance]++;
                        placed++;
                } else if (res->tasks[t].reason)
                        failed++;
                else
                        placed++; /* FARGATE: on no instance */
        }
        if (print_run_columns("ZONE", "CONTAINER INSTANCE", "EC2 INSTANCE", "TYPE") < 0)
                return -ENOMEM;
        printf("%5s  %8s  %11s\n", "TASKS", "CPU LEFT", "MEMORY LEFT");
        /* Zones in order of first appearance; instances in input order. */
        for (size_t z = 0; z < c->n_instances; z++) {
                const char *zone = attribute_cell(&c->instances[z], "ecs.availability-zone");
                unsigned total = 0;

                if (zones_done[z] || !count[z])
                        continue;
                for (size_t i = z; i < c->n_instances; i++) {
                        const struct placement_instance *ci = &c->instances[i];
                        if (!streq(attribute_cell(ci, "ecs.availability-zone"), zone))
                                continue;
                        zones_done[i] = 1;
                        if (!count[i])
                                continue;
                        total += count[i];
                        if (print_run_columns(zone, placement_instance_short_id(ci),
                                              ci->ec2_instance_id ? ci->ec2_instance_id : "-",
                                              attribute_cell(ci, "ecs.instance-type")) < 0)
                                return -ENOMEM;
                        printf("%5u  %8lld  %11lld\n", count[i], (long long)ci->remaining.cpu,
                               (long long)ci->remaining.memory);
                }
                if (print_run_columns(zone, "(zone total)", "", "") < 0)
                        return -ENOMEM;
                printf("%5u\n", total);
        }
        printf("%zu placed, %zu failed", placed, failed);
        for (size_t t = 0; t < res->n_tasks; t++)
                if (res->tasks[t].reason) {
                        printf(" (task %zu: %s)", t + 1, res->tasks[t].reason);
                        break;
                }
        printf(", seed %llu\n", (unsigned long long)seed);
        return 0;
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

/* A request the library refused: with the expression and a caret when the
 * error is in a memberOf expression.  Returns -EINVAL. */
static int request_error(const struct placement_error *e, const char *expression) {
        if (expression && e->line > 0)
                print_expression_error(e, expression);
        else
                print_error(NULL, e->message);
        return -EINVAL;
}

/* What `run` and `service` were told; the placement options go straight
 * into the request. */
struct run_options {
        bool service;
        const char *instances, *tasks, *taskdef, *service_name;
        unsigned long long desired;
        bool has_desired, seeded, explain;
        enum output output;
        const char *expression; /* a memberOf expression that did not parse (borrowed) */
};

enum {
        OPT_INSTANCES = 0x100,
        OPT_TASKS,
        OPT_TASK_DEFINITION,
        OPT_COUNT,
        OPT_GROUP,
        OPT_DESIRED_COUNT,
        OPT_SERVICE_NAME,
        OPT_SEED,
        OPT_LAUNCH_TYPE,
        OPT_OUTPUT,
        OPT_EXPLAIN,
        OPT_CONSTRAINTS,
        OPT_STRATEGY,
};

/* run's and service's options in one table; run_option_allowed() says
 * which command takes which.  The placement options take one or more
 * values, which getopt_long() has no kind for: they are declared without an
 * argument and take_values() reads their values. */
static const struct option run_options[] = {
        {"instances", required_argument, NULL, OPT_INSTANCES},
        {"tasks", required_argument, NULL, OPT_TASKS},
        {"task-definition", required_argument, NULL, OPT_TASK_DEFINITION},
        {"count", required_argument, NULL, OPT_COUNT},
        {"group", required_argument, NULL, OPT_GROUP},
        {"desired-count", required_argument, NULL, OPT_DESIRED_COUNT},
        {"service-name", required_argument, NULL, OPT_SERVICE_NAME},
        {"seed", required_argument, NULL, OPT_SEED},
        {"launch-type", required_argument, NULL, OPT_LAUNCH_TYPE},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {"placement-constraints", no_argument, NULL, OPT_CONSTRAINTS},
        {"placement-strategy", no_argument, NULL, OPT_STRATEGY},
        {"help", no_argument, NULL, 'h'},
        {},
};

/* `service` is RunTask with the service's group and count: it takes no
 * --count or --group, and `run` no --desired-count or --service-name. */
static bool run_option_allowed(int opt, bool service) {
        switch (opt) {
        case OPT_COUNT:
        case OPT_GROUP:
                return !service;
        case OPT_DESIRED_COUNT:
        case OPT_SERVICE_NAME:
                return service;
        }
        return true;
}

static int unknown_option(const char *arg) {
        fprintf(stderr, "error: unknown option '%s'\n", arg);
        return -EINVAL;
}

/* --placement-constraints C... / --placement-strategy S...: as the AWS CLI
 * takes them, one or more values, up to the next argument that begins with
 * "--" (a value may begin with a single '-').  Reads them from argv[optind]
 * on and moves optind past them, which getopt_long() allows: in the "-"
 * mode run_parse_options() uses it permutes nothing. */
static int take_values(int argc, char **argv, const char *option, bool constraints,
                       struct placement_request *req, struct run_options *o) {
        struct placement_error e = {};
        size_t n = 0;
        int r;

        for (; optind < argc && strncmp(argv[optind], "--", 2) != 0; optind++, n++) {
                r = constraints ? placement_request_add_constraints(req, argv[optind],
                                                                    &o->expression, &e)
                                : placement_request_add_strategies(req, argv[optind], &e);
                if (r < 0)
                        return request_error(&e, o->expression);
        }
        if (n == 0) {
                fprintf(stderr, "error: %s needs a value\n", option);
                return -EINVAL;
        }
        return 1;
}

/* The numbers and words an option takes; 1, or <0 with the error said. */
static int run_option_value(int opt, const char *value, struct placement_request *req,
                            struct run_options *o) {
        unsigned long long v;

        switch (opt) {
        case OPT_COUNT:
                if (!parse_uint(value, 100000, &v) || v == 0) {
                        fprintf(stderr, "error: --count: '%s' is not 1..100000\n", value);
                        return -EINVAL;
                }
                req->count = (unsigned)v;
                return 1;
        case OPT_DESIRED_COUNT:
                if (!parse_uint(value, 100000, &o->desired)) {
                        fprintf(stderr, "error: --desired-count: '%s' is not 0..100000\n", value);
                        return -EINVAL;
                }
                o->has_desired = true;
                return 1;
        case OPT_SEED:
                if (!parse_uint(value, UINT64_MAX, &v)) {
                        fprintf(stderr, "error: --seed: '%s' is not a number\n", value);
                        return -EINVAL;
                }
                req->seed = v;
                o->seeded = true;
                return 1;
        case OPT_LAUNCH_TYPE:
                if (!streq(value, "EC2") && !streq(value, "FARGATE")) {
                        fprintf(stderr, "error: --launch-type: '%s' is not EC2 or FARGATE\n",
                                value);
                        return -EINVAL;
                }
                req->fargate = streq(value, "FARGATE");
                return 1;
        case OPT_OUTPUT:
                if (parse_output(value, (const char *const[]){"json", "table", "svg", NULL},
                                 &o->output) < 0)
                        return -EINVAL;
                return 1;
        }
        return -EINVAL;
}

/* One option getopt_long() returned for the argument arg, as typed.  1: go
 * on; 0: done (--help); <0: bad usage, said. */
static int run_option(int opt, const char *arg, int argc, char **argv,
                      struct placement_request *req, struct run_options *o) {
        if (!run_option_allowed(opt == ':' ? optopt : opt, o->service))
                return unknown_option(arg);
        switch (opt) {
        case OPT_INSTANCES:
                o->instances = optarg;
                return 1;
        case OPT_TASKS:
                o->tasks = optarg;
                return 1;
        case OPT_TASK_DEFINITION:
                o->taskdef = optarg;
                return 1;
        case OPT_SERVICE_NAME:
                o->service_name = optarg;
                return 1;
        case OPT_GROUP:
                free(req->group);
                req->group = strdup(optarg);
                if (!req->group) {
                        fprintf(stderr, "error: out of memory\n");
                        return -ENOMEM;
                }
                return 1;
        case OPT_COUNT:
        case OPT_DESIRED_COUNT:
        case OPT_SEED:
        case OPT_LAUNCH_TYPE:
        case OPT_OUTPUT:
                return run_option_value(opt, optarg, req, o);
        case OPT_EXPLAIN:
                o->explain = true;
                return 1;
        case OPT_CONSTRAINTS:
        case OPT_STRATEGY:
                return take_values(argc, argv, arg, opt == OPT_CONSTRAINTS, req, o);
        case 'h':
                usage(stdout);
                return 0;
        case ':':
                fprintf(stderr, "error: %s needs a value\n", arg);
                return -EINVAL;
        }
        return unknown_option(arg); /* '?', or 1: a word where an option belongs */
}

/* 1: go on; 0: done (--help); <0: bad usage, said.  Options are read in
 * order ("-": a non-option comes back as 1, and nothing is permuted), and
 * getopt_long() is silent (":" and opterr = 0): the messages are ecs-place's. */
static int run_parse_options(int argc, char **argv, struct placement_request *req,
                             struct run_options *o) {
        const char *command = o->service ? "service" : "run";

        optind = 1;
        opterr = 0;
        for (;;) {
                int at = optind, opt, r;

                /* getopt_long() would end the options at "--"; these commands
                 * have no operands, so it is unknown like any other word. */
                if (at < argc && streq(argv[at], "--"))
                        return unknown_option(argv[at]);
                opt = getopt_long(argc, argv, "-:h", run_options, NULL);
                if (opt < 0)
                        break;
                r = run_option(opt, argv[at], argc, argv, req, o);
                if (r <= 0)
                        return r;
        }
        if (!o->instances || !o->taskdef) {
                fprintf(stderr, "error: %s needs --instances FILE and --task-definition FILE\n",
                        command);
                return -EINVAL;
        }
        if (o->service && (!o->service_name || !o->has_desired)) {
                fprintf(stderr, "error: service needs --service-name S and --desired-count N\n");
                return -EINVAL;
        }
        return 1;
}

static int load_taskdef(const char *path, struct placement_taskdef **ret) {
        _cleanup_free_ char *text = NULL;
        struct placement_error e = {};
        size_t len = 0;
        int r;

        r = read_input(path, &text, &len);
        if (r < 0)
                return r;
        r = placement_taskdef_parse(ret, text, len, &e);
        if (r < 0)
                print_input_error(path, &e);
        return r;
}

/* The request the library places: a service's, then checked.  *existing
 * gets a service's tasks already running (-1 for run).  Returns the exit
 * status when it fails, 0 when it does not. */
static int run_request(struct placement_request *req, struct run_options *o,
                       const struct placement_cluster *c, const struct placement_taskdef *td,
                       long *existing) {
        struct placement_error e = {};

        *existing = -1;
        if (o->service) {
                size_t found = 0;
                if (placement_request_service(req, c, o->service_name, (unsigned)o->desired, &found,
                                              &e) < 0) {
                        print_error(NULL, e.message);
                        return EXIT_INPUT;
                }
                *existing = (long)found;
        }
        req->taskdef = td;
        if (placement_request_validate(req, &o->expression, &e) < 0) {
                request_error(&e, o->expression);
                return EXIT_USAGE;
        }
        if (!o->seeded) /* reported in the output, so any run can be replayed */
                req->seed = ((uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid()) &
                            ((1ULL << 53) - 1);
        return 0;
}

static bool run_too_much_work(const struct placement_request *req,
                              const struct placement_cluster *c) {
        char doing[128];

        snprintf(doing, sizeof(doing), "placing %u task%s (%zu constraint%s, %zu strateg%s) on",
                 req->count, req->count == 1 ? "" : "s", req->n_constraints,
                 req->n_constraints == 1 ? "" : "s", req->n_strategies,
                 req->n_strategies == 1 ? "y" : "ies");
        return too_much_work(doing, placement_run_work(c, req), c);
}

/* `run` and `service`: one command, since `service` is RunTask with the
 * service's group, its default strategies and its existing tasks. */
static int cmd_run(int argc, char **argv, bool service) {
        _cleanup_(placement_cluster_freep) struct placement_cluster *c = NULL;
        _cleanup_(placement_taskdef_freep) struct placement_taskdef *td = NULL;
        _cleanup_(placement_result_freep) struct placement_result *res = NULL;
        _cleanup_(placement_request_done) struct placement_request req = {.count = 1};
        struct run_options o = {.service = service};
        long existing;
        int r;

        r = run_parse_options(argc, argv, &req, &o);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        if (load_taskdef(o.taskdef, &td) < 0 || load_cluster(&c, o.instances, o.tasks) < 0)
                return EXIT_INPUT;
        r = run_request(&req, &o, c, td, &existing);
        if (r != 0)
                return r;
        if (run_too_much_work(&req, c))
                return EXIT_INPUT;
        if (o.output == OUTPUT_SVG)
                r = run_svg(c, &req, service ? o.service_name : NULL, existing);
        else {
                r = placement_run(c, &req, &res);
                if (r >= 0)
                        r = o.output == OUTPUT_TABLE
                                    ? print_run_table(res, c, req.seed)
                                    : print_run_json(res, c, td, req.seed, existing, o.explain);
        }
        if (r < 0) {
                fprintf(stderr, "error: %s\n", failure_message(r));
                return EXIT_INPUT;
        }
        return 0;
}

/* ---- resilience ---- */

/* Arguments given to an option that may be repeated (borrowed from argv). */
struct arg_list {
        const char **v;
        size_t n;
};

static int arg_list_add(struct arg_list *l, const char *arg) {
        const char **grown = realloc(l->v, (l->n + 1) * sizeof(*grown));

        if (!grown) {
                fprintf(stderr, "error: out of memory\n");
                return -ENOMEM;
        }
        l->v = grown;
        l->v[l->n++] = arg;
        return 0;
}

struct resilience_options {
        struct arg_list instances, tasks, services, taskdefs, lose;
        const char *show; /* the failure --output svg pictures */
        double min_headroom;
        uint64_t seed;
        enum output output;
};

static void resilience_options_done(struct resilience_options *o) {
        free(o->instances.v);
        free(o->tasks.v);
        free(o->services.v);
        free(o->taskdefs.v);
        free(o->lose.v);
}

enum {
        OPT_R_INSTANCES = 0x200,
        OPT_R_TASKS,
        OPT_R_SERVICES,
        OPT_R_TASK_DEFINITIONS,
        OPT_R_LOSE,
        OPT_R_MIN_HEADROOM,
        OPT_R_SEED,
        OPT_R_OUTPUT,
        OPT_R_SHOW,
};

/* --min-headroom: a fraction (0.2) or a percentage (20%). */
static int parse_fraction(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (end != s && streq(end, "%"))
                v /= 100;
        else if (end == s || *end)
                return -EINVAL;
        if (errno != 0 || !(v >= 0 && v <= 1))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The options that take one value.  1, or <0 with the error said. */
static int resilience_option_value(int opt, const char *value, struct resilience_options *o) {
        unsigned long long seed;

        switch (opt) {
        case OPT_R_INSTANCES:
                return arg_list_add(&o->instances, value) < 0 ? -ENOMEM : 1;
        case OPT_R_TASKS:
                return arg_list_add(&o->tasks, value) < 0 ? -ENOMEM : 1;
        case OPT_R_SERVICES:
                return arg_list_add(&o->services, value) < 0 ? -ENOMEM : 1;
        case OPT_R_LOSE:
                return arg_list_add(&o->lose, value) < 0 ? -ENOMEM : 1;
        case OPT_R_SHOW:
                o->show = value;
                return 1;
        case OPT_R_MIN_HEADROOM:
                if (parse_fraction(value, &o->min_headroom) < 0) {
                        fprintf(stderr, "error: --min-headroom: '%s' is not 0..1 or 0%%..100%%\n",
                                value);
                        return -EINVAL;
                }
                return 1;
        case OPT_R_SEED:
                if (!parse_uint(value, UINT64_MAX, &seed)) {
                        fprintf(stderr, "error: --seed: '%s' is not a number\n", value);
                        return -EINVAL;
                }
                o->seed = seed;
                return 1;
        case OPT_R_OUTPUT:
                if (parse_output(value, (const char *const[]){"table", "json", "svg", NULL},
                                 &o->output) < 0)
                        return -EINVAL;
                return 1;
        }
        return -EINVAL;
}

/* --task-definitions FILE|DIR...: one or more values, as take_values(). */
static int take_paths(int argc, char **argv, const char *option, struct arg_list *l) {
        size_t n = 0;

        for (; optind < argc && strncmp(argv[optind], "--", 2) != 0; optind++, n++)
                if (arg_list_add(l, argv[optind]) < 0)
                        return -ENOMEM;
        if (n == 0) {
                fprintf(stderr, "error: %s needs a value\n", option);
                return -EINVAL;
        }
        return 1;
}

static const struct option resilience_options[] = {
        {"instances", required_argument, NULL, OPT_R_INSTANCES},
        {"tasks", required_argument, NULL, OPT_R_TASKS},
        {"services", required_argument, NULL, OPT_R_SERVICES},
        {"task-definitions", no_argument, NULL, OPT_R_TASK_DEFINITIONS},
        {"lose", required_argument, NULL, OPT_R_LOSE},
        {"min-headroom", required_argument, NULL, OPT_R_MIN_HEADROOM},
        {"seed", required_argument, NULL, OPT_R_SEED},
        {"output", required_argument, NULL, OPT_R_OUTPUT},
        {"show", required_argument, NULL, OPT_R_SHOW},
        {"help", no_argument, NULL, 'h'},
        {},
};

/* 1: go on; 0: done (--help); <0: bad usage, said. */
static int resilience_parse_options(int argc, char **argv, struct resilience_options *o) {
        optind = 1;
        opterr = 0;
        for (;;) {
                int at = optind, opt, r;

                if (at < argc && streq(argv[at], "--"))
                        return unknown_option(argv[at]);
                opt = getopt_long(argc, argv, "-:h", resilience_options, NULL);
                if (opt < 0)
                        break;
                if (opt == 'h') {
                        usage(stdout);
                        return 0;
                }
                if (opt == ':') {
                        fprintf(stderr, "error: %s needs a value\n", argv[at]);
                        return -EINVAL;
                }
                if (opt == '?' || opt == 1)
                        return unknown_option(argv[at]);
                r = opt == OPT_R_TASK_DEFINITIONS ? take_paths(argc, argv, argv[at], &o->taskdefs)
                                                  : resilience_option_value(opt, optarg, o);
                if (r < 0)
                        return r;
        }
        if (o->instances.n == 0 || o->services.n == 0 || o->taskdefs.n == 0) {
                fprintf(stderr, "error: resilience needs --instances FILE, --services FILE and "
                                "--task-definitions FILE...\n");
                return -EINVAL;
        }
        return 1;
}

/* Every --instances file, then every --tasks file, into one cluster. */
static int load_cluster_lists(struct placement_cluster **ret, const struct arg_list *instances,
                              const struct arg_list *tasks) {
        _cleanup_(placement_cluster_freep) struct placement_cluster *c = NULL;
        int r;

        r = placement_cluster_new(&c);
        if (r < 0) {
                fprintf(stderr, "error: %s\n", strerror(-r));
                return r;
        }
        for (size_t i = 0; i < instances->n; i++)
                if ((r = load(c, instances->v[i], false)) < 0)
                        return r;
        for (size_t i = 0; i < tasks->n; i++)
                if ((r = load(c, tasks->v[i], true)) < 0)
                        return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static int load_services(struct placement_services **ret, const struct arg_list *paths) {
        _cleanup_(placement_services_freep) struct placement_services *s = NULL;
        int r;

        if (placement_services_new(&s) < 0) {
                fprintf(stderr, "error: out of memory\n");
                return -ENOMEM;
        }
        for (size_t i = 0; i < paths->n; i++) {
                _cleanup_free_ char *text = NULL;
                struct placement_error e = {};
                size_t len = 0;

                r = read_input(paths->v[i], &text, &len);
                if (r < 0)
                        return r;
                r = placement_services_load(s, text, len, &e);
                if (r < 0) {
                        print_input_error(paths->v[i], &e);
                        return r;
                }
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* The task definitions a resilience run was given, owned. */
struct taskdef_list {
        struct placement_taskdef **v;
        size_t n;
};

static void taskdef_list_done(struct taskdef_list *l) {
        for (size_t i = 0; i < l->n; i++)
                placement_taskdef_free(l->v[i]);
        free(l->v);
}

static int taskdef_list_load(struct taskdef_list *l, const char *path) {
        struct placement_taskdef **grown = realloc(l->v, (l->n + 1) * sizeof(*grown));

        if (!grown) {
                fprintf(stderr, "error: out of memory\n");
                return -ENOMEM;
        }
        l->v = grown;
        if (load_taskdef(path, &l->v[l->n]) < 0)
                return -EINVAL;
        l->n++;
        return 0;
}

static int json_file(const struct dirent *d) {
        size_t n = strlen(d->d_name);

        return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".json");
}

/* A directory's *.json files, in name order, each a task definition. */
static int taskdef_list_load_dir(struct taskdef_list *l, const char *dir) {
        struct dirent **names = NULL;
        int n = scandir(dir, &names, json_file, alphasort), r = 0;

        if (n < 0) {
                print_error(dir, strerror(errno));
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;

                if (r >= 0 && asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                }
                if (r >= 0)
                        r = taskdef_list_load(l, path);
                free(names[i]);
        }
        free(names);
        if (r >= 0 && n == 0) {
                print_error(dir, "no *.json file (task definitions) in this directory");
                r = -EINVAL;
        }
        return r;
}

static int load_taskdefs(struct taskdef_list *l, const struct arg_list *paths) {
        for (size_t i = 0; i < paths->n; i++) {
                struct stat st;
                int r;

                if (!streq(paths->v[i], "-") && stat(paths->v[i], &st) == 0 && S_ISDIR(st.st_mode))
                        r = taskdef_list_load_dir(l, paths->v[i]);
                else
                        r = taskdef_list_load(l, paths->v[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct {
        const char *word;
        enum placement_loss kind;
} loss_words[] = {
        {"instance", PLACEMENT_LOSE_INSTANCE},
        {"zone", PLACEMENT_LOSE_ZONE},
        {"instance-type", PLACEMENT_LOSE_INSTANCE_TYPE},
        {"pool", PLACEMENT_LOSE_POOL},
};

/* The queries of --lose expressions, which the analysis borrows. */
struct query_list {
        struct placement_query **v;
        size_t n;
};

static void query_list_done(struct query_list *l) {
        for (size_t i = 0; i < l->n; i++)
                placement_query_free(l->v[i]);
        free(l->v);
}

/* One --lose: a word, or a cluster query expression (all it selects at once). */
static int add_loss(struct placement_resilience *r, const char *arg, struct query_list *queries) {
        struct placement_error e = {};
        struct placement_query **grown;
        int k;

        for (size_t w = 0; w < ELEMENTSOF(loss_words); w++)
                if (streq(arg, loss_words[w].word)) {
                        k = placement_resilience_add(r, loss_words[w].kind, NULL, NULL, &e);
                        if (k < 0)
                                print_error(NULL, e.message);
                        return k;
                }
        grown = realloc(queries->v, (queries->n + 1) * sizeof(*grown));
        if (!grown) {
                fprintf(stderr, "error: out of memory\n");
                return -ENOMEM;
        }
        queries->v = grown;
        if (parse_expression(arg, &queries->v[queries->n]) < 0) {
                fprintf(stderr, "error: --lose takes instance, zone, instance-type, pool or a "
                                "cluster query expression\n");
                return -EINVAL;
        }
        k = placement_resilience_add(r, PLACEMENT_LOSE_EXPRESSION, queries->v[queries->n++], arg,
                                     &e);
        if (k < 0 && k != -EINVAL && k != -ENOMEM)
                fprintf(stderr, "error: --lose '%s': %s\n", arg, failure_message(k));
        else if (k < 0)
                print_error(NULL, e.message);
        return k;
}

/* The failure --output svg pictures: --show's, or the first not survived
 * (else the first).  SIZE_MAX: none, the baseline. */
static int failure_to_show(const struct placement_resilience *r, const char *show, size_t *ret) {
        *ret = r->n_failures ? 0 : SIZE_MAX;
        for (size_t k = 0; k < r->n_failures; k++)
                if (show ? streq(r->failures[k].name, show) : !r->failures[k].survived) {
                        *ret = k;
                        return 0;
                }
        if (!show)
                return 0;
        if (streq(show, "baseline")) {
                *ret = SIZE_MAX;
                return 0;
        }
        fputs("error: --show: no failure is called '", stderr);
        fputs_escaped(show, true, stderr);
        fputs("' (a zone, an instance type, 'TYPE in ZONE', an instance's EC2 id, an expression "
              "as given, or baseline)\n",
              stderr);
        return -EINVAL;
}

static int print_resilience(struct placement_resilience *r, const struct resilience_options *o) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ char *text = NULL, *cluster = NULL;
        size_t show;
        int k;

        switch (o->output) {
        case OUTPUT_JSON:
                cluster = cluster_arn(r->c);
                if (!cluster || placement_report_json(r, cluster, &doc) < 0)
                        return -ENOMEM;
                print_json(doc, 0);
                putchar('\n');
                return 0;
        case OUTPUT_SVG:
                k = failure_to_show(r, o->show, &show);
                if (k < 0)
                        return k;
                k = placement_resilience_show(r, show);
                if (k < 0)
                        return k;
                return print_resilience_svg(r, show);
        default:
                if (placement_report_table(r, &text) < 0)
                        return -ENOMEM;
                fputs(text, stdout);
                return 0;
        }
}

/* Exit status: 0 every failure survived, 1 one was not, 2 bad input. */
static int cmd_resilience(int argc, char **argv) {
        _cleanup_(resilience_options_done) struct resilience_options o = {
                .min_headroom = -1, .seed = 1, .output = OUTPUT_TABLE};
        _cleanup_(placement_cluster_freep) struct placement_cluster *c = NULL;
        _cleanup_(placement_services_freep) struct placement_services *services = NULL;
        _cleanup_(placement_resilience_freep) struct placement_resilience *r = NULL;
        _cleanup_(taskdef_list_done) struct taskdef_list tds = {};
        _cleanup_(query_list_done) struct query_list queries = {};
        struct placement_error e = {};
        int k;

        k = resilience_parse_options(argc, argv, &o);
        if (k <= 0)
                return k < 0 ? EXIT_USAGE : 0;
        if (load_cluster_lists(&c, &o.instances, &o.tasks) < 0 ||
            load_services(&services, &o.services) < 0 || load_taskdefs(&tds, &o.taskdefs) < 0)
                return EXIT_USAGE;
        if (placement_resilience_new(&r, c, services, tds.v, tds.n, o.seed, &e) < 0) {
                print_error(NULL, e.message);
                return EXIT_USAGE;
        }
        r->min_headroom = o.min_headroom;
        if (o.lose.n == 0 &&
            (arg_list_add(&o.lose, "zone") < 0 || arg_list_add(&o.lose, "pool") < 0))
                return EXIT_USAGE;
        for (size_t i = 0; i < o.lose.n; i++)
                if (add_loss(r, o.lose.v[i], &queries) < 0)
                        return EXIT_USAGE;
        if (too_much_work("simulating the failures of", placement_resilience_work(r), c))
                return EXIT_USAGE;
        k = placement_resilience_run(r);
        if (k >= 0)
                k = print_resilience(r, &o);
        if (k < 0) {
                if (k != -EINVAL)
                        fprintf(stderr, "error: %s\n", failure_message(k));
                return EXIT_USAGE;
        }
        return r->survived ? 0 : 1;
}

static int dispatch(int argc, char **argv) {
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
        if (streq(argv[1], "resilience"))
                return cmd_resilience(argc - 1, argv + 1);
        fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
}

int main(int argc, char **argv) {
        int ret = dispatch(argc, argv), err;

        /* Every result goes through stdout's buffer: a write that failed (a
         * full disk, say) shows here, once, and is not an answer. */
        err = fflush(stdout) != 0 ? errno : ferror(stdout) ? EIO : 0;
        if (err != 0) {
                fprintf(stderr, "error: standard output: %s\n", strerror(err));
                return ret != 0 ? ret : EXIT_INPUT;
        }
        return ret;
}
