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
#define _noinline_ __attribute__((noinline))

static const char *const step_names[] = {
        "AGENT",          "RESOURCE:CPU",       "RESOURCE:MEMORY",
        "RESOURCE:PORTS", "RESOURCE:PORTS_UDP", "ATTRIBUTE",
};
#define REASON_MEMBER_OF "MemberOf placement constraint unsatisfied."
#define REASON_DISTINCT_INSTANCE "DistinctInstance placement constraint unsatisfied."
/* [doc] A service without strategies spreads by zone, then by instance. */
#define SERVICE_DEFAULT_STRATEGIES                                                                 \
        "type=spread,field=attribute:ecs.availability-zone type=spread,field=instanceId"

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

static void items_free(struct item *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                item_done(&v[i]);
        free(v);
}

/* Several shorthand items in one argument ("type=spread,field=x
 * type=binpack,field=memory") are split where whitespace is followed by
 * `type=`, as the shell would have split them. */
static bool at_next_item(const char *s) {
        return isspace((unsigned char)s[0]) && strncmp(s + 1, "type=", 5) == 0;
}

static int parse_shorthand_items(const char *s, struct item **ret, size_t *ret_n,
                                 struct placement_error *e) {
        struct item *v;
        size_t max = 1, n = 0;
        int r;

        for (const char *q = s; *q; q++)
                max += at_next_item(q);
        v = calloc(max + 1, sizeof(*v));
        if (!v)
                return placement_error_set(e, -ENOMEM, "out of memory");
        while (*s) {
                const char *end = s;
                _cleanup_free_ char *one = NULL;

                while (*end && !at_next_item(end))
                        end++;
                one = strndup(s, (size_t)(end - s));
                r = one ? parse_shorthand(one, &v[n], e)
                        : placement_error_set(e, -ENOMEM, "out of memory");
                n++;
                if (r < 0) {
                        items_free(v, n);
                        return r;
                }
                s = *end ? end + 1 : end;
                while (isspace((unsigned char)*s))
                        s++;
        }
        if (n == 0) {
                free(v);
                return placement_error_set(e, -EINVAL, "empty value (type=... expected)");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int parse_json_item(const cJSON *o, const char *path, struct item *it,
                           struct placement_error *e) {
        int r;

        if (!cJSON_IsObject(o))
                return placement_json_shape_error(e, path, "expected an object");
        r = placement_json_get_string(o, "type", path, &it->type, e);
        if (r >= 0)
                r = placement_json_get_string(o, "field", path, &it->field, e);
        if (r >= 0)
                r = placement_json_get_string(o, "expression", path, &it->expression, e);
        it->has_expression = it->expression != NULL;
        return r;
}

/* An array of objects, or one object. */
static int parse_json_items(const char *text, struct item **ret, size_t *ret_n,
                            struct placement_error *e) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        struct item *v;
        const cJSON *o;
        size_t n = 0;
        int r;

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
                r = parse_json_item(o, path, &v[n++], e);
                if (r < 0) {
                        items_free(v, n);
                        return r;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* Items from JSON (an array of objects or one object) or shorthand. */
static int parse_items(const char *text, struct item **ret, size_t *ret_n,
                       struct placement_error *e) {
        const char *s = text;

        while (isspace((unsigned char)*s))
                s++;
        if (*s != '[' && *s != '{')
                return parse_shorthand_items(s, ret, ret_n, e);
        return parse_json_items(text, ret, ret_n, e);
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

static int add_constraint_item(struct placement_request *r, const struct item *it,
                               const char **ret_expression, struct placement_error *e) {
        if (!it->type)
                return placement_error_set(e, -EINVAL, "placement constraint: type missing");
        if (strcasecmp(it->type, "distinctInstance") == 0) {
                if (it->has_expression)
                        return placement_error_set(
                                e, -EINVAL, "distinctInstance expression should not be specified.");
                return add_constraint(r, PLACEMENT_CONSTRAINT_DISTINCT_INSTANCE, NULL,
                                      ret_expression, e);
        }
        if (strcasecmp(it->type, "memberOf") == 0) {
                if (!it->expression)
                        return placement_error_set(e, -EINVAL,
                                                   "memberOf constraint requires an expression.");
                return add_constraint(r, PLACEMENT_CONSTRAINT_MEMBER_OF, it->expression,
                                      ret_expression, e);
        }
        return placement_error_set(e, -EINVAL,
                                   "constraint.type '%s' is not supported "
                                   "(memberOf or distinctInstance expected).",
                                   it->type);
}

/* ret_expression: unused, strategies have no expression (see add_items()). */
static int add_strategy(struct placement_request *r, const struct item *it,
                        _unused_ const char **ret_expression, struct placement_error *e) {
        struct placement_strategy s = {};
        struct placement_strategy *grown;
        const char *field = it->field;

        if (!it->type)
                return placement_error_set(e, -EINVAL, "placement strategy: type missing");
        if (strcasecmp(it->type, "random") == 0) {
                s.type = PLACEMENT_STRATEGY_RANDOM;
                s.field_kind = PLACEMENT_STRATEGY_FIELD_NONE;
                field = NULL;
        } else if (strcasecmp(it->type, "binpack") == 0) {
                s.type = PLACEMENT_STRATEGY_BINPACK;
                if (!field || (strcasecmp(field, "cpu") != 0 && strcasecmp(field, "memory") != 0))
                        return placement_error_set(e, -EINVAL,
                                                   "binpack field must be cpu or memory (got "
                                                   "'%s').",
                                                   field ? field : "");
                s.field_kind = strcasecmp(field, "cpu") == 0 ? PLACEMENT_STRATEGY_FIELD_CPU
                                                             : PLACEMENT_STRATEGY_FIELD_MEMORY;
                field = s.field_kind == PLACEMENT_STRATEGY_FIELD_CPU ? "cpu" : "memory";
        } else if (strcasecmp(it->type, "spread") == 0) {
                s.type = PLACEMENT_STRATEGY_SPREAD;
                if (field &&
                    (strcasecmp(field, "instanceId") == 0 || strcasecmp(field, "host") == 0)) {
                        s.field_kind = PLACEMENT_STRATEGY_FIELD_INSTANCE_ID;
                        field = "instanceId";
                } else if (!field || strncmp(field, "attribute:", 10) != 0 || !field[10])
                        return placement_error_set(e, -EINVAL,
                                                   "spread field must be instanceId, host or "
                                                   "attribute:<name> (got '%s').",
                                                   field ? field : "");
                else
                        s.field_kind = PLACEMENT_STRATEGY_FIELD_ATTRIBUTE;
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

/* Parse text into items and add each with add, up to the first that fails. */
static int add_items(struct placement_request *r, const char *text,
                     int (*add)(struct placement_request *r, const struct item *it,
                                const char **ret_expression, struct placement_error *e),
                     const char **ret_expression, struct placement_error *e) {
        struct item *items = NULL;
        size_t n = 0;
        int k;

        k = parse_items(text, &items, &n, e);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n && k >= 0; i++)
                k = add(r, &items[i], ret_expression, e);
        items_free(items, n);
        return k;
}

int placement_request_add_constraints(struct placement_request *r, const char *text,
                                      const char **ret_expression, struct placement_error *e) {
        return add_items(r, text, add_constraint_item, ret_expression, e);
}

int placement_request_add_strategies(struct placement_request *r, const char *text,
                                     struct placement_error *e) {
        return add_items(r, text, add_strategy, NULL, e);
}

/* The task definition's constraints are appended, then rotated to the
 * front: they are part of the task, and the first constraint to empty the
 * candidates names the failure. */
static int add_taskdef_constraints(struct placement_request *r, const char **ret_expression,
                                   struct placement_error *e) {
        const struct placement_taskdef *td = r->taskdef;
        size_t given = r->n_constraints, added;
        struct placement_constraint *tmp;
        int k;

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
        if (given == 0 || r->n_constraints == given)
                return 0;
        added = r->n_constraints - given;
        tmp = malloc(added * sizeof(*tmp));
        if (!tmp)
                return placement_error_set(e, -ENOMEM, "out of memory");
        memcpy(tmp, r->constraints + given, added * sizeof(*tmp));
        memmove(r->constraints + added, r->constraints, given * sizeof(*tmp));
        memcpy(r->constraints, tmp, added * sizeof(*tmp));
        free(tmp);
        return 0;
}

/* [doc] FARGATE tasks take no placement: any constraint (the task
 * definition's too) or strategy is refused, with ECS's wording. */
static int check_fargate(const struct placement_request *r, struct placement_error *e) {
        if (r->fargate && (r->n_constraints > 0 || r->n_strategies > 0))
                return placement_error_set(
                        e, -EINVAL,
                        "Placement constraints are not supported with FARGATE launch type.");
        return 0;
}

int placement_request_validate(struct placement_request *r, const char **ret_expression,
                               struct placement_error *e) {
        int k;

        k = add_taskdef_constraints(r, ret_expression, e);
        if (k < 0)
                return k;
        k = check_fargate(r, e);
        if (k < 0)
                return k;
        if (r->n_constraints > PLACEMENT_MAX_CONSTRAINTS)
                return placement_error_set(e, -EINVAL,
                                           "Too many placement constraints: %zu (at most %d, task "
                                           "definition and request together).",
                                           r->n_constraints, PLACEMENT_MAX_CONSTRAINTS);
        if (r->n_strategies > PLACEMENT_MAX_STRATEGIES)
                return placement_error_set(e, -EINVAL,
                                           "Too many placement strategies: %zu (at most %d).",
                                           r->n_strategies, PLACEMENT_MAX_STRATEGIES);
        if (!r->group && asprintf(&r->group, "family:%s", r->taskdef->family) < 0) {
                r->group = NULL;
                return placement_error_set(e, -ENOMEM, "out of memory");
        }
        return 0;
}

int placement_request_service(struct placement_request *r, const struct placement_cluster *c,
                              const char *name, unsigned desired, size_t *ret_existing,
                              struct placement_error *e) {
        _cleanup_free_ char *group = NULL;
        size_t existing = 0;
        int k;

        if (asprintf(&group, "service:%s", name) < 0) {
                group = NULL;
                return placement_error_set(e, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < c->n_instances; i++)
                existing += placement_instance_group_count(&c->instances[i], group);
        /* A Fargate service has no instances to spread over: ECS applies no
         * default strategy to it (and refuses any given). */
        if (r->n_strategies == 0 && !r->fargate) {
                k = placement_request_add_strategies(r, SERVICE_DEFAULT_STRATEGIES, e);
                if (k < 0)
                        return k;
        }
        free(r->group);
        r->group = TAKE_PTR(group);
        r->count = desired > existing ? (unsigned)(desired - existing) : 0;
        if (ret_existing)
                *ret_existing = existing;
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

/* A spread strategy's buckets in one run: which bucket each instance is in
 * (the session's cache, built once per field) and how many tasks of the
 * group each bucket holds.  The counts include every instance of the
 * cluster that is not excluded, placeable or not: spreading is about where
 * the group's tasks are. */
struct spread_index {
        const size_t *bucket; /* per instance */
        int64_t *count;       /* per bucket */
        const char **key;     /* per bucket: the value; NULL for "attribute missing" */
        size_t n_buckets;
};

/* A spread field's buckets, built the first time a run spreads by it. */
struct spread_cache {
        char *field; /* "instanceId" or "attribute:NAME", as the strategy reports it */
        size_t *bucket;
        const char **key; /* borrowed from the cluster */
        size_t n_buckets;
};

/* One task group on one instance: the session's index of who holds what. */
struct group_member {
        const char *group; /* borrowed from the instance's groups[] */
        size_t instance, slot;
};

/* What one placement changed, so that a rollback can undo it exactly. */
struct journal_entry {
        size_t instance, slot;
        int64_t cpu, memory; /* taken from remaining (0 when it reports none) */
        size_t tcp, udp;     /* host ports appended */
        bool new_group;      /* the placement added groups[slot] */
};

struct placement_session {
        struct placement_cluster *c; /* borrowed: runs update it */
        size_t n;                    /* its instances, fixed for the session's life */
        bool *excluded;              /* per instance: lost, see placement_session_exclude() */
        bool *agent_ok;              /* per instance: ACTIVE, agent connected, not excluded */
        int64_t *cpu, *memory;       /* per instance: remaining, dense for the hot loop (mirrors
                                      * the cluster's, which place() updates too) */
        /* Per run, and back to 0 / SIZE_MAX when it ends (see run_state_done()). */
        int64_t *group_count; /* tasks of the run's group */
        size_t *group_slot;   /* that group's index in groups[] (SIZE_MAX: none) */
        uint8_t *verdict;     /* 0 unknown, else 1 + the first slow step it fails
                               * (n_steps: none); see slow_steps() */
        size_t *touched;      /* the instances whose group_count / group_slot are set */
        size_t n_touched;
        size_t *cand;
        int64_t *spread_count[PLACEMENT_MAX_STRATEGIES]; /* per bucket, one per strategy */
        struct spread_cache *spreads;
        size_t n_spreads;
        /* Who holds which group: sorted at the last mark, and what placements
         * added since, in order. */
        struct group_member *index, *added;
        size_t n_index, n_added, size_added;
        struct journal_entry *journal;
        size_t n_journal, size_journal;
        bool journaling; /* since placement_session_mark() */
        /* memberOf expressions whose verdict no placement changes, each with
         * its verdict per instance, kept for the session (see memo_get()). */
        struct constraint_memo *memos;
        size_t n_memos;
};

/* A memberOf expression's verdicts per instance: 0 not judged yet, else 1 +
 * the verdict.  v is NULL when the expression reads what placements change
 * (task:group, runningTasksCount): it is judged afresh in each run. */
struct constraint_memo {
        const struct placement_query *query; /* borrowed: the request's, which outlives its runs */
        uint8_t *v;
};

/* One run's view of the session: the arrays the hot loops read. */
struct run_state {
        struct placement_session *s;
        const bool *agent_ok;
        int64_t *cpu, *memory, *group_count;
        size_t *group_slot;
        uint8_t *verdict;
        size_t first_slow; /* steps from here on need passes(); before, inline */
        struct spread_index spread[PLACEMENT_MAX_STRATEGIES];
        uint8_t *memo[PLACEMENT_MAX_CONSTRAINTS]; /* per constraint: its memo's v, or NULL */
};

_Static_assert(PLACEMENT_MAX_STEPS < UINT8_MAX, "a verdict holds any step plus one");

/* The spread bucket value of ci: the attribute's value (missing: NULL). */
static const char *bucket_key(const char *field, const struct placement_instance *ci) {
        const struct placement_attribute *a;

        if (strncmp(field, "attribute:", 10) != 0)
                return ci->arn; /* instanceId */
        a = placement_instance_attribute(ci, field + strlen("attribute:"));
        if (!a)
                return NULL; /* [decision] instances without it share one bucket */
        return a->value ? a->value : "";
}

struct keyed {
        const char *key;
        size_t instance;
};

static int compare_keyed(const void *a, const void *b) {
        const struct keyed *x = a, *y = b;
        if (!x->key || !y->key)
                return !x->key ? (y->key ? -1 : 0) : 1;
        return strcmp(x->key, y->key);
}

static int spread_cache_build(struct spread_cache *sc, const struct placement_cluster *c,
                              const char *field) {
        size_t n = c->n_instances;
        _cleanup_free_ struct keyed *v = malloc((n + 1) * sizeof(*v));

        sc->field = strdup(field);
        sc->bucket = calloc(n + 1, sizeof(*sc->bucket));
        sc->key = calloc(n + 1, sizeof(*sc->key));
        if (!v || !sc->field || !sc->bucket || !sc->key)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = (struct keyed){.key = bucket_key(field, &c->instances[i]), .instance = i};
        /* Sorting groups equal values: O(n log n) however many buckets. */
        qsort(v, n, sizeof(*v), compare_keyed);
        for (size_t i = 0; i < n; i++) {
                if (i == 0 || compare_keyed(&v[i - 1], &v[i]) != 0)
                        sc->key[sc->n_buckets++] = v[i].key;
                sc->bucket[v[i].instance] = sc->n_buckets - 1;
        }
        return 0;
}

static void spread_cache_done(struct spread_cache *sc) {
        free(sc->field);
        free(sc->bucket);
        free(sc->key);
}

/* The buckets of field, built on first use: every run of the session that
 * spreads by it shares them, since attributes do not change. */
static int spread_cache_get(struct placement_session *s, const char *field,
                            const struct spread_cache **ret) {
        struct spread_cache *grown;
        int k;

        for (size_t i = 0; i < s->n_spreads; i++)
                if (streq(s->spreads[i].field, field)) {
                        *ret = &s->spreads[i];
                        return 0;
                }
        grown = realloc(s->spreads, (s->n_spreads + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        s->spreads = grown;
        grown[s->n_spreads] = (struct spread_cache){};
        k = spread_cache_build(&grown[s->n_spreads], s->c, field);
        if (k < 0) {
                spread_cache_done(&grown[s->n_spreads]);
                return k;
        }
        *ret = &s->spreads[s->n_spreads++];
        return 0;
}

static int compare_member(const void *a, const void *b) {
        const struct group_member *x = a, *y = b;
        int r = strcmp(x->group, y->group);

        if (r != 0)
                return r;
        return x->instance < y->instance ? -1 : x->instance > y->instance;
}

/* Index every instance's groups, sorted by group: a run finds its group's
 * instances by a binary search, not by searching every instance. */
static int index_build(struct placement_session *s) {
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                n += s->c->instances[i].n_groups;
        free(s->index);
        s->index = calloc(n + 1, sizeof(*s->index));
        s->n_index = s->n_added = 0;
        if (!s->index)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                const struct placement_instance *ci = &s->c->instances[i];
                for (size_t k = 0; k < ci->n_groups; k++)
                        s->index[s->n_index++] = (struct group_member){
                                .group = ci->groups[k].group, .instance = i, .slot = k};
        }
        qsort(s->index, s->n_index, sizeof(*s->index), compare_member);
        return 0;
}

static int index_add(struct placement_session *s, size_t i, size_t slot) {
        if (s->n_added == s->size_added) {
                size_t size = s->size_added ? s->size_added * 2 : 64;
                struct group_member *grown = realloc(s->added, size * sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                s->added = grown;
                s->size_added = size;
        }
        s->added[s->n_added++] = (struct group_member){
                .group = s->c->instances[i].groups[slot].group, .instance = i, .slot = slot};
        return 0;
}

/* Call f on each instance holding group that is not excluded: those of
 * the index (found by binary search), then those added since. */
static void index_each(const struct placement_session *s, const char *group,
                       void (*f)(const struct placement_session *s, size_t i, size_t slot,
                                 void *userdata),
                       void *userdata) {
        size_t lo = 0, hi = s->n_index;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(s->index[mid].group, group) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (; lo < s->n_index && streq(s->index[lo].group, group); lo++)
                if (!s->excluded[s->index[lo].instance])
                        f(s, s->index[lo].instance, s->index[lo].slot, userdata);
        for (size_t k = 0; k < s->n_added; k++)
                if (streq(s->added[k].group, group) && !s->excluded[s->added[k].instance])
                        f(s, s->added[k].instance, s->added[k].slot, userdata);
}

static void count_member(const struct placement_session *s, size_t i, size_t slot, void *userdata) {
        *(uint64_t *)userdata += s->c->instances[i].groups[slot].count;
}

uint64_t placement_session_group_tasks(const struct placement_session *s, const char *group) {
        uint64_t n = 0;

        index_each(s, group, count_member, &n);
        return n;
}

struct placement_session *placement_session_free(struct placement_session *s) {
        if (!s)
                return NULL;
        free(s->excluded);
        free(s->agent_ok);
        free(s->cpu);
        free(s->memory);
        free(s->group_count);
        free(s->group_slot);
        free(s->verdict);
        free(s->touched);
        free(s->cand);
        for (size_t k = 0; k < PLACEMENT_MAX_STRATEGIES; k++)
                free(s->spread_count[k]);
        for (size_t i = 0; i < s->n_spreads; i++)
                spread_cache_done(&s->spreads[i]);
        free(s->spreads);
        free(s->index);
        free(s->added);
        free(s->journal);
        for (size_t i = 0; i < s->n_memos; i++)
                free(s->memos[i].v);
        free(s->memos);
        free(s);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_session *, placement_session_free);

/* Does q read something a placement changes? */
static int reads_placements(const struct placement_query *q) {
        char **subjects = NULL;
        bool dynamic = false;

        if (placement_query_subjects(q, &subjects) < 0)
                return -ENOMEM;
        for (char **v = subjects; *v; v++)
                dynamic |= streq(*v, "task:group") || streq(*v, "runningTasksCount");
        placement_query_strv_free(subjects);
        return dynamic;
}

/* The verdicts of q for the session, made the first time a run asks (*ret
 * NULL: q must be judged in each run).  Resilience runs each service's
 * request once per failure: a memberOf on attributes is judged once per
 * instance for all of them, not once per instance and run. */
static int memo_get(struct placement_session *s, const struct placement_query *q, uint8_t **ret) {
        struct constraint_memo *grown;
        int dynamic;

        for (size_t i = 0; i < s->n_memos; i++)
                if (s->memos[i].query == q) {
                        *ret = s->memos[i].v;
                        return 0;
                }
        dynamic = reads_placements(q);
        if (dynamic < 0)
                return dynamic;
        grown = realloc(s->memos, (s->n_memos + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        s->memos = grown;
        grown[s->n_memos] = (struct constraint_memo){.query = q};
        if (!dynamic && !(grown[s->n_memos].v = calloc(s->n + 1, 1)))
                return -ENOMEM;
        *ret = grown[s->n_memos++].v;
        return 0;
}

void placement_session_exclude(struct placement_session *s, const bool *lost) {
        for (size_t i = 0; i < s->n; i++) {
                const struct placement_instance *ci = &s->c->instances[i];
                s->excluded[i] = lost && lost[i];
                /* Status and agent do not change during a session: judged here once. */
                s->agent_ok[i] =
                        !s->excluded[i] && streq(ci->status, "ACTIVE") && ci->agent_connected;
        }
}

int placement_session_new(struct placement_session **ret, struct placement_cluster *c) {
        _cleanup_(placement_session_freep) struct placement_session *s = calloc(1, sizeof(*s));
        size_t n = c->n_instances;

        if (!s)
                return -ENOMEM;
        s->c = c;
        s->n = n;
        s->excluded = calloc(n + 1, sizeof(*s->excluded));
        s->agent_ok = calloc(n + 1, sizeof(*s->agent_ok));
        s->cpu = calloc(n + 1, sizeof(*s->cpu));
        s->memory = calloc(n + 1, sizeof(*s->memory));
        s->group_count = calloc(n + 1, sizeof(*s->group_count));
        s->group_slot = malloc((n + 1) * sizeof(*s->group_slot));
        s->verdict = calloc(n + 1, sizeof(*s->verdict));
        s->touched = calloc(n + 1, sizeof(*s->touched));
        s->cand = calloc(n + 1, sizeof(*s->cand));
        if (!s->excluded || !s->agent_ok || !s->cpu || !s->memory || !s->group_count ||
            !s->group_slot || !s->verdict || !s->touched || !s->cand)
                return -ENOMEM;
        for (size_t k = 0; k < PLACEMENT_MAX_STRATEGIES; k++)
                if (!(s->spread_count[k] = calloc(n + 1, sizeof(*s->spread_count[k]))))
                        return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                s->group_slot[i] = SIZE_MAX;
                s->cpu[i] = c->instances[i].remaining.cpu;
                s->memory[i] = c->instances[i].remaining.memory;
        }
        placement_session_exclude(s, NULL);
        if (index_build(s) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

int placement_session_mark(struct placement_session *s) {
        s->n_journal = 0;
        s->journaling = true;
        return index_build(s);
}

void placement_session_rollback(struct placement_session *s) {
        if (!s->journaling)
                return;
        for (size_t j = s->n_journal; j-- > 0;) {
                const struct journal_entry *e = &s->journal[j];
                struct placement_instance *ci = &s->c->instances[e->instance];
                struct placement_group_count *g = &ci->groups[e->slot];

                ci->remaining.cpu += e->cpu;
                ci->remaining.memory += e->memory;
                s->cpu[e->instance] = ci->remaining.cpu;
                s->memory[e->instance] = ci->remaining.memory;
                ci->remaining.n_ports_tcp -= e->tcp;
                ci->remaining.n_ports_udp -= e->udp;
                ci->running_tasks_count--;
                g->count--;
                /* Undone in reverse, so a group a placement added is the last. */
                if (e->new_group) {
                        free(g->group);
                        ci->n_groups--;
                }
        }
        s->n_journal = 0;
        s->n_added = 0;
}

static void mark_member(const struct placement_session *s_const, size_t i, size_t slot,
                        void *userdata) {
        struct placement_session *s = userdata;

        (void)s_const;
        s->group_slot[i] = slot;
        s->group_count[i] = s->c->instances[i].groups[slot].count;
        s->touched[s->n_touched++] = i;
}

/* Put the session's per-run arrays back as a run finds them. */
static void run_state_done(struct run_state *st) {
        struct placement_session *s = st->s;

        if (!s)
                return;
        for (size_t k = 0; k < s->n_touched; k++) {
                s->group_count[s->touched[k]] = 0;
                s->group_slot[s->touched[k]] = SIZE_MAX;
        }
        s->n_touched = 0;
}

/* A run's view of s for r: its group's tasks per instance (from the index:
 * only the instances that hold the group are touched), the verdicts
 * forgotten, and each spread strategy's bucket counts. */
static int run_state_init(struct run_state *st, struct placement_session *s,
                          const struct placement_request *r) {
        const struct placement_taskdef *td = r->taskdef;

        *st = (struct run_state){.s = s,
                                 .agent_ok = s->agent_ok,
                                 .cpu = s->cpu,
                                 .memory = s->memory,
                                 .group_count = s->group_count,
                                 .group_slot = s->group_slot,
                                 .verdict = s->verdict};
        memset(s->verdict, 0, s->n);
        index_each(s, r->group, mark_member, s);
        /* Steps 3-5 cannot fail a task without ports or required
         * attributes, so a run of such tasks checks only the first three
         * inline, then the constraints. */
        st->first_slow = td->n_ports > 0 || td->n_requires_attributes > 0 ? 3 : 6;
        for (size_t k = 0; k < r->n_constraints; k++) {
                int e = r->constraints[k].query ? memo_get(s, r->constraints[k].query, &st->memo[k])
                                                : 0;
                if (e < 0)
                        return e;
        }
        for (size_t k = 0; k < r->n_strategies; k++) {
                const struct spread_cache *sc;
                int e;

                if (r->strategies[k].type != PLACEMENT_STRATEGY_SPREAD)
                        continue;
                e = spread_cache_get(s, r->strategies[k].field, &sc);
                if (e < 0)
                        return e;
                st->spread[k] = (struct spread_index){.bucket = sc->bucket,
                                                      .count = s->spread_count[k],
                                                      .key = sc->key,
                                                      .n_buckets = sc->n_buckets};
                memset(st->spread[k].count, 0, sc->n_buckets * sizeof(int64_t));
                for (size_t t = 0; t < s->n_touched; t++)
                        st->spread[k].count[sc->bucket[s->touched[t]]] +=
                                s->group_count[s->touched[t]];
        }
        return 0;
}

static bool has_port(const uint16_t *ports, size_t n, uint16_t port) {
        for (size_t i = 0; i < n; i++)
                if (ports[i] == port)
                        return true;
        return false;
}

/* Does instance i pass filter step (an index into step_names, or 6 + k for
 * constraint k)?  1 yes, 0 no, <0 error. */
static int passes(const struct placement_request *r, const struct placement_cluster *c,
                  const struct run_state *st, size_t i, size_t step) {
        const struct placement_taskdef *td = r->taskdef;
        const struct placement_instance *ci = &c->instances[i];

        switch (step) {
        case 0:
                return st->agent_ok[i];
        case 1:
                /* [decision] An instance that reports no CPU (or memory) is
                 * not limited by it: hand-written fixtures may leave it out. */
                return ci->remaining.cpu < 0 || ci->remaining.cpu >= td->cpu;
        case 2:
                return ci->remaining.memory < 0 || ci->remaining.memory >= td->memory;
        case 3:
        case 4:
                for (size_t k = 0; k < td->n_ports; k++) {
                        bool udp = step == 4;
                        if (td->ports[k].udp != udp)
                                continue;
                        if (udp ? has_port(ci->remaining.ports_udp, ci->remaining.n_ports_udp,
                                           td->ports[k].port)
                                : has_port(ci->remaining.ports_tcp, ci->remaining.n_ports_tcp,
                                           td->ports[k].port))
                                return 0;
                }
                return 1;
        case 5:
                for (size_t k = 0; k < td->n_requires_attributes; k++) {
                        const struct placement_attribute *ra = &td->requires_attributes[k];
                        const struct placement_attribute *a =
                                placement_instance_attribute(ci, ra->name);
                        if (!a || (ra->value && !streq_ptr(a->value, ra->value)))
                                return 0;
                }
                return 1;
        default: {
                const struct placement_constraint *con = &r->constraints[step - 6];
                uint8_t *memo = st->memo[step - 6];
                int k;

                if (con->type == PLACEMENT_CONSTRAINT_DISTINCT_INSTANCE)
                        return st->group_count[i] == 0;
                if (memo && memo[i])
                        return memo[i] - 1;
                k = placement_query_eval(con->query, ci);
                if (memo && k >= 0)
                        memo[i] = (uint8_t)(1 + k);
                return k;
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

/* The scores strategy k ranks candidates by, the lowest best: binpack reads
 * the remaining amount per instance; spread the group's tasks per bucket,
 * indexed through the spread index's bucket[].  Random has none. */
static const int64_t *strategy_scores(const struct run_state *st,
                                      const struct placement_strategy *s, size_t k) {
        switch (s->field_kind) {
        case PLACEMENT_STRATEGY_FIELD_CPU:
                return st->cpu;
        case PLACEMENT_STRATEGY_FIELD_MEMORY:
                return st->memory;
        case PLACEMENT_STRATEGY_FIELD_INSTANCE_ID:
        case PLACEMENT_STRATEGY_FIELD_ATTRIBUTE:
                return st->spread[k].count;
        case PLACEMENT_STRATEGY_FIELD_NONE:
                break;
        }
        return NULL;
}

/* Keep the candidates that are best under strategy k, in one pass: a new
 * best restarts the kept list.  Fills the explain record. */
static void apply_strategy(const struct placement_request *r, const struct run_state *st, size_t k,
                           size_t *cand, size_t *n, uint64_t *rng,
                           struct placement_strategy_step *out) {
        const struct placement_strategy *s = &r->strategies[k];
        const struct spread_index *si = &st->spread[k];
        int64_t best = INT64_MAX;
        size_t kept = 0, best_instance = 0;

        *out = (struct placement_strategy_step){.strategy = s};
        if (s->type == PLACEMENT_STRATEGY_RANDOM) {
                cand[0] = cand[rng_next(rng) % *n];
                *n = 1;
                out->kept = 1;
                return;
        }
        {
                /* Hoisted: this loop runs over every remaining candidate. */
                const bool by_bucket = s->type == PLACEMENT_STRATEGY_SPREAD;
                const int64_t *values = strategy_scores(st, s, k);
                const size_t *bucket = si->bucket;
                const size_t m = *n;

                for (size_t i = 0; i < m; i++) {
                        size_t x = cand[i];
                        int64_t score = values[by_bucket ? bucket[x] : x];
                        if (score < best) {
                                best = score;
                                kept = 0;
                                best_instance = x;
                        }
                        /* Branch-free: ties come in unpredictable patterns.
                         * kept <= i, so this never overwrites an unread entry. */
                        cand[kept] = x;
                        kept += score == best;
                }
        }
        if (s->type == PLACEMENT_STRATEGY_SPREAD)
                out->bucket = si->key[si->bucket[best_instance]];
        *n = kept;
        out->kept = kept;
        out->score = best;
}

/* Room for one more journal entry, before a placement changes anything. */
static int journal_reserve(struct placement_session *s) {
        struct journal_entry *grown;
        size_t size;

        if (!s->journaling || s->n_journal < s->size_journal)
                return 0;
        size = s->size_journal ? s->size_journal * 2 : 64;
        grown = realloc(s->journal, size * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        s->journal = grown;
        s->size_journal = size;
        return 0;
}

/* Append the task's host ports to what ci reports in use, counting them in *e. */
static int take_ports(struct placement_instance *ci, const struct placement_taskdef *td,
                      struct journal_entry *e) {
        for (size_t k = 0; k < td->n_ports; k++) {
                uint16_t **v =
                        td->ports[k].udp ? &ci->remaining.ports_udp : &ci->remaining.ports_tcp;
                size_t *n =
                        td->ports[k].udp ? &ci->remaining.n_ports_udp : &ci->remaining.n_ports_tcp;
                uint16_t *grown = realloc(*v, (*n + 1) * sizeof(**v));
                if (!grown)
                        return -ENOMEM;
                grown[(*n)++] = td->ports[k].port;
                *v = grown;
                *(td->ports[k].udp ? &e->udp : &e->tcp) += 1;
        }
        return 0;
}

/* The group's slot on i, adding the group when i has none of it (then the
 * index learns of it and the run's touched list too). */
static int take_group(struct placement_session *s, const struct placement_request *r,
                      struct run_state *st, size_t i, struct journal_entry *e) {
        struct placement_instance *ci = &s->c->instances[i];
        int k;

        /* The group's slot, not a search: an instance may hold many groups. */
        if (st->group_slot[i] != SIZE_MAX) {
                e->slot = st->group_slot[i];
                ci->groups[e->slot].count++;
                return 0;
        }
        k = placement_instance_add_group(ci, r->group);
        if (k < 0)
                return k;
        e->slot = st->group_slot[i] = ci->n_groups - 1;
        e->new_group = true;
        s->touched[s->n_touched++] = i;
        return index_add(s, i, e->slot);
}

static int place(struct placement_cluster *c, const struct placement_request *r,
                 struct run_state *st, size_t i) {
        const struct placement_taskdef *td = r->taskdef;
        struct placement_session *s = st->s;
        struct placement_instance *ci = &c->instances[i];
        struct journal_entry e = {.instance = i};
        int k;

        k = journal_reserve(s);
        if (k < 0)
                return k;
        if (ci->remaining.cpu >= 0)
                e.cpu = td->cpu;
        if (ci->remaining.memory >= 0)
                e.memory = td->memory;
        ci->remaining.cpu -= e.cpu;
        ci->remaining.memory -= e.memory;
        st->cpu[i] = ci->remaining.cpu;
        st->memory[i] = ci->remaining.memory;
        ci->running_tasks_count++;
        st->group_count[i]++;
        st->verdict[i] = 0; /* i changed: its slow steps must be judged again */
        for (size_t t = 0; t < r->n_strategies; t++)
                if (r->strategies[t].type == PLACEMENT_STRATEGY_SPREAD)
                        st->spread[t].count[st->spread[t].bucket[i]]++;
        k = take_group(s, r, st, i, &e);
        if (k >= 0)
                k = take_ports(ci, td, &e);
        if (k < 0)
                return k; /* the session is not to be used again (placement-run.h) */
        if (s->journaling)
                s->journal[s->n_journal++] = e;
        return 0;
}

/* What a filter pass leaves for one task. */
struct pass {
        size_t n;             /* candidates, in cand[0..n) */
        int64_t best;         /* fused: the first strategy's best score */
        size_t best_instance; /* fused: an instance with that score */
};

/* The fused loop of filter_pass_resources(), one copy per way of reading the
 * score, so that neither copy tests which way it is per instance. */
#define RESOURCES_LOOP(SCORE)                                                                      \
        for (size_t i = 0; i < n_instances; i++) {                                                 \
                int64_t score;                                                                     \
                if (!ok[i]) {                                                                      \
                        r0++;                                                                      \
                        continue;                                                                  \
                }                                                                                  \
                if (cpu[i] < need_cpu && cpu[i] >= 0) {                                            \
                        r1++;                                                                      \
                        continue;                                                                  \
                }                                                                                  \
                if (memory[i] < need_memory && memory[i] >= 0) {                                   \
                        r2++;                                                                      \
                        continue;                                                                  \
                }                                                                                  \
                score = (SCORE);                                                                   \
                if (score < best) {                                                                \
                        best = score;                                                              \
                        best_instance = i;                                                         \
                        n = 0;                                                                     \
                }                                                                                  \
                cand[n] = i;                                                                       \
                n += score == best;                                                                \
        }

/* The common case of filter_pass(): nothing beyond the agent, CPU and memory
 * to check, and the first strategy fused, scoring from one array.  Not
 * inlined: in placement_run()'s frame the loop's pointers spill to the stack
 * (7% slower in place-bench); called once per task, its own frame costs nothing. */
static _noinline_ void filter_pass_resources(const struct placement_cluster *c,
                                             const struct placement_request *r,
                                             const struct run_state *st, size_t *restrict cand,
                                             size_t *restrict removed, struct pass *ret) {
        const bool *ok = st->agent_ok;
        const int64_t *cpu = st->cpu, *memory = st->memory;
        const int64_t need_cpu = r->taskdef->cpu, need_memory = r->taskdef->memory;
        const size_t n_instances = c->n_instances;
        const int64_t *values = strategy_scores(st, &r->strategies[0], 0);
        const size_t *bucket = st->spread[0].bucket;
        int64_t best = INT64_MAX;
        size_t n = 0, best_instance = 0, r0 = 0, r1 = 0, r2 = 0;

        if (r->strategies[0].type == PLACEMENT_STRATEGY_SPREAD)
                RESOURCES_LOOP(values[bucket[i]])
        else
                RESOURCES_LOOP(values[i])
        removed[0] += r0;
        removed[1] += r1;
        removed[2] += r2;
        *ret = (struct pass){.n = n, .best = best, .best_instance = best_instance};
}

#undef RESOURCES_LOOP

/* The first step from st->first_slow on that instance i fails (n_steps: none),
 * judged once per state of i: these steps read only i (its ports, attributes,
 * tasks and groups), which only a placement on i changes, and place() forgets
 * the verdict then.  So a run evaluates each constraint about once per
 * instance and once per task, not once per instance and task. */
static int slow_steps(const struct placement_request *r, const struct placement_cluster *c,
                      const struct run_state *st, size_t i, size_t n_steps, size_t *ret) {
        size_t step;

        if (st->verdict[i] != 0) {
                *ret = st->verdict[i] - 1u;
                return 0;
        }
        for (step = st->first_slow; step < n_steps; step++) {
                int k = passes(r, c, st, i, step);
                if (k < 0)
                        return k;
                if (!k)
                        break;
        }
        st->verdict[i] = (uint8_t)(step + 1);
        *ret = step;
        return 0;
}

/* The general case of filter_pass(): every step, those after the first three
 * through slow_steps(). */
static int filter_pass_steps(const struct placement_cluster *c, const struct placement_request *r,
                             const struct run_state *st, bool fuse, size_t *restrict cand,
                             size_t *restrict removed, struct pass *ret) {
        const bool *ok = st->agent_ok;
        const int64_t *cpu = st->cpu, *memory = st->memory;
        const int64_t need_cpu = r->taskdef->cpu, need_memory = r->taskdef->memory;
        const size_t n_instances = c->n_instances,
                     n_steps = ELEMENTSOF(step_names) + r->n_constraints;
        const bool by_bucket = fuse && r->strategies[0].type == PLACEMENT_STRATEGY_SPREAD;
        const int64_t *values = fuse ? strategy_scores(st, &r->strategies[0], 0) : NULL;
        const size_t *bucket = st->spread[0].bucket;
        int64_t best = INT64_MAX;
        size_t n = 0, best_instance = 0;

        for (size_t i = 0; i < n_instances; i++) {
                int64_t score;
                size_t step;
                int k;

                /* Steps 0-2 inline: they are most of the work. */
                if (!ok[i]) {
                        removed[0]++;
                        continue;
                }
                if (cpu[i] >= 0 && cpu[i] < need_cpu) {
                        removed[1]++;
                        continue;
                }
                if (memory[i] >= 0 && memory[i] < need_memory) {
                        removed[2]++;
                        continue;
                }
                k = slow_steps(r, c, st, i, n_steps, &step);
                if (k < 0)
                        return k;
                if (step < n_steps) {
                        removed[step]++;
                        continue;
                }
                if (!fuse) {
                        cand[n++] = i;
                        continue;
                }
                score = values[by_bucket ? bucket[i] : i];
                if (score < best) {
                        best = score;
                        best_instance = i;
                        n = 0;
                }
                cand[n] = i; /* branch-free, as in apply_strategy() */
                n += score == best;
        }
        *ret = (struct pass){.n = n, .best = best, .best_instance = best_instance};
        return 0;
}

/* One pass over every instance for one task: each instance is removed by
 * the first step it fails, which is exactly what filtering step by step
 * removes (removed[step] counts them).  With fuse, the first strategy
 * narrows in the same pass, so the next ones only see its winners.  This is
 * the hot loop of a run: invariants are hoisted into locals so the compiler
 * can keep them in registers. */
static int filter_pass(const struct placement_cluster *c, const struct placement_request *r,
                       const struct run_state *st, bool fuse, size_t *restrict cand,
                       size_t *restrict removed, struct pass *ret) {
        if (fuse && st->first_slow >= ELEMENTSOF(step_names) + r->n_constraints) {
                filter_pass_resources(c, r, st, cand, removed, ret);
                return 0;
        }
        return filter_pass_steps(c, r, st, fuse, cand, removed, ret);
}

/* Record each filter step of a task with what it removed and left; the
 * first step that leaves nothing names the failure. */
static void record_steps(const struct placement_request *r, size_t n_instances,
                         const size_t *removed, struct placement_task_result *tr) {
        size_t n_steps = ELEMENTSOF(step_names) + r->n_constraints, left = n_instances;

        for (size_t step = 0; step < n_steps; step++) {
                left -= removed[step];
                tr->steps[tr->n_steps++] = (struct placement_step){
                        .name = step_name(r, step), .removed = removed[step], .left = left};
                if (left == 0) {
                        tr->reason = step_name(r, step);
                        break;
                }
        }
}

/* Place one task: filter, narrow by the strategies, draw among the ties. */
static int place_task(struct placement_cluster *c, const struct placement_request *r,
                      struct run_state *st, bool fuse, size_t *cand, uint64_t *rng,
                      struct placement_task_result *tr) {
        size_t removed[PLACEMENT_MAX_STEPS] = {};
        struct pass p;
        int k;

        tr->instance = -1;
        k = filter_pass(c, r, st, fuse, cand, removed, &p);
        if (k < 0)
                return k;
        record_steps(r, c->n_instances, removed, tr);
        if (p.n == 0)
                return 0;
        if (fuse) {
                const struct spread_index *si = &st->spread[0];
                tr->strategies[tr->n_strategies++] = (struct placement_strategy_step){
                        .strategy = &r->strategies[0],
                        .kept = p.n,
                        .score = p.best,
                        .bucket = r->strategies[0].type == PLACEMENT_STRATEGY_SPREAD
                                          ? si->key[si->bucket[p.best_instance]]
                                          : NULL};
        }
        for (size_t s = fuse ? 1 : 0; s < r->n_strategies; s++)
                apply_strategy(r, st, s, cand, &p.n, rng, &tr->strategies[tr->n_strategies++]);
        tr->tied = p.n;
        tr->instance = (long)cand[p.n > 1 ? rng_next(rng) % p.n : 0];
        return place(c, r, st, (size_t)tr->instance);
}

struct placement_result *placement_result_free(struct placement_result *res) {
        if (!res)
                return NULL;
        free(res->tasks);
        free(res->group);
        free(res);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct placement_result *, placement_result_free);

uint64_t placement_run_work_sized(const struct placement_cluster_size *z,
                                  const struct placement_request *r, uint64_t count) {
        const struct placement_taskdef *td = r->taskdef;
        struct placement_instance_cost k = {.per_port = td->n_ports,
                                            .lookup = td->n_requires_attributes};
        uint64_t w;

        if (r->fargate)
                return 0;
        w = placement_work_mul(placement_work_mul(count, z->instances), 1 + r->n_strategies);
        for (size_t i = 0; i < r->n_constraints; i++)
                if (r->constraints[i].type == PLACEMENT_CONSTRAINT_DISTINCT_INSTANCE)
                        k.fixed++;
                else
                        placement_query_add_cost(r->constraints[i].query, &k);
        /* Slow steps (see slow_steps()): every instance once, then the one
         * placed on after each task, grown by the task's group and ports. */
        w = placement_work_add(w, placement_cost_all(&k, z));
        w = placement_work_add(
                w, placement_work_mul(count, placement_cost_max(&k, z, 1, td->n_ports)));
        return placement_work_add(w, count);
}

uint64_t placement_run_work(const struct placement_cluster *c, const struct placement_request *r) {
        struct placement_cluster_size z;

        if (r->fargate)
                return 0;
        placement_cluster_size(c, &z);
        return placement_run_work_sized(&z, r, r->count);
}

/* Every placement function checks this, since a request that skipped
 * placement_request_validate() may hold anything. */
static bool request_valid(const struct placement_request *r) {
        return r->group && r->taskdef && r->n_constraints <= PLACEMENT_MAX_CONSTRAINTS &&
               r->n_strategies <= PLACEMENT_MAX_STRATEGIES;
}

/* r's result before any placement: room for its tasks, its group. */
static int result_new(const struct placement_request *r, struct placement_result **ret) {
        _cleanup_(placement_result_freep) struct placement_result *res = calloc(1, sizeof(*res));

        if (!res)
                return -ENOMEM;
        res->tasks = calloc(r->count + 1, sizeof(*res->tasks));
        res->group = strdup(r->group);
        if (!res->tasks || !res->group)
                return -ENOMEM;
        *ret = TAKE_PTR(res);
        return 0;
}

int placement_session_run(struct placement_session *s, const struct placement_request *r,
                          struct placement_result **ret) {
        _cleanup_(placement_result_freep) struct placement_result *res = NULL;
        struct run_state st = {};
        uint64_t rng = r->seed;
        bool fuse = r->n_strategies > 0 && r->strategies[0].type != PLACEMENT_STRATEGY_RANDOM;
        int k;

        if (!request_valid(r))
                return -EINVAL;
        for (size_t i = 0; i < r->n_constraints; i++)
                if (r->constraints[i].query)
                        *r->constraints[i].query->regex_steps = 0;
        k = result_new(r, &res);
        if (k < 0)
                return k;
        if (r->fargate) {
                /* [doc] On no container instance, and not a failure: no reason. */
                for (unsigned t = 0; t < r->count; t++)
                        res->tasks[res->n_tasks++].instance = -1;
                *ret = TAKE_PTR(res);
                return 0;
        }
        k = run_state_init(&st, s, r);
        for (unsigned t = 0; k >= 0 && t < r->count; t++)
                k = place_task(s->c, r, &st, fuse, s->cand, &rng, &res->tasks[res->n_tasks++]);
        run_state_done(&st);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(res);
        return 0;
}

int placement_session_reasons(struct placement_session *s, const struct placement_request *r,
                              const char **ret) {
        const size_t n_steps = ELEMENTSOF(step_names) + r->n_constraints;
        struct run_state st = {};
        int k;

        if (!request_valid(r))
                return -EINVAL;
        k = run_state_init(&st, s, r);
        for (size_t i = 0; k >= 0 && i < s->n; i++) {
                size_t step = 0;

                for (; step < n_steps; step++) {
                        k = passes(r, s->c, &st, i, step);
                        if (k <= 0)
                                break;
                }
                ret[i] = step < n_steps ? step_name(r, step) : NULL;
        }
        run_state_done(&st);
        return k < 0 ? k : 0;
}

int placement_run(struct placement_cluster *c, const struct placement_request *r,
                  struct placement_result **ret) {
        _cleanup_(placement_session_freep) struct placement_session *s = NULL;
        int k;

        if (!request_valid(r))
                return -EINVAL; /* not validated */
        if (placement_run_work(c, r) > PLACEMENT_WORK_MAX)
                return -ERANGE;
        k = placement_session_new(&s, c);
        if (k < 0)
                return k;
        return placement_session_run(s, r, ret);
}
