/* node-filesystem.c: node_filesystem_* from /proc/1/mounts and statfs(2), as
 * node_exporter 1.5 writes them.  The parse is pure; the statfs calls go to
 * the collector's statfs worker, so the scrape, which runs on the loop,
 * never waits on a mount longer than the worker's bounded wait. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "fileio.h"
#include "filter.h"
#include "macro.h"
#include "node-filesystem.h"
#include "statfs-worker.h"

#define NODE_FILESYSTEM_LINE_MAX 65535        /* bytes: Go's bufio.Scanner fails on a longer line */
#define NODE_FILESYSTEM_MOUNTS_MAX (4U << 20) /* bytes: 1000 containers write about 2 MB */

/* The length of the white space Go's unicode.IsSpace sees at p (before
 * end), or 0: ASCII's six, and U+0085, U+00A0, U+1680, U+2000..U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000 in UTF-8.  (A lead byte never
 * occurs inside another character, so matching the bytes anywhere finds
 * what Go's rune by rune decoding finds.)  Called on every byte: ASCII and
 * the other lead bytes are answered first. */
static size_t space_at(const char *p, const char *end) {
        static const char *const wide[] = {"\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80",
                                           "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
                                           "\xe2\x81\x9f", "\xe3\x80\x80"};
        unsigned char c = (unsigned char)*p;
        size_t left = (size_t)(end - p);

        if (c < 0x80)
                return c == ' ' || (c >= '\t' && c <= '\r');
        if (c != 0xc2 && (c < 0xe1 || c > 0xe3))
                return 0;
        if (left >= 3 && memcmp(p, "\xe2\x80", 2) == 0 && (unsigned char)p[2] >= 0x80 &&
            (unsigned char)p[2] <= 0x8a)
                return 3;
        for (size_t i = 0; i < ELEMENTSOF(wide); i++) {
                size_t n = strlen(wide[i]);
                if (left >= n && memcmp(p, wide[i], n) == 0)
                        return n;
        }
        return 0;
}

/* Split [p, end) in place at white space, NUL-terminating the fields (*end
 * must be writable): how many there are; the first four in f. */
static size_t split(char *p, char *end, char *f[static 4]) {
        size_t n = 0, s;

        *end = 0;
        while (p < end) {
                if ((s = space_at(p, end)) > 0) {
                        *p = 0;
                        p += s;
                        continue;
                }
                if (n < 4)
                        f[n] = p;
                n++;
                /* printable ASCII, most of the text, without the call */
                while (p < end && ((*p > ' ' && *p < 0x7f) || space_at(p, end) == 0))
                        p++;
        }
        return n;
}

/* \040 and \011, and no other escape, as node_exporter 1.5 decodes them. */
static void unescape(char *s) {
        char *out = s;

        for (const char *p = s; *p;)
                if (*p == '\\' && (strncmp(p, "\\040", 4) == 0 || strncmp(p, "\\011", 4) == 0)) {
                        *out++ = p[2] == '4' ? ' ' : '\t';
                        p += 4;
                } else
                        *out++ = *p++;
        *out = 0;
}

static bool has_ro(const char *options) {
        for (const char *p = options;; p++) {
                size_t n = strcspn(p, ",");
                if (n == 2 && memcmp(p, "ro", 2) == 0)
                        return true;
                p += n;
                if (!*p)
                        return false;
        }
}

/* node_exporter's rootfsStripPrefix: a plain prefix, not a path. */
static const char *strip_rootfs(const char *mount_point, const char *rootfs) {
        size_t n = rootfs ? strlen(rootfs) : 0;

        if (n == 0 || strcmp(rootfs, "/") == 0 || strncmp(mount_point, rootfs, n) != 0)
                return mount_point;
        return mount_point[n] ? mount_point + n : "/";
}

void node_filesystem_mounts_done(struct node_filesystem_mounts *m) {
        free(m->text);
        free(m->mounts);
        *m = (struct node_filesystem_mounts){};
}

int node_filesystem_parse_mounts(const char *text, size_t len, const char *rootfs,
                                 struct node_filesystem_mounts *ret) {
        _cleanup_(node_filesystem_mounts_done) struct node_filesystem_mounts m = {};
        size_t cap = 0;
        char *end;

        if (memchr(text, 0, len))
                return -EINVAL;
        if (!(m.text = malloc(len + 1)))
                return -ENOMEM;
        memcpy(m.text, text, len);
        end = m.text + len;
        for (char *p = m.text, *eol; p < end; p = eol + 1) {
                char *f[4];
                eol = memchr(p, '\n', (size_t)(end - p)) ?: end;
                if (eol - p > NODE_FILESYSTEM_LINE_MAX || split(p, eol, f) < 4)
                        return -EINVAL;
                if (m.n == cap) {
                        struct node_filesystem_mount *a;
                        cap = cap ? cap * 2 : 16;
                        if (!(a = realloc(m.mounts, cap * sizeof *a)))
                                return -ENOMEM;
                        m.mounts = a;
                }
                unescape(f[1]);
                m.mounts[m.n++] = (struct node_filesystem_mount){
                        .device = f[0],
                        .mount_point = strip_rootfs(f[1], rootfs),
                        .fs_type = f[2],
                        .readonly = has_ro(f[3]),
                };
        }
        *ret = m;
        m = (struct node_filesystem_mounts){};
        return 0;
}

/* A mount to write. */
struct row {
        const struct node_filesystem_mount *m;
        size_t index; /* in the file: of equal labels, the first is written */
        struct statfs_worker_result r;
};

static int cmp_row(const void *a, const void *b) {
        const struct row *x = a, *y = b;
        int c;

        if ((c = strcmp(x->m->device, y->m->device)) != 0 ||
            (c = strcmp(x->m->fs_type, y->m->fs_type)) != 0 ||
            (c = strcmp(x->m->mount_point, y->m->mount_point)) != 0)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* The mounts to write, in rows (room for m->n), sorted by their labels as
 * the Go client sorts samples, each set of labels once (node_exporter
 * writes a repeat, whose series Prometheus' registry then drops as
 * collected before), none whose labels are not UTF-8 (a scraper may refuse
 * the whole text for one; node_exporter 1.5 panics on it): how many. */
static size_t select_rows(const struct metrics_source *src, const struct node_filesystem_mounts *m,
                          struct row *rows) {
        size_t n = 0, kept = 0;

        for (size_t i = 0; i < m->n; i++) {
                const struct node_filesystem_mount *mt = &m->mounts[i];
                if ((src->mount_points_exclude &&
                     filter_match(src->mount_points_exclude, mt->mount_point)) ||
                    (src->fs_types_exclude && filter_match(src->fs_types_exclude, mt->fs_type)) ||
                    !utf8_valid(mt->device) || !utf8_valid(mt->mount_point) ||
                    !utf8_valid(mt->fs_type))
                        continue;
                rows[n++] = (struct row){.m = mt, .index = i};
        }
        qsort(rows, n, sizeof *rows, cmp_row);
        for (size_t i = 0; i < n; i++)
                if (kept == 0 || strcmp(rows[i].m->device, rows[kept - 1].m->device) != 0 ||
                    strcmp(rows[i].m->fs_type, rows[kept - 1].m->fs_type) != 0 ||
                    strcmp(rows[i].m->mount_point, rows[kept - 1].m->mount_point) != 0)
                        rows[kept++] = rows[i];
        return kept;
}

/* The statfs of ROOTFS/MOUNT_POINT of each row, from w, in rows[].r. */
static int ask(const struct metrics_source *src, struct statfs_worker *w, struct row *rows,
               size_t n) {
        _cleanup_free_ char **paths = calloc(n + 1, sizeof *paths);
        _cleanup_free_ struct statfs_worker_result *res = calloc(n + 1, sizeof *res);
        int r = 0;

        if (!paths || !res)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++)
                if (!(paths[i] = collector_path(src->rootfs ?: "/", rows[i].m->mount_point)))
                        r = -ENOMEM;
        if (r >= 0)
                r = statfs_worker_ask(w, (const char *const *)paths, n, res);
        for (size_t i = 0; i < n; i++) {
                free(paths[i]);
                rows[i].r = res[i];
        }
        return r;
}

enum family {
        AVAIL,
        DEVICE_ERROR,
        FILES,
        FILES_FREE,
        FREE,
        READONLY,
        SIZE,
};

/* In node_exporter's order: its registry sorts the families by name. */
static const struct {
        const char *name, *help;
} families[] = {
        [AVAIL] = {"node_filesystem_avail_bytes",
                   "Filesystem space available to non-root users in bytes."},
        [DEVICE_ERROR] = {"node_filesystem_device_error",
                          "Whether an error occurred while getting statistics for the given "
                          "device."},
        [FILES] = {"node_filesystem_files", "Filesystem total file nodes."},
        [FILES_FREE] = {"node_filesystem_files_free", "Filesystem total free file nodes."},
        [FREE] = {"node_filesystem_free_bytes", "Filesystem free space in bytes."},
        [READONLY] = {"node_filesystem_readonly", "Filesystem read-only status."},
        [SIZE] = {"node_filesystem_size_bytes", "Filesystem size in bytes."},
};

/* Whether row has a sample in family f, and its value, computed in float64
 * as node_exporter does (blocks times block size). */
static bool sample(enum family f, const struct row *row, double *ret) {
        const struct statfs *st = &row->r.st;
        double bsize = (double)st->f_bsize;

        if (row->r.answer == STATFS_WORKER_NONE)
                return false;
        if (f == DEVICE_ERROR) {
                *ret = row->r.answer != STATFS_WORKER_OK;
                return true;
        }
        if (row->r.answer != STATFS_WORKER_OK)
                return false;
        *ret = f == AVAIL        ? (double)st->f_bavail * bsize
               : f == FILES      ? (double)st->f_files
               : f == FILES_FREE ? (double)st->f_ffree
               : f == FREE       ? (double)st->f_bfree * bsize
               : f == READONLY   ? row->m->readonly
                                 : (double)st->f_blocks * bsize;
        return true;
}

static void write_families(struct expo *e, const struct row *rows, size_t n) {
        static const char *const names[] = {"device", "fstype", "mountpoint"};

        for (enum family f = 0; f < ELEMENTSOF(families); f++) {
                bool started = false;
                for (size_t i = 0; i < n; i++) {
                        const char *values[] = {rows[i].m->device, rows[i].m->fs_type,
                                                rows[i].m->mount_point};
                        double v;
                        if (!sample(f, &rows[i], &v))
                                continue;
                        if (!started)
                                expo_family(e, families[f].name, EXPO_GAUGE, families[f].help);
                        started = true;
                        expo_samplev(e, names, values, ELEMENTSOF(names), v);
                }
        }
}

/* PROCFS/1/mounts, or PROCFS/mounts when that is missing (hidepid), as
 * node_exporter falls back. */
static int read_mounts(const struct metrics_source *src, struct node_filesystem_mounts *ret) {
        static const char *const files[] = {"1/mounts", "mounts"};
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = -ENOENT;

        for (size_t i = 0; i < ELEMENTSOF(files) && r == -ENOENT; i++) {
                _cleanup_free_ char *path = collector_path(src->procfs, files[i]);
                if (!path)
                        return -ENOMEM;
                r = fileio_read(path, NODE_FILESYSTEM_MOUNTS_MAX, 0, &text, &len);
        }
        if (r < 0)
                return r;
        return node_filesystem_parse_mounts(text, len, src->rootfs, ret);
}

int node_filesystem_write(struct expo *e, const struct metrics_source *src,
                          struct statfs_worker *w) {
        _cleanup_(node_filesystem_mounts_done) struct node_filesystem_mounts m = {};
        _cleanup_free_ struct row *rows = NULL;
        size_t n;
        int r;

        if ((r = read_mounts(src, &m)) < 0)
                return r;
        if (!(rows = calloc(m.n + 1, sizeof *rows)))
                return -ENOMEM;
        n = select_rows(src, &m, rows);
        if ((r = ask(src, w, rows, n)) < 0)
                return r;
        write_families(e, rows, n);
        return 0;
}

static void done(void *state) {
        statfs_worker_free(state);
}

/* The worker is made on the first scrape and kept in src. */
static int collect(struct expo *e, const struct metrics_source *src) {
        struct statfs_worker *w = collector_kept(src, &node_filesystem_collector);
        int r;

        if (!w) {
                if ((r = statfs_worker_new(&w, NULL)) < 0)
                        return r;
                if ((r = collector_keep(src, &node_filesystem_collector, w, done)) < 0) {
                        statfs_worker_free(w);
                        return r;
                }
        }
        return node_filesystem_write(e, src, w);
}

const struct collector node_filesystem_collector = {"filesystem", collect};
