/* node-vmstat.h: the vmstat collector: the fields of /proc/vmstat that
 * node_exporter's default --collector.vmstat.fields keeps,
 * ^(oom_kill|pgpg|pswp|pg.*fault).*, as node_vmstat_<field> (untyped). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "collector.h"
#include "node-text.h"

#define NODE_VMSTAT_FIELDS_MAX 64 /* kept fields: a 6.x kernel has 7 */

struct node_vmstat {
        size_t n;
        struct node_text_value fields[NODE_VMSTAT_FIELDS_MAX]; /* in the file's order */
};

/* Whether node_exporter's default field pattern keeps the field called name. */
bool node_vmstat_wanted(struct node_text_field name);

/* Pure: /proc/vmstat's text ("name value" lines), in one pass: the kept
 * fields.  Every line's value must be a number (node_exporter reads them
 * all); -EINVAL when one is not, or a kept name is no metric name, -E2BIG
 * past NODE_VMSTAT_FIELDS_MAX kept fields. */
int node_vmstat_parse(const char *text, size_t len, struct node_vmstat *ret);

extern const struct collector node_vmstat_collector;
