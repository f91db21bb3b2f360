/* test-node-diskstats.c: /proc/diskstats's parser on the three kernel formats
 * (14, 18 and 20 fields) and on what kernels do not write, the udev database
 * reader, Go's float syntax for the ATA properties, and the collector on the
 * fixture tree. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "collector-test.h"
#include "macro.h"
#include "node-diskstats.h"
#include "test.h"

static char buf[1 << 17];
static struct node_diskstats *d;
static size_t n;

/* Parse s (copied: the parser writes into its text). */
static int parse(const char *s) {
        size_t len = strlen(s);

        d = mfree(d);
        n = 0;
        memcpy(buf, s, len + 1);
        return node_diskstats_parse(buf, len, &d, &n);
}

static bool values_are(const struct node_diskstats *s, unsigned count, uint64_t first) {
        bool ok = s->n == count;

        for (unsigned i = 0; ok && i < count; i++)
                ok = s->v[i] == first + i;
        return ok;
}

static void test_kernels(void) {
        /* Linux 6.18 (this is 5.5's format: flushes), then 4.18's (discards), then 3.10's */
        CHECK_INTEQ(
                "Linux 5.5 and later: 20 fields",
                parse(" 254       0 vda 107671 12876 5973802 106826 58508 65027 6588968 38184 0 "
                      "27080 153229 51162 56 4112368 7852 7867 365\n"),
                0);
        CHECK("... major, minor, name",
              n == 1 && d[0].major == 254 && d[0].minor == 0 && strcmp(d[0].device, "vda") == 0);
        CHECK("... 17 values, the last two the flushes",
              n == 1 && d[0].n == 17 && d[0].v[NODE_DISKSTATS_READS_COMPLETED] == 107671 &&
                      d[0].v[NODE_DISKSTATS_WEIGHTED_IO_MS] == 153229 &&
                      d[0].v[NODE_DISKSTATS_FLUSHES_COMPLETED] == 7867 &&
                      d[0].v[NODE_DISKSTATS_FLUSH_MS] == 365);
        CHECK_INTEQ("Linux 4.18 to 5.4: 18 fields",
                    parse("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"), 0);
        CHECK("... 15 values", n == 1 && values_are(&d[0], 15, 1));
        CHECK_INTEQ("before Linux 4.18: 14 fields",
                    parse(" 202       0 xvda 1 2 3 4 5 6 7 8 9 10 11\n"), 0);
        CHECK("... 11 values", n == 1 && values_are(&d[0], 11, 1));
        CHECK_INTEQ("Linux 2.6's short partition line (7 fields)",
                    parse("   3    1 hda1 8 8 8 8\n"), 0);
        CHECK_INTEQ("... is skipped, as node_exporter does", n, 0);
        CHECK_INTEQ("15 fields", parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12\n"), 0);
        CHECK("... 12 values, as node_exporter counts them", n == 1 && values_are(&d[0], 12, 1));
        CHECK_INTEQ("22 fields (a later kernel's)",
                    parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n"), 0);
        CHECK("... the first 17 values", n == 1 && values_are(&d[0], 17, 1));
}

static void test_file_shapes(void) {
        CHECK_INTEQ("empty", parse(""), 0);
        CHECK("... no disk, no array", n == 0 && d == NULL);
        CHECK_INTEQ("blank lines", parse("\n  \n\t\n"), 0);
        CHECK_INTEQ("... no disk", n, 0);
        CHECK_INTEQ("three disks, no final newline",
                    parse("8 16 sdb 1 2 3 4 5 6 7 8 9 10 11\n253 0 dm-0 1 2 3 4 5 6 7 8 9 10 11\n"
                          "8 0 sda 1 2 3 4 5 6 7 8 9 10 11"),
                    0);
        CHECK("... sorted by name", n == 3 && strcmp(d[0].device, "dm-0") == 0 &&
                                            strcmp(d[1].device, "sda") == 0 &&
                                            strcmp(d[2].device, "sdb") == 0 && d[1].v[10] == 11);
        CHECK("... names lie in the parsed text",
              n == 3 && d[0].device > buf && d[0].device < buf + 200);
        CHECK_INTEQ("a name twice",
                    parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
                          "8 9 sda 2 2 3 4 5 6 7 8 9 10 11\n"),
                    0);
        CHECK("... once, the first (node_exporter's registry keeps that)",
              n == 1 && d[0].minor == 0 && d[0].v[0] == 1);
        CHECK_INTEQ("tabs and CRLF", parse("8\t0\tsda\t1 2 3 4 5 6 7 8 9 10 11\r\n"), 0);
        CHECK("... read", n == 1 && strcmp(d[0].device, "sda") == 0 && d[0].v[10] == 11);
        CHECK_INTEQ("the 20th number with a tail (Sscanf stops after it)",
                    parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17x\n"), 0);
        CHECK("... is the number", n == 1 && d[0].v[16] == 17);
        CHECK_INTEQ("the largest values",
                    parse("4294967295 4294967295 x 18446744073709551615 2 3 4 5 "
                          "6 7 8 9 10 11\n"),
                    0);
        CHECK("... whole", n == 1 && d[0].major == UINT32_MAX && d[0].v[0] == UINT64_MAX);
}

static void test_garbage(void) {
        static char nul[] = "8 0 s\0a 1 2 3 4 5 6 7 8 9 10 11\n";
        static char long_line[(64 << 10) + 64];

        CHECK_INTEQ("a value that is not a number", parse("8 0 sda 1 2 x 4 5 6 7 8 9 10 11\n"),
                    -EINVAL);
        CHECK_INTEQ("... in a line too short to count", parse("8 0 sda x\n"), -EINVAL);
        CHECK_INTEQ("... or a major", parse("sda 8 0 1 2 3 4 5 6 7 8 9 10 11\n"), -EINVAL);
        CHECK_INTEQ("a number with a tail, not the 20th",
                    parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16x 17\n"), -EINVAL);
        CHECK_INTEQ("a 20th field with no number",
                    parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 x\n"), -EINVAL);
        CHECK_INTEQ("a negative value", parse("8 0 sda -1 2 3 4 5 6 7 8 9 10 11\n"), -EINVAL);
        CHECK_INTEQ("a sign", parse("8 +0 sda 1 2 3 4 5 6 7 8 9 10 11\n"), -EINVAL);
        CHECK_INTEQ("a major of 2^32", parse("4294967296 0 sda 1 2 3 4 5 6 7 8 9 10 11\n"),
                    -EINVAL);
        CHECK_INTEQ("a value of 2^64",
                    parse("8 0 sda 18446744073709551616 2 3 4 5 6 7 8 9 10 11\n"), -EINVAL);
        CHECK_INTEQ("a NUL in a name", node_diskstats_parse(nul, sizeof nul - 1, &d, &n), -EINVAL);
        memset(long_line, ' ', sizeof long_line - 1);
        memcpy(long_line, "8 0 sda 1 2 3 4 5 6 7 8 9 10 11", 31);
        CHECK_INTEQ("a line of 64 KiB, spaces after its values (node_exporter's reader fails)",
                    parse(long_line), -EINVAL);
        long_line[(64 << 10) - 1] = 0;
        CHECK_INTEQ("... and one a byte shorter", parse(long_line), 0);
}

static void test_udev(void) {
        char text[] = "S:disk/by-id/ata-X\nE:ID_ATA=1\r\nE:ID_MODEL=first\nX:ID_WWN=w\n"
                      "  E:ID_REVISION=r\nE:ID_PATH\nE:=v\nE:ID_MODEL=a=b\nE:ID_SERIAL=s\n"
                      "E:ID_FS_UUID=\nE:DM_NAME=last";
        static char long_line[(64 << 10) + 64] = "E:ID_PATH=p\nE:ID_WWN=";
        const char *v[NODE_UDEV_N];

        node_diskstats_parse_udev(text, strlen(text), v);
        CHECK_STREQ("a property", v[NODE_UDEV_ID_ATA], "1");
        CHECK_STREQ("the last of a key, up to the line's end", v[NODE_UDEV_ID_MODEL], "a=b");
        CHECK("other lines are not properties",
              !v[NODE_UDEV_ID_WWN] && !v[NODE_UDEV_ID_REVISION] && !v[NODE_UDEV_ID_PATH]);
        CHECK("ID_SERIAL is not read (node_exporter 1.5 takes ID_SERIAL_SHORT)",
              !v[NODE_UDEV_ID_SERIAL_SHORT]);
        CHECK_STREQ("an empty value", v[NODE_UDEV_ID_FS_UUID], "");
        CHECK_STREQ("the last line without a newline", v[NODE_UDEV_DM_NAME], "last");
        memset(long_line + strlen(long_line), 'w', sizeof long_line - strlen(long_line) - 1);
        strcpy(long_line + sizeof long_line - 16, "\nE:ID_MODEL=m\n");
        node_diskstats_parse_udev(long_line, strlen(long_line), v);
        CHECK("a line of 64 KiB ends the reading",
              v[NODE_UDEV_ID_PATH] && !v[NODE_UDEV_ID_WWN] && !v[NODE_UDEV_ID_MODEL]);
}

static bool reads_as(const char *s, double want) {
        double v = -12345;

        return node_diskstats_parse_float(s, &v) && (v == want || (isnan(want) && isnan(v)));
}

static bool refused(const char *s) {
        double v = -12345;

        return !node_diskstats_parse_float(s, &v) && v == -12345;
}

static void test_float(void) {
        CHECK("what udev writes", reads_as("7200", 7200) && reads_as("0", 0));
        CHECK("a sign, a fraction, an exponent", reads_as("+5", 5) && reads_as("-2.5", -2.5) &&
                                                         reads_as("1e3", 1000) &&
                                                         reads_as(".5", 0.5));
        CHECK("_ between digits", reads_as("1_0", 10) && reads_as("0x_1p4", 16));
        CHECK("hexadecimal with an exponent", reads_as("0x1p4", 16) && reads_as("0X.8P1", 1));
        CHECK("inf, infinity, nan in any case", reads_as("Inf", INFINITY) &&
                                                        reads_as("-infinity", -INFINITY) &&
                                                        reads_as("NaN", NAN));
        CHECK("a tiny value is 0, not an error", reads_as("1e-400", 0));
        CHECK("empty, spaces around",
              refused("") && refused(" 5") && refused("5 ") && refused("5\n"));
        CHECK("hexadecimal without an exponent", refused("0x10"));
        CHECK("_ not between digits", refused("1__0") && refused("_1") && refused("1_") &&
                                              refused("1_.5") && refused("1._5"));
        CHECK("a signed nan, nan(...), half a word",
              refused("+nan") && refused("nan(1)") && refused("infinit") && refused("in"));
        CHECK("not numbers", refused("abc") && refused("1e") && refused(".") && refused("1.2.3"));
        CHECK("overflow", refused("1e400") && refused("-1e400"));
}

static bool has(const char *text, const char *s) {
        return text && strstr(text, s);
}

static void test_collector(void) {
        _cleanup_free_ char *dflt = NULL, *all = NULL;
        int r = -1;

        dflt = collector_test_scrape(&node_diskstats_collector, NULL, &r);
        CHECK_INTEQ("the fixture tree: collected", r, 0);
        CHECK("... disks, not partitions or loop devices (the default exclude)",
              has(dflt, "{device=\"sda\"}") && has(dflt, "{device=\"dm-0\"}") &&
                      has(dflt, "{device=\"zram0\"}") && !has(dflt, "sda1") && !has(dflt, "loop"));
        CHECK("... sectors as bytes", has(dflt, "node_disk_read_bytes_total{device=\"vda\"} "
                                                "3.058586624e+09\n"));
        CHECK("... ticks as seconds, as Go multiplies",
              has(dflt, "node_disk_read_time_seconds_total{device=\"vda\"} 106.82600000000001\n"));
        CHECK("... discarded sectors as they are",
              has(dflt, "node_disk_discarded_sectors_total{device=\"vda\"} 4.112368e+06\n"));
        CHECK("... udev's identity",
              has(dflt, "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\","
                        "model=\"Samsung_SSD_860_EVO_500GB\",path=\"pci-0000:"
                        "00:17.0-ata-1.0\",revision=\"RVT04B6Q\",serial="
                        "\"S3Z1NB0K123456A\",wwn=\"0x5002538e40a1b2c3\"} 1\n"));
        CHECK("... no udev file, empty labels",
              has(dflt, "node_disk_info{device=\"zram0\",major=\"253\",minor=\"0\",model=\"\",path="
                        "\"\",revision=\"\",serial=\"\",wwn=\"\"} 1\n"));
        CHECK("... a filesystem",
              has(dflt, "node_disk_filesystem_info{device=\"vda\",type=\"ext4\","
                        "usage=\"filesystem\",uuid=\"3f1c9a52-7d0e-4b8a-9c55-"
                        "0b6e2d4f1a77\",version=\"1.0\"} 1\n"));
        CHECK("... a logical volume",
              has(dflt, "node_disk_device_mapper_info{device=\"dm-0\","
                        "lv_layer=\"\",lv_name=\"data\",name=\"docker-data\""));
        CHECK("... ATA properties of the ATA disk only",
              has(dflt, "# TYPE node_disk_ata_write_cache_enabled gauge\n"
                        "node_disk_ata_write_cache_enabled{device=\"sda\"} 1\n# HELP"));
        all = collector_test_scrape(&node_diskstats_collector,
                                    (char *[]){"ECS_HOSTD_METRICS_DISKSTATS_DEVICE_EXCLUDE=", NULL},
                                    &r);
        CHECK("the pattern empty: partitions and loop devices written",
              has(all, "node_disk_io_now{device=\"sda1\"} 0\n") &&
                      has(all, "node_disk_io_now{device=\"loop7\"} 0\n"));
        CHECK("... the partition's filesystem from udev",
              has(all, "node_disk_filesystem_info{device=\"sda1\",type=\"LVM2_member\""));
}

int main(void) {
        test_kernels();
        test_file_shapes();
        test_garbage();
        test_udev();
        test_float();
        test_collector();
        free(d);
        return test_done();
}
