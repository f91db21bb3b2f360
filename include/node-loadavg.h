/* node-loadavg.h: the loadavg collector: /proc/loadavg as node_load1, node_load5
 * and node_load15. */
#pragma once

#include <stddef.h>

#include "collector.h"

/* Pure: the three averages of /proc/loadavg's text; -EINVAL when it is not
 * such a line. */
int node_loadavg_parse(const char *text, size_t len, double ret[static 3]);

extern const struct collector node_loadavg_collector;
