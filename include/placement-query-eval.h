/* placement-query-eval.h: evaluates a parsed cluster query against one
 * container instance.  Pure: reads the query and the instance, changes
 * neither (except the query's private regex match blocks). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "placement-model.h"
#include "placement-query.h"

/* 1 when ci satisfies q, 0 when not.  A regular expression that hits a limit
 * on one of ci's values is an error, not a non-match: -E2BIG its step or
 * depth limit, -ENOBUFS its memory limit (PLACEMENT_REGEX_*_LIMIT), -ETIME
 * the query's regexes' steps in all (PLACEMENT_REGEX_STEPS_MAX; the count
 * goes on across calls, and placement_query_filter() and placement_run()
 * start it again). */
int placement_query_eval(const struct placement_query *q, const struct placement_instance *ci);

/* Add what evaluating q on one instance costs at most to *k: an attribute
 * predicate searches the attributes once, a task:group predicate checks
 * each group against each argument, any other its value against each. */
void placement_query_add_cost(const struct placement_query *q, struct placement_instance_cost *k);

/* The checks placement_query_filter() makes on c at most. */
uint64_t placement_query_filter_work(const struct placement_query *q,
                                     const struct placement_cluster *c);

/* What `aws ecs list-container-instances --filter` returns: the indices of the
 * cluster's instances that satisfy q, in input order, among those whose status
 * is status (or, with status NULL, every status except INACTIVE, as
 * ListContainerInstances does by default).  *ret is malloc'd (may be NULL
 * when *ret_n is 0).  -ERANGE, before any work, when that is more than
 * PLACEMENT_WORK_MAX checks (placement_query_filter_work()). */
int placement_query_filter(const struct placement_query *q, const struct placement_cluster *c,
                           const char *status, size_t **ret, size_t *ret_n);
