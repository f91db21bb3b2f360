/* test-node-pressure.c: a /proc/pressure file's parser on what kernels write
 * and on what they do not, and the collector on trees: its families, and a
 * host without PSI (no /proc/pressure: nothing, and a failure). */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-pressure.h"
#include "test-tree.h"
#include "test.h"

static int parse(const char *s, struct node_pressure *ps) {
        return node_pressure_parse(s, strlen(s), ps);
}

static void test_parse(void) {
        struct node_pressure ps;

        CHECK_INTEQ("a kernel's io",
                    parse("some avg10=0.00 avg60=0.21 avg300=0.99 total=12192335\n"
                          "full avg10=0.06 avg60=0.13 avg300=0.96 total=9316524\n",
                          &ps),
                    0);
        CHECK("some and full",
              ps.has_some && ps.has_full && ps.some_total == 12192335 && ps.full_total == 9316524);
        CHECK_INTEQ("a 4.20 kernel's cpu (no full line)",
                    parse("some avg10=58.89 avg60=38.74 avg300=20.15 total=639469814\n", &ps), 0);
        CHECK("some only", ps.has_some && !ps.has_full && ps.some_total == 639469814);
        CHECK_INTEQ("an empty file", parse("", &ps), 0);
        CHECK("neither", !ps.has_some && !ps.has_full);
        CHECK_INTEQ("a line of another kind",
                    parse("most avg10=x\nsome avg10=1 avg60=2 avg300=3 total=4 extra", &ps), 0);
        CHECK("is skipped", ps.has_some && ps.some_total == 4);
        CHECK_INTEQ("an average not a number",
                    parse("some avg10=x avg60=0.00 avg300=0.00 total=1\n", &ps), -EINVAL);
        CHECK_INTEQ("a fraction without digits",
                    parse("some avg10=1. avg60=0.00 avg300=0.00 total=1\n", &ps), -EINVAL);
        CHECK_INTEQ("averages out of order",
                    parse("some avg60=0.00 avg10=0.00 avg300=0.00 total=1\n", &ps), -EINVAL);
        CHECK_INTEQ("no total", parse("some avg10=0.00 avg60=0.00 avg300=0.00\n", &ps), -EINVAL);
        CHECK_INTEQ("a total not a number",
                    parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n", &ps), -EINVAL);
        CHECK_INTEQ("a negative total",
                    parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", &ps), -EINVAL);
        CHECK_INTEQ("an empty total", parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=\n", &ps),
                    -EINVAL);
}

static const char some[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=574441367\n";
static const char both[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=12192335\n"
                           "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n";

static void test_collector(void) {
        char *root = test_tree_new(), *out = NULL;

        if (!CHECK("a scratch tree", root))
                return;
        CHECK_COLLECT("no /proc/pressure (a kernel without PSI): nothing", &node_pressure_collector,
                      root, -ENOENT, "");
        test_tree_write(root, "proc/pressure/cpu", some);
        test_tree_write(root, "proc/pressure/io", some);
        CHECK_COLLECT("io without its full line: cpu's written, as node_exporter does",
                      &node_pressure_collector, root, -EINVAL,
                      "# HELP node_pressure_cpu_waiting_seconds_total Total time in seconds that "
                      "processes have waited for CPU time\n"
                      "# TYPE node_pressure_cpu_waiting_seconds_total counter\n"
                      "node_pressure_cpu_waiting_seconds_total 574.441367\n");
        test_tree_write(root, "proc/pressure/io", both);
        test_tree_write(root, "proc/pressure/memory", both);
        CHECK_INTEQ("the three files", test_tree_collect(&node_pressure_collector, root, &out), 0);
        CHECK("io's stall in seconds",
              strstr(out, "# TYPE node_pressure_io_stalled_seconds_total counter\n"
                          "node_pressure_io_stalled_seconds_total 1e-06\n"));
        CHECK("memory's wait",
              strstr(out, "# HELP node_pressure_memory_waiting_seconds_total Total time in seconds "
                          "that processes have waited for memory\n"
                          "# TYPE node_pressure_memory_waiting_seconds_total counter\n"
                          "node_pressure_memory_waiting_seconds_total 12.192335\n"));
        CHECK("memory's stall",
              strstr(out, "# HELP node_pressure_memory_stalled_seconds_total Total time in seconds "
                          "no process could make progress due to memory congestion\n"));
        free(out);
        test_tree_write(root, "proc/pressure/cpu", "");
        CHECK_COLLECT("cpu without its some line", &node_pressure_collector, root, -EINVAL, "");
        test_tree_free(root);
}

int main(void) {
        test_parse();
        test_collector();
        return test_done();
}
