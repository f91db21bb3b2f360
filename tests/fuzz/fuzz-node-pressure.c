/* fuzz-node-pressure.c: a /proc/pressure file's parser on any bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "node-pressure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct node_pressure ps;

        if (node_pressure_parse((const char *)data, size, &ps) == 0 &&
            ((!ps.has_some && ps.some_total) || (!ps.has_full && ps.full_total)))
                abort();
        return 0;
}
