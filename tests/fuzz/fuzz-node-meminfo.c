/* fuzz-node-meminfo.c: /proc/meminfo's parser on any bytes; what it accepts
 * must make valid, distinct metric names, and MemTotal for the registration
 * must agree with it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node-meminfo.h"
#include "resources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct node_meminfo m;
        uint64_t kib;
        int r;

        r = node_meminfo_parse((const char *)data, size, &m);
        if (r == 0)
                for (size_t i = 0; i < m.n; i++) {
                        if (!node_text_is_name((struct node_text_field){m.fields[i].name,
                                                                        strlen(m.fields[i].name)}))
                                abort();
                        for (size_t j = 0; j < i; j++)
                                if (strcmp(m.fields[i].name, m.fields[j].name) == 0)
                                        abort();
                }
        if (resources_parse_meminfo((const char *)data, size, &kib) == 0 &&
            (r < 0 || !node_text_get(m.fields, m.n, "MemTotal_bytes")))
                abort();
        return 0;
}
