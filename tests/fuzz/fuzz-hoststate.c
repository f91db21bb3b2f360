/* fuzz-hoststate.c: what ecs-hostd reads from its host and its neighbours:
 * the state file, /proc/meminfo and the official agent's introspection
 * answer (with the ARN it names, as the registration checks it), on any
 * bytes; and the escaping that any of it goes through on its way to a log
 * line, which must leave no control character. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecs.h"
#include "escape.h"
#include "registration.h"
#include "resources.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_arn(const char *s) {
        struct ecs_arn a;
        char line[512];

        if (ecs_arn_parse_container_instance(s, &a) == 0 &&
            (strlen(a.account) != 12 || strlen(a.id) < 32 || strchr(s, '\n')))
                abort(); /* accepted something that is not an ARN */
        escape_controls(line, sizeof line, s);
        for (const char *p = line; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct state s = {};
        char *err = NULL, *arn = NULL, *cluster = NULL, *text;
        uint64_t kib;

        if (state_parse((const char *)data, size, &s, &err) == 0) {
                text = state_format(&s);
                free(text);
                state_done(&s);
        }
        free(err);
        (void)resources_parse_meminfo((const char *)data, size, &kib);
        if (registration_parse_introspection((const char *)data, size, &arn, &cluster) == 0) {
                check_arn(arn);
                (void)ecs_cluster_name(cluster);
                free(arn);
                free(cluster);
        }
        text = strndup((const char *)data, size);
        if (text)
                check_arn(text);
        free(text);
        return 0;
}
