/* proctext.c: lines, fields and counters of the collectors' files (see
 * proctext.h).  Every function stays inside [p, end): the text need not be
 * NUL-terminated and may hold NUL bytes. */
#include <stdlib.h>
#include <string.h>

#include "proctext.h"

bool proctext_line(struct proctext *t, struct proctext *ret_line) {
        char *eol, *next;

        if (t->p >= t->end)
                return false;
        eol = memchr(t->p, '\n', (size_t)(t->end - t->p));
        next = eol ? eol + 1 : t->end;
        if (!eol)
                eol = t->end;
        if (eol > t->p && eol[-1] == '\r')
                eol--;
        *ret_line = (struct proctext){t->p, eol};
        t->p = next;
        return true;
}

bool proctext_field(struct proctext *line, char **ret, size_t *ret_len) {
        char *s = line->p;

        while (s < line->end && proctext_is_space(*s))
                s++;
        line->p = s;
        while (line->p < line->end && !proctext_is_space(*line->p))
                line->p++;
        if (line->p == s)
                return false;
        *ret = s;
        *ret_len = (size_t)(line->p - s);
        return true;
}

bool proctext_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned char)s[i] - '0';
                if (d > 9 || v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
                        return false;
                v = v * 10 + d;
        }
        *ret = v;
        return true;
}

void *proctext_grow(void *v, size_t *cap, size_t n, size_t size) {
        size_t c = *cap ? *cap * 2 : 16;

        if (n < *cap)
                return v;
        v = reallocarray(v, c, size);
        if (v)
                *cap = c;
        return v;
}

static const char *name_of(const void *element) {
        return *(const char *const *)element;
}

/* By name, then by place in the text (the names lie in it in line order). */
static int by_name(const void *a, const void *b) {
        const char *x = name_of(a), *y = name_of(b);
        int c = strcmp(x, y);

        return c ? c : (x > y) - (x < y);
}

size_t proctext_sort_names(void *v, size_t n, size_t size, bool keep_last) {
        char *e = v;
        size_t k = 0;

        if (n < 2)
                return n;
        qsort(v, n, size, by_name);
        for (size_t i = 0; i < n; i++) {
                bool same =
                        k > 0 && strcmp(name_of(e + (k - 1) * size), name_of(e + i * size)) == 0;
                if (same && !keep_last)
                        continue;
                if (!same)
                        k++;
                if (k - 1 != i)
                        memcpy(e + (k - 1) * size, e + i * size, size);
        }
        return k;
}
