/* node-pressure.h: the pressure collector: the stall totals of
 * /proc/pressure/{cpu,io,memory} (kernels >= 4.20 with PSI) as
 * node_pressure_{cpu,io,memory}_waiting_seconds_total ("some") and
 * node_pressure_{io,memory}_stalled_seconds_total ("full").  Without
 * /proc/pressure the collector writes nothing and fails, as
 * node_exporter's does (node_scrape_collector_success 0); the scrape goes on. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

struct node_pressure {
        bool has_some, has_full;
        uint64_t some_total, full_total; /* microseconds */
};

/* Pure: a pressure file's text ("some avg10=0.00 avg60=0.00 avg300=0.00
 * total=123" and a "full" line; other lines are skipped).  -EINVAL when a
 * some or full line is not of that form. */
int node_pressure_parse(const char *text, size_t len, struct node_pressure *ret);

extern const struct collector node_pressure_collector;
