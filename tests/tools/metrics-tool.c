/* metrics-tool.c: one scrape of ecs-hostd's host collectors, printed: what
 * /metrics serves, without the server, on the host or on fixture trees.
 *   metrics-tool [--procfs DIR] [--sysfs DIR] [--rootfs DIR] [--openmetrics] COLLECTOR...
 * The node_exporter comparison test and the fuzz-free golden test drive it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "expo.h"
#include "macro.h"

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                {"procfs", required_argument, NULL, 'p'},
                {"sysfs", required_argument, NULL, 's'},
                {"rootfs", required_argument, NULL, 'r'},
                {"openmetrics", no_argument, NULL, 'o'},
                {},
        };
        struct metrics_roots roots = {"/proc", "/sys", "/"};
        enum expo_format format = EXPO_TEXT;
        unsigned long enabled = 0;
        _cleanup_free_ char *out = NULL;
        struct expo e;
        size_t len;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c == 'p')
                        roots.procfs = optarg;
                else if (c == 's')
                        roots.sysfs = optarg;
                else if (c == 'r')
                        roots.rootfs = optarg;
                else if (c == 'o')
                        format = EXPO_OPENMETRICS;
                else
                        return 2;
        }
        for (int i = optind; i < argc; i++) {
                size_t k;
                for (k = 0; k < n_collectors && strcmp(collectors[k]->name, argv[i]) != 0; k++)
                        ;
                if (k == n_collectors) {
                        fprintf(stderr, "metrics-tool: no collector %s\n", argv[i]);
                        return 2;
                }
                enabled |= 1UL << k;
        }
        expo_init(&e, format);
        collectors_run(&e, &roots, enabled);
        if (expo_finish(&e, &out, &len) < 0)
                return 1;
        fwrite(out, 1, len, stdout);
        return 0;
}
