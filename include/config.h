/* config.h: ecs-hostd's configuration, read from KEY=VALUE files (the
 * official agent's /etc/ecs/ecs.config is shared, so its keys are accepted and
 * unknown keys ignored, except unknown ECS_HOSTD_* keys) and overridden by the
 * process environment.  Loading is pure: no logging, all errors collected.
 * Every key the daemon reads is in one table (config.c) with its type,
 * default, flags and README description, and has an enum value here, so a
 * misspelt key does not compile.  A value is validated, normalised and
 * parsed once, when it is stored; the typed getters never fail. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "errors.h"
#include "macro.h"

/* Default files, read in this order when no --config is given; a missing
 * default file is not an error, a missing --config file is. */
#define CONFIG_DEFAULT_FILES                                                                       \
        { "/etc/ecs/ecs.config", "/etc/ecs/ecs-hostd.conf" }

/* Every key, in the order of --check-config and --list-keys. */
enum config_key {
        KEY_ECS_CLUSTER,
        KEY_ECS_LOGLEVEL,
        KEY_AWS_REGION,
        KEY_AWS_DEFAULT_REGION,
        KEY_ECS_BACKEND_HOST,
        KEY_AWS_ENDPOINT_URL_AUTO_SCALING,
        /* The proxy of ECS calls, as the official agent reads it from
         * ecs.config; each lowercase spelling too, as curl reads it. */
        KEY_HTTPS_PROXY,
        KEY_https_proxy,
        KEY_HTTP_PROXY,
        KEY_http_proxy,
        KEY_NO_PROXY,
        KEY_no_proxy,
        KEY_AWS_EC2_METADATA_SERVICE_ENDPOINT,
        KEY_AWS_ACCESS_KEY_ID,
        KEY_AWS_SECRET_ACCESS_KEY,
        KEY_AWS_SESSION_TOKEN,
        KEY_ECS_HOSTD_IMDS_TOKEN_TTL,
        KEY_ECS_HOSTD_IMDS_V1_FALLBACK,
        KEY_ECS_HOSTD_MODE,
        KEY_ECS_HOSTD_DATADIR,
        KEY_ECS_HOSTD_ATTRIBUTES_DIR,
        KEY_ECS_INSTANCE_ATTRIBUTES,
        KEY_ECS_CONTAINER_INSTANCE_TAGS,
        KEY_ECS_RESERVED_MEMORY,
        KEY_ECS_RESERVED_PORTS,
        KEY_ECS_RESERVED_PORTS_UDP,
        KEY_ECS_AGENT_INTROSPECTION_URL,
        KEY_ECS_HOSTD_DRAIN_ON,
        KEY_ECS_HOSTD_POLL_INTERVAL_MS,
        KEY_ECS_HOSTD_DRAIN_MAINTENANCE_CODES,
        KEY_ECS_HOSTD_MAINTENANCE_LEAD,
        KEY_ECS_ENABLE_SPOT_INSTANCE_DRAINING,
        KEY_ECS_HOSTD_UNDRAIN,
        KEY_ECS_HOSTD_DRAIN_HOOK,
        KEY_ECS_HOSTD_DRAIN_HOOK_TIMEOUT,
        KEY_ECS_HOSTD_EMPTY_HOOK,
        KEY_ECS_HOSTD_DRY_RUN,
        KEY_ECS_HOSTD_ASG_LIFECYCLE_HOOK,
        KEY_ECS_HOSTD_ASG_NAME,
        KEY_ECS_HOSTD_ASG_DRAIN_TIMEOUT,
        KEY_ECS_HOSTD_ASG_HEARTBEAT_INTERVAL,
        KEY_ECS_HOSTD_METRICS_LISTEN,
        KEY_ECS_HOSTD_METRICS_WEB_CONFIG,
        KEY_ECS_HOSTD_METRICS_COLLECTORS,
        KEY_ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE,
        KEY_ECS_HOSTD_METRICS_DISKSTATS_DEVICE_EXCLUDE,
        KEY_ECS_HOSTD_METRICS_FILESYSTEM_MOUNT_POINTS_EXCLUDE,
        KEY_ECS_HOSTD_METRICS_FILESYSTEM_FS_TYPES_EXCLUDE,
        KEY_ECS_HOSTD_PROCFS,
        KEY_ECS_HOSTD_SYSFS,
        KEY_ECS_HOSTD_ROOTFS,
        _KEY_MAX,
};

/* ECS_HOSTD_MODE, as config_enum() returns it. */
enum config_mode {
        CONFIG_MODE_AUTO,
        CONFIG_MODE_REGISTER,
        CONFIG_MODE_COMPANION,
};

/* ECS_HOSTD_DRAIN_ON items, as bits of config_list(). */
enum {
        CONFIG_DRAIN_SPOT = 1 << 0,
        CONFIG_DRAIN_REBALANCE = 1 << 1,
        CONFIG_DRAIN_ASG = 1 << 2,
        CONFIG_DRAIN_MAINTENANCE = 1 << 3,
};

/* ECS_LOGLEVEL reads as a syslog priority (LOG_DEBUG ... LOG_CRIT) from
 * config_enum(). */

struct config;

/* Load files in order (later files override earlier ones), then environment
 * entries ("KEY=VALUE", NULL-terminated, may be NULL) override files.
 * optional: when true, a missing file is skipped (the defaults).
 * Returns 0 and *ret when there were no errors; otherwise -EINVAL with every
 * error appended to errs (and *ret untouched). */
int config_load(struct config **ret, const char *const *files, size_t n_files, bool optional,
                char *const *envp, struct errors *errs);
/* The command line's rule: n_files == 0 means CONFIG_DEFAULT_FILES, missing
 * ones skipped; otherwise exactly the given files, each of which must exist.
 * main and the SIGHUP reload both use it so they read the same files. */
int config_load_files(struct config **ret, const char *const *files, size_t n_files,
                      char *const *envp, struct errors *errs);

/* Parse one file's text (pure; used by config_load and the fuzzer). */
int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
                      struct errors *errs);
int config_new_empty(struct config **ret);
struct config *config_free(struct config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct config *, config_free)

/* Lines that are not errors but probably mistakes: a key outside the
 * ECS_HOSTD_ prefix that is ignored but looks like a typo of a known key
 * ("ECS_CLUSTR is not a key ecs-hostd reads (did you mean ECS_CLUSTER?)").
 * Files only, not the environment.  Owned by the config. */
const struct errors *config_warnings(const struct config *c);

/* The key's name ("ECS_CLUSTER"). */
const char *config_key_name(enum config_key k);

/* The rule of a region name (AWS_REGION): "us-east-1", lowercase letters,
 * digits and '-'.  For a region that comes from elsewhere (IMDS). */
bool config_region_valid(const char *s);

/* Auto Scaling's name rules, as its API documents them, for
 * ECS_HOSTD_ASG_NAME and a group name read from IMDS: 1 to 255 characters
 * (UTF-16 units, as AWS counts them) of XML text, so no control character
 * but tab, CR and LF, and no U+FFFE or U+FFFF (CreateAutoScalingGroup's
 * XmlStringMaxLen255); for ECS_HOSTD_ASG_LIFECYCLE_HOOK 1 to 255 of A-Z a-z
 * 0-9 - _ / (PutLifecycleHook's AsciiStringMaxLen255).  s is NUL-terminated;
 * bytes that are not UTF-8 are invalid. */
#define CONFIG_ASG_NAME_MAX 255
bool config_asg_name_valid(const char *s);
bool config_asg_hook_name_valid(const char *s);

/* Effective value (default applied), normalised when it was stored:
 * booleans read "true"/"false", enum and list items their canonical
 * lowercase spelling, lists have no blanks ("spot,asg"), a bare
 * ECS_BACKEND_HOST gets "https://" and a bare proxy "http://".  NULL when the key is unset and has
 * no default.  Owned by the config. */
const char *config_string(const struct config *c, enum config_key k);
/* Whether the value was configured (a file or the environment), rather than
 * the default: ECS_ENABLE_SPOT_INSTANCE_DRAINING acts only when set. */
bool config_is_set(const struct config *c, enum config_key k);
/* Boolean keys; false when unset without default. */
bool config_bool(const struct config *c, enum config_key k);
/* Integer keys; 0 when unset without default. */
int64_t config_int(const struct config *c, enum config_key k);
/* Duration keys, in milliseconds; 0 when unset (config_is_set tells). */
int64_t config_duration_ms(const struct config *c, enum config_key k);
/* Enum keys: the value of the chosen item (enum config_mode, a syslog level). */
int config_enum(const struct config *c, enum config_key k);
/* List keys: a bit per listed item (CONFIG_DRAIN_*; for other lists bit i
 * is the i-th choice of --list-keys). */
unsigned config_list(const struct config *c, enum config_key k);
/* Whether a list key holds item (its canonical spelling, e.g. an IMDS
 * maintenance code); false for an item that is not one of its choices. */
bool config_list_has(const struct config *c, enum config_key k, const char *item);
/* The ports of a HOST:PORT list key (ECS_HOSTD_METRICS_LISTEN), in order,
 * duplicates kept; 0 when it is off. */
#define CONFIG_LISTEN_MAX 8
size_t config_listen_ports(const struct config *c, enum config_key k,
                           uint16_t ports[static CONFIG_LISTEN_MAX]);
/* A ports key (ECS_RESERVED_PORTS, ECS_RESERVED_PORTS_UDP) as numbers; *ret
 * is malloc'ed (freed by the caller), *ret_n may be 0. */
_must_check_ int config_ports(const struct config *c, enum config_key k, uint16_t **ret,
                              size_t *ret_n);
/* Where the effective value came from: "default", "environment",
 * "file:line", or "unset" (no value and no default). */
const char *config_source(const struct config *c, enum config_key k);
/* The same as a place for an error about the value: the file and line, or
 * "environment" and 0; NULL and 0 for a default. */
const char *config_origin(const struct config *c, enum config_key k, unsigned *ret_line);

/* Print every key's effective value with its source, one `KEY=VALUE  # source`
 * line per key in table order; secrets masked. */
void config_print(const struct config *c, FILE *f);
/* The key table, for the documents generated from it: `ecs-hostd
 * --list-keys[=FORMAT]` prints it. */
enum config_list_format {
        CONFIG_LIST_MARKDOWN, /* README.md's table */
        CONFIG_LIST_MAN,      /* ecs-hostd.conf(5)'s KEYS entries, roff */
        CONFIG_LIST_CONF,     /* the example /etc/ecs/ecs-hostd.conf: every key commented out */
};
void config_list_keys(FILE *f, enum config_list_format format);
