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

/* A growable string; the first allocation failure sticks, so callers check once.
 * It may hold the session token (canonical headers and request, a pre-signed
 * query) or the secret key ("AWS4" + secret): every copy it leaves behind,
 * when it grows or is freed, is wiped first. */
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
                char *p = erase_realloc(b->p, b->n, cap);
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
                erase_free(b->p, b->n);
                *b = (struct buf){};
                return -ENOMEM;
        }
        *ret = b->p;
        *b = (struct buf){};
        return 0;
}

static void buf_done(struct buf *b) {
        erase_free(b->p, b->n);
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

/* A pre-signed query's X-Amz-Security-Token is among the values: wiped. */
static void query_params_free(struct query_param *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].key);
                erase_and_free(v[i].value);
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

/* x-amz-security-token is among the values: wiped. */
static void header_entries_free(struct header_entry *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                erase_and_free(v[i].value);
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

/* The canonical request and a pre-signed query hold the token; the string
 * to sign, the signature and the Authorization value are wiped as well, as
 * what derives from the key. */
void sigv4_result_done(struct sigv4_result *r) {
        if (!r)
                return;
        free(r->amz_date);
        free(r->payload_hash);
        erase_and_free(r->canonical_request);
        erase_and_free(r->string_to_sign);
        erase_and_free(r->signature);
        erase_and_free(r->authorization);
        erase_and_free(r->session_token);
        erase_and_free(r->query);
        *r = (struct sigv4_result){};
}

static char *strdup_or_null(const char *s, int *r) {
        char *d = strdup(s);
        if (!d)
                *r = -ENOMEM;
        return d;
}

/* One signing in progress: the borrowed inputs, what derives from them, and
 * the buffers that become the result.  signing_done() frees what is still
 * owned here, so each step may fail and simply return. */
struct signing {
        const struct sigv4_request *req; /* borrowed from sigv4_sign()'s caller */
        const struct sigv4_params *p;    /* borrowed from sigv4_sign()'s caller */
        bool in_query;
        const char *token;        /* p->session_token, NULL when absent or empty */
        bool sign_token;          /* the token is part of the signature */
        bool sign_body;           /* x-amz-content-sha256 is signed (header signing only) */
        char amz_date[32];        /* "20150830T123600Z" */
        char date[16];            /* "20150830" */
        char expires[16];         /* X-Amz-Expires, query signing only */
        struct buf scope;         /* date/region/service/aws4_request */
        struct buf credential;    /* access-key-id/scope */
        struct buf canon_headers; /* "name:value\n" each, sorted */
        struct buf signed_list;   /* "host;x-amz-date" */
        struct buf cr, sts;       /* canonical request, string to sign */
        char sig[65];             /* hex signature */
        struct sigv4_result res;  /* handed to the caller only when complete */
};

static void signing_done(struct signing *s) {
        sigv4_result_done(&s->res);
        buf_done(&s->scope);
        buf_done(&s->credential);
        buf_done(&s->canon_headers);
        buf_done(&s->signed_list);
        buf_done(&s->cr);
        buf_done(&s->sts);
}

/* The dates SigV4 wants and what the parameters decide; years outside
 * 0..9999 have no four-digit form (-ERANGE). */
static int signing_init(struct signing *s, const struct sigv4_request *req,
                        const struct sigv4_params *p) {
        struct tm tm;
        if (!gmtime_r(&p->when, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
                return -ERANGE;
        if (strftime(s->amz_date, sizeof(s->amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16 ||
            strftime(s->date, sizeof(s->date), "%Y%m%d", &tm) != 8)
                return -ERANGE;

        s->req = req;
        s->p = p;
        s->in_query = p->location == SIGV4_IN_QUERY;
        s->token = p->session_token && *p->session_token ? p->session_token : NULL;
        s->sign_token = s->token && !p->omit_session_token;
        s->sign_body = p->sign_body && !s->in_query;
        return 0;
}

/* The result fields known before anything is signed: the date, the body
 * hash and a copy of the token. */
static int signing_result_begin(struct signing *s) {
        int r = 0;
        s->res.amz_date = strdup_or_null(s->amz_date, &r);
        s->res.payload_hash = malloc(65);
        if (!s->res.payload_hash)
                r = -ENOMEM;
        if (s->token)
                s->res.session_token = strdup_or_null(s->token, &r);
        if (r < 0)
                return r;
        return sha256_hex(s->res.payload_hash, s->req->body, s->req->body_len);
}

/* The credential scope "date/region/service/aws4_request" and the
 * credential "access-key-id/scope". */
static int signing_credential(struct signing *s) {
        buf_puts(&s->scope, s->date);
        buf_putc(&s->scope, '/');
        buf_puts(&s->scope, s->p->region);
        buf_putc(&s->scope, '/');
        buf_puts(&s->scope, s->p->service);
        buf_puts(&s->scope, "/" SIGV4_TERMINATOR);
        buf_puts(&s->credential, s->p->access_key_id);
        buf_putc(&s->credential, '/');
        if (s->scope.p)
                buf_puts(&s->credential, s->scope.p);
        return s->scope.failed || s->credential.failed ? -ENOMEM : 0;
}

/* Append one (key, value) pair to a flat array of pairs. */
static void pair_add(const char **v, size_t *n, const char *key, const char *value) {
        v[2 * *n] = key;
        v[2 * *n + 1] = value;
        (*n)++;
}

/* The canonical headers and the signed header list: the caller's headers
 * plus those the signer adds (in a pre-signed URL the date and token are
 * query parameters instead). */
static int signing_headers(struct signing *s) {
        const char *extra[6];
        size_t n = 0;
        if (!s->in_query)
                pair_add(extra, &n, "x-amz-date", s->amz_date);
        if (s->sign_token && !s->in_query)
                pair_add(extra, &n, "x-amz-security-token", s->token);
        if (s->sign_body)
                pair_add(extra, &n, "x-amz-content-sha256", s->res.payload_hash);
        int r = canonical_headers(&s->canon_headers, &s->signed_list, s->req, extra, n);
        if (r < 0)
                return r;
        return s->signed_list.failed || s->canon_headers.failed ? -ENOMEM : 0;
}

/* In a pre-signed URL the authentication parameters are part of the signed
 * query (all but the signature itself).  Returns the number of pairs. */
static size_t presign_params(struct signing *s, const char *pairs[static 12]) {
        size_t n = 0;
        if (!s->in_query)
                return 0;
        snprintf(s->expires, sizeof(s->expires), "%u", s->p->expires);
        pair_add(pairs, &n, "X-Amz-Algorithm", SIGV4_ALGORITHM);
        pair_add(pairs, &n, "X-Amz-Credential", s->credential.p);
        pair_add(pairs, &n, "X-Amz-Date", s->amz_date);
        pair_add(pairs, &n, "X-Amz-Expires", s->expires);
        pair_add(pairs, &n, "X-Amz-SignedHeaders", s->signed_list.p);
        if (s->sign_token)
                pair_add(pairs, &n, "X-Amz-Security-Token", s->token);
        return n;
}

/* CanonicalRequest = Method '\n' CanonicalURI '\n' CanonicalQuery '\n'
 *                    CanonicalHeaders '\n' SignedHeaders '\n' HashedPayload */
static int signing_canonical_request(struct signing *s) {
        const char *extra_query[12];
        size_t n_extra_query = presign_params(s, extra_query);
        struct buf *cr = &s->cr;

        buf_puts(cr, s->req->method);
        buf_putc(cr, '\n');
        int r = canonical_path(cr, s->req->path, s->p->normalize_path,
                               strcmp(s->p->service, "s3") == 0);
        if (r < 0)
                return r;
        buf_putc(cr, '\n');
        r = canonical_query(cr, s->req->query, extra_query, n_extra_query);
        if (r < 0)
                return r;
        buf_putc(cr, '\n');
        buf_puts(cr, s->canon_headers.p);
        buf_putc(cr, '\n');
        buf_puts(cr, s->signed_list.p);
        buf_putc(cr, '\n');
        buf_puts(cr, s->res.payload_hash);
        return cr->failed ? -ENOMEM : 0;
}

/* StringToSign = Algorithm '\n' AmzDate '\n' Scope '\n' hex(SHA256(CanonicalRequest)) */
static int signing_string_to_sign(struct signing *s) {
        char cr_hash[65];
        int r = sha256_hex(cr_hash, s->cr.p, s->cr.n);
        if (r < 0)
                return r;
        buf_puts(&s->sts, SIGV4_ALGORITHM "\n");
        buf_puts(&s->sts, s->amz_date);
        buf_putc(&s->sts, '\n');
        buf_puts(&s->sts, s->scope.p);
        buf_putc(&s->sts, '\n');
        buf_puts(&s->sts, cr_hash);
        return s->sts.failed ? -ENOMEM : 0;
}

/* Signature = hex(HMAC(kSigning, StringToSign)); the key never outlives the call. */
static int signing_signature(struct signing *s) {
        unsigned char key[32] = {}, mac[32] = {};
        int r = signing_key(key, s->p, s->date);
        if (r >= 0)
                r = hmac_sha256(mac, key, sizeof(key), s->sts.p);
        if (r >= 0)
                hex_encode(s->sig, mac, sizeof(mac));
        OPENSSL_cleanse(key, sizeof(key));
        OPENSSL_cleanse(mac, sizeof(mac));
        return r;
}

static void query_put_token(struct buf *q, const char *token) {
        buf_puts(q, "&X-Amz-Security-Token=");
        uri_encode(q, token, strlen(token), false);
}

/* SIGV4_IN_QUERY: the caller's query stays as sent; the authentication
 * parameters follow in the order AWS SDKs emit them, the signature last
 * but for an unsigned token. */
static int signing_output_query(struct signing *s) {
        struct buf q = {};
        if (s->req->query && *s->req->query) {
                buf_puts(&q, s->req->query);
                buf_putc(&q, '&');
        }
        buf_puts(&q, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
        uri_encode(&q, s->credential.p, s->credential.n, false);
        buf_puts(&q, "&X-Amz-Date=");
        buf_puts(&q, s->amz_date);
        buf_puts(&q, "&X-Amz-SignedHeaders=");
        uri_encode(&q, s->signed_list.p, s->signed_list.n, false);
        buf_puts(&q, "&X-Amz-Expires=");
        buf_puts(&q, s->expires);
        if (s->sign_token)
                query_put_token(&q, s->token);
        buf_puts(&q, "&X-Amz-Signature=");
        buf_puts(&q, s->sig);
        if (s->token && !s->sign_token)
                query_put_token(&q, s->token);
        return buf_steal(&q, &s->res.query);
}

static void result_add_header(struct sigv4_result *res, const char *name, const char *value) {
        res->headers[res->n_headers++] = (struct sigv4_header){name, value};
}

/* SIGV4_IN_HEADERS: the Authorization value, and the headers to add in the
 * order the signing suite's signed requests show. */
static int signing_output_headers(struct signing *s) {
        struct buf auth = {};
        buf_puts(&auth, SIGV4_ALGORITHM " Credential=");
        buf_puts(&auth, s->credential.p);
        buf_puts(&auth, ", SignedHeaders=");
        buf_puts(&auth, s->signed_list.p);
        buf_puts(&auth, ", Signature=");
        buf_puts(&auth, s->sig);
        int r = buf_steal(&auth, &s->res.authorization);
        if (r < 0)
                return r;

        struct sigv4_result *res = &s->res;
        if (s->sign_token)
                result_add_header(res, "X-Amz-Security-Token", res->session_token);
        result_add_header(res, "X-Amz-Date", res->amz_date);
        if (s->sign_body)
                result_add_header(res, "x-amz-content-sha256", res->payload_hash);
        result_add_header(res, "Authorization", res->authorization);
        if (s->token && !s->sign_token)
                result_add_header(res, "X-Amz-Security-Token", res->session_token);
        return 0;
}

static int signing_output(struct signing *s) {
        return s->in_query ? signing_output_query(s) : signing_output_headers(s);
}

/* The signature and the intermediate strings move into the result. */
static int signing_result_end(struct signing *s) {
        int r = 0;
        s->res.signature = strdup_or_null(s->sig, &r);
        if (r < 0)
                return r;
        r = buf_steal(&s->cr, &s->res.canonical_request);
        if (r < 0)
                return r;
        return buf_steal(&s->sts, &s->res.string_to_sign);
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *p,
               struct sigv4_result *ret) {
        int r = check_input(req, p);
        if (r < 0)
                return r;
        if (!ret)
                return -EINVAL;

        _cleanup_(signing_done) struct signing s = {};
        r = signing_init(&s, req, p);
        if (r < 0)
                return r;
        /* The signing process, in the order of the SigV4 specification. */
        static int (*const steps[])(struct signing *) = {
                signing_result_begin,   signing_credential,
                signing_headers,        signing_canonical_request,
                signing_string_to_sign, signing_signature,
                signing_output,         signing_result_end,
        };
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                r = steps[i](&s);
                if (r < 0)
                        return r;
        }

        *ret = s.res;
        s.res = (struct sigv4_result){};
        return 0;
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

/* obs-fold: a line starting with a space or tab continues the previous
 * value, which keeps the line break, as the signed request reproduces it;
 * the signer folds it. */
static int message_continue_header(struct sigv4_message *m, const char *line, size_t l,
                                   const char **ret_error) {
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
        return 0;
}

/* header-line = name ":" value; name and value go to strings_ as a pair. */
static int message_add_header(struct sigv4_message *m, size_t *cap, const char *line, size_t l,
                              const char **ret_error) {
        const char *colon = memchr(line, ':', l);
        if (!colon || colon == line) {
                *ret_error = "header line is not Name:value";
                return -EINVAL;
        }
        int r = message_add_string(m, cap, line, (size_t)(colon - line));
        if (r < 0)
                return r;
        return message_add_string(m, cap, colon + 1, (size_t)(line + l - colon - 1));
}

/* The header lines up to the blank line; *pos is left where the body starts
 * (at the end of the text when there is no blank line). */
static int message_parse_headers(struct sigv4_message *m, const char *t, size_t len, size_t *pos,
                                 const char **ret_error) {
        size_t l, cap = 0;
        const char *line;
        while (next_line(t, len, pos, &line, &l)) {
                if (l == 0)
                        break;
                if (memchr(line, '\0', l)) {
                        *ret_error = "NUL byte in a header";
                        return -EINVAL;
                }
                int r = line[0] == ' ' || line[0] == '\t'
                                ? message_continue_header(m, line, l, ret_error)
                                : message_add_header(m, &cap, line, l, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Point m->request at the parsed parts, the header pairs and a copy of the body. */
static int message_set_request(struct sigv4_message *m, const char *body, size_t body_len) {
        size_t n_headers = m->n_strings_ / 2;
        m->headers_ = calloc(n_headers ? n_headers : 1, sizeof(struct sigv4_header));
        if (!m->headers_)
                return -ENOMEM;
        for (size_t i = 0; i < n_headers; i++)
                m->headers_[i] = (struct sigv4_header){m->strings_[2 * i], m->strings_[2 * i + 1]};

        if (body_len > 0) {
                m->body_ = malloc(body_len);
                if (!m->body_)
                        return -ENOMEM;
                memcpy(m->body_, body, body_len);
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

        size_t pos = 0, l;
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
        r = message_parse_headers(m, t, len, &pos, ret_error);
        if (r < 0)
                return r;
        /* Without a blank line next_line() has consumed everything: no body. */
        r = message_set_request(m, pos < len ? t + pos : NULL, len - pos);
        if (r < 0)
                return r;

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
