/* notice.c: the IMDS interruption signals, parsed.  Pure: no I/O, no logging,
 * no locale (English month names come from our own table).  Every parser
 * writes *ret only on success; on garbage it returns -EINVAL with a message
 * that names the path and the field and quotes at most ECHO_MAX bytes of the
 * input.  Ids are built from normalized values (the time to the second, the
 * action, the EventId), so the same notice has the same id on every poll. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "escape.h"
#include "macro.h"
#include "notice.h"

#define ECHO_MAX 64 /* bytes of outside input a message may quote */
#define QUOTE_SIZE ESCAPE_QUOTE_SIZE(ECHO_MAX)
#define TIME_MAX ((time_t)253402300799LL) /* 9999-12-31T23:59:59Z */
#define ISO_TIME_SIZE 21                  /* "2017-09-18T08:22:00Z" + NUL */

#define SPOT_WHAT "spot/instance-action"
#define TERMINATION_WHAT "spot/termination-time"
#define REBALANCE_WHAT "events/recommendations/rebalance"
#define ASG_WHAT "autoscaling/target-lifecycle-state"
#define MAINTENANCE_WHAT "events/maintenance/scheduled"
#define MAINTENANCE_DATE_EXAMPLE "21 Jan 2019 09:00:43 GMT"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

static const char *const kind_names[] = {
        [NOTICE_SPOT] = "spot",
        [NOTICE_REBALANCE] = "rebalance",
        [NOTICE_ASG] = "asg",
        [NOTICE_MAINTENANCE] = "maintenance",
};

/* The steady states Auto Scaling writes to target-lifecycle-state. */
static const char *const asg_states[] = {
        "InService",         "Terminated",        "Standby",        "Detached",
        "Pending",           "Warmed:Pending",    "Warmed:Running", "Warmed:Stopped",
        "Warmed:Hibernated", "Warmed:Terminated",
};

/* The codes EC2 documents; others are kept (the watcher filters by code) but
 * flagged. */
static const char *const maintenance_codes[] = {
        "instance-stop", "instance-retirement", "instance-reboot",
        "system-reboot", "system-maintenance",
};

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

const char *notice_kind_name(enum notice_kind k) {
        if ((unsigned)k >= ELEMENTSOF(kind_names) || !kind_names[k])
                return "unknown";
        return kind_names[k];
}

void notice_done(struct notice *n) {
        if (!n)
                return;
        free(n->action);
        free(n->id);
        free(n->event_id);
        free(n->description);
        free(n->warning);
        *n = (struct notice){};
}

void notice_list_free(struct notice *v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                notice_done(&v[i]);
        free(v);
}

/* isspace() and friends depend on the locale; IMDS's bodies are ASCII. */
static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}
static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Quote at most ECHO_MAX bytes of s for a message (escape.h). */
static void quote(char buf[static QUOTE_SIZE], const char *s, size_t n) {
        escape_quote(buf, s, n, ECHO_MAX, '"');
}

/* Trim ASCII whitespace (IMDS bodies may end with a newline). */
static void trim(const char **s, size_t *n) {
        while (*n > 0 && is_space(**s)) {
                (*s)++;
                (*n)--;
        }
        while (*n > 0 && is_space((*s)[*n - 1]))
                (*n)--;
}

/* Compare what strptime() read with what timegm() made of it: timegm()
 * silently turns 31 Feb into 3 Mar and 23:59:60 into the next minute. */
static int tm_to_time(const struct tm *tm, long offset, time_t *ret) {
        struct tm n = *tm;
        time_t t;

        n.tm_isdst = 0;
        t = timegm(&n);
        if (t == (time_t)-1 || n.tm_year != tm->tm_year || n.tm_mon != tm->tm_mon ||
            n.tm_mday != tm->tm_mday || n.tm_hour != tm->tm_hour || n.tm_min != tm->tm_min ||
            n.tm_sec != tm->tm_sec)
                return -EINVAL;
        t -= offset;
        if (t < 0 || t > TIME_MAX)
                return -EINVAL;
        *ret = t;
        return 0;
}

/* Two digits, for UTC offsets. */
static int two_digits(const char *p, int max) {
        int v;

        if (!is_digit(p[0]) || !is_digit(p[1]))
                return -1;
        v = (p[0] - '0') * 10 + (p[1] - '0');
        return v <= max ? v : -1;
}

int notice_parse_iso_time(const char *s, time_t *ret) {
        struct tm tm = {};
        const char *p;
        long offset = 0;

        if (!s || !ret)
                return -EINVAL;
        while (is_space(*s))
                s++;
        /* strptime's %Y takes 1 to 4 digits; insist on the 4 ISO 8601 has. */
        if (!is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]) || s[4] != '-')
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') { /* fractional seconds: the notice is to the second */
                if (!is_digit(*++p))
                        return -EINVAL;
                while (is_digit(*p))
                        p++;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, h, m;
                p++;
                h = two_digits(p, 23);
                if (h < 0)
                        return -EINVAL;
                p += 2;
                if (*p == ':')
                        p++;
                m = two_digits(p, 59);
                if (m < 0)
                        return -EINVAL;
                p += 2;
                offset = sign * (h * 3600L + m * 60L);
        } else
                return -EINVAL; /* no zone: a local time would be a guess */
        while (is_space(*p))
                p++;
        if (*p)
                return -EINVAL;
        return tm_to_time(&tm, offset, ret);
}

int notice_parse_maintenance_time(const char *s, time_t *ret) {
        struct tm tm = {};
        const char *p;
        int day = 0, mon = -1;

        if (!s || !ret)
                return -EINVAL;
        while (is_space(*s))
                s++;
        /* Day of the month: Go's "2 Jan 2006" layout, so one or two digits. */
        if (!is_digit(s[0]))
                return -EINVAL;
        day = s[0] - '0';
        s++;
        if (is_digit(s[0])) {
                day = day * 10 + (s[0] - '0');
                s++;
        }
        if (*s != ' ')
                return -EINVAL;
        while (*s == ' ')
                s++;
        for (size_t i = 0; i < ELEMENTSOF(months); i++)
                if (ascii_lower(s[0]) == ascii_lower(months[i][0]) &&
                    ascii_lower(s[1]) == ascii_lower(months[i][1]) &&
                    ascii_lower(s[2]) == ascii_lower(months[i][2])) {
                        mon = (int)i;
                        break;
                }
        if (mon < 0 || s[3] != ' ')
                return -EINVAL;
        s += 3;
        while (*s == ' ')
                s++;
        if (!is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]) || s[4] != ' ')
                return -EINVAL;
        /* Set before strptime(), which derives the weekday from them. */
        tm.tm_mday = day;
        tm.tm_mon = mon;
        p = strptime(s, "%Y %H:%M:%S", &tm);
        if (!p || !is_space(*p))
                return -EINVAL;
        while (is_space(*p))
                p++;
        if (strncmp(p, "GMT", 3) != 0 && strncmp(p, "UTC", 3) != 0)
                return -EINVAL;
        p += 3;
        while (is_space(*p))
                p++;
        if (*p)
                return -EINVAL;
        return tm_to_time(&tm, 0, ret);
}

int notice_format_iso_time(time_t t, char *buf, size_t size) {
        struct tm tm;

        if (!buf || t < 0 || t > TIME_MAX || size < ISO_TIME_SIZE || !gmtime_r(&t, &tm))
                return -ERANGE;
        if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -ERANGE;
        return 0;
}

/* The body as JSON, or NULL.  A NUL byte inside makes it garbage: cJSON would
 * stop there and accept a prefix. */
static cJSON *parse_json(const char *body, size_t len) {
        _cleanup_free_ char *copy = NULL;

        if (!body || memchr(body, '\0', len))
                return NULL;
        copy = malloc(len + 1);
        if (!copy)
                return NULL;
        memcpy(copy, body, len);
        copy[len] = '\0';
        /* require_null_terminated: trailing garbage after the value is an error */
        return cJSON_ParseWithOpts(copy, NULL, true);
}

/* A string member: 1 found, 0 missing (absent or null), -EINVAL another type. */
static int member_string(const cJSON *o, const char *name, const char **ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsString(v) || !v->valuestring)
                return -EINVAL;
        *ret = v->valuestring;
        return 1;
}

static int member_iso_time(const char *what, const cJSON *o, const char *name, time_t *ret,
                           char **error) {
        const char *s = NULL;
        int r = member_string(o, name, &s);

        if (r == 0)
                return errmsg_set(error, "%s: \"%s\" is missing", what, name);
        if (r < 0)
                return errmsg_set(error, "%s: \"%s\" is not a string", what, name);
        if (notice_parse_iso_time(s, ret) < 0)
                return errmsg_set(error, "%s: \"%s\" is not an ISO 8601 time", what, name);
        return 0;
}

/* Fill *ret for a timed notice; the id is "<prefix><ISO time>".  Takes
 * *warning on success. */
static int timed_notice(struct notice *ret, enum notice_kind kind, const char *action,
                        const char *id_prefix, time_t t, char **warning) {
        struct notice n = {.kind = kind, .time = t};
        char iso[ISO_TIME_SIZE];
        int r;

        r = notice_format_iso_time(t, iso, sizeof iso);
        if (r < 0)
                return r;
        n.action = strdup(action);
        if (!n.action || asprintf(&n.id, "%s%s", id_prefix, iso) < 0) {
                n.id = NULL;
                notice_done(&n);
                return -ENOMEM;
        }
        n.warning = TAKE_PTR(*warning);
        *ret = n;
        return 0;
}

static bool in_list(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

int notice_parse_spot_action(const char *body, size_t len, struct notice *ret, char **error) {
        static const char *const actions[] = {"terminate", "stop", "hibernate"};
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_free_ char *warning = NULL, *prefix = NULL;
        const char *action = NULL;
        time_t t;
        int r;

        if (!ret)
                return -EINVAL;
        o = parse_json(body, len);
        if (!cJSON_IsObject(o))
                return errmsg_set(error, "%s: not a JSON object", SPOT_WHAT);
        r = member_string(o, "action", &action);
        if (r == 0)
                return errmsg_set(error, "%s: \"action\" is missing", SPOT_WHAT);
        if (r < 0)
                return errmsg_set(error, "%s: \"action\" is not a string", SPOT_WHAT);
        r = member_iso_time(SPOT_WHAT, o, "time", &t, error);
        if (r < 0)
                return r;
        if (!in_list(action, actions, ELEMENTSOF(actions))) {
                /* The instance is going away either way: draining is the safe
                 * reading of an action we do not know. */
                char q[QUOTE_SIZE];
                quote(q, action, strlen(action));
                if (asprintf(&warning, "%s: unknown action %s, taken as terminate", SPOT_WHAT, q) <
                    0) {
                        warning = NULL;
                        return -ENOMEM;
                }
                action = "terminate";
        }
        if (asprintf(&prefix, "spot/%s/", action) < 0) {
                prefix = NULL;
                return -ENOMEM;
        }
        return timed_notice(ret, NOTICE_SPOT, action, prefix, t, &warning);
}

int notice_parse_termination_time(const char *body, size_t len, struct notice *ret, char **error) {
        _cleanup_free_ char *copy = NULL, *warning = NULL;
        const char *s = body;
        size_t n = len;
        time_t t;

        if (!ret || (!body && len))
                return -EINVAL;
        if (s)
                trim(&s, &n);
        if (n == 0)
                return errmsg_set(error, "%s: empty", TERMINATION_WHAT);
        if (!memchr(s, '\0', n))
                copy = strndup(s, n);
        else
                copy = strdup(""); /* a NUL byte inside: not a time */
        if (!copy)
                return -ENOMEM;
        if (notice_parse_iso_time(copy, &t) < 0) {
                char q[QUOTE_SIZE];
                quote(q, s, n);
                return errmsg_set(error, "%s: not an ISO 8601 time: %s", TERMINATION_WHAT, q);
        }
        /* The same id as instance-action's terminate at that time: one notice
         * seen through two paths is handled once. */
        return timed_notice(ret, NOTICE_SPOT, "terminate", "spot/terminate/", t, &warning);
}

int notice_parse_rebalance(const char *body, size_t len, struct notice *ret, char **error) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_free_ char *warning = NULL;
        time_t t;
        int r;

        if (!ret)
                return -EINVAL;
        o = parse_json(body, len);
        if (!cJSON_IsObject(o))
                return errmsg_set(error, "%s: not a JSON object", REBALANCE_WHAT);
        r = member_iso_time(REBALANCE_WHAT, o, "noticeTime", &t, error);
        if (r < 0)
                return r;
        return timed_notice(ret, NOTICE_REBALANCE, "rebalance", "rebalance/", t, &warning);
}

int notice_parse_asg_state(const char *body, size_t len, char **ret, char **error) {
        const char *s = body;
        size_t n = len;
        char q[QUOTE_SIZE];

        if (!ret || (!body && len))
                return -EINVAL;
        if (s)
                trim(&s, &n);
        if (n == 0)
                return errmsg_set(error, "%s: empty", ASG_WHAT);
        /* Exact names only: a state we cannot name must not drain a host. */
        for (size_t i = 0; i < ELEMENTSOF(asg_states); i++)
                if (strlen(asg_states[i]) == n && memcmp(asg_states[i], s, n) == 0) {
                        char *c = strdup(asg_states[i]);
                        if (!c)
                                return -ENOMEM;
                        *ret = c;
                        return 0;
                }
        quote(q, s, n);
        return errmsg_set(error, "%s: unknown state %s", ASG_WHAT, q);
}

int notice_from_asg_state(const char *state, struct notice *ret) {
        struct notice n = {.kind = NOTICE_ASG};

        if (!state || !ret)
                return -EINVAL;
        n.action = strdup(state);
        if (!n.action || asprintf(&n.id, "asg/%s", state) < 0) {
                n.id = NULL;
                notice_done(&n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}

static int dup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int notice_copy(const struct notice *src, struct notice *ret) {
        struct notice n = {};

        if (!src || !ret)
                return -EINVAL;
        n.kind = src->kind;
        n.time = src->time;
        if (dup_or_null(src->action, &n.action) < 0 || dup_or_null(src->id, &n.id) < 0 ||
            dup_or_null(src->event_id, &n.event_id) < 0 ||
            dup_or_null(src->description, &n.description) < 0 ||
            dup_or_null(src->warning, &n.warning) < 0) {
                notice_done(&n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}

/* Codes and EventIds end up in ids, logs and hook environments: letters,
 * digits and - _ . : only, 1 to ECHO_MAX of them. */
static bool is_token(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > ECHO_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || is_digit(*s) ||
                      *s == '-' || *s == '_' || *s == '.' || *s == ':'))
                        return false;
        return true;
}

/* A required token member of event number k. */
static int event_token(const cJSON *e, unsigned k, const char *name, const char *what_it_is,
                       const char **ret, char **error) {
        const char *s = NULL;
        char q[QUOTE_SIZE];
        int r = member_string(e, name, &s);

        if (r == 0)
                return errmsg_set(error, "%s: event %u: \"%s\" is missing", MAINTENANCE_WHAT, k,
                                  name);
        if (r < 0)
                return errmsg_set(error, "%s: event %u: \"%s\" is not a string", MAINTENANCE_WHAT,
                                  k, name);
        if (!is_token(s)) {
                quote(q, s, strlen(s));
                return errmsg_set(error, "%s: event %u: \"%s\" %s is not %s", MAINTENANCE_WHAT, k,
                                  name, q, what_it_is);
        }
        *ret = s;
        return 0;
}

/* One element of the list, number k (from 1).  Returns 1 with *ret filled for
 * an active event, 0 for one that is over (canceled, completed). */
static int maintenance_event(const cJSON *e, unsigned k, struct notice *ret, char **error) {
        _cleanup_(notice_done) struct notice n = {.kind = NOTICE_MAINTENANCE};
        const char *state = NULL, *code = NULL, *event_id = NULL, *not_before = NULL,
                   *description = NULL;
        char q[QUOTE_SIZE];
        int r;

        if (!cJSON_IsObject(e))
                return errmsg_set(error, "%s: event %u: not a JSON object", MAINTENANCE_WHAT, k);
        r = member_string(e, "State", &state);
        if (r == 0)
                return errmsg_set(error, "%s: event %u: \"State\" is missing", MAINTENANCE_WHAT, k);
        if (r < 0)
                return errmsg_set(error, "%s: event %u: \"State\" is not a string",
                                  MAINTENANCE_WHAT, k);
        /* Over or withdrawn: not a notice, whatever else the entry holds. */
        if (strcmp(state, "canceled") == 0 || strcmp(state, "completed") == 0)
                return 0;
        if (strcmp(state, "active") != 0) {
                quote(q, state, strlen(state));
                return errmsg_set(error,
                                  "%s: event %u: \"State\" %s is not active, canceled or completed",
                                  MAINTENANCE_WHAT, k, q);
        }

        r = event_token(e, k, "Code", "an event code", &code, error);
        if (r < 0)
                return r;
        r = event_token(e, k, "EventId", "an event id", &event_id, error);
        if (r < 0)
                return r;
        r = member_string(e, "NotBefore", &not_before);
        if (r == 0)
                return errmsg_set(error, "%s: event %u: \"NotBefore\" is missing", MAINTENANCE_WHAT,
                                  k);
        if (r < 0)
                return errmsg_set(error, "%s: event %u: \"NotBefore\" is not a string",
                                  MAINTENANCE_WHAT, k);
        if (notice_parse_maintenance_time(not_before, &n.time) < 0)
                return errmsg_set(error, "%s: event %u: \"NotBefore\" is not a date like \"%s\"",
                                  MAINTENANCE_WHAT, k, MAINTENANCE_DATE_EXAMPLE);
        /* NotAfter and NotBeforeDeadline decide nothing here: a garbled one
         * must not hide the event.  A non-string Description is dropped. */
        if (member_string(e, "Description", &description) <= 0)
                description = NULL;

        if (!in_list(code, maintenance_codes, ELEMENTSOF(maintenance_codes))) {
                quote(q, code, strlen(code));
                if (asprintf(&n.warning, "%s: event %u: unknown \"Code\" %s", MAINTENANCE_WHAT, k,
                             q) < 0) {
                        n.warning = NULL;
                        return -ENOMEM;
                }
        }
        n.action = strdup(code);
        n.event_id = strdup(event_id);
        if (!n.action || !n.event_id || dup_or_null(description, &n.description) < 0)
                return -ENOMEM;
        if (asprintf(&n.id, "maintenance/%s", event_id) < 0) {
                n.id = NULL;
                return -ENOMEM;
        }
        *ret = n;
        n = (struct notice){};
        return 1;
}

int notice_parse_maintenance(const char *body, size_t len, struct notice **ret, size_t *ret_n,
                             char **error) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        const char *s = body;
        size_t n = len, count, used = 0;
        struct notice *v = NULL;
        const cJSON *e;
        unsigned k = 0;
        int r;

        if (!ret || !ret_n || (!body && len))
                return -EINVAL;
        if (s)
                trim(&s, &n);
        if (n == 0) { /* nothing scheduled */
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        j = parse_json(body, len);
        if (cJSON_IsObject(j)) {
                /* One event without its list, as older AEMMs serve it. */
                cJSON *list = cJSON_CreateArray();
                if (!list)
                        return -ENOMEM;
                cJSON_AddItemToArray(list, TAKE_PTR(j));
                j = list;
        } else if (!cJSON_IsArray(j))
                return errmsg_set(error, "%s: not a JSON array", MAINTENANCE_WHAT);

        count = (size_t)cJSON_GetArraySize(j);
        if (count > 0) {
                v = calloc(count, sizeof *v);
                if (!v)
                        return -ENOMEM;
        }
        cJSON_ArrayForEach(e, j) {
                struct notice one;
                bool repeated = false;

                k++;
                r = maintenance_event(e, k, &one, error);
                if (r < 0) {
                        notice_list_free(v, used);
                        return r;
                }
                if (r == 0)
                        continue;
                /* The same EventId twice would make two notices with one id:
                 * keep the first, say so on it. */
                for (size_t i = 0; i < used && !repeated; i++) {
                        if (strcmp(v[i].event_id, one.event_id) != 0)
                                continue;
                        repeated = true;
                        if (!v[i].warning) {
                                char q[QUOTE_SIZE];
                                quote(q, one.event_id, strlen(one.event_id));
                                if (asprintf(&v[i].warning,
                                             "%s: event %u repeats \"EventId\" %s; ignored",
                                             MAINTENANCE_WHAT, k, q) < 0)
                                        v[i].warning = NULL;
                        }
                }
                if (repeated) {
                        notice_done(&one);
                        continue;
                }
                v[used++] = one;
        }
        if (used == 0) {
                free(v);
                v = NULL;
        }
        *ret = v;
        *ret_n = used;
        return 0;
}
