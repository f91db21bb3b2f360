/* node-meminfo.h: the meminfo collector: every field of /proc/meminfo as
 * node_memory_<Field>[_bytes], named and valued as node_exporter does
 * (Active(anon) is Active_anon; a value in kB is bytes and its name ends
 * in _bytes; a value without a unit, HugePages_Total, is as written).
 * The parser is also the daemon's one reader of MemTotal (resources.c). */
#pragma once

#include <stddef.h>

#include "collector.h"
#include "node-text.h"

#define NODE_MEMINFO_FIELDS_MAX 256 /* a 6.x kernel writes about 60 */

struct node_meminfo {
        size_t n;
        struct node_text_value fields[NODE_MEMINFO_FIELDS_MAX]; /* in the file's order */
};

/* Pure: /proc/meminfo's text, in one pass.  Each line is "Key: value" or
 * "Key: value kB" (a blank line is skipped); a key met twice keeps its
 * last value.  -EINVAL when a line is not that or its name would not be a
 * metric name, -E2BIG past NODE_MEMINFO_FIELDS_MAX fields. */
int node_meminfo_parse(const char *text, size_t len, struct node_meminfo *ret);

extern const struct collector node_meminfo_collector;
