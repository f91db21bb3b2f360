/* placement-json.c: shared JSON reading for the placement parsers.  cJSON
 * does the parsing; this adds error positions (line and column of the byte
 * where cJSON stopped) and field paths, so every input error says where. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement-json.h"
#include "placement-model.h"

void placement_json_path(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* At least the number of values in the document, counted without parsing:
 * the root, and one per ',', '[' and '{' outside strings (a container of k
 * values has k - 1 commas). */
static size_t count_values(const char *text, size_t len) {
        size_t n = 1;
        bool in_string = false;

        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                } else if (c == '"')
                        in_string = true;
                else if (c == ',' || c == '[' || c == '{')
                        n++;
        }
        return n;
}

/* Parse the document; malformed JSON gets the position cJSON stopped at. */
int placement_json_parse(const char *text, size_t len, cJSON **ret, struct placement_error *e) {
        const char *end = NULL;
        cJSON *j;

        if (memchr(text, '\0', len)) {
                size_t at = (size_t)((const char *)memchr(text, '\0', len) - text);
                return placement_error_at(e, text, len, at, "malformed JSON (NUL byte)");
        }
        if (count_values(text, len) > PLACEMENT_JSON_VALUES_MAX)
                return placement_error_set(e, -EFBIG,
                                           "more than %d JSON values, ecs-place's limit for an "
                                           "input file (5,000 container instances, ECS's most "
                                           "per cluster, at 800 values)",
                                           PLACEMENT_JSON_VALUES_MAX);
        /* cJSON wants to see the terminating NUL within the length it is given
         * when asked to reject trailing garbage, and text need not have one. */
        _cleanup_free_ char *copy = malloc(len + 1);
        if (!copy)
                return placement_error_set(e, -ENOMEM, "out of memory");
        memcpy(copy, text, len);
        copy[len] = '\0';
        j = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
        if (!j) {
                size_t at = end && end >= copy && end <= copy + len ? (size_t)(end - copy) : 0;
                if (at >= len)
                        return placement_error_at(e, text, len, len,
                                                  "malformed JSON (unexpected end of input)");
                return placement_error_at(e, text, len, at, "malformed JSON");
        }
        *ret = j;
        return 0;
}

int placement_json_shape_error(struct placement_error *e, const char *path, const char *fmt, ...) {
        char what[PLACEMENT_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return placement_error_set(e, -EINVAL, "%s: %s", path, what);
}

/* Copy the optional string member key of obj into *ret (NULL when absent or
 * null).  Any other type is a shape error naming path.key. */
int placement_json_get_string(const cJSON *obj, const char *key, const char *path, char **ret,
                              struct placement_error *e) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
        char *s;

        *ret = NULL;
        if (!j || cJSON_IsNull(j))
                return 0;
        if (!cJSON_IsString(j))
                return placement_json_shape_error(e, path, "%s: expected a string", key);
        s = strdup(j->valuestring);
        if (!s)
                return placement_error_set(e, -ENOMEM, "out of memory");
        *ret = s;
        return 0;
}

int placement_json_get_int(const cJSON *j, const char *path, int64_t *ret,
                           struct placement_error *e) {
        /* Range first: converting an out-of-range double is undefined. */
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= -9e18 && j->valuedouble <= 9e18) ||
            j->valuedouble != (double)(int64_t)j->valuedouble)
                return placement_json_shape_error(e, path, "expected an integer");
        *ret = (int64_t)j->valuedouble;
        return 0;
}

int placement_json_name_value(const cJSON *obj, const char *path, char **ret_name, char **ret_value,
                              struct placement_error *e) {
        char *name = NULL, *value = NULL;
        int r;

        if (!cJSON_IsObject(obj))
                return placement_json_shape_error(e, path, "expected an object");
        r = placement_json_get_string(obj, "name", path, &name, e);
        if (r < 0)
                return r;
        if (!name)
                return placement_json_shape_error(e, path, "name: missing");
        r = placement_json_get_string(obj, "value", path, &value, e);
        if (r < 0) {
                free(name);
                return r;
        }
        *ret_name = name;
        *ret_value = value;
        return 0;
}

int placement_json_vector(const cJSON *arr, const char *path, size_t size, void **ret,
                          struct placement_error *e) {
        void *v;

        if (!arr || cJSON_IsNull(arr)) {
                *ret = NULL;
                return 0;
        }
        if (!cJSON_IsArray(arr))
                return placement_json_shape_error(e, path, "expected an array");
        v = calloc((size_t)cJSON_GetArraySize(arr) + 1, size);
        if (!v)
                return placement_error_set(e, -ENOMEM, "out of memory");
        *ret = v;
        return 1;
}

int placement_json_attributes(const cJSON *arr, const char *path, struct placement_attribute **ret,
                              size_t *ret_n, struct placement_error *e) {
        struct placement_attribute *v;
        const cJSON *a;
        void *mem = NULL;
        size_t n = 0;
        int r;

        r = placement_json_vector(arr, path, sizeof(*v), &mem, e);
        if (r < 0)
                return r;
        v = mem; /* NULL for none: the loop below reads nothing */
        cJSON_ArrayForEach(a, arr) {
                char p[PLACEMENT_JSON_PATH_MAX];

                placement_json_path(p, sizeof(p), "%s[%zu]", path, n);
                r = placement_json_name_value(a, p, &v[n].name, &v[n].value, e);
                if (r < 0) {
                        placement_attributes_free(v, n);
                        return r;
                }
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* The array member key of the top-level object, with a hint naming the
 * command whose output was expected. */
static int top_array(const cJSON *root, const char *key, const char *command, const cJSON **ret,
                     struct placement_error *e) {
        const cJSON *a;

        if (!cJSON_IsObject(root))
                return placement_error_set(e, -EINVAL,
                                           "expected an object with \"%s\" (the output of %s)", key,
                                           command);
        a = cJSON_GetObjectItemCaseSensitive(root, key);
        if (!a)
                return placement_error_set(e, -EINVAL, "%s: missing (expected the output of %s)",
                                           key, command);
        if (!cJSON_IsArray(a))
                return placement_error_set(e, -EINVAL, "%s: expected an array", key);
        *ret = a;
        return 0;
}

int placement_json_load_array(const struct placement_json_loader *l, const char *text, size_t len,
                              void **vec, size_t *n_vec, struct placement_error *e) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const cJSON *arr, *j;
        char *v, *grown;
        size_t n = 0;
        int r;

        r = placement_json_parse(text, len, &root, e);
        if (r < 0)
                return r;
        r = top_array(root, l->key, l->command, &arr, e);
        if (r < 0)
                return r;
        v = calloc((size_t)cJSON_GetArraySize(arr) + 1, l->size);
        if (!v)
                return placement_error_set(e, -ENOMEM, "out of memory");
        cJSON_ArrayForEach(j, arr) {
                char path[PLACEMENT_JSON_PATH_MAX];

                placement_json_path(path, sizeof(path), "%s[%zu]", l->key, n);
                r = l->parse(j, path, v + n * l->size, e);
                n++;
                if (r < 0)
                        goto fail;
        }
        grown = realloc(*vec, (*n_vec + n + 1) * l->size);
        if (!grown) {
                r = placement_error_set(e, -ENOMEM, "out of memory");
                goto fail;
        }
        *vec = grown;
        memcpy(grown + *n_vec * l->size, v, n * l->size);
        *n_vec += n;
        free(v);
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                l->done(v + i * l->size);
        free(v);
        return r;
}
