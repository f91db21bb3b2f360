/* manager.c: TEMPORARY stand-in from the config branch so ecs-hostd links;
 * the lead's event-loop manager replaces this file on merge. */
#include <stdlib.h>

#include "log.h"
#include "manager.h"

int manager_run(struct config *cfg, const char *const *config_files, size_t n_config_files) {
        (void)cfg;
        (void)config_files;
        (void)n_config_files;
        log_error("the manager is not implemented yet");
        return EXIT_FAILURE;
}
