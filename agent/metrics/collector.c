/* collector.c: the collectors' table and the scrape that runs them, timing
 * each one as node_exporter does (node_scrape_collector_*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"
#include "macro.h"
#include "node-loadavg.h"

const struct collector *const collectors[] = {
        &node_loadavg_collector,
};
const size_t n_collectors = ELEMENTSOF(collectors);

const struct collector *collector_find(const char *name) {
        for (size_t i = 0; i < n_collectors; i++)
                if (strcmp(collectors[i]->name, name) == 0)
                        return collectors[i];
        return NULL;
}

char *collector_path(const char *root, const char *sub) {
        char *p;

        return asprintf(&p, "%s/%s", root, sub) < 0 ? NULL : p;
}

static double now_seconds(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void collectors_run(struct expo *e, const struct metrics_roots *roots, unsigned long enabled) {
        double took[sizeof(enabled) * 8] = {0};
        bool ok[sizeof(enabled) * 8] = {false};

        for (size_t i = 0; i < n_collectors; i++) {
                double t0 = now_seconds();
                if (!(enabled & (1UL << i)))
                        continue;
                ok[i] = collectors[i]->collect(e, roots) >= 0;
                took[i] = now_seconds() - t0;
        }
        expo_family(e, "node_scrape_collector_duration_seconds", EXPO_GAUGE,
                    "node_exporter: Duration of a collector scrape.");
        for (size_t i = 0; i < n_collectors; i++)
                if (enabled & (1UL << i))
                        expo_sample(e,
                                    (const char *const[]){"collector", collectors[i]->name, NULL},
                                    took[i]);
        expo_family(e, "node_scrape_collector_success", EXPO_GAUGE,
                    "node_exporter: Whether a collector succeeded.");
        for (size_t i = 0; i < n_collectors; i++)
                if (enabled & (1UL << i))
                        expo_sample(e,
                                    (const char *const[]){"collector", collectors[i]->name, NULL},
                                    ok[i]);
}
