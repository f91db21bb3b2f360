/* placement-error.c: positions and caret rendering for placement errors.
 * Columns count UTF-8 code points, so a caret lands under the character the
 * message names even after non-ASCII text; tabs are copied into the caret
 * line so it lines up in a terminal whatever the tab width. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "placement-error.h"

static bool is_continuation(unsigned char c) {
        return (c & 0xC0) == 0x80;
}

void placement_error_locate(const char *text, size_t len, size_t offset, unsigned *ret_line,
                            unsigned *ret_column) {
        unsigned line = 1, column = 1;

        if (offset > len)
                offset = len;
        for (size_t i = 0; i < offset; i++) {
                if (text[i] == '\n') {
                        line++;
                        column = 1;
                } else if (!is_continuation((unsigned char)text[i]))
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
}

int placement_error_at(struct placement_error *e, const char *text, size_t len, size_t offset,
                       const char *fmt, ...) {
        va_list ap;

        if (!e)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        e->offset = offset > len ? len : offset;
        placement_error_locate(text, len, e->offset, &e->line, &e->column);
        return -EINVAL;
}

int placement_error_set(struct placement_error *e, int r, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return r;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        e->offset = 0;
        e->line = e->column = 0;
        return r;
}

int placement_error_render(const struct placement_error *e, const char *text, size_t len,
                           char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        if (e->line == 0) {
                fprintf(f, "%s\n", e->message);
        } else {
                size_t start = e->offset, end = e->offset;
                bool multiline = memchr(text, '\n', len) != NULL;

                while (start > 0 && text[start - 1] != '\n')
                        start--;
                while (end < len && text[end] != '\n')
                        end++;
                if (multiline)
                        fprintf(f, "line %u, column %u: %s\n", e->line, e->column, e->message);
                else
                        fprintf(f, "column %u: %s\n", e->column, e->message);
                fwrite(text + start, 1, end - start, f);
                fputc('\n', f);
                for (size_t i = start; i < e->offset; i++) {
                        if (text[i] == '\t')
                                fputc('\t', f);
                        else if (!is_continuation((unsigned char)text[i]))
                                fputc(' ', f);
                }
                fputs("^\n", f);
        }
        if (fclose(f) != 0 || !buf)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
