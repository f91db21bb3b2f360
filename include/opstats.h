/* opstats.h: requests counted by operation and outcome, for the daemon's
 * metrics.  A client counts its own (imds_stats(), ecs_stats()); the
 * counts live as long as the process, across reloads, so they only grow
 * and a Prometheus rate() over them is right.  The operation names come
 * from the daemon's code (bounded); the table has room for OPSTATS_OPS_MAX
 * of them, and anything beyond is counted under "other". */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define OPSTATS_OPS_MAX 32
#define OPSTATS_OUTCOMES_MAX 10

struct opstats {
        const char *const *outcomes; /* the outcome names, NULL-terminated */
        struct opstats_op {
                char name[64];
                uint64_t n[OPSTATS_OUTCOMES_MAX];
        } ops[OPSTATS_OPS_MAX];
        size_t n_ops;
        uint64_t retries; /* attempts after the first */
};

/* One request of op with outcome (an index into s->outcomes). */
void opstats_count(struct opstats *s, const char *op, unsigned outcome);

/* Sum of the requests of op (NULL: every operation) with outcome (-1: any). */
uint64_t opstats_total(const struct opstats *s, const char *op, int outcome);
