/* credentials.c: static keys or the IMDS instance role.  One fetch at a time
 * (role name, then the role's JSON); requests that arrive meanwhile wait for
 * it.  While a background refresh runs, the old credentials keep serving
 * until they actually expire. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credentials.h"
#include "errors.h"
#include "macro.h"

#define ROLES_PATH "/latest/meta-data/iam/security-credentials/"

struct credentials_request {
        struct credentials *c;
        credentials_callback_t cb;
        void *userdata;
        bool in_callback;
        struct credentials_request *prev, *next;
};

struct credentials {
        sd_event *event;
        struct imds *imds; /* borrowed */
        bool is_static;
        struct aws_credentials cur;
        bool have;
        bool invalid; /* an auth error was seen: do not serve cur again */
        char *role;
        struct imds_request *fetch;
        char err[256];
        struct credentials_request *waiting;
};

void aws_credentials_done(struct aws_credentials *c) {
        if (!c)
                return;
        free(c->access_key_id);
        if (c->secret_access_key) {
                explicit_bzero(c->secret_access_key, strlen(c->secret_access_key));
                free(c->secret_access_key);
        }
        if (c->session_token) {
                explicit_bzero(c->session_token, strlen(c->session_token));
                free(c->session_token);
        }
        *c = (struct aws_credentials){};
}

int credentials_parse_time(const char *s, time_t *ret) {
        struct tm tm = {};
        const char *end;
        time_t t;

        if (!s || !ret)
                return -EINVAL;
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return -EINVAL;
        if (*end == '.') /* fractional seconds */
                for (end++; *end >= '0' && *end <= '9'; end++)
                        ;
        if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
                return -EINVAL;
        t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = t;
        return 0;
}

/* cJSON_Delete() for a tree that holds the role's keys: every string is
 * wiped first.  cJSON bounds the nesting (CJSON_NESTING_LIMIT), and so the
 * recursion. */
static void json_erase_delete(cJSON *j) {
        for (cJSON *i = j; i; i = i->next) {
                if (i->valuestring)
                        explicit_bzero(i->valuestring, strlen(i->valuestring));
                if (i->child)
                        json_erase_delete(i->child);
        }
}

static void json_erase_deletep(cJSON **j) {
        if (*j) {
                json_erase_delete(*j);
                cJSON_Delete(*j);
        }
}

static const char *string_field(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

int credentials_parse_imds(const char *json, size_t len, struct aws_credentials *ret,
                           char **error) {
        _cleanup_(json_erase_deletep) cJSON *o = NULL;
        const char *code, *id, *secret, *token, *exp;
        struct aws_credentials c = {};

        if (!json || !ret)
                return -EINVAL;
        o = cJSON_ParseWithLength(json, len);
        if (!cJSON_IsObject(o))
                return errmsg_set(error, "the role credentials are not a JSON object");
        code = string_field(o, "Code");
        /* Code is a status word, not a secret: safe to show. */
        if (code && strcmp(code, "Success") != 0)
                return errmsg_set(error, "the role credentials say Code=%.64s", code);
        id = string_field(o, "AccessKeyId");
        secret = string_field(o, "SecretAccessKey");
        token = string_field(o, "Token");
        exp = string_field(o, "Expiration");
        if (!id || !secret || !token || !exp)
                return errmsg_set(error, "the role credentials lack %s",
                                  !id       ? "AccessKeyId"
                                  : !secret ? "SecretAccessKey"
                                  : !token  ? "Token"
                                            : "Expiration");
        if (credentials_parse_time(exp, &c.expiration) < 0)
                return errmsg_set(error,
                                  "the role credentials' Expiration is not an ISO 8601 time");
        c.access_key_id = strdup(id);
        c.secret_access_key = strdup(secret);
        c.session_token = strdup(token);
        if (!c.access_key_id || !c.secret_access_key || !c.session_token) {
                aws_credentials_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

static bool fresh(const struct credentials *c, time_t now, time_t ahead) {
        if (!c->have || c->invalid)
                return false;
        return c->cur.expiration == 0 || now + ahead < c->cur.expiration;
}

static void request_unlink(struct credentials_request *q) {
        struct credentials *c = q->c;
        if (q->prev)
                q->prev->next = q->next;
        else if (c->waiting == q)
                c->waiting = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->prev = q->next = NULL;
}

/* Answer every waiting request: with the current credentials when they are
 * still valid, else with the error. */
static void answer_waiting(struct credentials *c, int error) {
        bool ok = fresh(c, time(NULL), 0);

        while (c->waiting) {
                struct credentials_request *q = c->waiting;
                request_unlink(q);
                q->in_callback = true;
                if (ok)
                        q->cb(&c->cur, 0, NULL, q->userdata);
                else
                        q->cb(NULL, error ? error : -EIO, c->err, q->userdata);
                free(q);
        }
}

static void start_fetch(struct credentials *c);

static struct credentials_stats stats;

const struct credentials_stats *credentials_stats(void) {
        return &stats;
}

/* A fetch of the role's credentials ended: refreshed, or failed (error). */
static void fetched(struct credentials *c, int error) {
        if (error)
                stats.failures++;
        else {
                stats.refreshes++;
                stats.expiration = c->cur.expiration;
        }
        answer_waiting(c, error);
}

static void on_role_json(const struct imds_result *r, void *userdata) {
        struct credentials *c = userdata;
        struct aws_credentials n = {};
        _cleanup_free_ char *why = NULL;
        int e;

        c->fetch = NULL;
        if (r->error == -ENOENT) {
                /* The role changed (instance profile swapped): list again. */
                snprintf(c->err, sizeof c->err, "instance role %s: %s", c->role, r->error_text);
                c->role = mfree(c->role);
                fetched(c, -ENOENT);
                return;
        }
        if (r->error) {
                snprintf(c->err, sizeof c->err, "%s", r->error_text);
                fetched(c, r->error);
                return;
        }
        e = credentials_parse_imds(r->body, r->body_len, &n, &why);
        if (e < 0) {
                snprintf(c->err, sizeof c->err, "instance role %s: %s", c->role,
                         why ? why : "cannot parse the credentials");
                fetched(c, e);
                return;
        }
        aws_credentials_done(&c->cur);
        c->cur = n;
        c->have = true;
        c->invalid = false;
        fetched(c, 0);
}

static bool role_name_ok(const char *s, size_t n) {
        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
                    !(s[i] >= '0' && s[i] <= '9') && !strchr("+=,.@_-", s[i]))
                        return false;
        return true;
}

static void fetch_role_json(struct credentials *c) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, ROLES_PATH "%s", c->role) < 0) {
                snprintf(c->err, sizeof c->err, "out of memory");
                answer_waiting(c, -ENOMEM);
                return;
        }
        r = imds_get(c->imds, path, on_role_json, c, &c->fetch);
        if (r < 0) {
                c->fetch = NULL;
                snprintf(c->err, sizeof c->err, "cannot ask IMDS for the role credentials");
                answer_waiting(c, r);
        }
}

static void on_role_list(const struct imds_result *r, void *userdata) {
        struct credentials *c = userdata;
        size_t n;

        c->fetch = NULL;
        if (r->error) {
                if (r->error == -ENOENT)
                        snprintf(c->err, sizeof c->err,
                                 "no instance role: IMDS has no iam/security-credentials/ (attach "
                                 "an instance profile, or set AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY)");
                else
                        snprintf(c->err, sizeof c->err, "%s", r->error_text);
                fetched(c, r->error);
                return;
        }
        n = strcspn(r->body, "\r\n");
        if (!role_name_ok(r->body, n)) {
                snprintf(c->err, sizeof c->err,
                         "IMDS listed no usable role name under iam/security-credentials/");
                fetched(c, -EPROTO);
                return;
        }
        free(c->role);
        c->role = strndup(r->body, n);
        if (!c->role) {
                snprintf(c->err, sizeof c->err, "out of memory");
                fetched(c, -ENOMEM);
                return;
        }
        fetch_role_json(c);
}

static void start_fetch(struct credentials *c) {
        int r;

        if (c->fetch || c->is_static)
                return;
        if (!c->imds) {
                snprintf(c->err, sizeof c->err,
                         "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
                answer_waiting(c, -ENOKEY);
                return;
        }
        if (c->role) {
                fetch_role_json(c);
                return;
        }
        r = imds_get(c->imds, ROLES_PATH, on_role_list, c, &c->fetch);
        if (r < 0) {
                c->fetch = NULL;
                snprintf(c->err, sizeof c->err, "cannot ask IMDS for the instance role");
                answer_waiting(c, r);
        }
}

int credentials_new(struct credentials **ret, sd_event *event, struct imds *imds,
                    const struct credentials_config *cfg) {
        struct credentials *c;

        if (!ret || !event || !cfg)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->imds = imds;
        if (cfg->access_key_id && *cfg->access_key_id && cfg->secret_access_key &&
            *cfg->secret_access_key) {
                c->is_static = true;
                c->have = true;
                c->cur.access_key_id = strdup(cfg->access_key_id);
                c->cur.secret_access_key = strdup(cfg->secret_access_key);
                if (cfg->session_token && *cfg->session_token)
                        c->cur.session_token = strdup(cfg->session_token);
                if (!c->cur.access_key_id || !c->cur.secret_access_key ||
                    (cfg->session_token && *cfg->session_token && !c->cur.session_token)) {
                        credentials_free(c);
                        return -ENOMEM;
                }
        }
        *ret = c;
        return 0;
}

struct credentials *credentials_free(struct credentials *c) {
        if (!c)
                return NULL;
        while (c->waiting) {
                struct credentials_request *q = c->waiting;
                request_unlink(q);
                free(q);
        }
        imds_request_cancel(c->fetch);
        aws_credentials_done(&c->cur);
        free(c->role);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

int credentials_get(struct credentials *c, credentials_callback_t cb, void *userdata,
                    struct credentials_request **ret) {
        struct credentials_request *q;
        time_t now = time(NULL);

        if (!c || !cb)
                return -EINVAL;
        if (ret)
                *ret = NULL;
        if (c->is_static || fresh(c, now, CREDENTIALS_REFRESH_AHEAD_SEC)) {
                cb(&c->cur, 0, NULL, userdata);
                return 0;
        }
        if (fresh(c, now, 0)) {
                /* Inside the refresh window: serve what we have, renew behind. */
                start_fetch(c);
                cb(&c->cur, 0, NULL, userdata);
                return 0;
        }
        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->c = c;
        q->cb = cb;
        q->userdata = userdata;
        q->next = c->waiting;
        if (c->waiting)
                c->waiting->prev = q;
        c->waiting = q;
        if (ret)
                *ret = q;
        start_fetch(c);
        return 0;
}

void credentials_request_cancel(struct credentials_request *q) {
        if (!q || q->in_callback)
                return;
        request_unlink(q);
        free(q);
}

void credentials_invalidate(struct credentials *c) {
        if (c && !c->is_static)
                c->invalid = true;
}

bool credentials_is_static(const struct credentials *c) {
        return c && c->is_static;
}

const char *credentials_source(const struct credentials *c) {
        return credentials_is_static(c) ? "environment" : "instance-role";
}
