/* fuzz-node-filefd.c: /proc/sys/fs/file-nr's parser on any bytes. */
#include <stdint.h>

#include "node-filefd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        double allocated, maximum;

        (void)node_filefd_parse((const char *)data, size, &allocated, &maximum);
        return 0;
}
