/* fuzz-credentials.c: the IMDS role-credentials JSON parser on any bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct aws_credentials c = {};
        char *err = NULL;

        if (credentials_parse_imds((const char *)data, size, &c, &err) == 0)
                aws_credentials_done(&c);
        free(err);
        return 0;
}
