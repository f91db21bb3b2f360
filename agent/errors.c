/* errors.c: the error list and the one-message form the parsers share (see
 * errors.h).  Recording an error never loses an earlier one: on -ENOMEM the
 * list is left as it was. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

void errors_done(struct errors *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n; i++) {
                free(e->v[i].source);
                free(e->v[i].message);
        }
        free(e->v);
        *e = (struct errors){};
}

int errors_addv(struct errors *e, const char *source, unsigned line, const char *format,
                va_list ap) {
        _cleanup_free_ char *message = NULL, *src = NULL;
        struct error *v;

        if (vasprintf(&message, format, ap) < 0) {
                message = NULL;
                return -ENOMEM;
        }
        if (source && !(src = strdup(source)))
                return -ENOMEM;
        v = reallocarray(e->v, e->n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        e->v = v;
        v[e->n++] = (struct error){TAKE_PTR(src), line, TAKE_PTR(message)};
        return -EINVAL;
}

int errors_add(struct errors *e, const char *source, unsigned line, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = errors_addv(e, source, line, format, ap);
        va_end(ap);
        return r;
}

int errors_move(struct errors *to, struct errors *from) {
        struct error *v;

        if (from->n == 0)
                return 0;
        v = reallocarray(to->v, to->n + from->n, sizeof *v);
        if (!v)
                return -ENOMEM;
        memcpy(v + to->n, from->v, from->n * sizeof *v);
        to->v = v;
        to->n += from->n;
        free(from->v);
        *from = (struct errors){};
        return 0;
}

char *error_format(const struct error *e) {
        char *s = NULL;
        int r;

        if (e->source && e->line > 0)
                r = asprintf(&s, "%s:%u: %s", e->source, e->line, e->message);
        else if (e->source)
                r = asprintf(&s, "%s: %s", e->source, e->message);
        else
                r = asprintf(&s, "%s", e->message);
        return r < 0 ? NULL : s;
}

void errors_print(const struct errors *e, FILE *f) {
        for (size_t i = 0; i < e->n; i++) {
                _cleanup_free_ char *line = error_format(&e->v[i]);
                fprintf(f, "%s\n", line ? line : e->v[i].message);
        }
}

int errmsg_set(char **error, const char *format, ...) {
        va_list ap;
        int r;

        if (!error)
                return -EINVAL;
        va_start(ap, format);
        r = vasprintf(error, format, ap);
        va_end(ap);
        if (r < 0) {
                *error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}
