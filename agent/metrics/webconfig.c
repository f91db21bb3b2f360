/* webconfig.c: the exporter-toolkit web configuration file (see
 * webconfig.h).  libyaml loads the document; a table per section says
 * which keys exist and what each must hold, so an unknown or repeated key
 * is an error (exporter-toolkit decodes strictly) and every error carries
 * the line of the node it is about.  Nothing here logs. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <yaml.h>

#include "escape.h"
#include "fileio.h"
#include "webconfig.h"

#define QUOTE_MAX 64 /* bytes of a key or name quoted in a message */
#define CURVES_MAX 8 /* entries of curve_preferences (Go knows four) */

static const char *const client_auth_names[] = {
        [WEBCONFIG_NO_CLIENT_CERT] = "NoClientCert",
        [WEBCONFIG_REQUEST_CLIENT_CERT] = "RequestClientCert",
        [WEBCONFIG_REQUIRE_ANY_CLIENT_CERT] = "RequireAnyClientCert",
        [WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN] = "VerifyClientCertIfGiven",
        [WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT] = "RequireAndVerifyClientCert",
};

/* Go's curve names and GnuTLS's groups. */
static const struct {
        const char *name, *group;
} curves[] = {
        {"CurveP256", "GROUP-SECP256R1"},
        {"CurveP384", "GROUP-SECP384R1"},
        {"CurveP521", "GROUP-SECP521R1"},
        {"X25519", "GROUP-X25519"},
};

/* The headers exporter-toolkit lets a file add, and the values it accepts
 * (NULL: any text on one line). */
static const struct {
        const char *name;
        const char *const values[3];
} header_rules[WEBCONFIG_HEADERS_MAX] = {
        {"Content-Security-Policy", {NULL}},
        {"X-Frame-Options", {"deny", "sameorigin", NULL}},
        {"X-Content-Type-Options", {"nosniff", NULL}},
        {"X-XSS-Protection", {NULL}},
        {"Strict-Transport-Security", {NULL}},
};

struct parse {
        yaml_document_t *doc;
        const char *path;
        struct errors *errs;
        struct webconfig *w;
        const char *section; /* for messages: "tls_server_config" */
        /* tls_server_config as read, before it becomes a priority string */
        unsigned tls_line, auth_line, min_line, max_line;
        int min_version, max_version; /* 0..3: TLS 1.0 .. 1.3 */
        bool prefer_server;
        const char *groups[CURVES_MAX];
        size_t n_groups;
};

/* ---- messages ---- */

static int fail(struct parse *p, const yaml_node_t *n, const char *fmt, ...) _printf_(3, 4);
static int fail(struct parse *p, const yaml_node_t *n, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                return -ENOMEM;
        }
        return errors_add(p->errs, p->path, n ? (unsigned)n->start_mark.line + 1 : 0, "%s%s%s",
                          p->section ? p->section : "", p->section ? ": " : "", msg);
}

static char *quote(char buf[static ESCAPE_QUOTE_SIZE(QUOTE_MAX)], const yaml_node_t *n) {
        return escape_quote(buf, (const char *)n->data.scalar.value, n->data.scalar.length,
                            QUOTE_MAX, '"');
}

/* ---- scalars ---- */

static yaml_node_t *node(struct parse *p, int id) {
        return yaml_document_get_node(p->doc, id);
}

/* A plain ~, null or nothing: YAML's null, which Go reads as "not set". */
static bool is_null(const yaml_node_t *n) {
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

        if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
                if (n->data.scalar.length == strlen(nulls[i]) &&
                    memcmp(n->data.scalar.value, nulls[i], n->data.scalar.length) == 0)
                        return true;
        return false;
}

static bool scalar_is(const yaml_node_t *n, const char *s) {
        return n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
               memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

/* A scalar as a string (malloc'd in *ret; NULL for null), or an error
 * naming what: a mapping, a list, or a NUL byte where text belongs. */
static int get_string(struct parse *p, const yaml_node_t *n, const char *what, char **ret) {
        if (is_null(n)) {
                *ret = NULL;
                return 0;
        }
        if (n->type != YAML_SCALAR_NODE)
                return fail(p, n, "%s must be a string, not a %s", what,
                            n->type == YAML_MAPPING_NODE ? "mapping" : "list");
        if (memchr(n->data.scalar.value, 0, n->data.scalar.length))
                return fail(p, n, "%s holds a NUL byte", what);
        *ret = strndup((const char *)n->data.scalar.value, n->data.scalar.length);
        return *ret ? 0 : -ENOMEM;
}

static int get_bool(struct parse *p, const yaml_node_t *n, const char *what, bool *ret) {
        static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False",
                                                                                  "FALSE"};

        for (size_t i = 0; n->type == YAML_SCALAR_NODE && i < ELEMENTSOF(yes); i++) {
                if (scalar_is(n, yes[i]) || scalar_is(n, no[i])) {
                        *ret = scalar_is(n, yes[i]);
                        return 0;
                }
        }
        return fail(p, n, "%s must be true or false", what);
}

/* ---- mappings, driven by a table of keys ---- */

typedef int (*key_fn)(struct parse *p, const yaml_node_t *key, const yaml_node_t *value);

struct key_rule {
        const char *name;
        key_fn fn;
};

/* Call each key's rule; an unknown key, a key given twice, or a key that
 * is not a string is an error.  A null mapping is an empty one. */
static int walk_mapping(struct parse *p, const yaml_node_t *n, const struct key_rule *rules,
                        size_t n_rules) {
        unsigned first[16] = {}; /* line of each rule's key; 0: not seen */
        int r;

        if (is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return fail(p, n, "expected a mapping of keys");
        for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
             pair++) {
                const yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
                char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];
                size_t i = 0;

                if (!k || !v || k->type != YAML_SCALAR_NODE)
                        r = fail(p, k, "a key must be a string");
                else {
                        while (i < n_rules && !scalar_is(k, rules[i].name))
                                i++;
                        if (i == n_rules)
                                r = fail(p, k, "unknown key %s", quote(q, k));
                        else if (first[i])
                                r = fail(p, k, "%s is given twice (first on line %u)",
                                         rules[i].name, first[i]);
                        else {
                                first[i] = (unsigned)k->start_mark.line + 1;
                                r = rules[i].fn(p, k, v);
                        }
                }
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

/* ---- tls_server_config ---- */

/* A path as given, or made absolute against the web config's directory,
 * as exporter-toolkit joins it with the file's directory. */
static int set_file(struct parse *p, const yaml_node_t *k, const yaml_node_t *v,
                    struct webconfig_file *f) {
        const char *slash = strrchr(p->path, '/');
        _cleanup_free_ char *s = NULL;
        int r;

        r = get_string(p, v, (const char *)k->data.scalar.value, &s);
        if (r < 0 || !s || !*s)
                return r;
        if (s[0] == '/')
                f->path = TAKE_PTR(s);
        else if (asprintf(&f->path, "%.*s/%s", slash ? (int)(slash - p->path) : 1,
                          slash ? p->path : ".", s) < 0) {
                f->path = NULL;
                return -ENOMEM;
        }
        f->line = (unsigned)k->start_mark.line + 1;
        return 0;
}

static int tls_cert_file(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        return set_file(p, k, v, &p->w->cert);
}

static int tls_key_file(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        return set_file(p, k, v, &p->w->key);
}

static int tls_client_ca_file(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        return set_file(p, k, v, &p->w->client_ca);
}

/* cert, key and client_ca hold PEM in the YAML itself: a key there would
 * live in a file whose permissions nobody checks for a key. */
static int tls_inline(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        if (is_null(v))
                return 0;
        return fail(p, k, "%s (PEM inside the file) is not supported by ecs-hostd; use %s_file",
                    (const char *)k->data.scalar.value, (const char *)k->data.scalar.value);
}

static int tls_client_auth(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];

        p->auth_line = (unsigned)k->start_mark.line + 1;
        if (is_null(v) || scalar_is(v, ""))
                return 0;
        for (size_t i = 0; v->type == YAML_SCALAR_NODE && i < ELEMENTSOF(client_auth_names); i++) {
                if (scalar_is(v, client_auth_names[i])) {
                        p->w->client_auth = (enum webconfig_client_auth)i;
                        return 0;
                }
        }
        /* exporter-toolkit's old spelling of RequireAnyClientCert */
        if (scalar_is(v, "RequireClientCert")) {
                p->w->client_auth = WEBCONFIG_REQUIRE_ANY_CLIENT_CERT;
                return 0;
        }
        return fail(p, v,
                    "client_auth_type %s is not one of NoClientCert, RequestClientCert, "
                    "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
                    v->type == YAML_SCALAR_NODE ? quote(q, v) : "(not a string)");
}

static int version(struct parse *p, const yaml_node_t *k, const yaml_node_t *v, int *ret,
                   unsigned *ret_line) {
        static const char *const names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];

        *ret_line = (unsigned)k->start_mark.line + 1;
        if (is_null(v))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                if (scalar_is(v, names[i])) {
                        *ret = (int)i;
                        return 0;
                }
        }
        return fail(p, v, "%s %s is not one of TLS10, TLS11, TLS12, TLS13",
                    (const char *)k->data.scalar.value,
                    v->type == YAML_SCALAR_NODE ? quote(q, v) : "(not a string)");
}

static int tls_min_version(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        return version(p, k, v, &p->min_version, &p->min_line);
}

static int tls_max_version(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        return version(p, k, v, &p->max_version, &p->max_line);
}

static int tls_curves(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];

        if (is_null(v))
                return 0;
        if (v->type != YAML_SEQUENCE_NODE)
                return fail(p, v, "curve_preferences must be a list of curve names");
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
                const yaml_node_t *c = node(p, *it);
                size_t i = 0;

                while (c && i < ELEMENTSOF(curves) && !scalar_is(c, curves[i].name))
                        i++;
                if (!c || i == ELEMENTSOF(curves))
                        return fail(p, c ? c : k,
                                    "curve_preferences: %s is not one of CurveP256, CurveP384, "
                                    "CurveP521, X25519",
                                    c && c->type == YAML_SCALAR_NODE ? quote(q, c)
                                                                     : "(not a string)");
                if (p->n_groups == CURVES_MAX)
                        return fail(p, c, "curve_preferences: more than %d entries", CURVES_MAX);
                p->groups[p->n_groups++] = curves[i].group;
        }
        return 0;
}

static int tls_prefer_server(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        (void)k;
        return is_null(v) ? 0 : get_bool(p, v, "prefer_server_cipher_suites", &p->prefer_server);
}

/* Keys GnuTLS (through libmicrohttpd) cannot enforce as Go does: refused,
 * so a file that restricts something never means less than it says. */
static int tls_unsupported(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        const char *name = (const char *)k->data.scalar.value;

        if (is_null(v) || (v->type == YAML_SEQUENCE_NODE &&
                           v->data.sequence.items.start == v->data.sequence.items.top))
                return 0;
        if (strcmp(name, "cipher_suites") == 0)
                return fail(p, k,
                            "cipher_suites is not supported by ecs-hostd: GnuTLS cannot be "
                            "limited to Go's exact suites; remove it (GnuTLS's NORMAL set is "
                            "used, within min_version and max_version)");
        return fail(p, k,
                    "client_allowed_sans is not supported by ecs-hostd; issue the allowed "
                    "clients' certificates from a CA of their own (client_ca_file)");
}

static const struct key_rule tls_rules[] = {
        {"cert_file", tls_cert_file},
        {"key_file", tls_key_file},
        {"client_ca_file", tls_client_ca_file},
        {"client_auth_type", tls_client_auth},
        {"min_version", tls_min_version},
        {"max_version", tls_max_version},
        {"curve_preferences", tls_curves},
        {"prefer_server_cipher_suites", tls_prefer_server},
        {"cipher_suites", tls_unsupported},
        {"client_allowed_sans", tls_unsupported},
        {"cert", tls_inline},
        {"key", tls_inline},
        {"client_ca", tls_inline},
};

static int top_tls(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        int r;

        p->section = "tls_server_config";
        p->tls_line = (unsigned)k->start_mark.line + 1;
        /* Any key in it asks for TLS: without a certificate that would be
         * plain http, which exporter-toolkit falls back to silently. */
        p->w->tls = v->type == YAML_MAPPING_NODE &&
                    v->data.mapping.pairs.top > v->data.mapping.pairs.start;
        r = walk_mapping(p, v, tls_rules, ELEMENTSOF(tls_rules));
        p->section = NULL;
        return r;
}

/* ---- http_server_config ---- */

static int http_http2(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        bool b;

        /* HTTP/1.1 only (libmicrohttpd), which is what Prometheus scrapes
         * with: the key is read and checked, and means nothing more. */
        (void)k;
        return is_null(v) ? 0 : get_bool(p, v, "http2", &b);
}

static int header_value(struct parse *p, const yaml_node_t *k, const yaml_node_t *v, size_t rule) {
        struct webconfig *w = p->w;
        _cleanup_free_ char *s = NULL;
        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];
        bool ok = !header_rules[rule].values[0];
        int r;

        r = get_string(p, v, header_rules[rule].name, &s);
        if (r < 0 || !s || !*s)
                return r;
        for (const char *c = s; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        return fail(p, v, "headers: %s holds a control character",
                                    header_rules[rule].name);
        for (size_t i = 0; !ok && header_rules[rule].values[i]; i++)
                ok = strcmp(s, header_rules[rule].values[i]) == 0;
        if (!ok)
                return fail(p, v, "headers: %s %s is not %s%s%s", header_rules[rule].name,
                            quote(q, v), header_rules[rule].values[0],
                            header_rules[rule].values[1] ? " or " : "",
                            header_rules[rule].values[1] ? header_rules[rule].values[1] : "");
        (void)k;
        w->headers[w->n_headers++] =
                (struct webconfig_header){header_rules[rule].name, TAKE_PTR(s)};
        return 0;
}

static int http_headers(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        bool seen[WEBCONFIG_HEADERS_MAX] = {};
        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];
        int r;

        (void)k;
        if (is_null(v))
                return 0;
        if (v->type != YAML_MAPPING_NODE)
                return fail(p, v, "headers must be a mapping of header names to values");
        for (yaml_node_pair_t *pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top;
             pair++) {
                const yaml_node_t *hk = node(p, pair->key), *hv = node(p, pair->value);
                size_t i = 0;

                while (hk && i < ELEMENTSOF(header_rules) && !scalar_is(hk, header_rules[i].name))
                        i++;
                if (!hk || !hv || i == ELEMENTSOF(header_rules))
                        r = fail(p, hk ? hk : v,
                                 "headers: %s cannot be set (only Content-Security-Policy, "
                                 "X-Frame-Options, X-Content-Type-Options, X-XSS-Protection, "
                                 "Strict-Transport-Security)",
                                 hk && hk->type == YAML_SCALAR_NODE ? quote(q, hk) : "this key");
                else if (seen[i])
                        r = fail(p, hk, "headers: %s is given twice", header_rules[i].name);
                else {
                        seen[i] = true;
                        r = header_value(p, hk, hv, i);
                }
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

static const struct key_rule http_rules[] = {
        {"http2", http_http2},
        {"headers", http_headers},
};

static int top_http(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        int r;

        (void)k;
        p->section = "http_server_config";
        r = walk_mapping(p, v, http_rules, ELEMENTSOF(http_rules));
        p->section = NULL;
        return r;
}

/* ---- basic_auth_users ---- */

bool webconfig_bcrypt_valid(const char *h, unsigned *ret_cost) {
        static const char alphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789";
        unsigned cost;

        if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$' ||
            !isdigit((unsigned char)h[4]) || !isdigit((unsigned char)h[5]) || h[6] != '$')
                return false;
        cost = (unsigned)(h[4] - '0') * 10 + (unsigned)(h[5] - '0');
        if (cost < WEBCONFIG_BCRYPT_COST_MIN || cost > 31)
                return false;
        for (size_t i = 7; i < 60; i++)
                if (!strchr(alphabet, h[i]))
                        return false;
        *ret_cost = cost;
        return true;
}

static bool name_valid(const yaml_node_t *k) {
        if (k->data.scalar.length == 0 || k->data.scalar.length > WEBCONFIG_NAME_MAX)
                return false;
        for (size_t i = 0; i < k->data.scalar.length; i++) {
                unsigned char c = k->data.scalar.value[i];
                if (c < 0x20 || c == 0x7f || c == ':')
                        return false;
        }
        return true;
}

/* One user: a name a Basic Authorization header can carry, and a bcrypt
 * hash of a bounded cost.  The hash is never quoted back. */
static int user(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        struct webconfig *w = p->w;
        struct webconfig_user u = {};
        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];
        int r;

        if (k->type != YAML_SCALAR_NODE || !name_valid(k))
                return fail(p, k,
                            "user %s: a name is 1 to %d bytes, without ':' or control characters",
                            k->type == YAML_SCALAR_NODE ? quote(q, k) : "(not a string)",
                            WEBCONFIG_NAME_MAX);
        for (size_t i = 0; i < w->n_users; i++)
                if (strlen(w->users[i].name) == k->data.scalar.length &&
                    memcmp(w->users[i].name, k->data.scalar.value, k->data.scalar.length) == 0)
                        return fail(p, k, "user %s is given twice", quote(q, k));
        if (v->type != YAML_SCALAR_NODE || is_null(v) ||
            !webconfig_bcrypt_valid((const char *)v->data.scalar.value, &u.cost) ||
            v->data.scalar.length != 60)
                return fail(p, v,
                            "the password hash of user %s is not a bcrypt hash ($2a$, $2b$ or "
                            "$2y$, e.g. from htpasswd -nbBC 10)",
                            quote(q, k));
        if (u.cost > WEBCONFIG_BCRYPT_COST_MAX)
                return fail(p, v,
                            "the password hash of user %s has cost %u, above ecs-hostd's limit "
                            "of %d: each wrong password would cost 2^%u bcrypt rounds",
                            quote(q, k), u.cost, WEBCONFIG_BCRYPT_COST_MAX, u.cost);
        r = get_string(p, k, "a user name", &u.name);
        if (r < 0)
                return r;
        if (!(u.hash = strdup((const char *)v->data.scalar.value))) {
                free(u.name);
                return -ENOMEM;
        }
        w->users[w->n_users++] = u;
        return 0;
}

static int top_users(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        struct webconfig *w = p->w;
        size_t n;
        int r;

        (void)k;
        if (is_null(v))
                return 0;
        p->section = "basic_auth_users";
        if (v->type != YAML_MAPPING_NODE)
                r = fail(p, v, "expected a mapping of user names to bcrypt hashes");
        else if ((n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start)) >
                 WEBCONFIG_USERS_MAX)
                r = fail(p, v, "%zu users, more than ecs-hostd's limit of %d", n,
                         WEBCONFIG_USERS_MAX);
        else if (!(w->users = calloc(n ? n : 1, sizeof *w->users)))
                r = -ENOMEM;
        else {
                r = 0;
                for (yaml_node_pair_t *pr = v->data.mapping.pairs.start;
                     r != -ENOMEM && pr < v->data.mapping.pairs.top; pr++) {
                        const yaml_node_t *uk = node(p, pr->key), *uv = node(p, pr->value);
                        r = uk && uv ? user(p, uk, uv) : fail(p, v, "a user is incomplete");
                }
        }
        p->section = NULL;
        return r;
}

/* rate_limit: exporter-toolkit's token bucket.  ecs-hostd bounds clients
 * its own way (connections per address, a bounded bcrypt queue). */
static int top_rate_limit(struct parse *p, const yaml_node_t *k, const yaml_node_t *v) {
        if (is_null(v))
                return 0;
        return fail(p, k,
                    "rate_limit is not supported by ecs-hostd (it limits connections per client "
                    "and the password checks in flight instead); remove it");
}

static const struct key_rule top_rules[] = {
        {"tls_server_config", top_tls},
        {"http_server_config", top_http},
        {"basic_auth_users", top_users},
        {"rate_limit", top_rate_limit},
};

/* ---- what the sections mean together ---- */

static int make_priorities(struct parse *p) {
        static const char *const vers[] = {"TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"};
        char buf[512];
        size_t n;

        n = (size_t)snprintf(buf, sizeof buf, "NORMAL%s:-VERS-ALL",
                             p->prefer_server ? ":%SERVER_PRECEDENCE" : "");
        for (int v = p->min_version; v <= p->max_version; v++)
                n += (size_t)snprintf(buf + n, sizeof buf - n, ":+VERS-%s", vers[v]);
        if (p->n_groups > 0)
                n += (size_t)snprintf(buf + n, sizeof buf - n, ":-GROUP-ALL");
        for (size_t i = 0; i < p->n_groups; i++)
                n += (size_t)snprintf(buf + n, sizeof buf - n, ":+%s", p->groups[i]);
        p->w->priorities = strdup(buf);
        p->w->priorities_line = p->min_line ? p->min_line : p->max_line ? p->max_line : p->tls_line;
        return p->w->priorities ? 0 : -ENOMEM;
}

static int check_tls(struct parse *p) {
        struct webconfig *w = p->w;
        unsigned line = p->tls_line;
        int r = 0;

        if (!w->tls)
                return 0;
        if (!w->cert.path || !w->key.path)
                r = errors_add(p->errs, p->path, line,
                               "tls_server_config: cert_file and key_file are both required "
                               "(without them the endpoint would serve plain http)");
        if (w->client_ca.path && w->client_auth == WEBCONFIG_NO_CLIENT_CERT)
                r = errors_add(p->errs, p->path, w->client_ca.line,
                               "tls_server_config: client_ca_file is set but client_auth_type "
                               "is NoClientCert, so no client certificate would be checked; "
                               "set client_auth_type (e.g. RequireAndVerifyClientCert)");
        if (!w->client_ca.path && (w->client_auth == WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN ||
                                   w->client_auth == WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT))
                r = errors_add(p->errs, p->path, p->auth_line,
                               "tls_server_config: client_auth_type %s needs client_ca_file, "
                               "the CA that signs the clients' certificates",
                               client_auth_names[w->client_auth]);
        if (p->min_version > p->max_version)
                r = errors_add(p->errs, p->path, p->max_line,
                               "tls_server_config: max_version TLS1%d is below min_version "
                               "TLS1%d",
                               p->max_version, p->min_version);
        if (r == -ENOMEM)
                return r;
        return make_priorities(p);
}

/* ---- the document ---- */

static int parse_document(struct parse *p, yaml_parser_t *parser) {
        yaml_document_t extra;
        yaml_node_t *root = yaml_document_get_root_node(p->doc), *more;
        int r;

        if (root) {
                r = walk_mapping(p, root, top_rules, ELEMENTSOF(top_rules));
                if (r == -ENOMEM)
                        return r;
        }
        /* A second document would be ignored by Go: say so instead. */
        if (!yaml_parser_load(parser, &extra))
                return errors_add(p->errs, p->path, (unsigned)parser->problem_mark.line + 1,
                                  "invalid YAML: %s", parser->problem ? parser->problem : "?");
        more = yaml_document_get_root_node(&extra);
        r = more ? errors_add(p->errs, p->path, (unsigned)more->start_mark.line + 1,
                              "a second YAML document; the file holds one")
                 : 0;
        yaml_document_delete(&extra);
        return r == -ENOMEM ? r : check_tls(p);
}

int webconfig_parse(struct webconfig **ret, const char *path, const char *text, size_t len,
                    struct errors *errs) {
        _cleanup_(webconfig_freep) struct webconfig *w = calloc(1, sizeof *w);
        struct parse p = {.path = path,
                          .errs = errs,
                          .w = w,
                          .max_version = 3,
                          .min_version = 2,
                          .prefer_server = true};
        yaml_parser_t parser;
        yaml_document_t doc;
        size_t n0 = errs->n;
        int r;

        if (!w || !(w->path = strdup(path)))
                return -ENOMEM;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                r = parser.error == YAML_MEMORY_ERROR
                            ? -ENOMEM
                            : errors_add(errs, path, (unsigned)parser.problem_mark.line + 1,
                                         "invalid YAML: %s%s%s",
                                         parser.problem ? parser.problem : "?",
                                         parser.context ? " " : "",
                                         parser.context ? parser.context : "");
                yaml_parser_delete(&parser);
                return r;
        }
        p.doc = &doc;
        r = parse_document(&p, &parser);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (r == -ENOMEM)
                return r;
        if (errs->n > n0)
                return -EINVAL;
        *ret = TAKE_PTR(w);
        return 0;
}

/* ---- loading: the files, checked as GnuTLS will use them ---- */

/* A file that cannot be read; prefix says which ("tls_server_config:
 * key_file /etc/x.key: ", or nothing for the web config file itself). */
static int read_error(struct errors *errs, const char *src, unsigned line, const char *prefix,
                      size_t max, int r) {
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                return errors_add(errs, src, line, "%sthe file is larger than %zu bytes", prefix,
                                  max);
        if (r == -EBADFD)
                return errors_add(errs, src, line, "%snot a regular file", prefix);
        return errors_add(errs, src, line, "%scannot read the file: %s", prefix, strerror(-r));
}

/* Read one file the configuration names.  Nobody but its owner (root or
 * ecs-hostd's user) may write it: whoever could would choose the
 * certificate, the clients' CA or the key.  A key must not be readable by
 * anyone else either. */
static int load_file(struct webconfig *w, struct webconfig_file *f, const char *key, bool secret,
                     struct errors *errs) {
        _cleanup_free_ char *why = NULL, *what = NULL;
        struct stat st;
        int r;

        if (!f->path)
                return 0;
        if (asprintf(&what, "tls_server_config: %s %s: ", key, f->path) < 0) {
                what = NULL;
                return -ENOMEM;
        }
        if (stat(f->path, &st) < 0)
                return read_error(errs, w->path, f->line, what, WEBCONFIG_PEM_MAX, -errno);
        if (fileio_check_private(&st,
                                 "whoever can write it can impersonate the endpoint or "
                                 "choose who may scrape it",
                                 &why) < 0)
                return errors_add(errs, w->path, f->line, "%s%s", what,
                                  why ? why : "cannot check it");
        if (secret && (st.st_mode & (S_IRGRP | S_IROTH)))
                return errors_add(errs, w->path, f->line,
                                  "%sit is readable by %s (mode %04o); a private key must be "
                                  "readable by its owner only (chmod 600)",
                                  what, st.st_mode & S_IROTH ? "everyone" : "its group",
                                  (unsigned)(st.st_mode & 07777));
        r = fileio_read(f->path, WEBCONFIG_PEM_MAX, 0, &f->text, &f->len);
        if (r < 0)
                return read_error(errs, w->path, f->line, what, WEBCONFIG_PEM_MAX, r);
        return 0;
}

static int check_pair(struct webconfig *w, gnutls_certificate_credentials_t cred,
                      struct errors *errs) {
        gnutls_datum_t cert = {(unsigned char *)w->cert.text, (unsigned)w->cert.len},
                       key = {(unsigned char *)w->key.text, (unsigned)w->key.len};
        gnutls_x509_crt_t *crts = NULL;
        gnutls_x509_privkey_t pk = NULL;
        unsigned n = 0;
        int r;

        r = gnutls_x509_crt_list_import2(&crts, &n, &cert, GNUTLS_X509_FMT_PEM, 0);
        for (unsigned i = 0; r >= 0 && i < n; i++)
                gnutls_x509_crt_deinit(crts[i]);
        gnutls_free(crts);
        if (r < 0)
                return errors_add(errs, w->path, w->cert.line,
                                  "tls_server_config: cert_file %s: not a PEM certificate: %s",
                                  w->cert.path, gnutls_strerror(r));
        if (gnutls_x509_privkey_init(&pk) < 0)
                return -ENOMEM;
        r = gnutls_x509_privkey_import2(pk, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
        gnutls_x509_privkey_deinit(pk);
        if (r < 0)
                return errors_add(errs, w->path, w->key.line,
                                  "tls_server_config: key_file %s: not an unencrypted PEM private "
                                  "key: %s",
                                  w->key.path, gnutls_strerror(r));
        r = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (r < 0)
                return errors_add(
                        errs, w->path, w->key.line,
                        "tls_server_config: key_file %s does not go with cert_file %s: %s",
                        w->key.path, w->cert.path, gnutls_strerror(r));
        return 0;
}

static int check_gnutls(struct webconfig *w, struct errors *errs) {
        gnutls_certificate_credentials_t cred = NULL;
        gnutls_priority_t prio = NULL;
        const char *at = NULL;
        int r = 0;

        if (gnutls_certificate_allocate_credentials(&cred) < 0)
                return -ENOMEM;
        if (w->cert.text && w->key.text)
                r = check_pair(w, cred, errs);
        if (r != -ENOMEM && w->client_ca.text) {
                gnutls_datum_t ca = {(unsigned char *)w->client_ca.text,
                                     (unsigned)w->client_ca.len};
                int k = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
                if (k <= 0)
                        r = errors_add(errs, w->path, w->client_ca.line,
                                       "tls_server_config: client_ca_file %s holds no PEM "
                                       "certificate%s%s",
                                       w->client_ca.path, k < 0 ? ": " : "",
                                       k < 0 ? gnutls_strerror(k) : "");
        }
        gnutls_certificate_free_credentials(cred);
        if (r != -ENOMEM && gnutls_priority_init(&prio, w->priorities, &at) < 0)
                r = errors_add(errs, w->path, w->priorities_line,
                               "tls_server_config: GnuTLS refuses the versions or curves "
                               "(priorities %s, at %s)",
                               w->priorities, at ? at : "?");
        if (prio)
                gnutls_priority_deinit(prio);
        return r;
}

static int load_config_file(const char *path, char **ret, size_t *ret_len, struct errors *errs) {
        _cleanup_free_ char *why = NULL;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return read_error(errs, path, 0, "", WEBCONFIG_FILE_MAX, -errno);
        if (fileio_check_private(&st, "whoever can write it can turn TLS and the passwords off",
                                 &why) < 0)
                return errors_add(errs, path, 0, "%s", why ? why : "cannot check it");
        r = fileio_read(path, WEBCONFIG_FILE_MAX, 0, ret, ret_len);
        return r < 0 ? read_error(errs, path, 0, "", WEBCONFIG_FILE_MAX, r) : 0;
}

int webconfig_load(struct webconfig **ret, const char *path, struct errors *errs) {
        _cleanup_(webconfig_freep) struct webconfig *w = NULL;
        char *text = NULL;
        size_t len = 0, n0 = errs->n;
        int r;

        r = load_config_file(path, &text, &len, errs);
        if (r < 0)
                return r;
        r = webconfig_parse(&w, path, text, len, errs);
        erase_free(text, len); /* it holds the hashes */
        if (r < 0)
                return r;
        if (w->tls) {
                if (load_file(w, &w->cert, "cert_file", false, errs) == -ENOMEM ||
                    load_file(w, &w->key, "key_file", true, errs) == -ENOMEM ||
                    load_file(w, &w->client_ca, "client_ca_file", false, errs) == -ENOMEM ||
                    check_gnutls(w, errs) == -ENOMEM)
                        return -ENOMEM;
        }
        if (errs->n > n0)
                return -EINVAL;
        *ret = TAKE_PTR(w);
        return 0;
}

static void file_clear(struct webconfig_file *f) {
        free(f->path);
        erase_free(f->text, f->len);
}

struct webconfig *webconfig_free(struct webconfig *w) {
        if (!w)
                return NULL;
        free(w->path);
        file_clear(&w->cert);
        file_clear(&w->key);
        file_clear(&w->client_ca);
        free(w->priorities);
        for (size_t i = 0; i < w->n_headers; i++)
                free(w->headers[i].value);
        for (size_t i = 0; i < w->n_users; i++) {
                free(w->users[i].name);
                erase_and_free(w->users[i].hash);
        }
        free(w->users);
        free(w);
        return NULL;
}

const char *webconfig_client_auth_name(enum webconfig_client_auth a) {
        return (size_t)a < ELEMENTSOF(client_auth_names) ? client_auth_names[a] : "?";
}
