/* proctext.h: one pass over the text of a procfs, sysfs or udev file, as the
 * collectors' parsers read it: its lines and the fields of a line, split as
 * node_exporter's Go splits them (bufio.ScanLines, strings.Fields on ASCII
 * space), and decimal counters read as strconv.ParseUint(s, 10, 64) reads
 * them.  Nothing is allocated; a field is a span of the caller's buffer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What is left of a text, or of one line of it: [p, end). */
struct proctext {
        char *p, *end;
};

static inline struct proctext proctext_make(char *text, size_t len) {
        return (struct proctext){text, text + len};
}

/* Whether c separates fields: space, \t, \v, \f, \r (Go's ASCII spaces but
 * the newline, which never is inside a line). */
static inline bool proctext_is_space(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r' && c != '\n');
}

/* The next line of t, without its \n nor a \r before that; false at the
 * end.  A text that ends in \n has no empty line after it. */
bool proctext_line(struct proctext *t, struct proctext *ret_line);

/* The next field of a line (leading separators skipped): *ret and *ret_len;
 * false when none is left. */
bool proctext_field(struct proctext *line, char **ret, size_t *ret_len);

/* s[0..n) as a decimal number: one digit or more and nothing else, at most
 * UINT64_MAX.  ret is written only on success. */
bool proctext_u64(const char *s, size_t n, uint64_t *ret);

/* Room for one more element in v, an array of *cap elements of size bytes
 * of which n are used: v itself, or v moved to twice the room (*cap
 * updated), or NULL when out of memory (v then untouched). */
void *proctext_grow(void *v, size_t *cap, size_t n, size_t size);

/* Sort v, n elements of size bytes each starting with its name (a const
 * char * into one parsed text), by name, and keep one element per name: the
 * first of the text, or with keep_last the last.  Returns how many are
 * kept, at the front of v. */
size_t proctext_sort_names(void *v, size_t n, size_t size, bool keep_last);
