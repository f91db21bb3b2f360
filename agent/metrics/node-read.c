/* node-read.c: the collectors' reads (see node-read.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "fileio.h"
#include "node-read.h"
#include "node-text.h"

#define NODE_READ_SYSFS_MAX 128 /* bytes: a sysfs attribute holding a number */

int node_read(const char *root, const char *sub, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *path = collector_path(root, sub);

        if (!path)
                return -ENOMEM;
        return fileio_read(path, max, 0, ret, ret_len);
}

static int by_bytes(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool globbed(const char *name, const char *prefix, size_t n) {
        return strncmp(name, prefix, n) == 0 && name[n] >= '0' && name[n] <= '9';
}

/* The matching names of the open directory d into ret. */
static int list(DIR *d, const char *prefix, struct node_read_dir *ret) {
        size_t n = strlen(prefix), cap = 0;
        struct dirent *de;

        while ((errno = 0, de = readdir(d))) {
                char **names;
                if (!globbed(de->d_name, prefix, n))
                        continue;
                if (ret->n == cap) {
                        cap = cap ? cap * 2 : 16;
                        names = reallocarray(ret->names, cap, sizeof *names);
                        if (!names)
                                return -ENOMEM;
                        ret->names = names;
                }
                ret->names[ret->n] = strdup(de->d_name);
                if (!ret->names[ret->n])
                        return -ENOMEM;
                ret->n++;
        }
        if (errno)
                return -errno;
        if (ret->n)
                qsort(ret->names, ret->n, sizeof *ret->names, by_bytes);
        return 0;
}

int node_read_dir(const char *root, const char *sub, const char *prefix,
                  struct node_read_dir *ret) {
        _cleanup_free_ char *path = collector_path(root, sub);
        struct node_read_dir d = {.fd = -1};
        DIR *dir;
        int fd, r;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
                *ret = d;
                return 0;
        }
        d.fd = dup(fd);
        dir = d.fd >= 0 ? fdopendir(fd) : NULL;
        if (!dir) {
                r = -errno;
                close(fd);
                node_read_dir_done(&d);
                return r;
        }
        r = list(dir, prefix, &d);
        closedir(dir);
        if (r < 0) {
                node_read_dir_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

void node_read_dir_done(struct node_read_dir *d) {
        for (size_t i = 0; i < d->n; i++)
                free(d->names[i]);
        free(d->names);
        if (d->fd >= 0)
                close(d->fd);
        *d = (struct node_read_dir){.fd = -1};
}

int node_read_u64_at(int dirfd, const char *path, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = fileio_read_at(dirfd, path, NODE_READ_SYSFS_MAX, 0, &text, &len);
        if (r < 0)
                return r;
        r = node_text_u64(node_text_trim((struct node_text_field){text, len}), ret);
        return r < 0 ? -EINVAL : 0;
}
