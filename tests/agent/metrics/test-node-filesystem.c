/* test-node-filesystem.c: /proc/1/mounts read as node_exporter 1.5 reads it,
 * the families written from it (exclusions, repeats, order, failures), and
 * a scrape while one mount's statfs hangs: it stays under its bound, the
 * mount is left out, then stuck (device_error 1 and nothing else), the
 * others are written all along, and it comes back when the hang ends. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"
#include "expo.h"
#include "fake-statfs.h"
#include "fileio.h"
#include "filter.h"
#include "macro.h"
#include "node-filesystem.h"
#include "statfs-worker.h"
#include "test.h"

/* What a scrape may take of the loop, as checked: the worker's wait (5 ms)
 * and 20 ms for a loaded machine running the sanitizers. */
#define BOUND_MS (STATFS_WORKER_WAIT_USEC / 1000.0 + 20.0)

static struct node_filesystem_mounts m;

static int parse(const char *text, const char *rootfs) {
        node_filesystem_mounts_done(&m);
        return node_filesystem_parse_mounts(text, strlen(text), rootfs, &m);
}

static bool mount_is(size_t i, const char *device, const char *mount_point, const char *fs_type,
                     bool readonly) {
        return i < m.n && streq_ptr(m.mounts[i].device, device) &&
               streq_ptr(m.mounts[i].mount_point, mount_point) &&
               streq_ptr(m.mounts[i].fs_type, fs_type) && m.mounts[i].readonly == readonly;
}

static void test_parse(void) {
        char long_line[70000];

        CHECK("a kernel's lines", parse("/dev/nvme0n1p1 / xfs rw,noatime 0 0\n"
                                        "proc /proc proc rw,nosuid 0 0\n",
                                        NULL) == 0 &&
                                          m.n == 2 &&
                                          mount_is(0, "/dev/nvme0n1p1", "/", "xfs", false) &&
                                          mount_is(1, "proc", "/proc", "proc", false));
        CHECK("ro among the options, and only ro",
              parse("a /a ext4 rw,ro 0 0\nb /b ext4 rox,noro,r 0 0\nc /c ext4 ro\n", NULL) == 0 &&
                      mount_is(0, "a", "/a", "ext4", true) &&
                      mount_is(1, "b", "/b", "ext4", false) &&
                      mount_is(2, "c", "/c", "ext4", true));
        CHECK("\\040 and \\011 decoded in the mount point, \\012 and \\134 kept, as 1.5 does",
              parse("s\\040x /a\\040b\\011c\\012d\\134e\\\\040 nfs4 rw 0 0\n", NULL) == 0 &&
                      mount_is(0, "s\\040x", "/a b\tc\\012d\\134e\\ ", "nfs4", false));
        CHECK("fields split at any white space, Go's Unicode spaces too",
              parse("  d\t/m \v\f t\r o\r\nd /a\xc2\xa0x ext4 rw\nd /b\xe2\x80\x8ay ext4 rw\n"
                    "d /c\xe2\x80\x8bz ext4 rw 0 0\n",
                    NULL) == 0 &&
                      mount_is(0, "d", "/m", "t", false) && mount_is(1, "d", "/a", "x", false) &&
                      mount_is(2, "d", "/b", "y", false) &&
                      mount_is(3, "d", "/c\xe2\x80\x8bz", "ext4", false));
        CHECK("the rootfs taken off the front, as a plain prefix",
              parse("a /host/data x rw\nb /host x rw\nc /hostile x rw\nd /other x rw\n", "/host") ==
                              0 &&
                      mount_is(0, "a", "/data", "x", false) && mount_is(1, "b", "/", "x", false) &&
                      mount_is(2, "c", "ile", "x", false) &&
                      mount_is(3, "d", "/other", "x", false));
        CHECK("rootfs / left as it is",
              parse("a /data x rw\n", "/") == 0 && mount_is(0, "a", "/data", "x", false));
        CHECK("no mounts", parse("", NULL) == 0 && m.n == 0);
        CHECK("a last line without its newline", parse("a /a x rw", NULL) == 0 && m.n == 1);
        CHECK_INTEQ("three fields", parse("a /a x\n", NULL), -EINVAL);
        CHECK_INTEQ("an empty line", parse("a /a x rw\n\nb /b x rw\n", NULL), -EINVAL);
        CHECK_INTEQ("a line of spaces", parse("a /a x rw\n \t\n", NULL), -EINVAL);
        CHECK_INTEQ("a NUL byte", node_filesystem_parse_mounts("a /a x rw\0", 10, NULL, &m),
                    -EINVAL);
        memset(long_line, 'x', sizeof long_line);
        memcpy(long_line, "a /a x ", 7);
        long_line[65535] = 0;
        CHECK("a line of 65535 bytes", parse(long_line, NULL) == 0 && m.n == 1);
        long_line[65535] = 'x';
        long_line[65536] = 0;
        CHECK_INTEQ("a line of 64 KiB, which Go's scanner refuses", parse(long_line, NULL),
                    -EINVAL);
        node_filesystem_mounts_done(&m);
}

static char dir[] = "/tmp/test-node-filesystem-XXXXXX";

static void write_mounts(const char *file, const char *text) {
        _cleanup_free_ char *path = NULL, *proc = collector_path(dir, "proc/1");
        FILE *f;

        mkdir(proc, 0700);
        if (asprintf(&path, "%s/proc/%s", dir, file) < 0 || !(f = fopen(path, "w")))
                abort();
        fputs(text, f);
        fclose(f);
}

/* One scrape's text (malloc'd), timed (*ms); NULL when the collector failed (*r). */
static char *scrape(const struct metrics_source *src, struct statfs_worker *w, double *ms, int *r) {
        struct expo e;
        char *out = NULL;
        size_t len;
        double t0 = fake_now_ms();

        expo_init(&e, EXPO_TEXT);
        *r = node_filesystem_write(&e, src, w);
        *ms = fake_now_ms() - t0;
        if (*r < 0 || expo_finish(&e, &out, &len) < 0)
                out = mfree(out);
        expo_done(&e);
        return out;
}

#define SERIES(name, device, fstype, mp, value)                                                    \
        "node_filesystem_" name "{device=\"" device "\",fstype=\"" fstype "\",mountpoint=\"" mp    \
        "\"} " value "\n"
#define FAMILY(name, help)                                                                         \
        "# HELP node_filesystem_" name " " help "\n# TYPE node_filesystem_" name " gauge\n"
#define BOTH(name, a, b)                                                                           \
        SERIES(name, "/dev/a", "xfs", "/", a) SERIES(name, "/dev/b", "ext4", "/data", b)

static const char expected[] = FAMILY("avail_bytes",
                                      "Filesystem space available to non-root users in bytes.")
        BOTH("avail_bytes", "2.048e+06", "2.048e+06") FAMILY(
                "device_error",
                "Whether an error occurred while getting statistics for the given device.")
                BOTH("device_error", "0", "0") SERIES("device_error", "/dev/c", "ext4", "/missing",
                                                      "1") FAMILY("files",
                                                                  "Filesystem total file nodes.")
                        BOTH("files", "100", "100") FAMILY("files_free",
                                                           "Filesystem total free file nodes.")
                                BOTH("files_free", "50",
                                     "50") FAMILY("free_bytes", "Filesystem free space in bytes.")
                                        BOTH("free_bytes", "2.4576e+06", "2.4576e+06")
                                                FAMILY("readonly", "Filesystem read-only status.")
                                                        BOTH("readonly", "1", "0")
                                                                FAMILY("size_bytes",
                                                                       "Filesystem size in bytes.")
                                                                        BOTH("size_bytes",
                                                                             "4.096e+06",
                                                                             "4.096e+06");

static void test_write(struct metrics_source *src) {
        struct statfs_worker_options opts = {.statfs = fake_statfs, .wait_usec = 2000000};
        _cleanup_(statfs_worker_freep) struct statfs_worker *w = NULL;
        _cleanup_free_ char *out = NULL, *none = NULL, *empty = NULL;
        _cleanup_free_ char *p1 = collector_path(dir, "proc/1/mounts");
        double ms;
        int r;

        CHECK_INTEQ("a worker", statfs_worker_new(&w, &opts), 0);
        write_mounts("1/mounts", "/dev/b /data ext4 rw 0 0\n"
                                 "/dev/a / xfs ro,noatime 0 0\n"
                                 "/dev/c /missing ext4 rw 0 0\n"
                                 "proc /proc proc rw 0 0\n"
                                 "/dev/d /var/lib/ecs/data ext4 rw 0 0\n"
                                 "/dev/b /data ext4 ro 0 0\n"
                                 "/dev/e /caf\xe9 ext4 rw 0 0\n"
                                 "/dev/a / xfs ro,noatime 0 0\n");
        out = scrape(src, w, &ms, &r);
        CHECK_STREQ("the families, sorted; excluded mounts, repeats (the first one kept) and "
                    "labels not UTF-8 left out; a failed statfs as device_error 1 alone",
                    out, expected);
        unlink(p1);
        write_mounts("mounts", "/dev/b /data ext4 rw 0 0\n");
        none = scrape(src, w, &ms, &r);
        CHECK("PROCFS/mounts when PROCFS/1/mounts is missing",
              none && strstr(none, SERIES("size_bytes", "/dev/b", "ext4", "/data", "4.096e+06")));
        write_mounts("mounts", "");
        empty = scrape(src, w, &ms, &r);
        CHECK("no mounts, no families", empty && !*empty);
        write_mounts("mounts", "a b c\n");
        CHECK("a line it cannot read fails the collector",
              !scrape(src, w, &ms, &r) && r == -EINVAL);
        write_mounts("1/mounts", "");
}

static bool has(const char *text, const char *s) {
        return text && strstr(text, s);
}

static size_t count(const char *text, const char *s) {
        size_t n = 0;

        for (const char *p = text; p && (p = strstr(p, s)); p++)
                n++;
        return n;
}

/* Scrape until the text has want and not wont (NULL: no such), at most 2 s. */
static bool scrape_until(const struct metrics_source *src, struct statfs_worker *w,
                         const char *want, const char *wont) {
        for (int i = 0; i < 200; i++, usleep(10000)) {
                _cleanup_free_ char *out = NULL;
                double ms;
                int r;
                out = scrape(src, w, &ms, &r);
                if (has(out, want) && !(wont && has(out, wont)))
                        return true;
        }
        return false;
}

#define A_SIZE SERIES("size_bytes", "/dev/a", "ext4", "/a", "4.096e+06")
#define B_SIZE SERIES("size_bytes", "/dev/b", "ext4", "/b", "4.096e+06")
#define HUNG "mountpoint=\"/hung\""
#define HUNG_ERROR(v) SERIES("device_error", "srv:/x", "nfs4", "/hung", v)
#define HUNG_SIZE SERIES("size_bytes", "srv:/x", "nfs4", "/hung", "4.096e+06")

static void test_stall(struct metrics_source *src) {
        struct statfs_worker_options opts = {.statfs = fake_statfs, .stuck_usec = 200000};
        _cleanup_(statfs_worker_freep) struct statfs_worker *w = NULL;
        _cleanup_free_ char *first = NULL, *stuck = NULL;
        double ms, worst = 0;
        unsigned long calls;
        int r;

        CHECK_INTEQ("a worker with the loop's wait", statfs_worker_new(&w, &opts), 0);
        write_mounts("1/mounts", "/dev/a /a ext4 rw 0 0\n/dev/b /b ext4 rw 0 0\n");
        CHECK("two mounts written", scrape_until(src, w, B_SIZE, NULL));
        fake_hang(true);
        write_mounts("1/mounts",
                     "/dev/a /a ext4 rw 0 0\nsrv:/x /hung nfs4 rw 0 0\n/dev/b /b ext4 rw 0 0\n");
        first = scrape(src, w, &ms, &r);
        printf("# the scrape that started the hung statfs took %.2f ms (bound %.0f)\n", ms,
               BOUND_MS);
        CHECK("a scrape with a statfs hung returns within its bound", r == 0 && ms < BOUND_MS);
        CHECK("the hung statfs is blocked", fake_wait_in_hang(1));
        CHECK("a mount with no answer yet is left out", first && !has(first, HUNG));
        CHECK("the others are written", has(first, A_SIZE) && has(first, B_SIZE));
        usleep(250000);
        for (int i = 0; i<5; i++, worst = ms> worst ? ms : worst)
                free(stuck), stuck = scrape(src, w, &ms, &r);
        printf("# the slowest of five scrapes while it is stuck took %.2f ms\n", worst);
        CHECK("scrapes while it is stuck stay within the bound", worst < BOUND_MS);
        CHECK("the stuck mount has device_error 1", has(stuck, HUNG_ERROR("1")));
        CHECK("and no other series", count(stuck, HUNG) == 1);
        CHECK("the others are written", has(stuck, A_SIZE) && has(stuck, B_SIZE));
        calls = fake_count();
        CHECK("their statfs goes on while it hangs",
              scrape_until(src, w, A_SIZE, NULL) && fake_count() > calls && fake_wait_in_hang(1));
        fake_hang(false);
        CHECK("the mount comes back when its statfs returns",
              scrape_until(src, w, HUNG_SIZE, HUNG_ERROR("1")) && fake_wait_in_hang(0));
}

int main(void) {
        _cleanup_(filter_freep) struct filter *mount_points = NULL, *fs_types = NULL;
        _cleanup_free_ char *procfs = NULL;
        struct metrics_source src = {};

        test_parse();
        if (!mkdtemp(dir) || !(procfs = collector_path(dir, "proc")) || mkdir(procfs, 0700) < 0)
                return 1;
        CHECK("the filters", filter_new(&mount_points, "^/(proc|var/lib/ecs/.+)($|/)", NULL) == 0 &&
                                     filter_new(&fs_types, "^proc$", NULL) == 0);
        src = (struct metrics_source){.procfs = procfs,
                                      .rootfs = "/r",
                                      .mount_points_exclude = mount_points,
                                      .fs_types_exclude = fs_types};
        test_write(&src);
        test_stall(&src);
        for (size_t i = 0; i < 4; i++) {
                static const char *const made[] = {"proc/1/mounts", "proc/mounts", "proc/1",
                                                   "proc"};
                _cleanup_free_ char *p = collector_path(dir, made[i]);
                if (p)
                        (void)remove(p);
        }
        rmdir(dir);
        return test_done();
}
