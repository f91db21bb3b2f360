/* test-node-netdev.c: /proc/net/dev's parser on what kernels write and on
 * what they do not, and the collector on the fixture tree: veth devices left
 * out by default and written when the exclude pattern is empty. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "collector-test.h"
#include "macro.h"
#include "node-netdev.h"
#include "test.h"

#define HEADER                                                                                     \
        "Inter-|   Receive                                                |  Transmit\n"           \
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs " \
        "drop fifo colls carrier compressed\n"

/* A kernel's file (Linux 6.x; the format is the same since 2.6): names
 * right-aligned in 6 columns, so a longer name or a wide counter leaves no
 * space after the colon. */
static const char kernel[] =
        HEADER "    lo: 200193014  651810    0    0    0     0          0         0 200193014  "
               "651810    0    0    0     0       0          0\n"
               "  eth0:45916850    1055    2   17    0     1          0       311    53814     667 "
               "   0    3    0     0       0          0\n"
               "veth1234: 4130118   18201    0    0    0     0          0         0 2196734223 "
               "1526880    0    0    0     0       0          0\n"
               "docker0:18446744073709551615 9053471    0    0    0     0          0         0  "
               "3124569   25017    0    0    0     0       0          0\n";

static char buf[1 << 17];
static struct node_netdev *devs;
static size_t n;

/* Parse s (copied: the parser writes into its text). */
static int parse(const char *s) {
        size_t len = strlen(s);

        devs = mfree(devs);
        n = 0;
        memcpy(buf, s, len + 1);
        return node_netdev_parse(buf, len, &devs, &n);
}

/* A file of the headers and one line. */
static int parse_line(const char *line) {
        char text[512];

        snprintf(text, sizeof text, "%s%s", HEADER, line);
        return parse(text);
}

static void test_kernel(void) {
        CHECK_INTEQ("a kernel's file", parse(kernel), 0);
        if (!CHECK_INTEQ("four devices", n, 4))
                return;
        CHECK("sorted by name",
              strcmp(devs[0].device, "docker0") == 0 && strcmp(devs[1].device, "eth0") == 0 &&
                      strcmp(devs[2].device, "lo") == 0 && strcmp(devs[3].device, "veth1234") == 0);
        CHECK("names lie in the parsed text", devs[0].device >= buf && devs[0].device < buf + 4096);
        CHECK("a 64-bit counter whole", devs[0].v[NODE_NETDEV_RECEIVE_BYTES] == UINT64_MAX);
        CHECK("a value glued to the colon", devs[1].v[NODE_NETDEV_RECEIVE_BYTES] == 45916850 &&
                                                    devs[1].v[NODE_NETDEV_RECEIVE_PACKETS] == 1055);
        CHECK("receive errs, drop, frame, multicast",
              devs[1].v[NODE_NETDEV_RECEIVE_ERRS] == 2 &&
                      devs[1].v[NODE_NETDEV_RECEIVE_DROP] == 17 &&
                      devs[1].v[NODE_NETDEV_RECEIVE_FRAME] == 1 &&
                      devs[1].v[NODE_NETDEV_RECEIVE_MULTICAST] == 311);
        CHECK("transmit bytes, packets, drop",
              devs[1].v[NODE_NETDEV_TRANSMIT_BYTES] == 53814 &&
                      devs[1].v[NODE_NETDEV_TRANSMIT_PACKETS] == 667 &&
                      devs[1].v[NODE_NETDEV_TRANSMIT_DROP] == 3);
}

static void test_columns(void) {
        bool in_order = true;

        CHECK_INTEQ("16 distinct values", parse_line("x: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
                    0);
        for (size_t i = 0; n == 1 && i < NODE_NETDEV_N; i++)
                in_order = in_order && devs[0].v[i] == i + 1;
        CHECK("each column in its place", n == 1 && in_order);
        CHECK_INTEQ("a 17th value (a later kernel's column) is ignored",
                    parse_line("x: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"), 0);
        CHECK("... and the 16th is still the 16th", n == 1 && devs[0].v[15] == 16);
        CHECK_INTEQ("spaces around the name are not part of it",
                    parse_line("  a b \t: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), 0);
        CHECK("... inner ones are", n == 1 && strcmp(devs[0].device, "a b") == 0);
}

static void test_file_shapes(void) {
        CHECK_INTEQ("empty", parse(""), 0);
        CHECK_INTEQ("... no device", n, 0);
        CHECK("... and no array", devs == NULL);
        CHECK_INTEQ("headers only", parse(HEADER), 0);
        CHECK_INTEQ("... no device", n, 0);
        CHECK_INTEQ("the two first lines are headers whatever they say",
                    parse("a: 1\nb: 2\nc: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"), 0);
        CHECK("... the third a device, without a final newline",
              n == 1 && strcmp(devs[0].device, "c") == 0 && devs[0].v[15] == 16);
        CHECK_INTEQ("CRLF line ends",
                    parse("h\r\nh\r\ne: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\r\n"), 0);
        CHECK("... the CR is no part of the last value", n == 1 && devs[0].v[15] == 16);
        CHECK_INTEQ("a name twice",
                    parse(HEADER "e: 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                                 "d: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                                 "e: 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"),
                    0);
        CHECK("... once, the later line's (node_exporter's map)",
              n == 2 && strcmp(devs[1].device, "e") == 0 && devs[1].v[0] == 2);
}

static void test_garbage(void) {
        static char nul[] = HEADER "e\0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        static char long_line[(64 << 10) + 512];

        CHECK_INTEQ("a line without a colon", parse(HEADER "eth0 1 2 3\n"), -EINVAL);
        CHECK_INTEQ("an empty line", parse(HEADER "\n"), -EINVAL);
        CHECK_INTEQ("an empty name", parse_line(" : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
                    -EINVAL);
        CHECK_INTEQ("15 values (node_exporter crashes)",
                    parse_line("e: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"), -EINVAL);
        CHECK_INTEQ("a value that is not a number",
                    parse_line("e: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n"), -EINVAL);
        CHECK_INTEQ("a number with a tail",
                    parse_line("e: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16x\n"), -EINVAL);
        CHECK_INTEQ("a negative value", parse_line("e: -1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
                    -EINVAL);
        CHECK_INTEQ("a sign", parse_line("e: +1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), -EINVAL);
        CHECK_INTEQ("2^64",
                    parse_line("e: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
                    -EINVAL);
        CHECK_INTEQ("a NUL in a name", node_netdev_parse(nul, sizeof nul - 1, &devs, &n), -EINVAL);
#define VALID HEADER "e: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"
        memset(long_line, ' ', sizeof long_line - 1);
        memcpy(long_line, VALID, strlen(VALID));
        CHECK_INTEQ("a line of 64 KiB, spaces after its values (node_exporter's reader fails)",
                    parse(long_line), -EINVAL);
        long_line[strlen(HEADER) + (64 << 10) - 1] = 0;
        CHECK_INTEQ("... and one a byte shorter", parse(long_line), 0);
}

static bool has(const char *text, const char *s) {
        return text && strstr(text, s);
}

static void test_collector(void) {
        _cleanup_free_ char *dflt = NULL, *empty = NULL, *lo = NULL;
        int r = -1;

        dflt = collector_test_scrape(&node_netdev_collector, NULL, &r);
        CHECK_INTEQ("the fixture tree: collected", r, 0);
        CHECK("... counters with node_exporter's name and help",
              has(dflt, "# HELP node_network_receive_bytes_total Network device statistic "
                        "receive_bytes.\n# TYPE node_network_receive_bytes_total counter\n"));
        CHECK("... eth0 written", has(dflt, "node_network_receive_bytes_total{device=\"eth0\"} "
                                            "4.591685e+07\n"));
        CHECK("... veth1234 left out by default", dflt && !has(dflt, "veth"));
        empty = collector_test_scrape(&node_netdev_collector,
                                      (char *[]){"ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE=", NULL},
                                      &r);
        CHECK("the pattern empty: veth1234 written",
              has(empty,
                  "node_network_transmit_bytes_total{device=\"veth1234\"} 2.196734223e+09\n"));
        CHECK("... and veth5678",
              has(empty, "node_network_receive_packets_total{device=\"veth5678\"} "
                         "712\n"));
        lo = collector_test_scrape(&node_netdev_collector,
                                   (char *[]){"ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE=^lo$", NULL},
                                   &r);
        CHECK("another pattern: lo left out, veth1234 written",
              lo && !has(lo, "\"lo\"") && has(lo, "{device=\"veth1234\"}"));
}

int main(void) {
        test_kernel();
        test_columns();
        test_file_shapes();
        test_garbage();
        test_collector();
        free(devs);
        return test_done();
}
