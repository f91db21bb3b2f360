/* attributes.h: custom container-instance attributes: the desired set (from
 * ECS_INSTANCE_ATTRIBUTES and *.json files in the attributes directory),
 * ECS's validation rules applied locally, and the difference to send.
 * Pure except attributes_read_dir(), which only reads files.  No logging:
 * every problem comes back as an error whose source is the file (or
 * ECS_INSTANCE_ATTRIBUTES) and whose message names the attribute,
 * the rule and the offending character. */
#pragma once

#include "macro.h"

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

#define ATTRIBUTES_MAX_CUSTOM 10   /* ECS: at most 10 custom attributes per instance */
#define ATTRIBUTES_MAX_PER_CALL 10 /* ECS: at most 10 per PutAttributes/DeleteAttributes */
#define ATTRIBUTE_NAME_MAX 128
#define ATTRIBUTE_VALUE_MAX 128
#define ATTRIBUTES_FILE_MAX (64 * 1024) /* bytes: a larger attributes file is refused */
#define ATTRIBUTES_FILES_MAX 1000       /* *.json files in the directory: more is refused */

struct attribute {
        char *name;
        char *value;  /* NULL: an attribute without a value */
        char *source; /* where it was defined: "ECS_INSTANCE_ATTRIBUTES" or a file path */
};

struct attribute_set {
        struct attribute *v; /* sorted by name, names unique */
        size_t n;
};
void attribute_set_done(struct attribute_set *s);
/* Find by name; NULL when absent. */
const struct attribute *attribute_set_find(const struct attribute_set *s, const char *name);
/* Add or replace (keeps the set sorted).  value may be NULL; "" is stored
 * as NULL (ECS has no empty values: both mean "without a value"). */
_must_check_ int attribute_set_put(struct attribute_set *s, const char *name, const char *value,
                                   const char *source);
/* -ENOENT when absent. */
int attribute_set_remove(struct attribute_set *s, const char *name);

/* Check a name and a value (NULL or "": no value) against ECS's rules.
 * Returns 0, or -EINVAL with *error set (malloc'd) naming the rule and the
 * offending character (1-based position) or length; the message does not
 * repeat the name (callers prefix source and attribute). */
int attribute_validate(const char *name, const char *value, char **error);
/* Built-in names ("ecs." prefix) are ECS's and the agent's: not custom. */
bool attribute_is_builtin(const char *name);

/* Parse a JSON object of strings ({"name": "value", "flag": ""}; an empty
 * string or null means no value) from source (for messages).  Every problem
 * is appended to errs; valid attributes are added to set (later ones
 * override earlier ones of the same name).  Also refuses built-in names.
 * Returns 0, -EINVAL when it appended errors, -ENOMEM. */
int attributes_parse_json(const char *source, const char *json, size_t len,
                          struct attribute_set *set, struct errors *errs);

/* One file of the attributes directory. */
struct attribute_file {
        char *path;
        char *text;
        size_t len;
};

/* Read every regular *.json file of dir, sorted by name in byte order (a
 * missing dir is an empty list; unreadable or oversized files are errors,
 * and so are more than ATTRIBUTES_FILES_MAX candidates (none is read then);
 * hidden files, other names and directories are ignored; symlinks are
 * followed).  Returns 0, or -EINVAL when it appended errors: *ret and
 * *ret_n are then still set to the files it could read, so the caller may
 * pass them on to attributes_desired(), which fails because errs is not
 * empty.  Other negative errno: nothing is written. */
int attributes_read_dir(const char *dir, struct attribute_file **ret, size_t *ret_n,
                        struct errors *errs);
void attribute_files_free(struct attribute_file *f, size_t n);

/* The desired custom set: ECS_INSTANCE_ATTRIBUTES (may be NULL) first, then
 * the files in name order, later definitions overriding earlier ones; then
 * the limits (at most ATTRIBUTES_MAX_CUSTOM, no built-in names).  An empty
 * env_json counts as unset.  Returns 0, or -EINVAL when errs holds anything,
 * including errors appended before the call (ret is then untouched).  On
 * success the old contents of *ret are freed and replaced. */
int attributes_desired(const char *env_json, const struct attribute_file *files, size_t n_files,
                       struct attribute_set *ret, struct errors *errs);

/* What to send so that ECS matches desired, touching only attributes we own:
 *  - put: desired attributes missing from actual or with another value;
 *  - delete: attributes in owned that are not desired any more and are
 *    present in actual.  Attributes someone else added are never deleted.
 * Values compare with NULL equal to "".  ret_put / ret_delete (either may be
 * NULL) have their old contents freed and replaced on success. */
int attributes_diff(const struct attribute_set *desired, const struct attribute_set *actual,
                    const struct attribute_set *owned, struct attribute_set *ret_put,
                    struct attribute_set *ret_delete);
