/* test-tree.h: the collectors' tests on trees of files made for them: a
 * scratch directory standing for a host's /proc and /sys, files written
 * into it, one collector run on it, and the directory removed. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"
#include "expo.h"

/* A new scratch directory (malloc'd), or NULL. */
static inline char *test_tree_new(void) {
        char *dir = strdup("/tmp/hostd-test-tree-XXXXXX");

        if (dir && !mkdtemp(dir)) {
                free(dir);
                return NULL;
        }
        return dir;
}

/* Write root/path (its directories made) with text: 0 or -errno. */
static inline int test_tree_write(const char *root, const char *path, const char *text) {
        char full[4096];
        FILE *f;

        snprintf(full, sizeof full, "%s/%s", root, path);
        for (char *s = full + strlen(root) + 1; (s = strchr(s, '/')); s++) {
                *s = 0;
                if (mkdir(full, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        f = fopen(full, "w");
        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -errno;
}

/* The same with the path made as printf makes it. */
static inline int test_tree_writef(const char *root, const char *text, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static inline int test_tree_writef(const char *root, const char *text, const char *fmt, ...) {
        char path[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof path, fmt, ap);
        va_end(ap);
        return test_tree_write(root, path, text);
}

/* Remove root/path (a file or an empty directory). */
static inline void test_tree_unlink(const char *root, const char *path) {
        char full[4096];

        snprintf(full, sizeof full, "%s/%s", root, path);
        if (unlink(full) < 0)
                rmdir(full);
}

static inline int test_tree_rm_(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw) {
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* Remove the tree and free its name. */
static inline void test_tree_free(char *root) {
        if (root)
                nftw(root, test_tree_rm_, 16, FTW_DEPTH | FTW_PHYS);
        free(root);
}

/* Run collector c on root/proc and root/sys: its return value, with what it
 * wrote in *ret (malloc'd text format). */
static inline int test_tree_collect(const struct collector *c, const char *root, char **ret) {
        char procfs[4096], sysfs[4096];
        struct metrics_source src = {.procfs = procfs, .sysfs = sysfs, .rootfs = root};
        char *text = NULL;
        struct expo e;
        size_t len = 0;
        int r;

        snprintf(procfs, sizeof procfs, "%s/proc", root);
        snprintf(sysfs, sizeof sysfs, "%s/sys", root);
        expo_init(&e, EXPO_TEXT);
        r = c->collect(&e, &src);
        /* By its length: an empty exposition's buffer holds no NUL. */
        if (expo_finish(&e, &text, &len) < 0)
                *ret = NULL;
        else
                *ret = strndup(text, len);
        free(text);
        return r;
}

/* Two checks: collector c on root returns want_r, and writes want (the
 * whole text; NULL: anything). */
#define CHECK_COLLECT(name, c, root, want_r, want)                                                 \
        ({                                                                                         \
                char *out_ = NULL;                                                                 \
                const char *want_ = (want);                                                        \
                CHECK_INTEQ(name, test_tree_collect((c), (root), &out_), (want_r));                \
                if (want_)                                                                         \
                        CHECK_STREQ(name, out_, want_);                                            \
                free(out_);                                                                        \
        })
