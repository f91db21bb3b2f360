/* fuzz-ecs-error.c: ECS error answers (JSON or XML) and identity documents,
 * both read from the network, on any bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "ecs.h"
#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *code = NULL, *message = NULL, *err = NULL;
        struct identity id = {};

        if (ecs_parse_error((const char *)data, size, &code, &message) == 0) {
                free(code);
                free(message);
        }
        if (identity_parse((const char *)data, size, &id, &err) == 0)
                identity_done(&id);
        free(err);
        return 0;
}
