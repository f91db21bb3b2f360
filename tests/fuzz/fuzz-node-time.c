/* fuzz-node-time.c: the available_clocksource parser on any bytes: its
 * names lie inside the text, none empty. */
#include <stdint.h>
#include <stdlib.h>

#include "node-time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct node_text_field names[NODE_TIME_CLOCKSOURCES_MAX];
        const char *text = (const char *)data;
        size_t n = 0;

        if (node_time_parse(text, size, names, NODE_TIME_CLOCKSOURCES_MAX, &n) != 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!names[i].n || names[i].s < text || names[i].s + names[i].n > text + size)
                        abort();
        return 0;
}
