/* escape.c: one way to show outside text (see escape.h).  Escaping is by
 * byte, never by locale, so the output is the same on every host. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

char *escape_quote(char *buf, const char *s, size_t n, size_t max, char quote) {
        size_t k = 0;

        buf[k++] = quote;
        for (size_t i = 0; i < n && i < max; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == (unsigned char)quote || c == '\\') {
                        buf[k++] = '\\';
                        buf[k++] = (char)c;
                } else if (c >= 0x20 && c < 0x7f)
                        buf[k++] = (char)c;
                else
                        k += (size_t)snprintf(buf + k, 5, "\\x%02x", c);
        }
        buf[k++] = quote;
        if (n > max) {
                memcpy(buf + k, "...", 3);
                k += 3;
        }
        buf[k] = '\0';
        return buf;
}

char *escape_quote_dup(const char *s, size_t max) {
        size_t n = strlen(s);
        char *buf = malloc(ESCAPE_QUOTE_SIZE(n < max ? n : max));

        return buf ? escape_quote(buf, s, n, max, '"') : NULL;
}

char *escape_controls(char *buf, size_t size, const char *s) {
        size_t k = 0;

        for (; *s && k + 1 < size; s++) {
                unsigned char c = (unsigned char)*s;
                if (c >= 0x20 && c != 0x7f)
                        buf[k++] = (char)c;
                else if (k + 5 <= size)
                        k += (size_t)snprintf(buf + k, 5, "\\x%02x", c);
                else
                        break;
        }
        buf[k] = '\0';
        return buf;
}

bool utf8_valid(const char *s) {
        const unsigned char *p = (const unsigned char *)s;

        while (*p) {
                size_t n;
                uint32_t cp;
                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        cp = *p & 0x07;
                } else
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                p += n + 1;
        }
        return true;
}
