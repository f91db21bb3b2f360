/* errors.h: how the pure parsers hand back what was wrong.  They never log:
 * one problem comes back as a malloc'd message (errmsg_set), several as a
 * list where each error says where it was found (a file and line, or a name
 * such as "environment") and what was wrong.  The daemon decides what to do
 * with them: print them (--check-config) or log them. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

struct error {
        char *source;  /* a file path, "environment", "ECS_INSTANCE_ATTRIBUTES"; NULL: none */
        unsigned line; /* 1-based; 0 when the source has no lines */
        char *message; /* e.g. "ECS_HOSTD_MODE: \"x\" is not one of auto, register, companion" */
};

struct errors {
        struct error *v;
        size_t n;
};

/* Free every error; the list is empty (and reusable) afterwards.  Accepts NULL. */
void errors_done(struct errors *e);

/* Append one error.  Returns -EINVAL, so a parser can `return errors_add(...)`
 * when the input was bad, or -ENOMEM when the error could not be recorded. */
int errors_add(struct errors *e, const char *source, unsigned line, const char *format, ...)
        _printf_(4, 5);
int errors_addv(struct errors *e, const char *source, unsigned line, const char *format, va_list ap)
        _printf_(4, 0);

/* Move every error of from to the end of to (from is emptied). */
_must_check_ int errors_move(struct errors *to, struct errors *from);

/* One line per error: "source:line: message", "source: message" without a
 * line, or just the message without a source. */
void errors_print(const struct errors *e, FILE *f);
/* The same text for one error, malloc'd (NULL when out of memory). */
char *error_format(const struct error *e);

/* Set *error (if error is not NULL) to the formatted message and return
 * -EINVAL, or -ENOMEM (with *error NULL) when the message cannot be made. */
int errmsg_set(char **error, const char *format, ...) _printf_(2, 3);
