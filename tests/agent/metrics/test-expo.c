/* test-expo.c: the exposition formats as Prometheus parses them: values as
 * the Go client writes them (what node_exporter prints), escaping of label
 * values and HELP, OpenMetrics' counter names and # EOF, and the Accept
 * header negotiation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"
#include "macro.h"
#include "test.h"

static void test_values(void) {
        /* strconv.FormatFloat(v, 'g', -1, 64), with the client's special cases. */
        static const struct {
                double v;
                const char *want;
        } cases[] = {
                {1, "1"},
                {0, "0"},
                {-0.0, "0"},
                {-1, "-1"},
                {2.04, "2.04"},
                {3120.15, "3120.15"},
                {113479612, "1.13479612e+08"},
                {522.495809, "522.495809"},
                {1234, "1234"},
                {123456, "123456"},
                {999999, "999999"},
                {1234567, "1.234567e+06"},
                {1000000, "1e+06"},
                {100000, "100000"},
                {0.05, "0.05"},
                {0.0001, "0.0001"},
                {1e-05, "1e-05"},
                {4e9, "4e+09"},
                {17179869184.0, "1.7179869184e+10"},
                {0.1 + 0.2, "0.30000000000000004"},
                {1.5e300, "1.5e+300"},
                {-2.5, "-2.5"},
        };
        char buf[32];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                CHECK_STREQ(cases[i].want, expo_format_value(cases[i].v, buf), cases[i].want);
        CHECK_STREQ("NaN", expo_format_value(NAN, buf), "NaN");
        CHECK_STREQ("+Inf", expo_format_value(INFINITY, buf), "+Inf");
        CHECK_STREQ("-Inf", expo_format_value(-INFINITY, buf), "-Inf");
}

static char *render(enum expo_format f) {
        struct expo e;
        char *out = NULL;
        size_t len;

        expo_init(&e, f);
        expo_family(&e, "node_cpu_seconds_total", EXPO_COUNTER, "Seconds the CPUs spent.");
        expo_sample(&e, (const char *const[]){"cpu", "0", "mode", "idle", NULL}, 3120.15);
        expo_family(&e, "x_info", EXPO_GAUGE, "A \\ help\nwith a newline.");
        expo_sample(&e, (const char *const[]){"v", "a\"b\\c\nd", NULL}, 1);
        expo_family(&e, "node_vmstat_pgfault", EXPO_UNTYPED, "/proc/vmstat information.");
        expo_sample(&e, NULL, 113479612);
        if (expo_finish(&e, &out, &len) < 0 || strlen(out) != len)
                abort();
        return out;
}

static void test_text(void) {
        _cleanup_free_ char *text = render(EXPO_TEXT), *om = render(EXPO_OPENMETRICS);

        CHECK_STREQ("text format 0.0.4", text,
                    "# HELP node_cpu_seconds_total Seconds the CPUs spent.\n"
                    "# TYPE node_cpu_seconds_total counter\n"
                    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 3120.15\n"
                    "# HELP x_info A \\\\ help\\nwith a newline.\n"
                    "# TYPE x_info gauge\n"
                    "x_info{v=\"a\\\"b\\\\c\\nd\"} 1\n"
                    "# HELP node_vmstat_pgfault /proc/vmstat information.\n"
                    "# TYPE node_vmstat_pgfault untyped\n"
                    "node_vmstat_pgfault 1.13479612e+08\n");
        CHECK_STREQ("OpenMetrics 1.0: counter metadata without _total, unknown, # EOF", om,
                    "# HELP node_cpu_seconds Seconds the CPUs spent.\n"
                    "# TYPE node_cpu_seconds counter\n"
                    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 3120.15\n"
                    "# HELP x_info A \\\\ help\\nwith a newline.\n"
                    "# TYPE x_info gauge\n"
                    "x_info{v=\"a\\\"b\\\\c\\nd\"} 1\n"
                    "# HELP node_vmstat_pgfault /proc/vmstat information.\n"
                    "# TYPE node_vmstat_pgfault unknown\n"
                    "node_vmstat_pgfault 1.13479612e+08\n"
                    "# EOF\n");
        CHECK_STREQ("text Content-Type", expo_content_type(EXPO_TEXT),
                    "text/plain; version=0.0.4; charset=utf-8");
        CHECK_STREQ("OpenMetrics Content-Type", expo_content_type(EXPO_OPENMETRICS),
                    "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

static void test_negotiate(void) {
        /* What Prometheus 2.x/3.x send, and what curl sends. */
        CHECK("no Accept: text", expo_negotiate(NULL) == EXPO_TEXT);
        CHECK("curl's */*: text", expo_negotiate("*/*") == EXPO_TEXT);
        CHECK("Prometheus 3: OpenMetrics first",
              expo_negotiate("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;"
                             "q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/"
                             "plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;"
                             "version=0.0.4;q=0.3,*/*;q=0.2") == EXPO_OPENMETRICS);
        CHECK("Prometheus 2 default: text first",
              expo_negotiate("text/plain;version=0.0.4;q=1,*/*;q=0.1") == EXPO_TEXT);
        CHECK("OpenMetrics 0.0.1 only is not 1.0.0",
              expo_negotiate("application/openmetrics-text;version=0.0.1") == EXPO_TEXT);
        CHECK("OpenMetrics without a version",
              expo_negotiate("application/openmetrics-text") == EXPO_OPENMETRICS);
}

/* A scrape may write nothing (a collector with nothing to say). */
static void test_empty(void) {
        _cleanup_free_ char *out = NULL;
        struct expo e;
        size_t len = 1;

        expo_init(&e, EXPO_TEXT);
        CHECK("nothing written is an empty string",
              expo_finish(&e, &out, &len) == 0 && len == 0 && out && out[0] == 0);
        expo_done(&e);
}

int main(void) {
        test_values();
        test_text();
        test_empty();
        test_negotiate();
        return test_done();
}
