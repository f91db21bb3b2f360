/* placement-run.c: task placement as ECS documents it.  Filters run in ECS's
 * order and the first one that empties the candidate set names the failure;
 * strategies then narrow the candidates in order, each keeping only its best,
 * and a pseudo-random choice from the request's seed breaks what ties are
 * left, so a run is reproducible from its seed. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "placement-json.h"
#include "placement-query-eval.h"
#include "placement-run.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

static const char *const step_names[] = {
        "AGENT",          "RESOURCE:CPU",       "RESOURCE:MEMORY",
        "RESOURCE:PORTS", "RESOURCE:PORTS_UDP", "ATTRIBUTE",
};
#define REASON_MEMBER_OF "MemberOf placement constraint unsatisfied."
#define REASON_DISTINCT_INSTANCE "DistinctInstance placement constraint unsatisfied."

void placement_request_done(struct placement_request *r) {
        for (size_t i = 0; i < r->n_constraints; i++) {
                free(r->constraints[i].expression);
                placement_query_free(r->constraints[i].query);
        }
        free(r->constraints);
        for (size_t i = 0; i < r->n_strategies; i++)
                free(r->strategies[i].field);
        free(r->strategies);
        free(r->group);
        r->constraints = NULL;
        r->strategies = NULL;
        r->group = NULL;
        r->n_constraints = r->n_strategies = 0;
}

/* ---- constraint and strategy arguments ---- */

struct item {
        char *type, *field, *expression;
        bool has_expression;
};

static void item_done(struct item *it) {
        free(it->type);
        free(it->field);
        free(it->expression);
        *it = (struct item){};
}

static bool at_key(const char *s) {
        size_t n = 0;
        while (isalpha((unsigned char)s[n]))
                n++;
        return n > 0 && s[n] == '=';
}

/* type=spread,field=attribute:x  /  type=memberOf,expression="a in [b, c]".
 * A comma ends an unquoted value only when a `key=` follows, so expressions
 * with lists need no quotes. */
static int parse_shorthand(const char *s, struct item *it, struct placement_error *e) {
        while (*s) {
                size_t klen = 0;
                char *value, **dst;
                const char *v;
                size_t vlen;

                while (isalpha((unsigned char)s[klen]))
                        klen++;
                if (klen == 0 || s[klen] != '=')
                        return placement_error_set(e, -EINVAL,
                                                   "expected key=value in '%s' (keys: type, "
                                                   "field, expression)",
                                                   s);
                if (klen == 4 && strncmp(s, "type", 4) == 0)
                        dst = &it->type;
                else if (klen == 5 && strncmp(s, "field", 5) == 0)
                        dst = &it->field;
                else if (klen == 10 && strncmp(s, "expression", 10) == 0) {
                        dst = &it->expression;
                        it->has_expression = true;
                } else
                        return placement_error_set(e, -EINVAL,
                                                   "unknown key '%.*s' (type, field, expression "
                                                   "expected)",
                                                   (int)klen, s);
                v = s + klen + 1;
                if (*v == '"' || *v == '\'') {
                        const char *close = strchr(v + 1, *v);
                        if (!close)
                                return placement_error_set(e, -EINVAL, "unterminated %c in '%s'",
                                                           *v, s);
                        vlen = (size_t)(close - v - 1);
                        v++;
                        s = close + 1;
                        if (*s == ',')
                                s++;
                        else if (*s)
                                return placement_error_set(e, -EINVAL,
                                                           "',' expected after a quoted value "
                                                           "in '%s'",
                                                           v - klen - 2);
                } else {
                        const char *end = v;
                        while (*end && !(*end == ',' && at_key(end + 1)))
                                end++;
                        vlen = (size_t)(end - v);
                        s = *end ? end + 1 : end;
                }
                value = strndup(v, vlen);
                if (!value)
                        return placement_error_set(e, -ENOMEM, "out of memory");
                free(*dst);
                *dst = value;
        }
        return 0;
}

/* Items from JSON (an array of objects or one object) or one shorthand item. */
static int parse_items(const char *text, struct item **ret, size_t *ret_n,
                       struct placement_error *e) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *s = text;
        struct item *v;
        const cJSON *o;
        size_t n = 0;
        int r;

        while (isspace((unsigned char)*s))
                s++;
        if (*s != '[' && *s != '{') {
                v = calloc(1, sizeof(*v));
                if (!v)
                        return placement_error_set(e, -ENOMEM, "out of memory");
                r = parse_shorthand(s, v, e);
                if (r < 0) {
                        item_done(v);
                        free(v);
                        return r;
                }
                *ret = v;
                *ret_n = 1;
                return 0;
        }
        r = placement_json_parse(text, strlen(text), &root, e);
        if (r < 0)
                return r;
        if (cJSON_IsObject(root)) {
                cJSON *arr = cJSON_CreateArray();
                if (!arr || !cJSON_AddItemToArray(arr, root)) {
                        cJSON_Delete(arr);
                        return placement_error_set(e, -ENOMEM, "out of memory");
                }
                root = arr;
        }
        if (!cJSON_IsArray(root))
                return placement_error_set(e, -EINVAL, "expected a JSON array of objects");
        v = calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof(*v));
        if (!v)
                return placement_error_set(e, -ENOMEM, "out of memory");
        cJSON_ArrayForEach(o, root) {
                char path[PLACEMENT_JSON_PATH_MAX];
                placement_json_path(path, sizeof(path), "[%zu]", n);
                if (!cJSON_IsObject(o))
                        r = placement_json_shape_error(e, path, "expected an object");
                else if ((r = placement_json_get_string(o, "type", path, &v[n].type, e)) >= 0 &&
                         (r = placement_json_get_string(o, "field", path, &v[n].field, e)) >= 0)
                        r = placement_json_get_string(o, "expression", path, &v[n].expression, e);
                v[n].has_expression = v[n].expression != NULL;
                n++;
                if (r < 0) {
                        for (size_t i = 0; i < n; i++)
                                item_done(&v[i]);
                        free(v);
                        return r;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int add_constraint(struct placement_request *r, enum placement_constraint_type type,
                          const char *expression, const char **ret_expression,
                          struct placement_error *e) {
        struct placement_constraint *grown, *c;
        int k;

        grown = realloc(r->constraints, (r->n_constraints + 1) * sizeof(*grown));
        if (!grown)
                return placement_error_set(e, -ENOMEM, "out of memory");
        r->constraints = grown;
        c = &r->constraints[r->n_constraints];
        *c = (struct placement_constraint){.type = type};
        if (type == PLACEMENT_CONSTRAINT_MEMBER_OF) {
                c->expression = strdup(expression);
                if (!c->expression)
                        return placement_error_set(e, -ENOMEM, "out of memory");
                r->n_constraints++;
                k = placement_query_parse(&c->query, c->expression, strlen(c->expression), e);
                if (k < 0) {
                        if (ret_expression)
                                *ret_expression = c->expression;
                        return k;
                }
                return 0;
        }
        r->n_constraints++;
        return 0;
}

int placement_request_add_constraints(struct placement_request *r, const char *text,
                                      const char **ret_expression, struct placement_error *e) {
        struct item *items = NULL;
        size_t n = 0;
        int k = 0;

        k = parse_items(text, &items, &n, e);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n && k >= 0; i++) {
                const struct item *it = &items[i];
                if (!it->type)
                        k = placement_error_set(e, -EINVAL, "placement constraint: type missing");
                else if (strcasecmp(it->type, "distinctInstance") == 0) {
                        if (it->has_expression)
                                k = placement_error_set(
                                        e, -EINVAL,
                                        "distinctInstance expression should not be specified.");
                        else
                                k = add_constraint(r, PLACEMENT_CONSTRAINT_DISTINCT_INSTANCE, NULL,
                                                   ret_expression, e);
                } else if (strcasecmp(it->type, "memberOf") == 0) {
                        if (!it->expression)
                                k = placement_error_set(
                                        e, -EINVAL, "memberOf constraint requires an expression.");
                        else
                                k = add_constraint(r, PLACEMENT_CONSTRAINT_MEMBER_OF,
                                                   it->expression, ret_expression, e);
                } else
                        k = placement_error_set(e, -EINVAL,
                                                "constraint.type '%s' is not supported "
                                                "(memberOf or distinctInstance expected).",
                                                it->type);
        }
        for (size_t i = 0; i < n; i++)
                item_done(&items[i]);
        free(items);
        return k;
}

static int add_strategy(struct placement_request *r, const struct item *it,
                        struct placement_error *e) {
        struct placement_strategy s = {};
        struct placement_strategy *grown;
        const char *field = it->field;

        if (!it->type)
                return placement_error_set(e, -EINVAL, "placement strategy: type missing");
        if (strcasecmp(it->type, "random") == 0) {
                s.type = PLACEMENT_STRATEGY_RANDOM;
                field = NULL;
        } else if (strcasecmp(it->type, "binpack") == 0) {
                s.type = PLACEMENT_STRATEGY_BINPACK;
                if (!field || (strcasecmp(field, "cpu") != 0 && strcasecmp(field, "memory") != 0))
                        return placement_error_set(e, -EINVAL,
                                                   "binpack field must be cpu or memory (got "
                                                   "'%s').",
                                                   field ? field : "");
                field = strcasecmp(field, "cpu") == 0 ? "cpu" : "memory";
        } else if (strcasecmp(it->type, "spread") == 0) {
                s.type = PLACEMENT_STRATEGY_SPREAD;
                if (field &&
                    (strcasecmp(field, "instanceId") == 0 || strcasecmp(field, "host") == 0))
                        field = "instanceId";
                else if (!field || strncmp(field, "attribute:", 10) != 0 || !field[10])
                        return placement_error_set(e, -EINVAL,
                                                   "spread field must be instanceId, host or "
                                                   "attribute:<name> (got '%s').",
                                                   field ? field : "");
        } else
                return placement_error_set(e, -EINVAL,
                                           "placement strategy type '%s' is not supported "
                                           "(random, spread or binpack expected).",
                                           it->type);
        if (field && !(s.field = strdup(field)))
                return placement_error_set(e, -ENOMEM, "out of memory");
        grown = realloc(r->strategies, (r->n_strategies + 1) * sizeof(*grown));
        if (!grown) {
                free(s.field);
                return placement_error_set(e, -ENOMEM, "out of memory");
        }
        r->strategies = grown;
        r->strategies[r->n_strategies++] = s;
        return 0;
}

int placement_request_add_strategies(struct placement_request *r, const char *text,
                                     struct placement_error *e) {
        struct item *items = NULL;
        size_t n = 0;
        int k;

        k = parse_items(text, &items, &n, e);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n && k >= 0; i++)
                k = add_strategy(r, &items[i], e);
        for (size_t i = 0; i < n; i++)
                item_done(&items[i]);
        free(items);
        return k;
}

int placement_request_validate(struct placement_request *r, const char **ret_expression,
                               struct placement_error *e) {
        const struct placement_taskdef *td = r->taskdef;
        size_t given = r->n_constraints;
        int k;

        /* The task definition's constraints are appended, then rotated to
         * the front: they are part of the task, and the first constraint to
         * empty the candidates names the failure. */
        for (size_t i = 0; i < td->n_constraints; i++) {
                const struct placement_taskdef_constraint *c = &td->constraints[i];
                if (strcasecmp(c->type, "distinctInstance") == 0)
                        return placement_error_set(
                                e, -EINVAL, "constraint.type 'distinctInstance' is not supported.");
                if (strcasecmp(c->type, "memberOf") != 0)
                        return placement_error_set(
                                e, -EINVAL, "constraint.type '%s' is not supported.", c->type);
                if (!c->expression)
                        return placement_error_set(e, -EINVAL,
                                                   "memberOf constraint requires an expression.");
                k = add_constraint(r, PLACEMENT_CONSTRAINT_MEMBER_OF, c->expression, ret_expression,
                                   e);
                if (k < 0)
                        return k;
        }
        if (given > 0 && r->n_constraints > given) {
                size_t added = r->n_constraints - given;
                struct placement_constraint *tmp = malloc(added * sizeof(*tmp));
                if (!tmp)
                        return placement_error_set(e, -ENOMEM, "out of memory");
                memcpy(tmp, r->constraints + given, added * sizeof(*tmp));
                memmove(r->constraints + added, r->constraints, given * sizeof(*tmp));
                memcpy(r->constraints, tmp, added * sizeof(*tmp));
                free(tmp);
        }
        if (r->fargate && (r->n_constraints > 0 || r->n_strategies > 0))
                return placement_error_set(
                        e, -EINVAL,
                        "Placement constraints are not supported with FARGATE launch type.");
        if (r->n_constraints > PLACEMENT_MAX_CONSTRAINTS)
                return placement_error_set(e, -EINVAL,
                                           "Too many placement constraints: %zu (at most %d, task "
                                           "definition and request together).",
                                           r->n_constraints, PLACEMENT_MAX_CONSTRAINTS);
        if (r->n_strategies > PLACEMENT_MAX_STRATEGIES)
                return placement_error_set(e, -EINVAL,
                                           "Too many placement strategies: %zu (at most %d).",
                                           r->n_strategies, PLACEMENT_MAX_STRATEGIES);
        if (!r->group && asprintf(&r->group, "family:%s", td->family) < 0) {
                r->group = NULL;
                return placement_error_set(e, -ENOMEM, "out of memory");
        }
        return 0;
}

/* ---- placement ---- */

/* splitmix64: small, and the same sequence everywhere for a given seed. */
static uint64_t rng_next(uint64_t *state) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static bool has_port(const uint16_t *ports, size_t n, uint16_t port) {
        for (size_t i = 0; i < n; i++)
                if (ports[i] == port)
                        return true;
        return false;
}

/* Does instance ci pass filter step (an index into step_names, or 6 + k for
 * constraint k)? */
static int passes(const struct placement_request *r, const struct placement_instance *ci,
                  const char *group, size_t step) {
        const struct placement_taskdef *td = r->taskdef;

        switch (step) {
        case 0:
                return streq(ci->status, "ACTIVE") && ci->agent_connected;
        case 1:
                /* [decision] An instance that reports no CPU (or memory) is
                 * not limited by it: hand-written fixtures may leave it out. */
                return ci->remaining.cpu < 0 || ci->remaining.cpu >= td->cpu;
        case 2:
                return ci->remaining.memory < 0 || ci->remaining.memory >= td->memory;
        case 3:
        case 4:
                for (size_t i = 0; i < td->n_ports; i++) {
                        bool udp = step == 4;
                        if (td->ports[i].udp != udp)
                                continue;
                        if (udp ? has_port(ci->remaining.ports_udp, ci->remaining.n_ports_udp,
                                           td->ports[i].port)
                                : has_port(ci->remaining.ports_tcp, ci->remaining.n_ports_tcp,
                                           td->ports[i].port))
                                return 0;
                }
                return 1;
        case 5:
                for (size_t i = 0; i < td->n_requires_attributes; i++) {
                        const struct placement_required_attribute *ra = &td->requires_attributes[i];
                        const struct placement_attribute *a =
                                placement_instance_attribute(ci, ra->name);
                        if (!a || (ra->value && !streq_ptr(a->value, ra->value)))
                                return 0;
                }
                return 1;
        default: {
                const struct placement_constraint *c = &r->constraints[step - 6];
                if (c->type == PLACEMENT_CONSTRAINT_DISTINCT_INSTANCE)
                        return placement_instance_group_count(ci, group) == 0;
                return placement_query_eval(c->query, ci);
        }
        }
}

static const char *step_name(const struct placement_request *r, size_t step) {
        if (step < ELEMENTSOF(step_names))
                return step_names[step];
        return r->constraints[step - 6].type == PLACEMENT_CONSTRAINT_DISTINCT_INSTANCE
                       ? REASON_DISTINCT_INSTANCE
                       : REASON_MEMBER_OF;
}

/* The spread bucket of ci: the attribute's value, or the instance itself. */
static const char *bucket_of(const struct placement_strategy *s,
                             const struct placement_instance *ci, bool *missing) {
        const struct placement_attribute *a;

        *missing = false;
        if (streq(s->field, "instanceId"))
                return ci->arn;
        a = placement_instance_attribute(ci, s->field + strlen("attribute:"));
        if (!a) {
                *missing = true; /* [decision] instances without it share one bucket */
                return NULL;
        }
        return a->value ? a->value : "";
}

static bool same_bucket(const char *a, bool a_missing, const char *b, bool b_missing) {
        return a_missing || b_missing ? a_missing == b_missing : streq(a, b);
}

/* Tasks of group in ci's bucket, over every instance of the cluster:
 * spreading is about where the group's tasks are, placeable or not. */
static int64_t bucket_count(const struct placement_cluster *c, const struct placement_strategy *s,
                            const struct placement_instance *ci, const char *group) {
        bool missing, m;
        const char *key = bucket_of(s, ci, &missing);
        int64_t n = 0;

        if (streq(s->field, "instanceId"))
                return placement_instance_group_count(ci, group);
        for (size_t i = 0; i < c->n_instances; i++) {
                const char *k = bucket_of(s, &c->instances[i], &m);
                if (same_bucket(key, missing, k, m))
                        n += placement_instance_group_count(&c->instances[i], group);
        }
        return n;
}

/* Keep the candidates that are best under s; fill the explain record. */
static void apply_strategy(const struct placement_cluster *c, const struct placement_strategy *s,
                           const char *group, size_t *cand, size_t *n, uint64_t *rng,
                           struct placement_strategy_step *out) {
        int64_t *score, best = INT64_MAX;
        size_t kept = 0, best_at = 0;

        out->strategy = s;
        out->bucket = NULL;
        out->score = 0;
        if (s->type == PLACEMENT_STRATEGY_RANDOM) {
                cand[0] = cand[rng_next(rng) % *n];
                *n = 1;
                out->kept = 1;
                return;
        }
        score = malloc(*n * sizeof(*score));
        if (!score) { /* keep everyone: best effort, like strategies themselves */
                out->kept = *n;
                return;
        }
        for (size_t i = 0; i < *n; i++) {
                const struct placement_instance *ci = &c->instances[cand[i]];
                if (s->type == PLACEMENT_STRATEGY_BINPACK)
                        score[i] =
                                streq(s->field, "cpu") ? ci->remaining.cpu : ci->remaining.memory;
                else
                        score[i] = bucket_count(c, s, ci, group);
                if (score[i] < best) {
                        best = score[i];
                        best_at = i;
                }
        }
        if (s->type == PLACEMENT_STRATEGY_SPREAD) {
                bool missing;
                out->bucket = bucket_of(s, &c->instances[cand[best_at]], &missing);
        }
        for (size_t i = 0; i < *n; i++)
                if (score[i] == best)
                        cand[kept++] = cand[i];
        free(score);
        *n = kept;
        out->kept = kept;
        out->score = best;
}

static int place(struct placement_instance *ci, const struct placement_taskdef *td,
                 const char *group) {
        if (ci->remaining.cpu >= 0)
                ci->remaining.cpu -= td->cpu;
        if (ci->remaining.memory >= 0)
                ci->remaining.memory -= td->memory;
        for (size_t i = 0; i < td->n_ports; i++) {
                uint16_t **v =
                        td->ports[i].udp ? &ci->remaining.ports_udp : &ci->remaining.ports_tcp;
                size_t *n =
                        td->ports[i].udp ? &ci->remaining.n_ports_udp : &ci->remaining.n_ports_tcp;
                uint16_t *grown = realloc(*v, (*n + 1) * sizeof(**v));
                if (!grown)
                        return -ENOMEM;
                grown[(*n)++] = td->ports[i].port;
                *v = grown;
        }
        ci->running_tasks_count++;
        return placement_instance_add_group(ci, group);
}

struct placement_result *placement_result_free(struct placement_result *res) {
        if (!res)
                return NULL;
        free(res->tasks);
        free(res->group);
        free(res);
        return NULL;
}

int placement_run(struct placement_cluster *c, const struct placement_request *r,
                  struct placement_result **ret) {
        struct placement_result *res;
        _cleanup_free_ size_t *cand = NULL;
        uint64_t rng = r->seed;
        size_t n_steps = ELEMENTSOF(step_names) + r->n_constraints;
        int k;

        if (!r->group || r->n_constraints > PLACEMENT_MAX_CONSTRAINTS ||
            r->n_strategies > PLACEMENT_MAX_STRATEGIES)
                return -EINVAL; /* not validated */
        res = calloc(1, sizeof(*res));
        if (!res)
                return -ENOMEM;
        res->tasks = calloc(r->count + 1, sizeof(*res->tasks));
        res->group = strdup(r->group);
        cand = malloc((c->n_instances + 1) * sizeof(*cand));
        if (!res->tasks || !res->group || !cand) {
                placement_result_free(res);
                return -ENOMEM;
        }
        for (unsigned t = 0; t < r->count; t++) {
                struct placement_task_result *tr = &res->tasks[res->n_tasks++];
                size_t n = c->n_instances;

                tr->instance = -1;
                for (size_t i = 0; i < n; i++)
                        cand[i] = i;
                for (size_t step = 0; step < n_steps; step++) {
                        size_t kept = 0;
                        for (size_t i = 0; i < n; i++) {
                                k = passes(r, &c->instances[cand[i]], r->group, step);
                                if (k < 0) {
                                        placement_result_free(res);
                                        return k;
                                }
                                if (k)
                                        cand[kept++] = cand[i];
                        }
                        tr->steps[tr->n_steps++] = (struct placement_step){
                                .name = step_name(r, step), .removed = n - kept, .left = kept};
                        n = kept;
                        if (n == 0) {
                                tr->reason = step_name(r, step);
                                break;
                        }
                }
                if (n == 0)
                        continue;
                for (size_t s = 0; s < r->n_strategies; s++)
                        apply_strategy(c, &r->strategies[s], r->group, cand, &n, &rng,
                                       &tr->strategies[tr->n_strategies++]);
                tr->tied = n;
                tr->instance = (long)cand[n > 1 ? rng_next(&rng) % n : 0];
                k = place(&c->instances[tr->instance], r->taskdef, r->group);
                if (k < 0) {
                        placement_result_free(res);
                        return k;
                }
        }
        *ret = res;
        return 0;
}
