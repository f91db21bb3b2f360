/* placement-query-eval.c: the meaning of a cluster query on one instance.
 * A subject yields zero or more values (task:group one per group on the
 * instance); positive operators hold when some value satisfies them,
 * negated ones when there is a value and none satisfies the positive form,
 * so a predicate on a missing subject is false except for !exists. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "placement-query-eval.h"
#include "placement-value.h"

#define streq(a, b) (strcmp((a), (b)) == 0)
#define REGEX_FIRST_STEPS 100 /* an ordinary pattern on an ECS value needs a few dozen */

/* The subject's values on one instance, as strings and typed readings. */
struct subject_values {
        const char *text[1]; /* single-valued subjects */
        const struct placement_group_count *groups;
        size_t n;
        int64_t typed; /* registeredAt, runningTasksCount */
};

static void read_subject(const struct placement_query_node *n, const struct placement_instance *ci,
                         struct subject_values *sv) {
        const struct placement_attribute *a;

        *sv = (struct subject_values){0};
        switch (n->subject) {
        case PLACEMENT_SUBJECT_AGENT_CONNECTED:
                sv->text[0] = ci->agent_connected ? "true" : "false";
                sv->n = 1;
                break;
        case PLACEMENT_SUBJECT_AGENT_VERSION:
                sv->text[0] = ci->agent_version;
                sv->n = ci->agent_version ? 1 : 0;
                break;
        case PLACEMENT_SUBJECT_ATTRIBUTE:
                a = placement_instance_attribute(ci, n->attribute);
                /* [decision] An attribute without a value compares as "". */
                sv->text[0] = a ? (a->value ? a->value : "") : NULL;
                sv->n = a ? 1 : 0;
                break;
        case PLACEMENT_SUBJECT_EC2_INSTANCE_ID:
                sv->text[0] = ci->ec2_instance_id;
                sv->n = ci->ec2_instance_id ? 1 : 0;
                break;
        case PLACEMENT_SUBJECT_REGISTERED_AT:
                sv->typed = ci->registered_at;
                sv->n = ci->has_registered_at ? 1 : 0;
                break;
        case PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT:
                sv->typed = ci->running_tasks_count;
                sv->n = 1;
                break;
        case PLACEMENT_SUBJECT_TASK_GROUP:
                sv->groups = ci->groups;
                sv->n = ci->n_groups;
                break;
        default:
                break;
        }
}

static const char *value_text(const struct subject_values *sv, size_t i) {
        return sv->groups ? sv->groups[i].group : sv->text[0];
}

static int sign(int64_t a, int64_t b) {
        return a < b ? -1 : a > b;
}

/* Compare the instance's value (i) with argument v; 2 means incomparable. */
static int compare(const struct placement_query_node *n, const struct subject_values *sv, size_t i,
                   const struct placement_query_value *v) {
        const char *t = value_text(sv, i);
        double d;
        int r;

        switch (n->subject) {
        case PLACEMENT_SUBJECT_REGISTERED_AT:
        case PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT:
                return sign(sv->typed, v->typed);
        case PLACEMENT_SUBJECT_AGENT_VERSION:
                /* [decision] Versions compare as versions; an instance whose
                 * version is not dotted digits only equals its exact text. */
                if (placement_value_compare_versions(t, v->text, &r) < 0)
                        return streq(t, v->text) ? 0 : 2;
                return r;
        case PLACEMENT_SUBJECT_AGENT_CONNECTED:
                return strcasecmp(t, v->text) == 0 ? 0 : 2;
        default:
                /* [decision] Numbers when both sides are numbers, else bytes. */
                if (v->is_number && placement_value_parse_number(t, &d))
                        return d < v->number ? -1 : d > v->number;
                r = strcmp(t, v->text);
                return r < 0 ? -1 : r > 0;
        }
}

/* [doc] == is string equality; [decision] the typed fields (versions, times,
 * counts) have no canonical text, so they compare by value. */
static bool equal(const struct placement_query_node *n, const struct subject_values *sv, size_t i,
                  const struct placement_query_value *v) {
        switch (n->subject) {
        case PLACEMENT_SUBJECT_REGISTERED_AT:
        case PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT:
        case PLACEMENT_SUBJECT_AGENT_VERSION:
        case PLACEMENT_SUBJECT_AGENT_CONNECTED:
                return compare(n, sv, i, v) == 0;
        default:
                return streq(value_text(sv, i), v->text);
        }
}

/* A match that failed: which limit it hit. */
static int match_error(int r) {
        switch (r) {
        case PCRE2_ERROR_HEAPLIMIT:
                return -ENOBUFS;
        case PCRE2_ERROR_NOMEMORY:
                return -ENOMEM;
        default: /* the match or depth limit, or the JIT stack */
                return -E2BIG;
        }
}

/* Whether t matches n's regex.  PCRE2 does not say how many steps a match
 * took, so each attempt is charged its step limit: the first attempt allows
 * REGEX_FIRST_STEPS, which ordinary matches need, and each next one ten times
 * more, up to PLACEMENT_REGEX_MATCH_LIMIT.  The steps charged bound the steps
 * taken (at most 11% more than the last attempt's), and the answer is the one
 * a single match at the full limit gives.  Past PLACEMENT_REGEX_STEPS_MAX for
 * the query, -ETIME. */
static int matches(const struct placement_query_node *n, const char *t) {
        pcre2_match_context *mc = (pcre2_match_context *)n->match_context;
        size_t len;

        if (n->regex_prefix_len > 0 && strncmp(t, n->regex_prefix, n->regex_prefix_len) != 0)
                return 0; /* every match starts with the prefix */
        len = strlen(t);
        for (uint32_t limit = REGEX_FIRST_STEPS;; limit *= 10) {
                int r;

                if (limit > PLACEMENT_REGEX_MATCH_LIMIT)
                        limit = PLACEMENT_REGEX_MATCH_LIMIT;
                if (*n->regex_steps > PLACEMENT_REGEX_STEPS_MAX - limit)
                        return -ETIME;
                *n->regex_steps += limit;
                pcre2_set_match_limit(mc, limit);
                r = pcre2_match((const pcre2_code *)n->regex, (PCRE2_SPTR)t, len, 0, 0,
                                (pcre2_match_data *)n->match, mc);
                if (r >= 0)
                        return 1;
                if (r == PCRE2_ERROR_NOMATCH)
                        return 0;
                if (r != PCRE2_ERROR_MATCHLIMIT || limit == PLACEMENT_REGEX_MATCH_LIMIT)
                        return match_error(r);
        }
}

/* Does value i satisfy the positive form of the predicate's operator? */
static int holds(const struct placement_query_node *n, const struct subject_values *sv, size_t i,
                 enum placement_op op) {
        char buf[32];
        int c;

        switch (op) {
        case PLACEMENT_OP_EQ:
        case PLACEMENT_OP_IN:
                for (size_t k = 0; k < n->n_values; k++)
                        if (equal(n, sv, i, &n->values[k]))
                                return 1;
                return 0;
        case PLACEMENT_OP_MATCHES:
                if (n->subject == PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT ||
                    n->subject == PLACEMENT_SUBJECT_REGISTERED_AT) {
                        /* Not reachable: the documented operator lists exclude it. */
                        snprintf(buf, sizeof(buf), "%lld", (long long)sv->typed);
                        return matches(n, buf);
                }
                return matches(n, value_text(sv, i));
        case PLACEMENT_OP_GT:
        case PLACEMENT_OP_GE:
        case PLACEMENT_OP_LT:
        case PLACEMENT_OP_LE:
                c = compare(n, sv, i, &n->values[0]);
                if (c == 2)
                        return 0;
                return op == PLACEMENT_OP_GT   ? c > 0
                       : op == PLACEMENT_OP_GE ? c >= 0
                       : op == PLACEMENT_OP_LT ? c < 0
                                               : c <= 0;
        default:
                return 0;
        }
}

static int eval_predicate(const struct placement_query_node *n,
                          const struct placement_instance *ci) {
        struct subject_values sv;
        enum placement_op positive;
        bool negated;

        read_subject(n, ci, &sv);
        switch (n->op) {
        case PLACEMENT_OP_EXISTS:
                return sv.n > 0;
        case PLACEMENT_OP_NOT_EXISTS:
                return sv.n == 0;
        case PLACEMENT_OP_NE:
                positive = PLACEMENT_OP_EQ, negated = true;
                break;
        case PLACEMENT_OP_NOT_IN:
                positive = PLACEMENT_OP_IN, negated = true;
                break;
        case PLACEMENT_OP_NOT_MATCHES:
                positive = PLACEMENT_OP_MATCHES, negated = true;
                break;
        default:
                positive = n->op, negated = false;
                break;
        }
        /* [doc] for !=, [decision] for the rest: no value, no match. */
        if (sv.n == 0)
                return 0;
        for (size_t i = 0; i < sv.n; i++) {
                int r = holds(n, &sv, i, positive);
                if (r < 0)
                        return r;
                if (r)
                        return !negated;
        }
        return negated;
}

static int eval_node(const struct placement_query_node *n, const struct placement_instance *ci) {
        int r;

        switch (n->type) {
        case PLACEMENT_QUERY_OR:
                r = eval_node(n->left, ci);
                return r != 0 ? r : eval_node(n->right, ci);
        case PLACEMENT_QUERY_AND:
                r = eval_node(n->left, ci);
                return r <= 0 ? r : eval_node(n->right, ci);
        case PLACEMENT_QUERY_NOT:
                r = eval_node(n->left, ci);
                return r < 0 ? r : !r;
        case PLACEMENT_QUERY_PREDICATE:
                return eval_predicate(n, ci);
        }
        return -EINVAL;
}

int placement_query_eval(const struct placement_query *q, const struct placement_instance *ci) {
        return eval_node(q->root, ci);
}

static void add_node_cost(const struct placement_query_node *n, struct placement_instance_cost *k) {
        uint64_t args = n->n_values > 0 ? n->n_values : 1;

        if (n->type != PLACEMENT_QUERY_PREDICATE) {
                add_node_cost(n->left, k);
                if (n->right)
                        add_node_cost(n->right, k);
                return;
        }
        if (n->subject == PLACEMENT_SUBJECT_ATTRIBUTE)
                k->lookup++;
        if (n->subject == PLACEMENT_SUBJECT_TASK_GROUP)
                k->per_group = placement_work_add(k->per_group, args);
        else
                k->fixed = placement_work_add(k->fixed, args);
}

void placement_query_add_cost(const struct placement_query *q, struct placement_instance_cost *k) {
        add_node_cost(q->root, k);
}

uint64_t placement_query_filter_work(const struct placement_query *q,
                                     const struct placement_cluster *c) {
        struct placement_instance_cost k = {.fixed = 1}; /* the status */
        struct placement_cluster_size z;

        placement_query_add_cost(q, &k);
        placement_cluster_size(c, &z);
        return placement_cost_all(&k, &z);
}

int placement_query_filter(const struct placement_query *q, const struct placement_cluster *c,
                           const char *status, size_t **ret, size_t *ret_n) {
        size_t *v = NULL, n = 0;

        if (placement_query_filter_work(q, c) > PLACEMENT_WORK_MAX)
                return -ERANGE;
        *q->regex_steps = 0;
        if (c->n_instances > 0) {
                v = malloc(c->n_instances * sizeof(*v));
                if (!v)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_instances; i++) {
                const struct placement_instance *ci = &c->instances[i];
                int r;

                if (status ? !streq(ci->status, status) : streq(ci->status, "INACTIVE"))
                        continue;
                r = placement_query_eval(q, ci);
                if (r < 0) {
                        free(v);
                        return r;
                }
                if (r)
                        v[n++] = i;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
