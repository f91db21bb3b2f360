/* errmsg.c: the parsers' one way to report what was wrong (see errmsg.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "errmsg.h"

int errmsg_set(char **error, const char *fmt, ...) {
        va_list ap;
        int r;

        if (!error)
                return -EINVAL;
        va_start(ap, fmt);
        r = vasprintf(error, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}
