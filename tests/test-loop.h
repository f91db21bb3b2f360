/* test-loop.h: drive an sd-event loop in unit tests until a condition holds
 * or a deadline passes (then the test fails instead of hanging). */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>
#include <time.h>

static inline uint64_t test_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Returns true when *done became true before timeout_ms. */
static inline bool test_run_until(sd_event *e, const bool *done, unsigned timeout_ms) {
        uint64_t end = test_now_usec() + (uint64_t)timeout_ms * 1000;
        while (!*done && test_now_usec() < end)
                if (sd_event_run(e, 50 * 1000) < 0)
                        return false;
        return *done;
}
