/* test-node-time.c: the available_clocksource parser, and the time
 * collector on trees: the clock and the zone, the clocksources numbered as
 * node_exporter numbers them, and what a missing file does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "node-time.h"
#include "test-tree.h"
#include "test.h"

static void test_parse(void) {
        struct node_text_field names[NODE_TIME_CLOCKSOURCES_MAX];
        char many[NODE_TIME_CLOCKSOURCES_MAX * 4 + 8] = "";
        size_t n = 9;

        CHECK_INTEQ("a kernel's list", node_time_parse("tsc kvm-clock \n", 15, names, 4, &n), 0);
        CHECK("its names",
              n == 2 && node_text_eq(names[0], "tsc") && node_text_eq(names[1], "kvm-clock"));
        CHECK_INTEQ("an empty file", node_time_parse("\n", 1, names, 4, &n), 0);
        CHECK_INTEQ("no name", n, 0);
        for (size_t i = 0; i <= NODE_TIME_CLOCKSOURCES_MAX; i++)
                strcat(many, "cs ");
        CHECK_INTEQ("more names than room",
                    node_time_parse(many, strlen(many), names, NODE_TIME_CLOCKSOURCES_MAX, &n),
                    -E2BIG);
}

static void test_clock(const char *root) {
        char *out = NULL, *s;
        double t;

        setenv("TZ", "CET-1", 1);
        tzset();
        CHECK_INTEQ("no clocksource directory", test_tree_collect(&node_time_collector, root, &out),
                    0);
        s = out ? strstr(out, "\nnode_time_seconds ") : NULL;
        if (CHECK("the clock", s)) {
                t = strtod(s + 19, NULL);
                CHECK("now", t > (double)time(NULL) - 5 && t < (double)time(NULL) + 5);
        }
        CHECK("the zone and its offset",
              strstr(out, "# HELP node_time_zone_offset_seconds System time zone offset in "
                          "seconds.\n"
                          "# TYPE node_time_zone_offset_seconds gauge\n"
                          "node_time_zone_offset_seconds{time_zone=\"CET\"} 3600\n"));
        CHECK("no clocksource family", !strstr(out, "clocksource"));
        free(out);
        setenv("TZ", "UTC", 1);
        tzset();
        CHECK_INTEQ("in UTC", test_tree_collect(&node_time_collector, root, &out), 0);
        CHECK("the zone", strstr(out, "node_time_zone_offset_seconds{time_zone=\"UTC\"} 0\n"));
        free(out);
}

static void test_clocksources(const char *root) {
        static const char *const clocksources[][3] = {
                /* name, available_clocksource, current_clocksource */
                {"clocksource0", "tsc kvm-clock \n", "tsc\n"},
                {"clocksource1", "\n", "a b\n"},
                {"clocksource10", "hpet\n", "hpet\n"},
                {"clocksource2", "acpi_pm\n", "acpi_pm\n"},
                {"clocksourcex", "no\n", "no\n"},
        };
        char *out = NULL;

        for (size_t i = 0; i < ELEMENTSOF(clocksources); i++) {
                test_tree_writef(root, clocksources[i][1],
                                 "sys/devices/system/clocksource/%s/available_clocksource",
                                 clocksources[i][0]);
                test_tree_writef(root, clocksources[i][2],
                                 "sys/devices/system/clocksource/%s/current_clocksource",
                                 clocksources[i][0]);
        }
        CHECK_INTEQ("clocksources", test_tree_collect(&node_time_collector, root, &out), 0);
        CHECK_STREQ(
                "numbered in name order (0 1 10 2), as node_exporter does",
                strstr(out, "# HELP node_time_clocksource_available_info"),
                "# HELP node_time_clocksource_available_info Available clocksources read from "
                "'/sys/devices/system/clocksource'.\n"
                "# TYPE node_time_clocksource_available_info gauge\n"
                "node_time_clocksource_available_info{clocksource=\"tsc\",device=\"0\"} 1\n"
                "node_time_clocksource_available_info{clocksource=\"kvm-clock\",device=\"0\"} 1\n"
                "node_time_clocksource_available_info{clocksource=\"hpet\",device=\"2\"} 1\n"
                "node_time_clocksource_available_info{clocksource=\"acpi_pm\",device=\"3\"} 1\n"
                "# HELP node_time_clocksource_current_info Current clocksource read from "
                "'/sys/devices/system/clocksource'.\n"
                "# TYPE node_time_clocksource_current_info gauge\n"
                "node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1\n"
                "node_time_clocksource_current_info{clocksource=\"a b\",device=\"1\"} 1\n"
                "node_time_clocksource_current_info{clocksource=\"hpet\",device=\"2\"} 1\n"
                "node_time_clocksource_current_info{clocksource=\"acpi_pm\",device=\"3\"} 1\n");
        free(out);
        test_tree_unlink(root, "sys/devices/system/clocksource/clocksource10/current_clocksource");
        CHECK_INTEQ("a file missing", test_tree_collect(&node_time_collector, root, &out), -ENOENT);
        CHECK("the clock is written", strstr(out, "node_time_seconds "));
        CHECK("no clocksource is", !strstr(out, "clocksource"));
        free(out);
}

int main(void) {
        char *root = test_tree_new();

        test_parse();
        if (CHECK("a scratch tree", root)) {
                test_clock(root);
                test_clocksources(root);
        }
        test_tree_free(root);
        return test_done();
}
