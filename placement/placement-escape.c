/* placement-escape.c: the one way ecs-place shows outside text on a terminal
 * (see placement-escape.h).  Escaping is by byte, never by locale, so the
 * output is the same on every host; UTF-8 is checked strictly (no overlong
 * forms, no surrogates, nothing above U+10FFFF), so a byte that a terminal
 * could read as a control is never kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement-escape.h"

/* The length of the valid UTF-8 character at s other than a C1 control, 0
 * when there is none. */
static size_t utf8_char(const unsigned char *s, size_t n) {
        size_t len;
        unsigned cp;

        if (s[0] >= 0xC2 && s[0] <= 0xDF)
                len = 2, cp = s[0] & 0x1Fu;
        else if (s[0] >= 0xE0 && s[0] <= 0xEF)
                len = 3, cp = s[0] & 0x0Fu;
        else if (s[0] >= 0xF0 && s[0] <= 0xF4)
                len = 4, cp = s[0] & 0x07u;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3Fu);
        }
        if (cp <= 0x9F || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
                return 0; /* a C1 control, an overlong form, a surrogate, too large */
        return len;
}

size_t placement_escape_keep(const char *s, size_t n, bool utf8) {
        const unsigned char *u = (const unsigned char *)s;

        if (u[0] >= 0x20 && u[0] < 0x7F)
                return 1;
        return utf8 && u[0] >= 0x80 ? utf8_char(u, n) : 0;
}

char *placement_escape(const char *s, bool utf8) {
        size_t n = strlen(s), k = 0;
        char *buf = malloc(n * 4 + 1);

        if (!buf)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t keep = placement_escape_keep(s + i, n - i, utf8);
                if (keep == 0) {
                        k += (size_t)snprintf(buf + k, 5, "\\x%02x", (unsigned char)s[i]);
                        i++;
                        continue;
                }
                memcpy(buf + k, s + i, keep);
                k += keep;
                i += keep;
        }
        buf[k] = '\0';
        return buf;
}
