/* placement-model.c: reads describe-container-instances / describe-tasks
 * JSON into a placement_cluster.  Parsing builds the new entries aside and
 * appends them only when the whole document was valid, so a failed load
 * leaves the cluster as it was.  Fields placement does not use are ignored. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "placement-json.h"
#include "placement-model.h"
#include "placement-value.h"

#define PATH_MAX_LEN PLACEMENT_JSON_PATH_MAX
#define streq(a, b) (strcmp((a), (b)) == 0)

int placement_cluster_new(struct placement_cluster **ret) {
        struct placement_cluster *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static void resources_done(struct placement_resources *r) {
        free(r->ports_tcp);
        free(r->ports_udp);
}

static void instance_done(struct placement_instance *ci) {
        free(ci->arn);
        free(ci->ec2_instance_id);
        free(ci->status);
        free(ci->agent_version);
        placement_attributes_free(ci->attributes, ci->n_attributes);
        resources_done(&ci->remaining);
        resources_done(&ci->registered);
        for (size_t i = 0; i < ci->n_groups; i++)
                free(ci->groups[i].group);
        free(ci->groups);
}

static void task_done(struct placement_task *t) {
        free(t->arn);
        free(t->container_instance_arn);
        free(t->group);
        free(t->desired_status);
        free(t->last_status);
        free(t->task_definition_arn);
}

struct placement_cluster *placement_cluster_free(struct placement_cluster *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_instances; i++)
                instance_done(&c->instances[i]);
        free(c->instances);
        for (size_t i = 0; i < c->n_tasks; i++)
                task_done(&c->tasks[i]);
        free(c->tasks);
        free(c);
        return NULL;
}

static int parse_ports(const cJSON *set, const char *path, uint16_t **ret, size_t *ret_n,
                       struct placement_error *e) {
        const cJSON *p;
        uint16_t *v;
        size_t n = 0;

        if (!cJSON_IsArray(set))
                return placement_json_shape_error(e, path, "expected an array of port strings");
        /* A resource named twice: the last one counts, as for CPU and MEMORY. */
        *ret = mfree(*ret);
        *ret_n = 0;
        v = calloc((size_t)cJSON_GetArraySize(set) + 1, sizeof(*v));
        if (!v)
                return placement_error_set(e, -ENOMEM, "out of memory");
        cJSON_ArrayForEach(p, set) {
                int64_t port;
                if (!cJSON_IsString(p) || !placement_value_parse_integer(p->valuestring, &port) ||
                    port < 0 || port > 65535) {
                        free(v);
                        return placement_json_shape_error(
                                e, path, "[%zu]: expected a port number string", n);
                }
                v[n++] = (uint16_t)port;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int parse_resources(const cJSON *arr, const char *path, struct placement_resources *r,
                           struct placement_error *e) {
        const cJSON *res;
        size_t i = 0;
        int rr;

        r->cpu = r->memory = -1;
        if (!arr || cJSON_IsNull(arr))
                return 0;
        if (!cJSON_IsArray(arr))
                return placement_json_shape_error(e, path, "expected an array");
        cJSON_ArrayForEach(res, arr) {
                char p[PATH_MAX_LEN];
                const cJSON *name, *num;

                placement_json_path(p, sizeof(p), "%s[%zu]", path, i++);
                if (!cJSON_IsObject(res))
                        return placement_json_shape_error(e, p, "expected an object");
                name = cJSON_GetObjectItemCaseSensitive(res, "name");
                if (!cJSON_IsString(name))
                        return placement_json_shape_error(e, p, "name: expected a string");
                if (streq(name->valuestring, "CPU") || streq(name->valuestring, "MEMORY")) {
                        int64_t *dst = streq(name->valuestring, "CPU") ? &r->cpu : &r->memory;
                        char pv[PATH_MAX_LEN];
                        const char *key = "integerValue";

                        num = cJSON_GetObjectItemCaseSensitive(res, key);
                        if (!num) {
                                key = "longValue";
                                num = cJSON_GetObjectItemCaseSensitive(res, key);
                        }
                        placement_json_path(pv, sizeof(pv), "%s.%s", p, key);
                        if (!num)
                                return placement_json_shape_error(e, p, "integerValue: missing");
                        rr = placement_json_get_int(num, pv, dst, e);
                        if (rr < 0)
                                return rr;
                } else if (streq(name->valuestring, "PORTS") ||
                           streq(name->valuestring, "PORTS_UDP")) {
                        bool tcp = streq(name->valuestring, "PORTS");
                        const cJSON *set = cJSON_GetObjectItemCaseSensitive(res, "stringSetValue");
                        char pv[PATH_MAX_LEN];

                        placement_json_path(pv, sizeof(pv), "%s.stringSetValue", p);
                        if (!set)
                                continue;
                        rr = tcp ? parse_ports(set, pv, &r->ports_tcp, &r->n_ports_tcp, e)
                                 : parse_ports(set, pv, &r->ports_udp, &r->n_ports_udp, e);
                        if (rr < 0)
                                return rr;
                }
        }
        return 0;
}

static int parse_instance(const cJSON *j, const char *path, struct placement_instance *ci,
                          struct placement_error *e) {
        const cJSON *v;
        char p[PATH_MAX_LEN];
        int r;

        if (!cJSON_IsObject(j))
                return placement_json_shape_error(e, path, "expected an object");
        r = placement_json_get_string(j, "containerInstanceArn", path, &ci->arn, e);
        if (r < 0)
                return r;
        if (!ci->arn)
                return placement_json_shape_error(e, path, "containerInstanceArn: missing");
        r = placement_json_get_string(j, "ec2InstanceId", path, &ci->ec2_instance_id, e);
        if (r < 0)
                return r;
        r = placement_json_get_string(j, "status", path, &ci->status, e);
        if (r < 0)
                return r;
        if (!ci->status && !(ci->status = strdup("ACTIVE")))
                return placement_error_set(e, -ENOMEM, "out of memory");

        ci->agent_connected = true;
        v = cJSON_GetObjectItemCaseSensitive(j, "agentConnected");
        if (v && !cJSON_IsNull(v)) {
                if (!cJSON_IsBool(v))
                        return placement_json_shape_error(e, path,
                                                          "agentConnected: expected true or false");
                ci->agent_connected = cJSON_IsTrue(v);
        }

        v = cJSON_GetObjectItemCaseSensitive(j, "versionInfo");
        if (v && !cJSON_IsNull(v)) {
                placement_json_path(p, sizeof(p), "%s.versionInfo", path);
                if (!cJSON_IsObject(v))
                        return placement_json_shape_error(e, p, "expected an object");
                r = placement_json_get_string(v, "agentVersion", p, &ci->agent_version, e);
                if (r < 0)
                        return r;
        }

        /* AWS CLI v1 prints epoch seconds, v2 an ISO 8601 string. */
        v = cJSON_GetObjectItemCaseSensitive(j, "registeredAt");
        if (v && !cJSON_IsNull(v)) {
                if (cJSON_IsNumber(v) && v->valuedouble > -1e11 && v->valuedouble < 1e11)
                        ci->registered_at = (int64_t)(v->valuedouble * 1e6);
                else if (!cJSON_IsString(v) ||
                         placement_value_parse_time(v->valuestring, &ci->registered_at) < 0)
                        return placement_json_shape_error(
                                e, path,
                                "registeredAt: expected epoch seconds or an ISO 8601 "
                                "time");
                ci->has_registered_at = true;
        }

        v = cJSON_GetObjectItemCaseSensitive(j, "runningTasksCount");
        if (v && !cJSON_IsNull(v)) {
                placement_json_path(p, sizeof(p), "%s.runningTasksCount", path);
                r = placement_json_get_int(v, p, &ci->running_tasks_count, e);
                if (r < 0)
                        return r;
        }

        placement_json_path(p, sizeof(p), "%s.attributes", path);
        r = placement_json_attributes(cJSON_GetObjectItemCaseSensitive(j, "attributes"), p,
                                      &ci->attributes, &ci->n_attributes, e);
        if (r < 0)
                return r;
        placement_json_path(p, sizeof(p), "%s.remainingResources", path);
        r = parse_resources(cJSON_GetObjectItemCaseSensitive(j, "remainingResources"), p,
                            &ci->remaining, e);
        if (r < 0)
                return r;
        placement_json_path(p, sizeof(p), "%s.registeredResources", path);
        return parse_resources(cJSON_GetObjectItemCaseSensitive(j, "registeredResources"), p,
                               &ci->registered, e);
}

static int compare_instance_index(const void *a, const void *b, void *userdata) {
        const struct placement_instance *v = userdata;
        return strcmp(v[*(const size_t *)a].arn, v[*(const size_t *)b].arn);
}

static int find_instance(const struct placement_cluster *c, const size_t *sorted, const char *arn) {
        size_t lo = 0, hi = c->n_instances;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = strcmp(arn, c->instances[sorted[mid]].arn);
                if (r == 0)
                        return (int)sorted[mid];
                if (r < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -1;
}

int placement_instance_add_group(struct placement_instance *ci, const char *group) {
        struct placement_group_count *g;

        for (size_t i = 0; i < ci->n_groups; i++)
                if (streq(ci->groups[i].group, group)) {
                        ci->groups[i].count++;
                        return 0;
                }
        g = realloc(ci->groups, (ci->n_groups + 1) * sizeof(*g));
        if (!g)
                return -ENOMEM;
        ci->groups = g;
        g[ci->n_groups].group = strdup(group);
        if (!g[ci->n_groups].group)
                return -ENOMEM;
        g[ci->n_groups++].count = 1;
        return 0;
}

/* One task that counts: a task desired RUNNING on a known instance. */
struct group_ref {
        size_t instance, task; /* indices into the cluster's instances and tasks */
        const char *group;     /* borrowed from the task */
        unsigned count;        /* after grouping: tasks of this group on the instance */
};

/* By instance, then group, then input order: equal groups end up adjacent
 * with their first task first. */
static int compare_group_ref(const void *a, const void *b) {
        const struct group_ref *x = a, *y = b;
        int r;

        if (x->instance != y->instance)
                return x->instance < y->instance ? -1 : 1;
        r = strcmp(x->group, y->group);
        if (r != 0)
                return r;
        return x->task < y->task ? -1 : x->task > y->task;
}

/* By instance, then first task: each instance's groups in the order of their
 * first task, as the table shows them. */
static int compare_group_first(const void *a, const void *b) {
        const struct group_ref *x = a, *y = b;

        if (x->instance != y->instance)
                return x->instance < y->instance ? -1 : 1;
        return x->task < y->task ? -1 : x->task > y->task;
}

/* The tasks that count, as references sorted and merged into one entry per
 * (instance, group) with its count; *ret_n entries. */
static int group_refs(const struct placement_cluster *c, struct group_ref **ret, size_t *ret_n) {
        _cleanup_free_ size_t *sorted = malloc(c->n_instances * sizeof(*sorted));
        _cleanup_free_ struct group_ref *v = calloc(c->n_tasks, sizeof(*v));
        size_t n = 0, m = 0;

        if (!sorted || !v)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_instances; i++)
                sorted[i] = i;
        qsort_r(sorted, c->n_instances, sizeof(*sorted), compare_instance_index, c->instances);
        for (size_t i = 0; i < c->n_tasks; i++) {
                const struct placement_task *t = &c->tasks[i];
                int idx;

                if (!t->container_instance_arn || !t->group ||
                    !streq_ptr(t->desired_status, "RUNNING"))
                        continue;
                idx = find_instance(c, sorted, t->container_instance_arn);
                if (idx >= 0)
                        v[n++] = (struct group_ref){
                                .instance = (size_t)idx, .task = i, .group = t->group};
        }
        /* Sorting, not a search per task: a tasks file may hold many groups. */
        qsort(v, n, sizeof(*v), compare_group_ref);
        for (size_t i = 0; i < n; i++) {
                if (m > 0 && v[m - 1].instance == v[i].instance &&
                    streq(v[m - 1].group, v[i].group)) {
                        v[m - 1].count++;
                        continue;
                }
                v[m] = v[i];
                v[m++].count = 1;
        }
        qsort(v, m, sizeof(*v), compare_group_first);
        *ret = TAKE_PTR(v);
        *ret_n = m;
        return 0;
}

/* Recount every instance's groups from the tasks whose desired status is
 * RUNNING: ECS judges a task by where it is going, not where it is. */
static int count_groups(struct placement_cluster *c) {
        _cleanup_free_ struct group_ref *refs = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < c->n_instances; i++) {
                struct placement_instance *ci = &c->instances[i];
                for (size_t k = 0; k < ci->n_groups; k++)
                        free(ci->groups[k].group);
                free(ci->groups);
                ci->groups = NULL;
                ci->n_groups = 0;
        }
        if (c->n_instances == 0 || c->n_tasks == 0)
                return 0;
        r = group_refs(c, &refs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0, end; i < n; i = end) {
                struct placement_instance *ci = &c->instances[refs[i].instance];

                for (end = i; end < n && refs[end].instance == refs[i].instance; end++)
                        ;
                ci->groups = calloc(end - i, sizeof(*ci->groups));
                if (!ci->groups)
                        return -ENOMEM;
                for (size_t k = i; k < end; k++) {
                        ci->groups[ci->n_groups].group = strdup(refs[k].group);
                        if (!ci->groups[ci->n_groups].group)
                                return -ENOMEM;
                        ci->groups[ci->n_groups++].count = refs[k].count;
                }
        }
        return 0;
}

static int parse_instance_any(const cJSON *j, const char *path, void *out,
                              struct placement_error *e) {
        return parse_instance(j, path, out, e);
}

static void instance_done_any(void *x) {
        instance_done(x);
}

int placement_cluster_load_instances(struct placement_cluster *c, const char *text, size_t len,
                                     struct placement_error *e) {
        static const struct placement_json_loader l = {
                "containerInstances", "aws ecs describe-container-instances",
                sizeof(struct placement_instance), parse_instance_any, instance_done_any};
        void *vec = c->instances;
        int r = placement_json_load_array(&l, text, len, &vec, &c->n_instances, e);

        c->instances = vec;
        if (r < 0)
                return r;
        r = count_groups(c);
        return r < 0 ? placement_error_set(e, r, "out of memory") : 0;
}

static int parse_task(const cJSON *j, const char *path, struct placement_task *t,
                      struct placement_error *e) {
        static const struct {
                const char *key;
                size_t offset;
        } fields[] = {
                {"taskArn", offsetof(struct placement_task, arn)},
                {"containerInstanceArn", offsetof(struct placement_task, container_instance_arn)},
                {"group", offsetof(struct placement_task, group)},
                {"desiredStatus", offsetof(struct placement_task, desired_status)},
                {"lastStatus", offsetof(struct placement_task, last_status)},
                {"taskDefinitionArn", offsetof(struct placement_task, task_definition_arn)},
        };

        if (!cJSON_IsObject(j))
                return placement_json_shape_error(e, path, "expected an object");
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                int r = placement_json_get_string(j, fields[i].key, path,
                                                  (char **)((char *)t + fields[i].offset), e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_task_any(const cJSON *j, const char *path, void *out, struct placement_error *e) {
        return parse_task(j, path, out, e);
}

static void task_done_any(void *x) {
        task_done(x);
}

int placement_cluster_load_tasks(struct placement_cluster *c, const char *text, size_t len,
                                 struct placement_error *e) {
        static const struct placement_json_loader l = {"tasks", "aws ecs describe-tasks",
                                                       sizeof(struct placement_task),
                                                       parse_task_any, task_done_any};
        void *vec = c->tasks;
        int r = placement_json_load_array(&l, text, len, &vec, &c->n_tasks, e);

        c->tasks = vec;
        if (r < 0)
                return r;
        r = count_groups(c);
        return r < 0 ? placement_error_set(e, r, "out of memory") : 0;
}

void placement_attributes_free(struct placement_attribute *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].value);
        }
        free(v);
}

const struct placement_attribute *placement_instance_attribute(const struct placement_instance *ci,
                                                               const char *name) {
        for (size_t i = 0; i < ci->n_attributes; i++)
                if (streq(ci->attributes[i].name, name))
                        return &ci->attributes[i];
        return NULL;
}

unsigned placement_instance_group_count(const struct placement_instance *ci, const char *group) {
        for (size_t i = 0; i < ci->n_groups; i++)
                if (streq(ci->groups[i].group, group))
                        return ci->groups[i].count;
        return 0;
}

void placement_cluster_size(const struct placement_cluster *c, struct placement_cluster_size *ret) {
        struct placement_cluster_size z = {.instances = c->n_instances};

        for (size_t i = 0; i < c->n_instances; i++) {
                const struct placement_instance *ci = &c->instances[i];
                size_t ports = ci->remaining.n_ports_tcp + ci->remaining.n_ports_udp;

                z.attributes += ci->n_attributes;
                z.groups += ci->n_groups;
                z.ports += ports;
                if (ci->n_attributes > z.max_attributes)
                        z.max_attributes = ci->n_attributes;
                if (ci->n_groups > z.max_groups)
                        z.max_groups = ci->n_groups;
                if (ports > z.max_ports)
                        z.max_ports = ports;
        }
        *ret = z;
}

/* k's four terms, each times (count + the total of its list). */
static uint64_t cost_terms(const struct placement_instance_cost *k, uint64_t count,
                           uint64_t attributes, uint64_t groups, uint64_t ports) {
        uint64_t w = placement_work_mul(k->lookup, placement_work_add(count, attributes));

        w = placement_work_add(w,
                               placement_work_mul(k->per_group, placement_work_add(count, groups)));
        w = placement_work_add(w,
                               placement_work_mul(k->per_port, placement_work_add(count, ports)));
        return placement_work_add(w, placement_work_mul(k->fixed, count));
}

uint64_t placement_cost_all(const struct placement_instance_cost *k,
                            const struct placement_cluster_size *z) {
        return cost_terms(k, z->instances, z->attributes, z->groups, z->ports);
}

uint64_t placement_cost_max(const struct placement_instance_cost *k,
                            const struct placement_cluster_size *z, uint64_t extra_groups,
                            uint64_t extra_ports) {
        return cost_terms(k, 1, z->max_attributes, placement_work_add(z->max_groups, extra_groups),
                          placement_work_add(z->max_ports, extra_ports));
}

const char *placement_instance_short_id(const struct placement_instance *ci) {
        const char *slash = strrchr(ci->arn, '/');
        return slash ? slash + 1 : ci->arn;
}
