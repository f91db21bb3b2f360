/* errmsg.h: how the pure parsers hand back a message.  They never log; they
 * return a negative errno and, when the caller asked for it, a malloc'd
 * message saying what was wrong. */
#pragma once

#include "macro.h"

/* Set *error (if error is not NULL) to the formatted message and return
 * -EINVAL, or -ENOMEM (with *error NULL) when the message cannot be made. */
int errmsg_set(char **error, const char *fmt, ...) _printf_(2, 3);
