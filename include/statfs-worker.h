/* statfs-worker.h: statfs(2) off the event loop.  statfs on a dead NFS
 * server or on a FUSE mount whose daemon does not answer blocks in the
 * kernel, for minutes or for ever, and nothing but the death of the process
 * ends it; so the calls run on a few threads of their own and the loop asks
 * for answers and waits for them a bounded time (wait_usec), never longer.
 * A path whose statfs has not answered for stuck_usec is stuck until it
 * does; one slow or stuck path never holds up the others.  These are the
 * daemon's only threads (CONVENTIONS.md rule 5 makes this one exception). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/vfs.h>

#include "macro.h"

#define STATFS_WORKER_WAIT_USEC 5000ULL /* µs: what an ask may take of the loop (see below) */
#define STATFS_WORKER_STUCK_USEC                                                                   \
        5000000ULL /* µs: node_exporter's --collector.filesystem.mount-timeout */
#define STATFS_WORKER_THREADS                                                                      \
        4 /* threads taking the queue (node_exporter's later stat-workers)                         \
           */
#define STATFS_WORKER_THREADS_MAX 32 /* threads at once, those left on a hung statfs included */

struct statfs_worker;

struct statfs_worker_options {
        /* statfs(2) itself (NULL); tests put one that hangs.  Called on the
         * worker's threads: 0, or -1 with errno. */
        int (*statfs)(const char *path, struct statfs *buf);
        uint64_t wait_usec;  /* 0: STATFS_WORKER_WAIT_USEC */
        uint64_t stuck_usec; /* 0: STATFS_WORKER_STUCK_USEC */
};

enum statfs_worker_answer {
        STATFS_WORKER_NONE,   /* no answer yet: its first statfs is still running */
        STATFS_WORKER_OK,     /* .st */
        STATFS_WORKER_FAILED, /* .error */
        STATFS_WORKER_STUCK,  /* its statfs has run for stuck_usec and still runs */
};

struct statfs_worker_result {
        enum statfs_worker_answer answer;
        bool fresh;       /* OK, FAILED: from this ask's statfs (else from an earlier one) */
        int error;        /* FAILED: a negative errno */
        struct statfs st; /* OK */
};

/* A worker with no thread yet (they start on the first ask).  opts may be
 * NULL (the defaults); it is copied. */
_must_check_ int statfs_worker_new(struct statfs_worker **ret,
                                   const struct statfs_worker_options *opts);

/* Stop the threads and free the worker, waiting at most wait_usec for those
 * in a statfs: one still there then is left to end on its own, and the last
 * thread out frees what they share.  Accepts NULL; returns NULL. */
struct statfs_worker *statfs_worker_free(struct statfs_worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct statfs_worker *, statfs_worker_free)

/* statfs of each of paths[0..n) (a path may come twice): queue them all
 * (those whose statfs still runs from an earlier ask excepted), wait until
 * they have answered or wait_usec has passed, and write in results[i] the
 * latest answer for paths[i].  The wait is the loop's whole cost: 5 ms is
 * half a percent of the second in which the watcher must see a Spot notice,
 * while a local statfs answers in microseconds and NFS in about one
 * millisecond; what answers later is there for the next ask.  Paths asked
 * for before but not now are forgotten.  0, or -ENOMEM (results are then
 * NONE where they could not be asked), or -EAGAIN when no thread could be
 * started. */
int statfs_worker_ask(struct statfs_worker *w, const char *const *paths, size_t n,
                      struct statfs_worker_result *results);
