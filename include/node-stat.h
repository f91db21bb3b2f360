/* node-stat.h: /proc/stat, which the stat collector (boot time, context
 * switches, forks, interrupts, running and blocked processes) and the cpu
 * collector (each CPU's times) both read, with the one parser here, so
 * both refuse the same text as node_exporter's shared procfs reader does. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* A CPU's times in seconds (the kernel's USER_HZ ticks / 100), in the
 * order of /proc/stat's columns; a column an old kernel lacks is 0. */
enum {
        NODE_STAT_USER,
        NODE_STAT_NICE,
        NODE_STAT_SYSTEM,
        NODE_STAT_IDLE,
        NODE_STAT_IOWAIT,
        NODE_STAT_IRQ,
        NODE_STAT_SOFTIRQ,
        NODE_STAT_STEAL,
        NODE_STAT_GUEST,
        NODE_STAT_GUEST_NICE,
        NODE_STAT_MODES,
};

struct node_stat_cpu {
        unsigned id; /* N of its cpuN line */
        double seconds[NODE_STAT_MODES];
};

/* The counters of the other lines (0 when a line is missing, as
 * node_exporter writes them). */
struct node_stat {
        uint64_t boot_time, interrupts, context_switches, forks, procs_running, procs_blocked;
};

/* Pure: /proc/stat's text, in one pass: the counters into *ret and, when
 * cpus is not NULL, each cpuN line into cpus (at most max; sorted by id).
 * Lines of fewer than two fields and of keys it does not know are
 * skipped.  -EINVAL when a known line is malformed (a cpuN line's columns,
 * the counters and every interrupt count must be unsigned decimals) or a
 * CPU is listed twice; -ENOBUFS when there are more than max CPUs, with
 * *ret_n_cpus how many (call again with room for them). */
int node_stat_parse(const char *text, size_t len, struct node_stat *ret, struct node_stat_cpu *cpus,
                    size_t max, size_t *ret_n_cpus);

#define NODE_STAT_MAX (1024 * 1024) /* bytes: 2 KiB with 2 CPUs, 100 KiB with 448 */

extern const struct collector node_stat_collector;
