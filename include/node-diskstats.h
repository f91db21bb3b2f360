/* node-diskstats.h: the diskstats collector: /proc/diskstats and the udev
 * database (ROOTFS/run/udev/data/b<major>:<minor>) as node_exporter 1.5
 * writes them: node_disk_*{device} (reads, writes, discards, flushes, time
 * in seconds, bytes), node_disk_info with the disk's udev identity,
 * node_disk_filesystem_info, node_disk_device_mapper_info, node_disk_ata_*,
 * the devices matching the configured exclude left out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* The values of a /proc/diskstats line, in the file's order: 11 before
 * Linux 4.18, 15 (discards) before 5.5, 17 (flushes) since. */
enum {
        NODE_DISKSTATS_READS_COMPLETED,
        NODE_DISKSTATS_READS_MERGED,
        NODE_DISKSTATS_SECTORS_READ,
        NODE_DISKSTATS_READ_MS,
        NODE_DISKSTATS_WRITES_COMPLETED,
        NODE_DISKSTATS_WRITES_MERGED,
        NODE_DISKSTATS_SECTORS_WRITTEN,
        NODE_DISKSTATS_WRITE_MS,
        NODE_DISKSTATS_IOS_IN_PROGRESS,
        NODE_DISKSTATS_IO_MS,
        NODE_DISKSTATS_WEIGHTED_IO_MS,
        NODE_DISKSTATS_DISCARDS_COMPLETED,
        NODE_DISKSTATS_DISCARDS_MERGED,
        NODE_DISKSTATS_SECTORS_DISCARDED,
        NODE_DISKSTATS_DISCARD_MS,
        NODE_DISKSTATS_FLUSHES_COMPLETED,
        NODE_DISKSTATS_FLUSH_MS,
        NODE_DISKSTATS_N,
};

struct node_diskstats {
        const char *device; /* NUL-terminated inside the parsed text */
        uint32_t major, minor;
        unsigned n; /* how many of v the line has: 11 to 17 */
        uint64_t v[NODE_DISKSTATS_N];
};

/* Pure: the devices of /proc/diskstats's text (len bytes), sorted by name,
 * each once (the first line of a name).  As node_exporter reads a line
 * (the first 20 fields: major, minor, name, values): a line of fewer than
 * 14 fields is skipped, fields after the 20th are ignored.  The text is
 * parsed in place (each name is NUL-terminated where it ends), so it must
 * outlive *ret.  0 with *ret (malloc'd; NULL when there is none) and
 * *ret_n; -EINVAL when one of those fields is not a decimal number of its
 * size, a name holds a NUL byte or a line is 64 KiB long (node_exporter
 * fails the scrape); -ENOMEM. */
int node_diskstats_parse(char *text, size_t len, struct node_diskstats **ret, size_t *ret_n);

/* The udev properties node_exporter 1.5 reads. */
enum {
        NODE_UDEV_ID_PATH,
        NODE_UDEV_ID_WWN,
        NODE_UDEV_ID_MODEL,
        NODE_UDEV_ID_SERIAL_SHORT,
        NODE_UDEV_ID_REVISION,
        NODE_UDEV_ID_FS_TYPE,
        NODE_UDEV_ID_FS_USAGE,
        NODE_UDEV_ID_FS_UUID,
        NODE_UDEV_ID_FS_VERSION,
        NODE_UDEV_DM_NAME,
        NODE_UDEV_DM_UUID,
        NODE_UDEV_DM_VG_NAME,
        NODE_UDEV_DM_LV_NAME,
        NODE_UDEV_DM_LV_LAYER,
        NODE_UDEV_ID_ATA,
        NODE_UDEV_ID_ATA_WRITE_CACHE,
        NODE_UDEV_ID_ATA_WRITE_CACHE_ENABLED,
        NODE_UDEV_ID_ATA_ROTATION_RATE_RPM,
        NODE_UDEV_N,
};

/* Pure: those properties of a udev database file ("E:KEY=VALUE" lines; the
 * last of a key counts; other lines are skipped, and a line of 64 KiB ends
 * the reading, as node_exporter's reader stops there): ret[k] is the
 * value, NUL-terminated in place, or NULL when absent.  text is len bytes
 * followed by a writable byte (fileio_read() leaves a NUL there). */
void node_diskstats_parse_udev(char *text, size_t len, const char *ret[static NODE_UDEV_N]);

/* Pure: s as Go's strconv.ParseFloat(s, 64) reads it (what node_exporter
 * makes of the ATA properties): decimal or hexadecimal (with a p exponent)
 * with an optional sign, _ between digits, inf, infinity, nan; nothing
 * around it; no overflow.  false when it is not such a number. */
bool node_diskstats_parse_float(const char *s, double *ret);

extern const struct collector node_diskstats_collector;
