/* placement-query.h: the ECS cluster query language (`attribute:ecs.instance-type
 * == c4.large and not(task:group == database)`): a hand-written lexer whose
 * tokens carry their byte offset and a recursive-descent parser producing an
 * AST.  Parsing is pure; the first syntax or semantic error is returned as a
 * placement_error with its position.  A parsed query is immutable except for
 * the regex match blocks and step count, so one query must not be evaluated
 * from two threads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement-error.h"

#define PLACEMENT_QUERY_MAX_LENGTH 2000 /* characters, ECS's limit */
#define PLACEMENT_QUERY_MAX_DEPTH 100   /* nested parentheses and nots */

/* What one regular expression match may take (see placement-query-eval.c's
 * matches()): its steps (PCRE2's match limit), and, when PCRE2 runs without
 * its JIT compiler, its backtracking memory.  Ordinary patterns on ECS
 * values (at most 128 characters) need a few dozen steps and a few KiB. */
#define PLACEMENT_REGEX_MATCH_LIMIT 1000000 /* steps per match */
#define PLACEMENT_REGEX_HEAP_LIMIT 1024     /* KiB per match (pcre2_set_heap_limit) */
/* The steps all the matches of one query may take in one filter or run:
 * 10^9, a few seconds; the 10 constraints of a run together at most 10^10,
 * as much as PLACEMENT_WORK_MAX allows the rest. */
#define PLACEMENT_REGEX_STEPS_MAX UINT64_C(1000000000)

enum placement_subject {
        PLACEMENT_SUBJECT_AGENT_CONNECTED,
        PLACEMENT_SUBJECT_AGENT_VERSION,
        PLACEMENT_SUBJECT_ATTRIBUTE,
        PLACEMENT_SUBJECT_EC2_INSTANCE_ID,
        PLACEMENT_SUBJECT_REGISTERED_AT,
        PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT,
        PLACEMENT_SUBJECT_TASK_GROUP,
        _PLACEMENT_SUBJECT_MAX,
};

enum placement_op {
        PLACEMENT_OP_EQ,
        PLACEMENT_OP_NE,
        PLACEMENT_OP_GT,
        PLACEMENT_OP_GE,
        PLACEMENT_OP_LT,
        PLACEMENT_OP_LE,
        PLACEMENT_OP_EXISTS,
        PLACEMENT_OP_NOT_EXISTS,
        PLACEMENT_OP_IN,
        PLACEMENT_OP_NOT_IN,
        PLACEMENT_OP_MATCHES,
        PLACEMENT_OP_NOT_MATCHES,
        _PLACEMENT_OP_MAX,
};

enum placement_query_node_type {
        PLACEMENT_QUERY_OR,
        PLACEMENT_QUERY_AND,
        PLACEMENT_QUERY_NOT,
        PLACEMENT_QUERY_PREDICATE,
};

/* One argument, with its typed reading decided at parse time. */
struct placement_query_value {
        char *text;    /* unquoted, unescaped */
        size_t offset; /* where it starts in the source (its quote, if quoted) */
        bool is_number;
        double number; /* attribute: values, when is_number */
        int64_t typed; /* registeredAt: microseconds; runningTasksCount: the count */
};

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;

struct placement_query_node {
        enum placement_query_node_type type;
        size_t offset;                             /* source offset of the node's first token */
        struct placement_query_node *left, *right; /* OR/AND: both; NOT: left */

        /* PREDICATE */
        enum placement_subject subject;
        char *attribute; /* the name after "attribute:"; NULL for other subjects */
        enum placement_op op;
        struct placement_query_value *values; /* 0 (exists), 1, or the list of in/!in */
        size_t n_values;
        struct pcre2_real_code_8 *regex; /* =~ and !~: compiled, anchored both ends */
        struct pcre2_real_match_data_8 *match;
        struct pcre2_real_match_context_8 *match_context; /* backtracking limits */
        char *regex_prefix; /* literal text every match starts with ("c5." of c5\..*) */
        size_t regex_prefix_len;
        uint64_t *regex_steps; /* the query's step count, shared by its regexes */
};

struct placement_query {
        char *source; /* the expression as given (a copy) */
        size_t length;
        struct placement_query_node *root;
        uint64_t *regex_steps; /* steps its regexes took since the last reset */
};

/* Parse text (len bytes, need not be NUL-terminated).  On failure returns
 * -EINVAL (or -ENOMEM) and fills e; its offset points into text. */
int placement_query_parse(struct placement_query **ret, const char *text, size_t len,
                          struct placement_error *e);
struct placement_query *placement_query_free(struct placement_query *q);

/* The canonical form: symbolic operators, lower-case `and` / `or` / `not(...)`,
 * single spaces, only the parentheses precedence needs, values quoted only
 * when they must be.  Parsing the canonical form gives the same canonical form. */
int placement_query_format(const struct placement_query *q, char **ret);

/* The distinct subjects the query reads, in order of first use, as written
 * ("attribute:catslike", "task:group").  *ret is a NULL-terminated malloc'd
 * array of malloc'd strings. */
int placement_query_subjects(const struct placement_query *q, char ***ret);
void placement_query_strv_free(char **v);

const char *placement_subject_to_string(enum placement_subject s);
const char *placement_op_to_string(enum placement_op op); /* symbolic form */
