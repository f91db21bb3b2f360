/* config.c: the key table and what a value of each type must be.  Every key
 * the daemon reads is in config_keys[] with its type, default, limits and
 * description; a value is validated, normalised and parsed when it is
 * stored, so the getters never fail and enums and lists are parsed once.
 * Pure: errors are collected (file:line, rule), never logged.  The file
 * syntax is envfile.c's. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "config.h"
#include "envfile.h"
#include "errors.h"
#include "escape.h"
#include "fileio.h"
#include "filter.h"
#include "macro.h"

/* A config file larger than this is refused: ecs.config is a few lines. */
#define CONFIG_FILE_MAX (1024 * 1024) /* bytes */
/* Longest value accepted (the JSON keys are the long ones). */
#define CONFIG_VALUE_MAX (64 * 1024) /* bytes */
/* Values quoted in error messages are cut to this many bytes. */
#define CONFIG_QUOTE_MAX 64

enum value_type {
        TYPE_STRING,
        TYPE_BOOL,
        TYPE_INT,
        TYPE_ENUM,
        TYPE_URL,
        TYPE_DURATION, /* min/max in milliseconds */
        TYPE_LIST,     /* comma-separated, each item one of choices */
        TYPE_PORTS,    /* JSON array of port numbers, as the official agent */
        TYPE_JSON_OBJECT,
        TYPE_ATTRIBUTES, /* JSON object whose rules its owner checks (attrsync_check_config) */
        TYPE_PATH,       /* absolute */
        TYPE_LISTEN,     /* HOST:PORT, comma-separated, or "off" */
        TYPE_REGEX,      /* a PCRE2 pattern (filter.h) */
        TYPE_REGION,
        TYPE_ASG_NAME,      /* an Auto Scaling group name (config_asg_name_valid) */
        TYPE_ASG_HOOK_NAME, /* a lifecycle hook name (config_asg_hook_name_valid) */
        _TYPE_MAX,
};

enum {
        FLAG_SECRET = 1 << 0,          /* never shown, not even its length */
        FLAG_SECRET_LAST4 = 1 << 1,    /* shown as ****WXYZ, as `aws configure list` does */
        FLAG_BARE_HOST = 1 << 2,       /* URL may omit the scheme: https:// is implied */
        FLAG_BARE_PROXY = 1 << 3,      /* URL may omit the scheme: http:// is implied */
        FLAG_SECRET_PASSWORD = 1 << 4, /* a URL shown with its password masked */
};

/* An item of an enum or list: its spelling and what it reads as. */
struct choice {
        const char *name;
        int value;
};

struct config_key_info {
        const char *name;
        enum value_type type;
        const char *def; /* NULL: unset unless configured */
        int64_t min, max;
        const struct choice *choices; /* TYPE_ENUM, TYPE_LIST; ends with {NULL} */
        unsigned flags;
        const char *description; /* one line, for --list-keys and the README */
};

static const struct choice loglevel_choices[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARNING},
        {"error", LOG_ERR},   {"crit", LOG_CRIT}, {},
};
static const struct choice mode_choices[] = {
        {"auto", CONFIG_MODE_AUTO},
        {"register", CONFIG_MODE_REGISTER},
        {"companion", CONFIG_MODE_COMPANION},
        {},
};
static const struct choice drain_on_choices[] = {
        {"spot", CONFIG_DRAIN_SPOT},
        {"rebalance", CONFIG_DRAIN_REBALANCE},
        {"asg", CONFIG_DRAIN_ASG},
        {"maintenance", CONFIG_DRAIN_MAINTENANCE},
        {},
};
/* The host collectors: their bit is their index in this list, which is
 * agent/metrics/collector.c's order. */
static const struct choice metrics_collectors[] = {
        {"cpu", 1 << 0},
        {"meminfo", 1 << 1},
        {"loadavg", 1 << 2},
        {"filesystem", 1 << 3},
        {"netdev", 1 << 4},
        {"diskstats", 1 << 5},
        {"stat", 1 << 6},
        {"time", 1 << 7},
        {"uname", 1 << 8},
        {"vmstat", 1 << 9},
        {"filefd", 1 << 10},
        {"pressure", 1 << 11},
        {},
};
static const struct choice maintenance_codes[] = {
        {"instance-stop", 1 << 0}, {"instance-retirement", 1 << 1}, {"instance-reboot", 1 << 2},
        {"system-reboot", 1 << 3}, {"system-maintenance", 1 << 4},  {},
};

#define MS_PER_S INT64_C(1000)
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H (3600 * MS_PER_S)

/* One row of the table, indexed by its enum value, so the name can only be
 * the enum's: KEY(ECS_CLUSTER, ...) is [KEY_ECS_CLUSTER] = {"ECS_CLUSTER", ...}. */
#define KEY(id, ...) [KEY_##id] = {#id, __VA_ARGS__}

/* The one table.  Order is the enum's: that of --check-config and --list-keys. */
static const struct config_key_info config_keys[_KEY_MAX] = {
        KEY(ECS_CLUSTER, TYPE_STRING, "default", 0, 0, NULL, 0,
            "Cluster to register in, or to find this instance in (shared with the official "
            "agent)."),
        KEY(ECS_LOGLEVEL, TYPE_ENUM, "info", 0, 0, loglevel_choices, 0,
            "Least severe level logged."),
        KEY(AWS_REGION, TYPE_REGION, NULL, 0, 0, NULL, 0,
            "Region of the ECS endpoint; unset: `AWS_DEFAULT_REGION`, then the instance identity "
            "document."),
        KEY(AWS_DEFAULT_REGION, TYPE_REGION, NULL, 0, 0, NULL, 0,
            "Region used when `AWS_REGION` is unset."),
        KEY(ECS_BACKEND_HOST, TYPE_URL, NULL, 0, 0, NULL, FLAG_BARE_HOST,
            "ECS endpoint; a bare host means `https://HOST`; unset: "
            "`https://ecs.REGION.amazonaws.com`."),
        KEY(AWS_ENDPOINT_URL_AUTO_SCALING, TYPE_URL, NULL, 0, 0, NULL, 0,
            "Auto Scaling endpoint, the AWS SDKs' variable; unset: "
            "`https://autoscaling.REGION.amazonaws.com`."),
        KEY(HTTPS_PROXY, TYPE_URL, NULL, 0, 0, NULL, FLAG_BARE_PROXY | FLAG_SECRET_PASSWORD,
            "Proxy of the AWS API calls (ECS, Auto Scaling) to https endpoints, e.g. "
            "`10.0.0.131:3128` (`http://` "
            "implied); unset: `HTTP_PROXY`. Never used for IMDS."),
        KEY(https_proxy, TYPE_URL, NULL, 0, 0, NULL, FLAG_BARE_PROXY | FLAG_SECRET_PASSWORD,
            "Lowercase spelling of `HTTPS_PROXY`, which wins when both are set."),
        KEY(HTTP_PROXY, TYPE_URL, NULL, 0, 0, NULL, FLAG_BARE_PROXY | FLAG_SECRET_PASSWORD,
            "Proxy of the AWS API calls, as the official agent reads it from `ecs.config`; for "
            "https "
            "endpoints too unless `HTTPS_PROXY` is set. Never used for IMDS."),
        KEY(http_proxy, TYPE_URL, NULL, 0, 0, NULL, FLAG_BARE_PROXY | FLAG_SECRET_PASSWORD,
            "Lowercase spelling of `HTTP_PROXY`, which wins when both are set."),
        KEY(NO_PROXY, TYPE_STRING, NULL, 0, 0, NULL, 0,
            "Hosts the AWS API calls reach without the proxy: comma-separated names (with their "
            "subdomains), addresses, CIDR ranges, or `*` for all."),
        KEY(no_proxy, TYPE_STRING, NULL, 0, 0, NULL, 0,
            "Lowercase spelling of `NO_PROXY`, which wins when both are set."),
        KEY(AWS_EC2_METADATA_SERVICE_ENDPOINT, TYPE_URL, "http://169.254.169.254", 0, 0, NULL, 0,
            "Base URL of the instance metadata service (IMDS)."),
        KEY(AWS_ACCESS_KEY_ID, TYPE_STRING, NULL, 0, 0, NULL, FLAG_SECRET_LAST4,
            "Static credentials, with `AWS_SECRET_ACCESS_KEY`; unset: the instance role from "
            "IMDS."),
        KEY(AWS_SECRET_ACCESS_KEY, TYPE_STRING, NULL, 0, 0, NULL, FLAG_SECRET,
            "Secret of the static credentials; never printed or logged."),
        KEY(AWS_SESSION_TOKEN, TYPE_STRING, NULL, 0, 0, NULL, FLAG_SECRET,
            "Session token of temporary static credentials; never printed or logged."),
        KEY(ECS_HOSTD_IMDS_TOKEN_TTL, TYPE_INT, "21600", 1, 21600, NULL, 0,
            "Lifetime in seconds of the IMDSv2 tokens requested."),
        KEY(ECS_HOSTD_IMDS_V1_FALLBACK, TYPE_BOOL, "true", 0, 0, NULL, 0,
            "Fall back to IMDSv1 when the token request answers 403, 404 or 405."),
        KEY(ECS_HOSTD_MODE, TYPE_ENUM, "auto", 0, 0, mode_choices, 0,
            "`register` the instance, be the official agent's `companion`, or `auto`: companion "
            "when the official agent answers."),
        KEY(ECS_HOSTD_DATADIR, TYPE_PATH, "/var/lib/ecs-hostd", 0, 0, NULL, 0,
            "State directory: container instance identity, attributes put, notices handled."),
        KEY(ECS_HOSTD_ATTRIBUTES_DIR, TYPE_PATH, "/etc/ecs/attributes.d", 0, 0, NULL, 0,
            "Directory of `*.json` attribute objects merged with `ECS_INSTANCE_ATTRIBUTES`; "
            "watched for changes."),
        KEY(ECS_INSTANCE_ATTRIBUTES, TYPE_ATTRIBUTES, NULL, 0, 0, NULL, 0,
            "Custom attributes, e.g. `{\"stack\": \"prod\", \"gpu\": null}` (null: no value)."),
        KEY(ECS_CONTAINER_INSTANCE_TAGS, TYPE_JSON_OBJECT, NULL, 0, 0, NULL, 0,
            "Tags given to the container instance at registration."),
        KEY(ECS_RESERVED_MEMORY, TYPE_INT, "0", 0, INT32_MAX, NULL, 0,
            "MiB of memory withheld from the registered `MEMORY` resource."),
        KEY(ECS_RESERVED_PORTS, TYPE_PORTS, "[22, 2375, 2376, 51678, 51679]", 0, 0, NULL, 0,
            "Reserved TCP ports, registered as `PORTS`."),
        KEY(ECS_RESERVED_PORTS_UDP, TYPE_PORTS, "[]", 0, 0, NULL, 0,
            "Reserved UDP ports, registered as `PORTS_UDP`."),
        KEY(ECS_AGENT_INTROSPECTION_URL, TYPE_URL, "http://127.0.0.1:51678/v1/metadata", 0, 0, NULL,
            0, "The official agent's introspection metadata URL (companion and auto modes)."),
        KEY(ECS_HOSTD_DRAIN_ON, TYPE_LIST, "spot,asg,maintenance", 0, 0, drain_on_choices, 0,
            "Signals that drain the host (empty: none; rebalance is always reported)."),
        KEY(ECS_HOSTD_POLL_INTERVAL_MS, TYPE_INT, "1000", 100, 60000, NULL, 0,
            "Milliseconds between two IMDS polls of the watcher."),
        KEY(ECS_HOSTD_DRAIN_MAINTENANCE_CODES, TYPE_LIST, "instance-stop,instance-retirement", 0, 0,
            maintenance_codes, 0, "Scheduled maintenance event codes that drain the host."),
        KEY(ECS_HOSTD_MAINTENANCE_LEAD, TYPE_DURATION, NULL, 0, 8760 * MS_PER_H, NULL, 0,
            "Drain this long before a maintenance event's `NotBefore`, e.g. `2h`; unset: at "
            "once."),
        KEY(ECS_ENABLE_SPOT_INSTANCE_DRAINING, TYPE_BOOL, NULL, 0, 0, NULL, 0,
            "The official agent's switch: an explicit `false` turns the Spot drain off."),
        KEY(ECS_HOSTD_UNDRAIN, TYPE_BOOL, "true", 0, 0, NULL, 0,
            "Set ACTIVE again when a maintenance or ASG signal that drained the host is "
            "withdrawn."),
        KEY(ECS_HOSTD_DRAIN_HOOK, TYPE_PATH, NULL, 0, 0, NULL, 0,
            "Executable run once per drain event, with the event in its environment."),
        KEY(ECS_HOSTD_DRAIN_HOOK_TIMEOUT, TYPE_DURATION, "60s", MS_PER_S, MS_PER_H, NULL, 0,
            "Time limit of one drain or empty hook run; it is killed after that."),
        KEY(ECS_HOSTD_EMPTY_HOOK, TYPE_PATH, NULL, 0, 0, NULL, 0,
            "Executable run once when a drained host is empty or the deadline passed, with the "
            "outcome and the tasks left in its environment."),
        KEY(ECS_HOSTD_DRY_RUN, TYPE_BOOL, "false", 0, 0, NULL, 0,
            "Log what would be done and change nothing in ECS."),
        KEY(ECS_HOSTD_ASG_LIFECYCLE_HOOK, TYPE_ASG_HOOK_NAME, NULL, 0, 0, NULL, 0,
            "Auto Scaling lifecycle hook (on instance termination) that ecs-hostd completes with "
            "`CONTINUE` once the host is drained to empty; unset: off."),
        KEY(ECS_HOSTD_ASG_NAME, TYPE_ASG_NAME, NULL, 0, 0, NULL, 0,
            "The instance's Auto Scaling group; unset: its `aws:autoscaling:groupName` tag, read "
            "from IMDS (instance metadata tags must be on)."),
        /* The tasks usually leave within minutes (a service's replacements
         * start elsewhere; an ALB deregisters in 5 min by default); a task
         * that never stops by itself would otherwise hold the instance, paid
         * for, until the hook's own 48 h limit. */
        KEY(ECS_HOSTD_ASG_DRAIN_TIMEOUT, TYPE_DURATION, "15m", MS_PER_MIN, 48 * MS_PER_H, NULL, 0,
            "Longest wait for the tasks to leave before `CompleteLifecycleAction` all the same "
            "(heartbeats hold the hook meanwhile); 48h is the hook's own limit."),
        /* A hook's HeartbeatTimeout is 30 s to 2 h (1 h by default) and the
         * host cannot read it without another permission: a heartbeat a
         * minute holds any hook but one set under a minute. */
        KEY(ECS_HOSTD_ASG_HEARTBEAT_INTERVAL, TYPE_DURATION, "60s", 5 * MS_PER_S, MS_PER_H, NULL, 0,
            "How often `RecordLifecycleActionHeartbeat` holds the lifecycle hook while tasks "
            "remain; keep it under the hook's heartbeat timeout."),
        KEY(ECS_HOSTD_METRICS_LISTEN, TYPE_LISTEN, "127.0.0.1:51680", 0, 0, NULL, 0,
            "Addresses of the metrics and introspection endpoint (comma-separated), or `off`; "
            "51680 is the port the official agent reserves for metrics."),
        KEY(ECS_HOSTD_METRICS_WEB_CONFIG, TYPE_PATH, NULL, 0, 0, NULL, 0,
            "TLS and basic auth of the metrics endpoint: an exporter-toolkit web configuration "
            "file (node_exporter's `--web.config.file`); unset: plain http, no auth."),
        KEY(ECS_HOSTD_METRICS_COLLECTORS, TYPE_LIST,
            "cpu,meminfo,loadavg,filesystem,netdev,diskstats,stat,time,uname,vmstat,filefd,"
            "pressure",
            0, 0, metrics_collectors, 0,
            "Host collectors of `/metrics`, as node_exporter names them (empty: none)."),
        KEY(ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE, TYPE_REGEX, "^veth", 0, 0, NULL, 0,
            "Network devices the netdev collector leaves out (PCRE2; empty: none; default: "
            "bridge-mode tasks' veth pairs)."),
        KEY(ECS_HOSTD_METRICS_DISKSTATS_DEVICE_EXCLUDE, TYPE_REGEX,
            "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$", 0, 0, NULL, 0,
            "Block devices the diskstats collector leaves out (PCRE2; empty: none; default: "
            "node_exporter's, partitions, RAM, loop and floppy devices)."),
        KEY(ECS_HOSTD_METRICS_FILESYSTEM_MOUNT_POINTS_EXCLUDE, TYPE_REGEX,
            "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+|"
            "var/lib/ecs/.+)($|/)",
            0, 0, NULL, 0,
            "Mount points the filesystem collector leaves out (PCRE2; empty: none; default: "
            "node_exporter's and the ECS agent's volumes)."),
        KEY(ECS_HOSTD_METRICS_FILESYSTEM_FS_TYPES_EXCLUDE, TYPE_REGEX,
            "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|"
            "hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|"
            "selinuxfs|squashfs|sysfs|tracefs)$",
            0, 0, NULL, 0,
            "Filesystem types the filesystem collector leaves out (PCRE2; empty: none; default: "
            "node_exporter's)."),
        KEY(ECS_HOSTD_PROCFS, TYPE_PATH, "/proc", 0, 0, NULL, 0,
            "Where the host collectors read procfs (node_exporter's `--path.procfs`)."),
        KEY(ECS_HOSTD_SYSFS, TYPE_PATH, "/sys", 0, 0, NULL, 0,
            "Where the host collectors read sysfs (`--path.sysfs`)."),
        KEY(ECS_HOSTD_ROOTFS, TYPE_PATH, "/", 0, 0, NULL, 0,
            "The host's root as the filesystem collector sees it (`--path.rootfs`)."),
};

#define N_KEYS ((size_t)_KEY_MAX)

/* A value as stored: its normalised text and, for the types that have one,
 * its number (integer, milliseconds, 0/1, the enum item's value, list bits). */
struct value {
        char *text;
        int64_t number;
};

struct config_entry {
        struct value value; /* text NULL: not configured (the default applies) */
        char *source;       /* "environment" or "file:line"; NULL without value */
        char *file;         /* the file alone (or "environment"), for config_origin() */
        unsigned line;
};

struct config {
        struct config_entry entries[N_KEYS];
        struct value defaults[N_KEYS]; /* parsed from the table when the config is made */
        struct errors warnings;        /* likely typos among the ignored keys */
};

/* A value as shown in an error message: quoted, escaped, cut (escape.h). */
static char *quote(char buf[static ESCAPE_QUOTE_SIZE(CONFIG_QUOTE_MAX)], const char *s) {
        return escape_quote(buf, s, strlen(s), CONFIG_QUOTE_MAX, '"');
}

/* A URL as it may be shown: the password of its user info (and a user
 * without a password, which may be a token) replaced by stars, e.g.
 * http://user:********@proxy:3128.  Plain text, so it works on a value that
 * is not a valid URL as well; the user info ends at the last '@', even past
 * a '/', so a password with a raw '/' or '@' in it is masked whole.  NULL
 * when out of memory. */
static char *mask_password(const char *v) {
        const char *auth = strstr(v, "://"), *at, *colon;
        char *s;

        auth = auth ? auth + 3 : v;
        at = strrchr(auth, '@');
        if (!at)
                return strdup(v);
        colon = memchr(auth, ':', (size_t)(at - auth));
        if (!colon)
                colon = auth - 1; /* no password: the whole user info */
        return asprintf(&s, "%.*s********%s", (int)(colon + 1 - v), v, at) < 0 ? NULL : s;
}

/* ---- key table lookups ---- */

/* The key named name, or -ENOENT. */
static int key_find(const char *name) {
        for (size_t i = 0; i < N_KEYS; i++)
                if (strcmp(config_keys[i].name, name) == 0)
                        return (int)i;
        return -ENOENT;
}

/* Levenshtein distance, case-insensitive (a lowercase key is a typo too). */
static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        _cleanup_free_ size_t *row = NULL;

        if (la > 256 || lb > 256)
                return SIZE_MAX;
        row = malloc((lb + 1) * sizeof *row);
        if (!row)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t cost =
                                toupper((unsigned char)a[i - 1]) == toupper((unsigned char)b[j - 1])
                                        ? 0
                                        : 1;
                        size_t best = diag + cost;
                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

/* The known key name is most likely a typo of.  name has the ECS_HOSTD_
 * prefix (in any case); what follows it is compared, and at most a third of
 * it may differ, so "ECS_HOSTD_FOO" suggests nothing.  "ECS_HOSTD_CLUSTER"
 * suggests ECS_CLUSTER: the shared keys keep their official names. */
static const char *key_suggest(const char *name) {
        const size_t prefix = strlen("ECS_HOSTD_");
        const char *best = NULL, *suffix = name + prefix;
        size_t best_d = SIZE_MAX, limit = strlen(suffix) / 3;

        for (size_t i = 0; i < N_KEYS; i++) {
                const char *k = config_keys[i].name;
                size_t d;

                if ((strncmp(k, "ECS_", 4) == 0 || strncmp(k, "AWS_", 4) == 0) &&
                    strncmp(k, "ECS_HOSTD_", prefix) != 0 && strcasecmp(k + 4, suffix) == 0)
                        return k;
                if (strncmp(k, "ECS_HOSTD_", prefix) != 0)
                        continue;
                d = edit_distance(suffix, k + prefix);
                if (d <= limit && d < best_d) {
                        best = k;
                        best_d = d;
                }
        }
        return best;
}

/* For a key outside our prefix, a table key it is probably a typo of: the
 * same name in another case, or at most two edits away from a long name. */
static const char *key_suggest_shared(const char *name) {
        for (size_t i = 0; i < N_KEYS; i++) {
                const char *k = config_keys[i].name;
                size_t d = edit_distance(name, k);
                if (d == 0 || (d <= 2 && strlen(k) >= 10))
                        return k;
        }
        return NULL;
}

/* ---- value parsers (pure; shared by validation and the getters) ---- */

static int parse_bool(const char *v, bool *ret) {
        /* The official agent reads its booleans with Go's strconv.ParseBool,
         * so 1/0 and t/f are accepted too; case does not matter. */
        static const char *const yes[] = {"true", "t", "1"}, *const no[] = {"false", "f", "0"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int parse_int(const char *v, int64_t *ret) {
        char *end;
        long long n;

        if (!isdigit((unsigned char)v[0]) && !(v[0] == '-' && isdigit((unsigned char)v[1])))
                return -EINVAL;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (*end)
                return -EINVAL;
        if (errno == ERANGE)
                return -ERANGE;
        *ret = n;
        return 0;
}

/* duration := "0" | ( digits unit )+ ; unit := "ms" | "s" | "m" | "h"
 * (Go's time.ParseDuration units that make sense here, integers only). */
static int parse_duration(const char *v, int64_t *ret_ms) {
        int64_t total = 0;
        const char *p = v;

        if (strcmp(v, "0") == 0) {
                *ret_ms = 0;
                return 0;
        }
        if (!*p)
                return -EINVAL;
        while (*p) {
                int64_t n = 0, unit;

                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                while (isdigit((unsigned char)*p)) {
                        if (n > (INT64_MAX - 9) / 10)
                                return -ERANGE;
                        n = n * 10 + (*p++ - '0');
                }
                if (strncmp(p, "ms", 2) == 0) {
                        unit = 1;
                        p += 2;
                } else if (*p == 's') {
                        unit = MS_PER_S;
                        p++;
                } else if (*p == 'm') {
                        unit = 60 * MS_PER_S;
                        p++;
                } else if (*p == 'h') {
                        unit = MS_PER_H;
                        p++;
                } else
                        return -EINVAL;
                if (n > (INT64_MAX - total) / unit)
                        return -ERANGE;
                total += n * unit;
        }
        *ret_ms = total;
        return 0;
}

/* A duration in milliseconds the way a person would write it: 1h, 90s, 250ms. */
static void format_duration(int64_t ms, char *buf, size_t size) {
        if (ms % MS_PER_H == 0)
                snprintf(buf, size, "%" PRId64 "h", ms / MS_PER_H);
        else if (ms % (60 * MS_PER_S) == 0)
                snprintf(buf, size, "%" PRId64 "m", ms / (60 * MS_PER_S));
        else if (ms % MS_PER_S == 0)
                snprintf(buf, size, "%" PRId64 "s", ms / MS_PER_S);
        else
                snprintf(buf, size, "%" PRId64 "ms", ms);
}

static int parse_ports(const char *v, uint16_t **ret, size_t *ret_n) {
        cJSON *json = cJSON_Parse(v), *item;
        _cleanup_free_ uint16_t *ports = NULL;
        size_t n = 0;

        if (!cJSON_IsArray(json)) {
                cJSON_Delete(json);
                return -EINVAL;
        }
        ports = calloc((size_t)cJSON_GetArraySize(json) + 1, sizeof *ports);
        if (!ports) {
                cJSON_Delete(json);
                return -ENOMEM;
        }
        cJSON_ArrayForEach(item, json) {
                double d = cJSON_IsNumber(item) ? item->valuedouble : -1;
                if (d < 0 || d > 65535 || d != (double)(int)d) {
                        cJSON_Delete(json);
                        return -EINVAL;
                }
                ports[n++] = (uint16_t)d;
        }
        cJSON_Delete(json);
        if (ret) {
                *ret = TAKE_PTR(ports);
                *ret_n = n;
        }
        return 0;
}

static bool is_hostname(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

/* HOST:PORT, [IPV6]:PORT or :PORT (all addresses); port 1..65535. */
static bool is_listen(const char *v) {
        const char *colon = strrchr(v, ':');
        int64_t port;

        if (!colon || parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535)
                return false;
        if (v[0] == '[') {
                if (colon < v + 2 || colon[-1] != ']')
                        return false;
                for (const char *p = v + 1; p < colon - 1; p++)
                        if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                                return false;
                return true;
        }
        return is_hostname(v, (size_t)(colon - v));
}

bool config_region_valid(const char *v) {
        size_t n = strlen(v);

        if (n < 2 || n > 32 || !islower((unsigned char)v[0]) || v[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char)v[i]) && !isdigit((unsigned char)v[i]) && v[i] != '-')
                        return false;
        return true;
}

bool config_asg_name_valid(const char *s) {
        const unsigned char *p = (const unsigned char *)s;
        size_t units = 0;

        if (!s || !utf8_valid(s))
                return false;
        for (; *p; p++) {
                if (*p < 0x20 && *p != '\t' && *p != '\r' && *p != '\n')
                        return false;
                /* U+FFFE and U+FFFF are not XML characters */
                if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
                        return false;
                /* UTF-16 units: one per character, two for one beyond U+FFFF */
                if ((*p & 0xc0) != 0x80)
                        units += *p >= 0xf0 ? 2 : 1;
        }
        return units >= 1 && units <= CONFIG_ASG_NAME_MAX;
}

bool config_asg_hook_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n < 1 || n > CONFIG_ASG_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '/')
                        return false;
        return true;
}

static bool is_url(const char *v) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL;
        bool ok = false;

        if (!u)
                return false;
        if (curl_url_set(u, CURLUPART_URL, v, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
                ok = (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && host[0];
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return ok;
}

/* The JSON object rule; on failure *ret_msg says what is wrong (owned by the
 * caller), without the key name. */
static int check_json_object(const char *v, char **ret_msg) {
        const char *end = NULL;
        cJSON *json = cJSON_ParseWithOpts(v, &end, true), *item;
        int r = 0;

        if (!json) {
                size_t at = end ? (size_t)(end - v) + 1 : 1;
                return errmsg_set(ret_msg, "invalid JSON near character %zu", at);
        }
        if (!cJSON_IsObject(json)) {
                cJSON_Delete(json);
                return errmsg_set(ret_msg,
                                  "must be a JSON object of strings, e.g. {\"name\": \"value\"}");
        }
        cJSON_ArrayForEach(item, json) {
                if (!cJSON_IsString(item)) {
                        char q[ESCAPE_QUOTE_SIZE(CONFIG_QUOTE_MAX)];
                        r = errmsg_set(ret_msg, "the value of %s is not a string",
                                       quote(q, item->string ? item->string : ""));
                        break;
                }
        }
        cJSON_Delete(json);
        return r;
}

static char *join_choices(const struct choice *choices) {
        size_t n = 1;
        char *s, *p;

        for (size_t i = 0; choices[i].name; i++)
                n += strlen(choices[i].name) + 2;
        s = p = malloc(n);
        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; choices[i].name; i++)
                p += snprintf(p, n - (size_t)(p - s), "%s%s", i ? ", " : "", choices[i].name);
        return s;
}

static const struct choice *choice_find(const struct choice *choices, const char *v, size_t len) {
        for (size_t i = 0; choices[i].name; i++)
                if (strlen(choices[i].name) == len && strncasecmp(choices[i].name, v, len) == 0)
                        return &choices[i];
        return NULL;
}

static int not_one_of(char **ret_msg, const char *q, const struct choice *choices) {
        _cleanup_free_ char *list = join_choices(choices);

        return errmsg_set(ret_msg, "%s is not one of %s", q, list ? list : "");
}

/* ---- one check per type ----
 * Each takes a non-empty, valid UTF-8 value v (q: as messages show it) and
 * either fills *out (normalised text when it differs from v, the number) or
 * returns -EINVAL with the rule broken in *ret_msg (without the key). */

typedef int (*check_fn)(const struct config_key_info *k, const char *v, const char *q,
                        struct value *out, char **ret_msg);

static int check_string(const struct config_key_info *k, const char *v, const char *q,
                        struct value *out, char **ret_msg) {
        (void)k, (void)v, (void)q, (void)out, (void)ret_msg;
        return 0;
}

static int check_bool(const struct config_key_info *k, const char *v, const char *q,
                      struct value *out, char **ret_msg) {
        bool b;

        (void)k;
        if (parse_bool(v, &b) < 0)
                return errmsg_set(ret_msg, "%s is not a boolean (use true or false)", q);
        out->number = b;
        out->text = strdup(b ? "true" : "false");
        return out->text ? 0 : -ENOMEM;
}

static int check_int(const struct config_key_info *k, const char *v, const char *q,
                     struct value *out, char **ret_msg) {
        int64_t n;
        int r = parse_int(v, &n);

        if (r == -EINVAL)
                return errmsg_set(ret_msg, "%s is not an integer", q);
        if (r == -ERANGE)
                n = v[0] == '-' ? INT64_MIN : INT64_MAX;
        if (n < k->min)
                return errmsg_set(ret_msg, "%s is below the minimum %" PRId64, v, k->min);
        if (n > k->max)
                return errmsg_set(ret_msg, "%s is above the maximum %" PRId64, v, k->max);
        out->number = n;
        return 0;
}

static int check_duration(const struct config_key_info *k, const char *v, const char *q,
                          struct value *out, char **ret_msg) {
        char lim[32];
        int64_t n;
        int r = parse_duration(v, &n);

        if (r == -EINVAL)
                return errmsg_set(ret_msg, "%s is not a duration (e.g. 500ms, 90s, 5m, 1h30m)", q);
        if (r < 0 || n > k->max) {
                format_duration(k->max, lim, sizeof lim);
                return errmsg_set(ret_msg, "%s is above the maximum %s", v, lim);
        }
        if (n < k->min) {
                format_duration(k->min, lim, sizeof lim);
                return errmsg_set(ret_msg, "%s is below the minimum %s", v, lim);
        }
        out->number = n;
        return 0;
}

static int check_enum(const struct config_key_info *k, const char *v, const char *q,
                      struct value *out, char **ret_msg) {
        const struct choice *c = choice_find(k->choices, v, strlen(v));

        if (!c)
                return not_one_of(ret_msg, q, k->choices);
        out->number = c->value;
        out->text = strdup(c->name);
        return out->text ? 0 : -ENOMEM;
}

/* Items are separated by commas, blanks around them ignored; the text is
 * kept as "a,b" and the number is the items' values or'ed. */
static int check_list(const struct config_key_info *k, const char *v, const char *q,
                      struct value *out, char **ret_msg) {
        size_t cap = strlen(v) + 1, used = 0;
        _cleanup_free_ char *norm = malloc(cap);
        int64_t bits = 0;

        if (!norm)
                return -ENOMEM;
        norm[0] = 0;
        for (const char *p = v;;) {
                const char *comma = strchr(p, ','), *e = comma ? comma : p + strlen(p);
                const struct choice *c;
                while (p < e && (*p == ' ' || *p == '\t'))
                        p++;
                while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if (p == e)
                        return errmsg_set(ret_msg, "empty item in the list %s", q);
                c = choice_find(k->choices, p, (size_t)(e - p));
                if (!c) {
                        char qi[ESCAPE_QUOTE_SIZE(CONFIG_QUOTE_MAX)];
                        return not_one_of(
                                ret_msg,
                                escape_quote(qi, p, (size_t)(e - p), CONFIG_QUOTE_MAX, '"'),
                                k->choices);
                }
                bits |= c->value;
                used += (size_t)snprintf(norm + used, cap - used, "%s%s", used ? "," : "", c->name);
                if (!comma)
                        break;
                p = comma + 1;
        }
        out->number = bits;
        out->text = TAKE_PTR(norm);
        return 0;
}

static int check_url(const struct config_key_info *k, const char *v, const char *q,
                     struct value *out, char **ret_msg) {
        const char *implied = k->flags & FLAG_BARE_HOST    ? "https://"
                              : k->flags & FLAG_BARE_PROXY ? "http://"
                                                           : NULL;

        if (implied && !strstr(v, "://")) {
                if (asprintf(&out->text, "%s%s", implied, v) < 0) {
                        out->text = NULL;
                        return -ENOMEM;
                }
                if (is_url(out->text))
                        return 0;
                out->text = erase_and_free(out->text);
        }
        if (!is_url(v))
                return errmsg_set(ret_msg, "%s is not an http:// or https:// URL", q);
        return 0;
}

static int check_ports(const struct config_key_info *k, const char *v, const char *q,
                       struct value *out, char **ret_msg) {
        int r = parse_ports(v, NULL, NULL);

        (void)k, (void)out;
        if (r == -EINVAL)
                return errmsg_set(ret_msg,
                                  "%s is not a JSON array of port numbers (e.g. [22, 2375])", q);
        return r;
}

static int check_json(const struct config_key_info *k, const char *v, const char *q,
                      struct value *out, char **ret_msg) {
        (void)k, (void)q, (void)out;
        return check_json_object(v, ret_msg);
}

static int check_path(const struct config_key_info *k, const char *v, const char *q,
                      struct value *out, char **ret_msg) {
        (void)k, (void)out;
        return v[0] == '/' ? 0 : errmsg_set(ret_msg, "%s is not an absolute path", q);
}

/* "off", or HOST:PORT items separated by commas (blanks around them
 * dropped).  The text is kept as "a,b". */
static int check_listen(const struct config_key_info *k, const char *v, const char *q,
                        struct value *out, char **ret_msg) {
        size_t cap = strlen(v) + 1, used = 0, n = 0;
        _cleanup_free_ char *norm = calloc(1, cap);

        (void)k;
        if (!norm)
                return -ENOMEM;
        if (strcasecmp(v, "off") == 0) {
                out->text = strdup("off");
                return out->text ? 0 : -ENOMEM;
        }
        for (const char *p = v;;) {
                const char *comma = strchr(p, ','), *e = comma ? comma : p + strlen(p);
                _cleanup_free_ char *item = NULL;
                while (p < e && (*p == ' ' || *p == '\t'))
                        p++;
                while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                item = strndup(p, (size_t)(e - p));
                if (!item)
                        return -ENOMEM;
                if (!is_listen(item)) {
                        char qi[ESCAPE_QUOTE_SIZE(CONFIG_QUOTE_MAX)];
                        return errmsg_set(ret_msg,
                                          "%s is not HOST:PORT (e.g. 127.0.0.1:9466) or off",
                                          strchr(v, ',') ? quote(qi, item) : q);
                }
                if (++n > CONFIG_LISTEN_MAX)
                        return errmsg_set(ret_msg, "%s: at most %d addresses", q,
                                          CONFIG_LISTEN_MAX);
                used += (size_t)snprintf(norm + used, cap - used, "%s%s", used ? "," : "", item);
                if (!comma)
                        break;
                p = comma + 1;
        }
        out->text = TAKE_PTR(norm);
        return 0;
}

static int check_regex(const struct config_key_info *k, const char *v, const char *q,
                       struct value *out, char **ret_msg) {
        _cleanup_(filter_freep) struct filter *f = NULL;
        _cleanup_free_ char *why = NULL;
        int r;

        (void)k, (void)out;
        r = filter_new(&f, v, &why);
        if (r == -EINVAL)
                return errmsg_set(ret_msg, "%s is not a regular expression: %s", q, why ? why : "");
        return r;
}

static int check_region(const struct config_key_info *k, const char *v, const char *q,
                        struct value *out, char **ret_msg) {
        (void)k, (void)out;
        return config_region_valid(v)
                       ? 0
                       : errmsg_set(ret_msg, "%s is not a region name (e.g. us-east-1)", q);
}

static int check_asg_name(const struct config_key_info *k, const char *v, const char *q,
                          struct value *out, char **ret_msg) {
        (void)k, (void)out;
        return config_asg_name_valid(v)
                       ? 0
                       : errmsg_set(ret_msg,
                                    "%s is not an Auto Scaling group name (1 to %d "
                                    "characters, no control characters)",
                                    q, CONFIG_ASG_NAME_MAX);
}

static int check_asg_hook_name(const struct config_key_info *k, const char *v, const char *q,
                               struct value *out, char **ret_msg) {
        (void)k, (void)out;
        return config_asg_hook_name_valid(v)
                       ? 0
                       : errmsg_set(ret_msg,
                                    "%s is not a lifecycle hook name (1 to %d letters, digits and "
                                    "- _ /)",
                                    q, CONFIG_ASG_NAME_MAX);
}

static const check_fn checks[_TYPE_MAX] = {
        [TYPE_STRING] = check_string,
        [TYPE_BOOL] = check_bool,
        [TYPE_INT] = check_int,
        [TYPE_ENUM] = check_enum,
        [TYPE_URL] = check_url,
        [TYPE_DURATION] = check_duration,
        [TYPE_LIST] = check_list,
        [TYPE_PORTS] = check_ports,
        [TYPE_JSON_OBJECT] = check_json,
        /* ECS's attribute rules are their owner's (attrsync_check_config). */
        [TYPE_ATTRIBUTES] = check_string,
        [TYPE_PATH] = check_path,
        [TYPE_LISTEN] = check_listen,
        [TYPE_REGION] = check_region,
        [TYPE_REGEX] = check_regex,
        [TYPE_ASG_NAME] = check_asg_name,
        [TYPE_ASG_HOOK_NAME] = check_asg_hook_name,
};

/* Whether an empty value is a value of key k (lists: the empty list;
 * patterns: none, which leaves nothing out, as node_exporter's empty
 * exclude flags) rather than "not configured". */
static bool empty_is_value(const struct config_key_info *k) {
        return k->type == TYPE_LIST || k->type == TYPE_REGEX;
}

/* Validate a value of key k ("" only when empty_is_value()).  Returns 0
 * and the stored form in *ret, or -EINVAL and the rule broken in *ret_msg
 * (without the key), or -ENOMEM. */
static int value_check(const struct config_key_info *k, const char *v, struct value *ret,
                       char **ret_msg) {
        char q[ESCAPE_QUOTE_SIZE(CONFIG_QUOTE_MAX)];
        struct value out = {};
        int r;

        if (strlen(v) > CONFIG_VALUE_MAX)
                return errmsg_set(ret_msg, "the value is longer than %d bytes", CONFIG_VALUE_MAX);
        if (!utf8_valid(v))
                return errmsg_set(ret_msg, "the value is not valid UTF-8");
        /* Secrets never appear in messages, not even when they are wrong. */
        if (k->flags & (FLAG_SECRET | FLAG_SECRET_LAST4))
                snprintf(q, sizeof q, "(secret)");
        else if (k->flags & FLAG_SECRET_PASSWORD) {
                _cleanup_free_ char *shown = mask_password(v);
                if (shown)
                        quote(q, shown);
                else
                        snprintf(q, sizeof q, "(secret)");
        } else
                quote(q, v);
        if (*v || !empty_is_value(k))
                r = checks[k->type](k, v, q, &out, ret_msg);
        else
                r = 0; /* the empty list, no pattern */
        if (r < 0) {
                erase_and_free(out.text);
                return r;
        }
        if (!out.text && !(out.text = strdup(v)))
                return -ENOMEM;
        *ret = out;
        return 0;
}

/* ---- the configuration object ---- */

int config_new_empty(struct config **ret) {
        _cleanup_(config_freep) struct config *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < N_KEYS; i++) {
                _cleanup_free_ char *msg = NULL;
                int r;

                if (!config_keys[i].def)
                        continue;
                /* The table's defaults obey its own rules (test-config checks it). */
                r = value_check(&config_keys[i], config_keys[i].def, &c->defaults[i], &msg);
                if (r < 0)
                        return r == -ENOMEM ? r : -EINVAL;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* Values may be secrets (keys, tokens, a proxy's password): wiped. */
static void entry_clear(struct config_entry *e) {
        erase_and_free(e->value.text);
        free(e->source);
        free(e->file);
        *e = (struct config_entry){};
}

struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < N_KEYS; i++) {
                entry_clear(&c->entries[i]);
                free(c->defaults[i].text);
        }
        errors_done(&c->warnings);
        free(c);
        return NULL;
}

/* A key we do not know.  The official agent's keys (and anybody's) are
 * ignored, but ECS_CLUSTR=prod would silently mean the default cluster, so
 * a likely typo in a file is a warning; our own prefix is an error. */
static int unknown_key(struct config *c, const char *key, const char *file, unsigned line,
                       struct errors *errs) {
        const char *s;

        if (strncasecmp(key, "ECS_HOSTD_", strlen("ECS_HOSTD_")) != 0) {
                s = line > 0 ? key_suggest_shared(key) : NULL;
                if (s && errors_add(&c->warnings, file, line,
                                    "%s is not a key ecs-hostd reads (did you mean %s?)", key,
                                    s) == -ENOMEM)
                        return -ENOMEM;
                return 0;
        }
        s = key_suggest(key);
        if (s)
                return errors_add(errs, file, line, "unknown key %s (did you mean %s?)", key, s);
        return errors_add(errs, file, line, "unknown key %s", key);
}

/* Store KEY=VALUE from file:line (line 0: the environment).  An empty value
 * means "not configured" (the default applies), as the official agent reads
 * an empty variable; for lists it is the empty list, for patterns none.  hint is appended to a
 * rule's message when the value broke one. */
static int config_set(struct config *c, const char *key, const char *value, const char *file,
                      unsigned line, const char *hint, struct errors *errs) {
        _cleanup_free_ char *msg = NULL;
        struct config_entry n = {};
        const struct config_key_info *k;
        int i, r;

        i = key_find(key);
        if (i < 0)
                return unknown_key(c, key, file, line, errs);
        k = &config_keys[i];
        if (!*value && !empty_is_value(k)) {
                entry_clear(&c->entries[i]);
                return 0;
        }
        r = value_check(k, value, &n.value, &msg);
        if (r == -EINVAL)
                return errors_add(errs, file, line, "%s: %s%s", key, msg, hint ? hint : "");
        if (r < 0)
                return r;
        n.line = line;
        if (!(n.file = strdup(file)) || (line > 0 ? asprintf(&n.source, "%s:%u", file, line) < 0
                                                  : !(n.source = strdup(file)))) {
                n.source = NULL;
                entry_clear(&n);
                return -ENOMEM;
        }
        entry_clear(&c->entries[i]);
        c->entries[i] = n;
        return 0;
}

struct parse_ctx {
        struct config *config;
        const char *name;
        struct errors *errs;
};

static int assign(const char *key, const char *value, unsigned line, const char *hint,
                  void *userdata) {
        struct parse_ctx *p = userdata;

        return config_set(p->config, key, value, p->name, line, hint, p->errs);
}

int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
                      struct errors *errs) {
        struct parse_ctx p = {c, name, errs};

        return envfile_parse(name, text, len, assign, &p, errs);
}

/* The file's text holds its secrets too: wiped once parsed. */
static int load_file(struct config *c, const char *path, bool optional, struct errors *errs) {
        char *text = NULL;
        size_t len = 0;
        int r;

        r = fileio_read(path, CONFIG_FILE_MAX, 0, &text, &len);
        if (r >= 0) {
                r = config_parse_text(c, path, text, len, errs);
                erase_free(text, len);
                return r;
        }
        if (r == -ENOENT && optional)
                return 0;
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                return errors_add(errs, path, 0, "the file is larger than %d bytes",
                                  CONFIG_FILE_MAX);
        if (r == -EBADFD)
                return errors_add(errs, path, 0, "cannot read the file: not a regular file");
        return errors_add(errs, path, 0, "cannot read the file: %s", strerror(-r));
}

static int load_environment(struct config *c, char *const *envp, struct errors *errs) {
        for (size_t i = 0; envp && envp[i]; i++) {
                const char *eq = strchr(envp[i], '=');
                _cleanup_free_ char *key = NULL;

                if (!eq)
                        continue;
                key = strndup(envp[i], (size_t)(eq - envp[i]));
                if (!key)
                        return -ENOMEM;
                if (envfile_key_valid(key) &&
                    config_set(c, key, eq + 1, "environment", 0, NULL, errs) == -ENOMEM)
                        return -ENOMEM;
        }
        return 0;
}

int config_load(struct config **ret, const char *const *files, size_t n_files, bool optional,
                char *const *envp, struct errors *errs) {
        _cleanup_(config_freep) struct config *c = NULL;
        size_t n0 = errs->n;
        int r;

        r = config_new_empty(&c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_files; i++)
                if (load_file(c, files[i], optional, errs) == -ENOMEM)
                        return -ENOMEM;
        r = load_environment(c, envp, errs);
        if (r < 0)
                return r;
        if (errs->n > n0)
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load_files(struct config **ret, const char *const *files, size_t n_files,
                      char *const *envp, struct errors *errs) {
        static const char *const defaults[] = CONFIG_DEFAULT_FILES;

        if (n_files == 0)
                return config_load(ret, defaults, ELEMENTSOF(defaults), true, envp, errs);
        return config_load(ret, files, n_files, false, envp, errs);
}

/* ---- getters ---- */

const struct errors *config_warnings(const struct config *c) {
        return &c->warnings;
}

const char *config_key_name(enum config_key k) {
        return (size_t)k < N_KEYS ? config_keys[k].name : "?";
}

/* The effective value: configured, else the default (text NULL: neither). */
static const struct value *value_of(const struct config *c, enum config_key k) {
        static const struct value none = {};

        if ((size_t)k >= N_KEYS)
                return &none;
        return c->entries[k].value.text ? &c->entries[k].value : &c->defaults[k];
}

const char *config_string(const struct config *c, enum config_key k) {
        return value_of(c, k)->text;
}

bool config_is_set(const struct config *c, enum config_key k) {
        return (size_t)k < N_KEYS && c->entries[k].value.text;
}

bool config_bool(const struct config *c, enum config_key k) {
        return value_of(c, k)->number != 0;
}

int64_t config_int(const struct config *c, enum config_key k) {
        return value_of(c, k)->number;
}

int64_t config_duration_ms(const struct config *c, enum config_key k) {
        return value_of(c, k)->number;
}

int config_enum(const struct config *c, enum config_key k) {
        return (int)value_of(c, k)->number;
}

unsigned config_list(const struct config *c, enum config_key k) {
        return (unsigned)value_of(c, k)->number;
}

bool config_list_has(const struct config *c, enum config_key k, const char *item) {
        const struct choice *ch;

        if ((size_t)k >= N_KEYS || config_keys[k].type != TYPE_LIST || !item)
                return false;
        ch = choice_find(config_keys[k].choices, item, strlen(item));
        /* Canonical spelling only: IMDS codes are lowercase, and "Instance-Stop"
         * is not a code AWS sends. */
        return ch && strcmp(ch->name, item) == 0 && (config_list(c, k) & (unsigned)ch->value);
}

int config_ports(const struct config *c, enum config_key k, uint16_t **ret, size_t *ret_n) {
        const char *v = config_string(c, k);

        if ((size_t)k >= N_KEYS || config_keys[k].type != TYPE_PORTS)
                return -EINVAL;
        return parse_ports(v ? v : "[]", ret, ret_n);
}

size_t config_listen_ports(const struct config *c, enum config_key k,
                           uint16_t ports[static CONFIG_LISTEN_MAX]) {
        const char *v = config_string(c, k);
        size_t n = 0;

        if ((size_t)k >= N_KEYS || config_keys[k].type != TYPE_LISTEN || !v ||
            strcmp(v, "off") == 0)
                return 0;
        /* Normalized by check_listen: HOST:PORT items joined by single commas. */
        for (const char *p = v; p && n < CONFIG_LISTEN_MAX;
             p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
                const char *e = strchr(p, ','), *colon;
                size_t len = e ? (size_t)(e - p) : strlen(p);

                colon = memrchr(p, ':', len);
                if (colon)
                        ports[n++] = (uint16_t)strtoul(colon + 1, NULL, 10);
        }
        return n;
}

const char *config_source(const struct config *c, enum config_key k) {
        if ((size_t)k >= N_KEYS)
                return NULL;
        if (c->entries[k].value.text)
                return c->entries[k].source;
        return config_keys[k].def ? "default" : "unset";
}

const char *config_origin(const struct config *c, enum config_key k, unsigned *ret_line) {
        const struct config_entry *e = (size_t)k < N_KEYS ? &c->entries[k] : NULL;

        *ret_line = e && e->value.text ? e->line : 0;
        return e && e->value.text ? e->file : NULL;
}

/* ---- printing ---- */

/* 0: shown; FLAG_SECRET, FLAG_SECRET_LAST4 or FLAG_SECRET_PASSWORD: masked.
 * A string key whose name says it is a secret is masked even if the table
 * forgot to say so. */
static unsigned key_secrecy(const struct config_key_info *k) {
        const unsigned secret = FLAG_SECRET | FLAG_SECRET_LAST4 | FLAG_SECRET_PASSWORD;

        if (k->flags & secret)
                return k->flags & secret;
        if (k->type == TYPE_STRING &&
            (strstr(k->name, "SECRET") || strstr(k->name, "TOKEN") || strstr(k->name, "PASSWORD")))
                return FLAG_SECRET;
        return 0;
}

/* Stars of a fixed length, so not even the secret's length shows; an access
 * key id keeps its last four characters, as `aws configure list` shows it. */
static char *mask(unsigned secrecy, const char *v) {
        size_t n = strlen(v);
        char *s;

        if (secrecy == FLAG_SECRET_LAST4 && n >= 16)
                return asprintf(&s, "****************%s", v + n - 4) < 0 ? NULL : s;
        if (secrecy == FLAG_SECRET_PASSWORD)
                return mask_password(v);
        return strdup("********");
}

static bool needs_quotes(const char *v) {
        for (const char *p = v; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("_-./:,@+=%[]", *p))
                        return true;
        return false;
}

/* The value as it would be written in a config file (systemd quoting). */
static void print_value(FILE *f, const char *v, int *width) {
        int n = 0;

        if (!needs_quotes(v)) {
                *width += fprintf(f, "%s", v);
                return;
        }
        if (!strchr(v, '\'') && !strchr(v, '\n')) {
                *width += fprintf(f, "'%s'", v);
                return;
        }
        n += fprintf(f, "\"");
        for (const char *p = v; *p; p++) {
                if (strchr("\"\\`$", *p))
                        n += fprintf(f, "\\");
                n += fprintf(f, "%c", *p);
        }
        n += fprintf(f, "\"");
        *width += n;
}

void config_print(const struct config *c, FILE *f) {
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct config_key_info *k = &config_keys[i];
                const char *v = config_string(c, (enum config_key)i);
                unsigned secrecy = key_secrecy(k);
                int width = fprintf(f, "%s=", k->name);

                if (v && *v && secrecy) {
                        _cleanup_free_ char *m = mask(secrecy, v);
                        if (m && strcmp(m, v) == 0) /* a URL without a password */
                                print_value(f, v, &width);
                        else
                                width += fprintf(f, "%s", m ? m : "********");
                } else if (v)
                        print_value(f, v, &width);
                fprintf(f, "%*s# %s\n", width < 56 ? 56 - width : 2, "",
                        config_source(c, (enum config_key)i));
        }
}

/* The type column of --list-keys, from the same fields the checks use. */
static void print_type(FILE *f, const struct config_key_info *k) {
        static const char *const names[_TYPE_MAX] = {
                [TYPE_STRING] = "string",
                [TYPE_BOOL] = "boolean",
                [TYPE_INT] = "integer",
                [TYPE_ENUM] = "one of",
                [TYPE_URL] = "URL",
                [TYPE_DURATION] = "duration",
                [TYPE_LIST] = "list of",
                [TYPE_PORTS] = "JSON array of ports",
                [TYPE_JSON_OBJECT] = "JSON object of strings",
                [TYPE_ATTRIBUTES] = "JSON object of attributes",
                [TYPE_PATH] = "absolute path",
                [TYPE_LISTEN] = "HOST:PORT list or off",
                [TYPE_REGEX] = "regular expression",
                [TYPE_REGION] = "region name",
                [TYPE_ASG_NAME] = "Auto Scaling group name",
                [TYPE_ASG_HOOK_NAME] = "lifecycle hook name",
        };
        char lo[32], hi[32];

        fputs(names[k->type], f);
        if (k->type == TYPE_STRING && key_secrecy(k))
                fputs(", secret", f);
        else if (k->flags & FLAG_SECRET_PASSWORD)
                fputs(", password masked", f);
        else if (k->type == TYPE_INT)
                fprintf(f, ", %" PRId64 " to %" PRId64, k->min, k->max);
        else if (k->type == TYPE_DURATION) {
                format_duration(k->min, lo, sizeof lo);
                format_duration(k->max, hi, sizeof hi);
                fprintf(f, ", %s to %s", k->min ? lo : "0", hi);
        } else if (k->choices) {
                _cleanup_free_ char *choices = join_choices(k->choices);
                fprintf(f, " %s", choices ? choices : "");
        }
}

/* Text in a markdown table cell: a '|' would end the cell. */
static void print_cell(FILE *f, const char *s) {
        for (; *s; s++)
                fputs(*s == '|' ? "\\|" : (char[]){*s, 0}, f);
}

/* Text in a man page: backslashes escaped, a line never starting with a
 * control character, `code` in bold. */
static void print_roff(FILE *f, const char *s, bool *bold) {
        for (const char *p = s; *p; p++) {
                if (*p == '`') {
                        fputs(*bold ? "\\fR" : "\\fB", f);
                        *bold = !*bold;
                } else if (*p == '\\')
                        fputs("\\e", f);
                else if ((*p == '.' || *p == '\'') && (p == s || p[-1] == '\n'))
                        fprintf(f, "\\&%c", *p);
                else
                        fputc(*p, f);
        }
}

static void list_keys_man(FILE *f) {
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct config_key_info *k = &config_keys[i];
                _cleanup_free_ char *type = NULL;
                size_t n = 0;
                bool bold = false;
                FILE *m = open_memstream(&type, &n);

                if (m) {
                        print_type(m, k);
                        fclose(m);
                }
                fprintf(f, ".TP\n.B %s\n", k->name);
                print_roff(f, type ? type : "", &bold);
                fputs("; default ", f);
                if (k->def && *k->def) {
                        fputs("\\fB", f);
                        print_roff(f, k->def, &bold);
                        fputs("\\fR", f);
                } else
                        fputs(k->def ? "empty" : "unset", f);
                fputs(".\n.br\n", f);
                print_roff(f, k->description, &bold);
                fputs(bold ? "\\fR\n" : "\n", f);
        }
}

/* Plain text as comment lines, words wrapped at CONF_WIDTH columns, `code`
 * marks dropped (a configuration file is no place for markup). */
#define CONF_WIDTH 78 /* columns */
static void print_comment(FILE *f, const char *s) {
        int col = 0;

        while (*s) {
                size_t n = strcspn(s, " "), w = n;

                for (size_t i = 0; i < n; i++)
                        w -= s[i] == '`';
                if (col > 0 && col + 1 + (int)w > CONF_WIDTH) {
                        fputc('\n', f);
                        col = 0;
                }
                col += fprintf(f, col ? " " : "# ");
                for (size_t i = 0; i < n; i++)
                        if (s[i] != '`')
                                col += fprintf(f, "%c", s[i]);
                s += n + strspn(s + n, " ");
        }
        fputc('\n', f);
}

static const char conf_header[] =
        "# /etc/ecs/ecs-hostd.conf: ecs-hostd's configuration; ecs-hostd.conf(5) says more.\n"
        "#\n"
        "# ecs-hostd reads /etc/ecs/ecs.config (the official ECS agent's file), then this\n"
        "# file, which overrides it; the environment overrides both.  The syntax is\n"
        "# systemd's EnvironmentFile=: KEY=VALUE lines; a line starting with '#' is a\n"
        "# comment, but a '#' after a value is part of the value.\n"
        "# Keys without the ECS_HOSTD_ prefix are also the official agent's or the AWS\n"
        "# SDKs' names: set them in /etc/ecs/ecs.config when both should see them, as a\n"
        "# value here is for ecs-hostd alone.\n"
        "#\n"
        "# Every key is below, commented out at its default: uncomment a line and change\n"
        "# its value.  An empty value means the default, except for the lists and the\n"
        "# patterns, where it means none.  `ecs-hostd --check-config` shows the\n"
        "# effective configuration; `systemctl reload ecs-hostd` applies it.\n"
        "#\n"
        "# This file is generated from the key table (`ecs-hostd --list-keys=conf`).\n";

/* The example /etc/ecs/ecs-hostd.conf: every key commented out at its
 * default, quoted as --check-config quotes it, so that uncommenting a line
 * changes nothing. */
static void list_keys_conf(FILE *f) {
        fputs(conf_header, f);
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct config_key_info *k = &config_keys[i];
                _cleanup_free_ char *type = NULL;
                size_t n = 0;
                FILE *m = open_memstream(&type, &n);
                int width = 0;

                if (m) {
                        fputs("Type: ", m);
                        print_type(m, k);
                        fputs(k->def ? "." : "; unset by default.", m);
                        fclose(m);
                }
                fputc('\n', f);
                print_comment(f, k->description);
                print_comment(f, type ? type : "");
                fprintf(f, "#%s=", k->name);
                if (k->def)
                        print_value(f, k->def, &width);
                fputc('\n', f);
        }
}

void config_list_keys(FILE *f, enum config_list_format format) {
        if (format == CONFIG_LIST_MAN) {
                list_keys_man(f);
                return;
        }
        if (format == CONFIG_LIST_CONF) {
                list_keys_conf(f);
                return;
        }
        fprintf(f, "| Key | Default | Type | Description |\n|---|---|---|---|\n");
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct config_key_info *k = &config_keys[i];
                fprintf(f, "| `%s` | ", k->name);
                if (k->def && *k->def) {
                        fputc('`', f);
                        print_cell(f, k->def);
                        fputc('`', f);
                } else
                        fprintf(f, "%s", k->def ? "(empty)" : "(unset)");
                fprintf(f, " | ");
                print_type(f, k);
                fprintf(f, " | %s |\n", k->description);
        }
}
