/* node-cpu.c: node_cpu_* (see node-cpu.h).  The times node_exporter shows
 * never go back, so what was last shown is kept between scrapes, in this
 * file's one piece of state (the daemon scrapes from its one event loop). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "node-cpu.h"
#include "node-read.h"
#include "node-text.h"

#define NODE_CPU_JUMP_BACK 3.0        /* seconds of idle time lost: the CPU was replugged */
#define NODE_CPU_RANGES_MAX 1024      /* runs in the isolated list */
#define NODE_CPU_LIST_MAX (64 * 1024) /* bytes: the isolated list */
#define NODE_CPU_FIRST_ROOM 64        /* CPUs: grown when a host has more */

int node_cpu_parse(const char *text, size_t len, struct node_stat_cpu *cpus, size_t max,
                   size_t *ret_n) {
        struct node_stat ignored;

        return node_stat_parse(text, len, &ignored, cpus, max, ret_n);
}

void node_cpu_keep(struct node_stat_cpu *kept, size_t *n_kept, const struct node_stat_cpu *now,
                   size_t n) {
        bool same = *n_kept == n;

        for (size_t i = 0; i < n && same; i++)
                same = kept[i].id == now[i].id;
        if (!same) {
                for (size_t i = 0; i < n; i++)
                        kept[i] = (struct node_stat_cpu){.id = now[i].id};
                *n_kept = n;
        }
        for (size_t i = 0; i < n; i++) {
                if (kept[i].seconds[NODE_STAT_IDLE] - now[i].seconds[NODE_STAT_IDLE] >=
                    NODE_CPU_JUMP_BACK)
                        kept[i] = (struct node_stat_cpu){.id = now[i].id};
                for (size_t m = 0; m < NODE_STAT_MODES; m++)
                        if (now[i].seconds[m] >= kept[i].seconds[m])
                                kept[i].seconds[m] = now[i].seconds[m];
        }
}

/* One item of a CPU list: "N" or "N-M". */
static int parse_range(struct node_text_field f, struct node_cpu_range *ret) {
        const char *dash = memchr(f.s, '-', f.n);
        struct node_text_field a = f, b = f;
        uint64_t first, last;

        if (dash) {
                a.n = (size_t)(dash - f.s);
                b = (struct node_text_field){dash + 1, f.n - a.n - 1};
        }
        if (node_text_u64(a, &first) < 0 || node_text_u64(b, &last) < 0 || first > last ||
            last > UINT16_MAX)
                return -EINVAL;
        *ret = (struct node_cpu_range){(unsigned)first, (unsigned)last};
        return 0;
}

int node_cpu_parse_list(const char *text, size_t len, struct node_cpu_range *ranges, size_t max,
                        size_t *ret_n) {
        struct node_text_field list = node_text_trim((struct node_text_field){text, len});
        const char *p = list.s, *end = list.s + list.n;
        size_t n = 0;

        while (p < end) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                struct node_text_field item = {p, (size_t)((comma ? comma : end) - p)};
                struct node_cpu_range r;

                p = comma ? comma + 1 : end;
                if (!item.n)
                        continue;
                if (parse_range(item, &r) < 0 || (n && r.first <= ranges[n - 1].last))
                        return -EINVAL;
                if (n == max)
                        return -E2BIG;
                ranges[n++] = r;
        }
        *ret_n = n;
        return 0;
}

/* What was read last and what was shown, with room for cap CPUs. */
static struct {
        struct node_stat_cpu *now, *kept;
        size_t cap, n_kept;
} state;

static int make_room(size_t n) {
        struct node_stat_cpu *a, *b;

        if (n <= state.cap)
                return 0;
        a = reallocarray(state.now, n, sizeof *a);
        if (a)
                state.now = a;
        b = reallocarray(state.kept, n, sizeof *b);
        if (b)
                state.kept = b;
        if (!a || !b)
                return -ENOMEM;
        state.cap = n;
        return 0;
}

/* /proc/stat's CPUs into state.now: how many, or a negative errno. */
static int read_times(const struct metrics_source *src, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0, n = 0;
        int r;

        r = make_room(NODE_CPU_FIRST_ROOM);
        if (r >= 0)
                r = node_read(src->procfs, "stat", NODE_STAT_MAX, &text, &len);
        if (r < 0)
                return r;
        r = node_cpu_parse(text, len, state.now, state.cap, &n);
        if (r == -ENOBUFS) {
                if ((r = make_room(n)) < 0)
                        return r;
                r = node_cpu_parse(text, len, state.now, state.cap, &n);
        }
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}

static void write_times(struct expo *e, const struct node_stat_cpu *cpus, size_t n) {
        static const char *const modes[] = {"user",   "nice", "system",  "idle",
                                            "iowait", "irq",  "softirq", "steal"};
        char id[16];

        if (!n)
                return; /* node_exporter writes no family without a sample */
        expo_family(e, "node_cpu_seconds_total", EXPO_COUNTER,
                    "Seconds the CPUs spent in each mode.");
        for (size_t i = 0; i < n; i++) {
                snprintf(id, sizeof id, "%u", cpus[i].id);
                for (size_t m = 0; m < ELEMENTSOF(modes); m++)
                        expo_sample(e, (const char *const[]){"cpu", id, "mode", modes[m], NULL},
                                    cpus[i].seconds[m]);
        }
        /* Guest time is counted in user and nice too: apart, as node_exporter has it. */
        expo_family(e, "node_cpu_guest_seconds_total", EXPO_COUNTER,
                    "Seconds the CPUs spent in guests (VMs) for each mode.");
        for (size_t i = 0; i < n; i++) {
                snprintf(id, sizeof id, "%u", cpus[i].id);
                expo_sample(e, (const char *const[]){"cpu", id, "mode", "user", NULL},
                            cpus[i].seconds[NODE_STAT_GUEST]);
                expo_sample(e, (const char *const[]){"cpu", id, "mode", "nice", NULL},
                            cpus[i].seconds[NODE_STAT_GUEST_NICE]);
        }
}

/* node_cpu_isolated, when the kernel has the file (node_exporter reads it
 * once at start and refuses to start on a list it cannot read). */
static int write_isolated(struct expo *e, const struct metrics_source *src) {
        struct node_cpu_range ranges[NODE_CPU_RANGES_MAX];
        _cleanup_free_ char *text = NULL;
        size_t len = 0, n = 0;
        char id[16];
        int r;

        r = node_read(src->sysfs, "devices/system/cpu/isolated", NODE_CPU_LIST_MAX, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r >= 0)
                r = node_cpu_parse_list(text, len, ranges, ELEMENTSOF(ranges), &n);
        if (r < 0)
                return r;
        if (n)
                expo_family(e, "node_cpu_isolated", EXPO_GAUGE,
                            "Whether each core is isolated, information from "
                            "/sys/devices/system/cpu/isolated.");
        for (size_t i = 0; i < n; i++)
                for (unsigned c = ranges[i].first; c <= ranges[i].last; c++) {
                        snprintf(id, sizeof id, "%u", c);
                        expo_sample(e, (const char *const[]){"cpu", id, NULL}, 1);
                }
        return 0;
}

/* A thermal throttle count: of a package (core unused) or of a core. */
struct throttle {
        uint64_t package, core, count;
};

struct throttles {
        struct throttle *packages, *cores; /* room for one per CPU directory */
        size_t n_packages, n_cores;
};

static bool has(const struct throttle *t, size_t n, uint64_t package, uint64_t core) {
        for (size_t i = 0; i < n; i++)
                if (t[i].package == package && t[i].core == core)
                        return true;
        return false;
}

/* One cpuN directory, as node_exporter reads it: skipped without its
 * topology; a core's count read once per (package, core) and a package's
 * once per package, from the first CPU (in name order) that has it. */
static void read_throttle(int dirfd, const char *cpu, struct throttles *t) {
        uint64_t package, core, count;
        char path[512];

        snprintf(path, sizeof path, "%s/thermal_throttle", cpu);
        if (faccessat(dirfd, path, F_OK, 0) < 0)
                return; /* what a VM has: no count to read */
        snprintf(path, sizeof path, "%s/topology/physical_package_id", cpu);
        if (node_read_u64_at(dirfd, path, &package) < 0)
                return;
        snprintf(path, sizeof path, "%s/topology/core_id", cpu);
        if (node_read_u64_at(dirfd, path, &core) < 0)
                return;
        snprintf(path, sizeof path, "%s/thermal_throttle/core_throttle_count", cpu);
        if (!has(t->cores, t->n_cores, package, core) && node_read_u64_at(dirfd, path, &count) == 0)
                t->cores[t->n_cores++] = (struct throttle){package, core, count};
        snprintf(path, sizeof path, "%s/thermal_throttle/package_throttle_count", cpu);
        if (!has(t->packages, t->n_packages, package, 0) &&
            node_read_u64_at(dirfd, path, &count) == 0)
                t->packages[t->n_packages++] = (struct throttle){package, 0, count};
}

static int by_package_core(const void *a, const void *b) {
        const struct throttle *x = a, *y = b;

        if (x->package != y->package)
                return x->package < y->package ? -1 : 1;
        return x->core < y->core ? -1 : x->core > y->core;
}

/* Sorted, and its family started when it has a sample: node_exporter
 * writes no family without one. */
static void start(struct expo *e, struct throttle *t, size_t n, const char *name,
                  const char *help) {
        if (!n)
                return;
        qsort(t, n, sizeof *t, by_package_core);
        expo_family(e, name, EXPO_COUNTER, help);
}

static void write_throttle_counts(struct expo *e, struct throttles *t) {
        char package[24], core[24];

        start(e, t->packages, t->n_packages, "node_cpu_package_throttles_total",
              "Number of times this CPU package has been throttled.");
        for (size_t i = 0; i < t->n_packages; i++) {
                snprintf(package, sizeof package, "%" PRIu64, t->packages[i].package);
                expo_sample(e, (const char *const[]){"package", package, NULL},
                            (double)t->packages[i].count);
        }
        start(e, t->cores, t->n_cores, "node_cpu_core_throttles_total",
              "Number of times this CPU core has been throttled.");
        for (size_t i = 0; i < t->n_cores; i++) {
                snprintf(package, sizeof package, "%" PRIu64, t->cores[i].package);
                snprintf(core, sizeof core, "%" PRIu64, t->cores[i].core);
                expo_sample(e, (const char *const[]){"core", core, "package", package, NULL},
                            (double)t->cores[i].count);
        }
}

static int write_throttles(struct expo *e, const struct metrics_source *src) {
        struct node_read_dir d;
        struct throttles t = {};
        int r;

        r = node_read_dir(src->sysfs, "devices/system/cpu", "cpu", &d);
        if (r < 0)
                return r;
        if (d.n) {
                t.packages = calloc(d.n, sizeof *t.packages);
                t.cores = calloc(d.n, sizeof *t.cores);
                r = t.packages && t.cores ? 0 : -ENOMEM;
        }
        for (size_t i = 0; r == 0 && i < d.n; i++)
                read_throttle(d.fd, d.names[i], &t);
        if (r == 0)
                write_throttle_counts(e, &t);
        free(t.packages);
        free(t.cores);
        node_read_dir_done(&d);
        return r;
}

static int collect(struct expo *e, const struct metrics_source *src) {
        size_t n = 0;
        int r;

        r = read_times(src, &n);
        if (r < 0)
                return r;
        node_cpu_keep(state.kept, &state.n_kept, state.now, n);
        write_times(e, state.kept, n);
        r = write_isolated(e, src);
        if (r < 0)
                return r;
        return write_throttles(e, src);
}

const struct collector node_cpu_collector = {"cpu", collect};
