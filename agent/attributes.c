/* attributes.c: the desired custom attributes and the difference to send.
 * Sources are read in a fixed order (ECS_INSTANCE_ATTRIBUTES, then *.json
 * files by byte order of name) and later definitions win; every problem is
 * collected as a message naming source, attribute, rule and character.
 * Only attributes_read_dir() touches the file system; nothing here logs. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attributes.h"
#include "errors.h"
#include "escape.h"
#include "fileio.h"
#include "macro.h"

/* Names shown in messages are cut to this many bytes (a 129-character name
 * would drown the message that says it is too long). */
#define QUOTE_MAX 40

static const char NAME_PUNCT[] = "-_/\\.";
static const char VALUE_PUNCT[] = "-_.@/\\: ";

/* ---- sets ---- */

static void attribute_done(struct attribute *a) {
        free(a->name);
        free(a->value);
        free(a->source);
        *a = (struct attribute){};
}

void attribute_set_done(struct attribute_set *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n; i++)
                attribute_done(&s->v[i]);
        free(s->v);
        *s = (struct attribute_set){};
}

/* Index of name, or where it would be inserted (*found false). */
static size_t set_search(const struct attribute_set *s, const char *name, bool *found) {
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(s->v[mid].name, name);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

const struct attribute *attribute_set_find(const struct attribute_set *s, const char *name) {
        bool found;
        size_t i;

        if (!s || !name)
                return NULL;
        i = set_search(s, name, &found);
        return found ? &s->v[i] : NULL;
}

static int strdup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

int attribute_set_put(struct attribute_set *s, const char *name, const char *value,
                      const char *source) {
        _cleanup_free_ char *n = NULL, *v = NULL, *src = NULL;
        struct attribute *a;
        bool found;
        size_t i;

        if (!s || !name)
                return -EINVAL;
        /* "" and NULL both mean "no value" (ECS has no empty values), so
         * one spelling is kept and comparisons need not care. */
        if (value && !value[0])
                value = NULL;
        if (!(n = strdup(name)) || strdup_or_null(value, &v) < 0 ||
            strdup_or_null(source, &src) < 0)
                return -ENOMEM;

        i = set_search(s, name, &found);
        if (found) {
                a = &s->v[i];
                free(a->value);
                free(a->source);
                a->value = TAKE_PTR(v);
                a->source = TAKE_PTR(src);
                return 0;
        }
        a = reallocarray(s->v, s->n + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        s->v = a;
        memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *a);
        s->v[i] = (struct attribute){TAKE_PTR(n), TAKE_PTR(v), TAKE_PTR(src)};
        s->n++;
        return 0;
}

int attribute_set_remove(struct attribute_set *s, const char *name) {
        bool found;
        size_t i;

        if (!s || !name)
                return -EINVAL;
        i = set_search(s, name, &found);
        if (!found)
                return -ENOENT;
        attribute_done(&s->v[i]);
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
        s->n--;
        return 0;
}

/* ---- messages ---- */

/* Bytes of the UTF-8 character starting at s (at most avail), or 1 when s
 * does not start a well-formed one: a stray byte is shown on its own. */
static size_t utf8_len(const unsigned char *s, size_t avail) {
        size_t n;

        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4;
        else
                return 1;
        if (n > avail)
                return 1;
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 1;
        return n;
}

/* Characters, not bytes: ECS counts characters, and a name in UTF-8 should
 * not be called longer than it looks. */
static size_t utf8_count(const char *s) {
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if ((*p & 0xc0) != 0x80)
                        n++;
        return n;
}

/* "name" as it reads in a message: escaped and cut after QUOTE_MAX bytes. */
static char *quote_name(char buf[static ESCAPE_QUOTE_SIZE(QUOTE_MAX)], const char *s) {
        return escape_quote(buf, s, strlen(s), QUOTE_MAX, '"');
}

/* The offending character at s as 'c', '\xNN' or '\xNN\xNN' (a whole UTF-8
 * character, so "é" is one character at one position). */
static char *describe_char(char buf[static ESCAPE_QUOTE_SIZE(4)], const char *s) {
        const unsigned char *p = (const unsigned char *)s;

        return escape_quote(buf, s, utf8_len(p, strnlen(s, 4)), 4, '\'');
}

/* ---- rules ---- */

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* First character of s not a letter, digit or one of punct; NULL if none. */
static const char *first_bad(const char *s, const char *punct) {
        for (; *s; s++)
                if (!is_alnum(*s) && !strchr(punct, *s))
                        return s;
        return NULL;
}

static int bad_char_error(char **error, const char *what, const char *allowed, const char *s,
                          const char *bad) {
        char c[ESCAPE_QUOTE_SIZE(4)];

        /* Everything before the first bad character is ASCII, so the
         * character position is the byte offset plus one. */
        return errmsg_set(error, "the %s may hold only %s ; %s at position %zu is not allowed",
                          what, allowed, describe_char(c, bad), (size_t)(bad - s) + 1);
}

int attribute_validate(const char *name, const char *value, char **error) {
        const char *bad;
        size_t n;

        if (!name)
                return errmsg_set(error, "the name is missing");
        n = utf8_count(name);
        if (n == 0)
                return errmsg_set(error, "the name is empty; a name has 1 to %d characters",
                                  ATTRIBUTE_NAME_MAX);
        if (n > ATTRIBUTE_NAME_MAX)
                return errmsg_set(error, "the name is %zu characters long; at most %d are allowed",
                                  n, ATTRIBUTE_NAME_MAX);
        bad = first_bad(name, NAME_PUNCT);
        if (bad)
                return bad_char_error(error, "name", "letters, digits and - _ / \\ .", name, bad);

        if (!value || !value[0]) /* no value */
                return 0;
        n = utf8_count(value);
        if (n > ATTRIBUTE_VALUE_MAX)
                return errmsg_set(error, "the value is %zu characters long; at most %d are allowed",
                                  n, ATTRIBUTE_VALUE_MAX);
        if (value[0] == ' ')
                return errmsg_set(error, "the value may not start with a space");
        bad = first_bad(value, VALUE_PUNCT);
        if (bad)
                return bad_char_error(error, "value",
                                      "letters, digits, spaces and - _ . @ / \\ :", value, bad);
        if (value[strlen(value) - 1] == ' ')
                return errmsg_set(error, "the value may not end with a space");
        return 0;
}

bool attribute_is_builtin(const char *name) {
        return name && strncmp(name, "ecs.", 4) == 0;
}

/* ---- JSON ---- */

static void line_column(const char *text, size_t off, unsigned *line, unsigned *col) {
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < off; i++) {
                if (text[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else
                        (*col)++;
        }
}

/* cJSON decodes \u0000 into a NUL that silently ends the C string, so
 * "a\u0000:b" would pass as "a".  Returns the offset of the first such
 * escape, or len.  Only called on text cJSON accepted, where a backslash
 * can appear only inside strings. */
static size_t find_nul_escape(const char *text, size_t len) {
        for (size_t i = 0; i < len; i++) {
                size_t run = 0;
                if (text[i] != '\\')
                        continue;
                while (i + run < len && text[i + run] == '\\')
                        run++;
                i += run; /* text[i] follows the run */
                if (run % 2 == 1 && len - i >= 5 && text[i] == 'u' &&
                    memcmp(text + i + 1, "0000", 4) == 0)
                        return i - 1;
                i--; /* the loop's i++ lands on text[i] again */
        }
        return len;
}

static const char *json_type(const cJSON *j) {
        if (cJSON_IsNumber(j))
                return "a number";
        if (cJSON_IsBool(j))
                return "a boolean";
        if (cJSON_IsArray(j))
                return "an array";
        if (cJSON_IsObject(j))
                return "an object";
        if (cJSON_IsString(j))
                return "a string";
        if (cJSON_IsNull(j))
                return "null";
        return "an unknown JSON value";
}

static bool only_space(const char *text, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!strchr(" \t\r\n", text[i]) || !text[i])
                        return false;
        return true;
}

/* One "key": value member of a source's object. */
static int parse_member(const char *source, const cJSON *item, struct attribute_set *set,
                        struct errors *errs, int *bad) {
        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];
        _cleanup_free_ char *msg = NULL;
        const char *value = NULL;
        int r;

        quote_name(q, item->string ? item->string : "");
        if (cJSON_IsString(item))
                value = item->valuestring;
        else if (!cJSON_IsNull(item)) {
                _cleanup_free_ char *raw = NULL;
                (*bad)++;
                /* A number or boolean most likely means the text: say how. */
                if ((cJSON_IsNumber(item) || cJSON_IsBool(item)) &&
                    (raw = cJSON_PrintUnformatted(item)))
                        return errors_add(errs, source, 0,
                                          "attribute %s: the value must be a string or null, "
                                          "not %s (quote it: \"%s\")",
                                          q, json_type(item), raw);
                return errors_add(errs, source, 0,
                                  "attribute %s: the value must be a string or null, not %s", q,
                                  json_type(item));
        }

        r = attribute_validate(item->string, value, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                (*bad)++;
                return errors_add(errs, source, 0, "attribute %s: %s", q, msg);
        }
        if (attribute_is_builtin(item->string)) {
                (*bad)++;
                return errors_add(errs, source, 0,
                                  "attribute %s: names starting with \"ecs.\" are built-in "
                                  "attributes of ECS and its agent; choose another name",
                                  q);
        }
        return attribute_set_put(set, item->string, value, source);
}

/* The whole text as one JSON value, or a "malformed JSON" message with the
 * place: cJSON's error offset is approximate (it may point one past the
 * culprit), hence "near"; the reason is given where it is certain. */
static int parse_root(const char *source, const char *json, size_t len, cJSON **ret,
                      struct errors *errs) {
        _cleanup_free_ char *copy = NULL;
        const char *end = NULL, *why = "", *nul;
        unsigned line, col;
        cJSON *root = NULL;
        size_t at;
        int r;

        /* A NUL byte would end the text early for cJSON and for messages. */
        nul = memchr(json, 0, len);
        if (nul) {
                at = (size_t)(nul - json);
                why = ": a NUL byte";
                goto fail;
        }
        /* With the terminating NUL inside the length, running out of text
         * fails at offset len, which tells "incomplete" from a bad last
         * character. */
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, json, len);
        copy[len] = 0;
        root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, false);
        if (!root) {
                at = end && end >= copy && end <= copy + len ? (size_t)(end - copy) : 0;
                if (at == len)
                        why = ": the text ends before the object is complete";
                goto fail;
        }
        /* cJSON stops after the value; the object must be the whole text. */
        at = (size_t)(end - copy);
        while (at < len && strchr(" \t\r\n", json[at]))
                at++;
        if (at < len) {
                why = ": text after the end of the object";
                goto fail;
        }
        at = find_nul_escape(json, len);
        if (at < len) {
                why = ": \\u0000 is not allowed";
                goto fail;
        }
        *ret = root;
        return 0;

fail:
        cJSON_Delete(root);
        line_column(json, at, &line, &col);
        r = errors_add(errs, source, 0, "malformed JSON near line %u, column %u%s", line, col, why);
        return r < 0 ? r : -EINVAL;
}

int attributes_parse_json(const char *source, const char *json, size_t len,
                          struct attribute_set *set, struct errors *errs) {
        cJSON *root = NULL, *item;
        int r = 0, bad = 0;

        if (!source || !set || !errs || (!json && len > 0))
                return -EINVAL;
        if (!json || only_space(json, len)) {
                r = errors_add(errs, source, 0,
                               "empty; expected a JSON object such as {\"team\": \"blue\"} "
                               "({} for no attributes)");
                return r < 0 ? r : -EINVAL;
        }

        r = parse_root(source, json, len, &root, errs);
        if (r < 0)
                return r;

        if (!cJSON_IsObject(root)) {
                r = errors_add(errs, source, 0,
                               "expected a JSON object such as {\"team\": \"blue\"}, not %s",
                               json_type(root));
                cJSON_Delete(root);
                return r < 0 ? r : -EINVAL;
        }

        /* cJSON keeps duplicate keys in order, so the last one wins here as
         * it does across sources. */
        cJSON_ArrayForEach(item, root) {
                /* A bad member is recorded (-EINVAL) and the rest still read. */
                r = parse_member(source, item, set, errs, &bad);
                if (r == -ENOMEM)
                        break;
        }
        cJSON_Delete(root);
        if (r == -ENOMEM)
                return r;
        return bad ? -EINVAL : 0;
}

/* ---- the directory ---- */

void attribute_files_free(struct attribute_file *f, size_t n) {
        if (!f)
                return;
        for (size_t i = 0; i < n; i++) {
                free(f[i].path);
                free(f[i].text);
        }
        free(f);
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_candidate(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* Read one entry; 0 with *ret_text NULL when it is to be ignored
 * (a directory, or gone since readdir).  Symlinks are followed: pointing
 * attributes.d/x.json at a shared file is how operators reuse one. */
static int read_entry(int dfd, const char *name, const char *path, char **ret_text, size_t *ret_len,
                      struct errors *errs) {
        struct stat lst;
        size_t len = 0;
        int r;

        *ret_text = NULL;
        *ret_len = 0;
        r = fileio_read_at(dfd, name, ATTRIBUTES_FILE_MAX, 0, ret_text, &len);
        switch (r) {
        case 0:
                *ret_len = len;
                return 0;
        case -ENOENT:
                if (fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
                        return 0; /* removed meanwhile: it is not part of the set */
                return errors_add(errs, path, 0, "cannot read: a dangling symlink");
        case -EISDIR:
                return 0;
        case -EBADFD:
                return errors_add(errs, path, 0, "not a regular file");
        case -EFBIG:
                if (len > 0)
                        return errors_add(errs, path, 0,
                                          "the file is %zu bytes; an attributes file may hold at "
                                          "most %d bytes (64 KiB)",
                                          len, ATTRIBUTES_FILE_MAX);
                return errors_add(errs, path, 0,
                                  "the file is more than %d bytes; an attributes file may hold at "
                                  "most %d bytes (64 KiB)",
                                  ATTRIBUTES_FILE_MAX, ATTRIBUTES_FILE_MAX);
        case -ENOMEM:
                return r;
        default:
                return errors_add(errs, path, 0, "cannot read: %s", strerror(-r));
        }
}

static void names_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* The candidate names of d, sorted in byte order (the order must not
 * depend on readdir's).  More than ATTRIBUTES_FILES_MAX is an error and
 * none is returned: a directory anyone filled with files must not cost the
 * daemon unbounded time and memory. */
static int collect_names(DIR *d, const char *dir, char ***ret, size_t *ret_n, struct errors *errs) {
        char **names = NULL;
        struct dirent *de;
        size_t n = 0;
        int r = 0;

        while ((errno = 0, de = readdir(d))) {
                char **v;
                if (!is_candidate(de->d_name))
                        continue;
                if (n == ATTRIBUTES_FILES_MAX) {
                        r = errors_add(errs, dir, 0,
                                       "holds more than %d *.json files; at most %d are read, "
                                       "and none is until there are fewer",
                                       ATTRIBUTES_FILES_MAX, ATTRIBUTES_FILES_MAX);
                        names_free(names, n);
                        return r == -ENOMEM ? r : 0;
                }
                v = reallocarray(names, n + 1, sizeof *v);
                if (!v || !(v[n] = strdup(de->d_name))) {
                        names_free(v ? v : names, n);
                        return -ENOMEM;
                }
                names = v;
                n++;
        }
        if (errno != 0 &&
            errors_add(errs, dir, 0, "cannot read the directory: %s", strerror(errno)) == -ENOMEM) {
                names_free(names, n);
                return -ENOMEM;
        }
        if (n > 0)
                qsort(names, n, sizeof *names, cmp_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

int attributes_read_dir(const char *dir, struct attribute_file **ret, size_t *ret_n,
                        struct errors *errs) {
        struct attribute_file *files = NULL;
        char **names = NULL;
        size_t n_names = 0, n_files = 0, n_errs;
        const char *sep;
        DIR *d;
        int r;

        if (!dir || !ret || !ret_n || !errs)
                return -EINVAL;
        n_errs = errs->n;
        sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                r = errors_add(errs, dir, 0, "cannot open the directory: %s", strerror(errno));
                return r < 0 ? r : -EINVAL;
        }
        r = collect_names(d, dir, &names, &n_names, errs);
        if (r == 0 && n_names > 0 && !(files = calloc(n_names, sizeof *files)))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < n_names; i++) {
                struct attribute_file *f = &files[n_files];
                if (asprintf(&f->path, "%s%s%s", dir, sep, names[i]) < 0) {
                        f->path = NULL;
                        r = -ENOMEM;
                        break;
                }
                r = read_entry(dirfd(d), names[i], f->path, &f->text, &f->len, errs);
                if (r == -EINVAL)
                        r = 0; /* recorded in errs; the other files are still read */
                if (r >= 0 && f->text)
                        n_files++;
                else
                        f->path = mfree(f->path);
        }
        closedir(d);
        names_free(names, n_names);
        if (r < 0) {
                attribute_files_free(files, n_files);
                return r;
        }
        *ret = files;
        *ret_n = n_files;
        return errs->n > n_errs ? -EINVAL : 0;
}

/* ---- desired set and difference ---- */

/* The "too many" message lists every attribute under the source that
 * defined it last, sources in reading order, so the operator sees where to
 * cut. */
static int too_many(const struct attribute_set *set, const char *env_json,
                    const struct attribute_file *files, size_t n_files, struct errors *errs) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        bool first_source = true;

        if (!f)
                return -ENOMEM;
        fprintf(f, "%zu custom attributes, at most %d are allowed (", set->n,
                ATTRIBUTES_MAX_CUSTOM);
        for (size_t s = 0; s <= n_files; s++) {
                const char *src = s == 0 ? "ECS_INSTANCE_ATTRIBUTES" : files[s - 1].path;
                bool first = true;
                if (s == 0 && !env_json)
                        continue;
                for (size_t i = 0; i < set->n; i++) {
                        char q[ESCAPE_QUOTE_SIZE(QUOTE_MAX)];
                        if (!streq_ptr(set->v[i].source, src))
                                continue;
                        fprintf(f, "%s%s%s", first ? (first_source ? "" : "; ") : ", ",
                                first ? src : "", first ? ": " : "");
                        fputs(quote_name(q, set->v[i].name), f);
                        first = first_source = false;
                }
        }
        fputc(')', f);
        if (fclose(f) != 0)
                return -ENOMEM;
        /* About the whole set, so no one source: the message names them all. */
        return errors_add(errs, NULL, 0, "%s", buf);
}

int attributes_desired(const char *env_json, const struct attribute_file *files, size_t n_files,
                       struct attribute_set *ret, struct errors *errs) {
        struct attribute_set set = {};
        int r = 0;

        if (!ret || !errs || (!files && n_files > 0))
                return -EINVAL;
        if (env_json && !env_json[0]) /* set but empty: as unset, like the ECS agent */
                env_json = NULL;
        if (env_json)
                r = attributes_parse_json("ECS_INSTANCE_ATTRIBUTES", env_json, strlen(env_json),
                                          &set, errs);
        for (size_t i = 0; r != -ENOMEM && i < n_files; i++)
                r = attributes_parse_json(files[i].path ? files[i].path : "(unnamed)",
                                          files[i].text, files[i].len, &set, errs);
        if (r != -ENOMEM && set.n > ATTRIBUTES_MAX_CUSTOM)
                r = too_many(&set, env_json, files, n_files, errs);
        if (r == -ENOMEM || errs->n > 0) {
                attribute_set_done(&set);
                return r == -ENOMEM ? r : -EINVAL;
        }
        attribute_set_done(ret);
        *ret = set;
        return 0;
}

static bool value_eq(const char *a, const char *b) {
        return streq_ptr(a && a[0] ? a : NULL, b && b[0] ? b : NULL);
}

int attributes_diff(const struct attribute_set *desired, const struct attribute_set *actual,
                    const struct attribute_set *owned, struct attribute_set *ret_put,
                    struct attribute_set *ret_delete) {
        struct attribute_set put = {}, del = {};
        int r = 0;

        if (!desired || !actual || !owned)
                return -EINVAL;
        for (size_t i = 0; r >= 0 && i < desired->n; i++) {
                const struct attribute *d = &desired->v[i],
                                       *a = attribute_set_find(actual, d->name);
                if (!a || !value_eq(a->value, d->value))
                        r = attribute_set_put(&put, d->name, d->value, d->source);
        }
        for (size_t i = 0; r >= 0 && i < owned->n; i++) {
                const struct attribute *o = &owned->v[i], *a = attribute_set_find(actual, o->name);
                if (a && !attribute_set_find(desired, o->name))
                        r = attribute_set_put(&del, a->name, a->value, o->source);
        }
        if (r < 0) {
                attribute_set_done(&put);
                attribute_set_done(&del);
                return r;
        }
        if (ret_put) {
                attribute_set_done(ret_put);
                *ret_put = put;
        } else
                attribute_set_done(&put);
        if (ret_delete) {
                attribute_set_done(ret_delete);
                *ret_delete = del;
        } else
                attribute_set_done(&del);
        return 0;
}
