/* fuzz-webconfig.c: libFuzzer target for the web configuration parser
 * (exporter-toolkit's YAML).  Any bytes must parse or fail without a crash
 * or leak, every error must print, and a result must be self-consistent:
 * TLS has its priorities, each user a valid bcrypt hash. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "webconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct errors errs = {};
        struct webconfig *w = NULL;
        FILE *null = fopen("/dev/null", "w");
        unsigned cost;
        int r;

        if (!null)
                abort();
        r = webconfig_parse(&w, "/etc/ecs/web.yml", (const char *)data, size, &errs);
        errors_print(&errs, null);
        if (r == 0) {
                if (errs.n > 0 || (w->tls && (!w->priorities || !w->cert.path || !w->key.path)) ||
                    w->n_users > WEBCONFIG_USERS_MAX)
                        abort();
                for (size_t i = 0; i < w->n_users; i++)
                        if (!webconfig_bcrypt_valid(w->users[i].hash, &cost) ||
                            cost > WEBCONFIG_BCRYPT_COST_MAX)
                                abort();
        } else if (r != -EINVAL || errs.n == 0)
                abort();
        webconfig_free(w);
        errors_done(&errs);
        fclose(null);
        return 0;
}
