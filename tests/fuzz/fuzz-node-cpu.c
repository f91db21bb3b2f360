/* fuzz-node-cpu.c: the cpu collector's pure parts on any bytes: the cpuN
 * lines, then what is shown of them after an earlier reading (never less
 * than both, unless a CPU started again), and the CPU list parser (its
 * ranges ascend and never overlap). */
#include <stdint.h>
#include <stdlib.h>

#include "node-cpu.h"

#define MAX 16

static void check_keep(const struct node_stat_cpu *now, size_t n) {
        struct node_stat_cpu kept[MAX], before[MAX];
        size_t n_kept = 0;

        /* An earlier reading: the same CPUs, half the times. */
        for (size_t i = 0; i < n; i++) {
                before[i] = now[i];
                for (size_t m = 0; m < NODE_STAT_MODES; m++)
                        before[i].seconds[m] = now[i].seconds[m] * (i % 2 ? 2 : 0.5);
        }
        node_cpu_keep(kept, &n_kept, before, n);
        node_cpu_keep(kept, &n_kept, now, n);
        if (n_kept != n)
                abort();
        for (size_t i = 0; i < n; i++)
                for (size_t m = 0; m < NODE_STAT_MODES; m++)
                        if (kept[i].id != now[i].id || kept[i].seconds[m] < now[i].seconds[m])
                                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct node_stat_cpu cpus[MAX];
        struct node_cpu_range ranges[8];
        size_t n = 0;

        if (node_cpu_parse((const char *)data, size, cpus, MAX, &n) == 0)
                check_keep(cpus, n);
        if (node_cpu_parse_list((const char *)data, size, ranges, 8, &n) == 0)
                for (size_t i = 0; i < n; i++)
                        if (ranges[i].first > ranges[i].last || ranges[i].last > UINT16_MAX ||
                            (i && ranges[i].first <= ranges[i - 1].last))
                                abort();
        return 0;
}
