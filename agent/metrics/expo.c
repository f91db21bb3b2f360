/* expo.c: the exposition formats (see expo.h).  The value format follows
 * Go's strconv shortest 'g' formatting: the fewest digits that read back as
 * the same double, in exponent form when the exponent is below -4 or at
 * least the number of digits (6 at most) -- which is what makes
 * node_exporter print 1.13479612e+08 and 3120.15. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expo.h"

void expo_init(struct expo *e, enum expo_format f) {
        *e = (struct expo){.format = f};
}

void expo_done(struct expo *e) {
        free(e->buf);
        *e = (struct expo){};
}

static bool reserve(struct expo *e, size_t n) {
        char *b;
        size_t cap;

        if (e->error)
                return false;
        if (e->len + n + 1 <= e->cap)
                return true;
        cap = e->cap ? e->cap : 4096;
        while (cap < e->len + n + 1)
                cap *= 2;
        b = realloc(e->buf, cap);
        if (!b) {
                e->error = -ENOMEM;
                return false;
        }
        e->buf = b;
        e->cap = cap;
        return true;
}

static void put(struct expo *e, const char *s, size_t n) {
        if (!reserve(e, n))
                return;
        memcpy(e->buf + e->len, s, n);
        e->len += n;
        e->buf[e->len] = 0;
}

static void puts_(struct expo *e, const char *s) {
        put(e, s, strlen(s));
}

/* Label values escape \, " and newline; HELP text \ and newline. */
static void put_escaped(struct expo *e, const char *s, bool quote) {
        const char *run = s;

        for (; *s; s++) {
                const char *esc = *s == '\\'           ? "\\\\"
                                  : *s == '\n'         ? "\\n"
                                  : quote && *s == '"' ? "\\\""
                                                       : NULL;
                if (!esc)
                        continue;
                put(e, run, (size_t)(s - run));
                puts_(e, esc);
                run = s + 1;
        }
        put(e, run, (size_t)(s - run));
}

/* The family's name in OpenMetrics metadata: a counter's without _total. */
static size_t metadata_name_len(const struct expo *e) {
        size_t n = strlen(e->family);

        if (e->format == EXPO_OPENMETRICS && e->type == EXPO_COUNTER && n > 6 &&
            strcmp(e->family + n - 6, "_total") == 0)
                return n - 6;
        return n;
}

void expo_family(struct expo *e, const char *name, enum expo_type type, const char *help) {
        static const char *const types[][2] = {
                [EXPO_GAUGE] = {"gauge", "gauge"},
                [EXPO_COUNTER] = {"counter", "counter"},
                [EXPO_UNTYPED] = {"untyped", "unknown"},
        };
        size_t n;

        snprintf(e->family, sizeof e->family, "%s", name);
        e->type = type;
        n = metadata_name_len(e);
        puts_(e, "# HELP ");
        put(e, e->family, n);
        puts_(e, " ");
        put_escaped(e, help, false);
        puts_(e, "\n# TYPE ");
        put(e, e->family, n);
        puts_(e, " ");
        puts_(e, types[type][e->format == EXPO_OPENMETRICS]);
        puts_(e, "\n");
}

void expo_samplev(struct expo *e, const char *const *names, const char *const *values, size_t n,
                  double value) {
        char v[32];

        puts_(e, e->family);
        if (e->format == EXPO_OPENMETRICS && e->type == EXPO_COUNTER &&
            metadata_name_len(e) == strlen(e->family))
                puts_(e, "_total"); /* OpenMetrics counters' samples always end so */
        for (size_t i = 0; i < n; i++) {
                puts_(e, i ? "," : "{");
                puts_(e, names[i]);
                puts_(e, "=\"");
                put_escaped(e, values[i], true);
                puts_(e, "\"");
        }
        puts_(e, n ? "} " : " ");
        puts_(e, expo_format_value(value, v));
        puts_(e, "\n");
}

void expo_sample(struct expo *e, const char *const *labels, double value) {
        const char *names[16], *values[16];
        size_t n = 0;

        for (; labels && labels[0] && n < ELEMENTSOF(names); labels += 2, n++) {
                names[n] = labels[0];
                values[n] = labels[1];
        }
        expo_samplev(e, names, values, n, value);
}

int expo_finish(struct expo *e, char **ret, size_t *ret_len) {
        if (e->format == EXPO_OPENMETRICS)
                puts_(e, "# EOF\n");
        if (!reserve(e, 0))
                return e->error ? e->error : -ENOMEM;
        e->buf[e->len] = 0; /* put() ends what it writes so; nothing may have been */
        *ret = e->buf;
        *ret_len = e->len;
        *e = (struct expo){.format = e->format};
        return 0;
}

const char *expo_content_type(enum expo_format f) {
        return f == EXPO_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                     : "text/plain; version=0.0.4; charset=utf-8";
}

/* The q= of one media range of an Accept header (1 when absent). */
static double accept_q(const char *range, size_t n) {
        const char *q = memmem(range, n, ";q=", 3);

        if (!q)
                q = memmem(range, n, "; q=", 4);
        return q ? strtod(strchr(q, '=') + 1, NULL) : 1.0;
}

enum expo_format expo_negotiate(const char *accept) {
        double om = -1, text = -1;

        for (const char *p = accept; p && *p;) {
                size_t n = strcspn(p, ",");
                const char *s = p;
                while (*s == ' ')
                        s++;
                if (strncasecmp(s, "application/openmetrics-text", 28) == 0) {
                        const char *v = memmem(s, n - (size_t)(s - p), "version=", 8);
                        if (!v || strncmp(v + 8, "1.0.0", 5) == 0)
                                om = fmax(om, accept_q(p, n));
                } else if (strncasecmp(s, "text/plain", 10) == 0 || strncmp(s, "*/*", 3) == 0)
                        text = fmax(text, accept_q(p, n));
                p += n + (p[n] == ',');
        }
        return om > 0 && om >= text ? EXPO_OPENMETRICS : EXPO_TEXT;
}

/* The shortest digits that read back as v (positive, finite, not 0) and
 * the decimal exponent: v = 0.DIGITS x 10^*ret_dp. */
static size_t shortest(double v, char digits[static 20], int *ret_dp) {
        char buf[40];
        size_t nd = 0;
        int exp10, lo = 1, hi = 17;

        /* Most samples are counts: a whole number below 2^53 is its digits. */
        if (v < 9007199254740992.0 && v == floor(v)) {
                char n[24];
                int len = snprintf(n, sizeof n, "%" PRIu64, (uint64_t)v);
                memcpy(digits, n, (size_t)len + 1);
                for (nd = (size_t)len; nd > 1 && digits[nd - 1] == '0'; nd--)
                        ;
                digits[nd] = 0;
                *ret_dp = len;
                return nd;
        }
        /* Reading back is monotonic in the precision: the least one that
         * does, by bisection (four or five tries instead of up to 17). */
        while (lo < hi) {
                int mid = (lo + hi) / 2;
                snprintf(buf, sizeof buf, "%.*e", mid - 1, v);
                if (strtod(buf, NULL) == v)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        snprintf(buf, sizeof buf, "%.*e", lo - 1, v);
        /* "d.ddde+XX" */
        for (const char *s = buf; *s && *s != 'e'; s++)
                if (*s >= '0' && *s <= '9')
                        digits[nd++] = *s;
        while (nd > 1 && digits[nd - 1] == '0')
                nd--;
        digits[nd] = 0;
        exp10 = atoi(strchr(buf, 'e') + 1);
        *ret_dp = exp10 + 1;
        return nd;
}

char *expo_format_value(double v, char buf[static 32]) {
        char digits[20];
        size_t nd, k = 0;
        int dp, exp, eprec = 6;

        if (isnan(v))
                return strcpy(buf, "NaN");
        if (isinf(v))
                return strcpy(buf, v > 0 ? "+Inf" : "-Inf");
        if (v == 0) /* -0 too, as the Go client's f == 0 */
                return strcpy(buf, "0");
        if (v < 0)
                buf[k++] = '-';
        nd = shortest(fabs(v), digits, &dp);
        if (eprec > (int)nd && (int)nd >= dp)
                eprec = (int)nd;
        exp = dp - 1;
        if (exp < -4 || exp >= eprec) {
                buf[k++] = digits[0];
                if (nd > 1) {
                        buf[k++] = '.';
                        memcpy(buf + k, digits + 1, nd - 1);
                        k += nd - 1;
                }
                snprintf(buf + k, 32 - k, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
                return buf;
        }
        if (dp <= 0) {
                buf[k++] = '0';
                buf[k++] = '.';
                for (int i = 0; i < -dp; i++)
                        buf[k++] = '0';
                memcpy(buf + k, digits, nd);
                buf[k + nd] = 0;
                return buf;
        }
        for (size_t i = 0; i < nd || (int)i < dp; i++) {
                if ((int)i == dp)
                        buf[k++] = '.';
                buf[k++] = i < nd ? digits[i] : '0';
        }
        buf[k] = 0;
        return buf;
}
