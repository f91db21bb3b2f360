/* envfile.h: the KEY=VALUE syntax of systemd's EnvironmentFile=, which is
 * how /etc/ecs/ecs.config reaches the official agent, so one file means the
 * same thing to both.  Pure: the parser hands each assignment to a callback
 * and collects syntax errors; what a key means is the caller's business.
 *   file       := { line }
 *   line       := ws* ( comment | assignment )? eol
 *   comment    := ( '#' | ';' ) any*              (only at the start of a line)
 *   assignment := [ "export" ws+ ] key ws* '=' ws* value
 *   value      := "'" literal* "'" ws* | '"' escaped* '"' ws* | unquoted
 * A '#' after a value is part of it, as in systemd.  Stricter than systemd:
 * a quote must close on its line (or a backslash-newline continuation), text
 * after a closing quote, lines without '=', bad keys and NUL bytes are
 * errors rather than silently dropped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

/* One assignment: key and value (NUL-free, unescaped), its 1-based line,
 * and hint, a note for a message about the value when it broke a rule
 * (e.g. that a trailing '#' is part of the value), or NULL.  Returns 0,
 * -EINVAL when it recorded an error about the assignment, or -ENOMEM to
 * stop the parse. */
typedef int (*envfile_assign_t)(const char *key, const char *value, unsigned line, const char *hint,
                                void *userdata);

/* Parse text (need not be NUL-terminated; a UTF-8 byte order mark and CRLF
 * line ends are accepted).  Syntax errors are appended to errs as
 * name:line.  Returns 0, -EINVAL when anything was wrong (a syntax error or
 * an assignment the callback refused), or -ENOMEM. */
int envfile_parse(const char *name, const char *text, size_t len, envfile_assign_t assign,
                  void *userdata, struct errors *errs);

/* Letters, digits and '_', not starting with a digit. */
bool envfile_key_valid(const char *s);
