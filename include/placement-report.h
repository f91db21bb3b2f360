/* placement-report.h: a resilience analysis as people and programs read it:
 * the verdicts in words, a table for a terminal (every value from an input
 * file escaped, placement-escape.h), and the JSON document README.md
 * documents.  Pure: each returns what it made; ecs-place prints it. */
#pragma once

#include <cjson/cJSON.h>

#include "placement-resilience.h"

/* "losing us-east-1b leaves service:api 2 tasks short (RESOURCE:MEMORY)",
 * or what survives ("losing us-east-1a: every service keeps its desired
 * count, 41% of CPU and 38% of memory left").  Not escaped; malloc'd. */
int placement_report_verdict(const struct placement_resilience *r,
                             const struct placement_failure *f, char **ret);

/* One line per kind of failure (and per expression):
 * "survives the loss of any one zone: no (us-east-1a, us-east-1b)".  *ret
 * is a NULL-terminated malloc'd array of malloc'd lines, not escaped; free
 * with placement_query_strv_free(). */
int placement_report_verdicts(const struct placement_resilience *r, char ***ret);

/* The table: the cluster, the baseline, each failure (lost instances,
 * services displaced with where their replacements went or why not,
 * headroom per zone, the verdict), then the verdicts.  Escaped. */
int placement_report_table(const struct placement_resilience *r, char **ret);

/* The JSON document; cluster is the cluster's ARN. */
int placement_report_json(const struct placement_resilience *r, const char *cluster, cJSON **ret);
