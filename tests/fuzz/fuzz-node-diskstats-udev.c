/* fuzz-node-diskstats-udev.c: the udev database reader on any bytes, and
 * each value it finds through the ATA properties' float syntax. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node-diskstats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        const char *v[NODE_UDEV_N];
        double x;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0; /* as fileio_read() leaves it */
        node_diskstats_parse_udev(text, size, v);
        for (size_t k = 0; k < NODE_UDEV_N; k++)
                if (v[k]) {
                        if (v[k] < text || v[k] > text + size)
                                abort();
                        (void)node_diskstats_parse_float(v[k], &x);
                }
        free(text);
        return 0;
}
