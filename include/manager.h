/* manager.h: the daemon: its state and its one event loop, as systemd's
 * timesyncd has it.  main loads the configuration, makes the manager, runs
 * it and frees it; everything else happens on the loop. */
#pragma once

#include <stddef.h>

#include "config.h"
#include "macro.h"

struct manager;

/* Take cfg (the manager frees it) and remember the --config files
 * (n_config_files == 0: the defaults; borrowed, they outlive the manager),
 * which a SIGHUP rereads with config_load_files().  Sets up the loop:
 * signals, the watchdog, the hook runner. */
int manager_new(struct manager **ret, struct config *cfg, const char *const *config_files,
                size_t n_config_files);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free)

/* Load the configuration as the daemon reads it, at start and on SIGHUP:
 * the files (n_files == 0: the defaults), the environment, ECS's rules
 * on the attributes it names (attrsync_check_config), and the metrics
 * endpoint's web configuration file with the files it names.  Every problem is
 * appended to errs; 0 with *ret, or -EINVAL. */
int manager_load_config(const char *const *files, size_t n_files, struct config **ret,
                        struct errors *errs);

/* Run until SIGTERM/SIGINT or a terminal error; returns the exit status. */
int manager_run(struct manager *m);
