/* fuzz-hoststate.c: what ecs-hostd reads from its host and its neighbours:
 * the state file, /proc/meminfo and the official agent's introspection
 * answer, on any bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "registration.h"
#include "resources.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct state s = {};
        char *err = NULL, *arn = NULL, *cluster = NULL;
        uint64_t kib;

        if (state_parse((const char *)data, size, &s, &err) == 0) {
                char *text = state_format(&s);
                free(text);
                state_done(&s);
        }
        free(err);
        (void)resources_parse_meminfo((const char *)data, size, &kib);
        if (registration_parse_introspection((const char *)data, size, &arn, &cluster) == 0) {
                free(arn);
                free(cluster);
        }
        return 0;
}
