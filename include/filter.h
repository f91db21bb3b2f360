/* filter.h: a regular expression (PCRE2) that selects names: devices,
 * mount points, filesystem types.  Compiled once (JIT when available), with
 * \C refused and a match limit, so a pattern from a configuration file can
 * neither misread UTF-8 nor cost unbounded time.  A name matches when the
 * pattern matches anywhere in it (as node_exporter's filters do; anchor it
 * with ^ and $ to match the whole name). */
#pragma once

#include <stdbool.h>

#include "macro.h"

struct filter;

/* 0 and *ret, or -EINVAL with *error (malloc'd) saying where the pattern is
 * wrong ("missing closing parenthesis at offset 3"). */
_must_check_ int filter_new(struct filter **ret, const char *pattern, char **error);
struct filter *filter_free(struct filter *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct filter *, filter_free)

/* Whether s matches; a name that hits the match limit does not. */
bool filter_match(const struct filter *f, const char *s);
