/* metrics-tool.c: one scrape of ecs-hostd's host collectors, printed: what
 * /metrics serves, without the server.  Configured from the environment as
 * the daemon is (ECS_HOSTD_PROCFS, ECS_HOSTD_SYSFS, ECS_HOSTD_ROOTFS, the
 * exclude patterns, ECS_HOSTD_METRICS_COLLECTORS), so the node_exporter
 * comparison runs it on fixture trees.  Having no loop to keep, it lets the
 * filesystem collector wait for every statfs answer (up to the stuck time),
 * so a loaded machine cannot make a mount miss the one scrape it prints.
 *   metrics-tool [--openmetrics] [COLLECTOR...]   (default: the configured ones) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "config.h"
#include "expo.h"
#include "macro.h"
#include "node-filesystem.h"
#include "statfs-worker.h"

extern char **environ;

static void worker_free(void *w) {
        statfs_worker_free(w);
}

static int patient_statfs(const struct metrics_source *src) {
        struct statfs_worker_options opts = {.wait_usec = STATFS_WORKER_STUCK_USEC};
        struct statfs_worker *w;
        int r = statfs_worker_new(&w, &opts);

        if (r >= 0 && (r = collector_keep(src, &node_filesystem_collector, w, worker_free)) < 0)
                statfs_worker_free(w);
        return r;
}

int main(int argc, char *argv[]) {
        _cleanup_(collector_source_freep) struct metrics_source *src = NULL;
        _cleanup_(config_freep) struct config *cfg = NULL;
        enum expo_format format = EXPO_TEXT;
        _cleanup_free_ char *out = NULL;
        struct errors errs = {};
        unsigned long enabled = 0;
        struct expo e;
        size_t len;

        if (config_load(&cfg, NULL, 0, true, environ, &errs) < 0) {
                errors_print(&errs, stderr);
                errors_done(&errs);
                return 2;
        }
        if (collector_source_new(&src, cfg) < 0 || patient_statfs(src) < 0)
                return 1;
        for (int i = 1; i < argc; i++) {
                size_t k;
                if (strcmp(argv[i], "--openmetrics") == 0) {
                        format = EXPO_OPENMETRICS;
                        continue;
                }
                for (k = 0; k < n_collectors && strcmp(collectors[k]->name, argv[i]) != 0; k++)
                        ;
                if (k == n_collectors) {
                        fprintf(stderr, "metrics-tool: no collector %s\n", argv[i]);
                        return 2;
                }
                enabled |= 1UL << k;
        }
        if (!enabled)
                enabled = collectors_enabled(cfg);
        expo_init(&e, format);
        collectors_run(&e, src, enabled);
        if (expo_finish(&e, &out, &len) < 0)
                return 1;
        fwrite(out, 1, len, stdout);
        return 0;
}
