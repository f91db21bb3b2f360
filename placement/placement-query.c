/* placement-query.c: lexer, parser and printer of the cluster query language.
 * The lexer is told what the parser expects (a term or a value), because a
 * bare value may contain characters that are operators elsewhere
 * (`attribute:x =~ t2.*`, `task:group == service:web`).  Every token carries
 * its byte offset; every error goes through one path, placement_error_at(). */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "placement-query.h"
#include "placement-value.h"

#define ATTRIBUTE_NAME_MAX 128  /* characters, ECS's limit on attribute names */
#define REGEX_DEPTH_LIMIT 10000 /* PCRE2 backtracking depth per value */

#define streq(a, b) (strcmp((a), (b)) == 0)

enum token_type {
        TK_EOF,
        TK_LPAREN,
        TK_RPAREN,
        TK_LBRACKET,
        TK_RBRACKET,
        TK_COMMA,
        TK_AND,    /* && */
        TK_OR,     /* || */
        TK_BANG,   /* ! */
        TK_OP,     /* a symbolic comparison operator, see token.op */
        TK_WORD,   /* a run of word characters: subject, keyword, word operator */
        TK_QUOTED, /* '...' or "..." */
        TK_BARE,   /* an unquoted value (value mode only) */
};

struct token {
        enum token_type type;
        size_t start, end; /* source span [start, end) */
        enum placement_op op;
};

struct parser {
        const char *src;
        size_t len;
        size_t pos; /* next unread byte */
        struct token t;
        enum token_type prev; /* the type of the token before t */
        struct placement_error *e;
        unsigned depth;
        uint64_t *regex_steps; /* the query's, for each regex node */
};

static const char *const subject_names[_PLACEMENT_SUBJECT_MAX] = {
        [PLACEMENT_SUBJECT_AGENT_CONNECTED] = "agentConnected",
        [PLACEMENT_SUBJECT_AGENT_VERSION] = "agentVersion",
        [PLACEMENT_SUBJECT_ATTRIBUTE] = "attribute:",
        [PLACEMENT_SUBJECT_EC2_INSTANCE_ID] = "ec2InstanceId",
        [PLACEMENT_SUBJECT_REGISTERED_AT] = "registeredAt",
        [PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT] = "runningTasksCount",
        [PLACEMENT_SUBJECT_TASK_GROUP] = "task:group",
};

static const struct {
        const char *symbol;
        const char *word;
} op_names[_PLACEMENT_OP_MAX] = {
        [PLACEMENT_OP_EQ] = {"==", "equals"},
        [PLACEMENT_OP_NE] = {"!=", "not_equals"},
        [PLACEMENT_OP_GT] = {">", "greater_than"},
        [PLACEMENT_OP_GE] = {">=", "greater_than_equal"},
        [PLACEMENT_OP_LT] = {"<", "less_than"},
        [PLACEMENT_OP_LE] = {"<=", "less_than_equal"},
        [PLACEMENT_OP_EXISTS] = {"exists", "exists"},
        [PLACEMENT_OP_NOT_EXISTS] = {"!exists", "not_exists"},
        [PLACEMENT_OP_IN] = {"in", "in"},
        [PLACEMENT_OP_NOT_IN] = {"!in", "not_in"},
        [PLACEMENT_OP_MATCHES] = {"=~", "matches"},
        [PLACEMENT_OP_NOT_MATCHES] = {"!~", "not_matches"},
};

/* Which operators each subject takes: the documentation lists them for the
 * fixed fields; attributes and task groups take all. */
#define OPS_EQUALITY                                                                               \
        (1u << PLACEMENT_OP_EQ | 1u << PLACEMENT_OP_NE | 1u << PLACEMENT_OP_IN |                   \
         1u << PLACEMENT_OP_NOT_IN | 1u << PLACEMENT_OP_MATCHES | 1u << PLACEMENT_OP_NOT_MATCHES)
#define OPS_ORDERING                                                                               \
        (1u << PLACEMENT_OP_EQ | 1u << PLACEMENT_OP_NE | 1u << PLACEMENT_OP_GT |                   \
         1u << PLACEMENT_OP_GE | 1u << PLACEMENT_OP_LT | 1u << PLACEMENT_OP_LE)
#define OPS_ALL ((1u << _PLACEMENT_OP_MAX) - 1)
static const unsigned subject_ops[_PLACEMENT_SUBJECT_MAX] = {
        [PLACEMENT_SUBJECT_AGENT_CONNECTED] = OPS_EQUALITY,
        [PLACEMENT_SUBJECT_AGENT_VERSION] = OPS_ORDERING,
        [PLACEMENT_SUBJECT_ATTRIBUTE] = OPS_ALL,
        [PLACEMENT_SUBJECT_EC2_INSTANCE_ID] = OPS_EQUALITY,
        [PLACEMENT_SUBJECT_REGISTERED_AT] = OPS_ORDERING,
        [PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT] = OPS_ORDERING,
        [PLACEMENT_SUBJECT_TASK_GROUP] = OPS_ALL,
};

const char *placement_subject_to_string(enum placement_subject s) {
        return s < _PLACEMENT_SUBJECT_MAX ? subject_names[s] : NULL;
}

const char *placement_op_to_string(enum placement_op op) {
        return op < _PLACEMENT_OP_MAX ? op_names[op].symbol : NULL;
}

static bool op_takes_list(enum placement_op op) {
        return op == PLACEMENT_OP_IN || op == PLACEMENT_OP_NOT_IN;
}

static bool op_takes_value(enum placement_op op) {
        return op != PLACEMENT_OP_EXISTS && op != PLACEMENT_OP_NOT_EXISTS;
}

/* ---- lexer ---- */

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Characters that end a bare value. */
static bool ends_value(char c) {
        return is_space(c) || c == '\0' || strchr(",[]()'\"", c);
}

/* Characters that end a word (subjects, keywords): a value's terminators
 * plus the operator characters, so that `a==b` needs no spaces. */
static bool ends_word(char c) {
        return ends_value(c) || strchr("=!<>~&|", c);
}

static int error_at(struct parser *p, size_t offset, const char *fmt, ...) _printf_(3, 4);
static int error_at(struct parser *p, size_t offset, const char *fmt, ...) {
        char msg[PLACEMENT_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return placement_error_at(p->e, p->src, p->len, offset, "%s", msg);
}

static unsigned column_of(const struct parser *p, size_t offset) {
        unsigned line, column;
        placement_error_locate(p->src, p->len, offset, &line, &column);
        return column;
}

static void skip_space(struct parser *p) {
        while (p->pos < p->len && is_space(p->src[p->pos]))
                p->pos++;
}

static void set_token(struct parser *p, enum token_type type, size_t n) {
        p->prev = p->t.type;
        p->t.type = type;
        p->t.start = p->pos;
        p->t.end = p->pos + n;
        p->pos += n;
}

/* '...' or "...": a backslash before the quote character escapes it. */
static int lex_quoted(struct parser *p) {
        char q = p->src[p->pos];
        size_t i = p->pos + 1;

        for (; i < p->len; i++) {
                if (p->src[i] == '\0')
                        return error_at(p, i, "NUL byte in quoted value");
                if (p->src[i] == '\\' && i + 1 < p->len && p->src[i + 1] == q)
                        i++;
                else if (p->src[i] == q) {
                        set_token(p, TK_QUOTED, i + 1 - p->pos);
                        return 0;
                }
        }
        return error_at(p, p->pos, "unterminated quoted value (no closing %c)", q);
}

/* The one-character tokens. */
static const struct {
        char c;
        enum token_type type;
} punct_tokens[] = {
        {'(', TK_LPAREN}, {')', TK_RPAREN}, {'[', TK_LBRACKET}, {']', TK_RBRACKET}, {',', TK_COMMA},
};

static int lex_punct(struct parser *p) {
        char c = p->src[p->pos];

        for (size_t i = 0; i < ELEMENTSOF(punct_tokens); i++)
                if (c == punct_tokens[i].c) {
                        set_token(p, punct_tokens[i].type, 1);
                        return 1;
                }
        if (c == '\'' || c == '"')
                return lex_quoted(p) < 0 ? -EINVAL : 1;
        if (c == '\0')
                return error_at(p, p->pos, "NUL byte in expression");
        return 0;
}

/* Does the word at offset i (case-insensitive) equal w and end there? */
static bool word_at(const struct parser *p, size_t i, const char *w) {
        size_t n = strlen(w);
        return i + n <= p->len && strncasecmp(p->src + i, w, n) == 0 &&
               (i + n == p->len || ends_word(p->src[i + n]));
}

/* What every token position shares: blanks skipped, then the end or a
 * punctuation token.  1 when a token was made, 0 to lex on, or an error. */
static int lex_start(struct parser *p) {
        skip_space(p);
        if (p->pos >= p->len) {
                p->prev = p->t.type;
                p->t.type = TK_EOF;
                p->t.start = p->t.end = p->len;
                return 1;
        }
        return lex_punct(p);
}

/* Next token where a term, an operator or a connective may stand. */
static int lex_term(struct parser *p) {
        const char *s;
        size_t rest;
        int r;

        r = lex_start(p);
        if (r != 0)
                return r < 0 ? r : 0;

        s = p->src + p->pos;
        rest = p->len - p->pos;
#define TWO(a, b) (rest >= 2 && s[0] == (a) && s[1] == (b))
        if (TWO('&', '&'))
                set_token(p, TK_AND, 2);
        else if (TWO('|', '|'))
                set_token(p, TK_OR, 2);
        else if (TWO('=', '='))
                set_token(p, TK_OP, 2), p->t.op = PLACEMENT_OP_EQ;
        else if (TWO('=', '~'))
                set_token(p, TK_OP, 2), p->t.op = PLACEMENT_OP_MATCHES;
        else if (TWO('!', '='))
                set_token(p, TK_OP, 2), p->t.op = PLACEMENT_OP_NE;
        else if (TWO('!', '~'))
                set_token(p, TK_OP, 2), p->t.op = PLACEMENT_OP_NOT_MATCHES;
        else if (TWO('>', '='))
                set_token(p, TK_OP, 2), p->t.op = PLACEMENT_OP_GE;
        else if (TWO('<', '='))
                set_token(p, TK_OP, 2), p->t.op = PLACEMENT_OP_LE;
        else if (s[0] == '>')
                set_token(p, TK_OP, 1), p->t.op = PLACEMENT_OP_GT;
        else if (s[0] == '<')
                set_token(p, TK_OP, 1), p->t.op = PLACEMENT_OP_LT;
        else if (s[0] == '!' && word_at(p, p->pos + 1, "in"))
                set_token(p, TK_OP, 3), p->t.op = PLACEMENT_OP_NOT_IN;
        else if (s[0] == '!' && word_at(p, p->pos + 1, "exists"))
                set_token(p, TK_OP, 7), p->t.op = PLACEMENT_OP_NOT_EXISTS;
        else if (s[0] == '!')
                set_token(p, TK_BANG, 1);
        else if (s[0] == '&')
                return error_at(p, p->pos, "'&&' expected");
        else if (s[0] == '|')
                return error_at(p, p->pos, "'||' expected");
        else if (s[0] == '=')
                return error_at(p, p->pos, "'==' or '=~' expected");
        else if (s[0] == '~')
                return error_at(p, p->pos, "unexpected '~' ('=~' or '!~' expected)");
        else {
                size_t n = 0;
                while (n < rest && !ends_word(s[n]))
                        n++;
                set_token(p, TK_WORD, n);
        }
#undef TWO
        return 0;
}

/* Next token where a value may stand: a bare run, a quoted value, or '['. */
static int lex_value(struct parser *p) {
        size_t n = 0;
        int r;

        r = lex_start(p);
        if (r != 0)
                return r < 0 ? r : 0;
        while (p->pos + n < p->len && !ends_value(p->src[p->pos + n]))
                n++;
        set_token(p, TK_BARE, n);
        return 0;
}

static bool token_is_word(const struct parser *p, const char *w) {
        size_t n = strlen(w);
        return p->t.type == TK_WORD && p->t.end - p->t.start == n &&
               strncasecmp(p->src + p->t.start, w, n) == 0;
}

/* ---- AST ---- */

static void node_free(struct placement_query_node *n) {
        if (!n)
                return;
        node_free(n->left);
        node_free(n->right);
        free(n->attribute);
        for (size_t i = 0; i < n->n_values; i++)
                free(n->values[i].text);
        free(n->values);
        free(n->regex_prefix);
        pcre2_match_data_free(n->match);
        pcre2_match_context_free(n->match_context);
        pcre2_code_free(n->regex);
        free(n);
}

struct placement_query *placement_query_free(struct placement_query *q) {
        if (!q)
                return NULL;
        node_free(q->root);
        free(q->source);
        free(q->regex_steps);
        free(q);
        return NULL;
}

static struct placement_query_node *node_new(enum placement_query_node_type type, size_t offset) {
        struct placement_query_node *n = calloc(1, sizeof(*n));
        if (n) {
                n->type = type;
                n->offset = offset;
        }
        return n;
}

static int oom(struct parser *p) {
        return placement_error_set(p->e, -ENOMEM, "out of memory");
}

/* ---- parser ---- */

static int parse_or(struct parser *p, struct placement_query_node **ret);
static int parse_binary(struct parser *p, size_t level, struct placement_query_node **ret);

/* The text of the current value token, unquoted and unescaped. */
static char *token_value(const struct parser *p) {
        const char *s = p->src + p->t.start;
        size_t n = p->t.end - p->t.start;
        char *v, *o;

        if (p->t.type != TK_QUOTED)
                return strndup(s, n);
        v = o = malloc(n);
        if (!v)
                return NULL;
        for (size_t i = 1; i + 1 < n; i++) {
                if (s[i] == '\\' && i + 2 < n && s[i + 1] == s[0])
                        i++;
                *o++ = s[i];
        }
        *o = '\0';
        return v;
}

/* Source offset of byte k of the unescaped value that starts at offset. */
static size_t value_source_offset(const struct parser *p, size_t offset, size_t k) {
        char q = p->src[offset];
        size_t i;

        if (q != '\'' && q != '"')
                return offset + k;
        for (i = offset + 1; k > 0 && i < p->len; k--, i++)
                if (p->src[i] == '\\' && i + 1 < p->len && p->src[i + 1] == q)
                        i++;
        return i;
}

/* The literal text every whole-value match must start with, so most
 * non-matches are rejected by one comparison instead of a regex run.
 * Conservative: any '|' gives up (alternation may be at top level), and a
 * literal followed by ?, * or { is dropped (it may occur zero times). */
static size_t literal_prefix(const char *re, char *out) {
        size_t n = 0;

        if (strchr(re, '|'))
                return 0;
        for (size_t i = 0; re[i]; i++) {
                unsigned char c = (unsigned char)re[i];
                if (c == '\\') {
                        unsigned char d = (unsigned char)re[i + 1];
                        if (!d || isalnum(d) || d >= 0x80)
                                break; /* \d, \Q, \x{...}: not a plain literal */
                        out[n++] = (char)d;
                        i++;
                } else if (strchr("?*{", c)) {
                        if (n > 0)
                                n--;
                        break;
                } else if (strchr("^$.+()[]", c) || c >= 0x80)
                        break;
                else
                        out[n++] = (char)c;
        }
        out[n] = '\0';
        return n;
}

static int compile_regex(struct parser *p, struct placement_query_node *n) {
        const struct placement_query_value *v = &n->values[0];
        int errcode;
        PCRE2_SIZE erroff;
        pcre2_code *re;

        /* Java's Pattern.matches() matches the whole value: anchor both ends.
         * \C (one byte, even inside a UTF-8 character) is refused: Java has
         * no such thing, and it can split a character. */
        re = pcre2_compile((PCRE2_SPTR)v->text, strlen(v->text),
                           PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF |
                                   PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C,
                           &errcode, &erroff, NULL);
        if (!re) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(errcode, msg, sizeof(msg));
                return error_at(p, value_source_offset(p, v->offset, erroff),
                                "invalid regular expression: %s", (const char *)msg);
        }
        /* JIT when the platform has it (matching is most of a filter's
         * time); without it the interpreter gives the same answers. */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        n->regex = (struct pcre2_real_code_8 *)re;
        n->regex_prefix = malloc(strlen(v->text) + 1);
        if (!n->regex_prefix)
                return oom(p);
        n->regex_prefix_len = literal_prefix(v->text, n->regex_prefix);
        n->match = (struct pcre2_real_match_data_8 *)pcre2_match_data_create_from_pattern(re, NULL);
        n->match_context = (struct pcre2_real_match_context_8 *)pcre2_match_context_create(NULL);
        if (!n->match || !n->match_context)
                return oom(p);
        /* The match limit is set per attempt (see matches()).  The heap
         * limit matters without JIT (none on the platform, or (*NO_JIT) in
         * the pattern): PCRE2's own default is 20 GB. */
        pcre2_set_depth_limit((pcre2_match_context *)n->match_context, REGEX_DEPTH_LIMIT);
        pcre2_set_heap_limit((pcre2_match_context *)n->match_context, PLACEMENT_REGEX_HEAP_LIMIT);
        n->regex_steps = p->regex_steps;
        return 0;
}

/* Check one argument against what the subject compares it as, and keep its
 * typed reading. */
static int check_value(struct parser *p, struct placement_query_node *n,
                       struct placement_query_value *v) {
        bool regex = n->op == PLACEMENT_OP_MATCHES || n->op == PLACEMENT_OP_NOT_MATCHES;

        if (regex)
                return 0;
        switch (n->subject) {
        case PLACEMENT_SUBJECT_AGENT_CONNECTED:
                if (strcasecmp(v->text, "true") != 0 && strcasecmp(v->text, "false") != 0)
                        return error_at(p, v->offset, "true or false expected");
                break;
        case PLACEMENT_SUBJECT_AGENT_VERSION:
                if (!placement_value_is_version(v->text))
                        return error_at(p, v->offset, "agent version expected (like 1.14.5)");
                break;
        case PLACEMENT_SUBJECT_REGISTERED_AT:
                if (placement_value_parse_time(v->text, &v->typed) < 0)
                        return error_at(p, v->offset,
                                        "date expected (2018-06-18T22:28:28+00:00, "
                                        "2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or "
                                        "2018-06-18)");
                break;
        case PLACEMENT_SUBJECT_RUNNING_TASKS_COUNT:
                if (!placement_value_parse_integer(v->text, &v->typed))
                        return error_at(p, v->offset, "integer expected");
                break;
        default:
                v->is_number = placement_value_parse_number(v->text, &v->number);
                break;
        }
        return 0;
}

/* value := BARE | QUOTED */
static int parse_value(struct parser *p, struct placement_query_node *n) {
        struct placement_query_value *v, *grown;
        const char *opname = op_names[n->op].symbol;
        int r;

        if ((n->op == PLACEMENT_OP_MATCHES || n->op == PLACEMENT_OP_NOT_MATCHES) &&
            (p->t.type == TK_LBRACKET || p->t.type == TK_LPAREN))
                return error_at(p, p->t.start,
                                "value expected (quote a regular expression that starts with "
                                "'%c')",
                                p->src[p->t.start]);
        if (p->t.type == TK_LBRACKET)
                return error_at(p, p->t.start,
                                "value expected ('%s' takes one value; only in and !in take a "
                                "list)",
                                opname);
        if (p->t.type != TK_BARE && p->t.type != TK_QUOTED)
                return error_at(p, p->t.start, "value expected after '%s'", opname);

        grown = realloc(n->values, (n->n_values + 1) * sizeof(*grown));
        if (!grown)
                return oom(p);
        n->values = grown;
        v = &n->values[n->n_values];
        *v = (struct placement_query_value){.offset = p->t.start};
        v->text = token_value(p);
        if (!v->text)
                return oom(p);
        n->n_values++;
        r = check_value(p, n, v);
        if (r < 0)
                return r;
        return 0;
}

/* argument := value | '[' value { ',' value } ']' */
static int parse_argument(struct parser *p, struct placement_query_node *n) {
        size_t open;
        int r;

        r = lex_value(p);
        if (r < 0)
                return r;
        if (!op_takes_list(n->op)) {
                r = parse_value(p, n);
                if (r < 0)
                        return r;
                return lex_term(p);
        }

        if (p->t.type != TK_LBRACKET)
                return error_at(p, p->t.start, "'[' expected ('%s' takes a list: [a, b])",
                                op_names[n->op].symbol);
        open = p->t.start;
        for (;;) {
                r = lex_value(p);
                if (r < 0)
                        return r;
                r = parse_value(p, n);
                if (r < 0)
                        return r;
                r = lex_term(p);
                if (r < 0)
                        return r;
                if (p->t.type == TK_RBRACKET)
                        break;
                if (p->t.type != TK_COMMA)
                        return error_at(p, p->t.start,
                                        "',' or ']' expected (to close '[' at column %u)",
                                        column_of(p, open));
        }
        return lex_term(p);
}

/* subject := 'agentConnected' | 'agentVersion' | 'attribute:' NAME
 *          | 'ec2InstanceId' | 'registeredAt' | 'runningTasksCount' | 'task:group' */
static int parse_subject(struct parser *p, struct placement_query_node *n) {
        const char *s = p->src + p->t.start;
        size_t len = p->t.end - p->t.start;
        static const char attr[] = "attribute:";

        if (p->t.type != TK_WORD)
                return error_at(p, p->t.start, "subject expected");
        if (len >= strlen(attr) && strncmp(s, attr, strlen(attr)) == 0) {
                size_t name = p->t.start + strlen(attr), chars = 0;

                if (name == p->t.end)
                        return error_at(p, name, "attribute name expected after 'attribute:'");
                for (size_t i = name; i < p->t.end; i++) {
                        unsigned char c = (unsigned char)p->src[i];
                        if (!isalnum(c) && !strchr("-_/\\.", c))
                                return error_at(p, i,
                                                "invalid character in attribute name (letters, "
                                                "digits, '-', '_', '/', '\\', '.' allowed)");
                        chars++;
                }
                if (chars > ATTRIBUTE_NAME_MAX)
                        return error_at(p, name, "attribute name longer than %d characters",
                                        ATTRIBUTE_NAME_MAX);
                n->subject = PLACEMENT_SUBJECT_ATTRIBUTE;
                n->attribute = strndup(p->src + name, p->t.end - name);
                if (!n->attribute)
                        return oom(p);
                return lex_term(p);
        }
        for (enum placement_subject i = 0; i < _PLACEMENT_SUBJECT_MAX; i++)
                if (i != PLACEMENT_SUBJECT_ATTRIBUTE && strlen(subject_names[i]) == len &&
                    strncmp(s, subject_names[i], len) == 0) {
                        n->subject = i;
                        return lex_term(p);
                }
        if (token_is_word(p, "and") || token_is_word(p, "or"))
                return error_at(p, p->t.start, "subject expected");
        if ((len == 10 && strncmp(s, "instanceId", len) == 0) ||
            (len == 4 && strncmp(s, "host", len) == 0))
                return error_at(p, p->t.start,
                                "'%.*s' is a spread strategy field, not a query subject "
                                "(ec2InstanceId is)",
                                (int)len, s);
        return error_at(p, p->t.start,
                        "unknown subject '%.*s' (agentConnected, agentVersion, "
                        "attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount or "
                        "task:group expected)",
                        (int)(len > 64 ? 64 : len), s);
}

/* operator := '==' | 'equals' | '!=' | 'not_equals' | '>' | 'greater_than'
 *           | '>=' | 'greater_than_equal' | '<' | 'less_than' | '<=' | 'less_than_equal'
 *           | 'exists' | '!exists' | 'not_exists' | 'in' | '!in' | 'not_in'
 *           | '=~' | 'matches' | '!~' | 'not_matches'                          */
static int parse_operator(struct parser *p, struct placement_query_node *n) {
        bool found = false;

        if (p->t.type == TK_OP) {
                n->op = p->t.op;
                found = true;
        } else if (p->t.type == TK_WORD)
                for (enum placement_op i = 0; i < _PLACEMENT_OP_MAX && !found; i++)
                        if (token_is_word(p, op_names[i].word)) {
                                n->op = i;
                                found = true;
                        }
        if (!found)
                return error_at(p, p->t.start,
                                "operator expected (==, !=, >, >=, <, <=, exists, !exists, in, "
                                "!in, =~, !~ or their word forms)");
        if (!(subject_ops[n->subject] & (1u << n->op))) {
                char valid[128] = "";
                for (enum placement_op i = 0; i < _PLACEMENT_OP_MAX; i++)
                        if (subject_ops[n->subject] & (1u << i)) {
                                if (valid[0])
                                        strncat(valid, ", ", sizeof(valid) - strlen(valid) - 1);
                                strncat(valid, op_names[i].symbol,
                                        sizeof(valid) - strlen(valid) - 1);
                        }
                return error_at(p, p->t.start, "operator '%s' is not valid for %s (%s are)",
                                op_names[n->op].symbol, subject_names[n->subject], valid);
        }
        return 0;
}

/* predicate := subject operator [ argument ] */
static int parse_predicate(struct parser *p, struct placement_query_node **ret) {
        struct placement_query_node *n;
        int r;

        n = node_new(PLACEMENT_QUERY_PREDICATE, p->t.start);
        if (!n)
                return oom(p);
        r = parse_subject(p, n);
        if (r >= 0)
                r = parse_operator(p, n);
        if (r >= 0) {
                if (op_takes_value(n->op))
                        r = parse_argument(p, n);
                else
                        r = lex_term(p);
        }
        if (r >= 0 && (n->op == PLACEMENT_OP_MATCHES || n->op == PLACEMENT_OP_NOT_MATCHES))
                r = compile_regex(p, n);
        if (r < 0) {
                node_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

/* unary := ( '!' | 'not' ) unary | '(' or_expr ')' | predicate */
static int parse_unary(struct parser *p, struct placement_query_node **ret) {
        struct placement_query_node *n = NULL;
        size_t start = p->t.start;
        bool paren;
        int r;

        if (p->t.type != TK_BANG && !token_is_word(p, "not") && p->t.type != TK_LPAREN)
                return parse_predicate(p, ret);

        if (++p->depth > PLACEMENT_QUERY_MAX_DEPTH)
                return error_at(p, start, "expression nested more than %d deep",
                                PLACEMENT_QUERY_MAX_DEPTH);
        if (p->t.type == TK_LPAREN) {
                r = lex_term(p);
                if (r >= 0)
                        r = parse_or(p, &n);
                if (r >= 0 && p->t.type != TK_RPAREN) {
                        node_free(n);
                        return error_at(p, p->t.start, "')' expected (to close '(' at column %u)",
                                        column_of(p, start));
                }
                if (r >= 0)
                        r = lex_term(p);
                if (r < 0) {
                        node_free(n);
                        return r;
                }
                p->depth--;
                *ret = n;
                return 0;
        }

        n = node_new(PLACEMENT_QUERY_NOT, start);
        if (!n)
                return oom(p);
        r = lex_term(p);
        /* `not(` is one level, as `!` alone is: the canonical form writes
         * every negation that way and must stay within the limit.  The
         * parenthesis counts the level instead of the not. */
        paren = r >= 0 && p->t.type == TK_LPAREN;
        if (paren)
                p->depth--;
        if (r >= 0)
                r = parse_unary(p, &n->left);
        if (r < 0) {
                node_free(n);
                return r;
        }
        if (!paren)
                p->depth--;
        *ret = n;
        return 0;
}

/* The binary levels, loosest first (not binds tighter than and, and tighter
 * than or):
 *   or_expr  := and_expr { ( '||' | 'or' ) and_expr }
 *   and_expr := unary { ( '&&' | 'and' ) unary } */
static const struct {
        int token;
        const char *word;
        enum placement_query_node_type kind;
} binary_levels[] = {
        {TK_OR, "or", PLACEMENT_QUERY_OR},
        {TK_AND, "and", PLACEMENT_QUERY_AND},
};

static int parse_level(struct parser *p, size_t level, struct placement_query_node **ret) {
        return level < ELEMENTSOF(binary_levels) ? parse_binary(p, level, ret)
                                                 : parse_unary(p, ret);
}

static int parse_binary(struct parser *p, size_t level, struct placement_query_node **ret) {
        struct placement_query_node *left = NULL;
        int r;

        r = parse_level(p, level + 1, &left);
        if (r < 0)
                return r;
        while ((int)p->t.type == binary_levels[level].token ||
               token_is_word(p, binary_levels[level].word)) {
                struct placement_query_node *n = node_new(binary_levels[level].kind, left->offset);
                if (!n) {
                        node_free(left);
                        return oom(p);
                }
                n->left = left;
                left = n;
                r = lex_term(p);
                if (r >= 0)
                        r = parse_level(p, level + 1, &n->right);
                if (r < 0) {
                        node_free(left);
                        return r;
                }
        }
        *ret = left;
        return 0;
}

static int parse_or(struct parser *p, struct placement_query_node **ret) {
        return parse_binary(p, 0, ret);
}

/* query := or_expr EOF */
static int parse_query(struct parser *p, struct placement_query_node **ret) {
        struct placement_query_node *n = NULL;
        int r;

        r = lex_term(p);
        if (r < 0)
                return r;
        if (p->t.type == TK_EOF)
                return error_at(p, p->t.start, "empty expression (subject expected)");
        r = parse_or(p, &n);
        if (r < 0)
                return r;
        if (p->t.type != TK_EOF) {
                size_t at = p->t.start;
                enum token_type type = p->t.type;
                node_free(n);
                if (type == TK_RPAREN)
                        return error_at(p, at, "unexpected ')' (no '(' to close)");
                if (p->prev == TK_BARE && type != TK_AND && type != TK_OR && type != TK_OP &&
                    type != TK_BANG)
                        return error_at(p, at,
                                        "'and', 'or' or end of expression expected (quote a value "
                                        "that contains spaces, brackets, parentheses, commas or "
                                        "quotes)");
                return error_at(p, at, "'and', 'or' or end of expression expected");
        }
        *ret = n;
        return 0;
}

int placement_query_parse(struct placement_query **ret, const char *text, size_t len,
                          struct placement_error *e) {
        struct placement_query *q;
        struct parser p = {.src = text, .len = len, .e = e};
        size_t chars = 0;
        int r;

        for (size_t i = 0; i < len; i++)
                if (((unsigned char)text[i] & 0xC0) != 0x80)
                        chars++;
        if (chars > PLACEMENT_QUERY_MAX_LENGTH)
                return placement_error_set(
                        e, -EINVAL,
                        "The expression can have a maximum length of %d characters (it has %zu).",
                        PLACEMENT_QUERY_MAX_LENGTH, chars);

        q = calloc(1, sizeof(*q));
        if (!q)
                return placement_error_set(e, -ENOMEM, "out of memory");
        q->source = strndup(text, len);
        q->length = len;
        q->regex_steps = calloc(1, sizeof(*q->regex_steps));
        if (!q->source || !q->regex_steps) {
                placement_query_free(q);
                return placement_error_set(e, -ENOMEM, "out of memory");
        }
        p.regex_steps = q->regex_steps;
        r = parse_query(&p, &q->root);
        if (r < 0) {
                placement_query_free(q);
                return r;
        }
        *ret = q;
        return 0;
}

/* ---- printer ---- */

static bool value_needs_quotes(const char *v) {
        if (!*v)
                return true;
        for (; *v; v++)
                if (ends_value(*v))
                        return true;
        return false;
}

static void print_value(FILE *f, const char *v) {
        char q;

        if (!value_needs_quotes(v)) {
                fputs(v, f);
                return;
        }
        q = !strchr(v, '\'') ? '\'' : !strchr(v, '"') ? '"' : '\'';
        fputc(q, f);
        for (; *v; v++) {
                if (*v == q)
                        fputc('\\', f);
                fputc(*v, f);
        }
        fputc(q, f);
}

static int node_precedence(const struct placement_query_node *n) {
        return n->type == PLACEMENT_QUERY_OR ? 1 : n->type == PLACEMENT_QUERY_AND ? 2 : 3;
}

static void print_node(FILE *f, const struct placement_query_node *n, int min_prec) {
        bool parens = node_precedence(n) < min_prec;

        if (parens)
                fputc('(', f);
        switch (n->type) {
        case PLACEMENT_QUERY_OR:
        case PLACEMENT_QUERY_AND: {
                int prec = node_precedence(n);
                print_node(f, n->left, prec);
                fputs(n->type == PLACEMENT_QUERY_OR ? " or " : " and ", f);
                /* Right operands get one level more so a right-nested tree
                 * keeps its parentheses and reparses to the same shape. */
                print_node(f, n->right, prec + 1);
                break;
        }
        case PLACEMENT_QUERY_NOT:
                fputs("not(", f);
                print_node(f, n->left, 0);
                fputc(')', f);
                break;
        case PLACEMENT_QUERY_PREDICATE:
                fputs(subject_names[n->subject], f);
                if (n->attribute)
                        fputs(n->attribute, f);
                fprintf(f, " %s", op_names[n->op].symbol);
                if (op_takes_list(n->op)) {
                        fputs(" [", f);
                        for (size_t i = 0; i < n->n_values; i++) {
                                if (i > 0)
                                        fputs(", ", f);
                                print_value(f, n->values[i].text);
                        }
                        fputc(']', f);
                } else if (n->n_values > 0) {
                        fputc(' ', f);
                        print_value(f, n->values[0].text);
                }
                break;
        }
        if (parens)
                fputc(')', f);
}

int placement_query_format(const struct placement_query *q, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        print_node(f, q->root, 0);
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

void placement_query_strv_free(char **v) {
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}

static int collect_subjects(const struct placement_query_node *n, char ***v, size_t *k) {
        char *s;

        if (!n)
                return 0;
        if (n->type != PLACEMENT_QUERY_PREDICATE) {
                int r = collect_subjects(n->left, v, k);
                return r < 0 ? r : collect_subjects(n->right, v, k);
        }
        if (asprintf(&s, "%s%s", subject_names[n->subject], n->attribute ? n->attribute : "") < 0)
                return -ENOMEM;
        for (size_t i = 0; i < *k; i++)
                if (streq((*v)[i], s)) {
                        free(s);
                        return 0;
                }
        char **grown = realloc(*v, (*k + 2) * sizeof(char *));
        if (!grown) {
                free(s);
                return -ENOMEM;
        }
        *v = grown;
        (*v)[(*k)++] = s;
        (*v)[*k] = NULL;
        return 0;
}

int placement_query_subjects(const struct placement_query *q, char ***ret) {
        char **v = calloc(1, sizeof(char *));
        size_t k = 0;
        int r;

        if (!v)
                return -ENOMEM;
        r = collect_subjects(q->root, &v, &k);
        if (r < 0) {
                placement_query_strv_free(v);
                return r;
        }
        *ret = v;
        return 0;
}
