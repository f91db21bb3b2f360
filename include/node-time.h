/* node-time.h: the time collector: node_time_seconds and
 * node_time_zone_offset_seconds{time_zone} from the system clock and the
 * local time zone, and the clocksources of /sys/devices/system/clocksource
 * (node_time_clocksource_available_info and _current_info{clocksource,device}). */
#pragma once

#include <stddef.h>

#include "collector.h"
#include "node-text.h"

#define NODE_TIME_CLOCKSOURCES_MAX 32 /* names in available_clocksource: a host has 2 or 3 */

/* Pure: a clocksource's available_clocksource text ("tsc kvm-clock \n")
 * as its names (pointers into text), at most max; *ret_n of them (0 for an
 * empty file).  -E2BIG past max. */
int node_time_parse(const char *text, size_t len, struct node_text_field *names, size_t max,
                    size_t *ret_n);

extern const struct collector node_time_collector;
