/* placement-value.c: typed comparisons for the query language.  Versions are
 * compared digit-string by digit-string, so no component can overflow; times
 * are converted with a proleptic Gregorian day count rather than timegm(),
 * which keeps parsing independent of the process time zone. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "placement-value.h"

/* Parse exactly n decimal digits at *p. */
static bool digits(const char **p, int n, int *ret) {
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m) {
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return m == 2 && leap ? 29 : days[m - 1];
}

int placement_value_parse_time(const char *s, int64_t *ret) {
        const char *p = s;
        int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
        int64_t usec = 0, offset = 0;

        if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
            !digits(&p, 2, &d))
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
                return -EINVAL;
        if (*p == 'T') {
                p++;
                if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
                    !digits(&p, 2, &sec))
                        return -EINVAL;
                if (h > 23 || mi > 59 || sec > 60)
                        return -EINVAL;
                if (*p == '.') {
                        int64_t scale = 100000;
                        p++;
                        if (!isdigit((unsigned char)*p))
                                return -EINVAL;
                        for (; isdigit((unsigned char)*p); p++) {
                                usec += (*p - '0') * scale;
                                scale /= 10;
                        }
                }
                if (*p == 'Z')
                        p++;
                else if (*p == '+' || *p == '-') {
                        int sign = *p++ == '-' ? -1 : 1;
                        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 ||
                            om > 59)
                                return -EINVAL;
                        offset = sign * ((int64_t)oh * 3600 + om * 60);
                }
        }
        if (*p != '\0')
                return -EINVAL;

        int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                    sec - offset;
        *ret = t * 1000000 + usec;
        return 0;
}

bool placement_value_is_version(const char *s) {
        if (!isdigit((unsigned char)*s))
                return false;
        for (const char *p = s; *p; p++) {
                if (*p == '.') {
                        if (!isdigit((unsigned char)p[1]))
                                return false;
                } else if (!isdigit((unsigned char)*p))
                        return false;
        }
        return true;
}

/* Compare the digit runs at *a and *b numerically and advance past them. */
static int compare_component(const char **a, const char **b) {
        size_t la, lb;
        int r;

        while (**a == '0' && isdigit((unsigned char)(*a)[1]))
                (*a)++;
        while (**b == '0' && isdigit((unsigned char)(*b)[1]))
                (*b)++;
        la = strspn(*a, "0123456789");
        lb = strspn(*b, "0123456789");
        if (la != lb)
                r = la < lb ? -1 : 1;
        else
                r = strncmp(*a, *b, la);
        *a += la;
        *b += lb;
        return r;
}

int placement_value_compare_versions(const char *a, const char *b, int *ret) {
        if (!placement_value_is_version(a) || !placement_value_is_version(b))
                return -EINVAL;
        for (;;) {
                /* An exhausted side reads as a run of zero components. */
                const char *ca = *a ? a : "0", *cb = *b ? b : "0";
                bool end_a = !*a, end_b = !*b;
                int r = compare_component(&ca, &cb);

                if (r != 0) {
                        *ret = r < 0 ? -1 : 1;
                        return 0;
                }
                if (!end_a)
                        a = *ca == '.' ? ca + 1 : ca;
                if (!end_b)
                        b = *cb == '.' ? cb + 1 : cb;
                if (!*a && !*b) {
                        *ret = 0;
                        return 0;
                }
        }
}

bool placement_value_parse_number(const char *s, double *ret) {
        const char *p = s;
        char *end;
        double v;

        /* strtod would also take hex, inf and nan; attribute values such as
         * "0x10" or "nan" are strings. */
        if (*p == '+' || *p == '-')
                p++;
        if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
                return false;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
                return false;
        errno = 0;
        v = strtod(s, &end);
        if (*end != '\0' || errno == ERANGE || !isfinite(v))
                return false;
        *ret = v;
        return true;
}

bool placement_value_parse_integer(const char *s, int64_t *ret) {
        const char *p = s;
        char *end;
        long long v;

        if (*p == '+' || *p == '-')
                p++;
        if (!isdigit((unsigned char)*p))
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end != '\0' || errno == ERANGE)
                return false;
        *ret = v;
        return true;
}
