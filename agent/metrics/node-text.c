/* node-text.c: the collectors' shared text helpers (see node-text.h).  Each
 * walks its bytes once and allocates nothing, so a parser built on them
 * reads a file in one pass. */
#include <errno.h>
#include <string.h>

#include "node-text.h"

/* The bytes Go's strings.Fields splits at (of ASCII: unicode.IsSpace),
 * looked up rather than compared in the parsers' innermost loop. */
static const bool blanks[256] = {
        [' '] = true, ['\t'] = true, ['\n'] = true, ['\r'] = true, ['\v'] = true, ['\f'] = true,
};

static bool is_blank(char c) {
        return blanks[(unsigned char)c];
}

bool node_text_line(const char **p, const char *end, struct node_text_field *ret) {
        const char *nl;

        if (*p >= end)
                return false;
        nl = memchr(*p, '\n', (size_t)(end - *p));
        *ret = (struct node_text_field){*p, (size_t)((nl ? nl : end) - *p)};
        *p = nl ? nl + 1 : end;
        return true;
}

size_t node_text_fields(struct node_text_field line, struct node_text_field *f, size_t max) {
        const char *s = line.s, *end = line.s + line.n;
        size_t n = 0;

        while (n <= max) {
                const char *start;
                while (s < end && is_blank(*s))
                        s++;
                if (s == end)
                        break;
                start = s;
                while (s < end && !is_blank(*s))
                        s++;
                if (n < max)
                        f[n] = (struct node_text_field){start, (size_t)(s - start)};
                n++;
        }
        return n;
}

struct node_text_field node_text_trim(struct node_text_field f) {
        while (f.n && is_blank(f.s[0])) {
                f.s++;
                f.n--;
        }
        while (f.n && is_blank(f.s[f.n - 1]))
                f.n--;
        return f;
}

bool node_text_eq(struct node_text_field f, const char *s) {
        return strlen(s) == f.n && memcmp(f.s, s, f.n) == 0;
}

int node_text_u64(struct node_text_field f, uint64_t *ret) {
        uint64_t v = 0;

        if (!f.n)
                return -EINVAL;
        for (size_t i = 0; i < f.n; i++) {
                unsigned d = (unsigned)(f.s[i] - '0');
                if (d > 9)
                        return -EINVAL;
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

int node_text_number(struct node_text_field f, double *ret) {
        bool minus = f.n && f.s[0] == '-';
        uint64_t v;
        int r;

        if (minus) {
                f.s++;
                f.n--;
        }
        r = node_text_u64(f, &v);
        if (r == -EINVAL)
                return r;
        /* Converting the exact integer rounds as ParseFloat does; past
         * UINT64_MAX (never in procfs) it is refused rather than guessed. */
        if (r < 0)
                return -EINVAL;
        *ret = minus ? -(double)v : (double)v;
        return 0;
}

bool node_text_is_name(struct node_text_field f) {
        if (!f.n)
                return false;
        for (size_t i = 0; i < f.n; i++) {
                char c = f.s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_'))
                        return false;
        }
        return true;
}

int node_text_put(struct node_text_value *v, size_t *n, size_t max, const char *name, size_t len,
                  double value) {
        if (len >= NODE_TEXT_NAME_MAX)
                return -EINVAL;
        for (size_t i = 0; i < *n; i++)
                if (v[i].len == len && memcmp(v[i].name, name, len) == 0) {
                        v[i].value = value;
                        return 0;
                }
        if (*n >= max)
                return -E2BIG;
        memcpy(v[*n].name, name, len);
        v[*n].name[len] = 0;
        v[*n].len = len;
        v[*n].value = value;
        (*n)++;
        return 0;
}

const struct node_text_value *node_text_get(const struct node_text_value *v, size_t n,
                                            const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].name, name) == 0)
                        return &v[i];
        return NULL;
}
