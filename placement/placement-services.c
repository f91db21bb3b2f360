/* placement-services.c: reads describe-services JSON into placement_services.
 * Each field placement uses is checked for its type, and the placement
 * constraints and strategies for the shape the API gives them (objects with
 * a string type, expression, field), so that a wrong file is refused here,
 * naming the field, not later by a run. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement-json.h"
#include "placement-services.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

int placement_services_new(struct placement_services **ret) {
        struct placement_services *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static void service_done(struct placement_service *sv) {
        free(sv->name);
        free(sv->arn);
        free(sv->status);
        free(sv->task_definition);
        free(sv->constraints);
        free(sv->strategies);
}

struct placement_services *placement_services_free(struct placement_services *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_services; i++)
                service_done(&s->services[i]);
        free(s->services);
        free(s);
        return NULL;
}

/* An optional array of {"type": ..., KEY: ...} objects (the constraints,
 * KEY expression; the strategies, KEY field), checked and kept as compact
 * JSON text; *ret NULL when absent, null or empty. */
static int items_json(const cJSON *j, const char *path, const char *key, char **ret,
                      struct placement_error *e) {
        const cJSON *o;
        size_t i = 0;

        *ret = NULL;
        if (!j || cJSON_IsNull(j))
                return 0;
        if (!cJSON_IsArray(j))
                return placement_json_shape_error(e, path, "expected an array");
        cJSON_ArrayForEach(o, j) {
                char p[PLACEMENT_JSON_PATH_MAX];
                const cJSON *type, *v;

                placement_json_path(p, sizeof(p), "%s[%zu]", path, i++);
                if (!cJSON_IsObject(o))
                        return placement_json_shape_error(e, p, "expected an object");
                type = cJSON_GetObjectItemCaseSensitive(o, "type");
                if (!cJSON_IsString(type))
                        return placement_json_shape_error(e, p, "type: expected a string");
                v = cJSON_GetObjectItemCaseSensitive(o, key);
                if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
                        return placement_json_shape_error(e, p, "%s: expected a string", key);
        }
        if (i == 0)
                return 0;
        *ret = cJSON_PrintUnformatted(j);
        return *ret ? 0 : placement_error_set(e, -ENOMEM, "out of memory");
}

/* [doc] A service runs on Fargate by its launch type, or by a capacity
 * provider strategy whose providers are all FARGATE or FARGATE_SPOT. */
static int parse_fargate(const cJSON *j, const char *path, bool *ret, struct placement_error *e) {
        _cleanup_free_ char *launch_type = NULL;
        const cJSON *cps, *item;
        size_t i = 0, fargate = 0;
        int r;

        r = placement_json_get_string(j, "launchType", path, &launch_type, e);
        if (r < 0)
                return r;
        *ret = streq_ptr(launch_type, "FARGATE");
        cps = cJSON_GetObjectItemCaseSensitive(j, "capacityProviderStrategy");
        if (*ret || !cps || cJSON_IsNull(cps))
                return 0;
        if (!cJSON_IsArray(cps))
                return placement_json_shape_error(e, path,
                                                  "capacityProviderStrategy: expected an array");
        cJSON_ArrayForEach(item, cps) {
                char p[PLACEMENT_JSON_PATH_MAX];
                _cleanup_free_ char *provider = NULL;

                placement_json_path(p, sizeof(p), "%s.capacityProviderStrategy[%zu]", path, i++);
                if (!cJSON_IsObject(item))
                        return placement_json_shape_error(e, p, "expected an object");
                r = placement_json_get_string(item, "capacityProvider", p, &provider, e);
                if (r < 0)
                        return r;
                fargate += streq_ptr(provider, "FARGATE") || streq_ptr(provider, "FARGATE_SPOT");
        }
        *ret = i > 0 && fargate == i;
        return 0;
}

static int parse_desired(const cJSON *j, const char *path, int64_t *ret,
                         struct placement_error *e) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "desiredCount");
        char p[PLACEMENT_JSON_PATH_MAX];
        int r;

        placement_json_path(p, sizeof(p), "%s.desiredCount", path);
        if (!v)
                return placement_json_shape_error(e, p, "missing");
        r = placement_json_get_int(v, p, ret, e);
        if (r < 0)
                return r;
        if (*ret < 0 || *ret > PLACEMENT_SERVICE_DESIRED_MAX)
                return placement_json_shape_error(e, p, "%lld is not 0..%d", (long long)*ret,
                                                  PLACEMENT_SERVICE_DESIRED_MAX);
        return 0;
}

/* The strings: name (required), ARN, status (ACTIVE when absent), task
 * definition, scheduling strategy. */
static int parse_names(const cJSON *j, const char *path, struct placement_service *sv,
                       struct placement_error *e) {
        _cleanup_free_ char *scheduling = NULL;
        int r;

        r = placement_json_get_string(j, "serviceName", path, &sv->name, e);
        if (r < 0)
                return r;
        if (!sv->name)
                return placement_json_shape_error(e, path, "serviceName: missing");
        if ((r = placement_json_get_string(j, "serviceArn", path, &sv->arn, e)) < 0 ||
            (r = placement_json_get_string(j, "status", path, &sv->status, e)) < 0 ||
            (r = placement_json_get_string(j, "taskDefinition", path, &sv->task_definition, e)) <
                    0 ||
            (r = placement_json_get_string(j, "schedulingStrategy", path, &scheduling, e)) < 0)
                return r;
        if (!sv->status && !(sv->status = strdup("ACTIVE")))
                return placement_error_set(e, -ENOMEM, "out of memory");
        sv->daemon = streq_ptr(scheduling, "DAEMON");
        return 0;
}

static int parse_service(const cJSON *j, const char *path, struct placement_service *sv,
                         struct placement_error *e) {
        char p[PLACEMENT_JSON_PATH_MAX];
        int r;

        if (!cJSON_IsObject(j))
                return placement_json_shape_error(e, path, "expected an object");
        r = parse_names(j, path, sv, e);
        if (r >= 0)
                r = parse_desired(j, path, &sv->desired, e);
        if (r >= 0)
                r = parse_fargate(j, path, &sv->fargate, e);
        if (r < 0)
                return r;
        placement_json_path(p, sizeof(p), "%s.placementConstraints", path);
        r = items_json(cJSON_GetObjectItemCaseSensitive(j, "placementConstraints"), p, "expression",
                       &sv->constraints, e);
        if (r < 0)
                return r;
        placement_json_path(p, sizeof(p), "%s.placementStrategy", path);
        return items_json(cJSON_GetObjectItemCaseSensitive(j, "placementStrategy"), p, "field",
                          &sv->strategies, e);
}

static int parse_service_any(const cJSON *j, const char *path, void *out,
                             struct placement_error *e) {
        return parse_service(j, path, out, e);
}

static void service_done_any(void *x) {
        service_done(x);
}

int placement_services_load(struct placement_services *s, const char *text, size_t len,
                            struct placement_error *e) {
        static const struct placement_json_loader l = {"services", "aws ecs describe-services",
                                                       sizeof(struct placement_service),
                                                       parse_service_any, service_done_any};
        void *vec = s->services;
        int r = placement_json_load_array(&l, text, len, &vec, &s->n_services, e);

        s->services = vec;
        return r;
}
