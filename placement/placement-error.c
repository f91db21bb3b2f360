/* placement-error.c: positions and caret rendering for placement errors.
 * Columns count UTF-8 code points, so a caret lands under the character the
 * message names even after non-ASCII text; tabs are copied into the caret
 * line so it lines up in a terminal whatever the tab width.  The line shown
 * is escaped like any outside text (placement-escape.h, UTF-8 form): an
 * expression may come from a task definition. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "placement-error.h"
#include "placement-escape.h"

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

/* The line (n bytes) with the caret line under byte offset: a tab as itself
 * in both, a character as itself and one column, any other byte as \xNN and
 * four columns. */
static void render_line(FILE *f, const char *line, size_t n, size_t offset) {
        for (int pass = 0; pass < 2; pass++) {
                size_t stop = pass == 0 ? n : offset;

                for (size_t i = 0, k; i < stop; i += k) {
                        k = line[i] == '\t' ? 1 : placement_escape_keep(line + i, n - i, true);
                        if (pass == 0 && k > 0)
                                fwrite(line + i, 1, k, f);
                        else if (pass == 0)
                                fprintf(f, "\\x%02x", (unsigned char)line[i]);
                        else
                                fputs(line[i] == '\t' ? "\t" : k > 0 ? " " : "    ", f);
                        k = k > 0 ? k : 1;
                }
                fputs(pass == 0 ? "\n" : "^\n", f);
        }
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
                render_line(f, text + start, end - start, e->offset - start);
        }
        if (fclose(f) != 0 || !buf)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
