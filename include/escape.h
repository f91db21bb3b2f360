/* escape.h: text from outside (IMDS, ECS, the official agent, files written
 * by hand) as it may appear in a message or a log line: quoted, printable
 * ASCII as itself, the quote and backslash escaped, every other byte --
 * control characters, DEL, bytes of UTF-8 -- as \xNN, so no input can add a
 * line, a journal field or an sd_notify field, and at most `max` bytes of it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Buffer size escape_quote() needs for at most max bytes (each may become
 * \xNN; quotes, "..." and the terminator). */
#define ESCAPE_QUOTE_SIZE(max) ((max)*4 + 8)

/* Write s[0..n) into buf, between two `quote` characters (e.g. '"'), cut
 * after max bytes with "..." after the closing quote.  buf must hold
 * ESCAPE_QUOTE_SIZE(max) bytes.  Returns buf. */
char *escape_quote(char *buf, const char *s, size_t n, size_t max, char quote);

/* The same, malloc'd (NULL when out of memory); s is NUL-terminated. */
char *escape_quote_dup(const char *s, size_t max);

/* A whole line for the log or sd_notify: s as it is, but every control
 * character (below 0x20, and DEL) as \xNN, so a newline in it can neither
 * start a log line nor add a notify field.  Cut to fit size (which must be
 * at least 1); returns buf. */
char *escape_controls(char *buf, size_t size, const char *s);

/* Whether s is well-formed UTF-8 (no overlong form, surrogate or code point
 * beyond U+10FFFF): what Go's utf8.ValidString accepts, so also what the
 * Prometheus client takes as a label value. */
bool utf8_valid(const char *s);
