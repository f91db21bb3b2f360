/* sigv4-suite: run the AWS SigV4 signing suite (awslabs/aws-c-auth layout)
 * against sigv4.c.  Every folder of DIR holding a request.txt is a case; it
 * passes when every header-* file (and query-* file, when present) is
 * reproduced byte for byte, signed as its context.json says: every field of
 * it is honoured, and one this runner does not know fails the case.  Prints
 * one line per failing case, then "N passed, N failed"; exits non-zero on any
 * failure or when DIR has no case. */
#include <assert.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "macro.h"
#include "sigv4.h"

static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        size_t n = 0, cap = 4096;
        _cleanup_free_ char *p = malloc(cap);
        if (!p)
                return -ENOMEM;
        for (;;) {
                if (cap - n < 2) {
                        char *np = realloc(p, cap * 2);
                        if (!np)
                                return -ENOMEM;
                        p = np;
                        cap *= 2;
                }
                size_t k = fread(p + n, 1, cap - n - 1, f);
                n += k;
                if (k == 0)
                        break;
        }
        if (ferror(f))
                return -EIO;
        p[n] = '\0';
        *ret = TAKE_PTR(p);
        *ret_len = n;
        return 0;
}

/* Render up to 24 bytes from s, escaping line ends and non-printables. */
static void snippet(char *out, size_t size, const char *s, size_t n) {
        size_t o = 0;
        for (size_t i = 0; i < n && i < 24 && o + 5 < size; i++) {
                unsigned char c = s[i];
                if (c == '\n')
                        o += snprintf(out + o, size - o, "\\n");
                else if (c < 0x20 || c >= 0x7f)
                        o += snprintf(out + o, size - o, "\\x%02x", c);
                else
                        out[o++] = (char)c;
        }
        out[o] = '\0';
}

/* Compare got with the expected file; on a difference write where it is. */
static bool same_as_file(const char *dir, const char *file, const char *got, size_t got_len,
                         char *why, size_t why_size) {
        _cleanup_free_ char *path = NULL, *want = NULL;
        size_t want_len = 0;
        if (asprintf(&path, "%s/%s", dir, file) < 0) {
                snprintf(why, why_size, "%s: out of memory", file);
                return false;
        }
        int r = read_file(path, &want, &want_len);
        if (r < 0) {
                snprintf(why, why_size, "%s: cannot read: %s", file, strerror(-r));
                return false;
        }
        if (got_len == want_len && memcmp(got, want, got_len) == 0)
                return true;

        size_t i = 0, line = 1, col = 1;
        while (i < got_len && i < want_len && got[i] == want[i]) {
                if (want[i] == '\n')
                        line++, col = 1;
                else
                        col++;
                i++;
        }
        char w[128], g[128];
        snippet(w, sizeof(w), want + i, want_len - i);
        snippet(g, sizeof(g), got + i, got_len - i);
        snprintf(why, why_size,
                 "%s differs at line %zu column %zu (byte %zu): expected \"%s\", got \"%s\"", file,
                 line, col, i, w, g);
        return false;
}

/* A case's context.json.  The strings are borrowed from the parsed JSON,
 * which the context owns. */
struct context {
        cJSON *json;
        const char *access_key_id, *secret_access_key, *token, *region, *service;
        time_t when;
        bool normalize, sign_body, omit_session_token;
        unsigned expires;
};

static void context_done(struct context *c) {
        cJSON_Delete(c->json);
        *c = (struct context){};
}

enum field_type {
        FIELD_STRING,    /* const char * */
        FIELD_BOOL,      /* bool: true or false, nothing else */
        FIELD_SECONDS,   /* unsigned: a whole number of seconds the signer accepts */
        FIELD_TIMESTAMP, /* time_t from "YYYY-MM-DDTHH:MM:SSZ" */
        FIELD_OBJECT,    /* nested fields, in `sub` */
};

/* One field context.json may hold, and where in struct context it goes. */
struct field {
        const char *name;
        enum field_type type;
        size_t offset;
        bool required; /* else struct context keeps its default */
        const struct field *sub;
        size_t n_sub;
};

#define FIELD(name, type, member, required)                                                        \
        { name, type, offsetof(struct context, member), required, NULL, 0 }

static const struct field credential_fields[] = {
        FIELD("access_key_id", FIELD_STRING, access_key_id, true),
        FIELD("secret_access_key", FIELD_STRING, secret_access_key, true),
        FIELD("token", FIELD_STRING, token, false),
};

/* Every field of the suite's context.json.  Anything else fails the case:
 * a field the suite adds must be taught here, not silently ignored. */
static const struct field context_fields[] = {
        {"credentials", FIELD_OBJECT, 0, true, credential_fields, ELEMENTSOF(credential_fields)},
        FIELD("expiration_in_seconds", FIELD_SECONDS, expires, false),
        FIELD("normalize", FIELD_BOOL, normalize, false),
        FIELD("omit_session_token", FIELD_BOOL, omit_session_token, false),
        FIELD("region", FIELD_STRING, region, true),
        FIELD("service", FIELD_STRING, service, true),
        FIELD("sign_body", FIELD_BOOL, sign_body, false),
        FIELD("timestamp", FIELD_TIMESTAMP, when, true),
};

/* Seven days: what the signer (and AWS) accept for X-Amz-Expires. */
#define MAX_EXPIRES 604800
/* The most fields one object may have; parse_fields() counts them in an array. */
#define MAX_FIELDS 8
_Static_assert(ELEMENTSOF(context_fields) <= MAX_FIELDS, "raise MAX_FIELDS");
_Static_assert(ELEMENTSOF(credential_fields) <= MAX_FIELDS, "raise MAX_FIELDS");

static int parse_fields(struct context *c, const cJSON *obj, const char *where,
                        const struct field *fields, size_t n, char *why, size_t why_size);

/* Store one value in the context; the field's name is in `where`. */
static int parse_value(struct context *c, const struct field *f, const cJSON *v, const char *where,
                       char *why, size_t why_size) {
        void *dst = (char *)c + f->offset;
        switch (f->type) {
        case FIELD_STRING:
                if (!cJSON_IsString(v))
                        break;
                memcpy(dst, &v->valuestring, sizeof(char *));
                return 0;
        case FIELD_BOOL:
                if (!cJSON_IsBool(v))
                        break;
                *(bool *)dst = cJSON_IsTrue(v);
                return 0;
        case FIELD_SECONDS:
                if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > MAX_EXPIRES ||
                    v->valuedouble != (double)(unsigned)v->valuedouble)
                        break;
                *(unsigned *)dst = (unsigned)v->valuedouble;
                return 0;
        case FIELD_TIMESTAMP: {
                struct tm tm = {};
                const char *end = cJSON_IsString(v)
                                          ? strptime(v->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm)
                                          : NULL;
                if (!end || *end)
                        break;
                *(time_t *)dst = timegm(&tm);
                return 0;
        }
        case FIELD_OBJECT:
                return parse_fields(c, v, where, f->sub, f->n_sub, why, why_size);
        }
        static const char *const expected[] = {
                [FIELD_STRING] = "a string",
                [FIELD_BOOL] = "true or false",
                [FIELD_SECONDS] = "a whole number of seconds from 1 to 604800",
                [FIELD_TIMESTAMP] = "a time as \"YYYY-MM-DDTHH:MM:SSZ\"",
                [FIELD_OBJECT] = "an object",
        };
        snprintf(why, why_size, "context.json: \"%s\" is not %s", where, expected[f->type]);
        return -EINVAL;
}

/* The members of obj, each one a known field given once; every required
 * field present.  `where` names obj in messages ("credentials"; "" at the top). */
static int parse_fields(struct context *c, const cJSON *obj, const char *where,
                        const struct field *fields, size_t n, char *why, size_t why_size) {
        if (!cJSON_IsObject(obj)) {
                snprintf(why, why_size, "context.json: %s%s%s is not an object", *where ? "\"" : "",
                         *where ? where : "the top level", *where ? "\"" : "");
                return -EINVAL;
        }
        bool seen[MAX_FIELDS] = {};
        assert(n <= MAX_FIELDS);
        const cJSON *v;
        cJSON_ArrayForEach(v, obj) {
                char name[128];
                snprintf(name, sizeof(name), "%s%s%s", where, *where ? "." : "", v->string);
                size_t i = 0;
                while (i < n && strcmp(fields[i].name, v->string) != 0)
                        i++;
                if (i == n || seen[i]) {
                        snprintf(why, why_size, "context.json: %s field \"%s\"",
                                 i == n ? "unknown" : "repeated", name);
                        return -EINVAL;
                }
                seen[i] = true;
                int r = parse_value(c, &fields[i], v, name, why, why_size);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++)
                if (fields[i].required && !seen[i]) {
                        snprintf(why, why_size, "context.json: missing field \"%s%s%s\"", where,
                                 *where ? "." : "", fields[i].name);
                        return -EINVAL;
                }
        return 0;
}

/* Defaults for the optional fields are those of the aws-c-auth suite. */
static int context_parse(struct context *c, const char *text, size_t len, char *why,
                         size_t why_size) {
        *c = (struct context){.normalize = true, .expires = 3600};
        c->json = cJSON_ParseWithLength(text, len);
        if (!c->json) {
                snprintf(why, why_size, "context.json: not JSON");
                return -EINVAL;
        }
        return parse_fields(c, c->json, "", context_fields, ELEMENTSOF(context_fields), why,
                            why_size);
}

/* Sign the case one way and compare the four files of that location. */
static bool check_location(const char *dir, const struct sigv4_message *m, const struct context *c,
                           enum sigv4_location loc, char *why, size_t why_size) {
        const char *prefix = loc == SIGV4_IN_QUERY ? "query" : "header";
        struct sigv4_params p = {
                .access_key_id = c->access_key_id,
                .secret_access_key = c->secret_access_key,
                .session_token = c->token,
                .region = c->region,
                .service = c->service,
                .when = c->when,
                .location = loc,
                .expires = c->expires,
                .normalize_path = c->normalize,
                .sign_body = c->sign_body,
                .omit_session_token = c->omit_session_token,
        };
        struct sigv4_result res = {};
        int r = sigv4_sign(&m->request, &p, &res);
        if (r < 0) {
                snprintf(why, why_size, "%s signing failed: %s", prefix, strerror(-r));
                return false;
        }
        _cleanup_free_ char *signed_req = NULL;
        size_t signed_len = 0;
        r = sigv4_message_format_signed(m, &res, &signed_req, &signed_len);
        if (r < 0) {
                snprintf(why, why_size, "formatting the signed request failed: %s", strerror(-r));
                sigv4_result_done(&res);
                return false;
        }

        struct {
                const char *suffix, *got;
                size_t len;
        } files[] = {
                {"canonical-request.txt", res.canonical_request, strlen(res.canonical_request)},
                {"string-to-sign.txt", res.string_to_sign, strlen(res.string_to_sign)},
                {"signature.txt", res.signature, strlen(res.signature)},
                {"signed-request.txt", signed_req, signed_len},
        };
        bool ok = true;
        for (size_t i = 0; ok && i < ELEMENTSOF(files); i++) {
                char name[64];
                snprintf(name, sizeof(name), "%s-%s", prefix, files[i].suffix);
                ok = same_as_file(dir, name, files[i].got, files[i].len, why, why_size);
        }
        sigv4_result_done(&res);
        return ok;
}

static bool run_case(const char *dir, char *why, size_t why_size) {
        _cleanup_free_ char *req_path = NULL, *ctx_path = NULL, *req_text = NULL, *ctx_text = NULL,
                            *query_path = NULL;
        size_t req_len = 0, ctx_len = 0;
        if (asprintf(&req_path, "%s/request.txt", dir) < 0 ||
            asprintf(&ctx_path, "%s/context.json", dir) < 0 ||
            asprintf(&query_path, "%s/query-signature.txt", dir) < 0) {
                snprintf(why, why_size, "out of memory");
                return false;
        }
        int r = read_file(req_path, &req_text, &req_len);
        if (r >= 0)
                r = read_file(ctx_path, &ctx_text, &ctx_len);
        if (r < 0) {
                snprintf(why, why_size, "cannot read request.txt or context.json: %s",
                         strerror(-r));
                return false;
        }

        struct context c = {};
        if (context_parse(&c, ctx_text, ctx_len, why, why_size) < 0) {
                context_done(&c);
                return false;
        }
        struct sigv4_message *m = NULL;
        const char *err = NULL;
        r = sigv4_message_parse(&m, req_text, req_len, &err);
        if (r < 0) {
                snprintf(why, why_size, "request.txt: %s", err ? err : strerror(-r));
                context_done(&c);
                return false;
        }

        bool ok = check_location(dir, m, &c, SIGV4_IN_HEADERS, why, why_size);
        if (ok && access(query_path, F_OK) == 0)
                ok = check_location(dir, m, &c, SIGV4_IN_QUERY, why, why_size);
        sigv4_message_free(m);
        context_done(&c);
        return ok;
}

static int is_dir_entry(const struct dirent *d) {
        return d->d_name[0] != '.';
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: %s DIR\n", argv[0]);
                return 2;
        }
        struct dirent **list = NULL;
        int n = scandir(argv[1], &list, is_dir_entry, alphasort);
        if (n < 0) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
                return 1;
        }

        unsigned passed = 0, failed = 0;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL, *req = NULL;
                struct stat st;
                if (asprintf(&dir, "%s/%s", argv[1], list[i]->d_name) < 0 ||
                    asprintf(&req, "%s/request.txt", dir) < 0) {
                        fprintf(stderr, "out of memory\n");
                        return 1;
                }
                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(req, F_OK) < 0)
                        continue;
                char why[512] = "";
                if (run_case(dir, why, sizeof(why)))
                        passed++;
                else {
                        failed++;
                        printf("FAIL %s: %s\n", list[i]->d_name, why);
                }
        }
        for (int i = 0; i < n; i++)
                free(list[i]);
        free(list);

        if (passed + failed == 0)
                fprintf(stderr, "%s: no case folders (with a request.txt) found\n", argv[1]);
        printf("%u passed, %u failed\n", passed, failed);
        return failed || passed == 0 ? 1 : 0;
}
