/* node-time.c: node_time_* (see node-time.h).  The clocksources are all read
 * before any is written: node_exporter writes none of them when one cannot
 * be read.  Their device label is a clocksource's place in the sorted list
 * of clocksource[0-9]* directories, as node_exporter numbers them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fileio.h"
#include "macro.h"
#include "node-read.h"
#include "node-time.h"

#define NODE_TIME_SYSFS_MAX 4096 /* bytes: a clocksource attribute */

int node_time_parse(const char *text, size_t len, struct node_text_field *names, size_t max,
                    size_t *ret_n) {
        size_t n = node_text_fields((struct node_text_field){text, len}, names, max);

        if (n > max)
                return -E2BIG;
        *ret_n = n;
        return 0;
}

static void write_now(struct expo *e) {
        struct timespec ts;
        struct tm tm;
        time_t t;

        clock_gettime(CLOCK_REALTIME, &ts);
        t = ts.tv_sec;
        localtime_r(&t, &tm);
        expo_family(e, "node_time_seconds", EXPO_GAUGE,
                    "System time in seconds since epoch (1970).");
        /* As node_exporter computes it: nanoseconds, then a division. */
        expo_sample(e, NULL, (double)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec) / 1e9);
        expo_family(e, "node_time_zone_offset_seconds", EXPO_GAUGE,
                    "System time zone offset in seconds.");
        expo_sample(e, (const char *const[]){"time_zone", tm.tm_zone ? tm.tm_zone : "", NULL},
                    (double)tm.tm_gmtoff);
}

/* A clocksource's two files, read. */
struct clocksource {
        char *available, *current;
        size_t available_len, current_len;
};

static int read_clocksource(int dirfd, const char *name, struct clocksource *ret) {
        char path[512];
        int r;

        snprintf(path, sizeof path, "%s/available_clocksource", name);
        r = fileio_read_at(dirfd, path, NODE_TIME_SYSFS_MAX, 0, &ret->available,
                           &ret->available_len);
        if (r < 0)
                return r;
        snprintf(path, sizeof path, "%s/current_clocksource", name);
        return fileio_read_at(dirfd, path, NODE_TIME_SYSFS_MAX, 0, &ret->current,
                              &ret->current_len);
}

static int write_available(struct expo *e, const struct clocksource *cs, size_t n) {
        struct node_text_field names[NODE_TIME_CLOCKSOURCES_MAX];
        bool started = false;
        char device[24], name[NODE_TIME_SYSFS_MAX + 1];
        size_t k;
        int r;

        for (size_t i = 0; i < n; i++) {
                r = node_time_parse(cs[i].available, cs[i].available_len, names, ELEMENTSOF(names),
                                    &k);
                if (r < 0)
                        return r;
                snprintf(device, sizeof device, "%zu", i);
                for (size_t j = 0; j < k; j++) {
                        if (!started)
                                expo_family(e, "node_time_clocksource_available_info", EXPO_GAUGE,
                                            "Available clocksources read from "
                                            "'/sys/devices/system/clocksource'.");
                        started = true;
                        snprintf(name, sizeof name, "%.*s", (int)names[j].n, names[j].s);
                        expo_sample(
                                e,
                                (const char *const[]){"clocksource", name, "device", device, NULL},
                                1);
                }
        }
        return 0;
}

static void write_current(struct expo *e, const struct clocksource *cs, size_t n) {
        char device[24], name[NODE_TIME_SYSFS_MAX + 1];

        if (n)
                expo_family(e, "node_time_clocksource_current_info", EXPO_GAUGE,
                            "Current clocksource read from '/sys/devices/system/clocksource'.");
        for (size_t i = 0; i < n; i++) {
                struct node_text_field f =
                        node_text_trim((struct node_text_field){cs[i].current, cs[i].current_len});
                snprintf(device, sizeof device, "%zu", i);
                snprintf(name, sizeof name, "%.*s", (int)f.n, f.s);
                expo_sample(e, (const char *const[]){"clocksource", name, "device", device, NULL},
                            1);
        }
}

static int collect(struct expo *e, const struct metrics_source *src) {
        struct clocksource *cs = NULL;
        struct node_read_dir d;
        int r;

        write_now(e);
        r = node_read_dir(src->sysfs, "devices/system/clocksource", "clocksource", &d);
        if (r < 0)
                return r;
        if (d.n && !(cs = calloc(d.n, sizeof *cs)))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < d.n; i++)
                r = read_clocksource(d.fd, d.names[i], &cs[i]);
        if (r >= 0)
                r = write_available(e, cs, d.n);
        if (r >= 0)
                write_current(e, cs, d.n);
        for (size_t i = 0; cs && i < d.n; i++) {
                free(cs[i].available);
                free(cs[i].current);
        }
        free(cs);
        node_read_dir_done(&d);
        return r;
}

const struct collector node_time_collector = {"time", collect};
