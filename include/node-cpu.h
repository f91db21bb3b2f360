/* node-cpu.h: the cpu collector, as node_exporter 1.5 has it on Linux:
 * node_cpu_seconds_total{cpu,mode} and node_cpu_guest_seconds_total{cpu,mode}
 * from /proc/stat (counters kept from stepping back, as node_exporter keeps
 * them), node_cpu_isolated{cpu} from /sys/devices/system/cpu/isolated, and
 * the thermal throttle counts of /sys/devices/system/cpu/cpuN (the last
 * two only where the host has them). */
#pragma once

#include <stddef.h>

#include "collector.h"
#include "node-stat.h"

/* Pure: the cpuN lines of /proc/stat's text (node_stat_parse()'s contract). */
int node_cpu_parse(const char *text, size_t len, struct node_stat_cpu *cpus, size_t max,
                   size_t *ret_n);

/* Pure: what node_exporter shows of a new reading now (n CPUs) given what
 * it showed, kept (*n_kept CPUs, room for n): a time that went back (the
 * kernel's iowait does) keeps its last value; a CPU whose idle time went
 * back by 3 s or more starts again (it was unplugged), and so do all when
 * the CPUs listed change.  kept and *n_kept are updated. */
void node_cpu_keep(struct node_stat_cpu *kept, size_t *n_kept, const struct node_stat_cpu *now,
                   size_t n);

/* A run of CPU numbers, first to last. */
struct node_cpu_range {
        unsigned first, last;
};

/* Pure: a kernel CPU list ("1-3,8\n", the isolated file; empty: none) into
 * ranges (at most max), *ret_n of them.  -EINVAL when it is not such a
 * list in ascending order (numbers up to 65535, as node_exporter's), -E2BIG
 * past max ranges. */
int node_cpu_parse_list(const char *text, size_t len, struct node_cpu_range *ranges, size_t max,
                        size_t *ret_n);

extern const struct collector node_cpu_collector;
