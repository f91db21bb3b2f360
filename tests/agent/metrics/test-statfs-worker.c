/* test-statfs-worker.c: statfs off the loop: the answers; a hung statfs that
 * holds up neither an ask (which stays under its bound) nor the other paths,
 * is stuck after stuck_usec and comes back when it returns; more hung paths
 * than threads; the bound on threads; teardown with a statfs still hung;
 * and the signals the threads leave to the loop. */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fake-statfs.h"
#include "macro.h"
#include "statfs-worker.h"
#include "test.h"

/* What an ask may take of the loop, as checked: its wait (5 ms) and 20 ms
 * for a loaded machine running the sanitizers, still 2.5% of the second
 * in which the watcher polls for Spot notices. */
#define BOUND_MS (STATFS_WORKER_WAIT_USEC / 1000.0 + 20.0)
#define STUCK_USEC 200000ULL /* the tests' stuck time, so they run quickly */

static size_t n_threads(void) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        size_t n = 0;

        while (d && (de = readdir(d)))
                n += de->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

/* Wait (at most 2 s) until the process has n threads: whether it has. */
static bool threads_become(size_t n) {
        for (int i = 0; i < 200 && n_threads() != n; i++)
                usleep(10000);
        return n_threads() == n;
}

/* One ask, timed (*ms). */
static int ask(struct statfs_worker *w, const char *const *paths, size_t n,
               struct statfs_worker_result *res, double *ms) {
        double t0 = fake_now_ms();
        int r = statfs_worker_ask(w, paths, n, res);

        *ms = fake_now_ms() - t0;
        return r;
}

/* Ask until res[i] is answer (fresh, when asked), at most 2 s: whether it came. */
static bool ask_until(struct statfs_worker *w, const char *const *paths, size_t n,
                      struct statfs_worker_result *res, size_t i, enum statfs_worker_answer answer,
                      bool fresh) {
        double ms;

        for (int k = 0; k < 200; k++, usleep(10000))
                if (ask(w, paths, n, res, &ms) >= 0 && res[i].answer == answer &&
                    (!fresh || res[i].fresh))
                        return true;
        return false;
}

static void test_answers(void) {
        struct statfs_worker_options opts = {.statfs = fake_statfs, .wait_usec = 2000000};
        _cleanup_(statfs_worker_freep) struct statfs_worker *w = NULL;
        const char *paths[] = {"/r/a", "/r/missing", "/r/a"};
        struct statfs_worker_result res[3];
        double ms;

        CHECK_INTEQ("a worker", statfs_worker_new(&w, &opts), 0);
        CHECK_INTEQ("an ask", ask(w, paths, 3, res, &ms), 0);
        CHECK("an answer, this ask's",
              res[0].answer == STATFS_WORKER_OK && res[0].fresh && res[0].st.f_blocks == 1000);
        CHECK("a failure, with its errno",
              res[1].answer == STATFS_WORKER_FAILED && res[1].error == -ENOENT);
        CHECK("a path asked for twice has the one answer",
              res[2].answer == STATFS_WORKER_OK && res[2].fresh);
        CHECK("an ask waits no longer than its answers take", ms < 1000);
        CHECK_INTEQ("an ask for nothing", statfs_worker_ask(w, NULL, 0, NULL), 0);
}

static void test_hung(void) {
        struct statfs_worker_options opts = {.statfs = fake_statfs, .stuck_usec = STUCK_USEC};
        _cleanup_(statfs_worker_freep) struct statfs_worker *w = NULL;
        const char *paths[] = {"/r/a", "/r/hung", "/r/b"};
        struct statfs_worker_result res[3];
        double ms, worst = 0;

        CHECK_INTEQ("a worker with the loop's wait", statfs_worker_new(&w, &opts), 0);
        CHECK("its first answers", ask_until(w, paths, 3, res, 2, STATFS_WORKER_OK, false) &&
                                           res[0].answer == STATFS_WORKER_OK);
        fake_hang(true);
        /* hung itself answered: it hangs from the next statfs on */
        CHECK_INTEQ("an ask while a statfs hangs", ask(w, paths, 3, res, &ms), 0);
        printf("# the ask that started the hung statfs took %.2f ms (bound %.0f)\n", ms, BOUND_MS);
        CHECK("it takes no longer than its bound", ms < BOUND_MS);
        CHECK("that statfs is blocked", fake_wait_in_hang(1));
        for (int i = 0; i<5; i++, worst = ms> worst ? ms : worst)
                (void)ask(w, paths, 3, res, &ms);
        printf("# the slowest of the next five took %.2f ms\n", worst);
        CHECK("so do the next ones", worst < BOUND_MS);
        CHECK("the hung path keeps its last answer until it is stuck",
              res[1].answer == STATFS_WORKER_OK && !res[1].fresh);
        usleep(STUCK_USEC + 50000);
        CHECK_INTEQ("an ask once stuck_usec has passed", ask(w, paths, 3, res, &ms), 0);
        CHECK("the hung path is stuck", res[1].answer == STATFS_WORKER_STUCK);
        CHECK("the ask stays under its bound", ms < BOUND_MS);
        CHECK("the others are asked again and answer while it hangs",
              ask_until(w, paths, 3, res, 0, STATFS_WORKER_OK, true) &&
                      ask_until(w, paths, 3, res, 2, STATFS_WORKER_OK, true));
        CHECK("no other statfs piles up on the hung path", fake_wait_in_hang(1));
        fake_hang(false);
        CHECK("it comes back once its statfs returns",
              ask_until(w, paths, 3, res, 1, STATFS_WORKER_OK, true));
}

static void test_many_hung(void) {
        struct statfs_worker_options opts = {.statfs = fake_statfs, .stuck_usec = 60000000};
        _cleanup_(statfs_worker_freep) struct statfs_worker *w = NULL;
        const char *paths[41];
        char names[40][16];
        struct statfs_worker_result res[41];
        size_t before = n_threads();
        double ms;

        for (size_t i = 0; i < 40; i++) {
                snprintf(names[i], sizeof names[i], "/h/hung%02zu", i);
                paths[i] = names[i];
        }
        CHECK_INTEQ("a worker", statfs_worker_new(&w, &opts), 0);
        fake_hang(true);
        paths[6] = "/h/ok"; /* queued after six hung paths (sorted), for four threads */
        CHECK("a path behind more hung statfs than threads answers without waiting for them "
              "to be stuck",
              ask_until(w, paths, 7, res, 6, STATFS_WORKER_OK, false));
        for (int i = 0; i < 10; i++, usleep(5000))
                (void)ask(w, paths, 40, res, &ms);
        printf("# %zu threads with 40 hung paths\n", n_threads() - before);
        CHECK("never more than STATFS_WORKER_THREADS_MAX threads",
              n_threads() - before <= STATFS_WORKER_THREADS_MAX);
        fake_hang(false);
        CHECK("every hung statfs returns", fake_wait_in_hang(0));
        CHECK("the paths answer again", ask_until(w, paths, 40, res, 39, STATFS_WORKER_OK, true));
        w = statfs_worker_free(w);
        CHECK("its threads are joined at teardown", n_threads() == before);
}

static void test_teardown_hung(void) {
        struct statfs_worker_options opts = {.statfs = fake_statfs};
        struct statfs_worker *w = NULL;
        const char *paths[] = {"/t/hung"};
        struct statfs_worker_result res[1];
        size_t before = n_threads();
        double ms, t0;

        CHECK_INTEQ("a worker", statfs_worker_new(&w, &opts), 0);
        fake_hang(true);
        (void)ask(w, paths, 1, res, &ms);
        CHECK("its statfs hangs", fake_wait_in_hang(1));
        t0 = fake_now_ms();
        w = statfs_worker_free(w);
        ms = fake_now_ms() - t0;
        printf("# teardown with a hung statfs took %.2f ms\n", ms);
        CHECK("teardown with a statfs hung takes no longer than an ask", ms < BOUND_MS);
        CHECK("the hung thread is left to end on its own", n_threads() == before + 1);
        fake_hang(false);
        CHECK("it ends (and frees what it shared) when its statfs returns", threads_become(before));
}

/* Whether signal sig is blocked in every thread but the main one. */
static bool blocked_in_threads(int sig) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        bool all = d != NULL;

        while (d && (de = readdir(d))) {
                char path[300], line[256];
                FILE *f;
                if (de->d_name[0] == '.' || atoi(de->d_name) == getpid())
                        continue;
                snprintf(path, sizeof path, "/proc/self/task/%s/status", de->d_name);
                if (!(f = fopen(path, "r")))
                        continue;
                while (fgets(line, sizeof line, f))
                        if (strncmp(line, "SigBlk:", 7) == 0)
                                all &= (strtoull(line + 7, NULL, 16) >> (sig - 1)) & 1;
                fclose(f);
        }
        if (d)
                closedir(d);
        return all;
}

static void test_signals(void) {
        struct statfs_worker_options opts = {.statfs = fake_statfs, .wait_usec = 2000000};
        _cleanup_(statfs_worker_freep) struct statfs_worker *w = NULL;
        const char *paths[] = {"/s/a", "/s/b"};
        struct statfs_worker_result res[2];
        double ms;

        CHECK_INTEQ("a worker", statfs_worker_new(&w, &opts), 0);
        CHECK_INTEQ("with threads", ask(w, paths, 2, res, &ms), 0);
        CHECK("its threads block the signals the loop takes (TERM, INT, HUP, CHLD)",
              n_threads() > 1 && blocked_in_threads(SIGTERM) && blocked_in_threads(SIGINT) &&
                      blocked_in_threads(SIGHUP) && blocked_in_threads(SIGCHLD));
}

int main(void) {
        test_answers();
        test_hung();
        test_many_hung();
        test_teardown_hung();
        test_signals();
        return test_done();
}
