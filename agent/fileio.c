/* fileio.c: bounded, non-blocking reads and atomic writes (see fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "fileio.h"
#include "macro.h"

int fileio_read_at(int dirfd, const char *path, size_t max, unsigned flags, char **ret,
                   size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = openat(dirfd, path,
                    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                            (flags & FILEIO_NOFOLLOW ? O_NOFOLLOW : 0));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((size_t)st.st_size > max) {
                *ret_len = (size_t)st.st_size;
                return -EFBIG;
        }
        /* One byte more than the cap tells a file that grew since fstat.
         * What was read is wiped when it is not handed over: a
         * configuration file may hold a secret key. */
        buf = malloc(max + 2);
        if (!buf)
                return -ENOMEM;
        while (len <= max) {
                ssize_t k = read(fd, buf + len, max + 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int r = -errno;
                        erase_free(TAKE_PTR(buf), len);
                        return r;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        if (len > max) {
                erase_free(TAKE_PTR(buf), len);
                *ret_len = 0;
                return -EFBIG;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int fileio_read(const char *path, size_t max, unsigned flags, char **ret, size_t *ret_len) {
        return fileio_read_at(AT_FDCWD, path, max, flags, ret, ret_len);
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

int fileio_write_atomic(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        int r;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (asprintf(&path, "%s/%s", dir, name) < 0 ||
            asprintf(&tmp, "%s/.%s.XXXXXX", dir, name) < 0)
                return -ENOMEM;
        /* A new file of a name nobody could guess (O_CREAT|O_EXCL, mode
         * 0600): a symlink or file planted in the directory is never written
         * through. */
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, text, strlen(text));
        if (r == 0)
                r = write_all(fd, "\n", 1);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        /* The rename itself must reach the disk too. */
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return -errno;
        return 0;
}

int fileio_move_aside(const char *path, char **ret_aside) {
        _cleanup_free_ char *aside = NULL;

        if (asprintf(&aside, "%s.corrupt-%lld", path, (long long)time(NULL)) < 0)
                return -ENOMEM;
        if (rename(path, aside) < 0)
                return -errno;
        if (ret_aside)
                *ret_aside = TAKE_PTR(aside);
        return 0;
}

int fileio_check_private(const struct stat *st, const char *risk, char **why) {
        if (st->st_uid != 0 && st->st_uid != geteuid())
                return errmsg_set(why,
                                  "it is owned by uid %u, neither root nor ecs-hostd's uid %u; %s",
                                  (unsigned)st->st_uid, (unsigned)geteuid(), risk);
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return errmsg_set(why, "it is writable by %s (mode %04o); %s",
                                  st->st_mode & S_IWOTH ? "everyone" : "its group",
                                  (unsigned)(st->st_mode & 07777), risk);
        return 0;
}

int fileio_check_private_dir(const char *dir, char **why) {
        struct stat st;

        if (stat(dir, &st) < 0) {
                if (errno == ENOENT)
                        return 0; /* made, mode 0700, when first written */
                return errmsg_set(why, "cannot check it: %s", strerror(errno));
        }
        if (!S_ISDIR(st.st_mode))
                return errmsg_set(why, "it is not a directory");
        return fileio_check_private(
                &st, "whoever can write it can change the identity ecs-hostd acts on", why);
}

int fileio_probe_dir(const char *dir) {
        _cleanup_free_ char *tmp = NULL;
        int fd;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (asprintf(&tmp, "%s/.probe.XXXXXX", dir) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        close(fd);
        (void)unlink(tmp);
        return 0;
}
