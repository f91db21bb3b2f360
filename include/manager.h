/* manager.h: the daemon's state and its one event loop.  main hands over the
 * loaded configuration and the files it came from (for the SIGHUP reload). */
#pragma once

#include <stddef.h>

#include "config.h"

/* Run until SIGTERM/SIGINT or a terminal error; returns the exit status.
 * cfg is borrowed (main frees it after); config_files are the --config files
 * (n_config_files == 0: the defaults), reread on SIGHUP with config_load_files(). */
int manager_run(struct config *cfg, const char *const *config_files, size_t n_config_files);

/* Log each configuration error on its own line, "file:line: message". */
void manager_log_config_errors(const struct config_errors *errs);
