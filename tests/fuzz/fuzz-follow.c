/* fuzz-follow.c: the follower's readers of ECS answers
 * (DescribeContainerInstances, ListTasks, DescribeTasks) on any bytes, and
 * the summary of what they give. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "follow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cJSON *j = cJSON_ParseWithLength((const char *)data, size);
        struct follow_task *t = NULL;
        unsigned running, pending;
        char **arns = NULL, buf[256];
        size_t n = 0;

        (void)follow_parse_counts(j, "arn:aws:ecs:us-east-1:1:container-instance/c/x", &running,
                                  &pending);
        if (follow_parse_task_arns(j, &arns, &n) == 0) {
                for (size_t i = 0; i < n; i++)
                        free(arns[i]);
                free(arns);
        }
        n = 0;
        if (follow_parse_tasks(j, &t, &n) == 0) {
                if (strlen(follow_summary(t, n, buf, sizeof buf)) >= sizeof buf)
                        abort();
                follow_tasks_free(t, n);
        }
        cJSON_Delete(j);
        return 0;
}
