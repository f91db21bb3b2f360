/* statfs-worker.c: statfs(2) on threads, the answers handed to the loop
 * under one mutex.  The invariants: the loop thread never calls statfs and
 * holds the lock only for bookkeeping, as the threads do; outside the lock a
 * thread reads only the path of the entry whose statfs it runs, which never
 * changes, and an entry is never freed while a statfs runs on it; the block
 * they all share is freed by whoever lets go of it last: the owner, or a
 * thread it left on a hung statfs at teardown. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "statfs-worker.h"

#define USEC_PER_SEC 1000000ULL

enum entry_run {
        ENTRY_IDLE,
        ENTRY_QUEUED,
        ENTRY_RUNNING,
};

/* One path, and its latest answer. */
struct entry {
        char *path; /* owned */
        enum entry_run run;
        bool stuck;           /* RUNNING for stuck_usec when an ask looked */
        bool answered;        /* error and st hold an answer */
        uint64_t asked;       /* the last ask that named it */
        uint64_t queued;      /* the ask that queued it */
        uint64_t answered_by; /* the ask that had queued the statfs that answered */
        uint64_t since;       /* RUNNING: when its statfs started (CLOCK_MONOTONIC, µs) */
        int error;
        struct statfs st;
};

struct thread {
        pthread_t id;
        struct statfs_worker *w; /* shared */
        struct entry *busy;      /* the entry whose statfs it runs, or NULL */
        bool aside;              /* to end after busy's statfs, which took too long */
        bool exited;             /* touches nothing any more: pthread_join returns at once */
        bool detached;           /* let go at teardown: drops a reference on its way out */
};

struct statfs_worker {
        pthread_mutex_t lock;
        pthread_cond_t work;   /* something queued, or stop */
        pthread_cond_t answer; /* the ask's last entry answered, or a thread exited */
        unsigned refs;         /* the owner's, and one per detached thread */
        bool stop;
        int (*statfs)(const char *path, struct statfs *buf);
        uint64_t wait_usec, stuck_usec;
        uint64_t ask;           /* the current ask's number */
        size_t pending;         /* entries it queued that have not answered */
        struct entry **entries; /* owned, sorted by path */
        size_t n_entries;
        struct entry **queue; /* owned array of the entries above; [head, n_queue) wait */
        size_t head, n_queue;
        struct thread **threads; /* owned */
        size_t n_threads;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Wait on c until deadline (CLOCK_MONOTONIC, µs): false once it has passed. */
static bool wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline) {
        struct timespec ts = {.tv_sec = (time_t)(deadline / USEC_PER_SEC),
                              .tv_nsec = (long)(deadline % USEC_PER_SEC) * 1000};

        return pthread_cond_timedwait(c, m, &ts) != ETIMEDOUT;
}

static struct entry *entry_new(const char *path) {
        struct entry *e = calloc(1, sizeof *e);

        if (e && !(e->path = strdup(path)))
                e = mfree(e);
        return e;
}

static void entry_free(struct entry *e) {
        if (e)
                free(e->path);
        free(e);
}

static void destroy(struct statfs_worker *w) {
        for (size_t i = 0; i < w->n_entries; i++)
                entry_free(w->entries[i]);
        for (size_t i = 0; i < w->n_threads; i++)
                free(w->threads[i]);
        free(w->entries);
        free(w->queue);
        free(w->threads);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->answer);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

static struct entry *queue_pop(struct statfs_worker *w) {
        while (w->head < w->n_queue) {
                struct entry *e = w->queue[w->head++];
                if (e->run == ENTRY_QUEUED)
                        return e;
        }
        return NULL;
}

/* e's statfs, the lock dropped around it (called and returns with it held). */
static void run(struct statfs_worker *w, struct thread *t, struct entry *e) {
        uint64_t queued = e->queued;
        struct statfs st = {};
        int r;

        e->run = ENTRY_RUNNING;
        e->since = now_usec();
        t->busy = e;
        pthread_mutex_unlock(&w->lock);
        errno = 0;
        r = w->statfs(e->path, &st) < 0 ? -(errno ?: EIO) : 0;
        pthread_mutex_lock(&w->lock);
        t->busy = NULL;
        *e = (struct entry){.path = e->path,
                            .run = ENTRY_IDLE,
                            .answered = true,
                            .asked = e->asked,
                            .queued = queued,
                            .answered_by = queued,
                            .error = r,
                            .st = st};
        if (queued == w->ask && w->pending > 0 && --w->pending == 0)
                pthread_cond_broadcast(&w->answer);
}

static void *thread_main(void *userdata) {
        struct thread *t = userdata;
        struct statfs_worker *w = t->w;
        bool last;

        pthread_mutex_lock(&w->lock);
        while (!w->stop && !t->aside) {
                struct entry *e = queue_pop(w);
                if (e)
                        run(w, t, e);
                else
                        pthread_cond_wait(&w->work, &w->lock);
        }
        t->exited = true;
        pthread_cond_broadcast(&w->answer);
        last = t->detached && --w->refs == 0;
        pthread_mutex_unlock(&w->lock);
        if (last)
                destroy(w);
        return NULL;
}

static int spawn(struct statfs_worker *w) {
        _cleanup_free_ struct thread *t = calloc(1, sizeof *t);
        struct thread **a;
        sigset_t all, old;
        int r;

        if (!t || !(a = realloc(w->threads, (w->n_threads + 1) * sizeof *a)))
                return -ENOMEM;
        w->threads = a;
        t->w = w;
        /* Signals are the loop's (sd-event sources, blocked there): a thread
         * that did not block them too could be handed one. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&t->id, NULL, thread_main, t);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return -r;
        w->threads[w->n_threads++] = TAKE_PTR(t);
        return 0;
}

/* Join the threads that have ended (at once: they have let go of the lock
 * for good), but those let go at teardown. */
static void reap(struct statfs_worker *w) {
        size_t m = 0;

        for (size_t i = 0; i < w->n_threads; i++) {
                struct thread *t = w->threads[i];
                if (t->exited && !t->detached) {
                        pthread_join(t->id, NULL);
                        free(t);
                } else
                        w->threads[m++] = t;
        }
        w->n_threads = m;
}

/* The threads in a statfs: a path whose statfs has run for stuck_usec is
 * stuck; a thread whose statfs has outlasted an ask's wait while paths wait
 * in the queue is set aside (it ends after that statfs) and others take the
 * queue, up to STATFS_WORKER_THREADS of them and STATFS_WORKER_THREADS_MAX
 * threads in all.  -EAGAIN when none can take it. */
static int watch(struct statfs_worker *w) {
        uint64_t now = now_usec();
        bool waiting = w->head < w->n_queue;
        size_t live = 0;
        int r = 0;

        for (size_t i = 0; i < w->n_threads; i++) {
                struct thread *t = w->threads[i];
                uint64_t took = t->busy ? now - t->busy->since : 0;
                if (t->exited)
                        continue;
                if (t->busy && took >= w->stuck_usec)
                        t->busy->stuck = t->aside = true;
                else if (t->busy && waiting && took >= w->wait_usec)
                        t->aside = true;
                live += !t->aside;
        }
        while (waiting && live < STATFS_WORKER_THREADS && live < w->n_entries &&
               w->n_threads < STATFS_WORKER_THREADS_MAX && (r = spawn(w)) >= 0)
                live++;
        return waiting && live == 0 && r < 0 ? -EAGAIN : 0;
}

/* Merge this ask's paths (order: their indexes, sorted by path) into the
 * sorted entries, in into (room for n_entries + n): the entry of each path
 * in asked[] (made when new; NULL when it cannot be), entries not asked for
 * dropped unless a statfs runs on them. */
static int index_paths(struct statfs_worker *w, const char *const *paths, const size_t *order,
                       size_t n, struct entry **into, struct entry **asked) {
        size_t j = 0, m = 0;
        int r = 0;

        for (size_t k = 0; k < n; k++) {
                const char *p = paths[order[k]];
                struct entry *e;
                int c = 1;

                if (m > 0 && strcmp(into[m - 1]->path, p) == 0) {
                        asked[order[k]] = into[m - 1];
                        continue;
                }
                for (; j < w->n_entries && (c = strcmp(w->entries[j]->path, p)) < 0; j++)
                        if (w->entries[j]->run == ENTRY_RUNNING)
                                into[m++] = w->entries[j];
                        else
                                entry_free(w->entries[j]);
                e = c == 0 ? w->entries[j++] : entry_new(p);
                if (!e) {
                        r = -ENOMEM;
                        continue;
                }
                e->asked = w->ask;
                into[m++] = asked[order[k]] = e;
        }
        for (; j < w->n_entries; j++)
                if (w->entries[j]->run == ENTRY_RUNNING)
                        into[m++] = w->entries[j];
                else
                        entry_free(w->entries[j]);
        free(w->entries);
        w->entries = into;
        w->n_entries = m;
        return r;
}

/* Queue, in q (room for n_entries), the entries this ask named but those
 * whose statfs still runs: it is not waited for, its answer comes when it
 * comes. */
static void enqueue(struct statfs_worker *w, struct entry **q) {
        size_t n = 0;

        for (size_t i = 0; i < w->n_entries; i++) {
                struct entry *e = w->entries[i];
                if (e->asked != w->ask || e->run == ENTRY_RUNNING)
                        continue;
                e->run = ENTRY_QUEUED;
                e->queued = w->ask;
                q[n++] = e;
        }
        free(w->queue);
        w->queue = q;
        w->head = 0;
        w->n_queue = w->pending = n;
        if (n > 0)
                pthread_cond_broadcast(&w->work);
}

static void fill(struct statfs_worker_result *res, const struct entry *e, uint64_t ask) {
        *res = (struct statfs_worker_result){.answer = STATFS_WORKER_NONE};
        if (e && e->stuck)
                res->answer = STATFS_WORKER_STUCK;
        else if (e && e->answered)
                *res = (struct statfs_worker_result){.answer = e->error < 0 ? STATFS_WORKER_FAILED
                                                                            : STATFS_WORKER_OK,
                                                     .fresh = e->answered_by == ask,
                                                     .error = e->error,
                                                     .st = e->st};
}

static int cmp_path(const void *a, const void *b, void *userdata) {
        const char *const *paths = userdata;

        return strcmp(paths[*(const size_t *)a], paths[*(const size_t *)b]);
}

int statfs_worker_ask(struct statfs_worker *w, const char *const *paths, size_t n,
                      struct statfs_worker_result *results) {
        size_t room = w->n_entries + n + 1; /* only the owner changes n_entries */
        _cleanup_free_ struct entry **asked = calloc(n + 1, sizeof *asked);
        _cleanup_free_ struct entry **into = calloc(room, sizeof *into);
        _cleanup_free_ struct entry **q = calloc(room, sizeof *q);
        _cleanup_free_ size_t *order = malloc((n + 1) * sizeof *order);
        uint64_t deadline;
        int r, k;

        if (!asked || !into || !q || !order) {
                for (size_t i = 0; i < n; i++)
                        fill(&results[i], NULL, 0);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        qsort_r(order, n, sizeof *order, cmp_path, (void *)(uintptr_t)paths);
        pthread_mutex_lock(&w->lock);
        reap(w);
        w->ask++;
        r = index_paths(w, paths, order, n, TAKE_PTR(into), asked);
        enqueue(w, TAKE_PTR(q));
        deadline = now_usec() + w->wait_usec;
        if ((k = watch(w)) < 0 && r >= 0)
                r = k;
        while (w->pending > 0 && wait_until(&w->answer, &w->lock, deadline))
                ;
        (void)watch(w);
        for (size_t i = 0; i < n; i++)
                fill(&results[i], asked[i], w->ask);
        pthread_mutex_unlock(&w->lock);
        return r;
}

int statfs_worker_new(struct statfs_worker **ret, const struct statfs_worker_options *opts) {
        struct statfs_worker *w = calloc(1, sizeof *w);
        pthread_condattr_t attr;

        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->work, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&w->answer, &attr);
        pthread_condattr_destroy(&attr);
        w->refs = 1;
        w->statfs = opts && opts->statfs ? opts->statfs : statfs;
        w->wait_usec = opts && opts->wait_usec ? opts->wait_usec : STATFS_WORKER_WAIT_USEC;
        w->stuck_usec = opts && opts->stuck_usec ? opts->stuck_usec : STATFS_WORKER_STUCK_USEC;
        *ret = w;
        return 0;
}

static bool any_busy(const struct statfs_worker *w) {
        for (size_t i = 0; i < w->n_threads; i++)
                if (w->threads[i]->busy)
                        return true;
        return false;
}

/* A thread idle, or done with its statfs, ends at once and is joined (out
 * of the lock, which it takes to end); one still in a statfs after
 * wait_usec may never leave it, and joining it would block the loop: it is
 * detached instead, keeps the block alive, and frees it if it is the last
 * out. */
struct statfs_worker *statfs_worker_free(struct statfs_worker *w) {
        uint64_t deadline;
        size_t kept = 0, n;
        bool last;

        if (!w)
                return NULL;
        deadline = now_usec() + w->wait_usec;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->work);
        while (any_busy(w) && wait_until(&w->answer, &w->lock, deadline))
                ;
        n = w->n_threads;
        for (size_t i = 0; i < n; i++) {
                struct thread *t = w->threads[i];
                if (!t->busy)
                        continue;
                t->detached = true;
                w->refs++;
                pthread_detach(t->id);
                w->threads[i] = w->threads[kept];
                w->threads[kept++] = t;
        }
        w->n_threads = kept;
        pthread_mutex_unlock(&w->lock);
        for (size_t i = kept; i < n; i++) {
                pthread_join(w->threads[i]->id, NULL);
                free(w->threads[i]);
        }
        pthread_mutex_lock(&w->lock);
        last = --w->refs == 0;
        pthread_mutex_unlock(&w->lock);
        if (last)
                destroy(w);
        return NULL;
}
