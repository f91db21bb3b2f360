/* placement-error.h: the one error value every placement parser returns (a
 * message and, when it is about a piece of text, the place in that text).
 * Nothing in placement/ prints: callers render errors with
 * placement_error_render(), which underlines the place with a caret. */
#pragma once

#include <stddef.h>

#include "macro.h"

#define PLACEMENT_ERROR_MESSAGE_MAX 512 /* bytes, longer messages are truncated */

struct placement_error {
        char message[PLACEMENT_ERROR_MESSAGE_MAX]; /* "')' expected (to close '(' at column 3)" */
        size_t offset;                             /* byte offset in the text, when line > 0 */
        unsigned line;                             /* 1-based; 0: the error has no position */
        unsigned column; /* 1-based, counted in characters (UTF-8 code points) */
};

/* Line and column (1-based, columns in code points) of byte offset in text. */
void placement_error_locate(const char *text, size_t len, size_t offset, unsigned *ret_line,
                            unsigned *ret_column);

/* Fill e with a message about text at offset (offset may equal len: the end).
 * Always returns -EINVAL so parsers can `return placement_error_at(...)`. */
int placement_error_at(struct placement_error *e, const char *text, size_t len, size_t offset,
                       const char *fmt, ...) _printf_(5, 6);

/* Fill e with a message that has no position.  Returns r (a negative errno). */
int placement_error_set(struct placement_error *e, int r, const char *fmt, ...) _printf_(3, 4);

/* Render e about a one-expression text as jq and Lua do:
 *   column 17: ')' expected (to close '(' at column 4)
 *   not(task:group == database
 *                   ^
 * A text of several lines says "line L, column C" and shows only line L.  An
 * error without a position is its message alone.  *ret is malloc'd, ends
 * with a newline.  Returns 0 or -ENOMEM. */
int placement_error_render(const struct placement_error *e, const char *text, size_t len,
                           char **ret);
