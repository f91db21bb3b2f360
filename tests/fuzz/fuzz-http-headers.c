/* fuzz-http-headers.c: what the metrics endpoint parses of a client's
 * request headers, on any bytes: Authorization (Basic, base64) and Accept
 * (the exposition format's negotiation). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic-auth.h"
#include "expo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1), buf[BASIC_AUTH_DECODED_MAX];
        int n;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0; /* libmicrohttpd hands header values as strings */
        n = basic_auth_decode(text, buf);
        if (n > BASIC_AUTH_DECODED_MAX)
                abort();
        (void)expo_negotiate(text);
        free(text);
        return 0;
}
