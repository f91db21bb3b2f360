/* placement-value.h: how the query language reads typed values: agent
 * versions, registration times and numbers.  Pure functions on strings; each
 * returns -EINVAL for text that is not of its type and never reads past the
 * terminating NUL. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Times: 2018-06-18T22:28:28+00:00, ...Z, 2018-06-18T22:28:28 (UTC),
 * 2018-06-18 (midnight UTC), and what the AWS CLI v2 prints
 * (2018-06-18T22:28:28.123000-07:00).  *ret is microseconds since the epoch. */
int placement_value_parse_time(const char *s, int64_t *ret);

/* Versions are dot-separated runs of digits ("1.14.5"); missing trailing
 * components count as 0, so 1.14 == 1.14.0, and 1.9.0 < 1.14.5.
 * *ret is <0, 0, >0 as a is below, equal to, above b. */
int placement_value_compare_versions(const char *a, const char *b, int *ret);
bool placement_value_is_version(const char *s);

/* A whole-string decimal number (strtod syntax, finite, no hex, no inf/nan). */
bool placement_value_parse_number(const char *s, double *ret);

/* A whole-string integer in int64_t range, optional sign. */
bool placement_value_parse_integer(const char *s, int64_t *ret);
