/* config.c: the key table and the KEY=VALUE parser.  Every key the daemon
 * reads is in config_keys[] with its type, default, limits and description;
 * a value is validated and normalised when it is stored, so getters never
 * fail.  Parsing is pure: errors are collected (file:line, rule), never logged. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "attributes.h"
#include "config.h"
#include "macro.h"

/* A config file larger than this is refused: ecs.config is a few lines. */
#define CONFIG_FILE_MAX (1024 * 1024) /* bytes */
/* Longest value accepted (the JSON keys are the long ones). */
#define CONFIG_VALUE_MAX (64 * 1024) /* bytes */
/* Values quoted in error messages are cut to this many bytes. */
#define CONFIG_QUOTE_MAX 64

enum config_type {
        CONFIG_STRING,
        CONFIG_BOOL,
        CONFIG_INT,
        CONFIG_ENUM,
        CONFIG_URL,
        CONFIG_DURATION, /* min/max in milliseconds */
        CONFIG_LIST,     /* comma-separated, each item one of choices */
        CONFIG_PORTS,    /* JSON array of port numbers, as the official agent */
        CONFIG_JSON_OBJECT,
        CONFIG_ATTRIBUTES, /* JSON object checked with ECS's attribute rules (attributes.c) */
        CONFIG_PATH,       /* absolute */
        CONFIG_LISTEN,     /* HOST:PORT */
        CONFIG_REGION,
};

enum {
        CONFIG_SECRET = 1 << 0,       /* never shown, not even its length */
        CONFIG_SECRET_LAST4 = 1 << 1, /* shown as ****WXYZ, as `aws configure list` does */
        CONFIG_BARE_HOST = 1 << 2,    /* URL may omit the scheme: https:// is implied */
};

struct config_key {
        const char *name;
        enum config_type type;
        const char *def; /* NULL: unset unless configured */
        int64_t min, max;
        const char *const *choices; /* CONFIG_ENUM, CONFIG_LIST */
        unsigned flags;
        const char *description; /* one line, for --list-keys and the README */
};

static const char *const loglevel_choices[] = {"debug", "info", "warn", "error", "crit", NULL};
static const char *const mode_choices[] = {"auto", "register", "companion", NULL};
static const char *const drain_on_choices[] = {"spot", "rebalance", "asg", "maintenance", NULL};
static const char *const maintenance_codes[] = {"instance-stop",      "instance-retirement",
                                                "instance-reboot",    "system-reboot",
                                                "system-maintenance", NULL};

#define MS_PER_S INT64_C(1000)
#define MS_PER_H (3600 * MS_PER_S)

/* The one table.  Order is the order of --check-config and --list-keys. */
static const struct config_key config_keys[] = {
        {"ECS_CLUSTER", CONFIG_STRING, "default", 0, 0, NULL, 0,
         "Cluster to register in, or to find this instance in (shared with the official agent)."},
        {"ECS_LOGLEVEL", CONFIG_ENUM, "info", 0, 0, loglevel_choices, 0,
         "Least severe level logged."},
        {"AWS_REGION", CONFIG_REGION, NULL, 0, 0, NULL, 0,
         "Region of the ECS endpoint; unset: `AWS_DEFAULT_REGION`, then the instance identity "
         "document."},
        {"AWS_DEFAULT_REGION", CONFIG_REGION, NULL, 0, 0, NULL, 0,
         "Region used when `AWS_REGION` is unset."},
        {"ECS_BACKEND_HOST", CONFIG_URL, NULL, 0, 0, NULL, CONFIG_BARE_HOST,
         "ECS endpoint; a bare host means `https://HOST`; unset: "
         "`https://ecs.REGION.amazonaws.com`."},
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT", CONFIG_URL, "http://169.254.169.254", 0, 0, NULL, 0,
         "Base URL of the instance metadata service (IMDS)."},
        {"AWS_ACCESS_KEY_ID", CONFIG_STRING, NULL, 0, 0, NULL, CONFIG_SECRET_LAST4,
         "Static credentials, with `AWS_SECRET_ACCESS_KEY`; unset: the instance role from IMDS."},
        {"AWS_SECRET_ACCESS_KEY", CONFIG_STRING, NULL, 0, 0, NULL, CONFIG_SECRET,
         "Secret of the static credentials; never printed or logged."},
        {"AWS_SESSION_TOKEN", CONFIG_STRING, NULL, 0, 0, NULL, CONFIG_SECRET,
         "Session token of temporary static credentials; never printed or logged."},
        {"ECS_HOSTD_IMDS_TOKEN_TTL", CONFIG_INT, "21600", 1, 21600, NULL, 0,
         "Lifetime in seconds of the IMDSv2 tokens requested."},
        {"ECS_HOSTD_IMDS_V1_FALLBACK", CONFIG_BOOL, "true", 0, 0, NULL, 0,
         "Fall back to IMDSv1 when the token request answers 403, 404 or 405."},
        {"ECS_HOSTD_MODE", CONFIG_ENUM, "auto", 0, 0, mode_choices, 0,
         "`register` the instance, be the official agent's `companion`, or `auto`: companion "
         "when the official agent answers."},
        {"ECS_HOSTD_DATADIR", CONFIG_PATH, "/var/lib/ecs-hostd", 0, 0, NULL, 0,
         "State directory: container instance identity, attributes put, notices handled."},
        {"ECS_HOSTD_ATTRIBUTES_DIR", CONFIG_PATH, "/etc/ecs/attributes.d", 0, 0, NULL, 0,
         "Directory of `*.json` attribute objects merged with `ECS_INSTANCE_ATTRIBUTES`; "
         "watched for changes."},
        {"ECS_INSTANCE_ATTRIBUTES", CONFIG_ATTRIBUTES, NULL, 0, 0, NULL, 0,
         "Custom attributes, e.g. `{\"stack\": \"prod\", \"gpu\": null}` (null: no value)."},
        {"ECS_CONTAINER_INSTANCE_TAGS", CONFIG_JSON_OBJECT, NULL, 0, 0, NULL, 0,
         "Tags given to the container instance at registration."},
        {"ECS_RESERVED_MEMORY", CONFIG_INT, "0", 0, INT32_MAX, NULL, 0,
         "MiB of memory withheld from the registered `MEMORY` resource."},
        {"ECS_RESERVED_PORTS", CONFIG_PORTS, "[22, 2375, 2376, 51678, 51679]", 0, 0, NULL, 0,
         "Reserved TCP ports, registered as `PORTS`."},
        {"ECS_RESERVED_PORTS_UDP", CONFIG_PORTS, "[]", 0, 0, NULL, 0,
         "Reserved UDP ports, registered as `PORTS_UDP`."},
        {"ECS_AGENT_INTROSPECTION_URL", CONFIG_URL, "http://127.0.0.1:51678/v1/metadata", 0, 0,
         NULL, 0, "The official agent's introspection metadata URL (companion and auto modes)."},
        {"ECS_HOSTD_DRAIN_ON", CONFIG_LIST, "spot,asg,maintenance", 0, 0, drain_on_choices, 0,
         "Signals that drain the host (empty: none; rebalance is always reported)."},
        {"ECS_HOSTD_POLL_INTERVAL_MS", CONFIG_INT, "1000", 100, 60000, NULL, 0,
         "Milliseconds between two IMDS polls of the watcher."},
        {"ECS_HOSTD_DRAIN_MAINTENANCE_CODES", CONFIG_LIST, "instance-stop,instance-retirement", 0,
         0, maintenance_codes, 0, "Scheduled maintenance event codes that drain the host."},
        {"ECS_HOSTD_MAINTENANCE_LEAD", CONFIG_DURATION, NULL, 0, 8760 * MS_PER_H, NULL, 0,
         "Drain this long before a maintenance event's `NotBefore`, e.g. `2h`; unset: at once."},
        {"ECS_ENABLE_SPOT_INSTANCE_DRAINING", CONFIG_BOOL, NULL, 0, 0, NULL, 0,
         "The official agent's switch: an explicit `false` turns the Spot drain off."},
        {"ECS_HOSTD_UNDRAIN", CONFIG_BOOL, "true", 0, 0, NULL, 0,
         "Set ACTIVE again when a maintenance or ASG signal that drained the host is withdrawn."},
        {"ECS_HOSTD_DRAIN_HOOK", CONFIG_PATH, NULL, 0, 0, NULL, 0,
         "Executable run once per drain event, with the event in its environment."},
        {"ECS_HOSTD_DRAIN_HOOK_TIMEOUT", CONFIG_DURATION, "60s", MS_PER_S, MS_PER_H, NULL, 0,
         "Time limit of one drain hook run; it is killed after that."},
        {"ECS_HOSTD_DRY_RUN", CONFIG_BOOL, "false", 0, 0, NULL, 0,
         "Log what would be done and change nothing in ECS."},
        {"ECS_HOSTD_METRICS_LISTEN", CONFIG_LISTEN, NULL, 0, 0, NULL, 0,
         "Address of the Prometheus metrics endpoint, e.g. `127.0.0.1:9466`; unset: off."},
};

#define N_KEYS ELEMENTSOF(config_keys)

struct config_entry {
        char *value;  /* normalised; NULL: not configured (default applies) */
        char *source; /* "environment" or "file:line"; NULL with value */
};

struct config {
        struct config_entry entries[N_KEYS];
        struct config_errors warnings; /* likely typos among the ignored keys */
};

/* ---- errors ---- */

void config_errors_done(struct config_errors *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n; i++) {
                free(e->v[i].file);
                free(e->v[i].message);
        }
        free(e->v);
        e->v = NULL;
        e->n = 0;
}

void config_errors_print(const struct config_errors *e, FILE *f) {
        for (size_t i = 0; i < e->n; i++) {
                if (e->v[i].line > 0)
                        fprintf(f, "%s:%u: %s\n", e->v[i].file, e->v[i].line, e->v[i].message);
                else
                        fprintf(f, "%s: %s\n", e->v[i].file, e->v[i].message);
        }
}

int config_errors_add(struct config_errors *errs, const char *file, unsigned line,
                      const char *format, ...) {
        struct config_error *v;
        char *message = NULL;
        va_list ap;
        int n;

        va_start(ap, format);
        n = vasprintf(&message, format, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        v = realloc(errs->v, (errs->n + 1) * sizeof *v);
        if (!v) {
                free(message);
                return -ENOMEM;
        }
        errs->v = v;
        v[errs->n].file = strdup(file);
        if (!v[errs->n].file) {
                free(message);
                return -ENOMEM;
        }
        v[errs->n].line = line;
        v[errs->n].message = message;
        errs->n++;
        return -EINVAL;
}

/* A value as shown in an error message: in double quotes, non-printable
 * bytes as \xNN, cut after CONFIG_QUOTE_MAX bytes.  Owned by the caller. */
static char *quote(const char *s) {
        size_t n = strlen(s), cut = n > CONFIG_QUOTE_MAX ? CONFIG_QUOTE_MAX : n;
        char *buf = malloc(cut * 4 + 8), *p = buf;

        if (!buf)
                return NULL;
        *p++ = '"';
        for (size_t i = 0; i < cut; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch < 0x20 || ch == 0x7f)
                        p += snprintf(p, 5, "\\x%02x", ch);
                else if (ch == '"' || ch == '\\') {
                        *p++ = '\\';
                        *p++ = (char)ch;
                } else
                        *p++ = (char)ch;
        }
        if (cut < n)
                p += snprintf(p, 4, "...");
        *p++ = '"';
        *p = 0;
        return buf;
}

/* Set *ret_msg to a rule's message; returns -EINVAL (or -ENOMEM). */
_printf_(2, 3) static int fail(char **ret_msg, const char *format, ...) {
        va_list ap;
        int n;

        va_start(ap, format);
        n = vasprintf(ret_msg, format, ap);
        va_end(ap);
        return n < 0 ? -ENOMEM : -EINVAL;
}

/* ---- key table lookups ---- */

static const struct config_key *key_find(const char *name, size_t *ret_index) {
        for (size_t i = 0; i < N_KEYS; i++)
                if (strcmp(config_keys[i].name, name) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return &config_keys[i];
                }
        return NULL;
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

static bool is_region(const char *v) {
        size_t n = strlen(v);

        if (n < 2 || n > 32 || !islower((unsigned char)v[0]) || v[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char)v[i]) && !isdigit((unsigned char)v[i]) && v[i] != '-')
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
                return fail(ret_msg, "invalid JSON near character %zu", at);
        }
        if (!cJSON_IsObject(json)) {
                cJSON_Delete(json);
                return fail(ret_msg,
                            "must be a JSON object of strings, e.g. {\"name\": \"value\"}");
        }
        cJSON_ArrayForEach(item, json) {
                if (!cJSON_IsString(item)) {
                        _cleanup_free_ char *q = quote(item->string ? item->string : "");
                        r = fail(ret_msg, "the value of %s is not a string", q ? q : "");
                        break;
                }
        }
        cJSON_Delete(json);
        return r;
}

static bool utf8_valid(const char *s) {
        const unsigned char *p = (const unsigned char *)s;

        while (*p) {
                size_t n;
                uint32_t cp;
                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        cp = *p & 0x07;
                } else
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                p += n + 1;
        }
        return true;
}

static char *join_choices(const char *const *choices) {
        size_t n = 1;
        char *s, *p;

        for (size_t i = 0; choices[i]; i++)
                n += strlen(choices[i]) + 2;
        s = p = malloc(n);
        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; choices[i]; i++)
                p += snprintf(p, n - (size_t)(p - s), "%s%s", i ? ", " : "", choices[i]);
        return s;
}

static const char *choice_find(const char *const *choices, const char *v, size_t len) {
        for (size_t i = 0; choices[i]; i++)
                if (strlen(choices[i]) == len && strncasecmp(choices[i], v, len) == 0)
                        return choices[i];
        return NULL;
}

/* Validate a non-empty value of key k.  Returns 0 and the normalised value
 * in *ret, or -EINVAL and the rule broken in *ret_msg (without the key), or
 * -ENOMEM. */
static int value_check(const struct config_key *k, const char *v, char **ret, char **ret_msg) {
        _cleanup_free_ char *q = NULL, *choices = NULL, *norm = NULL;
        int64_t n;
        bool b;
        int r;

        if (strlen(v) > CONFIG_VALUE_MAX)
                return fail(ret_msg, "the value is longer than %d bytes", CONFIG_VALUE_MAX);
        if (!utf8_valid(v))
                return fail(ret_msg, "the value is not valid UTF-8");
        /* Secrets never appear in messages, not even when they are wrong. */
        q = (k->flags & (CONFIG_SECRET | CONFIG_SECRET_LAST4)) ? strdup("(secret)") : quote(v);
        if (!q)
                return -ENOMEM;

        switch (k->type) {
        case CONFIG_STRING:
                break;
        case CONFIG_BOOL:
                if (parse_bool(v, &b) < 0)
                        return fail(ret_msg, "%s is not a boolean (use true or false)", q);
                norm = strdup(b ? "true" : "false");
                break;
        case CONFIG_INT:
                r = parse_int(v, &n);
                if (r == -EINVAL)
                        return fail(ret_msg, "%s is not an integer", q);
                if (r == -ERANGE)
                        n = v[0] == '-' ? INT64_MIN : INT64_MAX;
                if (n < k->min)
                        return fail(ret_msg, "%s is below the minimum %" PRId64, v, k->min);
                if (n > k->max)
                        return fail(ret_msg, "%s is above the maximum %" PRId64, v, k->max);
                break;
        case CONFIG_DURATION: {
                char lim[32];
                r = parse_duration(v, &n);
                if (r == -EINVAL)
                        return fail(ret_msg, "%s is not a duration (e.g. 500ms, 90s, 5m, 1h30m)",
                                    q);
                if (r < 0 || n > k->max) {
                        format_duration(k->max, lim, sizeof lim);
                        return fail(ret_msg, "%s is above the maximum %s", v, lim);
                }
                if (n < k->min) {
                        format_duration(k->min, lim, sizeof lim);
                        return fail(ret_msg, "%s is below the minimum %s", v, lim);
                }
                break;
        }
        case CONFIG_ENUM: {
                const char *c = choice_find(k->choices, v, strlen(v));
                if (!c) {
                        choices = join_choices(k->choices);
                        return fail(ret_msg, "%s is not one of %s", q, choices ? choices : "");
                }
                norm = strdup(c);
                break;
        }
        case CONFIG_LIST: {
                size_t cap = strlen(v) + 1, used = 0;
                norm = malloc(cap);
                if (!norm)
                        return -ENOMEM;
                norm[0] = 0;
                for (const char *p = v;;) {
                        const char *comma = strchr(p, ','), *e = comma ? comma : p + strlen(p);
                        const char *c;
                        while (p < e && (*p == ' ' || *p == '\t'))
                                p++;
                        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
                                e--;
                        if (p == e)
                                return fail(ret_msg, "empty item in the list %s", q);
                        c = choice_find(k->choices, p, (size_t)(e - p));
                        if (!c) {
                                _cleanup_free_ char *item = strndup(p, (size_t)(e - p)), *qi = NULL;
                                if (!item || !(qi = quote(item)))
                                        return -ENOMEM;
                                choices = join_choices(k->choices);
                                return fail(ret_msg, "%s is not one of %s", qi,
                                            choices ? choices : "");
                        }
                        used += (size_t)snprintf(norm + used, cap - used, "%s%s", used ? "," : "",
                                                 c);
                        if (!comma)
                                break;
                        p = comma + 1;
                }
                break;
        }
        case CONFIG_URL:
                if ((k->flags & CONFIG_BARE_HOST) && !strstr(v, "://")) {
                        if (asprintf(&norm, "https://%s", v) < 0)
                                return -ENOMEM;
                        if (is_url(norm))
                                break;
                        free(norm);
                        norm = NULL;
                }
                if (!is_url(v))
                        return fail(ret_msg, "%s is not an http:// or https:// URL", q);
                break;
        case CONFIG_PORTS:
                r = parse_ports(v, NULL, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return fail(ret_msg,
                                    "%s is not a JSON array of port numbers (e.g. [22, 2375])", q);
                break;
        case CONFIG_JSON_OBJECT:
                r = check_json_object(v, ret_msg);
                if (r < 0)
                        return r;
                break;
        case CONFIG_ATTRIBUTES: {
                /* One set of rules and messages, the attributes module's. */
                struct attribute_set set = {};
                struct attribute_errors errs = {};
                r = attributes_parse_json(k->name, v, strlen(v), &set, &errs);
                attribute_set_done(&set);
                if (r == -ENOMEM) {
                        attribute_errors_done(&errs);
                        return r;
                }
                if (errs.n > 0) {
                        /* "KEY: attribute ...": the key is already in the caller's prefix. */
                        const char *m = errs.v[0];
                        size_t kl = strlen(k->name);
                        if (strncmp(m, k->name, kl) == 0 && strncmp(m + kl, ": ", 2) == 0)
                                m += kl + 2;
                        r = fail(ret_msg, "%s%s", m, errs.n > 1 ? " (and more)" : "");
                        attribute_errors_done(&errs);
                        return r;
                }
                attribute_errors_done(&errs);
                break;
        }
        case CONFIG_PATH:
                if (v[0] != '/')
                        return fail(ret_msg, "%s is not an absolute path", q);
                break;
        case CONFIG_LISTEN:
                if (!is_listen(v))
                        return fail(ret_msg, "%s is not HOST:PORT (e.g. 127.0.0.1:9466)", q);
                break;
        case CONFIG_REGION:
                if (!is_region(v))
                        return fail(ret_msg, "%s is not a region name (e.g. us-east-1)", q);
                break;
        }
        if (!norm && !(norm = strdup(v)))
                return -ENOMEM;
        *ret = TAKE_PTR(norm);
        return 0;
}

/* ---- the configuration object ---- */

int config_new_empty(struct config **ret) {
        struct config *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < N_KEYS; i++) {
                free(c->entries[i].value);
                free(c->entries[i].source);
        }
        config_errors_done(&c->warnings);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct config *, config_free)

static bool key_is_identifier(const char *s) {
        if (!isalpha((unsigned char)s[0]) && s[0] != '_')
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

/* Store KEY=VALUE from file:line (line 0: the environment).  Keys not in the
 * table are ignored unless they claim our ECS_HOSTD_ prefix.  An empty value
 * means "not configured" (the default applies), as the official agent reads
 * an empty variable; for lists it is the empty list.  hint is appended to a
 * rule's message when the value broke one. */
static int config_set(struct config *c, const char *key, const char *value, const char *file,
                      unsigned line, const char *hint, struct config_errors *errs) {
        _cleanup_free_ char *norm = NULL, *msg = NULL, *source = NULL;
        const struct config_key *k;
        size_t i;
        int r;

        k = key_find(key, &i);
        if (!k) {
                const char *s;
                if (strncasecmp(key, "ECS_HOSTD_", strlen("ECS_HOSTD_")) != 0) {
                        /* The official agent's, or nobody's; but ECS_CLUSTR=prod
                         * would silently mean the default cluster, so say so. */
                        s = line > 0 ? key_suggest_shared(key) : NULL;
                        if (s && config_errors_add(&c->warnings, file, line,
                                                   "%s is not a key ecs-hostd reads (did you "
                                                   "mean %s?)",
                                                   key, s) == -ENOMEM)
                                return -ENOMEM;
                        return 0;
                }
                s = key_suggest(key);
                if (s)
                        return config_errors_add(errs, file, line,
                                                 "unknown key %s (did you mean %s?)", key, s);
                return config_errors_add(errs, file, line, "unknown key %s", key);
        }

        if (!*value && k->type != CONFIG_LIST) {
                c->entries[i].value = mfree(c->entries[i].value);
                c->entries[i].source = mfree(c->entries[i].source);
                return 0;
        }
        if (*value) {
                r = value_check(k, value, &norm, &msg);
                if (r == -EINVAL)
                        return config_errors_add(errs, file, line, "%s: %s%s", key, msg,
                                                 hint ? hint : "");
                if (r < 0)
                        return r;
        } else if (!(norm = strdup("")))
                return -ENOMEM;

        if (line > 0 ? asprintf(&source, "%s:%u", file, line) < 0 : !(source = strdup(file)))
                return -ENOMEM;
        free(c->entries[i].value);
        free(c->entries[i].source);
        c->entries[i].value = TAKE_PTR(norm);
        c->entries[i].source = TAKE_PTR(source);
        return 0;
}

/* ---- the file parser ----
 *
 * Follows systemd's EnvironmentFile= reading of ecs.config, so one file
 * means the same to the official agent's unit and to us:
 *   file       := { line }
 *   line       := ws* ( comment | assignment )? eol
 *   comment    := ( '#' | ';' ) any*              (only at the start of a line)
 *   assignment := [ "export" ws+ ] key ws* '=' ws* value
 *   value      := "'" literal* "'" ws* | '"' escaped* '"' ws* | unquoted
 * A '#' after a value is part of it, as in systemd.  Stricter than systemd:
 * a quote must close on its line (or a backslash-newline continuation), text
 * after a closing quote, lines without '=', bad keys and NUL bytes are
 * errors rather than silently dropped. */

struct parser {
        const char *p, *end, *line_start;
        const char *name;
        unsigned line;
        bool nul; /* a NUL byte was seen in the current assignment */
};

struct buf {
        char *s;
        size_t n, cap;
};

static int buf_put(struct buf *b, char ch) {
        if (b->n + 2 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 64;
                char *s = realloc(b->s, cap);
                if (!s)
                        return -ENOMEM;
                b->s = s;
                b->cap = cap;
        }
        b->s[b->n++] = ch;
        b->s[b->n] = 0;
        return 0;
}

static bool at_eol(const struct parser *P) {
        return P->p >= P->end || *P->p == '\n' ||
               (*P->p == '\r' && P->p + 1 < P->end && P->p[1] == '\n');
}

static void eat_eol(struct parser *P) {
        if (P->p >= P->end)
                return;
        P->p += *P->p == '\r' ? 2 : 1;
        P->line++;
        P->line_start = P->p;
}

static void skip_ws(struct parser *P) {
        while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\r') && !at_eol(P))
                P->p++;
}

static void skip_line(struct parser *P) {
        while (!at_eol(P))
                P->p++;
}

static unsigned column(const struct parser *P) {
        return (unsigned)(P->p - P->line_start) + 1;
}

/* A backslash followed by a line end continues the value on the next line. */
static bool eat_continuation(struct parser *P) {
        const char *save = P->p;

        if (P->p >= P->end || *P->p != '\\')
                return false;
        P->p++;
        if (P->p < P->end && at_eol(P)) {
                eat_eol(P);
                return true;
        }
        P->p = save;
        return false;
}

static int put(struct parser *P, struct buf *b, char ch) {
        if (ch == 0)
                P->nul = true;
        return buf_put(b, ch);
}

/* unquoted := { char | '\' char | '\' eol } ; trailing whitespace dropped */
static int parse_unquoted(struct parser *P, struct buf *b) {
        size_t keep = b->n;
        int r;

        while (!at_eol(P)) {
                char ch = *P->p;
                if (eat_continuation(P))
                        continue;
                if (ch == '\\') {
                        P->p++;
                        if (P->p >= P->end)
                                break;
                        r = put(P, b, *P->p++);
                        keep = b->n; /* an escaped blank is kept */
                } else {
                        r = put(P, b, ch);
                        P->p++;
                        if (ch != ' ' && ch != '\t' && ch != '\r')
                                keep = b->n;
                }
                if (r < 0)
                        return r;
        }
        if (b->s)
                b->s[keep] = 0;
        return 0;
}

/* quoted := "'" { char } "'" | '"' { char | '\' ( '"' | '\' | '`' | '$' ) | '\' eol } '"'
 * Returns -EINVAL, with the message in *ret_msg, when the quote never closes. */
static int parse_quoted(struct parser *P, struct buf *b, char **ret_msg) {
        char q = *P->p;
        unsigned col = column(P);
        int r;

        P->p++;
        for (;;) {
                if (q == '"' && eat_continuation(P))
                        continue;
                if (at_eol(P))
                        return fail(ret_msg,
                                    "unterminated quote: the %c at column %u is never "
                                    "closed",
                                    q, col);
                if (*P->p == q) {
                        P->p++;
                        break;
                }
                /* As the shell: \ quotes only " \ ` $ and keeps itself before others. */
                if (q == '"' && *P->p == '\\' && P->p + 1 < P->end && P->p[1] &&
                    strchr("\"\\`$", P->p[1]))
                        P->p++;
                r = put(P, b, *P->p++);
                if (r < 0)
                        return r;
        }
        skip_ws(P);
        if (!at_eol(P))
                return fail(ret_msg, "unexpected text after the closing quote at column %u",
                            column(P));
        return 0;
}

/* assignment := [ "export" ws+ ] key ws* '=' ws* value */
static int parse_assignment(struct parser *P, struct config *c, struct config_errors *errs) {
        _cleanup_free_ char *key = NULL, *msg = NULL;
        struct buf value = {};
        const char *k = P->p, *eq, *ke;
        unsigned line = P->line;
        const char *hint = NULL;
        int r;

        P->nul = false;
        while (!at_eol(P) && *P->p != '=') {
                if (*P->p == 0)
                        P->nul = true;
                P->p++;
        }
        if (at_eol(P)) {
                if (P->nul)
                        return config_errors_add(errs, P->name, line,
                                                 "the line contains a NUL byte");
                return config_errors_add(errs, P->name, line, "missing '=' (expected KEY=VALUE)");
        }
        eq = P->p++;
        ke = eq;
        while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
                ke--;
        /* `export KEY=value` lets one file also be sourced by a shell. */
        if (ke - k > 7 && strncmp(k, "export", 6) == 0 && (k[6] == ' ' || k[6] == '\t')) {
                k += 7;
                while (k < ke && (*k == ' ' || *k == '\t'))
                        k++;
        }
        key = strndup(k, (size_t)(ke - k));
        if (!key)
                return -ENOMEM;

        skip_ws(P);
        if (!at_eol(P) && (*P->p == '\'' || *P->p == '"'))
                r = parse_quoted(P, &value, &msg);
        else {
                const char *v = P->p;
                r = parse_unquoted(P, &value);
                /* systemd keeps "# ..." in the value; say so when it breaks a rule. */
                for (const char *s = v; s < P->p; s++)
                        if (*s == '#' && s > v && (s[-1] == ' ' || s[-1] == '\t'))
                                hint = " (a '#' after a value is part of the value, not a comment)";
        }
        if (r == -ENOMEM) {
                free(value.s);
                return r;
        }
        skip_line(P);

        if (P->nul || strlen(key) != (size_t)(ke - k))
                r = config_errors_add(errs, P->name, line, "the line contains a NUL byte");
        else if (!key[0])
                r = config_errors_add(errs, P->name, line, "missing key before '='");
        else if (!key_is_identifier(key)) {
                _cleanup_free_ char *qk = quote(key);
                r = qk ? config_errors_add(errs, P->name, line,
                                           "invalid key %s: a key is letters, digits and '_', not "
                                           "starting with a digit",
                                           qk)
                       : -ENOMEM;
        } else if (r == -EINVAL)
                r = config_errors_add(errs, P->name, line, "%s: %s", key, msg);
        else
                r = config_set(c, key, value.s ? value.s : "", P->name, line, hint, errs);
        free(value.s);
        return r;
}

int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
                      struct config_errors *errs) {
        struct parser P = {
                .p = text, .end = text + len, .line_start = text, .name = name, .line = 1};
        size_t n0 = errs->n;

        /* A UTF-8 byte order mark from a Windows editor is not part of the first key. */
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                P.p += 3;
        while (P.p < P.end) {
                skip_ws(&P);
                if (at_eol(&P)) {
                        eat_eol(&P);
                        continue;
                }
                if (*P.p == '#' || *P.p == ';') {
                        skip_line(&P);
                        eat_eol(&P);
                        continue;
                }
                if (parse_assignment(&P, c, errs) == -ENOMEM)
                        return -ENOMEM;
                skip_line(&P);
                eat_eol(&P);
        }
        return errs->n > n0 ? -EINVAL : 0;
}

static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *text = NULL;
        size_t len = 0, n;

        if (!f)
                return -errno;
        text = malloc(CONFIG_FILE_MAX + 1);
        if (!text)
                return -ENOMEM;
        while ((n = fread(text + len, 1, CONFIG_FILE_MAX + 1 - len, f)) > 0) {
                len += n;
                if (len > CONFIG_FILE_MAX)
                        return -EFBIG;
        }
        if (ferror(f))
                return errno > 0 ? -errno : -EIO;
        *ret = TAKE_PTR(text);
        *ret_len = len;
        return 0;
}

int config_load(struct config **ret, const char *const *files, size_t n_files, bool optional,
                char *const *envp, struct config_errors *errs) {
        _cleanup_(config_freep) struct config *c = NULL;
        size_t n0 = errs->n;
        int r;

        r = config_new_empty(&c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;

                r = read_file(files[i], &text, &len);
                if (r == -ENOENT && optional)
                        continue;
                if (r == -ENOMEM)
                        return r;
                if (r == -EFBIG)
                        r = config_errors_add(errs, files[i], 0, "the file is larger than %d bytes",
                                              CONFIG_FILE_MAX);
                else if (r < 0)
                        r = config_errors_add(errs, files[i], 0, "cannot read the file: %s",
                                              strerror(-r));
                else
                        r = config_parse_text(c, files[i], text, len, errs);
                if (r == -ENOMEM)
                        return r;
        }
        for (size_t i = 0; envp && envp[i]; i++) {
                const char *eq = strchr(envp[i], '=');
                _cleanup_free_ char *key = NULL;

                if (!eq)
                        continue;
                key = strndup(envp[i], (size_t)(eq - envp[i]));
                if (!key)
                        return -ENOMEM;
                if (!key_is_identifier(key))
                        continue;
                r = config_set(c, key, eq + 1, "environment", 0, NULL, errs);
                if (r == -ENOMEM)
                        return r;
        }
        if (errs->n > n0)
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load_files(struct config **ret, const char *const *files, size_t n_files,
                      char *const *envp, struct config_errors *errs) {
        static const char *const defaults[] = CONFIG_DEFAULT_FILES;

        if (n_files == 0)
                return config_load(ret, defaults, ELEMENTSOF(defaults), true, envp, errs);
        return config_load(ret, files, n_files, false, envp, errs);
}

/* ---- getters ---- */

const struct config_errors *config_warnings(const struct config *c) {
        return &c->warnings;
}

static const struct config_entry *entry_of(const struct config *c, const char *key,
                                           const struct config_key **ret_key) {
        size_t i;
        const struct config_key *k = key_find(key, &i);

        if (ret_key)
                *ret_key = k;
        return k ? &c->entries[i] : NULL;
}

const char *config_get(const struct config *c, const char *key) {
        const struct config_key *k;
        const struct config_entry *e = entry_of(c, key, &k);

        if (!e)
                return NULL;
        return e->value ? e->value : k->def;
}

bool config_get_bool(const struct config *c, const char *key) {
        const char *v = config_get(c, key);
        bool b = false;

        if (v)
                (void)parse_bool(v, &b);
        return b;
}

int64_t config_get_int(const struct config *c, const char *key) {
        const struct config_key *k;
        const char *v;
        int64_t n = 0;

        (void)entry_of(c, key, &k);
        v = config_get(c, key);
        if (!k || !v)
                return 0;
        if (k->type == CONFIG_INT)
                (void)parse_int(v, &n);
        else if (k->type == CONFIG_DURATION)
                (void)parse_duration(v, &n);
        else if (k->type == CONFIG_BOOL)
                n = config_get_bool(c, key);
        return n;
}

const char *config_source(const struct config *c, const char *key) {
        const struct config_key *k;
        const struct config_entry *e = entry_of(c, key, &k);

        if (!e)
                return NULL;
        if (e->value)
                return e->source;
        return k->def ? "default" : "unset";
}

bool config_list_contains(const struct config *c, const char *key, const char *item) {
        const char *v = config_get(c, key);
        size_t n = strlen(item);

        for (const char *p = v; p && *p;) {
                const char *comma = strchr(p, ','), *e = comma ? comma : p + strlen(p);
                if ((size_t)(e - p) == n && strncmp(p, item, n) == 0)
                        return true;
                p = comma ? comma + 1 : e;
        }
        return false;
}

int config_get_ports(const struct config *c, const char *key, uint16_t **ret, size_t *ret_n) {
        const struct config_key *k;
        const char *v;

        (void)entry_of(c, key, &k);
        v = config_get(c, key);
        if (!k || k->type != CONFIG_PORTS)
                return -EINVAL;
        return parse_ports(v ? v : "[]", ret, ret_n);
}

/* ---- printing ---- */

/* 0: shown; CONFIG_SECRET or CONFIG_SECRET_LAST4: masked.  A string key whose
 * name says it is a secret is masked even if the table forgot to say so. */
static unsigned key_secrecy(const struct config_key *k) {
        if (k->flags & (CONFIG_SECRET | CONFIG_SECRET_LAST4))
                return k->flags & (CONFIG_SECRET | CONFIG_SECRET_LAST4);
        if (k->type == CONFIG_STRING &&
            (strstr(k->name, "SECRET") || strstr(k->name, "TOKEN") || strstr(k->name, "PASSWORD")))
                return CONFIG_SECRET;
        return 0;
}

/* Stars of a fixed length, so not even the secret's length shows; an access
 * key id keeps its last four characters, as `aws configure list` shows it. */
static char *mask(unsigned secrecy, const char *v) {
        size_t n = strlen(v);
        char *s;

        if (secrecy == CONFIG_SECRET_LAST4 && n >= 16)
                return asprintf(&s, "****************%s", v + n - 4) < 0 ? NULL : s;
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
                const struct config_key *k = &config_keys[i];
                const char *v = config_get(c, k->name);
                unsigned secrecy = key_secrecy(k);
                int width = fprintf(f, "%s=", k->name);

                if (v && *v && secrecy) {
                        _cleanup_free_ char *m = mask(secrecy, v);
                        width += fprintf(f, "%s", m ? m : "********");
                } else if (v)
                        print_value(f, v, &width);
                fprintf(f, "%*s# %s\n", width < 56 ? 56 - width : 2, "", config_source(c, k->name));
        }
}

/* The type column of --list-keys, from the same fields the checks use. */
static void print_type(FILE *f, const struct config_key *k) {
        char lo[32], hi[32];
        _cleanup_free_ char *choices = NULL;

        switch (k->type) {
        case CONFIG_STRING:
                fprintf(f, "%s", key_secrecy(k) ? "string, secret" : "string");
                break;
        case CONFIG_BOOL:
                fprintf(f, "boolean");
                break;
        case CONFIG_INT:
                fprintf(f, "integer, %" PRId64 " to %" PRId64, k->min, k->max);
                break;
        case CONFIG_DURATION:
                format_duration(k->min, lo, sizeof lo);
                format_duration(k->max, hi, sizeof hi);
                fprintf(f, "duration, %s to %s", k->min ? lo : "0", hi);
                break;
        case CONFIG_ENUM:
        case CONFIG_LIST:
                choices = join_choices(k->choices);
                fprintf(f, "%s %s", k->type == CONFIG_ENUM ? "one of" : "list of",
                        choices ? choices : "");
                break;
        case CONFIG_URL:
                fprintf(f, "URL");
                break;
        case CONFIG_PORTS:
                fprintf(f, "JSON array of ports");
                break;
        case CONFIG_JSON_OBJECT:
                fprintf(f, "JSON object of strings");
                break;
        case CONFIG_ATTRIBUTES:
                fprintf(f, "JSON object of attributes");
                break;
        case CONFIG_PATH:
                fprintf(f, "absolute path");
                break;
        case CONFIG_LISTEN:
                fprintf(f, "HOST:PORT");
                break;
        case CONFIG_REGION:
                fprintf(f, "region name");
                break;
        }
}

void config_list_keys(FILE *f) {
        fprintf(f, "| Key | Default | Type | Description |\n|---|---|---|---|\n");
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct config_key *k = &config_keys[i];
                fprintf(f, "| `%s` | ", k->name);
                if (k->def && *k->def)
                        fprintf(f, "`%s`", k->def);
                else
                        fprintf(f, "%s", k->def ? "(empty)" : "(unset)");
                fprintf(f, " | ");
                print_type(f, k);
                fprintf(f, " | %s |\n", k->description);
        }
}
