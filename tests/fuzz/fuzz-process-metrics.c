/* fuzz-process-metrics.c: the /proc/PID/stat and /proc/PID/statm parsers
 * on any bytes. */
#include <stdint.h>

#include "process-metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct process_stat st;
        uint64_t vsize, resident;

        (void)process_parse_stat((const char *)data, size, &st);
        (void)process_parse_statm((const char *)data, size, &vsize, &resident);
        return 0;
}
