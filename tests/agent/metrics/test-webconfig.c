/* test-webconfig.c: the exporter-toolkit web configuration parser and
 * loader: what a valid file means, and for each broken rule the exact
 * error at its file:line, with no hash or key ever in a message. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "test.h"
#include "webconfig.h"

/* A throwaway EC P-256 pair made for this test, and an unrelated key. */
static const char CERT[] = "-----BEGIN CERTIFICATE-----\n"
                           "MIIBiDCCAS+gAwIBAgIUFBz2KL/VgY0qfZLRzG0ydU8+5wAwCgYIKoZIzj0EAwIw\n"
                           "GTEXMBUGA1UEAwwOdGVzdC13ZWJjb25maWcwIBcNMjYxMjAyMDAxNjUzWhgPMjEy\n"
                           "NjExMDgwMDE2NTNaMBkxFzAVBgNVBAMMDnRlc3Qtd2ViY29uZmlnMFkwEwYHKoZI\n"
                           "zj0CAQYIKoZIzj0DAQcDQgAEDuHh6itc2cOmJ76RjhXLP6o3K6wwY9Y/hcEG07Jy\n"
                           "yG+Rtotf39UALSlBzJb/BuTWypP8ohoIbnBqF8aeyJLinqNTMFEwHQYDVR0OBBYE\n"
                           "FP+drYW9UVlR7nv9CHD3clJLUJA7MB8GA1UdIwQYMBaAFP+drYW9UVlR7nv9CHD3\n"
                           "clJLUJA7MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgSl549LFI\n"
                           "ZBLV6xPczYl0vglkQTP8vxg06hzjMA0E/KsCIEYYGF/8sjZQL8DFRr8zOBJGT7Qq\n"
                           "uo7fywo2ur8kbF0U\n"
                           "-----END CERTIFICATE-----\n";
static const char KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                          "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgR34csCczS+gqRRa7\n"
                          "LHFLiYf6m31o8ASNmwE9yNHAm8mhRANCAAQO4eHqK1zZw6YnvpGOFcs/qjcrrDBj\n"
                          "1j+FwQbTsnLIb5G2i1/f1QAtKUHMlv8G5NbKk/yiGghucGoXxp7IkuKe\n"
                          "-----END PRIVATE KEY-----\n";
static const char OTHER_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3nRjRQ2btGqIlb6k\n"
                                "Tl9x05d49MZDax8gm7XMaap9KRehRANCAAQLeylcTmBqvSVX9W2u7fffHWVAueAP\n"
                                "XunssIISrrJ7Oo4Iya9qqXHgf+yewtdxH7hmWO+OaX85t7Bfyjs0vpA7\n"
                                "-----END PRIVATE KEY-----\n";

/* "s3cret" at cost 4, and a cost above the limit. */
#define HASH "$2b$04$O97dVHVQeizozgqvPmja0eGlvL2VxX/OInBlxA.TqscUBij6KHqqa"
#define HASH_COST13 "$2y$13$O97dVHVQeizozgqvPmja0eGlvL2VxX/OInBlxA.TqscUBij6KHqqa"

static char dir[] = "/tmp/test-webconfig-XXXXXX";

/* Every error of parsing text as NAME, one "source:line: message" per line
 * (empty: it parsed); *ret the result when it did. */
static char *errors_of(const char *name, const char *text, struct webconfig **ret) {
        struct errors errs = {};
        struct webconfig *w = NULL;
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);
        int r;

        if (!f)
                abort();
        r = webconfig_parse(&w, name, text, strlen(text), &errs);
        if (r != 0 && r != -EINVAL)
                abort();
        if ((r == 0) != (errs.n == 0))
                fprintf(f, "(returned %d with %zu errors)\n", r, errs.n);
        errors_print(&errs, f);
        errors_done(&errs);
        fclose(f);
        if (ret)
                *ret = w;
        else
                webconfig_free(w);
        return out;
}

static void check_errors(const char *name, const char *text, const char *want) {
        _cleanup_free_ char *got = errors_of("/etc/ecs/web.yml", text, NULL);

        CHECK_STREQ(name, got, want);
        CHECK("... and no hash in it", !strstr(got, "$2b$04$O97") && !strstr(got, "$2y$13$"));
}

static void test_valid(void) {
        struct webconfig *w = NULL;
        _cleanup_free_ char *e = errors_of("/etc/ecs/web.yml",
                                           "# as node_exporter reads it\n"
                                           "tls_server_config:\n"
                                           "  cert_file: tls/server.crt\n"
                                           "  key_file: /etc/ssl/private/server.key\n"
                                           "  client_ca_file: \"ca.pem\"\n"
                                           "  client_auth_type: RequireAndVerifyClientCert\n"
                                           "  min_version: TLS13\n"
                                           "  curve_preferences: [X25519, CurveP256]\n"
                                           "  prefer_server_cipher_suites: false\n"
                                           "  cipher_suites: []\n"
                                           "http_server_config:\n"
                                           "  http2: true\n"
                                           "  headers:\n"
                                           "    X-Frame-Options: deny\n"
                                           "    Strict-Transport-Security: max-age=31536000\n"
                                           "basic_auth_users:\n"
                                           "  prometheus: " HASH "\n"
                                           "  'alice smith': '" HASH "'\n",
                                           &w);

        if (!CHECK_STREQ("a full file parses", e, "") || !w)
                return;
        CHECK("TLS is on", w->tls);
        CHECK_STREQ("a relative path is the file's directory's", w->cert.path,
                    "/etc/ecs/tls/server.crt");
        CHECK_INTEQ("... and remembers its line", w->cert.line, 3);
        CHECK_STREQ("an absolute path stays", w->key.path, "/etc/ssl/private/server.key");
        CHECK_STREQ("a quoted path", w->client_ca.path, "/etc/ecs/ca.pem");
        CHECK_INTEQ("client_auth_type", w->client_auth, WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT);
        CHECK_STREQ("versions and curves as GnuTLS priorities", w->priorities,
                    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1");
        CHECK_INTEQ("two headers", w->n_headers, 2);
        CHECK("... with their values",
              w->n_headers == 2 && strcmp(w->headers[0].name, "X-Frame-Options") == 0 &&
                      strcmp(w->headers[1].value, "max-age=31536000") == 0);
        CHECK_INTEQ("two users", w->n_users, 2);
        CHECK("... with names and hashes",
              w->n_users == 2 && strcmp(w->users[1].name, "alice smith") == 0 &&
                      strcmp(w->users[0].hash, HASH) == 0 && w->users[0].cost == 4);
        webconfig_free(w);

        e = mfree(e);
        e = errors_of("web.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n", &w);
        if (CHECK_STREQ("a bare file name is relative to the working directory's file", e, "") &&
            w) {
                CHECK_STREQ("... ./a.crt", w->cert.path, "./a.crt");
                CHECK_STREQ("defaults: TLS 1.2 and 1.3, the server's preference", w->priorities,
                            "NORMAL:%SERVER_PRECEDENCE:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3");
                CHECK_INTEQ("default client_auth_type", w->client_auth, WEBCONFIG_NO_CLIENT_CERT);
        }
        webconfig_free(w);

        static const char *const empty[] = {"", "# nothing\n", "---\n", "tls_server_config:\n",
                                            "tls_server_config: {}\nbasic_auth_users: {}\n"};
        for (size_t i = 0; i < ELEMENTSOF(empty); i++) {
                e = mfree(e);
                e = errors_of("w.yml", empty[i], &w);
                CHECK("an empty file or section: no TLS, no users",
                      e && !*e && w && !w->tls && w->n_users == 0 && !w->priorities);
                w = webconfig_free(w);
        }
}

static void test_errors(void) {
        check_errors("a YAML syntax error at its line", "basic_auth_users:\n  a: b\n c: [\n",
                     "/etc/ecs/web.yml:3: invalid YAML: did not find expected key while parsing a "
                     "block mapping\n");
        check_errors("unknown keys, at each level",
                     "tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n"
                     "http_server_config:\n  http3: true\nbasic_auth:\n  x: y\n",
                     "/etc/ecs/web.yml:4: tls_server_config: unknown key \"certfile\"\n"
                     "/etc/ecs/web.yml:6: http_server_config: unknown key \"http3\"\n"
                     "/etc/ecs/web.yml:7: unknown key \"basic_auth\"\n");
        check_errors("a key given twice", "basic_auth_users: {}\nbasic_auth_users: {}\n",
                     "/etc/ecs/web.yml:2: basic_auth_users is given twice (first on line 1)\n");
        check_errors("not a mapping", "- a\n- b\n",
                     "/etc/ecs/web.yml:1: expected a mapping of keys\n");
        check_errors("TLS without a certificate is not plain http",
                     "tls_server_config:\n  min_version: TLS13\n",
                     "/etc/ecs/web.yml:1: tls_server_config: cert_file and key_file are both "
                     "required (without them the endpoint would serve plain http)\n");
        check_errors(
                "TLS enums and their relations",
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n"
                "  client_auth_type: RequireClientCertificate\n  min_version: TLS13\n"
                "  max_version: TLS12\n  curve_preferences: [P256]\n",
                "/etc/ecs/web.yml:5: tls_server_config: client_auth_type "
                "\"RequireClientCertificate\" is not one of NoClientCert, RequestClientCert, "
                "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert\n"
                "/etc/ecs/web.yml:8: tls_server_config: curve_preferences: \"P256\" is not one of "
                "CurveP256, CurveP384, CurveP521, X25519\n"
                "/etc/ecs/web.yml:4: tls_server_config: client_ca_file is set but client_auth_type "
                "is NoClientCert, so no client certificate would be checked; set client_auth_type "
                "(e.g. RequireAndVerifyClientCert)\n"
                "/etc/ecs/web.yml:7: tls_server_config: max_version TLS12 is below min_version "
                "TLS13\n");
        check_errors("verifying clients needs their CA",
                     "tls_server_config:\n  cert_file: a\n  key_file: b\n"
                     "  client_auth_type: VerifyClientCertIfGiven\n",
                     "/etc/ecs/web.yml:4: tls_server_config: client_auth_type "
                     "VerifyClientCertIfGiven needs client_ca_file, the CA that signs the clients' "
                     "certificates\n");
        check_errors("what GnuTLS cannot honour is refused",
                     "tls_server_config:\n  cert_file: a\n  key_file: b\n"
                     "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n  client_allowed_sans: [x]\n"
                     "  key: |\n    -----BEGIN PRIVATE KEY-----\nrate_limit:\n  burst: 2\n",
                     "/etc/ecs/web.yml:4: tls_server_config: cipher_suites is not supported by "
                     "ecs-hostd: GnuTLS cannot be limited to Go's exact suites; remove it "
                     "(GnuTLS's NORMAL set is used, within min_version and max_version)\n"
                     "/etc/ecs/web.yml:5: tls_server_config: client_allowed_sans is not supported "
                     "by ecs-hostd; issue the allowed clients' certificates from a CA of their own "
                     "(client_ca_file)\n"
                     "/etc/ecs/web.yml:6: tls_server_config: key (PEM inside the file) is not "
                     "supported by ecs-hostd; use key_file\n"
                     "/etc/ecs/web.yml:8: rate_limit is not supported by ecs-hostd (it limits "
                     "connections per client and the password checks in flight instead); remove "
                     "it\n");
        check_errors("headers: only exporter-toolkit's, with their values",
                     "http_server_config:\n  http2: maybe\n  headers:\n    X-Frame-Options: allow\n"
                     "    Server: x\n    X-XSS-Protection: \"1\\r\\nSet-Cookie: a\"\n",
                     "/etc/ecs/web.yml:2: http_server_config: http2 must be true or false\n"
                     "/etc/ecs/web.yml:4: http_server_config: headers: X-Frame-Options \"allow\" "
                     "is not deny or sameorigin\n"
                     "/etc/ecs/web.yml:5: http_server_config: headers: \"Server\" cannot be set "
                     "(only Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, "
                     "X-XSS-Protection, Strict-Transport-Security)\n"
                     "/etc/ecs/web.yml:6: http_server_config: headers: X-XSS-Protection holds a "
                     "control character\n");
}

static void test_users(void) {
        char big[8192];
        size_t n;

        check_errors(
                "hashes: bcrypt only, of a bounded cost, never quoted",
                "basic_auth_users:\n  plain: s3cret\n  md5: $1$abcdefgh$0123456789012345678901\n"
                "  costly: " HASH_COST13 "\n  \"bad:name\": " HASH "\n  empty:\n",
                "/etc/ecs/web.yml:2: basic_auth_users: the password hash of user \"plain\" is "
                "not a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from htpasswd -nbBC 10)\n"
                "/etc/ecs/web.yml:3: basic_auth_users: the password hash of user \"md5\" is "
                "not a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from htpasswd -nbBC 10)\n"
                "/etc/ecs/web.yml:4: basic_auth_users: the password hash of user \"costly\" "
                "has cost 13, above ecs-hostd's limit of 12: each wrong password would cost "
                "2^13 bcrypt rounds\n"
                "/etc/ecs/web.yml:5: basic_auth_users: user \"bad:name\": a name is 1 to 256 "
                "bytes, without ':' or control characters\n"
                "/etc/ecs/web.yml:6: basic_auth_users: the password hash of user \"empty\" is "
                "not a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from htpasswd -nbBC 10)\n");
        check_errors("a user given twice", "basic_auth_users:\n  a: " HASH "\n  a: " HASH "\n",
                     "/etc/ecs/web.yml:3: basic_auth_users: user \"a\" is given twice\n");
        n = (size_t)snprintf(big, sizeof big, "basic_auth_users:\n");
        for (int i = 0; i <= WEBCONFIG_USERS_MAX; i++)
                n += (size_t)snprintf(big + n, sizeof big - n, "  u%d: " HASH "\n", i);
        check_errors("at most 64 users", big,
                     "/etc/ecs/web.yml:2: basic_auth_users: 65 users, more than ecs-hostd's limit "
                     "of 64\n");
        CHECK("bcrypt: $2a$, $2b$ and $2y$",
              webconfig_bcrypt_valid(HASH, &(unsigned){0}) &&
                      webconfig_bcrypt_valid(HASH_COST13, &(unsigned){0}));
        CHECK("bcrypt: not $2x$ or a short one",
              !webconfig_bcrypt_valid(
                      "$2x$04$O97dVHVQeizozgqvPmja0eGlvL2VxX/OInBlxA.TqscUBij6KHqqa",
                      &(unsigned){0}) &&
                      !webconfig_bcrypt_valid("$2b$04$O97dV", &(unsigned){0}));
}

static char *write_file(const char *name, const char *text, mode_t mode) {
        char *p;
        int fd;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        unlink(p);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
            fchmod(fd, mode) < 0)
                abort();
        close(fd);
        return p;
}

/* Every error of loading NAME (written with text), one per line. */
static char *load_errors(const char *name, const char *text, struct webconfig **ret) {
        _cleanup_free_ char *path = write_file(name, text, 0644);
        struct errors errs = {};
        struct webconfig *w = NULL;
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);

        if (!f)
                abort();
        if (webconfig_load(&w, path, &errs) == -ENOMEM)
                abort();
        for (size_t i = 0; i < errs.n; i++) /* the directory is random: cut it */
                fprintf(f, "%u: %s\n", errs.v[i].line, errs.v[i].message);
        errors_done(&errs);
        fclose(f);
        if (ret)
                *ret = w;
        else
                webconfig_free(w);
        return out;
}

static void test_load(void) {
        _cleanup_free_ char *cert = write_file("server.crt", CERT, 0644),
                            *key = write_file("server.key", KEY, 0600),
                            *other = write_file("other.key", OTHER_KEY, 0600),
                            *ca = write_file("ca.pem", CERT, 0644), *e = NULL, *msg = NULL;
        struct webconfig *w = NULL;
        char big[WEBCONFIG_FILE_MAX + 2];

        CHECK("the fixtures are written", cert && key && other && ca);

        e = load_errors(
                "web.yml",
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                "  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
                &w);
        if (CHECK_STREQ("a matching pair and a CA load", e, "") && w) {
                CHECK("... into memory", w->cert.text && strstr(w->cert.text, "BEGIN CERT") &&
                                                 w->key.len == strlen(KEY) && w->client_ca.text);
                CHECK_STREQ("... from the file's directory", w->key.path, key);
        }
        w = webconfig_free(w);

        e = mfree(e);
        chmod(key, 0640);
        e = load_errors("web.yml",
                        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
                        NULL);
        if (asprintf(
                    &msg,
                    "3: tls_server_config: key_file %s: it is readable by its group (mode 0640); a "
                    "private key must be readable by its owner only (chmod 600)\n",
                    key) < 0)
                abort();
        CHECK_STREQ("a key its group can read is refused", e, msg);
        chmod(key, 0604);
        e = mfree(e);
        e = load_errors("web.yml",
                        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
                        NULL);
        CHECK("... and one anyone can read", e && strstr(e, "readable by everyone (mode 0604)"));
        chmod(key, 0600);
        chmod(cert, 0666);
        e = mfree(e);
        e = load_errors("web.yml",
                        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
                        NULL);
        CHECK("a certificate anyone can write is refused",
              e && strstr(e, "2: tls_server_config: cert_file ") &&
                      strstr(e, "it is writable by everyone (mode 0666)"));
        chmod(cert, 0644);

        e = mfree(e);
        e = load_errors("web.yml",
                        "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n"
                        "  client_ca_file: web.yml\n  client_auth_type: RequireAnyClientCert\n"
                        "basic_auth_users:\n  a: " HASH "\n",
                        NULL);
        CHECK("a key of another certificate is refused, at key_file's line",
              e && strstr(e, "3: tls_server_config: key_file ") &&
                      strstr(e, " does not go with cert_file "));
        CHECK("a CA file without certificates is refused",
              e && strstr(e, "4: tls_server_config: client_ca_file ") &&
                      strstr(e, "holds no PEM certificate"));
        CHECK("no key material in the errors", e && !strstr(e, "PRIVATE") && !strstr(e, HASH));

        e = mfree(e);
        e = load_errors("web.yml",
                        "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.crt\n",
                        NULL);
        CHECK("a missing file, and a certificate given as the key",
              e && strstr(e, "2: tls_server_config: cert_file ") &&
                      strstr(e, "nope.crt: cannot read the file: No such file or directory\n") &&
                      strstr(e, "3: tls_server_config: key_file "));

        memset(big, '#', sizeof big - 1);
        big[sizeof big - 1] = 0;
        e = mfree(e);
        e = load_errors("big.yml", big, NULL);
        CHECK_STREQ("the file's size is capped", e, "0: the file is larger than 65536 bytes\n");
        e = mfree(e);
        msg = mfree(msg);
        msg = write_file("open.yml", "basic_auth_users:\n  a: " HASH "\n", 0646);
        {
                struct errors errs = {};
                int r = webconfig_load(&w, msg, &errs);
                CHECK("a web config file others can write is refused",
                      r == -EINVAL && errs.n == 1 &&
                              strstr(errs.v[0].message, "writable by everyone"));
                errors_done(&errs);
        }
}

int main(void) {
        if (!mkdtemp(dir))
                abort();
        test_valid();
        test_errors();
        test_users();
        test_load();
        {
                char cmd[128];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        printf("# could not remove %s\n", dir);
        }
        return test_done();
}
