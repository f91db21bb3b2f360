/* test-node-cpu.c: the cpu collector's pure parts (the cpuN lines, the
 * times kept from stepping back, the isolated CPU list) on what kernels
 * write and on what they do not, and the collector on trees: its families,
 * the times across scrapes, the isolated CPUs and the thermal throttle
 * counts read as node_exporter reads them. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-cpu.h"
#include "test-tree.h"
#include "test.h"

static struct node_stat_cpu cpu(unsigned id, double user, double idle, double iowait) {
        struct node_stat_cpu c = {.id = id};

        c.seconds[NODE_STAT_USER] = user;
        c.seconds[NODE_STAT_IDLE] = idle;
        c.seconds[NODE_STAT_IOWAIT] = iowait;
        return c;
}

static void test_parse(void) {
        static const char stat[] = "cpu  2 0 0 4\ncpu0 1 0 0 2\ncpu1 1 0 0 2\nctxt 9\n";
        struct node_stat_cpu cpus[2];
        size_t n = 0;

        CHECK_INTEQ("the cpuN lines", node_cpu_parse(stat, strlen(stat), cpus, 2, &n), 0);
        CHECK("both", n == 2 && cpus[1].id == 1 && cpus[1].seconds[NODE_STAT_IDLE] == 0.02);
        CHECK_INTEQ("another line broken", node_cpu_parse("btime x\n", 8, cpus, 2, &n), -EINVAL);
}

static void test_keep(void) {
        struct node_stat_cpu kept[2], now[2];
        size_t n_kept = 0;

        now[0] = cpu(0, 10, 100, 5);
        now[1] = cpu(1, 20, 200, 6);
        node_cpu_keep(kept, &n_kept, now, 2);
        CHECK("a first reading is shown as read",
              n_kept == 2 && kept[0].seconds[NODE_STAT_USER] == 10 &&
                      kept[1].seconds[NODE_STAT_IDLE] == 200 && kept[1].id == 1);
        now[0] = cpu(0, 11, 101, 4);
        node_cpu_keep(kept, &n_kept, now, 2);
        CHECK("a time that steps back keeps its last value",
              kept[0].seconds[NODE_STAT_IOWAIT] == 5);
        CHECK("the others go on",
              kept[0].seconds[NODE_STAT_USER] == 11 && kept[0].seconds[NODE_STAT_IDLE] == 101);
        now[0] = cpu(0, 12, 98.5, 6);
        node_cpu_keep(kept, &n_kept, now, 2);
        CHECK("idle back by less than 3 s is kept",
              kept[0].seconds[NODE_STAT_IDLE] == 101 && kept[0].seconds[NODE_STAT_USER] == 12);
        now[0] = cpu(0, 1, 98, 0.5);
        node_cpu_keep(kept, &n_kept, now, 2);
        CHECK("idle back by 3 s: the CPU starts again",
              kept[0].seconds[NODE_STAT_IDLE] == 98 && kept[0].seconds[NODE_STAT_USER] == 1 &&
                      kept[0].seconds[NODE_STAT_IOWAIT] == 0.5);
        CHECK("the other CPU untouched", kept[1].seconds[NODE_STAT_IDLE] == 200);
        now[1] = cpu(2, 1, 1, 1);
        node_cpu_keep(kept, &n_kept, now, 2);
        CHECK("other CPUs listed: all start again", kept[1].id == 2 &&
                                                            kept[1].seconds[NODE_STAT_IDLE] == 1 &&
                                                            kept[0].seconds[NODE_STAT_IDLE] == 98);
        node_cpu_keep(kept, &n_kept, now, 1);
        CHECK("fewer CPUs", n_kept == 1 && kept[0].id == 0);
        node_cpu_keep(kept, &n_kept, now, 0);
        CHECK_INTEQ("none", n_kept, 0);
}

static int list(const char *s, struct node_cpu_range *r, size_t max, size_t *n) {
        return node_cpu_parse_list(s, strlen(s), r, max, n);
}

static void test_list(void) {
        struct node_cpu_range r[4];
        size_t n = 9;

        CHECK_INTEQ("none isolated", list("\n", r, 4, &n), 0);
        CHECK_INTEQ("no range", n, 0);
        CHECK_INTEQ("an empty file", list("", r, 4, &n), 0);
        CHECK_INTEQ("a list", list("1-3,8,10-11\n", r, 4, &n), 0);
        CHECK("its ranges", n == 3 && r[0].first == 1 && r[0].last == 3 && r[1].first == 8 &&
                                    r[1].last == 8 && r[2].first == 10 && r[2].last == 11);
        CHECK_INTEQ("an empty item", list("1,,2", r, 4, &n), 0);
        CHECK_INTEQ("is skipped", n, 2);
        CHECK_INTEQ("65535", list("65535", r, 4, &n), 0);
        CHECK_INTEQ("65536", list("65536", r, 4, &n), -EINVAL);
        CHECK_INTEQ("a range backwards", list("3-1", r, 4, &n), -EINVAL);
        CHECK_INTEQ("a CPU twice", list("1,1", r, 4, &n), -EINVAL);
        CHECK_INTEQ("overlapping ranges", list("1-4,3-5", r, 4, &n), -EINVAL);
        CHECK_INTEQ("descending", list("2,1", r, 4, &n), -EINVAL);
        CHECK_INTEQ("half a range", list("1-", r, 4, &n), -EINVAL);
        CHECK_INTEQ("a negative CPU", list("-1", r, 4, &n), -EINVAL);
        CHECK_INTEQ("two dashes", list("1-2-3", r, 4, &n), -EINVAL);
        CHECK_INTEQ("not a number", list("a", r, 4, &n), -EINVAL);
        CHECK_INTEQ("a blank inside", list("1, 2", r, 4, &n), -EINVAL);
        CHECK_INTEQ("more ranges than room", list("1,3,5,7,9", r, 4, &n), -E2BIG);
}

static const char stat_a[] = "cpu  30 0 0 400\ncpu0 10 0 5 200 7 0 0 0 0 0\n"
                             "cpu1 20 1 0 200 0 0 3 4 5 6\n";
static const char times_a[] =
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
        "# TYPE node_cpu_seconds_total counter\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 0.1\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"nice\"} 0\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"system\"} 0.05\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 2\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 0.07\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"irq\"} 0\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"softirq\"} 0\n"
        "node_cpu_seconds_total{cpu=\"0\",mode=\"steal\"} 0\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 0.2\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"nice\"} 0.01\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"system\"} 0\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 2\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"iowait\"} 0\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"irq\"} 0\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"softirq\"} 0.03\n"
        "node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0.04\n"
        "# HELP node_cpu_guest_seconds_total Seconds the CPUs spent in guests (VMs) for each "
        "mode.\n"
        "# TYPE node_cpu_guest_seconds_total counter\n"
        "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"} 0\n"
        "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0\n"
        "node_cpu_guest_seconds_total{cpu=\"1\",mode=\"user\"} 0.05\n"
        "node_cpu_guest_seconds_total{cpu=\"1\",mode=\"nice\"} 0.06\n";

static void test_times(const char *root) {
        char *out = NULL;

        CHECK_COLLECT("no /proc/stat", &node_cpu_collector, root, -ENOENT, "");
        test_tree_write(root, "proc/stat", stat_a);
        CHECK_COLLECT("a VM's tree (no isolated list, no throttle counts): each CPU's times, then "
                      "its guest times",
                      &node_cpu_collector, root, 0, times_a);
        /* iowait steps back: the next scrape shows the last value. */
        test_tree_write(root, "proc/stat", "cpu0 11 0 5 201 2\ncpu1 20 1 0 200 0 0 3 4 5 6\n");
        CHECK_INTEQ("a second scrape", test_tree_collect(&node_cpu_collector, root, &out), 0);
        CHECK("user goes on", strstr(out, "{cpu=\"0\",mode=\"user\"} 0.11\n"));
        CHECK("iowait does not step back", strstr(out, "{cpu=\"0\",mode=\"iowait\"} 0.07\n"));
        free(out);
        test_tree_write(root, "proc/stat", "cpu 1\n");
        CHECK_COLLECT("no CPU line: no family", &node_cpu_collector, root, 0, "");
        test_tree_write(root, "proc/stat", "cpu0 1 x\n");
        CHECK_COLLECT("a broken CPU line", &node_cpu_collector, root, -EINVAL, "");
}

static void test_many(const char *root) {
        char stat[200 * 32] = "", *out = NULL;
        size_t n = 0;

        for (unsigned i = 0; i < 200; i++)
                n += (size_t)snprintf(stat + n, sizeof stat - n, "cpu%u %u 0 0 %u\n", i, i, i);
        test_tree_write(root, "proc/stat", stat);
        CHECK_INTEQ("200 CPUs", test_tree_collect(&node_cpu_collector, root, &out), 0);
        CHECK("the last one",
              strstr(out, "node_cpu_seconds_total{cpu=\"199\",mode=\"idle\"} 1.99\n"));
        free(out);
}

static void test_isolated(const char *root) {
        char *out = NULL;

        test_tree_write(root, "proc/stat", "cpu0 1\n");
        test_tree_write(root, "sys/devices/system/cpu/isolated", "\n");
        CHECK_INTEQ("none isolated", test_tree_collect(&node_cpu_collector, root, &out), 0);
        CHECK("no family", !strstr(out, "node_cpu_isolated"));
        free(out);
        test_tree_write(root, "sys/devices/system/cpu/isolated", "1-2,5\n");
        CHECK_INTEQ("isolated CPUs", test_tree_collect(&node_cpu_collector, root, &out), 0);
        CHECK("each of them",
              strstr(out, "# HELP node_cpu_isolated Whether each core is isolated, information "
                          "from /sys/devices/system/cpu/isolated.\n"
                          "# TYPE node_cpu_isolated gauge\n"
                          "node_cpu_isolated{cpu=\"1\"} 1\n"
                          "node_cpu_isolated{cpu=\"2\"} 1\n"
                          "node_cpu_isolated{cpu=\"5\"} 1\n"));
        free(out);
        test_tree_write(root, "sys/devices/system/cpu/isolated", "x\n");
        CHECK_COLLECT("a list it cannot read", &node_cpu_collector, root, -EINVAL, NULL);
        test_tree_unlink(root, "sys/devices/system/cpu/isolated");
}

/* A metal host: cpu0 and cpu2 are one core's threads, cpu1 the other core;
 * cpu3 has no topology; cpu10 is package 1's only CPU; cpufreq is no CPU. */
static void test_throttles(const char *root) {
        static const char *const files[][2] = {
                {"cpu0/topology/physical_package_id", "0\n"},
                {"cpu0/topology/core_id", "0\n"},
                {"cpu0/thermal_throttle/core_throttle_count", "3\n"},
                {"cpu0/thermal_throttle/package_throttle_count", "12\n"},
                {"cpu1/topology/physical_package_id", "0\n"},
                {"cpu1/topology/core_id", "1\n"},
                {"cpu1/thermal_throttle/core_throttle_count", "4\n"},
                {"cpu1/thermal_throttle/package_throttle_count", "99\n"}, /* package 0 read */
                {"cpu2/topology/physical_package_id", "0\n"},
                {"cpu2/topology/core_id", "0\n"},
                {"cpu2/thermal_throttle/core_throttle_count", "77\n"}, /* core 0 read already */
                {"cpu3/thermal_throttle/core_throttle_count", "5\n"},  /* no topology: skipped */
                {"cpu10/topology/physical_package_id", "1\n"},
                {"cpu10/topology/core_id", "0\n"},
                {"cpu10/thermal_throttle/package_throttle_count", "x\n"}, /* unreadable: none */
                {"cpu10/thermal_throttle/core_throttle_count", "8\n"},
                {"cpufreq/thermal_throttle/core_throttle_count", "6\n"},
        };
        char *out = NULL;

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                test_tree_writef(root, files[i][1], "sys/devices/system/cpu/%s", files[i][0]);
        CHECK_INTEQ("thermal throttle counts", test_tree_collect(&node_cpu_collector, root, &out),
                    0);
        CHECK_STREQ("one per package, one per core", strstr(out, "# HELP node_cpu_package"),
                    "# HELP node_cpu_package_throttles_total Number of times this CPU package has "
                    "been throttled.\n"
                    "# TYPE node_cpu_package_throttles_total counter\n"
                    "node_cpu_package_throttles_total{package=\"0\"} 12\n"
                    "# HELP node_cpu_core_throttles_total Number of times this CPU core has been "
                    "throttled.\n"
                    "# TYPE node_cpu_core_throttles_total counter\n"
                    "node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 3\n"
                    "node_cpu_core_throttles_total{core=\"1\",package=\"0\"} 4\n"
                    "node_cpu_core_throttles_total{core=\"0\",package=\"1\"} 8\n");
        free(out);
}

int main(void) {
        char *root = test_tree_new();

        test_parse();
        test_keep();
        test_list();
        if (CHECK("a scratch tree", root)) {
                test_times(root);
                test_many(root);
                test_isolated(root);
                test_throttles(root);
        }
        test_tree_free(root);
        return test_done();
}
