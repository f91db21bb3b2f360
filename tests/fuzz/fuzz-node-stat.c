/* fuzz-node-stat.c: /proc/stat's parser on any bytes, with room for few
 * CPUs and for enough: what it accepts lists each CPU once, in order, and
 * the counters do not depend on whether CPUs are kept. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node-stat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct node_stat_cpu cpus[8];
        struct node_stat a, b;
        size_t n = 0, counted = 0;
        int r;

        r = node_stat_parse((const char *)data, size, &a, cpus, 8, &n);
        if (r == 0) {
                for (size_t i = 1; i < n; i++)
                        if (cpus[i - 1].id >= cpus[i].id)
                                abort();
                if (node_stat_parse((const char *)data, size, &b, NULL, 0, &counted) != 0 ||
                    counted != n || memcmp(&a, &b, sizeof a) != 0)
                        abort();
        } else if (r == -ENOBUFS && n <= 8)
                abort();
        return 0;
}
