/* main.c: ecs-place, the offline ECS placement evaluator (issue 5; not built yet). */
#include <stdio.h>

int main(void) {
        fprintf(stderr, "ecs-place: not implemented yet\n");
        return 1;
}
