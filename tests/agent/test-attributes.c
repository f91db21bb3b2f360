/* test-attributes.c: the attributes module.  Every rule with its exact
 * message, the order and overrides across ECS_INSTANCE_ATTRIBUTES and the
 * directory (a temporary one this test creates and removes), the limits and
 * the difference to send.  Most cases are data: input and exact output. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attributes.h"
#include "macro.h"
#include "test-errors.h"
#include "test.h"

/* "a=1 b c=x y" (b without a value): a set in one string. */
static char *render(const struct attribute_set *s, bool with_source) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                abort();
        for (size_t i = 0; i < s->n; i++) {
                fprintf(f, "%s%s", i ? " " : "", s->v[i].name);
                if (s->v[i].value)
                        fprintf(f, "=%s", s->v[i].value);
                if (with_source)
                        fprintf(f, "@%s", s->v[i].source ? s->v[i].source : "(null)");
        }
        fclose(f);
        return buf;
}

/* attribute_set_put() where a test only builds a set. */
static void set_put(struct attribute_set *s, const char *name, const char *value,
                    const char *source) {
        if (attribute_set_put(s, name, value, source) < 0)
                abort();
}

/* "a=1 b" -> a set (values may not hold spaces here). */
static void set_from(struct attribute_set *s, const char *text, const char *source) {
        _cleanup_free_ char *copy = strdup(text);
        char *save = NULL;

        if (!copy)
                abort();
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(w, '=');
                if (eq)
                        *eq++ = 0;
                if (attribute_set_put(s, w, eq, source) < 0)
                        abort();
        }
}

static void test_validate(void) {
        static const struct {
                const char *name, *attr, *value, *want;
        } cases[] = {
                {"plain name", "team", NULL, NULL},
                {"every allowed name character", "aZ09-_/\\.", NULL, NULL},
                {"name of 128 characters",
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxx",
                 NULL, NULL},
                {"name of 129 characters",
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxx",
                 NULL, "the name is 129 characters long; at most 128 are allowed"},
                {"empty name", "", NULL, "the name is empty; a name has 1 to 128 characters"},
                {"colon in a name", "team:x", NULL,
                 "the name may hold only letters, digits and - _ / \\ . ; ':' at position 5 is "
                 "not allowed"},
                {"space in a name", "my team", "x",
                 "the name may hold only letters, digits and - _ / \\ . ; ' ' at position 3 is "
                 "not allowed"},
                {"@ in a name (allowed only in values)", "a@b", NULL,
                 "the name may hold only letters, digits and - _ / \\ . ; '@' at position 2 is "
                 "not allowed"},
                {"control byte in a name", "ab\x01", NULL,
                 "the name may hold only letters, digits and - _ / \\ . ; '\\x01' at position 3 "
                 "is not allowed"},
                {"quote in a name", "it's", NULL,
                 "the name may hold only letters, digits and - _ / \\ . ; '\\'' at position 3 is "
                 "not allowed"},
                {"UTF-8 character in a name", "caf\xc3\xa9", NULL,
                 "the name may hold only letters, digits and - _ / \\ . ; '\\xc3\\xa9' at "
                 "position 4 is not allowed"},
                {"stray byte in a name", "x\xff", NULL,
                 "the name may hold only letters, digits and - _ / \\ . ; '\\xff' at position 2 "
                 "is not allowed"},
                {"length counts characters, not bytes",
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                 NULL,
                 "the name may hold only letters, digits and - _ / \\ . ; '\\xc3\\xa9' at "
                 "position 1 is not allowed"},
                {"every allowed value character", "v", "aZ09-_.@/\\: x", NULL},
                {"value with inner spaces", "v", "blue team", NULL},
                {"empty value is no value", "v", "", NULL},
                {"value of 128 characters", "v",
                 "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                 "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                 NULL},
                {"value of 129 characters", "v",
                 "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                 "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                 "the value is 129 characters long; at most 128 are allowed"},
                {"value starting with a space", "v", " blue",
                 "the value may not start with a space"},
                {"value ending with a space", "v", "blue ", "the value may not end with a space"},
                {"value of one space", "v", " ", "the value may not start with a space"},
                {"# in a value", "v", "a#b",
                 "the value may hold only letters, digits, spaces and - _ . @ / \\ : ; '#' at "
                 "position 2 is not allowed"},
                {"tab in a value", "v", "a\tb",
                 "the value may hold only letters, digits, spaces and - _ . @ / \\ : ; '\\x09' "
                 "at position 2 is not allowed"},
                {"comma in a value", "v", "a,b",
                 "the value may hold only letters, digits, spaces and - _ . @ / \\ : ; ',' at "
                 "position 2 is not allowed"},
                {"the name is checked before the value", "a:b", "c#d",
                 "the name may hold only letters, digits and - _ / \\ . ; ':' at position 2 is "
                 "not allowed"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *err = NULL;
                int r = attribute_validate(cases[i].attr, cases[i].value, &err);
                if (!cases[i].want) {
                        if (err)
                                printf("# unexpected: %s\n", err);
                        CHECK(cases[i].name, r == 0 && !err);
                } else if (CHECK(cases[i].name, r == -EINVAL))
                        CHECK_STREQ(cases[i].name, err, cases[i].want);
        }

        CHECK("ecs. names are built-in", attribute_is_builtin("ecs.os-type"));
        CHECK("other names are not built-in", !attribute_is_builtin("ecsx.a") &&
                                                      !attribute_is_builtin("team") &&
                                                      !attribute_is_builtin("ecs"));
}

/* One text parsed as source "s.json": the messages and the set. */
static void check_parse(const char *name, const char *json, const char *want_errors,
                        const char *want_set) {
        struct attribute_set set = {};
        struct errors errs = {};
        _cleanup_free_ char *got_errors = NULL, *got_set = NULL;
        int r = attributes_parse_json("s.json", json, strlen(json), &set, &errs);

        got_errors = errors_text(&errs);
        got_set = render(&set, false);
        CHECK_STREQ(name, got_errors, want_errors);
        CHECK_STREQ(name, got_set, want_set);
        CHECK_INTEQ(name, r, want_errors[0] ? -EINVAL : 0);
        attribute_set_done(&set);
        errors_done(&errs);
}

static void test_parse_json(void) {
        check_parse("object of strings", "{\"team\": \"blue\", \"zone\": \"a:1\"}", "",
                    "team=blue zone=a:1");
        check_parse("null and \"\" mean no value", "{\"gpu\": null, \"ssd\": \"\"}", "", "gpu ssd");
        check_parse("empty object", " {}\n", "", "");
        check_parse("a later key overrides an earlier one", "{\"a\": \"1\", \"a\": \"2\"}", "",
                    "a=2");
        check_parse("sorted by name", "{\"b\": \"1\", \"a\": \"2\", \"C\": \"3\"}", "",
                    "C=3 a=2 b=1");
        check_parse("JSON escapes are decoded", "{\"dir\\\\sub\": \"a\\/b\"}", "", "dir\\sub=a/b");
        check_parse("malformed JSON names line and column", "{\n  \"a\": \"b\",\n  \"c\" \"d\"\n}",
                    "s.json: malformed JSON near line 3, column 7\n", "");
        check_parse("missing closing brace", "{\"a\": \"b\"",
                    "s.json: malformed JSON near line 1, column 10: the text ends before the "
                    "object is complete\n",
                    "");
        check_parse("text after the object", "{\"a\": \"b\"}\n{\"c\": \"d\"}",
                    "s.json: malformed JSON near line 2, column 1: text after the end of the "
                    "object\n",
                    "");
        check_parse("\\u0000 would cut a name short", "{\"ok\": \"1\",\n \"a\\u0000:b\": \"x\"}",
                    "s.json: malformed JSON near line 2, column 4: \\u0000 is not allowed\n", "");
        check_parse("\\\\u0000 is a backslash then text", "{\"a\": \"x\\\\u0000\"}", "",
                    "a=x\\u0000");
        check_parse("empty text", "",
                    "s.json: empty; expected a JSON object such as {\"team\": \"blue\"} ({} for no "
                    "attributes)\n",
                    "");
        check_parse("only blanks", " \n\t",
                    "s.json: empty; expected a JSON object such as {\"team\": \"blue\"} ({} for no "
                    "attributes)\n",
                    "");
        check_parse("an array is not an object", "[\"a\"]",
                    "s.json: expected a JSON object such as {\"team\": \"blue\"}, not an array\n",
                    "");
        check_parse("a string is not an object", "\"team=blue\"",
                    "s.json: expected a JSON object such as {\"team\": \"blue\"}, not a string\n",
                    "");
        check_parse("a number value names its type and the fix", "{\"port\": 8080, \"ok\": \"y\"}",
                    "s.json: attribute \"port\": the value must be a string or null, not a number "
                    "(quote it: \"8080\")\n",
                    "ok=y");
        check_parse("a boolean value", "{\"gpu\": true}",
                    "s.json: attribute \"gpu\": the value must be a string or null, not a boolean "
                    "(quote it: \"true\")\n",
                    "");
        check_parse("an object value", "{\"a\": {\"b\": \"c\"}}",
                    "s.json: attribute \"a\": the value must be a string or null, not an object\n",
                    "");
        check_parse("an array value", "{\"a\": [\"b\"]}",
                    "s.json: attribute \"a\": the value must be a string or null, not an array\n",
                    "");
        check_parse("every bad member is reported, good ones kept",
                    "{\"team:x\": \"1\", \"good\": \"2\", \"v\": \" x\", \"\": \"3\"}",
                    "s.json: attribute \"team:x\": the name may hold only letters, digits and - _ "
                    "/ \\ . ; ':' at position 5 is not allowed\n"
                    "s.json: attribute \"v\": the value may not start with a space\n"
                    "s.json: attribute \"\": the name is empty; a name has 1 to 128 characters\n",
                    "good=2");
        check_parse("control characters in a name are escaped", "{\"a\\u0001\\\"b\": \"x\"}",
                    "s.json: attribute \"a\\x01\\\"b\": the name may hold only letters, digits and "
                    "- _ / \\ . ; '\\x01' at position 2 is not allowed\n",
                    "");
        check_parse(
                "a long name is cut in the message",
                "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": \"x\"}",
                "s.json: attribute \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"...: the name "
                "is 129 characters long; at most 128 are allowed\n",
                "");
        check_parse("built-in names are refused", "{\"ecs.instance-type\": \"x\", \"ecsx\": \"y\"}",
                    "s.json: attribute \"ecs.instance-type\": names starting with \"ecs.\" are "
                    "built-in attributes of ECS and its agent; choose another name\n",
                    "ecsx=y");
}

/* Text with bytes strlen() would stop at. */
static void test_parse_bytes(void) {
        static const char text[] = "{\"a\": \"b\"}\0{";
        struct attribute_set set = {};
        struct errors errs = {};
        _cleanup_free_ char *got = NULL;

        attributes_parse_json("s.json", text, sizeof text - 1, &set, &errs);
        got = errors_text(&errs);
        CHECK_STREQ("a NUL byte after the object is not the end", got,
                    "s.json: malformed JSON near line 1, column 11: a NUL byte\n");
        CHECK_INTEQ("nothing kept from a malformed file", set.n, 0);
        attribute_set_done(&set);
        errors_done(&errs);
}

static void test_set(void) {
        struct attribute_set s = {};

        CHECK_INTEQ("put", attribute_set_put(&s, "b", "1", "x"), 0);
        set_put(&s, "a", NULL, "y");
        set_put(&s, "c", "", "z");
        set_put(&s, "b", "2", "w");
        _cleanup_free_ char *got = render(&s, true);
        CHECK_STREQ("put keeps names sorted and unique, \"\" stored as no value", got,
                    "a@y b=2@w c@z");
        CHECK("find", attribute_set_find(&s, "b") && !attribute_set_find(&s, "bb"));
        CHECK_INTEQ("remove", attribute_set_remove(&s, "b"), 0);
        CHECK_INTEQ("remove absent", attribute_set_remove(&s, "b"), -ENOENT);
        CHECK_INTEQ("two left", s.n, 2);
        attribute_set_done(&s);
        attribute_set_done(&s); /* twice is harmless */
        CHECK("done empties", s.n == 0 && !s.v);
}

/* attributes_desired over env and in-memory files. */
static void check_desired(const char *name, const char *env, const struct attribute_file *files,
                          size_t n, const char *want_errors, const char *want_set) {
        struct attribute_set set = {};
        struct errors errs = {};
        _cleanup_free_ char *got_errors = NULL, *got_set = NULL;
        int r;

        set_put(&set, "previous", "1", "old"); /* replaced on success only */
        r = attributes_desired(env, files, n, &set, &errs);
        got_errors = errors_text(&errs);
        got_set = render(&set, true);
        CHECK_STREQ(name, got_errors, want_errors);
        CHECK_STREQ(name, got_set, want_errors[0] ? "previous=1@old" : want_set);
        CHECK_INTEQ(name, r, want_errors[0] ? -EINVAL : 0);
        attribute_set_done(&set);
        errors_done(&errs);
}

#define FILE_(p, t)                                                                                \
        { (char *)(p), (char *)(t), sizeof(t) - 1 }

static void test_desired(void) {
        const struct attribute_file two[] = {
                FILE_("d/a.json", "{\"team\": \"red\", \"zone\": \"a\"}"),
                FILE_("d/b.json", "{\"zone\": \"b\", \"gpu\": null}"),
        };
        const struct attribute_file bad[] = {
                FILE_("d/a.json", "{\"x:y\": \"1\"}"),
                FILE_("d/b.json", "{\"n\": 3}"),
        };
        const struct attribute_file eleven[] = {
                FILE_("d/a.json", "{\"a1\": \"1\", \"a2\": \"1\", \"a3\": \"1\", \"a4\": \"1\"}"),
                FILE_("d/b.json", "{\"b1\": \"1\", \"b2\": \"1\", \"b3\": \"1\", \"e1\": \"2\"}"),
        };
        const struct attribute_file ten[] = {
                FILE_("d/a.json", "{\"a1\": \"1\", \"a2\": \"1\", \"a3\": \"1\", \"a4\": \"1\"}"),
                FILE_("d/b.json", "{\"b1\": \"1\", \"b2\": \"1\", \"b3\": \"1\", \"b4\": \"1\"}"),
        };

        check_desired("nothing configured", NULL, NULL, 0, "", "");
        check_desired("empty ECS_INSTANCE_ATTRIBUTES is unset", "", NULL, 0, "", "");
        check_desired("env alone", "{\"team\": \"blue\"}", NULL, 0, "",
                      "team=blue@ECS_INSTANCE_ATTRIBUTES");
        check_desired("files override env, later files override earlier ones",
                      "{\"team\": \"blue\", \"env\": \"1\"}", two, 2, "",
                      "env=1@ECS_INSTANCE_ATTRIBUTES gpu@d/b.json team=red@d/a.json "
                      "zone=b@d/b.json");
        check_desired("errors from every source, the previous set kept", "{\"ecs.a\": \"1\"}", bad,
                      2,
                      "ECS_INSTANCE_ATTRIBUTES: attribute \"ecs.a\": names starting with \"ecs.\" "
                      "are built-in attributes of ECS and its agent; choose another name\n"
                      "d/a.json: attribute \"x:y\": the name may hold only letters, digits and - "
                      "_ / \\ . ; ':' at position 2 is not allowed\n"
                      "d/b.json: attribute \"n\": the value must be a string or null, not a "
                      "number (quote it: \"3\")\n",
                      NULL);
        check_desired("an invalid value is an error even when a later file fixes it",
                      "{\"team\": \"a b \"}", two, 1,
                      "ECS_INSTANCE_ATTRIBUTES: attribute \"team\": the value may not end with a "
                      "space\n",
                      NULL);
        check_desired("malformed env", "{team: blue}", NULL, 0,
                      "ECS_INSTANCE_ATTRIBUTES: malformed JSON near line 1, column 3\n", NULL);
        check_desired("ten custom attributes are allowed", "{\"a1\": \"0\", \"b4\": \"0\"}", ten, 2,
                      "",
                      "a1=1@d/a.json a2=1@d/a.json a3=1@d/a.json a4=1@d/a.json b1=1@d/b.json "
                      "b2=1@d/b.json b3=1@d/b.json b4=1@d/b.json");
        check_desired("eleven are too many: the count and where each came from",
                      "{\"a1\": \"0\", \"e1\": \"1\", \"e2\": \"1\", \"e3\": \"1\", \"e4\": \"1\"}",
                      eleven, 2,
                      "11 custom attributes, at most 10 are allowed (ECS_INSTANCE_ATTRIBUTES: "
                      "\"e2\", \"e3\", \"e4\"; d/a.json: \"a1\", \"a2\", \"a3\", \"a4\"; d/b.json: "
                      "\"b1\", "
                      "\"b2\", \"b3\", \"e1\")\n",
                      NULL);

        /* Errors collected before the call (from attributes_read_dir) fail it too. */
        struct attribute_set set = {};
        struct errors errs = {};
        set_put(&set, "keep", NULL, NULL);
        (void)errors_add(&errs, "d/x.json", 0, "cannot read: Permission denied");
        CHECK_INTEQ("earlier errors fail attributes_desired",
                    attributes_desired("{\"a\": \"b\"}", NULL, 0, &set, &errs), -EINVAL);
        CHECK("ret untouched on failure", set.n == 1 && strcmp(set.v[0].name, "keep") == 0);
        CHECK_INTEQ("no error added", errs.n, 1);
        attribute_set_done(&set);
        errors_done(&errs);
}

/* ---- the directory ---- */

static char tmpdir[] = "/tmp/test-attributes.XXXXXX";

static void write_file(const char *name, const char *text, size_t len) {
        _cleanup_free_ char *p = NULL;
        FILE *f;

        if (asprintf(&p, "%s/%s", tmpdir, name) < 0 || !(f = fopen(p, "we")))
                abort();
        fwrite(text, 1, len, f);
        fclose(f);
}

static void make_link(const char *target, const char *name) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/%s", tmpdir, name) < 0 || symlink(target, p) < 0)
                abort();
}

static void remove_tree(void) {
        _cleanup_free_ char *cmd = NULL;

        /* Our own mkdtemp directory only. */
        if (strncmp(tmpdir, "/tmp/test-attributes.", 21) == 0 &&
            asprintf(&cmd, "rm -rf '%s'", tmpdir) >= 0)
                (void)!system(cmd);
}

static char *files_paths(const struct attribute_file *f, size_t n) {
        char *buf = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);

        if (!out)
                abort();
        for (size_t i = 0; i < n; i++)
                fprintf(out, "%s%s", i ? " " : "", strrchr(f[i].path, '/') + 1);
        fclose(out);
        return buf;
}

static void test_read_dir(void) {
        struct attribute_file *files = NULL;
        struct errors errs = {};
        struct attribute_set set = {};
        _cleanup_free_ char *paths = NULL, *got = NULL, *want = NULL, *sub = NULL, *big = NULL,
                            *missing = NULL, *slash = NULL;
        size_t n = 99;
        int r;

        if (asprintf(&missing, "%s/none", tmpdir) < 0)
                abort();
        r = attributes_read_dir(missing, &files, &n, &errs);
        CHECK("a missing directory is an empty list", r == 0 && n == 0 && errs.n == 0);

        write_file("b.json", "{\"zone\": \"b\", \"team\": \"green\"}", 30);
        write_file("a.json", "{\"team\": \"red\"}", 15);
        write_file("B.json", "{\"upper\": \"1\"}", 14); /* 'B' < 'a' in byte order */
        write_file(".hidden.json", "{\"hidden\": \"1\"}", 15);
        write_file("notes.txt", "not json", 8);
        write_file("a.json~", "{\"backup\": \"1\"}", 15);
        write_file("x.json.bak", "{\"bak\": \"1\"}", 12);
        if (asprintf(&sub, "%s/sub.json", tmpdir) < 0 || mkdir(sub, 0755) < 0)
                abort();
        write_file("target.data", "{\"linked\": \"yes\"}", 17);
        make_link("target.data", "c-link.json");
        make_link(".", "d-dirlink.json");
        if (asprintf(&big, "%s/target.data", tmpdir) < 0)
                abort();

        r = attributes_read_dir(tmpdir, &files, &n, &errs);
        got = errors_text(&errs);
        CHECK_STREQ("no errors for a clean directory", got, "");
        CHECK_INTEQ("read_dir returns 0", r, 0);
        paths = files_paths(files, n);
        CHECK_STREQ("*.json in byte order; hidden, other names, directories ignored; symlinks "
                    "followed",
                    paths, "B.json a.json b.json c-link.json");
        if (asprintf(&want, "%s/a.json", tmpdir) < 0)
                abort();
        CHECK_STREQ("path is dir/name", n > 1 ? files[1].path : NULL, want);
        CHECK("text is the file's bytes, NUL-terminated",
              n > 1 && files[1].len == 15 && strcmp(files[1].text, "{\"team\": \"red\"}") == 0);

        r = attributes_desired("{\"team\": \"blue\", \"zone\": \"env\"}", files, n, &set, &errs);
        free(got);
        got = render(&set, false);
        CHECK_STREQ("env, then files in order: the last definition wins", got,
                    "linked=yes team=green upper=1 zone=b");
        attribute_files_free(files, n);
        attribute_set_done(&set);
        free(paths);

        /* A trailing slash does not double. */
        if (asprintf(&slash, "%s/", tmpdir) < 0)
                abort();
        r = attributes_read_dir(slash, &files, &n, &errs);
        CHECK_STREQ("trailing slash in the directory", n > 1 ? files[1].path : NULL, want);
        attribute_files_free(files, n);

        /* Problems: each is named, the readable files still come back. */
        {
                char *text = malloc(ATTRIBUTES_FILE_MAX + 1);
                memset(text, ' ', ATTRIBUTES_FILE_MAX + 1);
                text[0] = '{';
                text[ATTRIBUTES_FILE_MAX] = '}';
                write_file("e-big.json", text, ATTRIBUTES_FILE_MAX + 1);
                write_file("e-max.json", text + 1, ATTRIBUTES_FILE_MAX); /* exactly 64 KiB */
                free(text);
        }
        make_link("nowhere", "f-dangling.json");
        make_link("g-loop.json", "g-loop.json");
        {
                _cleanup_free_ char *fifo = NULL;
                if (asprintf(&fifo, "%s/h-fifo.json", tmpdir) < 0 || mkfifo(fifo, 0600) < 0)
                        abort();
        }
        r = attributes_read_dir(tmpdir, &files, &n, &errs);
        got = mfree(got);
        got = errors_text(&errs);
        free(want);
        if (asprintf(&want,
                     "%1$s/e-big.json: the file is 65537 bytes; an attributes file may hold at "
                     "most 65536 bytes (64 KiB)\n"
                     "%1$s/f-dangling.json: cannot read: a dangling symlink\n"
                     "%1$s/g-loop.json: cannot read: Too many levels of symbolic links\n"
                     "%1$s/h-fifo.json: not a regular file\n",
                     tmpdir) < 0)
                abort();
        CHECK_STREQ("oversized, dangling, looping and special files are errors", got, want);
        CHECK_INTEQ("read_dir says errors were added", r, -EINVAL);
        paths = files_paths(files, n);
        CHECK_STREQ("the readable files still come back", paths,
                    "B.json a.json b.json c-link.json e-max.json");
        free(paths);
        paths = NULL;
        r = attributes_desired(NULL, files, n, &set, &errs);
        CHECK("attributes_desired then fails", r == -EINVAL && set.n == 0);
        attribute_files_free(files, n);
        errors_done(&errs);

        /* e-max.json holds '}' and blanks only: malformed, but read whole. */
        free(got);
        got = NULL;

        /* Not a directory. */
        r = attributes_read_dir(big, &files, &n, &errs);
        got = errors_text(&errs);
        free(want);
        if (asprintf(&want, "%s: cannot open the directory: Not a directory\n", big) < 0)
                abort();
        CHECK_STREQ("a file where the directory should be", got, want);
        CHECK_INTEQ("is an error", r, -EINVAL);
        errors_done(&errs);
}

/* ---- diff ---- */

static void check_diff(const char *name, const char *desired, const char *actual, const char *owned,
                       const char *want_put, const char *want_delete) {
        struct attribute_set d = {}, a = {}, o = {}, put = {}, del = {};
        _cleanup_free_ char *gp = NULL, *gd = NULL;

        set_from(&d, desired, "desired");
        set_from(&a, actual, "ecs");
        set_from(&o, owned, "state");
        set_put(&put, "stale", NULL, NULL); /* replaced, not appended to */
        CHECK_INTEQ(name, attributes_diff(&d, &a, &o, &put, &del), 0);
        gp = render(&put, false);
        gd = render(&del, false);
        CHECK_STREQ(name, gp, want_put);
        CHECK_STREQ(name, gd, want_delete);
        attribute_set_done(&d);
        attribute_set_done(&a);
        attribute_set_done(&o);
        attribute_set_done(&put);
        attribute_set_done(&del);
}

static void test_diff(void) {
        check_diff("first sync puts everything", "team=blue gpu", "ecs.os-type=linux", "",
                   "gpu team=blue", "");
        check_diff("no-op when equal", "team=blue gpu", "ecs.os-type=linux gpu team=blue",
                   "gpu team", "", "");
        check_diff("a changed value is put", "team=red", "team=blue", "team", "team=red", "");
        check_diff("a new attribute is put, the rest left alone", "team=blue zone=a", "team=blue",
                   "team", "zone=a", "");
        check_diff("an owned attribute no longer desired is deleted", "team=blue",
                   "team=blue zone=a", "team zone", "", "zone=a");
        check_diff("a foreign attribute is kept", "team=blue", "team=blue lab5=yes", "team", "",
                   "");
        check_diff("built-in attributes are never deleted", "", "ecs.os-type=linux", "", "", "");
        check_diff("owned but already gone: nothing to delete", "", "ecs.a=1", "zone", "", "");
        check_diff("a foreign attribute we now desire is put when it differs", "lab5=no",
                   "lab5=yes", "", "lab5=no", "");
        check_diff("value added to an attribute without one", "gpu=a100", "gpu", "gpu", "gpu=a100",
                   "");
        check_diff("value removed", "gpu", "gpu=a100", "gpu", "gpu", "");
        {
                /* ECS may report no value as "" or as nothing. */
                struct attribute_set d = {}, a = {}, o = {}, put = {}, del = {};
                set_put(&d, "gpu", NULL, "x");
                a.v = calloc(1, sizeof *a.v);
                a.v[0] = (struct attribute){strdup("gpu"), strdup(""), NULL};
                a.n = 1;
                CHECK_INTEQ("diff", attributes_diff(&d, &a, &o, &put, &del), 0);
                CHECK("no value equals an empty string", put.n == 0 && del.n == 0);
                attribute_set_done(&d);
                attribute_set_done(&a);
                attribute_set_done(&put);
        }
        check_diff("everything at once", "a=1 b=2 c", "a=1 b=1 d=4 e=5 f", "a b d f g", "b=2 c",
                   "d=4 f");
}

/* A directory filled with files costs at most ATTRIBUTES_FILES_MAX reads. */
static void test_many_files(void) {
        _cleanup_free_ char *many = NULL, *got = NULL, *want = NULL;
        struct attribute_file *files = NULL;
        struct errors errs = {};
        size_t n = 99;
        int r;

        if (asprintf(&many, "%s/many", tmpdir) < 0 || mkdir(many, 0755) < 0)
                abort();
        for (int i = 0; i <= ATTRIBUTES_FILES_MAX; i++) {
                _cleanup_free_ char *p = NULL;
                FILE *f;
                if (asprintf(&p, "%s/%04d.json", many, i) < 0 || !(f = fopen(p, "w")))
                        abort();
                fputs("{}", f);
                fclose(f);
                if (i == ATTRIBUTES_FILES_MAX - 1) {
                        r = attributes_read_dir(many, &files, &n, &errs);
                        CHECK("1000 files are read",
                              r == 0 && n == ATTRIBUTES_FILES_MAX && errs.n == 0);
                        attribute_files_free(files, n);
                }
        }
        files = NULL;
        r = attributes_read_dir(many, &files, &n, &errs);
        got = errors_text(&errs);
        if (asprintf(&want,
                     "%s: holds more than 1000 *.json files; at most 1000 are read, and none is "
                     "until there are fewer\n",
                     many) < 0)
                abort();
        CHECK_STREQ("1001 files are refused", got, want);
        CHECK("... and none is read", r == -EINVAL && n == 0 && !files);
        errors_done(&errs);
}

int main(void) {
        test_validate();
        test_parse_json();
        test_parse_bytes();
        test_set();
        test_desired();
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        atexit(remove_tree);
        test_read_dir();
        test_many_files();
        test_diff();
        return test_done();
}
