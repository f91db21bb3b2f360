/* fuzz-node-loadavg.c: /proc/loadavg's parser on any bytes. */
#include <stdint.h>

#include "node-loadavg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        double v[3];

        (void)node_loadavg_parse((const char *)data, size, v);
        return 0;
}
