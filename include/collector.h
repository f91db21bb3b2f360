/* collector.h: a host-metrics collector, as node_exporter has them: one
 * file per collector, the read (files under the configured procfs, sysfs
 * and rootfs roots) separate from a pure parser tested on strings, and the
 * series written with node_exporter's names, types, labels, help and units,
 * so a dashboard made for node_exporter works unchanged. */
#pragma once

#include <stdbool.h>

#include "expo.h"
#include "macro.h"

struct filter;
struct collector_kept;

/* What the collectors read: where the host's files are ("/proc", "/sys",
 * "/" on a host; fixture trees in tests: ECS_HOSTD_PROCFS, ECS_HOSTD_SYSFS,
 * ECS_HOSTD_ROOTFS) and which names they leave out (NULL: none). */
struct metrics_source {
        const char *procfs, *sysfs, *rootfs;
        struct filter *netdev_device_exclude; /* owned */
        struct filter *diskstats_device_exclude;
        struct filter *mount_points_exclude;
        struct filter *fs_types_exclude;
        /* What collectors keep between scrapes (collector_keep()): a slot
         * per collectors[] entry (owned; NULL in a source that
         * collector_source_new() did not make). */
        struct collector_kept *kept;
};

struct collector {
        const char *name; /* node_exporter's: "cpu", "meminfo", ... */
        /* Write its families; a negative errno when it could not (then
         * node_scrape_collector_success{collector} is 0). */
        int (*collect)(struct expo *e, const struct metrics_source *src);
};

/* Every collector, in the order they are written. */
extern const struct collector *const collectors[];
extern const size_t n_collectors;

/* The collector called name, or NULL. */
const struct collector *collector_find(const char *name);

/* A collector that keeps something between scrapes (the filesystem
 * collector: its statfs worker, with its threads) makes it on its first
 * scrape and keeps it in src: collector_kept() is what c kept, or NULL;
 * collector_keep() keeps state for c until collector_source_free(), which
 * calls done(state) (it must not block: it runs on the loop).  -EINVAL
 * when src has no slots, or c's is taken.  (Kept out of struct collector,
 * so the collectors' tables stay two fields long.) */
void *collector_kept(const struct metrics_source *src, const struct collector *c);
_must_check_ int collector_keep(const struct metrics_source *src, const struct collector *c,
                                void *state, void (*done)(void *state));

/* Run the collectors whose bit is set in enabled (bit i: collectors[i]),
 * then node_scrape_collector_duration_seconds and
 * node_scrape_collector_success for each of them. */
void collectors_run(struct expo *e, const struct metrics_source *src, unsigned long enabled);

struct config;

/* The source the configuration names (ECS_HOSTD_PROCFS, ..., the exclude
 * patterns, compiled), and the collectors it enables (a bit per
 * collectors[] entry, from ECS_HOSTD_METRICS_COLLECTORS). */
_must_check_ int collector_source_new(struct metrics_source **ret, const struct config *cfg);
struct metrics_source *collector_source_free(struct metrics_source *src);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct metrics_source *, collector_source_free)
unsigned long collectors_enabled(const struct config *cfg);

/* ROOT/sub as a path (malloc'd), for the collectors' reads. */
char *collector_path(const char *root, const char *sub);
