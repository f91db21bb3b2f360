/* collector.c: the collectors' table and the scrape that runs them, timing
 * each one as node_exporter does (node_scrape_collector_*). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"
#include "config.h"
#include "filter.h"
#include "macro.h"
#include "node-cpu.h"
#include "node-diskstats.h"
#include "node-filefd.h"
#include "node-filesystem.h"
#include "node-loadavg.h"
#include "node-meminfo.h"
#include "node-netdev.h"
#include "node-pressure.h"
#include "node-stat.h"
#include "node-time.h"
#include "node-uname.h"
#include "node-vmstat.h"

/* In ECS_HOSTD_METRICS_COLLECTORS' default order. */
const struct collector *const collectors[] = {
        &node_cpu_collector,        /* /proc/stat, /sys/devices/system/cpu */
        &node_meminfo_collector,    /* /proc/meminfo */
        &node_loadavg_collector,    /* /proc/loadavg */
        &node_filesystem_collector, /* mounts, statfs off the loop */
        &node_netdev_collector,     /* /proc/net/dev */
        &node_diskstats_collector,  /* /proc/diskstats, the udev database */
        &node_stat_collector,       /* /proc/stat */
        &node_time_collector,       /* the clock, /sys/devices/system/clocksource */
        &node_uname_collector,      /* uname(2) */
        &node_vmstat_collector,     /* /proc/vmstat */
        &node_filefd_collector,     /* /proc/sys/fs/file-nr */
        &node_pressure_collector,   /* /proc/pressure */
};
const size_t n_collectors = ELEMENTSOF(collectors);

struct collector_kept {
        void *state;
        void (*done)(void *state);
};

const struct collector *collector_find(const char *name) {
        for (size_t i = 0; i < n_collectors; i++)
                if (strcmp(collectors[i]->name, name) == 0)
                        return collectors[i];
        return NULL;
}

struct metrics_source *collector_source_free(struct metrics_source *src) {
        if (!src)
                return NULL;
        for (size_t i = 0; src->kept && i < n_collectors; i++)
                if (src->kept[i].done)
                        src->kept[i].done(src->kept[i].state);
        free(src->kept);
        filter_free(src->netdev_device_exclude);
        filter_free(src->diskstats_device_exclude);
        filter_free(src->mount_points_exclude);
        filter_free(src->fs_types_exclude);
        free(src);
        return NULL;
}

/* The patterns were checked when the configuration was loaded. */
static int compile(const struct config *cfg, enum config_key k, struct filter **ret) {
        struct filter *f = NULL;
        const char *pattern = config_string(cfg, k);
        int r;

        if (!pattern || !*pattern)
                return 0;
        r = filter_new(&f, pattern, NULL);
        *ret = f;
        return r;
}

int collector_source_new(struct metrics_source **ret, const struct config *cfg) {
        _cleanup_(collector_source_freep) struct metrics_source *src = calloc(1, sizeof *src);
        int r;

        if (!src || !(src->kept = calloc(n_collectors, sizeof *src->kept)))
                return -ENOMEM;
        src->procfs = config_string(cfg, KEY_ECS_HOSTD_PROCFS);
        src->sysfs = config_string(cfg, KEY_ECS_HOSTD_SYSFS);
        src->rootfs = config_string(cfg, KEY_ECS_HOSTD_ROOTFS);
        if ((r = compile(cfg, KEY_ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE,
                         &src->netdev_device_exclude)) < 0 ||
            (r = compile(cfg, KEY_ECS_HOSTD_METRICS_DISKSTATS_DEVICE_EXCLUDE,
                         &src->diskstats_device_exclude)) < 0 ||
            (r = compile(cfg, KEY_ECS_HOSTD_METRICS_FILESYSTEM_MOUNT_POINTS_EXCLUDE,
                         &src->mount_points_exclude)) < 0 ||
            (r = compile(cfg, KEY_ECS_HOSTD_METRICS_FILESYSTEM_FS_TYPES_EXCLUDE,
                         &src->fs_types_exclude)) < 0)
                return r;
        *ret = TAKE_PTR(src);
        return 0;
}

unsigned long collectors_enabled(const struct config *cfg) {
        unsigned long enabled = 0;

        for (size_t i = 0; i < n_collectors; i++)
                if (config_list_has(cfg, KEY_ECS_HOSTD_METRICS_COLLECTORS, collectors[i]->name))
                        enabled |= 1UL << i;
        return enabled;
}

char *collector_path(const char *root, const char *sub) {
        char *p;

        return asprintf(&p, "%s/%s", root, sub) < 0 ? NULL : p;
}

static struct collector_kept *slot(const struct metrics_source *src, const struct collector *c) {
        for (size_t i = 0; src->kept && i < n_collectors; i++)
                if (collectors[i] == c)
                        return &src->kept[i];
        return NULL;
}

void *collector_kept(const struct metrics_source *src, const struct collector *c) {
        struct collector_kept *k = slot(src, c);

        return k ? k->state : NULL;
}

int collector_keep(const struct metrics_source *src, const struct collector *c, void *state,
                   void (*done)(void *state)) {
        struct collector_kept *k = slot(src, c);

        if (!k || k->state)
                return -EINVAL;
        *k = (struct collector_kept){state, done};
        return 0;
}

static double now_seconds(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void collectors_run(struct expo *e, const struct metrics_source *src, unsigned long enabled) {
        double took[sizeof(enabled) * 8] = {0};
        bool ok[sizeof(enabled) * 8] = {false};

        for (size_t i = 0; i < n_collectors; i++) {
                double t0 = now_seconds();
                if (!(enabled & (1UL << i)))
                        continue;
                ok[i] = collectors[i]->collect(e, src) >= 0;
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
