/* fileio.h: the daemon's one way to read and write its files.  Reading is
 * bounded (a size cap), never blocks (O_NONBLOCK, so a FIFO put in place of
 * a file cannot hang the event loop), and refuses what is not a regular
 * file; writing is atomic (temporary file, fsync, rename, fsync of the
 * directory), so a crash leaves the old or the new file, never a torn one. */
#pragma once

#include "macro.h"

#include <stddef.h>
#include <sys/stat.h>

enum {
        FILEIO_NOFOLLOW = 1 << 0, /* refuse a symlink (-ELOOP): our own state files */
};

/* Read path (relative to dirfd, or AT_FDCWD) whole into *ret (NUL-terminated,
 * caller frees) and *ret_len.  Errors: -ENOENT, -EACCES, ... as open(2);
 * -ELOOP for a symlink with FILEIO_NOFOLLOW; -EISDIR for a directory;
 * -EBADFD for anything else that is not a regular file; -EFBIG when it holds
 * more than max bytes (then *ret_len is its size when known, else 0).
 * Files whose size stat(2) does not know (/proc) are read to their end. */
_must_check_ int fileio_read_at(int dirfd, const char *path, size_t max, unsigned flags, char **ret,
                                size_t *ret_len);
_must_check_ int fileio_read(const char *path, size_t max, unsigned flags, char **ret,
                             size_t *ret_len);

/* Write dir/name atomically with text and a newline (dir is created, mode
 * 0700, when missing; the file is mode 0600).  The temporary file is made
 * with O_EXCL under a random name, so nothing planted in dir is written
 * through. */
_must_check_ int fileio_write_atomic(const char *dir, const char *name, const char *text);

/* Keep a file that is not what we wrote for a human to look at: rename it
 * to PATH.corrupt-<unix time>; *ret_aside (optional, malloc'd) the new name. */
_must_check_ int fileio_move_aside(const char *path, char **ret_aside);

/* Whether a file or directory is ecs-hostd's to trust: owned by root or
 * this user, and writable by nobody else.  0, or -EINVAL with *why
 * (malloc'd) saying what is wrong and then risk, what that would allow. */
int fileio_check_private(const struct stat *st, const char *risk, char **why);

/* Whether dir may hold the daemon's state: missing (it will be made, mode
 * 0700), or a directory owned by root or this user and writable by nobody
 * else.  0, or -EINVAL with *why (malloc'd) saying what is wrong. */
int fileio_check_private_dir(const char *dir, char **why);

/* Make dir (mode 0700) when missing and create and remove a file in it:
 * 0, or the errno that says why the state cannot be kept there. */
_must_check_ int fileio_probe_dir(const char *dir);
