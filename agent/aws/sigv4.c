/* sigv4.c: AWS Signature Version 4 signing (canonical request, string to
 * sign, HMAC-SHA256 key chain via libcrypto) and the signing suite's
 * request.txt parser.  Invariant: pure functions; results are written only
 * when everything succeeded, and key material is wiped before it is freed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "macro.h"
#include "sigv4.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_MAX_EXPIRES 604800u /* seven days, the service-side limit */

/* A growable string; the first allocation failure sticks, so callers check once. */
struct buf {
        char *p;
        size_t n, cap;
        bool failed;
};

static void buf_put(struct buf *b, const void *s, size_t n) {
        if (b->failed)
                return;
        if (b->cap - b->n < n + 1) {
                size_t cap = b->cap ? b->cap : 64;
                while (cap - b->n < n + 1) {
                        if (cap > SIZE_MAX / 2) {
                                b->failed = true;
                                return;
                        }
                        cap *= 2;
                }
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->failed = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        if (n > 0)
                memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = '\0';
}

static void buf_puts(struct buf *b, const char *s) {
        buf_put(b, s, strlen(s));
}

static void buf_putc(struct buf *b, char c) {
        buf_put(b, &c, 1);
}

/* Hand the string over (never NULL on success), or -ENOMEM. */
static int buf_steal(struct buf *b, char **ret) {
        if (!b->failed && !b->p)
                buf_put(b, "", 0);
        if (b->failed) {
                free(b->p);
                *b = (struct buf){};
                return -ENOMEM;
        }
        *ret = b->p;
        *b = (struct buf){};
        return 0;
}

static void buf_done(struct buf *b) {
        free(b->p);
        *b = (struct buf){};
}

static bool is_unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 7230 tchar: what a header name or method may be made of. */
static bool is_tchar(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s) {
        if (!s || !*s)
                return false;
        for (; *s; s++)
                if (!is_tchar((unsigned char)*s))
                        return false;
        return true;
}

/* Whitespace a header value may fold or pad with. */
static bool is_lws(unsigned char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* No control characters except folding whitespace. */
static bool is_header_value(const char *s) {
        for (; *s; s++) {
                unsigned char c = *s;
                if ((c < 0x20 && !is_lws(c)) || c == 0x7f)
                        return false;
        }
        return true;
}

/* Printable ASCII without separators that would break the credential scope. */
static bool is_scope_part(const char *s) {
        if (!s || !*s)
                return false;
        for (; *s; s++) {
                unsigned char c = *s;
                if (c <= 0x20 || c >= 0x7f || c == '/' || c == ',' || c == '=')
                        return false;
        }
        return true;
}

/* RFC 3986 percent-encoding of everything but the unreserved set (and '/'
 * when keep_slash), upper-case hex, as SigV4 requires. */
static void uri_encode(struct buf *b, const char *s, size_t n, bool keep_slash) {
        static const char hex[] = "0123456789ABCDEF";
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];
                if (is_unreserved(c) || (keep_slash && c == '/'))
                        buf_putc(b, (char)c);
                else {
                        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                        buf_put(b, e, 3);
                }
        }
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Percent-decode s[0..n) then encode it canonically, so that an encoded and
 * an unencoded spelling of the same parameter sign alike.  A '%' not
 * followed by two hex digits stands for itself. */
static void uri_reencode(struct buf *b, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                        c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
                        i += 2;
                }
                uri_encode(b, &c, 1, false);
        }
}

static void hex_encode(char *out, const unsigned char *in, size_t n) {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[in[i] >> 4];
                out[2 * i + 1] = hex[in[i] & 15];
        }
        out[2 * n] = '\0';
}

/* Hex SHA-256 of data into out[65]. */
static int sha256_hex(char out[static 65], const void *data, size_t n) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (!EVP_Digest(data ? data : "", n, md, &len, EVP_sha256(), NULL) || len != 32)
                return -EIO;
        hex_encode(out, md, 32);
        return 0;
}

static int hmac_sha256(unsigned char out[static 32], const void *key, size_t key_len,
                       const char *data) {
        unsigned len = 0;
        if (key_len > INT32_MAX ||
            !HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out,
                  &len) ||
            len != 32)
                return -EIO;
        return 0;
}

/* The canonical URI: optionally dot- and slash-normalized, then encoded
 * again unless the service is S3 (whose paths are signed as sent). */
static int canonical_path(struct buf *b, const char *path, bool normalize, bool s3) {
        if (!path || !*path)
                path = "/";
        if (!normalize) {
                if (s3)
                        buf_puts(b, path);
                else
                        uri_encode(b, path, strlen(path), true);
                return 0;
        }

        /* Segments kept so far, as (start, length) into path. */
        size_t n_max = 1;
        for (const char *c = path; *c; c++)
                n_max += *c == '/';
        _cleanup_free_ size_t *starts = calloc(n_max, sizeof(size_t));
        _cleanup_free_ size_t *lens = calloc(n_max, sizeof(size_t));
        if (!starts || !lens)
                return -ENOMEM;

        size_t n = 0;
        const char *s = path;
        while (*s) {
                size_t l = strcspn(s, "/");
                if (l == 0 || (l == 1 && s[0] == '.')) {
                        /* empty or "." segment: dropped */
                } else if (l == 2 && s[0] == '.' && s[1] == '.') {
                        if (n > 0)
                                n--;
                } else {
                        starts[n] = (size_t)(s - path);
                        lens[n] = l;
                        n++;
                }
                s += l;
                if (*s == '/')
                        s++;
        }

        buf_putc(b, '/');
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        buf_putc(b, '/');
                if (s3)
                        buf_put(b, path + starts[i], lens[i]);
                else
                        uri_encode(b, path + starts[i], lens[i], false);
        }
        /* A trailing slash names a different resource; keep it. */
        if (n > 0 && path[strlen(path) - 1] == '/')
                buf_putc(b, '/');
        return 0;
}

struct query_param {
        char *key, *value; /* canonically encoded, owned */
};

static void query_params_free(struct query_param *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].key);
                free(v[i].value);
        }
        free(v);
}

static int query_param_cmp(const void *a, const void *b) {
        const struct query_param *x = a, *y = b;
        int r = strcmp(x->key, y->key);
        return r ? r : strcmp(x->value, y->value);
}

/* Append one parameter to v (capacity guaranteed by the caller); key and
 * value are raw (decoded and re-encoded here). */
static int query_param_add(struct query_param *v, size_t *n, const char *k, size_t kl,
                           const char *val, size_t vl) {
        struct buf kb = {}, vb = {};
        uri_reencode(&kb, k, kl);
        uri_reencode(&vb, val, vl);
        char *ks = NULL, *vs = NULL;
        int r = buf_steal(&kb, &ks);
        if (r < 0) {
                buf_done(&vb);
                return r;
        }
        r = buf_steal(&vb, &vs);
        if (r < 0) {
                free(ks);
                return r;
        }
        v[(*n)++] = (struct query_param){ks, vs};
        return 0;
}

/* The canonical query string: every parameter of the raw query plus the
 * extra ones (already encoded, in pairs), sorted by key then value. */
static int canonical_query(struct buf *b, const char *query, const char *const *extra,
                           size_t n_extra) {
        size_t n_max = n_extra + 1;
        if (query)
                for (const char *c = query; *c; c++)
                        n_max += *c == '&';
        struct query_param *v = calloc(n_max, sizeof(*v));
        if (!v)
                return -ENOMEM;

        size_t n = 0;
        int r = 0;
        for (const char *s = query; s && *s;) {
                size_t l = strcspn(s, "&");
                if (l > 0) {
                        const char *eq = memchr(s, '=', l);
                        size_t kl = eq ? (size_t)(eq - s) : l;
                        r = query_param_add(v, &n, s, kl, eq ? eq + 1 : "", eq ? l - kl - 1 : 0);
                        if (r < 0)
                                goto out;
                }
                s += l;
                if (*s == '&')
                        s++;
        }
        for (size_t i = 0; i + 1 < n_extra * 2; i += 2) {
                r = query_param_add(v, &n, extra[i], strlen(extra[i]), extra[i + 1],
                                    strlen(extra[i + 1]));
                if (r < 0)
                        goto out;
        }

        qsort(v, n, sizeof(*v), query_param_cmp);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        buf_putc(b, '&');
                buf_puts(b, v[i].key);
                buf_putc(b, '=');
                buf_puts(b, v[i].value);
        }
out:
        query_params_free(v, n);
        return r;
}

struct header_entry {
        char *name;   /* lower-cased, owned */
        char *value;  /* trimmed, inner whitespace collapsed, owned */
        size_t index; /* original position: duplicates keep their order */
};

static int header_entry_cmp(const void *a, const void *b) {
        const struct header_entry *x = a, *y = b;
        int r = strcmp(x->name, y->name);
        if (r)
                return r;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int header_entry_set(struct header_entry *e, const char *name, const char *value,
                            size_t index) {
        struct buf nb = {}, vb = {};
        for (const char *c = name; *c; c++)
                buf_putc(&nb, (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c));

        /* Trim, and collapse each run of whitespace (folded lines included)
         * into one space. */
        bool pending_space = false;
        for (const char *c = value; *c; c++) {
                if (is_lws((unsigned char)*c)) {
                        pending_space = vb.n > 0;
                        continue;
                }
                if (pending_space)
                        buf_putc(&vb, ' ');
                pending_space = false;
                buf_putc(&vb, *c);
        }

        int r = buf_steal(&nb, &e->name);
        if (r < 0) {
                buf_done(&vb);
                return r;
        }
        r = buf_steal(&vb, &e->value);
        if (r < 0) {
                free(e->name);
                e->name = NULL;
                return r;
        }
        e->index = index;
        return 0;
}

static void header_entries_free(struct header_entry *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].value);
        }
        free(v);
}

/* Headers the signer adds itself; a caller's copy would be signed twice. */
static bool is_signer_header(const char *name) {
        static const char *const owned[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                            "x-amz-content-sha256"};
        for (size_t i = 0; i < ELEMENTSOF(owned); i++)
                if (strcasecmp(name, owned[i]) == 0)
                        return true;
        return false;
}

/* Canonical headers ("name:v1,v2\n" each, sorted) and the signed header list
 * ("a;b;c") for the request's headers plus extra (name, value) pairs. */
static int canonical_headers(struct buf *canon, struct buf *signed_list,
                             const struct sigv4_request *req, const char *const *extra,
                             size_t n_extra) {
        size_t n_max = req->n_headers + n_extra;
        struct header_entry *v = calloc(n_max ? n_max : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;

        size_t n = 0;
        int r = 0;
        bool have_host = false;
        for (size_t i = 0; i < req->n_headers; i++) {
                const struct sigv4_header *h = &req->headers[i];
                if (!is_token(h->name) || !h->value || !is_header_value(h->value) ||
                    is_signer_header(h->name)) {
                        r = -EINVAL;
                        goto out;
                }
                have_host = have_host || strcasecmp(h->name, "host") == 0;
                r = header_entry_set(&v[n], h->name, h->value, n);
                if (r < 0)
                        goto out;
                n++;
        }
        if (!have_host) {
                r = -EINVAL;
                goto out;
        }
        for (size_t i = 0; i + 1 < n_extra * 2; i += 2) {
                r = header_entry_set(&v[n], extra[i], extra[i + 1], n);
                if (r < 0)
                        goto out;
                n++;
        }

        qsort(v, n, sizeof(*v), header_entry_cmp);
        for (size_t i = 0; i < n; i++) {
                bool same = i > 0 && strcmp(v[i - 1].name, v[i].name) == 0;
                if (same)
                        buf_putc(canon, ',');
                else {
                        if (i > 0) {
                                buf_putc(canon, '\n');
                                buf_putc(signed_list, ';');
                        }
                        buf_puts(canon, v[i].name);
                        buf_putc(canon, ':');
                        buf_puts(signed_list, v[i].name);
                }
                buf_puts(canon, v[i].value);
        }
        buf_putc(canon, '\n');
out:
        header_entries_free(v, n);
        return r;
}

static int check_input(const struct sigv4_request *req, const struct sigv4_params *p) {
        if (!req || !p || !is_token(req->method) || !is_scope_part(p->access_key_id) ||
            !p->secret_access_key || !*p->secret_access_key || !is_scope_part(p->region) ||
            !is_scope_part(p->service))
                return -EINVAL;
        /* The count must leave room for the signer's own headers without wrapping. */
        if ((req->n_headers > 0 && !req->headers) || req->n_headers > SIZE_MAX / 2)
                return -EINVAL;
        if (req->body_len > 0 && !req->body)
                return -EINVAL;
        /* The token becomes a header or query value of its own: no folding. */
        if (p->session_token)
                for (const char *c = p->session_token; *c; c++)
                        if ((unsigned char)*c < 0x20 || *c == 0x7f)
                                return -EINVAL;
        if (p->location == SIGV4_IN_QUERY) {
                if (p->expires < 1 || p->expires > SIGV4_MAX_EXPIRES)
                        return -EINVAL;
        } else if (p->location != SIGV4_IN_HEADERS)
                return -EINVAL;
        return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service), "aws4_request") */
static int signing_key(unsigned char key[static 32], const struct sigv4_params *p,
                       const char *date) {
        struct buf secret = {};
        buf_puts(&secret, "AWS4");
        buf_puts(&secret, p->secret_access_key);
        if (secret.failed) {
                buf_done(&secret);
                return -ENOMEM;
        }
        unsigned char k[32];
        int r = hmac_sha256(k, secret.p, secret.n, date);
        OPENSSL_cleanse(secret.p, secret.n);
        buf_done(&secret);
        if (r >= 0)
                r = hmac_sha256(k, k, sizeof(k), p->region);
        if (r >= 0)
                r = hmac_sha256(k, k, sizeof(k), p->service);
        if (r >= 0)
                r = hmac_sha256(key, k, sizeof(k), SIGV4_TERMINATOR);
        OPENSSL_cleanse(k, sizeof(k));
        return r;
}

void sigv4_result_done(struct sigv4_result *r) {
        if (!r)
                return;
        if (r->session_token)
                OPENSSL_cleanse(r->session_token, strlen(r->session_token));
        free(r->amz_date);
        free(r->payload_hash);
        free(r->canonical_request);
        free(r->string_to_sign);
        free(r->signature);
        free(r->authorization);
        free(r->session_token);
        free(r->query);
        *r = (struct sigv4_result){};
}

static char *strdup_or_null(const char *s, int *r) {
        char *d = strdup(s);
        if (!d)
                *r = -ENOMEM;
        return d;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *p,
               struct sigv4_result *ret) {
        int r = check_input(req, p);
        if (r < 0)
                return r;
        if (!ret)
                return -EINVAL;

        struct tm tm;
        if (!gmtime_r(&p->when, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
                return -ERANGE;
        char amz_date[32], date[16];
        if (strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16 ||
            strftime(date, sizeof(date), "%Y%m%d", &tm) != 8)
                return -ERANGE;

        bool in_query = p->location == SIGV4_IN_QUERY;
        const char *token = p->session_token && *p->session_token ? p->session_token : NULL;
        bool sign_token = token && !p->omit_session_token;
        bool sign_body = p->sign_body && !in_query;

        struct sigv4_result res = {};
        struct buf scope = {}, canon_headers = {}, signed_list = {}, cr = {}, sts = {}, auth = {},
                   q = {}, credential = {};
        char expires[16];
        unsigned char key[32] = {}, mac[32] = {};
        char sig[65];

        res.amz_date = strdup_or_null(amz_date, &r);
        res.payload_hash = malloc(65);
        if (!res.payload_hash)
                r = -ENOMEM;
        if (token)
                res.session_token = strdup_or_null(token, &r);
        if (r < 0)
                goto out;
        r = sha256_hex(res.payload_hash, req->body, req->body_len);
        if (r < 0)
                goto out;

        buf_puts(&scope, date);
        buf_putc(&scope, '/');
        buf_puts(&scope, p->region);
        buf_putc(&scope, '/');
        buf_puts(&scope, p->service);
        buf_puts(&scope, "/" SIGV4_TERMINATOR);
        buf_puts(&credential, p->access_key_id);
        buf_putc(&credential, '/');
        if (scope.p)
                buf_puts(&credential, scope.p);
        if (scope.failed || credential.failed) {
                r = -ENOMEM;
                goto out;
        }

        const char *extra_headers[6];
        size_t n_extra = 0;
        if (!in_query) {
                extra_headers[2 * n_extra] = "x-amz-date";
                extra_headers[2 * n_extra++ + 1] = amz_date;
        }
        if (sign_token && !in_query) {
                extra_headers[2 * n_extra] = "x-amz-security-token";
                extra_headers[2 * n_extra++ + 1] = token;
        }
        if (sign_body) {
                extra_headers[2 * n_extra] = "x-amz-content-sha256";
                extra_headers[2 * n_extra++ + 1] = res.payload_hash;
        }
        r = canonical_headers(&canon_headers, &signed_list, req, extra_headers, n_extra);
        if (r < 0)
                goto out;
        if (signed_list.failed || canon_headers.failed) {
                r = -ENOMEM;
                goto out;
        }

        /* In a pre-signed URL the authentication parameters are part of the
         * signed query (all but the signature itself). */
        const char *extra_query[12];
        size_t n_extra_query = 0;
        if (in_query) {
                snprintf(expires, sizeof(expires), "%u", p->expires);
                const char *pairs[] = {"X-Amz-Algorithm",      SIGV4_ALGORITHM,
                                       "X-Amz-Credential",     credential.p,
                                       "X-Amz-Date",           amz_date,
                                       "X-Amz-Expires",        expires,
                                       "X-Amz-SignedHeaders",  signed_list.p,
                                       "X-Amz-Security-Token", token};
                size_t n_pairs = ELEMENTSOF(pairs) / 2 - (sign_token ? 0 : 1);
                memcpy(extra_query, pairs, n_pairs * 2 * sizeof(char *));
                n_extra_query = n_pairs;
        }

        buf_puts(&cr, req->method);
        buf_putc(&cr, '\n');
        r = canonical_path(&cr, req->path, p->normalize_path, strcmp(p->service, "s3") == 0);
        if (r < 0)
                goto out;
        buf_putc(&cr, '\n');
        r = canonical_query(&cr, req->query, extra_query, n_extra_query);
        if (r < 0)
                goto out;
        buf_putc(&cr, '\n');
        buf_puts(&cr, canon_headers.p);
        buf_putc(&cr, '\n');
        buf_puts(&cr, signed_list.p);
        buf_putc(&cr, '\n');
        buf_puts(&cr, res.payload_hash);
        if (cr.failed) {
                r = -ENOMEM;
                goto out;
        }

        char cr_hash[65];
        r = sha256_hex(cr_hash, cr.p, cr.n);
        if (r < 0)
                goto out;
        buf_puts(&sts, SIGV4_ALGORITHM "\n");
        buf_puts(&sts, amz_date);
        buf_putc(&sts, '\n');
        buf_puts(&sts, scope.p);
        buf_putc(&sts, '\n');
        buf_puts(&sts, cr_hash);
        if (sts.failed) {
                r = -ENOMEM;
                goto out;
        }

        r = signing_key(key, p, date);
        if (r < 0)
                goto out;
        r = hmac_sha256(mac, key, sizeof(key), sts.p);
        if (r < 0)
                goto out;
        hex_encode(sig, mac, sizeof(mac));

        if (in_query) {
                /* The caller's query stays as sent; the authentication
                 * parameters follow in the order AWS SDKs emit them. */
                if (req->query && *req->query) {
                        buf_puts(&q, req->query);
                        buf_putc(&q, '&');
                }
                buf_puts(&q, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
                uri_encode(&q, credential.p, credential.n, false);
                buf_puts(&q, "&X-Amz-Date=");
                buf_puts(&q, amz_date);
                buf_puts(&q, "&X-Amz-SignedHeaders=");
                uri_encode(&q, signed_list.p, signed_list.n, false);
                buf_puts(&q, "&X-Amz-Expires=");
                buf_puts(&q, expires);
                if (sign_token) {
                        buf_puts(&q, "&X-Amz-Security-Token=");
                        uri_encode(&q, token, strlen(token), false);
                }
                buf_puts(&q, "&X-Amz-Signature=");
                buf_puts(&q, sig);
                if (token && !sign_token) {
                        buf_puts(&q, "&X-Amz-Security-Token=");
                        uri_encode(&q, token, strlen(token), false);
                }
                r = buf_steal(&q, &res.query);
                if (r < 0)
                        goto out;
        } else {
                buf_puts(&auth, SIGV4_ALGORITHM " Credential=");
                buf_puts(&auth, credential.p);
                buf_puts(&auth, ", SignedHeaders=");
                buf_puts(&auth, signed_list.p);
                buf_puts(&auth, ", Signature=");
                buf_puts(&auth, sig);
                r = buf_steal(&auth, &res.authorization);
                if (r < 0)
                        goto out;

                /* The order the signing suite's signed requests show. */
                size_t n = 0;
                if (sign_token)
                        res.headers[n++] =
                                (struct sigv4_header){"X-Amz-Security-Token", res.session_token};
                res.headers[n++] = (struct sigv4_header){"X-Amz-Date", res.amz_date};
                if (sign_body)
                        res.headers[n++] =
                                (struct sigv4_header){"x-amz-content-sha256", res.payload_hash};
                res.headers[n++] = (struct sigv4_header){"Authorization", res.authorization};
                if (token && !sign_token)
                        res.headers[n++] =
                                (struct sigv4_header){"X-Amz-Security-Token", res.session_token};
                res.n_headers = n;
        }

        res.signature = strdup_or_null(sig, &r);
        if (r < 0)
                goto out;
        r = buf_steal(&cr, &res.canonical_request);
        if (r < 0)
                goto out;
        r = buf_steal(&sts, &res.string_to_sign);
        if (r < 0)
                goto out;

        *ret = res;
        res = (struct sigv4_result){};
out:
        OPENSSL_cleanse(key, sizeof(key));
        OPENSSL_cleanse(mac, sizeof(mac));
        sigv4_result_done(&res);
        buf_done(&scope);
        buf_done(&canon_headers);
        buf_done(&signed_list);
        buf_done(&cr);
        buf_done(&sts);
        buf_done(&auth);
        buf_done(&q);
        buf_done(&credential);
        return r;
}

struct sigv4_message *sigv4_message_free(struct sigv4_message *m) {
        if (!m)
                return NULL;
        free(m->version);
        free(m->method_);
        free(m->path_);
        free(m->query_);
        free(m->headers_);
        for (size_t i = 0; i < m->n_strings_; i++)
                free(m->strings_[i]);
        free(m->strings_);
        free(m->body_);
        free(m);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sigv4_message *, sigv4_message_free);

static char *memdup_str(const char *s, size_t n) {
        char *d = malloc(n + 1);
        if (!d)
                return NULL;
        memcpy(d, s, n);
        d[n] = '\0';
        return d;
}

/* Take the next line of text[*pos..len): its start and length without the
 * line end.  Returns false at the end of the text. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **ret,
                      size_t *ret_len) {
        if (*pos >= len)
                return false;
        const char *s = text + *pos;
        const char *nl = memchr(s, '\n', len - *pos);
        size_t l = nl ? (size_t)(nl - s) : len - *pos;
        *pos += l + (nl ? 1 : 0);
        if (l > 0 && s[l - 1] == '\r')
                l--;
        *ret = s;
        *ret_len = l;
        return true;
}

/* request-line = method SP target SP version; the target may hold spaces,
 * so the method ends at the first space and the version starts after the last. */
static int message_parse_request_line(struct sigv4_message *m, const char *s, size_t l,
                                      const char **ret_error) {
        const char *sp1 = memchr(s, ' ', l), *sp2 = NULL;
        for (size_t i = l; i > 0; i--)
                if (s[i - 1] == ' ') {
                        sp2 = s + i - 1;
                        break;
                }
        if (!sp1 || sp2 == sp1 || sp1 == s || sp2 + 1 == s + l) {
                *ret_error = "request line is not METHOD PATH VERSION";
                return -EINVAL;
        }
        const char *target = sp1 + 1;
        size_t tl = (size_t)(sp2 - target);
        if (tl == 0) {
                *ret_error = "request line has an empty path";
                return -EINVAL;
        }
        const char *qm = memchr(target, '?', tl);
        size_t pl = qm ? (size_t)(qm - target) : tl;

        m->method_ = memdup_str(s, (size_t)(sp1 - s));
        m->path_ = memdup_str(target, pl);
        m->version = memdup_str(sp2 + 1, (size_t)(s + l - sp2 - 1));
        if (qm)
                m->query_ = memdup_str(qm + 1, tl - pl - 1);
        if (!m->method_ || !m->path_ || !m->version || (qm && !m->query_))
                return -ENOMEM;
        return 0;
}

static int message_add_string(struct sigv4_message *m, size_t *cap, const char *s, size_t l) {
        if (m->n_strings_ == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                char **v = realloc(m->strings_, ncap * sizeof(char *));
                if (!v)
                        return -ENOMEM;
                m->strings_ = v;
                *cap = ncap;
        }
        char *d = memdup_str(s, l);
        if (!d)
                return -ENOMEM;
        m->strings_[m->n_strings_++] = d;
        return 0;
}

int sigv4_message_parse(struct sigv4_message **ret, const void *text, size_t len,
                        const char **ret_error) {
        const char *dummy, *t = text;
        if (!ret_error)
                ret_error = &dummy;
        *ret_error = NULL;
        if (!ret || (!t && len > 0))
                return -EINVAL;

        _cleanup_(sigv4_message_freep) struct sigv4_message *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;

        size_t pos = 0, l, cap = 0;
        const char *line;
        if (!next_line(t, len, &pos, &line, &l) || l == 0) {
                *ret_error = "missing request line";
                return -EINVAL;
        }
        if (memchr(line, '\0', l)) {
                *ret_error = "NUL byte in the request line";
                return -EINVAL;
        }
        int r = message_parse_request_line(m, line, l, ret_error);
        if (r < 0)
                return r;

        bool have_body = false;
        while (next_line(t, len, &pos, &line, &l)) {
                if (l == 0) {
                        have_body = true;
                        break;
                }
                if (memchr(line, '\0', l)) {
                        *ret_error = "NUL byte in a header";
                        return -EINVAL;
                }
                if (line[0] == ' ' || line[0] == '\t') {
                        /* obs-fold: the value keeps its line break, as the
                         * signed request reproduces it; the signer folds it. */
                        if (m->n_strings_ == 0) {
                                *ret_error = "continuation line before any header";
                                return -EINVAL;
                        }
                        char **v = &m->strings_[m->n_strings_ - 1];
                        size_t vl = strlen(*v);
                        char *nv = realloc(*v, vl + 1 + l + 1);
                        if (!nv)
                                return -ENOMEM;
                        nv[vl] = '\n';
                        memcpy(nv + vl + 1, line, l);
                        nv[vl + 1 + l] = '\0';
                        *v = nv;
                        continue;
                }
                const char *colon = memchr(line, ':', l);
                if (!colon || colon == line) {
                        *ret_error = "header line is not Name:value";
                        return -EINVAL;
                }
                r = message_add_string(m, &cap, line, (size_t)(colon - line));
                if (r < 0)
                        return r;
                r = message_add_string(m, &cap, colon + 1, (size_t)(line + l - colon - 1));
                if (r < 0)
                        return r;
        }

        size_t n_headers = m->n_strings_ / 2;
        m->headers_ = calloc(n_headers ? n_headers : 1, sizeof(struct sigv4_header));
        if (!m->headers_)
                return -ENOMEM;
        for (size_t i = 0; i < n_headers; i++)
                m->headers_[i] = (struct sigv4_header){m->strings_[2 * i], m->strings_[2 * i + 1]};

        size_t body_len = have_body ? len - pos : 0;
        if (body_len > 0) {
                m->body_ = malloc(body_len);
                if (!m->body_)
                        return -ENOMEM;
                memcpy(m->body_, t + pos, body_len);
        }

        m->request = (struct sigv4_request){
                .method = m->method_,
                .path = m->path_,
                .query = m->query_,
                .headers = m->headers_,
                .n_headers = n_headers,
                .body = m->body_,
                .body_len = body_len,
        };
        *ret = TAKE_PTR(m);
        return 0;
}

int sigv4_message_format_signed(const struct sigv4_message *m, const struct sigv4_result *r,
                                char **ret, size_t *ret_len) {
        if (!m || !r || !ret || !ret_len)
                return -EINVAL;
        const struct sigv4_request *req = &m->request;
        const char *query = r->query ? r->query : req->query;

        struct buf b = {};
        buf_puts(&b, req->method);
        buf_putc(&b, ' ');
        buf_puts(&b, req->path);
        if (query) {
                buf_putc(&b, '?');
                buf_puts(&b, query);
        }
        buf_putc(&b, ' ');
        buf_puts(&b, m->version);
        buf_putc(&b, '\n');
        for (size_t i = 0; i < req->n_headers; i++) {
                buf_puts(&b, req->headers[i].name);
                buf_putc(&b, ':');
                buf_puts(&b, req->headers[i].value);
                buf_putc(&b, '\n');
        }
        for (size_t i = 0; i < r->n_headers && i < SIGV4_MAX_HEADERS; i++) {
                buf_puts(&b, r->headers[i].name);
                buf_putc(&b, ':');
                buf_puts(&b, r->headers[i].value);
                buf_putc(&b, '\n');
        }
        buf_putc(&b, '\n');
        buf_put(&b, req->body, req->body_len);
        size_t n = b.n;
        int k = buf_steal(&b, ret);
        if (k < 0)
                return k;
        *ret_len = n;
        return 0;
}
