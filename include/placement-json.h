/* placement-json.h: the JSON reading the placement parsers share: parse a
 * document with its error position, and read typed members with errors that
 * name the field ("containerInstances[0].attributes[1]: name: expected a
 * string").  Paths are for messages only and may be truncated. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "placement-error.h"

#define PLACEMENT_JSON_PATH_MAX 256 /* bytes of a field path in an error message */

/* JSON values in one document: a cluster has at most 5,000 container
 * instances (ECS's quota), and one describe entry holds about 300 values
 * (60-80 attributes of 2-3 values each, the resources, tags): 5,000 x 800.
 * A value costs cJSON 40-140 bytes, so the tree stays under about 560 MB
 * however dense the text is ("[0,0,..." makes a 64-byte node of every 2
 * bytes: 56 times its size). */
#define PLACEMENT_JSON_VALUES_MAX 4000000

/* Parse text (need not be NUL-terminated); malformed JSON gets its line and
 * column in e.  Text with more than PLACEMENT_JSON_VALUES_MAX values is
 * refused before it is parsed: -EFBIG, and a message without position. */
int placement_json_parse(const char *text, size_t len, cJSON **ret, struct placement_error *e);

/* "PATH: WHAT" as a shape error without position; returns -EINVAL. */
int placement_json_shape_error(struct placement_error *e, const char *path, const char *fmt, ...)
        _printf_(3, 4);

/* Copy the optional string member key of obj into *ret (NULL when absent or
 * null); any other type is an error naming path and key. */
int placement_json_get_string(const cJSON *obj, const char *key, const char *path, char **ret,
                              struct placement_error *e);

/* An {"name": ..., "value": ...} object at path (attributes,
 * requiresAttributes): name required, value optional (NULL).  Both strings
 * are returned malloc'd, and only on success. */
int placement_json_name_value(const cJSON *obj, const char *path, char **ret_name, char **ret_value,
                              struct placement_error *e);

/* The vector an optional array member is read into: absent or null, 0 and
 * *ret NULL; an array, 1 and *ret a zeroed vector of a slot of size bytes
 * per element, and one more (never empty); anything else is an error
 * naming path. */
int placement_json_vector(const cJSON *arr, const char *path, size_t size, void **ret,
                          struct placement_error *e);

/* An optional array of such objects at path: the instances' attributes and
 * the task definition's requiresAttributes (absent or null: none).  *ret
 * and *ret_n are written only on success; free with
 * placement_attributes_free(). */
struct placement_attribute;
int placement_json_attributes(const cJSON *arr, const char *path, struct placement_attribute **ret,
                              size_t *ret_n, struct placement_error *e);

/* j must be an integral number. */
int placement_json_get_int(const cJSON *j, const char *path, int64_t *ret,
                           struct placement_error *e);

void placement_json_path(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

/* One AWS CLI answer ({"KEY": [objects]}) read into a vector of elements of
 * size bytes: each parsed with parse (which names the field it dislikes by
 * the JSON path it is given, "KEY[3]"), appended to *vec all or nothing;
 * on failure done frees what parse filled and *vec is unchanged. */
struct placement_json_loader {
        const char *key;     /* "containerInstances" */
        const char *command; /* the AWS CLI command that prints it, for errors */
        size_t size;         /* of one element */
        int (*parse)(const cJSON *j, const char *path, void *out, struct placement_error *e);
        void (*done)(void *x);
};

int placement_json_load_array(const struct placement_json_loader *l, const char *text, size_t len,
                              void **vec, size_t *n_vec, struct placement_error *e);

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);
