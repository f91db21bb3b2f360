/* process-metrics.c: process_* from /proc/self (see process-metrics.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "process-metrics.h"

#define STAT_MAX 4096   /* bytes of /proc/self/stat: one line */
#define LIMITS_MAX 8192 /* bytes of /proc/self/limits: a short table */

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

int process_parse_max_fds(const char *text, size_t len, uint64_t *ret) {
        static const char key[] = "Max open files";
        const char *end = text + len;

        for (const char *p = text; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (n > sizeof key && memcmp(p, key, sizeof key - 1) == 0) {
                        char buf[128], *q, *e;
                        snprintf(buf, sizeof buf, "%.*s", (int)(n - (sizeof key - 1)),
                                 p + sizeof key - 1);
                        q = buf + strspn(buf, " ");
                        if (strncmp(q, "unlimited", 9) == 0) {
                                *ret = UINT64_MAX;
                                return 0;
                        }
                        if (!(*q >= '0' && *q <= '9'))
                                return -EINVAL;
                        errno = 0;
                        *ret = strtoull(q, &e, 10);
                        return errno || *e != ' ' ? -EINVAL : 0;
                }
                p += n + 1;
        }
        return -EINVAL;
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

/* Boot time (btime of /proc/stat), for the start time; read once. */
static int boot_time(uint64_t *ret) {
        static uint64_t btime;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        const char *p;
        int r;

        if (!btime) {
                r = fileio_read("/proc/stat", 4 << 20, 0, &text, &len);
                if (r < 0)
                        return r;
                p = strstr(text, "\nbtime ");
                if (!p)
                        return -EINVAL;
                btime = strtoull(p + 7, NULL, 10);
        }
        *ret = btime;
        return btime ? 0 : -EINVAL;
}

void process_metrics_write(struct expo *e) {
        _cleanup_free_ char *stat = NULL, *limits = NULL;
        long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        struct process_stat s;
        uint64_t n = 0, btime;
        size_t len = 0;

        if (fileio_read("/proc/self/stat", STAT_MAX, 0, &stat, &len) >= 0 &&
            process_parse_stat(stat, len, &s) >= 0 && ticks > 0) {
                expo_family(e, "process_cpu_seconds_total", EXPO_COUNTER,
                            "Total user and system CPU time spent in seconds.");
                expo_sample(e, NULL, (double)(s.utime + s.stime) / (double)ticks);
                if (boot_time(&btime) >= 0) {
                        expo_family(e, "process_start_time_seconds", EXPO_GAUGE,
                                    "Start time of the process since unix epoch in seconds.");
                        expo_sample(e, NULL, (double)btime + (double)s.starttime / (double)ticks);
                }
                expo_family(e, "process_virtual_memory_bytes", EXPO_GAUGE,
                            "Virtual memory size in bytes.");
                expo_sample(e, NULL, (double)s.vsize);
                expo_family(e, "process_resident_memory_bytes", EXPO_GAUGE,
                            "Resident memory size in bytes.");
                expo_sample(e, NULL, (double)s.rss * (double)page);
        }
        if (count_fds(&n) >= 0) {
                expo_family(e, "process_open_fds", EXPO_GAUGE, "Number of open file descriptors.");
                expo_sample(e, NULL, (double)n);
        }
        if (fileio_read("/proc/self/limits", LIMITS_MAX, 0, &limits, &len) >= 0 &&
            process_parse_max_fds(limits, len, &n) >= 0) {
                expo_family(e, "process_max_fds", EXPO_GAUGE,
                            "Maximum number of open file descriptors.");
                expo_sample(e, NULL, n == UINT64_MAX ? (double)INFINITY : (double)n);
        }
}
