/* fuzz-config.c: libFuzzer target for the config file parser.  Any bytes
 * must parse without a crash or leak, and whatever was stored must print
 * (masked) and read back through every getter of every key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct errors errs = {};
        struct config *c = NULL;
        FILE *null = fopen("/dev/null", "w");
        unsigned line;

        if (!null || config_new_empty(&c) < 0)
                abort();
        (void)config_parse_text(c, "fuzz", (const char *)data, size, &errs);
        errors_print(&errs, null);
        errors_print(config_warnings(c), null);
        config_print(c, null);
        for (int k = 0; k < _KEY_MAX; k++) {
                uint16_t *ports = NULL;
                size_t n_ports = 0;

                (void)config_string(c, (enum config_key)k);
                (void)config_int(c, (enum config_key)k);
                (void)config_bool(c, (enum config_key)k);
                (void)config_enum(c, (enum config_key)k);
                (void)config_list_has(c, (enum config_key)k, "spot");
                (void)config_source(c, (enum config_key)k);
                (void)config_origin(c, (enum config_key)k, &line);
                if (config_ports(c, (enum config_key)k, &ports, &n_ports) >= 0)
                        free(ports);
        }
        errors_done(&errs);
        config_free(c);
        fclose(null);
        return 0;
}
