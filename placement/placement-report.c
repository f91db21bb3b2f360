/* placement-report.c: words, a table and JSON for a resilience analysis.
 * Every value that came from an input file reaches the table through
 * placement_escape() (ASCII form), and the JSON as a cJSON string, which
 * ecs-place prints escaped; numbers are the analysis's own.  Percentages are
 * rounded down, so that a headroom is never shown larger than it is. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement-escape.h"
#include "placement-query.h"
#include "placement-report.h"

#define streq(a, b) (strcmp((a), (b)) == 0)
#define LIST_MAX 6 /* instances or failures a table line names before "+N more" */
/* [doc] The first sentence of the service event ECS writes when it cannot
 * place a service's task. */
#define EVENT_FORMAT                                                                               \
        "service %s was unable to place a task because no container instance met all of its "      \
        "requirements."

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, placement_query_strv_free);

/* A stream that fills a string; done() hands it over (NULL when anything
 * failed: open_memstream() writes land in the string only at fclose()). */
struct text {
        FILE *f;
        char *s;
        size_t size;
};

static int text_open(struct text *t) {
        *t = (struct text){};
        t->f = open_memstream(&t->s, &t->size);
        return t->f ? 0 : -ENOMEM;
}

static int text_done(struct text *t, char **ret) {
        bool bad = ferror(t->f);

        if (fclose(t->f) != 0 || bad || !t->s) {
                free(t->s);
                return -ENOMEM;
        }
        *ret = t->s;
        return 0;
}

/* s as the table shows a value from a file. */
static void put(FILE *f, const char *s) {
        _cleanup_free_ char *e = placement_escape(s ? s : "-", false);

        fputs(e ? e : "?", f);
}

static const char *instance_label(const struct placement_instance *ci) {
        return ci->ec2_instance_id ? ci->ec2_instance_id : placement_instance_short_id(ci);
}

static const char *attribute_value(const struct placement_instance *ci, const char *name) {
        const struct placement_attribute *a = placement_instance_attribute(ci, name);

        return a && a->value ? a->value : NULL;
}

static unsigned percent(int64_t left, int64_t registered) {
        return registered > 0 ? (unsigned)((left * 100) / registered) : 0;
}

static const char *plural(uint64_t n) {
        return n == 1 ? "" : "s";
}

/* What losing f is called in a sentence. */
static void subject(FILE *m, const struct placement_resilience *r,
                    const struct placement_failure *f) {
        if (f == &r->baseline)
                fputs("before any loss", m);
        else
                fprintf(m, "losing %s", f->name);
}

static void shortfall_words(FILE *m, const struct placement_resilience *r,
                            const struct placement_outcome *o) {
        fprintf(m, "%s %" PRIu64 " task%s short (", r->services[o->service].group, o->short_tasks,
                plural(o->short_tasks));
        for (size_t k = 0; k < o->n_short_by; k++)
                fprintf(m, "%s%s", k ? ", " : "", o->short_by[k].reason);
        fputc(')', m);
}

static void headroom_words(FILE *m, const struct placement_headroom *h) {
        fprintf(m, "%u%% of CPU and %u%% of memory left", percent(h->cpu_left, h->cpu_registered),
                percent(h->memory_left, h->memory_registered));
}

/* Which resource is below --min-headroom ("memory below the minimum of 20%"). */
static void low_headroom_words(FILE *m, const struct placement_resilience *r,
                               const struct placement_headroom *h) {
        /* As placement-resilience.c's headroom_low() judges it. */
        double min = r->min_headroom;
        bool cpu =
                (h->cpu_registered > 0 ? (double)h->cpu_left / (double)h->cpu_registered : 0) < min;
        bool memory =
                (h->memory_registered > 0 ? (double)h->memory_left / (double)h->memory_registered
                                          : 0) < min;

        fprintf(m, ", %s below the minimum of %g%%",
                cpu && memory ? "CPU and memory"
                : cpu         ? "CPU"
                              : "memory",
                min * 100);
}

int placement_report_verdict(const struct placement_resilience *r,
                             const struct placement_failure *f, char **ret) {
        struct text t;
        size_t n_short = 0;

        if (text_open(&t) < 0)
                return -ENOMEM;
        subject(t.f, r, f);
        for (size_t k = 0; k < f->n_outcomes; k++) {
                if (f->outcomes[k].short_tasks == 0)
                        continue;
                fputs(n_short++ ? ", " : " leaves ", t.f);
                shortfall_words(t.f, r, &f->outcomes[k]);
        }
        if (n_short == 0)
                fputs(f == &r->baseline ? ": every service has its desired count, "
                                        : ": every service keeps its desired count, ",
                      t.f);
        else
                fputs("; ", t.f);
        headroom_words(t.f, &f->total);
        if (f->low_headroom)
                low_headroom_words(t.f, r, &f->total);
        return text_done(&t, ret);
}

/* "any one zone", or the expression: what a verdict line is about. */
static const char *kind_words(enum placement_loss kind) {
        switch (kind) {
        case PLACEMENT_LOSE_INSTANCE:
                return "any one container instance";
        case PLACEMENT_LOSE_ZONE:
                return "any one zone";
        case PLACEMENT_LOSE_INSTANCE_TYPE:
                return "any one instance type";
        case PLACEMENT_LOSE_POOL:
                return "any one pool (instance type x zone)";
        default:
                return NULL;
        }
}

/* The verdict line of the failures of kind (an expression: failure e). */
static int verdict_line(const struct placement_resilience *r, enum placement_loss kind,
                        const struct placement_failure *e, char **ret) {
        struct text t;
        size_t lost = 0, total = 0;

        if (text_open(&t) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < r->n_failures; k++) {
                const struct placement_failure *f = &r->failures[k];
                if (f->kind != kind || (e && f != e))
                        continue;
                total++;
                if (!f->survived)
                        lost++;
        }
        fprintf(t.f, "survives the loss of %s: %s", e ? e->name : kind_words(kind),
                lost ? "no" : "yes");
        if (lost && total > 1)
                fprintf(t.f, " (%zu of %zu not survived: ", lost, total);
        for (size_t k = 0, shown = 0; lost && total > 1 && k < r->n_failures; k++) {
                const struct placement_failure *f = &r->failures[k];
                if (f->kind != kind || f->survived)
                        continue;
                if (shown < LIST_MAX)
                        fprintf(t.f, "%s%s", shown ? ", " : "", f->name);
                else if (shown == LIST_MAX)
                        fprintf(t.f, ", +%zu more", lost - LIST_MAX);
                shown++;
        }
        if (lost && total > 1)
                fputc(')', t.f);
        return text_done(&t, ret);
}

int placement_report_verdicts(const struct placement_resilience *r, char ***ret) {
        _cleanup_(placement_query_strv_freep) char **v = calloc(r->n_failures + 1, sizeof(*v));
        bool seen[_PLACEMENT_LOSE_MAX] = {};
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        /* Kinds in the order of their first failure; each expression apart. */
        for (size_t k = 0; k < r->n_failures; k++) {
                const struct placement_failure *f = &r->failures[k];
                bool expression = f->kind == PLACEMENT_LOSE_EXPRESSION;
                int e;

                if (!expression && seen[f->kind])
                        continue;
                seen[f->kind] = true;
                e = verdict_line(r, f->kind, expression ? f : NULL, &v[n]);
                if (e < 0)
                        return e;
                n++;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- the table ---- */

static void table_lost(FILE *m, const struct placement_resilience *r,
                       const struct placement_failure *f) {
        fprintf(m, "%zu container instance%s (", f->n_lost, plural(f->n_lost));
        for (size_t l = 0; l < f->n_lost && l < LIST_MAX; l++) {
                const struct placement_instance *ci = &r->c->instances[f->lost[l]];
                fputs(l ? ", " : "", m);
                put(m, instance_label(ci));
                fputc(' ', m);
                put(m, attribute_value(ci, "ecs.instance-type"));
                if (!streq(ci->status, "ACTIVE")) {
                        fputc(' ', m);
                        put(m, ci->status);
                }
        }
        if (f->n_lost > LIST_MAX)
                fprintf(m, ", +%zu more", f->n_lost - LIST_MAX);
        fprintf(m, "), %" PRIu64 " standalone task%s lost\n", f->standalone_lost,
                plural(f->standalone_lost));
}

/* Where a service's replacements went ("i-1 i-2"), or why they did not. */
static void table_where(FILE *m, const struct placement_resilience *r,
                        const struct placement_outcome *o) {
        for (size_t p = 0; p < o->n_placed && p < LIST_MAX; p++) {
                fputs(p ? " " : "", m);
                put(m, instance_label(&r->c->instances[o->placed[p]]));
        }
        if (o->n_placed > LIST_MAX)
                fprintf(m, " +%zu more", o->n_placed - LIST_MAX);
        for (size_t k = 0; k < o->n_short_by; k++)
                fprintf(m, "%s%s (%" PRIu64 ")", o->n_placed || k ? "; " : "",
                        o->short_by[k].reason, o->short_by[k].tasks);
        if (o->n_placed == 0 && o->n_short_by == 0)
                fputs("-", m);
        fputc('\n', m);
}

/* The services column is as wide as the longest group shown. */
static int table_services(FILE *m, const struct placement_resilience *r,
                          const struct placement_failure *f) {
        size_t width = strlen("SERVICE");

        if (f->n_outcomes == 0) {
                fputs(f == &r->baseline ? "  no service was missing a task\n"
                                        : "  no service had a task there\n",
                      m);
                return 0;
        }
        for (size_t k = 0; k < f->n_outcomes; k++) {
                _cleanup_free_ char *g =
                        placement_escape(r->services[f->outcomes[k].service].group, false);
                if (!g)
                        return -ENOMEM;
                if (strlen(g) > width)
                        width = strlen(g);
        }
        fprintf(m, "  %-*s  %7s  %4s  %6s  %5s  %s\n", (int)width, "SERVICE", "DESIRED", "LOST",
                "PLACED", "SHORT", "WHERE / WHY");
        for (size_t k = 0; k < f->n_outcomes; k++) {
                const struct placement_outcome *o = &f->outcomes[k];
                const struct placement_resilience_service *rs = &r->services[o->service];
                _cleanup_free_ char *g = placement_escape(rs->group, false);

                if (!g)
                        return -ENOMEM;
                fprintf(m, "  %-*s  %7lld  %4" PRIu64 "  %6zu  %5" PRIu64 "  ", (int)width, g,
                        (long long)rs->service->desired, o->displaced, o->n_placed, o->short_tasks);
                table_where(m, r, o);
        }
        return 0;
}

static void headroom_cells(FILE *m, const struct placement_headroom *h) {
        char cpu[64], memory[64];

        snprintf(cpu, sizeof(cpu), "%lld of %lld (%u%%)", (long long)h->cpu_left,
                 (long long)h->cpu_registered, percent(h->cpu_left, h->cpu_registered));
        snprintf(memory, sizeof(memory), "%lld of %lld (%u%%)", (long long)h->memory_left,
                 (long long)h->memory_registered, percent(h->memory_left, h->memory_registered));
        fprintf(m, "%-24s  %s\n", cpu, memory);
}

static void table_headroom(FILE *m, const struct placement_failure *f) {
        size_t width = strlen("(all zones)");

        for (size_t z = 0; z < f->n_zones; z++) {
                _cleanup_free_ char *name = placement_escape(f->zones[z].zone, false);
                if (name && strlen(name) > width)
                        width = strlen(name);
        }
        fprintf(m, "  %-*s  %-24s  %s\n", (int)width, "ZONE", "CPU LEFT", "MEMORY LEFT (MiB)");
        for (size_t z = 0; z < f->n_zones; z++) {
                _cleanup_free_ char *name = placement_escape(f->zones[z].zone, false);
                fprintf(m, "  %-*s  ", (int)width, name ? name : "?");
                headroom_cells(m, &f->zones[z]);
        }
        fprintf(m, "  %-*s  ", (int)width, "(all zones)");
        headroom_cells(m, &f->total);
}

static int table_failure(FILE *m, const struct placement_resilience *r,
                         const struct placement_failure *f) {
        _cleanup_free_ char *verdict = NULL;
        int k;

        if (f == &r->baseline)
                fputs("BEFORE ANY LOSS\n", m);
        else {
                fprintf(m, "LOSE %s ", placement_loss_to_string(f->kind));
                put(m, f->name);
                fputs(": ", m);
                table_lost(m, r, f);
        }
        k = table_services(m, r, f);
        if (k < 0)
                return k;
        table_headroom(m, f);
        k = placement_report_verdict(r, f, &verdict);
        if (k < 0)
                return k;
        fputs("  => ", m);
        put(m, verdict);
        fputs("\n\n", m);
        return 0;
}

static void table_heading(FILE *m, const struct placement_resilience *r) {
        size_t usable = 0;

        for (size_t i = 0; i < r->c->n_instances; i++)
                usable += streq(r->c->instances[i].status, "ACTIVE") &&
                          r->c->instances[i].agent_connected;
        fprintf(m, "%zu container instance%s (%zu usable), %zu service%s, seed %" PRIu64 "\n",
                r->c->n_instances, plural(r->c->n_instances), usable, r->n_services,
                plural(r->n_services), r->seed);
        for (size_t s = 0; s < r->n_services; s++)
                if (r->services[s].skipped) {
                        fputs("not analysed: ", m);
                        put(m, r->services[s].group);
                        fprintf(m, " (%s)\n", r->services[s].skipped);
                }
        fputc('\n', m);
}

int placement_report_table(const struct placement_resilience *r, char **ret) {
        _cleanup_(placement_query_strv_freep) char **verdicts = NULL;
        struct text t;
        int k;

        k = placement_report_verdicts(r, &verdicts);
        if (k < 0 || text_open(&t) < 0)
                return -ENOMEM;
        table_heading(t.f, r);
        k = table_failure(t.f, r, &r->baseline);
        for (size_t f = 0; k >= 0 && f < r->n_failures; f++)
                k = table_failure(t.f, r, &r->failures[f]);
        for (char **v = verdicts; k >= 0 && *v; v++) {
                put(t.f, *v);
                fputc('\n', t.f);
        }
        if (k >= 0)
                fprintf(t.f, "%s\n", r->survived ? "survived: every failure" : "survived: no");
        if (k < 0) {
                fclose(t.f);
                free(t.s);
                return k;
        }
        return text_done(&t, ret);
}

/* ---- JSON ---- */

/* cJSON's adders leave an item out silently when they fail: every one is
 * checked, so that a short document is never taken for a whole one. */
static cJSON *add_object(cJSON *arr) {
        cJSON *o = cJSON_CreateObject();

        if (o && cJSON_AddItemToArray(arr, o))
                return o;
        cJSON_Delete(o);
        return NULL;
}

static bool add_string(cJSON *o, const char *key, const char *value) {
        return value ? cJSON_AddStringToObject(o, key, value) != NULL
                     : cJSON_AddNullToObject(o, key) != NULL;
}

static bool add_number(cJSON *o, const char *key, double value) {
        return cJSON_AddNumberToObject(o, key, value) != NULL;
}

/* left/registered rounded down to 3 decimals, as a JSON number. */
static bool add_fraction(cJSON *o, const char *key, int64_t left, int64_t registered) {
        char text[32];
        int64_t thousandths = registered > 0 ? (left * 1000) / registered : 0;

        snprintf(text, sizeof(text), "%lld.%03lld", (long long)(thousandths / 1000),
                 (long long)(thousandths % 1000));
        return cJSON_AddRawToObject(o, key, text) != NULL;
}

static bool resource_json(cJSON *o, const char *key, int64_t left, int64_t registered) {
        cJSON *x = cJSON_AddObjectToObject(o, key);

        return x && add_number(x, "left", (double)left) &&
               add_number(x, "registered", (double)registered) &&
               add_fraction(x, "fraction", left, registered);
}

static bool headroom_json(cJSON *o, const struct placement_headroom *h) {
        return resource_json(o, "cpu", h->cpu_left, h->cpu_registered) &&
               resource_json(o, "memory", h->memory_left, h->memory_registered);
}

static bool instance_json(cJSON *arr, const struct placement_instance *ci, bool status) {
        cJSON *o = add_object(arr);

        return o && add_string(o, "containerInstanceArn", ci->arn) &&
               add_string(o, "ec2InstanceId", ci->ec2_instance_id) &&
               add_string(o, "instanceType", attribute_value(ci, "ecs.instance-type")) &&
               add_string(o, "zone", attribute_value(ci, "ecs.availability-zone")) &&
               (!status || add_string(o, "status", ci->status));
}

static bool outcome_json(cJSON *arr, const struct placement_resilience *r,
                         const struct placement_outcome *o) {
        const struct placement_resilience_service *rs = &r->services[o->service];
        cJSON *x = add_object(arr), *placed, *reasons;
        _cleanup_free_ char *event = NULL;

        if (!x || !add_string(x, "serviceName", rs->service->name) ||
            !add_string(x, "group", rs->group) ||
            !add_number(x, "desiredCount", (double)rs->service->desired) ||
            !add_number(x, "tasksBefore", (double)o->before) ||
            !add_number(x, "displaced", (double)o->displaced) ||
            !add_number(x, "missing", (double)o->missing) ||
            !(placed = cJSON_AddArrayToObject(x, "placed")))
                return false;
        for (size_t p = 0; p < o->n_placed; p++)
                if (!instance_json(placed, &r->c->instances[o->placed[p]], false))
                        return false;
        if (!add_number(x, "short", (double)o->short_tasks) ||
            !(reasons = cJSON_AddArrayToObject(x, "reasons")))
                return false;
        for (size_t k = 0; k < o->n_short_by; k++) {
                cJSON *y = add_object(reasons);
                if (!y || !add_string(y, "reason", o->short_by[k].reason) ||
                    !add_number(y, "tasks", (double)o->short_by[k].tasks))
                        return false;
        }
        if (o->short_tasks == 0)
                return true;
        if (asprintf(&event, EVENT_FORMAT, rs->service->name) < 0) {
                event = NULL;
                return false;
        }
        return add_string(x, "event", event);
}

static bool failure_head_json(cJSON *o, const struct placement_resilience *r,
                              const struct placement_failure *f) {
        cJSON *lost;

        if (!add_string(o, "lose", placement_loss_to_string(f->kind)) ||
            !add_string(o, "name", f->name) || (f->zone && !add_string(o, "zone", f->zone)) ||
            (f->type && !add_string(o, "instanceType", f->type)) ||
            !(lost = cJSON_AddArrayToObject(o, "lostInstances")))
                return false;
        for (size_t l = 0; l < f->n_lost; l++)
                if (!instance_json(lost, &r->c->instances[f->lost[l]], true))
                        return false;
        return add_number(o, "standaloneTasksLost", (double)f->standalone_lost);
}

static bool failure_json(cJSON *o, const struct placement_resilience *r,
                         const struct placement_failure *f) {
        _cleanup_free_ char *verdict = NULL;
        cJSON *services, *headroom, *zones;

        if (placement_report_verdict(r, f, &verdict) < 0 ||
            (f != &r->baseline && !failure_head_json(o, r, f)) ||
            !cJSON_AddBoolToObject(o, "survived", f->survived) ||
            !add_string(o, "verdict", verdict) ||
            !(services = cJSON_AddArrayToObject(o, "services")))
                return false;
        for (size_t k = 0; k < f->n_outcomes; k++)
                if (!outcome_json(services, r, &f->outcomes[k]))
                        return false;
        if (!(headroom = cJSON_AddObjectToObject(o, "headroom")) ||
            !headroom_json(headroom, &f->total) ||
            !(zones = cJSON_AddArrayToObject(headroom, "zones")))
                return false;
        for (size_t z = 0; z < f->n_zones; z++) {
                cJSON *y = add_object(zones);
                if (!y || !add_string(y, "zone", f->zones[z].zone) ||
                    !headroom_json(y, &f->zones[z]))
                        return false;
        }
        return r->min_headroom < 0 || cJSON_AddBoolToObject(o, "lowHeadroom", f->low_headroom);
}

static bool head_json(cJSON *root, const struct placement_resilience *r, const char *cluster) {
        char seed[32], min[32];
        cJSON *skipped;

        snprintf(seed, sizeof(seed), "%" PRIu64, r->seed);
        snprintf(min, sizeof(min), "%g", r->min_headroom);
        if (!add_string(root, "cluster", cluster) ||
            !cJSON_AddBoolToObject(root, "survived", r->survived) ||
            !cJSON_AddRawToObject(root, "seed", seed) ||
            (r->min_headroom >= 0 && !cJSON_AddRawToObject(root, "minHeadroom", min)) ||
            !(skipped = cJSON_AddArrayToObject(root, "skippedServices")))
                return false;
        for (size_t s = 0; s < r->n_services; s++) {
                cJSON *o;
                if (!r->services[s].skipped)
                        continue;
                if (!(o = add_object(skipped)) ||
                    !add_string(o, "serviceName", r->services[s].service->name) ||
                    !add_string(o, "reason", r->services[s].skipped))
                        return false;
        }
        return true;
}

static bool verdicts_json(cJSON *root, const struct placement_resilience *r) {
        _cleanup_(placement_query_strv_freep) char **lines = NULL;
        cJSON *arr = cJSON_AddArrayToObject(root, "verdicts");

        if (!arr || placement_report_verdicts(r, &lines) < 0)
                return false;
        for (char **l = lines; *l; l++) {
                cJSON *s = cJSON_CreateString(*l);
                if (!s || !cJSON_AddItemToArray(arr, s)) {
                        cJSON_Delete(s);
                        return false;
                }
        }
        return true;
}

int placement_report_json(const struct placement_resilience *r, const char *cluster, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        cJSON *baseline, *failures;

        if (!root || !head_json(root, r, cluster) ||
            !(baseline = cJSON_AddObjectToObject(root, "baseline")) ||
            !failure_json(baseline, r, &r->baseline) ||
            !(failures = cJSON_AddArrayToObject(root, "failures")))
                return -ENOMEM;
        for (size_t f = 0; f < r->n_failures; f++) {
                cJSON *o = add_object(failures);
                if (!o || !failure_json(o, r, &r->failures[f]))
                        return -ENOMEM;
        }
        if (!verdicts_json(root, r))
                return -ENOMEM;
        *ret = TAKE_PTR(root);
        return 0;
}
