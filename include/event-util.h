/* event-util.h: what every user of the daemon's sd-event loop shares: the
 * loop's idea of now on the monotonic clock, and the accuracy of timers. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

/* Accuracy for every sd-event timer: sd-event's default (0 = 250 ms) would
 * let timers slip by a quarter second, too much for a one-second watcher. */
#define TIMER_ACCURACY_USEC 1000

/* CLOCK_MONOTONIC as the loop last saw it (the start of this iteration),
 * in microseconds; 0 only if sd-event cannot read the clock. */
static inline uint64_t event_now_usec(sd_event *e) {
        uint64_t t = 0;

        (void)sd_event_now(e, CLOCK_MONOTONIC, &t);
        return t;
}
