/* node-pressure.c: node_pressure_* from /proc/pressure.  node_exporter
 * writes a resource's series as soon as it has read its file, so the ones
 * before a file it cannot read are written, then the collector fails. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-pressure.h"
#include "node-read.h"
#include "node-text.h"

#define NODE_PRESSURE_MAX 4096 /* bytes: two lines */

/* "avg10=1.25": the key, then a decimal with an optional fraction. */
static bool average(struct node_text_field f, const char *key) {
        size_t k = strlen(key), i, digits = 0;

        if (f.n <= k || memcmp(f.s, key, k) != 0)
                return false;
        for (i = k; i < f.n && f.s[i] >= '0' && f.s[i] <= '9'; i++)
                digits++;
        if (i < f.n && f.s[i] == '.') {
                size_t frac = ++i;
                while (i < f.n && f.s[i] >= '0' && f.s[i] <= '9')
                        i++;
                if (i == frac)
                        return false;
        }
        return digits && i == f.n;
}

/* The fields after "some" or "full": three averages, then total=N. */
static int parse_line(const struct node_text_field *f, size_t n, uint64_t *ret_total) {
        struct node_text_field total;

        if (n < 5 || !average(f[1], "avg10=") || !average(f[2], "avg60=") ||
            !average(f[3], "avg300=") || f[4].n < 6 || memcmp(f[4].s, "total=", 6) != 0)
                return -EINVAL;
        total = (struct node_text_field){f[4].s + 6, f[4].n - 6};
        return node_text_u64(total, ret_total) < 0 ? -EINVAL : 0;
}

int node_pressure_parse(const char *text, size_t len, struct node_pressure *ret) {
        const char *p = text, *end = text + len;
        struct node_pressure ps = {};
        struct node_text_field line, f[5];

        while (node_text_line(&p, end, &line)) {
                size_t n = node_text_fields(line, f, ELEMENTSOF(f));
                if (n && node_text_eq(f[0], "some")) {
                        if (parse_line(f, n, &ps.some_total) < 0)
                                return -EINVAL;
                        ps.has_some = true;
                } else if (n && node_text_eq(f[0], "full")) {
                        if (parse_line(f, n, &ps.full_total) < 0)
                                return -EINVAL;
                        ps.has_full = true;
                }
        }
        *ret = ps;
        return 0;
}

static const struct resource {
        const char *file, *waiting, *waiting_help, *stalled, *stalled_help;
} resources[] = {
        {"pressure/cpu", "node_pressure_cpu_waiting_seconds_total",
         "Total time in seconds that processes have waited for CPU time", NULL, NULL},
        {"pressure/io", "node_pressure_io_waiting_seconds_total",
         "Total time in seconds that processes have waited due to IO congestion",
         "node_pressure_io_stalled_seconds_total",
         "Total time in seconds no process could make progress due to IO congestion"},
        {"pressure/memory", "node_pressure_memory_waiting_seconds_total",
         "Total time in seconds that processes have waited for memory",
         "node_pressure_memory_stalled_seconds_total",
         "Total time in seconds no process could make progress due to memory congestion"},
};

/* node_exporter's arithmetic: microseconds / 1000 / 1000. */
static double seconds(uint64_t us) {
        return (double)us / 1000.0 / 1000.0;
}

static int collect_one(struct expo *e, const struct metrics_source *src,
                       const struct resource *res) {
        _cleanup_free_ char *text = NULL;
        struct node_pressure ps;
        size_t len = 0;
        int r;

        r = node_read(src->procfs, res->file, NODE_PRESSURE_MAX, &text, &len);
        if (r >= 0)
                r = node_pressure_parse(text, len, &ps);
        if (r < 0)
                return r;
        if (!ps.has_some || (res->stalled && !ps.has_full))
                return -EINVAL;
        expo_family(e, res->waiting, EXPO_COUNTER, res->waiting_help);
        expo_sample(e, NULL, seconds(ps.some_total));
        if (res->stalled) {
                expo_family(e, res->stalled, EXPO_COUNTER, res->stalled_help);
                expo_sample(e, NULL, seconds(ps.full_total));
        }
        return 0;
}

static int collect(struct expo *e, const struct metrics_source *src) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(resources); i++)
                if ((r = collect_one(e, src, &resources[i])) < 0)
                        return r;
        return 0;
}

const struct collector node_pressure_collector = {"pressure", collect};
