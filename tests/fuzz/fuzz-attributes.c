/* fuzz-attributes.c: the attributes parser, the rules and the desired set on
 * any bytes taken as one attributes file (and as a name=value pair).  Beyond
 * memory safety it checks the module's promises: a desired set is sorted,
 * unique, valid, custom and within the limit, and failure always comes with
 * a message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attributes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const struct attribute_set *s) {
        for (size_t i = 0; i < s->n; i++) {
                char *err = NULL;
                if (i > 0 && strcmp(s->v[i - 1].name, s->v[i].name) >= 0)
                        abort(); /* not sorted or not unique */
                if (attribute_validate(s->v[i].name, s->v[i].value, &err) != 0)
                        abort(); /* an invalid attribute got through */
                if (attribute_is_builtin(s->v[i].name))
                        abort();
                if (s->v[i].value && !s->v[i].value[0])
                        abort(); /* "" must be stored as no value */
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct attribute_file file = {(char *)"fuzz.json", (char *)data, size};
        struct attribute_set set = {}, desired = {}, put = {}, del = {};
        struct errors errs = {};
        char *text, *eq, *err = NULL;
        int r;

        /* The bytes as a name, then as name=value. */
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (attribute_validate(text, NULL, &err) < 0 && !err)
                abort();
        free(err);
        err = NULL;
        eq = strchr(text, '=');
        if (eq) {
                *eq = 0;
                if (attribute_validate(text, eq + 1, &err) < 0 && !err)
                        abort();
                free(err);
        }
        free(text);

        r = attributes_parse_json("fuzz.json", (const char *)data, size, &set, &errs);
        if ((r == -EINVAL) != (errs.n > 0))
                abort();
        check_set(&set);
        errors_done(&errs);

        r = attributes_desired(NULL, &file, 1, &desired, &errs);
        if (r == 0) {
                if (errs.n > 0 || desired.n > ATTRIBUTES_MAX_CUSTOM || desired.n != set.n)
                        abort();
                check_set(&desired);
        } else if (r != -ENOMEM && errs.n == 0)
                abort();

        /* Everything parsed is owned and desired is empty: delete exactly
         * what is also in the parsed set. */
        if (attributes_diff(&desired, &set, &set, &put, &del) == 0 && desired.n == 0 &&
            (put.n != 0 || del.n != set.n))
                abort();

        attribute_set_done(&set);
        attribute_set_done(&desired);
        attribute_set_done(&put);
        attribute_set_done(&del);
        errors_done(&errs);
        return 0;
}
