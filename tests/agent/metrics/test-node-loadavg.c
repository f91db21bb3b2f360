/* test-node-loadavg.c: /proc/loadavg's parser on what kernels write and on
 * what they do not. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-loadavg.h"
#include "test.h"

static int parse(const char *s, double v[static 3]) {
        return node_loadavg_parse(s, strlen(s), v);
}

int main(void) {
        double v[3] = {0};

        CHECK_INTEQ("a kernel's line", parse("0.52 0.58 1.59 2/467 12345\n", v), 0);
        CHECK("the three averages", v[0] == 0.52 && v[1] == 0.58 && v[2] == 1.59);
        CHECK_INTEQ("without the rest", parse("1 2 3", v), 0);
        CHECK_INTEQ("empty", parse("", v), -EINVAL);
        CHECK_INTEQ("two values", parse("0.5 0.5\n", v), -EINVAL);
        CHECK_INTEQ("not a number", parse("x 1 2 1/2 3\n", v), -EINVAL);
        CHECK_INTEQ("a negative load", parse("-1 0 0 1/2 3\n", v), -EINVAL);
        CHECK_INTEQ("trailing garbage on a value", parse("0.5x 0.5 0.5 1/2 3\n", v), -EINVAL);
        CHECK_INTEQ("a NUL byte", node_loadavg_parse("0.5\0 0.5 0.5", 12, v), -EINVAL);
        return test_done();
}
