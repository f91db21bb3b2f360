/* fake-statfs.h: a statfs(2) for the statfs worker's tests.  A path whose
 * last part starts with "hung" blocks while fake_hang(true) holds, as on a
 * dead NFS server; "missing" fails with ENOENT; any other answers 1000
 * blocks of 4096 bytes (600 free, 500 available), 100 inodes (50 free). */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fake_cond = PTHREAD_COND_INITIALIZER;
static bool fake_hanging;        /* a hung path's statfs blocks while set */
static unsigned fake_in_hang;    /* calls blocked now */
static unsigned long fake_calls; /* calls so far */

static inline int fake_statfs(const char *path, struct statfs *st) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

        pthread_mutex_lock(&fake_lock);
        fake_calls++;
        if (strncmp(base, "hung", 4) == 0) {
                fake_in_hang++;
                pthread_cond_broadcast(&fake_cond);
                while (fake_hanging)
                        pthread_cond_wait(&fake_cond, &fake_lock);
                fake_in_hang--;
                pthread_cond_broadcast(&fake_cond);
        }
        pthread_mutex_unlock(&fake_lock);
        if (strcmp(base, "missing") == 0) {
                errno = ENOENT;
                return -1;
        }
        *st = (struct statfs){.f_bsize = 4096,
                              .f_blocks = 1000,
                              .f_bfree = 600,
                              .f_bavail = 500,
                              .f_files = 100,
                              .f_ffree = 50};
        return 0;
}

static inline void fake_hang(bool on) {
        pthread_mutex_lock(&fake_lock);
        fake_hanging = on;
        pthread_cond_broadcast(&fake_cond);
        pthread_mutex_unlock(&fake_lock);
}

static inline unsigned long fake_count(void) {
        unsigned long n;

        pthread_mutex_lock(&fake_lock);
        n = fake_calls;
        pthread_mutex_unlock(&fake_lock);
        return n;
}

/* Wait (at most 2 s) until n calls are blocked: whether they are. */
static inline bool fake_wait_in_hang(unsigned n) {
        struct timespec until;
        bool ok;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        pthread_mutex_lock(&fake_lock);
        while (fake_in_hang != n && pthread_cond_timedwait(&fake_cond, &fake_lock, &until) == 0)
                ;
        ok = fake_in_hang == n;
        pthread_mutex_unlock(&fake_lock);
        return ok;
}

static inline double fake_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
