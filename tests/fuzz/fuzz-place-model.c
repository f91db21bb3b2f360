/* fuzz-place-model.c: libFuzzer target for the describe-container-instances
 * and describe-tasks readers: the first input byte picks which, the rest is
 * the JSON.  A failed load must leave the cluster empty and an error set;
 * every value it read, escaped for the terminal, must hold no control byte. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "placement-escape.h"
#include "placement-model.h"

/* Escaped, s is printable ASCII and backslashes (ASCII form), or holds no C0
 * control or DEL (UTF-8 form, whose C1 controls placement_escape_keep()
 * refuses). */
static void check_escaped(const char *s) {
        for (int utf8 = 0; utf8 < 2 && s; utf8++) {
                char *e = placement_escape(s, utf8);
                for (const unsigned char *p = (const unsigned char *)e; e && *p; p++)
                        if (*p < 0x20 || *p == 0x7f || (!utf8 && *p >= 0x80))
                                abort();
                free(e);
        }
}

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
                const struct placement_instance *ci = &c->instances[i];
                placement_instance_short_id(ci);
                placement_instance_attribute(ci, "ecs.instance-type");
                check_escaped(ci->arn);
                check_escaped(ci->ec2_instance_id);
                for (size_t k = 0; k < ci->n_attributes; k++)
                        check_escaped(ci->attributes[k].value);
        }
        placement_cluster_free(c);
        return 0;
}
