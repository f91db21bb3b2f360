/* opstats.c: requests counted by operation and outcome (see opstats.h). */
#include <stdio.h>
#include <string.h>

#include "opstats.h"

void opstats_count(struct opstats *s, const char *op, unsigned outcome) {
        struct opstats_op *o = NULL;

        if (outcome >= OPSTATS_OUTCOMES_MAX)
                return;
        for (size_t i = 0; i < s->n_ops && !o; i++)
                if (strcmp(s->ops[i].name, op) == 0)
                        o = &s->ops[i];
        if (!o && s->n_ops < OPSTATS_OPS_MAX - 1) {
                o = &s->ops[s->n_ops++];
                snprintf(o->name, sizeof o->name, "%s", op);
        }
        if (!o) { /* the last slot is "other" */
                o = &s->ops[OPSTATS_OPS_MAX - 1];
                if (!o->name[0]) {
                        snprintf(o->name, sizeof o->name, "other");
                        s->n_ops = OPSTATS_OPS_MAX;
                }
        }
        o->n[outcome]++;
}

uint64_t opstats_total(const struct opstats *s, const char *op, int outcome) {
        uint64_t sum = 0;

        for (size_t i = 0; i < s->n_ops; i++) {
                if (op && strcmp(s->ops[i].name, op) != 0)
                        continue;
                for (unsigned k = 0; k < OPSTATS_OUTCOMES_MAX; k++)
                        if (outcome < 0 || (unsigned)outcome == k)
                                sum += s->ops[i].n[k];
        }
        return sum;
}
