/* webconfig.h: the exporter-toolkit web configuration file (node_exporter's
 * --web.config.file), the subset of it the metrics endpoint can honour:
 * TLS (certificate, key, client certificates, versions, curves), extra
 * response headers, and basic auth users with bcrypt hashes.  What it
 * cannot honour is an error, never silently dropped.  Parsing is pure;
 * loading reads the file and the files it names, each bounded, and checks
 * them as GnuTLS (libmicrohttpd's TLS library) will use them.  Errors name
 * the file, the line and the rule, and never hold a key, hash or password. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "macro.h"

#define WEBCONFIG_FILE_MAX (64 * 1024)  /* bytes: a web config is a few lines */
#define WEBCONFIG_PEM_MAX (1024 * 1024) /* bytes of a certificate, key or CA file */
#define WEBCONFIG_USERS_MAX 64          /* basic auth is for a few scrapers */
/* A wrong password costs one bcrypt run on the endpoint's worker: 2^12
 * rounds is about half a second on one core, 2^10 (Go's default) 0.13 s. */
#define WEBCONFIG_BCRYPT_COST_MAX 12
#define WEBCONFIG_BCRYPT_COST_MIN 4
#define WEBCONFIG_NAME_MAX 256 /* bytes of a user name */
#define WEBCONFIG_HEADERS_MAX 5

/* tls_server_config.client_auth_type, as Go's crypto/tls names them. */
enum webconfig_client_auth {
        WEBCONFIG_NO_CLIENT_CERT,
        WEBCONFIG_REQUEST_CLIENT_CERT,
        WEBCONFIG_REQUIRE_ANY_CLIENT_CERT,
        WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN,
        WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT,
};

struct webconfig_user {
        char *name;
        char *hash; /* $2a$, $2b$ or $2y$ bcrypt, cost checked; wiped when freed */
        unsigned cost;
};

struct webconfig_header {
        const char *name; /* static: one of the five exporter-toolkit allows */
        char *value;
};

/* A file named in the configuration: its path (relative ones made absolute
 * against the web config file's directory), where it was named, and, once
 * loaded, its text. */
struct webconfig_file {
        char *path; /* NULL: not configured */
        unsigned line;
        char *text; /* webconfig_load() only; a key is wiped when freed */
        size_t len;
};

struct webconfig {
        char *path; /* the web config file, as errors name it */
        bool tls;
        struct webconfig_file cert, key, client_ca;
        enum webconfig_client_auth client_auth;
        /* GnuTLS priority string from the versions, curves and cipher
         * preference (NULL without TLS), and the line it came from. */
        char *priorities;
        unsigned priorities_line;
        struct webconfig_header headers[WEBCONFIG_HEADERS_MAX];
        size_t n_headers;
        struct webconfig_user *users;
        size_t n_users;
};

/* Parse text (len bytes, not necessarily NUL-terminated) read from path.
 * Pure: no file is read.  0 and *ret, or -EINVAL with every error appended
 * to errs (source path, line, rule), or -ENOMEM. */
_must_check_ int webconfig_parse(struct webconfig **ret, const char *path, const char *text,
                                 size_t len, struct errors *errs);

/* Read path and the certificate, key and client CA files it names, and
 * check them: the files bounded and not writable by others, the key file
 * readable only by its owner, certificate and key a matching pair, the CA
 * file certificates, the priorities valid.  0 and *ret, -EINVAL with
 * errs, or -ENOMEM. */
_must_check_ int webconfig_load(struct webconfig **ret, const char *path, struct errors *errs);

struct webconfig *webconfig_free(struct webconfig *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct webconfig *, webconfig_free)

/* Whether hash is a bcrypt hash libxcrypt verifies ($2a$, $2b$ or $2y$,
 * cost, 53 characters of salt and digest); its cost in *ret_cost. */
bool webconfig_bcrypt_valid(const char *hash, unsigned *ret_cost);

/* client_auth_type's name for a value ("RequireAndVerifyClientCert"). */
const char *webconfig_client_auth_name(enum webconfig_client_auth a);
