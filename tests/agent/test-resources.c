/* test-resources.c: resources_parse_meminfo(), the registration's MemTotal,
 * read with the meminfo collector's parser: its contract (KiB; -EINVAL when
 * absent or malformed). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "resources.h"
#include "test.h"

static const char kernel[] = "MemTotal:       24683652 kB\n"
                             "MemFree:        22757668 kB\n"
                             "Active(anon):       1556 kB\n"
                             "HugePages_Total:       0\n";

static void test_resources(void) {
        uint64_t kib = 0;

        CHECK_INTEQ("MemTotal", resources_parse_meminfo(kernel, strlen(kernel), &kib), 0);
        CHECK_INTEQ("in KiB", kib, 24683652);
        CHECK_INTEQ("not first", resources_parse_meminfo("A: 1\nMemTotal: 7 kB", 19, &kib), 0);
        CHECK_INTEQ("still found", kib, 7);
        CHECK_INTEQ("absent", resources_parse_meminfo("MemFree: 1 kB\n", 14, &kib), -EINVAL);
        CHECK_INTEQ("without its unit", resources_parse_meminfo("MemTotal: 7\n", 12, &kib),
                    -EINVAL);
        CHECK_INTEQ("negative", resources_parse_meminfo("MemTotal: -7 kB\n", 16, &kib), -EINVAL);
        CHECK_INTEQ("2^64 bytes and more",
                    resources_parse_meminfo("MemTotal: 18014398509481984 kB\n", 31, &kib), -EINVAL);
        CHECK_INTEQ("2^53 - 1 KiB",
                    resources_parse_meminfo("MemTotal: 9007199254740991 kB\n", 30, &kib), 0);
        CHECK("exactly", kib == 9007199254740991);
        CHECK_INTEQ("empty", resources_parse_meminfo("", 0, &kib), -EINVAL);
        CHECK_INTEQ("a malformed line", resources_parse_meminfo("MemTotal: 7 kB\nx\n", 17, &kib),
                    -EINVAL);
        CHECK_INTEQ("no text", resources_parse_meminfo(NULL, 0, &kib), -EINVAL);
        CHECK_INTEQ("nowhere to put it", resources_parse_meminfo(kernel, strlen(kernel), NULL),
                    -EINVAL);
}

int main(void) {
        test_resources();
        return test_done();
}
