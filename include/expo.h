/* expo.h: the Prometheus exposition formats, written: text format 0.0.4
 * (what every scraper reads) and OpenMetrics 1.0 (what Prometheus 3 asks
 * for).  A collector starts a family, then adds its samples; values are
 * written as the Prometheus Go client writes them, so ecs-hostd's output
 * and node_exporter's agree to the byte.  Nothing here allocates per
 * sample beyond the growing buffer; an out-of-memory error sticks and is
 * reported by expo_finish(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

enum expo_format {
        EXPO_TEXT,        /* text/plain; version=0.0.4 */
        EXPO_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

enum expo_type {
        EXPO_GAUGE,
        EXPO_COUNTER, /* the family's name ends in _total in the text format */
        EXPO_UNTYPED, /* OpenMetrics: unknown */
};

struct expo {
        enum expo_format format;
        char *buf;
        size_t len, cap;
        int error; /* 0, or -ENOMEM once anything could not be written */
        char family[256];
        enum expo_type type;
};

/* An empty exposition in format f (nothing allocated yet). */
void expo_init(struct expo *e, enum expo_format f);
void expo_done(struct expo *e);

/* Start a family: its # HELP and # TYPE lines.  name is the sample name
 * of the text format (a counter's ends in _total, as node_exporter's do);
 * help is written escaped. */
void expo_family(struct expo *e, const char *name, enum expo_type type, const char *help);

/* One sample of the current family.  labels: name, value, name, value, ...,
 * NULL (NULL itself: none); values are escaped. */
void expo_sample(struct expo *e, const char *const *labels, double value);
/* The same, with the label pairs in two arrays of n. */
void expo_samplev(struct expo *e, const char *const *names, const char *const *values, size_t n,
                  double value);

/* The text (OpenMetrics: with its # EOF), handed over: 0 with *ret
 * (malloc'd, NUL-terminated) and *ret_len, or -ENOMEM. */
_must_check_ int expo_finish(struct expo *e, char **ret, size_t *ret_len);

/* The Content-Type of a format, exactly as Prometheus expects it. */
const char *expo_content_type(enum expo_format f);

/* Which format an Accept header asks for: OpenMetrics when it names
 * application/openmetrics-text (version 1.0.0 or none) before text/plain
 * or alone, else the text format. */
enum expo_format expo_negotiate(const char *accept);

/* A float as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it, with the
 * Prometheus client's special cases (1, 0, -1, NaN, +Inf, -Inf), into buf
 * (at least 32 bytes); returns buf. */
char *expo_format_value(double v, char buf[static 32]);
