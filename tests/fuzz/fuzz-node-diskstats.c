/* fuzz-node-diskstats.c: /proc/diskstats's parser on any bytes; what it
 * returns must be sorted, each name once, inside the text, with 11 to 17
 * values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node-diskstats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size ? size : 1);
        struct node_diskstats *d = NULL;
        size_t n = 0;

        if (!text)
                return 0;
        memcpy(text, data, size);
        if (node_diskstats_parse(text, size, &d, &n) == 0)
                for (size_t i = 0; i < n; i++)
                        if (d[i].device < text || d[i].device >= text + size || !*d[i].device ||
                            d[i].n < 11 || d[i].n > NODE_DISKSTATS_N ||
                            (i > 0 && strcmp(d[i - 1].device, d[i].device) >= 0))
                                abort();
        free(d);
        free(text);
        return 0;
}
