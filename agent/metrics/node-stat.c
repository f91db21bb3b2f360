/* node-stat.c: /proc/stat's parser, and the stat collector: node_boot_time_seconds,
 * node_context_switches_total, node_forks_total, node_intr_total,
 * node_procs_running and node_procs_blocked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "node-read.h"
#include "node-stat.h"
#include "node-text.h"

/* A cpu or cpuN line (f: its first fields, n of them): 1 with *ret filled
 * for cpuN, 0 for the all-CPU "cpu" line. */
static int parse_cpu(const struct node_text_field *f, size_t n, struct node_stat_cpu *ret) {
        struct node_stat_cpu c = {};
        uint64_t v;

        for (size_t i = 1; i < n && i <= NODE_STAT_MODES; i++) {
                if (node_text_u64(f[i], &v) < 0)
                        return -EINVAL;
                c.seconds[i - 1] = (double)v / 100.0; /* USER_HZ */
        }
        if (f[0].n == 3)
                return 0;
        if (node_text_u64((struct node_text_field){f[0].s + 3, f[0].n - 3}, &v) < 0 ||
            v > UINT32_MAX)
                return -EINVAL;
        c.id = (unsigned)v;
        *ret = c;
        return 1;
}

/* Every count after intr's total is a decimal too. */
static bool all_digits(const char *s, const char *end) {
        for (; s < end; s++)
                if (!((*s >= '0' && *s <= '9') || *s == ' ' || *s == '\t'))
                        return false;
        return true;
}

/* One of the counter lines: where its value goes, or NULL. */
static uint64_t *counter(struct node_stat *st, struct node_text_field key) {
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                {"btime", offsetof(struct node_stat, boot_time)},
                {"intr", offsetof(struct node_stat, interrupts)},
                {"ctxt", offsetof(struct node_stat, context_switches)},
                {"processes", offsetof(struct node_stat, forks)},
                {"procs_running", offsetof(struct node_stat, procs_running)},
                {"procs_blocked", offsetof(struct node_stat, procs_blocked)},
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (node_text_eq(key, keys[i].key))
                        return (uint64_t *)((char *)st + keys[i].offset);
        return NULL;
}

static int by_id(const void *a, const void *b) {
        unsigned x = ((const struct node_stat_cpu *)a)->id,
                 y = ((const struct node_stat_cpu *)b)->id;
        return x < y ? -1 : x > y;
}

/* The kernel lists CPUs in order; anything else is sorted, and a CPU
 * listed twice is refused. */
static int order(struct node_stat_cpu *cpus, size_t n) {
        bool sorted = true;

        for (size_t i = 1; i < n && sorted; i++)
                sorted = cpus[i - 1].id < cpus[i].id;
        if (sorted)
                return 0;
        qsort(cpus, n, sizeof *cpus, by_id);
        for (size_t i = 1; i < n; i++)
                if (cpus[i - 1].id == cpus[i].id)
                        return -EINVAL;
        return 0;
}

int node_stat_parse(const char *text, size_t len, struct node_stat *ret, struct node_stat_cpu *cpus,
                    size_t max, size_t *ret_n_cpus) {
        const char *p = text, *end = text + len;
        struct node_text_field line, f[NODE_STAT_MODES + 1];
        struct node_stat st = {};
        size_t n_cpus = 0;
        uint64_t *v;
        int r;

        while (node_text_line(&p, end, &line)) {
                size_t n = node_text_fields(line, f, ELEMENTSOF(f));
                if (n < 2)
                        continue;
                if (f[0].n >= 3 && memcmp(f[0].s, "cpu", 3) == 0) {
                        struct node_stat_cpu c;
                        if ((r = parse_cpu(f, n, &c)) < 0)
                                return r;
                        if (r > 0 && cpus && n_cpus < max)
                                cpus[n_cpus] = c;
                        n_cpus += r;
                } else if ((v = counter(&st, f[0]))) {
                        if (node_text_u64(f[1], v) < 0 ||
                            (v == &st.interrupts && !all_digits(f[1].s, line.s + line.n)))
                                return -EINVAL;
                }
        }
        if (cpus && n_cpus > max) {
                *ret_n_cpus = n_cpus;
                return -ENOBUFS;
        }
        if (cpus && (r = order(cpus, n_cpus)) < 0)
                return r;
        *ret = st;
        if (ret_n_cpus)
                *ret_n_cpus = n_cpus;
        return 0;
}

static int collect(struct expo *e, const struct metrics_source *src) {
        static const struct {
                const char *name, *help;
                enum expo_type type;
                size_t offset;
        } families[] = {
                {"node_intr_total", "Total number of interrupts serviced.", EXPO_COUNTER,
                 offsetof(struct node_stat, interrupts)},
                {"node_context_switches_total", "Total number of context switches.", EXPO_COUNTER,
                 offsetof(struct node_stat, context_switches)},
                {"node_forks_total", "Total number of forks.", EXPO_COUNTER,
                 offsetof(struct node_stat, forks)},
                {"node_boot_time_seconds", "Node boot time, in unixtime.", EXPO_GAUGE,
                 offsetof(struct node_stat, boot_time)},
                {"node_procs_running", "Number of processes in runnable state.", EXPO_GAUGE,
                 offsetof(struct node_stat, procs_running)},
                {"node_procs_blocked", "Number of processes blocked waiting for I/O to complete.",
                 EXPO_GAUGE, offsetof(struct node_stat, procs_blocked)},
        };
        _cleanup_free_ char *text = NULL;
        struct node_stat st;
        size_t len = 0;
        int r;

        r = node_read(src->procfs, "stat", NODE_STAT_MAX, &text, &len);
        if (r >= 0)
                r = node_stat_parse(text, len, &st, NULL, 0, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                expo_family(e, families[i].name, families[i].type, families[i].help);
                expo_sample(e, NULL,
                            (double)*(const uint64_t *)((const char *)&st + families[i].offset));
        }
        return 0;
}

const struct collector node_stat_collector = {"stat", collect};
