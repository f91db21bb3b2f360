/* fuzz-node-filesystem.c: /proc/1/mounts' parser on any bytes, with and
 * without a rootfs to take off the mount points; every mount it returns
 * has its three labels. */
#include <stdint.h>
#include <stdlib.h>

#include "node-filesystem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const rootfs[] = {NULL, "/", "/host"};

        for (size_t i = 0; i < 3; i++) {
                struct node_filesystem_mounts m = {};
                if (node_filesystem_parse_mounts((const char *)data, size, rootfs[i], &m) < 0)
                        continue;
                for (size_t k = 0; k < m.n; k++)
                        if (!*m.mounts[k].device || !*m.mounts[k].mount_point ||
                            !*m.mounts[k].fs_type)
                                abort();
                node_filesystem_mounts_done(&m);
        }
        return 0;
}
