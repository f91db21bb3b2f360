/* sigv4-suite: run the AWS SigV4 signing suite (awslabs/aws-c-auth layout)
 * against sigv4.c.  Every folder of DIR holding a request.txt is a case; it
 * passes when every header-* file (and query-* file, when present) is
 * reproduced byte for byte.  Prints one line per failing case, then
 * "N passed, N failed"; exits non-zero on any failure or when DIR has no case. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
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

struct context {
        char *access_key_id, *secret_access_key, *token, *region, *service;
        time_t when;
        bool normalize, sign_body, omit_session_token;
        unsigned expires;
};

static void context_done(struct context *c) {
        free(c->access_key_id);
        free(c->secret_access_key);
        free(c->token);
        free(c->region);
        free(c->service);
}

static int json_string(const cJSON *obj, const char *key, bool required, char **ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!v)
                return required ? -ENOENT : 0;
        if (!cJSON_IsString(v))
                return -EINVAL;
        *ret = strdup(v->valuestring);
        return *ret ? 0 : -ENOMEM;
}

static bool json_bool(const cJSON *obj, const char *key, bool def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static int context_parse(struct context *c, const char *text, size_t len, char *why,
                         size_t why_size) {
        cJSON *root = cJSON_ParseWithLength(text, len);
        if (!root) {
                snprintf(why, why_size, "context.json: not JSON");
                return -EINVAL;
        }
        const cJSON *cred = cJSON_GetObjectItemCaseSensitive(root, "credentials");
        _cleanup_free_ char *ts = NULL;
        int r = json_string(cred, "access_key_id", true, &c->access_key_id);
        if (r >= 0)
                r = json_string(cred, "secret_access_key", true, &c->secret_access_key);
        if (r >= 0)
                r = json_string(cred, "token", false, &c->token);
        if (r >= 0)
                r = json_string(root, "region", true, &c->region);
        if (r >= 0)
                r = json_string(root, "service", true, &c->service);
        if (r >= 0)
                r = json_string(root, "timestamp", true, &ts);
        if (r < 0) {
                snprintf(why, why_size, "context.json: missing or bad field: %s", strerror(-r));
                cJSON_Delete(root);
                return r;
        }
        c->normalize = json_bool(root, "normalize", true);
        c->sign_body = json_bool(root, "sign_body", false);
        c->omit_session_token = json_bool(root, "omit_session_token", false);
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "expiration_in_seconds");
        c->expires = cJSON_IsNumber(exp) && exp->valuedouble >= 1 && exp->valuedouble <= 604800
                             ? (unsigned)exp->valuedouble
                             : 3600;
        cJSON_Delete(root);

        struct tm tm = {};
        const char *end = strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end) {
                snprintf(why, why_size, "context.json: bad timestamp \"%s\"", ts);
                return -EINVAL;
        }
        c->when = timegm(&tm);
        return 0;
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
