/* process-metrics.h: the daemon's own process_* series, named as every
 * Prometheus client library names them (process_cpu_seconds_total,
 * process_resident_memory_bytes, ...), from getrusage(), getrlimit() and
 * /proc/self. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "expo.h"

struct process_stat {
        uint64_t utime, stime; /* clock ticks */
        uint64_t starttime;    /* clock ticks after boot */
        uint64_t vsize;        /* bytes */
        int64_t rss;           /* pages */
};

/* Pure: the fields of /proc/PID/stat's line ("1234 (comm) S 1 ..."; comm
 * may hold spaces and parentheses: the fields start after the last ')').
 * -EINVAL when it is not such a line. */
int process_parse_stat(const char *text, size_t len, struct process_stat *ret);

/* Pure: the first two fields of /proc/PID/statm (sizes in pages: the
 * whole virtual size, the resident set); -EINVAL when it is not such a line. */
int process_parse_statm(const char *text, size_t len, uint64_t *ret_size, uint64_t *ret_resident);

/* Write the process_* families for this process (what cannot be read is
 * left out). */
void process_metrics_write(struct expo *e);
