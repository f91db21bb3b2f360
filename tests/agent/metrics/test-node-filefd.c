/* test-node-filefd.c: /proc/sys/fs/file-nr's parser on what kernels write
 * and on what they do not, and the collector's families on a tree. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-filefd.h"
#include "test-tree.h"
#include "test.h"

static int parse(const char *s, double *a, double *m) {
        return node_filefd_parse(s, strlen(s), a, m);
}

static void test_parse(void) {
        double a = 0, m = 0;

        CHECK_INTEQ("a kernel's file-nr", parse("645\t0\t2466165\n", &a, &m), 0);
        CHECK("allocated and maximum", a == 645 && m == 2466165);
        CHECK_INTEQ("9223372036854775807 (a 64-bit kernel's default maximum)",
                    parse("1\t0\t9223372036854775807\n", &a, &m), 0);
        CHECK("as a double", m == 9223372036854775807.0);
        CHECK_INTEQ("a fourth field", parse("1\t0\t2\t3\n", &a, &m), 0);
        CHECK("is left out", a == 1 && m == 2);
        CHECK_INTEQ("an empty second field", parse("1\t\t2", &a, &m), 0);
        CHECK("the third is the maximum", m == 2);
        CHECK_INTEQ("blanks around", parse("  7\t0\t8 \n\n", &a, &m), 0);
        CHECK("read", a == 7 && m == 8);
        CHECK_INTEQ("spaces, not tabs", parse("645 0 2466165\n", &a, &m), -EINVAL);
        CHECK_INTEQ("two fields", parse("1\t2\n", &a, &m), -EINVAL);
        CHECK_INTEQ("empty", parse("", &a, &m), -EINVAL);
        CHECK_INTEQ("allocated not a number", parse("x\t0\t1", &a, &m), -EINVAL);
        CHECK_INTEQ("maximum not a number", parse("1\t0\tx", &a, &m), -EINVAL);
        CHECK_INTEQ("an empty maximum", parse("1\t0\t\t", &a, &m), -EINVAL);
}

static void test_collector(void) {
        char *root = test_tree_new();

        if (!CHECK("a scratch tree", root))
                return;
        CHECK_COLLECT("no file-nr", &node_filefd_collector, root, -ENOENT, "");
        test_tree_write(root, "proc/sys/fs/file-nr", "645\t0\t2466165\n");
        CHECK_COLLECT("a file-nr: its families", &node_filefd_collector, root, 0,
                      "# HELP node_filefd_allocated File descriptor statistics: allocated.\n"
                      "# TYPE node_filefd_allocated gauge\n"
                      "node_filefd_allocated 645\n"
                      "# HELP node_filefd_maximum File descriptor statistics: maximum.\n"
                      "# TYPE node_filefd_maximum gauge\n"
                      "node_filefd_maximum 2.466165e+06\n");
        test_tree_free(root);
}

int main(void) {
        test_parse();
        test_collector();
        return test_done();
}
