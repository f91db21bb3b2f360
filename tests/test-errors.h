/* test-errors.h: an error list as the daemon prints it, as one string, so a
 * test compares exact output with CHECK_STREQ. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "errors.h"

/* errors_print()'s text (malloc'd; "" for none). */
static inline char *errors_text(const struct errors *e) {
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);

        if (!f)
                abort();
        errors_print(e, f);
        fclose(f);
        return out;
}
