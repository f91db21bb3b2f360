/* process-metrics.c: process_* from /proc/self (see process-metrics.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "process-metrics.h"

#define STAT_MAX 4096 /* bytes of /proc/self/stat: one line */

/* The n-th (1-based) space-separated field of p as an unsigned number. */
static int field_u64(const char *p, unsigned n, uint64_t *ret) {
        char *end;

        for (unsigned i = 1; i < n; i++) {
                p = strchr(p, ' ');
                if (!p)
                        return -EINVAL;
                p++;
        }
        if (*p == '-' ? !(p[1] >= '0' && p[1] <= '9') : !(*p >= '0' && *p <= '9'))
                return -EINVAL;
        errno = 0;
        *ret = *p == '-' ? (uint64_t)strtoll(p, &end, 10) : strtoull(p, &end, 10);
        if (errno || (*end != ' ' && *end != '\n' && *end != 0))
                return -EINVAL;
        return 0;
}

int process_parse_stat(const char *text, size_t len, struct process_stat *ret) {
        _cleanup_free_ char *line = NULL;
        struct process_stat s = {};
        const char *p;
        uint64_t rss;

        if (len > STAT_MAX || memchr(text, 0, len))
                return -EINVAL;
        if (!(line = strndup(text, len)))
                return -ENOMEM;
        p = strrchr(line, ')');
        if (!p || p[1] != ' ')
                return -EINVAL;
        /* After ") ": state is field 3 of proc(5), so field k is k - 2 here. */
        p += 2;
        if (field_u64(p, 14 - 2, &s.utime) < 0 || field_u64(p, 15 - 2, &s.stime) < 0 ||
            field_u64(p, 22 - 2, &s.starttime) < 0 || field_u64(p, 23 - 2, &s.vsize) < 0 ||
            field_u64(p, 24 - 2, &rss) < 0)
                return -EINVAL;
        s.rss = (int64_t)rss;
        *ret = s;
        return 0;
}

int process_parse_statm(const char *text, size_t len, uint64_t *ret_size, uint64_t *ret_resident) {
        char line[STAT_MAX + 1];
        uint64_t size, resident;

        if (len > STAT_MAX || memchr(text, 0, len))
                return -EINVAL;
        memcpy(line, text, len);
        line[len] = 0;
        if (strchr(line, '-') || field_u64(line, 1, &size) < 0 || field_u64(line, 2, &resident) < 0)
                return -EINVAL;
        *ret_size = size;
        *ret_resident = resident;
        return 0;
}

static int count_fds(uint64_t *ret) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        uint64_t n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        *ret = n - 1; /* not the one opendir holds */
        return 0;
}

/* The start time, from boot time (btime of /proc/stat) and starttime of
 * /proc/self/stat: it never changes, so it is read once. */
static int start_time(double *ret) {
        static double start;
        _cleanup_free_ char *text = NULL, *stat = NULL;
        long ticks = sysconf(_SC_CLK_TCK);
        struct process_stat s;
        size_t len = 0;
        const char *p;

        if (!start) {
                if (ticks <= 0 || fileio_read("/proc/stat", 4 << 20, 0, &text, &len) < 0 ||
                    !(p = strstr(text, "\nbtime ")) ||
                    fileio_read("/proc/self/stat", STAT_MAX, 0, &stat, &len) < 0 ||
                    process_parse_stat(stat, len, &s) < 0)
                        return -EINVAL;
                start = (double)strtoull(p + 7, NULL, 10) + (double)s.starttime / (double)ticks;
        }
        *ret = start;
        return 0;
}

static void one(struct expo *e, const char *name, enum expo_type t, const char *help, double v) {
        expo_family(e, name, t, help);
        expo_sample(e, NULL, v);
}

/* Two reads a scrape (statm, the fd directory); CPU and the descriptor
 * limit are system calls, the start time is known. */
void process_metrics_write(struct expo *e) {
        _cleanup_free_ char *statm = NULL;
        long page = sysconf(_SC_PAGESIZE);
        uint64_t n = 0, size, resident;
        struct rusage ru;
        struct rlimit rl;
        size_t len = 0;
        double start;

        if (getrusage(RUSAGE_SELF, &ru) == 0)
                one(e, "process_cpu_seconds_total", EXPO_COUNTER,
                    "Total user and system CPU time spent in seconds.",
                    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                            (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
        if (count_fds(&n) >= 0)
                one(e, "process_open_fds", EXPO_GAUGE, "Number of open file descriptors.",
                    (double)n);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                one(e, "process_max_fds", EXPO_GAUGE, "Maximum number of open file descriptors.",
                    rl.rlim_cur == RLIM_INFINITY ? (double)INFINITY : (double)rl.rlim_cur);
        if (fileio_read("/proc/self/statm", STAT_MAX, 0, &statm, &len) >= 0 &&
            process_parse_statm(statm, len, &size, &resident) >= 0) {
                one(e, "process_virtual_memory_bytes", EXPO_GAUGE, "Virtual memory size in bytes.",
                    (double)size * (double)page);
                one(e, "process_resident_memory_bytes", EXPO_GAUGE,
                    "Resident memory size in bytes.", (double)resident * (double)page);
        }
        if (start_time(&start) >= 0)
                one(e, "process_start_time_seconds", EXPO_GAUGE,
                    "Start time of the process since unix epoch in seconds.", start);
}
