/* fuzz-place-model.c: libFuzzer target for the describe-container-instances
 * and describe-tasks readers: the first input byte picks which, the rest is
 * the JSON.  A failed load must leave the cluster empty and an error set. */
#include <stdint.h>
#include <stdlib.h>

#include "placement-model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct placement_cluster *c = NULL;
        struct placement_error e = {};
        int r;

        if (size < 1 || placement_cluster_new(&c) < 0)
                return 0;
        if (data[0] & 1)
                r = placement_cluster_load_tasks(c, (const char *)data + 1, size - 1, &e);
        else
                r = placement_cluster_load_instances(c, (const char *)data + 1, size - 1, &e);
        if (r < 0 && (c->n_instances != 0 || c->n_tasks != 0 || !e.message[0]))
                abort();
        for (size_t i = 0; i < c->n_instances; i++) {
                placement_instance_short_id(&c->instances[i]);
                placement_instance_attribute(&c->instances[i], "ecs.instance-type");
        }
        placement_cluster_free(c);
        return 0;
}
