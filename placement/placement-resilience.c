/* placement-resilience.c: each failure is simulated on one session over the
 * cluster: the baseline (every service's missing tasks placed, as the
 * scheduler would already be doing) is marked, then for each failure the
 * lost instances are excluded, the services they displaced place their
 * missing tasks, and a rollback gives the baseline back.  A failure costs
 * its lost instances' tasks and the runs it needs, not a copy of the cluster. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement-query-eval.h"
#include "placement-resilience.h"

#define streq(a, b) (strcmp((a), (b)) == 0)
#define ZONE_ATTRIBUTE "ecs.availability-zone"
#define TYPE_ATTRIBUTE "ecs.instance-type"

/* [decision] Services whose tasks the analysis does not place, and why:
 * a Fargate service runs on no container instance; a daemon service runs
 * one task per instance, which goes with its instance and is due nowhere
 * else; a service that is not ACTIVE is being deleted. */
#define SKIP_FARGATE "FARGATE: on no container instance"
#define SKIP_DAEMON "DAEMON: one task per instance, none to replace"
#define SKIP_INACTIVE "not ACTIVE"

static const char *const loss_names[_PLACEMENT_LOSE_MAX] = {
        [PLACEMENT_LOSE_INSTANCE] = "instance",           [PLACEMENT_LOSE_ZONE] = "zone",
        [PLACEMENT_LOSE_INSTANCE_TYPE] = "instance-type", [PLACEMENT_LOSE_POOL] = "pool",
        [PLACEMENT_LOSE_EXPRESSION] = "expression",
};

const char *placement_loss_to_string(enum placement_loss kind) {
        return kind < _PLACEMENT_LOSE_MAX ? loss_names[kind] : NULL;
}

static int index_services(struct placement_resilience *r);
static int index_zones(struct placement_resilience *r);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_resilience *, placement_resilience_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_result *, placement_result_free);

static void outcome_done(struct placement_outcome *o) {
        free(o->placed);
        free(o->short_by);
}

static void failure_outcomes_free(struct placement_failure *f) {
        for (size_t i = 0; i < f->n_outcomes; i++)
                outcome_done(&f->outcomes[i]);
        f->outcomes = mfree(f->outcomes);
        f->n_outcomes = 0;
        f->zones = mfree(f->zones);
        f->n_zones = 0;
}

static void failure_done(struct placement_failure *f) {
        failure_outcomes_free(f);
        free(f->name);
        free(f->lost);
}

struct placement_resilience *placement_resilience_free(struct placement_resilience *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_services; i++) {
                free(r->services[i].group);
                placement_request_done(&r->services[i].request);
        }
        free(r->services);
        failure_done(&r->baseline);
        for (size_t i = 0; i < r->n_failures; i++)
                failure_done(&r->failures[i]);
        free(r->failures);
        placement_session_free(r->session);
        free(r->before);
        free(r->by_group);
        free(r->zone_names);
        free(r->zone_of);
        free(r);
        return NULL;
}

/* "service NAME: " before the request parser's message; an expression's
 * error says where in the expression. */
static int service_error(struct placement_error *e, const struct placement_service *sv, int k,
                         const char *expression) {
        char message[PLACEMENT_ERROR_MESSAGE_MAX];

        memcpy(message, e->message, sizeof(message));
        if (expression && e->line > 0)
                return placement_error_set(e, k,
                                           "service %s: placement constraint '%s': column %u: %s",
                                           sv->name, expression, e->column, message);
        return placement_error_set(e, k, "service %s: %s", sv->name, message);
}

/* The service scheduler's request for sv: its constraints and strategies
 * (or the defaults), its group, its task definition's constraints. */
static int service_request(struct placement_resilience_service *rs,
                           const struct placement_cluster *c, struct placement_taskdef *const *tds,
                           size_t n_tds, struct placement_error *e) {
        const struct placement_service *sv = rs->service;
        struct placement_request *req = &rs->request;
        const char *expression = NULL;
        int k;

        if (!sv->task_definition)
                return placement_error_set(e, -EINVAL, "service %s: taskDefinition: missing",
                                           sv->name);
        rs->taskdef = placement_taskdef_find(tds, n_tds, sv->task_definition);
        if (!rs->taskdef)
                return placement_error_set(e, -EINVAL,
                                           "service %s: task definition %s is not among the "
                                           "task definitions given",
                                           sv->name, sv->task_definition);
        if (sv->constraints &&
            (k = placement_request_add_constraints(req, sv->constraints, &expression, e)) < 0)
                return service_error(e, sv, k, expression);
        if (sv->strategies && (k = placement_request_add_strategies(req, sv->strategies, e)) < 0)
                return service_error(e, sv, k, NULL);
        k = placement_request_service(req, c, sv->name, (unsigned)sv->desired, NULL, e);
        if (k < 0)
                return service_error(e, sv, k, NULL);
        req->taskdef = rs->taskdef;
        k = placement_request_validate(req, &expression, e);
        return k < 0 ? service_error(e, sv, k, expression) : 0;
}

static int add_service(struct placement_resilience *r, const struct placement_service *sv,
                       struct placement_taskdef *const *tds, size_t n_tds,
                       struct placement_error *e) {
        struct placement_resilience_service *rs = &r->services[r->n_services];

        *rs = (struct placement_resilience_service){.service = sv};
        if (asprintf(&rs->group, "service:%s", sv->name) < 0) {
                rs->group = NULL;
                return placement_error_set(e, -ENOMEM, "out of memory");
        }
        r->n_services++;
        if (placement_resilience_service_of(r, rs->group) != rs)
                return placement_error_set(e, -EINVAL, "service %s: named twice", sv->name);
        if (!streq(sv->status, "ACTIVE"))
                rs->skipped = SKIP_INACTIVE;
        else if (sv->fargate)
                rs->skipped = SKIP_FARGATE;
        else if (sv->daemon)
                rs->skipped = SKIP_DAEMON;
        else
                return service_request(rs, r->c, tds, n_tds, e);
        return 0;
}

int placement_resilience_new(struct placement_resilience **ret, struct placement_cluster *c,
                             const struct placement_services *services,
                             struct placement_taskdef *const *taskdefs, size_t n_taskdefs,
                             uint64_t seed, struct placement_error *e) {
        _cleanup_(placement_resilience_freep) struct placement_resilience *r = NULL;
        int k;

        r = calloc(1, sizeof(*r));
        if (!r)
                return placement_error_set(e, -ENOMEM, "out of memory");
        r->c = c;
        r->seed = seed;
        r->min_headroom = -1;
        r->baseline.name = strdup("baseline");
        r->services = calloc(services->n_services + 1, sizeof(*r->services));
        r->before = calloc(services->n_services + 1, sizeof(*r->before));
        if (!r->baseline.name || !r->services || !r->before)
                return placement_error_set(e, -ENOMEM, "out of memory");
        for (size_t i = 0; i < services->n_services; i++) {
                k = add_service(r, &services->services[i], taskdefs, n_taskdefs, e);
                if (k < 0)
                        return k;
        }
        k = placement_session_new(&r->session, c);
        if (k >= 0)
                k = index_services(r);
        if (k >= 0)
                k = index_zones(r);
        if (k < 0)
                return placement_error_set(e, k, "out of memory");
        *ret = TAKE_PTR(r);
        return 0;
}

const struct placement_resilience_service *
placement_resilience_service_of(const struct placement_resilience *r, const char *group) {
        /* A linear search: a cluster runs at most a few thousand services, and
         * the hot paths look groups up in by_group() below instead. */
        for (size_t i = 0; i < r->n_services; i++)
                if (streq(r->services[i].group, group))
                        return &r->services[i];
        return NULL;
}

/* ---- failures ---- */

static const char *attribute_value(const struct placement_instance *ci, const char *name) {
        const struct placement_attribute *a = placement_instance_attribute(ci, name);

        return a && a->value ? a->value : NULL;
}

static bool in_cluster(const struct placement_instance *ci) {
        return !streq(ci->status, "INACTIVE");
}

/* A new failure at the end of r->failures, owning name and lost (which
 * it takes even when it fails). */
static int failure_add(struct placement_resilience *r, enum placement_loss kind, char *name,
                       size_t *lost, size_t n_lost, struct placement_failure **ret) {
        struct placement_failure *grown;

        if (!name || !lost) {
                free(name);
                free(lost);
                return -ENOMEM;
        }
        grown = realloc(r->failures, (r->n_failures + 1) * sizeof(*grown));
        if (!grown) {
                free(name);
                free(lost);
                return -ENOMEM;
        }
        r->failures = grown;
        grown[r->n_failures] = (struct placement_failure){
                .kind = kind, .name = name, .lost = lost, .n_lost = n_lost};
        *ret = &grown[r->n_failures++];
        return 0;
}

static int add_each_instance(struct placement_resilience *r) {
        for (size_t i = 0; i < r->c->n_instances; i++) {
                const struct placement_instance *ci = &r->c->instances[i];
                struct placement_failure *f;
                size_t *lost = malloc(sizeof(*lost));
                int k;

                if (!in_cluster(ci)) {
                        free(lost);
                        continue;
                }
                if (lost)
                        lost[0] = i;
                k = failure_add(r, PLACEMENT_LOSE_INSTANCE,
                                strdup(ci->ec2_instance_id ? ci->ec2_instance_id
                                                           : placement_instance_short_id(ci)),
                                lost, 1, &f);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* An instance by what a failure of a kind groups it by: its zone and type. */
struct keyed_instance {
        const char *zone, *type;
        size_t instance;
};

static int compare_keys(const struct keyed_instance *x, const struct keyed_instance *y,
                        enum placement_loss kind) {
        int c = 0;

        if (kind != PLACEMENT_LOSE_INSTANCE_TYPE)
                c = strcmp(x->zone, y->zone);
        if (c == 0 && kind != PLACEMENT_LOSE_ZONE)
                c = strcmp(x->type, y->type);
        return c;
}

static int compare_keyed_instance(const void *a, const void *b, void *userdata) {
        const struct keyed_instance *x = a, *y = b;
        int c = compare_keys(x, y, *(const enum placement_loss *)userdata);

        if (c != 0)
                return c;
        return x->instance < y->instance ? -1 : x->instance > y->instance;
}

/* Instances of the cluster that have what kind groups by, sorted by it (then
 * input order); *ret_n of them. */
static int keyed_instances(const struct placement_cluster *c, enum placement_loss kind,
                           struct keyed_instance **ret, size_t *ret_n) {
        struct keyed_instance *v = calloc(c->n_instances + 1, sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_instances; i++) {
                const struct placement_instance *ci = &c->instances[i];
                struct keyed_instance k = {.zone = attribute_value(ci, ZONE_ATTRIBUTE),
                                           .type = attribute_value(ci, TYPE_ATTRIBUTE),
                                           .instance = i};

                if (!in_cluster(ci) || (kind != PLACEMENT_LOSE_INSTANCE_TYPE && !k.zone) ||
                    (kind != PLACEMENT_LOSE_ZONE && !k.type))
                        continue;
                v[n++] = k;
        }
        qsort_r(v, n, sizeof(*v), compare_keyed_instance, &kind);
        *ret = v;
        *ret_n = n;
        return 0;
}

static char *group_name(enum placement_loss kind, const struct keyed_instance *k) {
        char *s = NULL;

        switch (kind) {
        case PLACEMENT_LOSE_ZONE:
                return strdup(k->zone);
        case PLACEMENT_LOSE_INSTANCE_TYPE:
                return strdup(k->type);
        default:
                return asprintf(&s, "%s in %s", k->type, k->zone) < 0 ? NULL : s;
        }
}

/* One failure per zone, type or pool: the runs of equal keys. */
static int add_by_attributes(struct placement_resilience *r, enum placement_loss kind) {
        _cleanup_free_ struct keyed_instance *v = NULL;
        size_t n = 0;
        int k;

        k = keyed_instances(r->c, kind, &v, &n);
        if (k < 0)
                return k;
        for (size_t i = 0, end; i < n; i = end) {
                struct placement_failure *f;
                size_t *lost;

                for (end = i + 1; end < n && compare_keys(&v[i], &v[end], kind) == 0; end++)
                        ;
                lost = malloc((end - i) * sizeof(*lost));
                for (size_t j = i; lost && j < end; j++)
                        lost[j - i] = v[j].instance;
                /* Input order within the failure: the sort kept it. */
                k = failure_add(r, kind, group_name(kind, &v[i]), lost, end - i, &f);
                if (k < 0)
                        return k;
                f->zone = kind != PLACEMENT_LOSE_INSTANCE_TYPE ? v[i].zone : NULL;
                f->type = kind != PLACEMENT_LOSE_ZONE ? v[i].type : NULL;
        }
        return 0;
}

static int add_expression(struct placement_resilience *r, const struct placement_query *q,
                          const char *expression, struct placement_error *e) {
        struct placement_failure *f;
        size_t *sel = NULL, n = 0;
        int k;

        k = placement_query_filter(q, r->c, NULL, &sel, &n);
        if (k < 0) {
                free(sel);
                return placement_error_set(e, k, "--lose '%s': the expression failed", expression);
        }
        if (n == 0) {
                free(sel);
                return placement_error_set(e, -EINVAL, "--lose '%s' selects no container instance",
                                           expression);
        }
        k = failure_add(r, PLACEMENT_LOSE_EXPRESSION, strdup(expression), sel, n, &f);
        return k < 0 ? placement_error_set(e, k, "out of memory") : 0;
}

int placement_resilience_add(struct placement_resilience *r, enum placement_loss kind,
                             const struct placement_query *query, const char *expression,
                             struct placement_error *e) {
        int k;

        switch (kind) {
        case PLACEMENT_LOSE_INSTANCE:
                k = add_each_instance(r);
                break;
        case PLACEMENT_LOSE_ZONE:
        case PLACEMENT_LOSE_INSTANCE_TYPE:
        case PLACEMENT_LOSE_POOL:
                k = add_by_attributes(r, kind);
                break;
        case PLACEMENT_LOSE_EXPRESSION:
                if (!query || !expression)
                        return placement_error_set(e, -EINVAL, "--lose: no expression");
                return add_expression(r, query, expression, e);
        default:
                return placement_error_set(e, -EINVAL, "--lose: unknown kind");
        }
        return k < 0 ? placement_error_set(e, k, "out of memory") : 0;
}

/* ---- the runs ---- */

static int compare_service_group(const void *a, const void *b, void *userdata) {
        const struct placement_resilience *r = userdata;

        return strcmp(r->services[*(const size_t *)a].group, r->services[*(const size_t *)b].group);
}

/* The services sorted by group, for by_group(). */
static int index_services(struct placement_resilience *r) {
        free(r->by_group);
        r->by_group = calloc(r->n_services + 1, sizeof(*r->by_group));
        if (!r->by_group)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_services; i++)
                r->by_group[i] = i;
        qsort_r(r->by_group, r->n_services, sizeof(*r->by_group), compare_service_group, r);
        return 0;
}

/* The index of the service whose group is group; SIZE_MAX for none. */
static size_t by_group(const struct placement_resilience *r, const char *group) {
        size_t lo = 0, hi = r->n_services;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(group, r->services[r->by_group[mid]].group);
                if (c == 0)
                        return r->by_group[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return SIZE_MAX;
}

static bool analysed(const struct placement_resilience_service *rs) {
        return !rs->skipped;
}

/* Per service, its tasks on the lost instances of f (displaced[], zeroed by
 * the caller); returns the tasks there of no analysed service. */
static uint64_t count_displaced(const struct placement_resilience *r,
                                const struct placement_failure *f, uint64_t *displaced) {
        uint64_t standalone = 0;

        for (size_t l = 0; l < f->n_lost; l++) {
                const struct placement_instance *ci = &r->c->instances[f->lost[l]];
                for (size_t g = 0; g < ci->n_groups; g++) {
                        size_t s = by_group(r, ci->groups[g].group);
                        if (s != SIZE_MAX)
                                displaced[s] += ci->groups[g].count;
                        if (s == SIZE_MAX || !analysed(&r->services[s]))
                                standalone += ci->groups[g].count;
                }
        }
        return standalone;
}

static uint64_t missing(const struct placement_resilience_service *rs, uint64_t have) {
        uint64_t desired = (uint64_t)rs->service->desired;

        return desired > have ? desired - have : 0;
}

uint64_t placement_resilience_work(const struct placement_resilience *r) {
        _cleanup_free_ uint64_t *existing = calloc(r->n_services + 1, sizeof(*existing));
        _cleanup_free_ uint64_t *displaced = calloc(r->n_services + 1, sizeof(*displaced));
        struct placement_cluster_size z;
        uint64_t w = 0;

        if (!existing || !displaced)
                return UINT64_MAX;
        placement_cluster_size(r->c, &z);
        for (size_t s = 0; s < r->n_services; s++) {
                const struct placement_resilience_service *rs = &r->services[s];
                if (!analysed(rs))
                        continue;
                existing[s] = placement_session_group_tasks(r->session, rs->group);
                w = placement_work_add(
                        w, placement_run_work_sized(&z, &rs->request, missing(rs, existing[s])));
        }
        /* A failure places at most what it displaces and what the baseline
         * could not, and the baseline's own placements may be among those
         * displaced: so, at most the service's desired count. */
        for (size_t k = 0; k < r->n_failures; k++) {
                memset(displaced, 0, r->n_services * sizeof(*displaced));
                count_displaced(r, &r->failures[k], displaced);
                w = placement_work_add(w, 4 * z.instances);
                for (size_t s = 0; s < r->n_services; s++) {
                        const struct placement_resilience_service *rs = &r->services[s];
                        uint64_t n = displaced[s] + missing(rs, existing[s]);
                        if (!analysed(rs) || n == 0)
                                continue;
                        if (n > (uint64_t)rs->service->desired)
                                n = (uint64_t)rs->service->desired;
                        w = placement_work_add(w, placement_run_work_sized(&z, &rs->request, n));
                }
        }
        return w;
}

/* What run res did for service s, appended to f's outcomes. */
static int add_outcome(struct placement_failure *f, size_t s, uint64_t before, uint64_t displaced,
                       uint64_t miss, const struct placement_result *res) {
        struct placement_outcome *grown, *o;

        grown = realloc(f->outcomes, (f->n_outcomes + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        f->outcomes = grown;
        o = &grown[f->n_outcomes++];
        *o = (struct placement_outcome){
                .service = s, .before = before, .displaced = displaced, .missing = miss};
        if (!res)
                return 0;
        o->placed = calloc(res->n_tasks + 1, sizeof(*o->placed));
        o->short_by = calloc(res->n_tasks + 1, sizeof(*o->short_by));
        if (!o->placed || !o->short_by)
                return -ENOMEM;
        for (size_t t = 0; t < res->n_tasks; t++) {
                const struct placement_task_result *tr = &res->tasks[t];
                size_t k = 0;

                if (tr->instance >= 0) {
                        o->placed[o->n_placed++] = (size_t)tr->instance;
                        continue;
                }
                o->short_tasks++;
                while (k < o->n_short_by && o->short_by[k].reason != tr->reason)
                        k++;
                if (k == o->n_short_by)
                        o->short_by[o->n_short_by++].reason = tr->reason;
                o->short_by[k].tasks++;
        }
        return 0;
}

/* Place what service s misses after having `have` tasks left, and record it
 * (always when something was displaced or is missing). */
static int place_service(struct placement_resilience *r, struct placement_failure *f, size_t s,
                         uint64_t before, uint64_t displaced) {
        struct placement_resilience_service *rs = &r->services[s];
        _cleanup_(placement_result_freep) struct placement_result *res = NULL;
        uint64_t miss = missing(rs, before - displaced);
        int k;

        if (displaced == 0 && miss == 0)
                return 0;
        if (miss > 0) {
                rs->request.count = (unsigned)miss;
                rs->request.seed = r->seed;
                k = placement_session_run(r->session, &rs->request, &res);
                if (k < 0)
                        return k;
        }
        return add_outcome(f, s, before, displaced, miss, res);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each instance's zone as an index into the sorted zone names (instances
 * without one: n_zone_names), for the headroom per zone. */
static int index_zones(struct placement_resilience *r) {
        const struct placement_cluster *c = r->c;
        size_t n = 0;

        free(r->zone_names);
        free(r->zone_of);
        r->zone_names = calloc(c->n_instances + 1, sizeof(*r->zone_names));
        r->zone_of = calloc(c->n_instances + 1, sizeof(*r->zone_of));
        if (!r->zone_names || !r->zone_of)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_instances; i++) {
                const char *zone = attribute_value(&c->instances[i], ZONE_ATTRIBUTE);
                if (zone)
                        r->zone_names[n++] = zone;
        }
        qsort(r->zone_names, n, sizeof(*r->zone_names), compare_strings);
        r->n_zone_names = 0;
        for (size_t i = 0; i < n; i++)
                if (i == 0 || !streq(r->zone_names[i], r->zone_names[r->n_zone_names - 1]))
                        r->zone_names[r->n_zone_names++] = r->zone_names[i];
        for (size_t i = 0; i < c->n_instances; i++) {
                const char *zone = attribute_value(&c->instances[i], ZONE_ATTRIBUTE);
                const char **at = zone ? bsearch(&zone, r->zone_names, r->n_zone_names,
                                                 sizeof(*r->zone_names), compare_strings)
                                       : NULL;
                r->zone_of[i] = at ? (size_t)(at - r->zone_names) : r->n_zone_names;
        }
        return 0;
}

static void headroom_add(struct placement_headroom *h, const struct placement_instance *ci) {
        h->cpu_left += ci->remaining.cpu > 0 ? ci->remaining.cpu : 0;
        h->memory_left += ci->remaining.memory > 0 ? ci->remaining.memory : 0;
        h->cpu_registered += ci->registered.cpu > 0 ? ci->registered.cpu : 0;
        h->memory_registered += ci->registered.memory > 0 ? ci->registered.memory : 0;
}

static bool headroom_low(const struct placement_headroom *h, double min) {
        double cpu = h->cpu_registered > 0 ? (double)h->cpu_left / (double)h->cpu_registered : 0;
        double memory = h->memory_registered > 0
                                ? (double)h->memory_left / (double)h->memory_registered
                                : 0;

        return min >= 0 && (cpu < min || memory < min);
}

/* CPU and memory left on the usable instances that are not lost (lost[i]),
 * in all and per zone (zones with no such instance left out). */
static int headroom(const struct placement_resilience *r, struct placement_failure *f,
                    const bool *lost) {
        _cleanup_free_ size_t *usable = calloc(r->n_zone_names + 1, sizeof(*usable));
        size_t n = 0;

        f->zones = calloc(r->n_zone_names + 1, sizeof(*f->zones));
        if (!usable || !f->zones)
                return -ENOMEM;
        f->total = (struct placement_headroom){};
        for (size_t i = 0; i < r->c->n_instances; i++) {
                const struct placement_instance *ci = &r->c->instances[i];
                if (lost[i] || !streq(ci->status, "ACTIVE") || !ci->agent_connected)
                        continue;
                headroom_add(&f->total, ci);
                headroom_add(&f->zones[r->zone_of[i]], ci);
                usable[r->zone_of[i]]++;
        }
        for (size_t z = 0; z <= r->n_zone_names; z++)
                if (usable[z]) {
                        f->zones[n] = f->zones[z];
                        f->zones[n++].zone = z < r->n_zone_names ? r->zone_names[z] : "-";
                }
        f->n_zones = n;
        f->low_headroom = headroom_low(&f->total, r->min_headroom);
        f->survived = !f->low_headroom;
        for (size_t k = 0; k < f->n_outcomes; k++)
                f->survived &= f->outcomes[k].short_tasks == 0;
        return 0;
}

/* Before any loss: every service's missing tasks placed, as the scheduler
 * would already be doing; r->before[] then holds what each service has. */
static int run_baseline(struct placement_resilience *r, const bool *none) {
        struct placement_failure *f = &r->baseline;
        int k;

        failure_outcomes_free(f);
        placement_session_exclude(r->session, NULL);
        for (size_t s = 0; s < r->n_services; s++) {
                if (!analysed(&r->services[s]))
                        continue;
                r->before[s] = placement_session_group_tasks(r->session, r->services[s].group);
                k = place_service(r, f, s, r->before[s], 0);
                if (k < 0)
                        return k;
                r->before[s] = placement_session_group_tasks(r->session, r->services[s].group);
        }
        return headroom(r, f, none);
}

/* Failure f on the baseline: exclude its instances, place what each
 * service misses, measure.  The caller rolls back. */
static int run_failure(struct placement_resilience *r, struct placement_failure *f, bool *lost,
                       uint64_t *displaced) {
        int k = 0;

        failure_outcomes_free(f);
        for (size_t l = 0; l < f->n_lost; l++)
                lost[f->lost[l]] = true;
        placement_session_exclude(r->session, lost);
        memset(displaced, 0, r->n_services * sizeof(*displaced));
        f->standalone_lost = count_displaced(r, f, displaced);
        for (size_t s = 0; k >= 0 && s < r->n_services; s++)
                if (analysed(&r->services[s]))
                        k = place_service(r, f, s, r->before[s], displaced[s]);
        if (k >= 0)
                k = headroom(r, f, lost);
        for (size_t l = 0; l < f->n_lost; l++)
                lost[f->lost[l]] = false;
        return k;
}

int placement_resilience_run(struct placement_resilience *r) {
        _cleanup_free_ bool *lost = calloc(r->c->n_instances + 1, sizeof(*lost));
        _cleanup_free_ uint64_t *displaced = calloc(r->n_services + 1, sizeof(*displaced));
        int k;

        if (!lost || !displaced)
                return -ENOMEM;
        if (placement_resilience_work(r) > PLACEMENT_WORK_MAX)
                return -ERANGE;
        k = run_baseline(r, lost);
        if (k >= 0)
                k = placement_session_mark(r->session);
        r->survived = r->baseline.survived;
        for (size_t f = 0; k >= 0 && f < r->n_failures; f++) {
                k = run_failure(r, &r->failures[f], lost, displaced);
                placement_session_rollback(r->session);
                r->survived &= r->failures[f].survived;
        }
        placement_session_exclude(r->session, NULL);
        return k < 0 ? k : 0;
}

int placement_resilience_show(struct placement_resilience *r, size_t k) {
        _cleanup_free_ bool *lost = calloc(r->c->n_instances + 1, sizeof(*lost));
        _cleanup_free_ uint64_t *displaced = calloc(r->n_services + 1, sizeof(*displaced));

        if (!lost || !displaced)
                return -ENOMEM;
        if (k == SIZE_MAX)
                return 0; /* run() left the baseline */
        if (k >= r->n_failures)
                return -EINVAL;
        placement_session_rollback(r->session);
        /* The same runs from the same state and seed: the same outcome. */
        return run_failure(r, &r->failures[k], lost, displaced);
}
