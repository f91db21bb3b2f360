/* node-diskstats.c: node_disk_* from /proc/diskstats, one pass over the text
 * and one growing array, and from each kept disk's udev database file.
 * Values are node_exporter's to the bit: sectors x 512.0 bytes, ticks x
 * (1.0 / 1000.0) seconds, the same double operations Go does.  A family is
 * written only when a disk has a sample in it, in node_exporter's order. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fileio.h"
#include "filter.h"
#include "macro.h"
#include "node-diskstats.h"
#include "proctext.h"

/* bytes: a line is about 120, so room for 100,000 devices */
#define NODE_DISKSTATS_FILE_MAX (16u << 20)
/* bytes: a udev database file is a few KiB */
#define NODE_DISKSTATS_UDEV_MAX (1u << 20)
/* bytes: node_exporter's line reader (bufio.Scanner) fails on longer lines */
#define NODE_DISKSTATS_LINE_MAX (64u << 10)
/* node_exporter reads major, minor, name and 17 values with Sscanf */
#define NODE_DISKSTATS_FIELDS 20

static size_t digits(const char *s, size_t n) {
        size_t i = 0;

        while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
        return i;
}

/* "   8       0 sda 1 2 ... 17": 1 with *d, 0 for a line of fewer than 14
 * fields, -EINVAL.  Sscanf reads the 20th number up to its last digit and
 * ignores what follows; every other field must end where it does. */
static int parse_line(struct proctext line, struct node_diskstats *d) {
        char *f, *name = NULL;
        size_t n, name_len = 0;
        unsigned count = 0;
        uint64_t x;

        for (; count < NODE_DISKSTATS_FIELDS && proctext_field(&line, &f, &n); count++) {
                if (count == 2) {
                        name = f;
                        name_len = n;
                        continue;
                }
                if (count == NODE_DISKSTATS_FIELDS - 1)
                        n = digits(f, n);
                if (!proctext_u64(f, n, &x) || (count < 2 && x > UINT32_MAX))
                        return -EINVAL;
                if (count == 0)
                        d->major = (uint32_t)x;
                else if (count == 1)
                        d->minor = (uint32_t)x;
                else
                        d->v[count - 3] = x;
        }
        if (count < 14)
                return 0;
        if (memchr(name, 0, name_len))
                return -EINVAL;
        name[name_len] = 0; /* a separator: fields follow */
        d->device = name;
        d->n = count - 3;
        return 1;
}

_Static_assert(offsetof(struct node_diskstats, device) == 0, "proctext_sort_names() reads it");

int node_diskstats_parse(char *text, size_t len, struct node_diskstats **ret, size_t *ret_n) {
        _cleanup_free_ struct node_diskstats *v = NULL;
        struct proctext t = proctext_make(text, len), line;
        size_t n = 0, cap = 0;
        int r;

        while (proctext_line(&t, &line)) {
                struct node_diskstats *grown = proctext_grow(v, &cap, n, sizeof *v);
                if (!grown)
                        return -ENOMEM;
                v = grown;
                if ((size_t)(line.end - line.p) >= NODE_DISKSTATS_LINE_MAX)
                        return -EINVAL;
                v[n] = (struct node_diskstats){};
                if ((r = parse_line(line, &v[n])) < 0)
                        return r;
                n += (size_t)r;
        }
        /* node_exporter's registry keeps the first sample of a series. */
        n = proctext_sort_names(v, n, sizeof *v, false);
        *ret = n ? TAKE_PTR(v) : NULL;
        *ret_n = n;
        return 0;
}

static const char *const udev_keys[NODE_UDEV_N] = {
        [NODE_UDEV_ID_PATH] = "ID_PATH",
        [NODE_UDEV_ID_WWN] = "ID_WWN",
        [NODE_UDEV_ID_MODEL] = "ID_MODEL",
        [NODE_UDEV_ID_SERIAL_SHORT] = "ID_SERIAL_SHORT",
        [NODE_UDEV_ID_REVISION] = "ID_REVISION",
        [NODE_UDEV_ID_FS_TYPE] = "ID_FS_TYPE",
        [NODE_UDEV_ID_FS_USAGE] = "ID_FS_USAGE",
        [NODE_UDEV_ID_FS_UUID] = "ID_FS_UUID",
        [NODE_UDEV_ID_FS_VERSION] = "ID_FS_VERSION",
        [NODE_UDEV_DM_NAME] = "DM_NAME",
        [NODE_UDEV_DM_UUID] = "DM_UUID",
        [NODE_UDEV_DM_VG_NAME] = "DM_VG_NAME",
        [NODE_UDEV_DM_LV_NAME] = "DM_LV_NAME",
        [NODE_UDEV_DM_LV_LAYER] = "DM_LV_LAYER",
        [NODE_UDEV_ID_ATA] = "ID_ATA",
        [NODE_UDEV_ID_ATA_WRITE_CACHE] = "ID_ATA_WRITE_CACHE",
        [NODE_UDEV_ID_ATA_WRITE_CACHE_ENABLED] = "ID_ATA_WRITE_CACHE_ENABLED",
        [NODE_UDEV_ID_ATA_ROTATION_RATE_RPM] = "ID_ATA_ROTATION_RATE_RPM",
};

void node_diskstats_parse_udev(char *text, size_t len, const char *ret[static NODE_UDEV_N]) {
        struct proctext t = proctext_make(text, len), line;

        for (size_t k = 0; k < NODE_UDEV_N; k++)
                ret[k] = NULL;
        while (proctext_line(&t, &line)) {
                size_t n = (size_t)(line.end - line.p);
                char *key, *eq;
                if (n >= NODE_DISKSTATS_LINE_MAX)
                        return;
                if (n < 2 || memcmp(line.p, "E:", 2) != 0)
                        continue;
                key = line.p + 2;
                if (!(eq = memchr(key, '=', n - 2)))
                        continue;
                for (size_t k = 0; k < NODE_UDEV_N; k++)
                        if (strlen(udev_keys[k]) == (size_t)(eq - key) &&
                            memcmp(udev_keys[k], key, (size_t)(eq - key)) == 0) {
                                *line.end = 0; /* the \r, \n or NUL after the line */
                                ret[k] = eq + 1;
                                break;
                        }
        }
}

static bool is_digit(char c, bool hex) {
        return (c >= '0' && c <= '9') ||
               (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
}

/* Go's rule for _: between two digits, or between the 0x prefix and one. */
static bool underscores_ok(const char *s, bool hex) {
        for (const char *p = s; *p; p++)
                if (*p == '_' && !((p > s && (is_digit(p[-1], hex) || (hex && p == s + 2))) &&
                                   is_digit(p[1], hex)))
                        return false;
        return true;
}

bool node_diskstats_parse_float(const char *s, double *ret) {
        const char *p = s + (*s == '+' || *s == '-');
        char buf[256], *end;
        bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
        size_t n = 0;
        double v;

        if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 ||
            (p == s && strcasecmp(p, "nan") == 0)) {
                *ret = *p == 'n' || *p == 'N' ? NAN : *s == '-' ? -INFINITY : INFINITY;
                return true;
        }
        /* strtod() would also take leading space, nan(...) and 0x1 */
        if (!(is_digit(*p, false) || *p == '.') || (hex && !strpbrk(p, "pP")) ||
            !underscores_ok(p, hex))
                return false;
        for (; *s; s++)
                if (*s != '_') {
                        if (n + 1 >= sizeof buf)
                                return false;
                        buf[n++] = *s;
                }
        buf[n] = 0;
        errno = 0;
        v = strtod(buf, &end);
        if (*end || (errno == ERANGE && isinf(v)))
                return false;
        *ret = v;
        return true;
}

/* A kept disk: its line, and its udev properties (in udev_text, owned). */
struct disk {
        const struct node_diskstats *stats;
        char *udev_text;
        const char *udev[NODE_UDEV_N];
        char major[12], minor[12];
};

static void disks_free(struct disk *d, size_t n) {
        for (size_t i = 0; d && i < n; i++)
                free(d[i].udev_text);
        free(d);
}

/* What a label says: a udev property, or one of these. */
enum {
        LABEL_MAJOR = NODE_UDEV_N,
        LABEL_MINOR,
        NO_GATE, /* an info family every disk has a sample in */
};

static const char *label_value(const struct disk *d, unsigned k) {
        if (k == LABEL_MAJOR || k == LABEL_MINOR)
                return k == LABEL_MAJOR ? d->major : d->minor;
        return d->udev[k] ? d->udev[k] : "";
}

/* The labels of an info family after device, in the order of their names
 * (node_exporter's). */
struct label {
        const char *name;
        unsigned k; /* a udev property, LABEL_MAJOR or LABEL_MINOR */
};
static const struct label disk_labels[] = {
        {"major", LABEL_MAJOR},
        {"minor", LABEL_MINOR},
        {"model", NODE_UDEV_ID_MODEL},
        {"path", NODE_UDEV_ID_PATH},
        {"revision", NODE_UDEV_ID_REVISION},
        {"serial", NODE_UDEV_ID_SERIAL_SHORT},
        {"wwn", NODE_UDEV_ID_WWN},
        {},
};
static const struct label filesystem_labels[] = {
        {"type", NODE_UDEV_ID_FS_TYPE},
        {"usage", NODE_UDEV_ID_FS_USAGE},
        {"uuid", NODE_UDEV_ID_FS_UUID},
        {"version", NODE_UDEV_ID_FS_VERSION},
        {},
};
static const struct label device_mapper_labels[] = {
        {"lv_layer", NODE_UDEV_DM_LV_LAYER}, {"lv_name", NODE_UDEV_DM_LV_NAME},
        {"name", NODE_UDEV_DM_NAME},         {"uuid", NODE_UDEV_DM_UUID},
        {"vg_name", NODE_UDEV_DM_VG_NAME},   {},
};
#define LABELS_MAX 8 /* pairs, device's included */

/* What a family's samples are. */
enum kind {
        KIND_VALUE, /* a value of the line, times scale, when the line has it */
        KIND_INFO,  /* 1 and labels, when the gate property is not empty */
        KIND_ATA,   /* an ATA property, when udev says ATA and the value reads */
};

#define SECONDS_PER_TICK (1.0 / 1000.0) /* exactly node_exporter's constant */
#define VALUE(name, help, type, i, scale)                                                          \
        { name, help, type, KIND_VALUE, i, scale, NULL }
#define INFO(name, help, gate, labels)                                                             \
        { name, help, EXPO_GAUGE, KIND_INFO, gate, 1, labels }
#define ATA(name, help, property)                                                                  \
        { name, help, EXPO_GAUGE, KIND_ATA, property, 1, NULL }

/* node_exporter's families, in the order it writes them (by name). */
static const struct family {
        const char *name, *help;
        enum expo_type type;
        enum kind kind;
        unsigned i; /* VALUE: of node_diskstats.v; INFO: the gate; ATA: the property */
        double scale;
        const struct label *labels;
} families[] = {
        ATA("node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs).",
            NODE_UDEV_ID_ATA_ROTATION_RATE_RPM),
        ATA("node_disk_ata_write_cache", "ATA disk has a write cache.",
            NODE_UDEV_ID_ATA_WRITE_CACHE),
        ATA("node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled.",
            NODE_UDEV_ID_ATA_WRITE_CACHE_ENABLED),
        INFO("node_disk_device_mapper_info", "Info about disk device mapper.", NODE_UDEV_DM_NAME,
             device_mapper_labels),
        VALUE("node_disk_discard_time_seconds_total",
              "This is the total number of seconds spent by all discards.", EXPO_COUNTER,
              NODE_DISKSTATS_DISCARD_MS, SECONDS_PER_TICK),
        VALUE("node_disk_discarded_sectors_total",
              "The total number of sectors discarded successfully.", EXPO_COUNTER,
              NODE_DISKSTATS_SECTORS_DISCARDED, 1),
        VALUE("node_disk_discards_completed_total",
              "The total number of discards completed successfully.", EXPO_COUNTER,
              NODE_DISKSTATS_DISCARDS_COMPLETED, 1),
        VALUE("node_disk_discards_merged_total", "The total number of discards merged.",
              EXPO_COUNTER, NODE_DISKSTATS_DISCARDS_MERGED, 1),
        INFO("node_disk_filesystem_info", "Info about disk filesystem.", NODE_UDEV_ID_FS_TYPE,
             filesystem_labels),
        VALUE("node_disk_flush_requests_time_seconds_total",
              "This is the total number of seconds spent by all flush requests.", EXPO_COUNTER,
              NODE_DISKSTATS_FLUSH_MS, SECONDS_PER_TICK),
        VALUE("node_disk_flush_requests_total",
              "The total number of flush requests completed successfully", EXPO_COUNTER,
              NODE_DISKSTATS_FLUSHES_COMPLETED, 1),
        INFO("node_disk_info", "Info of /sys/block/<block_device>.", NO_GATE, disk_labels),
        VALUE("node_disk_io_now", "The number of I/Os currently in progress.", EXPO_GAUGE,
              NODE_DISKSTATS_IOS_IN_PROGRESS, 1),
        VALUE("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", EXPO_COUNTER,
              NODE_DISKSTATS_IO_MS, SECONDS_PER_TICK),
        VALUE("node_disk_io_time_weighted_seconds_total",
              "The weighted # of seconds spent doing I/Os.", EXPO_COUNTER,
              NODE_DISKSTATS_WEIGHTED_IO_MS, SECONDS_PER_TICK),
        VALUE("node_disk_read_bytes_total", "The total number of bytes read successfully.",
              EXPO_COUNTER, NODE_DISKSTATS_SECTORS_READ, 512.0),
        VALUE("node_disk_read_time_seconds_total",
              "The total number of seconds spent by all reads.", EXPO_COUNTER,
              NODE_DISKSTATS_READ_MS, SECONDS_PER_TICK),
        VALUE("node_disk_reads_completed_total",
              "The total number of reads completed successfully.", EXPO_COUNTER,
              NODE_DISKSTATS_READS_COMPLETED, 1),
        VALUE("node_disk_reads_merged_total", "The total number of reads merged.", EXPO_COUNTER,
              NODE_DISKSTATS_READS_MERGED, 1),
        VALUE("node_disk_write_time_seconds_total",
              "This is the total number of seconds spent by all writes.", EXPO_COUNTER,
              NODE_DISKSTATS_WRITE_MS, SECONDS_PER_TICK),
        VALUE("node_disk_writes_completed_total",
              "The total number of writes completed successfully.", EXPO_COUNTER,
              NODE_DISKSTATS_WRITES_COMPLETED, 1),
        VALUE("node_disk_writes_merged_total", "The number of writes merged.", EXPO_COUNTER,
              NODE_DISKSTATS_WRITES_MERGED, 1),
        VALUE("node_disk_written_bytes_total", "The total number of bytes written successfully.",
              EXPO_COUNTER, NODE_DISKSTATS_SECTORS_WRITTEN, 512.0),
};

/* Whether disk d has a sample in family f: its labels (name, value, ...,
 * NULL) and value. */
static bool sample(const struct family *f, const struct disk *d,
                   const char *l[static 2 * LABELS_MAX + 1], double *ret) {
        size_t n = 0;

        l[n++] = "device";
        l[n++] = d->stats->device;
        switch (f->kind) {
        case KIND_VALUE:
                if (f->i >= d->stats->n)
                        return false;
                *ret = (double)d->stats->v[f->i] * f->scale;
                break;
        case KIND_INFO:
                if (f->i != NO_GATE && !*label_value(d, f->i))
                        return false;
                for (const struct label *x = f->labels; x->name && n < 2 * LABELS_MAX; x++) {
                        l[n++] = x->name;
                        l[n++] = label_value(d, x->k);
                }
                *ret = 1;
                break;
        case KIND_ATA:
                if (!*label_value(d, NODE_UDEV_ID_ATA) || !d->udev[f->i] ||
                    !node_diskstats_parse_float(d->udev[f->i], ret))
                        return false;
                break;
        }
        l[n] = NULL;
        return true;
}

/* The udev database's file for a disk, read and parsed; none when it cannot
 * be read (node_exporter writes the disk without its udev labels then). */
static void read_udev(struct disk *d, const char *rootfs) {
        char path[4096];
        size_t len;

        if (snprintf(path, sizeof path, "%s/run/udev/data/b%s:%s", rootfs, d->major, d->minor) >=
                    (int)sizeof path ||
            fileio_read(path, NODE_DISKSTATS_UDEV_MAX, 0, &d->udev_text, &len) < 0)
                return;
        node_diskstats_parse_udev(d->udev_text, len, d->udev);
}

static void write_families(struct expo *e, const struct disk *disks, size_t n) {
        const char *labels[2 * LABELS_MAX + 1];
        double v;

        for (size_t f = 0; f < ELEMENTSOF(families); f++) {
                bool any = false;
                for (size_t i = 0; i < n; i++) {
                        if (!sample(&families[f], &disks[i], labels, &v))
                                continue;
                        if (!any)
                                expo_family(e, families[f].name, families[f].type,
                                            families[f].help);
                        any = true;
                        expo_sample(e, labels, v);
                }
        }
}

static int collect(struct expo *e, const struct metrics_source *src) {
        _cleanup_free_ char *path = collector_path(src->procfs, "diskstats"), *text = NULL;
        _cleanup_free_ struct node_diskstats *stats = NULL;
        struct disk *disks = NULL;
        size_t len = 0, n = 0, k = 0;
        int r;

        if (!path)
                return -ENOMEM;
        r = fileio_read(path, NODE_DISKSTATS_FILE_MAX, 0, &text, &len);
        if (r >= 0)
                r = node_diskstats_parse(text, len, &stats, &n);
        if (r < 0)
                return r;
        if (n && !(disks = calloc(n, sizeof *disks)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct disk *d = &disks[k];
                if (src->diskstats_device_exclude &&
                    filter_match(src->diskstats_device_exclude, stats[i].device))
                        continue;
                d->stats = &stats[i];
                snprintf(d->major, sizeof d->major, "%" PRIu32, stats[i].major);
                snprintf(d->minor, sizeof d->minor, "%" PRIu32, stats[i].minor);
                read_udev(d, src->rootfs);
                k++;
        }
        write_families(e, disks, k);
        disks_free(disks, k);
        return 0;
}

const struct collector node_diskstats_collector = {"diskstats", collect};
