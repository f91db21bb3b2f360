/* placement-escape.h: text from input files as ecs-place shows it on a
 * terminal, so that no value can move the cursor, recolour the screen or add
 * a line.  A byte that is not shown as itself is written \xNN, as the
 * daemon's escape.h does; a backslash is shown as itself, since ECS allows it
 * in attribute values.  Two forms:
 *   ASCII  printable ASCII as itself, every other byte escaped (tables and
 *          text output, whose columns stay aligned);
 *   UTF-8  valid UTF-8 characters kept too, except the C1 controls
 *          U+0080..U+009F (messages, which may quote what the user typed). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* How many bytes at s (n of them) form one character shown as itself; 0
 * when s[0] is shown as \xNN (n must be at least 1). */
size_t placement_escape_keep(const char *s, size_t n, bool utf8);

/* s (NUL-terminated) with every byte placement_escape_keep() refuses written
 * \xNN; malloc'd, NULL when out of memory. */
char *placement_escape(const char *s, bool utf8);
