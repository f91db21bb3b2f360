/* node-text.h: what the host collectors' parsers share: procfs and sysfs
 * text taken a line and a field at a time (pointers into the text, nothing
 * copied or allocated), numbers read as the kernel writes them, and the
 * small named-value tables of the "key value" files (meminfo, vmstat). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A field of a line: n bytes at s (not NUL-terminated). */
struct node_text_field {
        const char *s;
        size_t n;
};

/* The next line of [*p, end) (without its newline) in *ret; *p moves past
 * it.  false at the end. */
bool node_text_line(const char **p, const char *end, struct node_text_field *ret);

/* The fields of line, split at blanks (space, tab, newline, \r, \v, \f) as Go's
 * strings.Fields does: the first max in f; returns how many the line has,
 * counted up to max + 1 (so max + 1 means "more than max"). */
size_t node_text_fields(struct node_text_field line, struct node_text_field *f, size_t max);

/* f without its leading and trailing blanks. */
struct node_text_field node_text_trim(struct node_text_field f);

/* Whether f is exactly the string s. */
bool node_text_eq(struct node_text_field f, const char *s);

/* An unsigned decimal (digits only, as the kernel's %lu): 0, -EINVAL when
 * it is not one, -ERANGE above UINT64_MAX. */
int node_text_u64(struct node_text_field f, uint64_t *ret);

/* A decimal integer with an optional '-' as a double, rounded as Go's
 * strconv.ParseFloat rounds it: 0 or -EINVAL. */
int node_text_number(struct node_text_field f, double *ret);

/* Whether f is a non-empty run of [A-Za-z0-9_], which makes a valid
 * metric name after "node_<subsystem>_". */
bool node_text_is_name(struct node_text_field f);

#define NODE_TEXT_NAME_MAX 64 /* bytes, with the NUL: the longest field name kept */

/* A named value of a "key value" file, as its series is named. */
struct node_text_value {
        char name[NODE_TEXT_NAME_MAX];
        size_t len;
        double value;
};

/* Set name (n bytes) to value in the table v of *n entries (at most max):
 * a name already there takes the new value in its place (node_exporter
 * keeps the last), else it is added.  0, -EINVAL when the name is too
 * long, -E2BIG when the table is full. */
int node_text_put(struct node_text_value *v, size_t *n, size_t max, const char *name, size_t len,
                  double value);

/* The entry called name, or NULL. */
const struct node_text_value *node_text_get(const struct node_text_value *v, size_t n,
                                            const char *name);
