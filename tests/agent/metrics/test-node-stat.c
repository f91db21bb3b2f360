/* test-node-stat.c: /proc/stat's parser on what kernels write (the counters,
 * each CPU's times in seconds) and on what they do not, and the stat
 * collector's families on a tree. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-stat.h"
#include "test-tree.h"
#include "test.h"

/* A 6.x kernel's, with 2 CPUs (the intr line cut short). */
static const char kernel[] = "cpu  480349 0 69258 600461 1279 0 985 4372 0 0\n"
                             "cpu0 229647 0 33736 312021 265 0 382 2220 0 0\n"
                             "cpu1 250702 0 35521 288440 1013 0 602 2151 120 7\n"
                             "intr 2602676 0 0 0 15 0 1159 262 0 106\n"
                             "ctxt 3263260\n"
                             "btime 1796163787\n"
                             "processes 140649\n"
                             "procs_running 7\n"
                             "procs_blocked 1\n"
                             "softirq 2264501 0 376449 4 414672 158139 0 3 454898 0 860336\n";

static int parse(const char *s, struct node_stat *st, struct node_stat_cpu *cpus, size_t max,
                 size_t *n) {
        return node_stat_parse(s, strlen(s), st, cpus, max, n);
}

static void test_kernel(void) {
        struct node_stat_cpu cpus[4];
        struct node_stat st;
        size_t n = 0;

        CHECK_INTEQ("a kernel's /proc/stat", parse(kernel, &st, cpus, 4, &n), 0);
        CHECK("its boot time", st.boot_time == 1796163787);
        CHECK("its interrupts (intr's total)", st.interrupts == 2602676);
        CHECK("its context switches", st.context_switches == 3263260);
        CHECK("its forks (processes)", st.forks == 140649);
        CHECK("running and blocked", st.procs_running == 7 && st.procs_blocked == 1);
        if (!CHECK_INTEQ("two CPUs, not the all-CPU line", n, 2))
                return;
        CHECK("their numbers", cpus[0].id == 0 && cpus[1].id == 1);
        CHECK("user in seconds (USER_HZ 100)", cpus[0].seconds[NODE_STAT_USER] == 2296.47);
        CHECK("idle", cpus[1].seconds[NODE_STAT_IDLE] == 2884.4);
        CHECK("steal", cpus[0].seconds[NODE_STAT_STEAL] == 22.2);
        CHECK("guest and guest_nice", cpus[1].seconds[NODE_STAT_GUEST] == 1.2 &&
                                              cpus[1].seconds[NODE_STAT_GUEST_NICE] == 0.07);
        CHECK_INTEQ("the counters alone", parse(kernel, &st, NULL, 0, NULL), 0);
        CHECK_INTEQ("counting the CPUs", parse(kernel, &st, NULL, 0, &n), 0);
        CHECK_INTEQ("two", n, 2);
}

static void test_cpus(void) {
        struct node_stat_cpu cpus[4];
        struct node_stat st;
        size_t n = 0;

        CHECK_INTEQ("an old kernel's four columns", parse("cpu3 1 2 3 4\n", &st, cpus, 4, &n), 0);
        CHECK("the rest are 0", n == 1 && cpus[0].id == 3 &&
                                        cpus[0].seconds[NODE_STAT_IDLE] == 0.04 &&
                                        cpus[0].seconds[NODE_STAT_IOWAIT] == 0 &&
                                        cpus[0].seconds[NODE_STAT_GUEST_NICE] == 0);
        CHECK_INTEQ("a future kernel's twelfth column",
                    parse("cpu0 1 2 3 4 5 6 7 8 9 10 11 12\n", &st, cpus, 4, &n), 0);
        CHECK("is left out", cpus[0].seconds[NODE_STAT_GUEST_NICE] == 0.1);
        CHECK_INTEQ("a CPU line without a value", parse("cpu0\ncpu1 5\n", &st, cpus, 4, &n), 0);
        CHECK("is skipped", n == 1 && cpus[0].id == 1);
        CHECK_INTEQ("an offline CPU between", parse("cpu0 1\ncpu2 1\n", &st, cpus, 4, &n), 0);
        CHECK("is not made up", n == 2 && cpus[1].id == 2);
        CHECK_INTEQ("out of order", parse("cpu2 1\ncpu0 2\ncpu1 3\n", &st, cpus, 4, &n), 0);
        CHECK("sorted", n == 3 && cpus[0].id == 0 && cpus[1].id == 1 && cpus[2].id == 2 &&
                                cpus[0].seconds[NODE_STAT_USER] == 0.02);
        CHECK_INTEQ("a CPU twice", parse("cpu1 1\ncpu0 1\ncpu1 2\n", &st, cpus, 4, &n), -EINVAL);
        CHECK_INTEQ("more CPUs than room", parse(kernel, &st, cpus, 1, &n), -ENOBUFS);
        CHECK_INTEQ("says how many", n, 2);
        CHECK_INTEQ("not a CPU number", parse("cpux 1 2\n", &st, cpus, 4, &n), -EINVAL);
        CHECK_INTEQ("a negative CPU", parse("cpu-1 1 2\n", &st, cpus, 4, &n), -EINVAL);
        CHECK_INTEQ("a CPU number past 32 bits", parse("cpu4294967296 1\n", &st, cpus, 4, &n),
                    -EINVAL);
        CHECK_INTEQ("a column not a number", parse("cpu0 1 x 3\n", &st, cpus, 4, &n), -EINVAL);
        CHECK_INTEQ("a fraction", parse("cpu0 1.5\n", &st, cpus, 4, &n), -EINVAL);
        CHECK_INTEQ("on the all-CPU line too", parse("cpu 1 x\n", &st, cpus, 4, &n), -EINVAL);
        CHECK_INTEQ("and when only counting", parse("cpu0 -1\n", &st, NULL, 0, NULL), -EINVAL);
}

static void test_counters(void) {
        struct node_stat st;

        CHECK_INTEQ("an empty file", parse("", &st, NULL, 0, NULL), 0);
        CHECK("every counter 0", st.boot_time == 0 && st.interrupts == 0 &&
                                         st.context_switches == 0 && st.forks == 0 &&
                                         st.procs_running == 0 && st.procs_blocked == 0);
        CHECK_INTEQ("unknown keys and short lines",
                    parse("foo bar\nctxt\nbtime 5", &st, NULL, 0, NULL), 0);
        CHECK("are skipped", st.boot_time == 5 && st.context_switches == 0);
        CHECK_INTEQ("softirq is not read", parse("softirq x\n", &st, NULL, 0, NULL), 0);
        CHECK_INTEQ("a counter not a number", parse("ctxt x\n", &st, NULL, 0, NULL), -EINVAL);
        CHECK_INTEQ("a negative counter", parse("btime -1\n", &st, NULL, 0, NULL), -EINVAL);
        CHECK_INTEQ("a counter past UINT64_MAX",
                    parse("processes 18446744073709551616\n", &st, NULL, 0, NULL), -EINVAL);
        CHECK_INTEQ("UINT64_MAX", parse("processes 18446744073709551615\n", &st, NULL, 0, NULL), 0);
        CHECK_INTEQ("an interrupt count not a number", parse("intr 5 0 x 1\n", &st, NULL, 0, NULL),
                    -EINVAL);
        CHECK_INTEQ("tabs between counts", parse("intr\t5\t0\t1\n", &st, NULL, 0, NULL), 0);
        CHECK_INTEQ("a NUL byte", node_stat_parse("ctxt 5\0", 7, &st, NULL, 0, NULL), -EINVAL);
}

static void test_collector(void) {
        char *root = test_tree_new();

        if (!CHECK("a scratch tree", root))
                return;
        CHECK_COLLECT("no /proc/stat", &node_stat_collector, root, -ENOENT, "");
        test_tree_write(root, "proc/stat", "ctxt 12345678\nbtime 1796163787\nprocs_running 2\n");
        CHECK_COLLECT("its families, a missing line's as 0", &node_stat_collector, root, 0,
                      "# HELP node_intr_total Total number of interrupts serviced.\n"
                      "# TYPE node_intr_total counter\n"
                      "node_intr_total 0\n"
                      "# HELP node_context_switches_total Total number of context switches.\n"
                      "# TYPE node_context_switches_total counter\n"
                      "node_context_switches_total 1.2345678e+07\n"
                      "# HELP node_forks_total Total number of forks.\n"
                      "# TYPE node_forks_total counter\n"
                      "node_forks_total 0\n"
                      "# HELP node_boot_time_seconds Node boot time, in unixtime.\n"
                      "# TYPE node_boot_time_seconds gauge\n"
                      "node_boot_time_seconds 1.796163787e+09\n"
                      "# HELP node_procs_running Number of processes in runnable state.\n"
                      "# TYPE node_procs_running gauge\n"
                      "node_procs_running 2\n"
                      "# HELP node_procs_blocked Number of processes blocked waiting for I/O to "
                      "complete.\n"
                      "# TYPE node_procs_blocked gauge\n"
                      "node_procs_blocked 0\n");
        test_tree_write(root, "proc/stat", "cpu0 1 x\nctxt 5\n");
        CHECK_COLLECT("a broken CPU line fails it too", &node_stat_collector, root, -EINVAL, "");
        test_tree_free(root);
}

int main(void) {
        test_kernel();
        test_cpus();
        test_counters();
        test_collector();
        return test_done();
}
