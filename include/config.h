/* config.h: ecs-hostd's configuration, read from KEY=VALUE files (the
 * official agent's /etc/ecs/ecs.config is shared, so its keys are accepted and
 * unknown keys ignored, except unknown ECS_HOSTD_* keys) and overridden by the
 * process environment.  Loading is pure: no logging, all errors collected.
 * Every key the daemon reads is in one table (config.c) with its default,
 * type, whether it is secret, and its README description. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Default files, read in this order when no --config is given; a missing
 * default file is not an error, a missing --config file is. */
#define CONFIG_DEFAULT_FILES                                                                       \
        { "/etc/ecs/ecs.config", "/etc/ecs/ecs-hostd.conf" }

struct config;

/* One error: where, which rule, what. */
struct config_error {
        char *file;    /* file name, or "environment" */
        unsigned line; /* 1-based; 0 for the environment */
        char *message; /* e.g. "unknown key ECS_HOSTD_POLL_INTERVAL (did you mean
                          ECS_HOSTD_POLL_INTERVAL_MS?)" */
};

struct config_errors {
        struct config_error *v;
        size_t n;
};
void config_errors_done(struct config_errors *e);
/* Format as "file:line: message" (or "environment: KEY: message"), one per line. */
void config_errors_print(const struct config_errors *e, FILE *f);

/* Load files in order (later files override earlier ones), then environment
 * entries ("KEY=VALUE", NULL-terminated, may be NULL) override files.
 * optional: when true, a missing file is skipped (the defaults).
 * Returns 0 and *ret when there were no errors; otherwise -EINVAL with every
 * error appended to errs (and *ret untouched). */
int config_load(struct config **ret, const char *const *files, size_t n_files, bool optional,
                char *const *envp, struct config_errors *errs);
/* The command line's rule: n_files == 0 means CONFIG_DEFAULT_FILES, missing
 * ones skipped; otherwise exactly the given files, each of which must exist.
 * main and the SIGHUP reload both use it so they read the same files. */
int config_load_files(struct config **ret, const char *const *files, size_t n_files,
                      char *const *envp, struct config_errors *errs);

/* Parse one file's text (pure; used by config_load and the fuzzer). */
int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
                      struct config_errors *errs);
int config_new_empty(struct config **ret);
struct config *config_free(struct config *c);

/* Effective value (default applied) of a key in the table; NULL when the key
 * is unset and has no default (so `config_get(c, "ECS_ENABLE_SPOT_INSTANCE_DRAINING")`
 * tells "unset" from an explicit "false").  The pointer is owned by the
 * config.  Values are normalised when stored: booleans read "true"/"false",
 * enum and list items their canonical lowercase spelling, lists have no
 * blanks ("spot,asg"), and a bare ECS_BACKEND_HOST gets "https://". */
const char *config_get(const struct config *c, const char *key);
/* false when unset without default. */
bool config_get_bool(const struct config *c, const char *key);
/* Integer keys: the number; duration keys: milliseconds; booleans: 0/1;
 * 0 when unset or of another type. */
int64_t config_get_int(const struct config *c, const char *key);
/* Where the effective value came from: "default", "environment",
 * "file:line", or "unset" (no value and no default). */
const char *config_source(const struct config *c, const char *key);
/* Whether a list key (ECS_HOSTD_DRAIN_ON, ...) holds item (lowercase). */
bool config_list_contains(const struct config *c, const char *key, const char *item);
/* A ports key (ECS_RESERVED_PORTS, ECS_RESERVED_PORTS_UDP) as numbers; *ret
 * is malloc'ed (freed by the caller), *ret_n may be 0. */
int config_get_ports(const struct config *c, const char *key, uint16_t **ret, size_t *ret_n);

/* Print every key's effective value with its source, one `KEY=VALUE  # source`
 * line per key in table order; secrets masked. */
void config_print(const struct config *c, FILE *f);
/* The key table as a markdown table (key, default, description) for the
 * README; `ecs-hostd --list-keys` prints it. */
void config_list_keys(FILE *f);
