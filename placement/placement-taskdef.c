/* placement-taskdef.c: reads the parts of a task definition that placement
 * needs and computes the charge ECS makes for one task: task-level cpu and
 * memory when set, else the containers' sum (memoryReservation before
 * memory), and the fixed host ports of bridge and host network modes. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "placement-json.h"
#include "placement-taskdef.h"
#include "placement-value.h"

#define streq(a, b) (strcmp((a), (b)) == 0)
/* CPU units or MiB per container: sums over any file we read stay in int64_t */
#define CONTAINER_SIZE_MAX (INT64_C(1) << 32)

struct placement_taskdef *placement_taskdef_free(struct placement_taskdef *td) {
        if (!td)
                return NULL;
        free(td->family);
        free(td->arn);
        free(td->network_mode);
        free(td->ports);
        placement_attributes_free(td->requires_attributes, td->n_requires_attributes);
        for (size_t i = 0; i < td->n_constraints; i++) {
                free(td->constraints[i].type);
                free(td->constraints[i].expression);
        }
        free(td->constraints);
        free(td);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_taskdef *, placement_taskdef_free);

/* Task-level cpu/memory are strings ("256", "1 vCPU", "2 GB") or numbers;
 * unit_scale converts the unit (vCPU -> 1024 units, GB -> 1024 MiB). */
static int parse_size(const cJSON *j, const char *path, const char *unit, int64_t *ret,
                      struct placement_error *e) {
        const char *s;
        char *end;
        double v;

        *ret = -1;
        if (!j || cJSON_IsNull(j))
                return 0;
        if (cJSON_IsNumber(j))
                return placement_json_get_int(j, path, ret, e);
        if (!cJSON_IsString(j))
                return placement_json_shape_error(e, path, "expected a string");
        s = j->valuestring;
        if (!isdigit((unsigned char)*s))
                return placement_json_shape_error(e, path, "expected a number");
        v = strtod(s, &end);
        while (*end == ' ')
                end++;
        if (!(v <= 1e15))
                return placement_json_shape_error(e, path, "too large");
        if (*end == '\0') {
                if (v != (double)(int64_t)v)
                        return placement_json_shape_error(e, path, "expected an integer");
                *ret = (int64_t)v;
                return 0;
        }
        if (strcasecmp(end, unit) != 0 || v > 1e9)
                return placement_json_shape_error(e, path, "expected a number or \"N %s\"", unit);
        *ret = (int64_t)(v * 1024);
        return 0;
}

static int add_port(struct placement_taskdef *td, int64_t port, bool udp) {
        struct placement_port *p = realloc(td->ports, (td->n_ports + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        td->ports = p;
        p[td->n_ports++] = (struct placement_port){.port = (uint16_t)port, .udp = udp};
        return 0;
}

static int parse_container(struct placement_taskdef *td, const cJSON *c, const char *path,
                           int64_t *cpu, int64_t *memory, struct placement_error *e) {
        const cJSON *v, *pm;
        char p[PLACEMENT_JSON_PATH_MAX];
        int64_t x;
        size_t i = 0;
        int r;

        if (!cJSON_IsObject(c))
                return placement_json_shape_error(e, path, "expected an object");
        v = cJSON_GetObjectItemCaseSensitive(c, "cpu");
        if (v && !cJSON_IsNull(v)) {
                placement_json_path(p, sizeof(p), "%s.cpu", path);
                r = placement_json_get_int(v, p, &x, e);
                if (r < 0)
                        return r;
                if (x < 0 || x > CONTAINER_SIZE_MAX)
                        return placement_json_shape_error(e, p, "out of range");
                *cpu += x;
        }
        /* The soft limit is what ECS reserves when it is set. */
        v = cJSON_GetObjectItemCaseSensitive(c, "memoryReservation");
        placement_json_path(p, sizeof(p), "%s.memoryReservation", path);
        if (!v || cJSON_IsNull(v)) {
                v = cJSON_GetObjectItemCaseSensitive(c, "memory");
                placement_json_path(p, sizeof(p), "%s.memory", path);
        }
        if (v && !cJSON_IsNull(v)) {
                r = placement_json_get_int(v, p, &x, e);
                if (r < 0)
                        return r;
                if (x < 0 || x > CONTAINER_SIZE_MAX)
                        return placement_json_shape_error(e, p, "out of range");
                *memory += x;
        }

        pm = cJSON_GetObjectItemCaseSensitive(c, "portMappings");
        if (!pm || cJSON_IsNull(pm))
                return 0;
        placement_json_path(p, sizeof(p), "%s.portMappings", path);
        if (!cJSON_IsArray(pm))
                return placement_json_shape_error(e, p, "expected an array");
        cJSON_ArrayForEach(v, pm) {
                char pp[PLACEMENT_JSON_PATH_MAX];
                const cJSON *hp, *cp;
                _cleanup_free_ char *protocol = NULL;
                int64_t port = 0;

                placement_json_path(pp, sizeof(pp), "%s.portMappings[%zu]", path, i++);
                if (!cJSON_IsObject(v))
                        return placement_json_shape_error(e, pp, "expected an object");
                r = placement_json_get_string(v, "protocol", pp, &protocol, e);
                if (r < 0)
                        return r;
                hp = cJSON_GetObjectItemCaseSensitive(v, "hostPort");
                cp = cJSON_GetObjectItemCaseSensitive(v, "containerPort");
                if (streq(td->network_mode, "host") && (!hp || cJSON_IsNull(hp)))
                        hp = cp; /* in host mode the container port is the host port */
                if (!hp || cJSON_IsNull(hp))
                        continue;
                r = placement_json_get_int(hp, pp, &port, e);
                if (r < 0)
                        return r;
                if (port < 0 || port > 65535)
                        return placement_json_shape_error(e, pp, "hostPort: out of range");
                if (port == 0) /* dynamic: any free port */
                        continue;
                if (add_port(td, port, protocol && strcasecmp(protocol, "udp") == 0) < 0)
                        return placement_error_set(e, -ENOMEM, "out of memory");
        }
        return 0;
}

static int parse_constraints(struct placement_taskdef *td, const cJSON *arr,
                             struct placement_error *e) {
        const cJSON *a;
        void *mem = NULL;
        size_t i = 0;
        int r;

        r = placement_json_vector(arr, "placementConstraints", sizeof(*td->constraints), &mem, e);
        if (r <= 0)
                return r;
        td->constraints = mem;
        cJSON_ArrayForEach(a, arr) {
                struct placement_taskdef_constraint *c = &td->constraints[td->n_constraints];
                char p[PLACEMENT_JSON_PATH_MAX];

                placement_json_path(p, sizeof(p), "placementConstraints[%zu]", i++);
                if (!cJSON_IsObject(a))
                        return placement_json_shape_error(e, p, "expected an object");
                r = placement_json_get_string(a, "type", p, &c->type, e);
                if (r < 0)
                        return r;
                td->n_constraints++;
                if (!c->type)
                        return placement_json_shape_error(e, p, "type: missing");
                r = placement_json_get_string(a, "expression", p, &c->expression, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The object with the task definition's fields: describe-task-definition's
 * "taskDefinition", or the document itself (register-task-definition input). */
static int taskdef_object(const cJSON *root, const cJSON **ret, struct placement_error *e) {
        const cJSON *j = NULL;

        if (!cJSON_IsObject(root))
                return placement_error_set(e, -EINVAL,
                                           "expected an object (the output of aws ecs "
                                           "describe-task-definition)");
        j = cJSON_GetObjectItemCaseSensitive(root, "taskDefinition");
        if (!j)
                j = root;
        if (!cJSON_IsObject(j))
                return placement_error_set(e, -EINVAL, "taskDefinition: expected an object");
        *ret = j;
        return 0;
}

/* family (required), the ARN (family:revision for register input) and the
 * network mode (bridge when absent). */
static int parse_names(struct placement_taskdef *td, const cJSON *j, struct placement_error *e) {
        const cJSON *rev;
        int r;

        r = placement_json_get_string(j, "family", "taskDefinition", &td->family, e);
        if (r < 0)
                return r;
        if (!td->family)
                return placement_error_set(e, -EINVAL, "taskDefinition: family: missing");
        r = placement_json_get_string(j, "taskDefinitionArn", "taskDefinition", &td->arn, e);
        if (r < 0)
                return r;
        rev = cJSON_GetObjectItemCaseSensitive(j, "revision");
        if (!td->arn &&
            asprintf(&td->arn, "%s:%d", td->family, cJSON_IsNumber(rev) ? rev->valueint : 1) < 0) {
                td->arn = NULL;
                return placement_error_set(e, -ENOMEM, "out of memory");
        }
        r = placement_json_get_string(j, "networkMode", "taskDefinition", &td->network_mode, e);
        if (r < 0)
                return r;
        if (!td->network_mode && !(td->network_mode = strdup("bridge")))
                return placement_error_set(e, -ENOMEM, "out of memory");
        return 0;
}

/* What one task takes: task-level cpu and memory when set, else the
 * containers' sum; and the containers' fixed host ports, unless each task
 * has its own interface (awsvpc, none). */
static int parse_charge(struct placement_taskdef *td, const cJSON *j, struct placement_error *e) {
        const cJSON *containers, *c;
        int64_t cpu = 0, memory = 0, task_cpu, task_memory;
        size_t i = 0;
        int r;

        containers = cJSON_GetObjectItemCaseSensitive(j, "containerDefinitions");
        if (!cJSON_IsArray(containers))
                return placement_error_set(e, -EINVAL,
                                           "taskDefinition: containerDefinitions: expected an "
                                           "array");
        cJSON_ArrayForEach(c, containers) {
                char p[PLACEMENT_JSON_PATH_MAX];

                placement_json_path(p, sizeof(p), "containerDefinitions[%zu]", i++);
                r = parse_container(td, c, p, &cpu, &memory, e);
                if (r < 0)
                        return r;
        }
        if (streq(td->network_mode, "awsvpc") || streq(td->network_mode, "none")) {
                free(td->ports);
                td->ports = NULL;
                td->n_ports = 0;
        }
        r = parse_size(cJSON_GetObjectItemCaseSensitive(j, "cpu"), "taskDefinition.cpu", "vCPU",
                       &task_cpu, e);
        if (r < 0)
                return r;
        r = parse_size(cJSON_GetObjectItemCaseSensitive(j, "memory"), "taskDefinition.memory", "GB",
                       &task_memory, e);
        if (r < 0)
                return r;
        td->cpu = task_cpu >= 0 ? task_cpu : cpu;
        td->memory = task_memory >= 0 ? task_memory : memory;
        return 0;
}

int placement_taskdef_parse(struct placement_taskdef **ret, const char *text, size_t len,
                            struct placement_error *e) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_(placement_taskdef_freep) struct placement_taskdef *td = NULL;
        const cJSON *j = NULL;
        int r;

        r = placement_json_parse(text, len, &root, e);
        if (r < 0)
                return r;
        r = taskdef_object(root, &j, e);
        if (r < 0)
                return r;
        td = calloc(1, sizeof(*td));
        if (!td)
                return placement_error_set(e, -ENOMEM, "out of memory");
        r = parse_names(td, j, e);
        if (r < 0)
                return r;
        r = parse_charge(td, j, e);
        if (r < 0)
                return r;
        r = placement_json_attributes(cJSON_GetObjectItemCaseSensitive(j, "requiresAttributes"),
                                      "requiresAttributes", &td->requires_attributes,
                                      &td->n_requires_attributes, e);
        if (r < 0)
                return r;
        r = parse_constraints(td, cJSON_GetObjectItemCaseSensitive(j, "placementConstraints"), e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(td);
        return 0;
}

/* family:revision of an ARN ("arn:aws:ecs:r:a:task-definition/web:3" ->
 * "web:3"), or the name itself. */
static const char *family_revision(const char *name) {
        const char *s = strstr(name, ":task-definition/");

        return s ? s + strlen(":task-definition/") : name;
}

const struct placement_taskdef *placement_taskdef_find(struct placement_taskdef *const *v, size_t n,
                                                       const char *ref) {
        const char *want = family_revision(ref);

        for (size_t i = 0; i < n; i++)
                if (streq(family_revision(v[i]->arn), want))
                        return v[i];
        return NULL;
}
