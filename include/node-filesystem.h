/* node-filesystem.h: the filesystem collector: each mount of /proc/1/mounts
 * as node_exporter 1.5 reads it, minus the excluded mount points and types,
 * as node_filesystem_{avail_bytes,device_error,files,files_free,free_bytes,
 * readonly,size_bytes}{device,fstype,mountpoint}.  The statfs calls run on
 * a statfs worker (statfs-worker.h), so a hung NFS or FUSE mount never
 * stalls a scrape: it is reported stuck (device_error 1) instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "collector.h"
#include "macro.h"

struct statfs_worker;

struct node_filesystem_mount {
        const char *device, *mount_point, *fs_type; /* into node_filesystem_mounts.text */
        bool readonly;                              /* "ro" among its options */
};

struct node_filesystem_mounts {
        char *text;                           /* owned: what the strings point into */
        struct node_filesystem_mount *mounts; /* owned */
        size_t n;
};

/* Pure: the mounts a /proc/PID/mounts text lists ("DEVICE MOUNT_POINT TYPE
 * OPTIONS ..."), read as node_exporter 1.5 does: fields split at white
 * space as Go's strings.Fields does; \040 and \011 decoded in the mount
 * point (only: the kernel's \012 and \134 stay as written, and so does the
 * device); rootfs (NULL or "/": none) taken off the front of a mount point
 * that starts with it ("/" when nothing is left).  -EINVAL when a line has
 * fewer than four fields (an empty line too), is 64 KiB or longer, or the
 * text holds a NUL byte; -ENOMEM. */
_must_check_ int node_filesystem_parse_mounts(const char *text, size_t len, const char *rootfs,
                                              struct node_filesystem_mounts *ret);
void node_filesystem_mounts_done(struct node_filesystem_mounts *m);

/* One scrape: read PROCFS/1/mounts (PROCFS/mounts when it is missing),
 * leave out the excluded mount points and types and the repeated
 * (device, fstype, mountpoint), ask w for the statfs of ROOTFS/MOUNT_POINT
 * of the rest, and write the families, each sorted as node_exporter sorts
 * them.  A mount whose statfs failed or is stuck has device_error 1 and no
 * other series; one whose first statfs has not answered yet, none. */
int node_filesystem_write(struct expo *e, const struct metrics_source *src,
                          struct statfs_worker *w);

extern const struct collector node_filesystem_collector;
