/* envfile.c: the EnvironmentFile= reader (see envfile.h for the grammar).
 * A hand-written lexer over the bytes; every error names the line (and the
 * column where it helps), and parsing goes on after one, so a file's every
 * mistake is reported at once. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "envfile.h"
#include "errors.h"
#include "escape.h"
#include "macro.h"

/* Keys quoted in error messages are cut to this many bytes. */
#define QUOTE_MAX 64

bool envfile_key_valid(const char *s) {
        if (!isalpha((unsigned char)s[0]) && s[0] != '_')
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

struct parser {
        const char *p, *end, *line_start;
        const char *name;
        unsigned line;
        bool nul; /* a NUL byte was seen in the current assignment */
        envfile_assign_t assign;
        void *userdata;
};

struct buf {
        char *s;
        size_t n, cap;
};

/* The value may be a secret: what the buffer leaves behind is wiped. */
static int buf_put(struct buf *b, char ch) {
        if (b->n + 2 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 64;
                char *s = erase_realloc(b->s, b->n, cap);
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
                        return errmsg_set(ret_msg,
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
                return errmsg_set(ret_msg, "unexpected text after the closing quote at column %u",
                                  column(P));
        return 0;
}

/* What precedes '=' is not a key.  It may be "KEY value" with the '='
 * forgotten and another '=' later on the line (`AWS_SECRET_ACCESS_KEY wJalr...
 * # x=y`), and nothing here knows which keys hold secrets (ecs.config also
 * holds the official agent's), so only a leading run of letters, digits and
 * '_' is quoted, and the one character that ends it; the rest of the line
 * never is. */
static int invalid_key(const struct parser *P, unsigned line, const char *key,
                       struct errors *errs) {
        static const char rule[] = "a key is letters, digits and '_', not starting with a digit";
        static const char hidden[] = "(the rest of the line is not shown, as it may hold a secret)";
        size_t n = strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
        char qk[ESCAPE_QUOTE_SIZE(QUOTE_MAX)], qc[ESCAPE_QUOTE_SIZE(1)];

        if (!key[n]) /* nothing but name characters: nothing to hide */
                return errors_add(errs, P->name, line, "invalid key %s: %s",
                                  escape_quote(qk, key, n, QUOTE_MAX, '"'), rule);
        escape_quote(qc, key + n, 1, 1, '\'');
        if (n == 0)
                return errors_add(errs, P->name, line, "invalid key: it starts with %s; %s %s", qc,
                                  rule, hidden);
        escape_quote(qk, key, n, QUOTE_MAX, '"');
        if (key[n] == ' ' || key[n] == '\t')
                return errors_add(errs, P->name, line,
                                  "invalid key: %s is followed by a blank; a '=' seems to be "
                                  "missing after it %s",
                                  qk, hidden);
        return errors_add(errs, P->name, line, "invalid key: %s is followed by %s; %s %s", qk, qc,
                          rule, hidden);
}

/* assignment := [ "export" ws+ ] key ws* '=' ws* value */
static int parse_assignment(struct parser *P, struct errors *errs) {
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
                        return errors_add(errs, P->name, line, "the line contains a NUL byte");
                return errors_add(errs, P->name, line, "missing '=' (expected KEY=VALUE)");
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
                erase_free(value.s, value.n);
                return r;
        }
        skip_line(P);

        if (P->nul || strlen(key) != (size_t)(ke - k))
                r = errors_add(errs, P->name, line, "the line contains a NUL byte");
        else if (!key[0])
                r = errors_add(errs, P->name, line, "missing key before '='");
        else if (!envfile_key_valid(key))
                r = invalid_key(P, line, key, errs);
        else if (r == -EINVAL)
                r = errors_add(errs, P->name, line, "%s: %s", key, msg);
        else
                r = P->assign(key, value.s ? value.s : "", line, hint, P->userdata);
        erase_free(value.s, value.n);
        return r;
}

int envfile_parse(const char *name, const char *text, size_t len, envfile_assign_t assign,
                  void *userdata, struct errors *errs) {
        struct parser P = {.p = text,
                           .end = text + len,
                           .line_start = text,
                           .name = name,
                           .line = 1,
                           .assign = assign,
                           .userdata = userdata};
        size_t n0 = errs->n;
        bool refused = false;
        int r;

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
                r = parse_assignment(&P, errs);
                if (r == -ENOMEM)
                        return r;
                refused = refused || r < 0;
                skip_line(&P);
                eat_eol(&P);
        }
        return errs->n > n0 || refused ? -EINVAL : 0;
}
