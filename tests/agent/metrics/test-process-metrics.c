/* test-process-metrics.c: /proc/self/stat and /proc/self/statm parsed as
 * kernels write them (a command name with spaces and parentheses too), and
 * refused when they are not; then the families written for this process. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "process-metrics.h"
#include "test.h"

#define STAT_TAIL                                                                                  \
        " R 16729 16729 1214 0 -1 4194304 99 0 0 0 250 75 0 0 20 0 1 0 613887 3133440 359 "        \
        "18446744073709551615 94320661323776 94320661343657 140732280655520 0 0 0 0 0 0 0 0 0 17 " \
        "0 0 0 0 0 0\n"

static int stat_of(const char *s, struct process_stat *st) {
        return process_parse_stat(s, strlen(s), st);
}

static void test_stat(void) {
        struct process_stat st = {};

        CHECK_INTEQ("a kernel's line", stat_of("16731 (ecs-hostd)" STAT_TAIL, &st), 0);
        CHECK("utime, stime: fields 14 and 15", st.utime == 250 && st.stime == 75);
        CHECK("starttime, vsize, rss: fields 22 to 24",
              st.starttime == 613887 && st.vsize == 3133440 && st.rss == 359);
        CHECK_INTEQ("a name with spaces and parentheses", stat_of("7 (a) b (c) d)" STAT_TAIL, &st),
                    0);
        CHECK("is read after the last parenthesis", st.utime == 250 && st.rss == 359);
        CHECK_INTEQ("empty", stat_of("", &st), -EINVAL);
        CHECK_INTEQ("no name", stat_of("16731 R 1 2 3", &st), -EINVAL);
        CHECK_INTEQ("cut short", stat_of("1 (x) R 1 1 1 0 -1 0 0 0 0 0 1 2 0 0", &st), -EINVAL);
        CHECK_INTEQ("a field that is no number",
                    stat_of("1 (x) R 1 1 1 0 -1 0 0 0 0 0 x 2 0 0 20 0 1 0 5 6 7\n", &st), -EINVAL);
        CHECK_INTEQ("a NUL byte", process_parse_stat("1 (x)\0 R", 8, &st), -EINVAL);
}

static int statm_of(const char *s, uint64_t *size, uint64_t *resident) {
        return process_parse_statm(s, strlen(s), size, resident);
}

static void test_statm(void) {
        uint64_t size = 0, resident = 0;

        CHECK_INTEQ("a kernel's line", statm_of("3133 359 291 7 0 105 0\n", &size, &resident), 0);
        CHECK("the size and the resident set, in pages", size == 3133 && resident == 359);
        CHECK_INTEQ("empty", statm_of("", &size, &resident), -EINVAL);
        CHECK_INTEQ("one field", statm_of("3133\n", &size, &resident), -EINVAL);
        CHECK_INTEQ("a negative size", statm_of("-1 359 0\n", &size, &resident), -EINVAL);
        CHECK_INTEQ("garbage", statm_of("3133 lots 0\n", &size, &resident), -EINVAL);
        CHECK_INTEQ("a NUL byte", process_parse_statm("3133\0 359", 9, &size, &resident), -EINVAL);
}

static void test_write(void) {
        struct expo e;
        char *text = NULL;
        size_t len = 0;

        expo_init(&e, EXPO_TEXT);
        process_metrics_write(&e);
        CHECK_INTEQ("written", expo_finish(&e, &text, &len), 0);
        CHECK("process_cpu_seconds_total, a counter",
              text && strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
        CHECK("the resident memory", text && strstr(text, "\nprocess_resident_memory_bytes "));
        CHECK("the open descriptors and their limit",
              text && strstr(text, "\nprocess_open_fds ") && strstr(text, "\nprocess_max_fds "));
        CHECK("the start time", text && strstr(text, "\nprocess_start_time_seconds 1"));
        CHECK("the virtual size", text && strstr(text, "\nprocess_virtual_memory_bytes "));
        free(text);
}

int main(void) {
        test_stat();
        test_statm();
        test_write();
        return test_done();
}
