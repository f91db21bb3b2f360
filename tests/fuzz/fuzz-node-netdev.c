/* fuzz-node-netdev.c: /proc/net/dev's parser on any bytes; what it returns
 * must be sorted, each name once, inside the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node-netdev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size ? size : 1);
        struct node_netdev *devs = NULL;
        size_t n = 0;

        if (!text)
                return 0;
        memcpy(text, data, size);
        if (node_netdev_parse(text, size, &devs, &n) == 0)
                for (size_t i = 0; i < n; i++)
                        if (devs[i].device < text || devs[i].device >= text + size ||
                            !*devs[i].device ||
                            (i > 0 && strcmp(devs[i - 1].device, devs[i].device) >= 0))
                                abort();
        free(devs);
        free(text);
        return 0;
}
