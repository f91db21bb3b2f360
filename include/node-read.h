/* node-read.h: the collectors' reads under the configured roots (procfs,
 * sysfs), all through fileio (bounded, non-blocking, regular files only):
 * a whole file, a sysfs file holding one number, and the entries of a
 * directory that node_exporter finds with a glob such as cpu[0-9]*. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* ROOT/sub whole into *ret (malloc'd, NUL-terminated) and *ret_len;
 * errors as fileio_read(). */
_must_check_ int node_read(const char *root, const char *sub, size_t max, char **ret,
                           size_t *ret_len);

/* A directory's entries named PREFIX followed by a digit (the glob
 * PREFIX[0-9]*), sorted by bytes as Go's filepath.Glob sorts them, with the
 * directory open for reading them with fileio_read_at(). */
struct node_read_dir {
        int fd;
        char **names; /* owned, each malloc'd */
        size_t n;
};

/* ROOT/sub's entries: 0 (a missing directory is none: fd -1, n 0) or a
 * negative errno. */
_must_check_ int node_read_dir(const char *root, const char *sub, const char *prefix,
                               struct node_read_dir *ret);
void node_read_dir_done(struct node_read_dir *d);

/* A sysfs file (path relative to dirfd) that holds one unsigned decimal,
 * blanks around it allowed: 0, or a negative errno (-EINVAL when it holds
 * something else). */
_must_check_ int node_read_u64_at(int dirfd, const char *path, uint64_t *ret);
