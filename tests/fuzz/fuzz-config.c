/* fuzz-config.c: libFuzzer target for the config file parser.  Any bytes
 * must parse without a crash or leak, and whatever was stored must print
 * (masked) and read back through every getter. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const keys[] = {"ECS_HOSTD_POLL_INTERVAL_MS",
                                           "ECS_HOSTD_MAINTENANCE_LEAD", "ECS_HOSTD_DRY_RUN",
                                           "ECS_RESERVED_PORTS"};
        struct config_errors errs = {};
        struct config *c = NULL;
        uint16_t *ports = NULL;
        size_t n_ports = 0;
        FILE *null = fopen("/dev/null", "w");

        if (!null || config_new_empty(&c) < 0)
                abort();
        (void)config_parse_text(c, "fuzz", (const char *)data, size, &errs);
        config_errors_print(&errs, null);
        config_print(c, null);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                (void)config_get_int(c, keys[i]);
        (void)config_list_contains(c, "ECS_HOSTD_DRAIN_ON", "spot");
        if (config_get_ports(c, "ECS_RESERVED_PORTS", &ports, &n_ports) >= 0)
                free(ports);
        config_errors_done(&errs);
        config_free(c);
        fclose(null);
        return 0;
}
