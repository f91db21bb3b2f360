/* test-node-text.c: the collectors' shared text helpers: lines, fields as
 * Go's strings.Fields splits them, numbers as the kernel writes them and
 * as ParseFloat rounds them, names, and the named-value tables. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-text.h"
#include "test.h"

static struct node_text_field f(const char *s) {
        return (struct node_text_field){s, strlen(s)};
}

static void test_lines(void) {
        static const char text[] = "a b\n\nc";
        const char *p = text, *end = text + strlen(text);
        struct node_text_field line;

        CHECK("a first line", node_text_line(&p, end, &line) && node_text_eq(line, "a b"));
        CHECK("an empty one", node_text_line(&p, end, &line) && line.n == 0);
        CHECK("a last one without newline",
              node_text_line(&p, end, &line) && node_text_eq(line, "c"));
        CHECK("then the end", !node_text_line(&p, end, &line));
        p = end;
        CHECK("nothing in nothing", !node_text_line(&p, end, &line));
}

static void test_fields(void) {
        struct node_text_field v[3];

        CHECK_INTEQ("no field", node_text_fields(f(" \t "), v, 3), 0);
        CHECK_INTEQ("blanks of every kind", node_text_fields(f(" a\tb\r\v\fc\n"), v, 3), 3);
        CHECK("split",
              node_text_eq(v[0], "a") && node_text_eq(v[1], "b") && node_text_eq(v[2], "c"));
        CHECK_INTEQ("more than max: max + 1", node_text_fields(f("a b c d e"), v, 2), 3);
        CHECK("the first max kept", node_text_eq(v[0], "a") && node_text_eq(v[1], "b"));
        CHECK_INTEQ("max 0", node_text_fields(f("a"), v, 0), 1);
        CHECK("trim", node_text_eq(node_text_trim(f("\n\t x y \n")), "x y"));
        CHECK("trim to nothing", node_text_trim(f(" \n ")).n == 0);
        CHECK("eq is exact", !node_text_eq(f("ab"), "a") && !node_text_eq(f("a"), "ab"));
}

static void test_numbers(void) {
        uint64_t u = 0;
        double d = 0;

        CHECK_INTEQ("0", node_text_u64(f("0"), &u), 0);
        CHECK_INTEQ("UINT64_MAX", node_text_u64(f("18446744073709551615"), &u), 0);
        CHECK("read", u == UINT64_MAX);
        CHECK_INTEQ("past it", node_text_u64(f("18446744073709551616"), &u), -ERANGE);
        CHECK_INTEQ("far past it", node_text_u64(f("99999999999999999999999"), &u), -ERANGE);
        CHECK_INTEQ("empty", node_text_u64(f(""), &u), -EINVAL);
        CHECK_INTEQ("a sign", node_text_u64(f("+1"), &u), -EINVAL);
        CHECK_INTEQ("a blank", node_text_u64(f("1 "), &u), -EINVAL);
        CHECK_INTEQ("hex", node_text_u64(f("0x10"), &u), -EINVAL);
        CHECK_INTEQ("a number", node_text_number(f("-42"), &d), 0);
        CHECK("negative", d == -42);
        CHECK_INTEQ("2^53 + 1", node_text_number(f("9007199254740993"), &d), 0);
        CHECK("rounds to even as ParseFloat does", d == 9007199254740992.0);
        CHECK_INTEQ("UINT64_MAX as a double", node_text_number(f("18446744073709551615"), &d), 0);
        CHECK("is 2^64", d == 18446744073709551616.0);
        CHECK_INTEQ("past UINT64_MAX", node_text_number(f("18446744073709551616"), &d), -EINVAL);
        CHECK_INTEQ("a lone minus", node_text_number(f("-"), &d), -EINVAL);
        CHECK_INTEQ("two minus", node_text_number(f("--1"), &d), -EINVAL);
        CHECK_INTEQ("a fraction", node_text_number(f("1.5"), &d), -EINVAL);
        CHECK_INTEQ("an exponent", node_text_number(f("1e3"), &d), -EINVAL);
}

static void test_names(void) {
        CHECK("letters, digits, _", node_text_is_name(f("Active_anon2")));
        CHECK("not empty", !node_text_is_name(f("")));
        CHECK("no (", !node_text_is_name(f("Active(anon)")));
        CHECK("no colon", !node_text_is_name(f("a:b")));
        CHECK("no 8-bit byte", !node_text_is_name(f("a\xc3\xa9")));
}

static void test_table(void) {
        struct node_text_value v[2];
        char long_name[NODE_TEXT_NAME_MAX + 1];
        size_t n = 0;

        CHECK_INTEQ("a first name", node_text_put(v, &n, 2, "a", 1, 1), 0);
        CHECK_INTEQ("a second", node_text_put(v, &n, 2, "ab", 2, 2), 0);
        CHECK_INTEQ("the first again", node_text_put(v, &n, 2, "a", 1, 3), 0);
        CHECK("takes its place", n == 2 && v[0].value == 3 && strcmp(v[0].name, "a") == 0);
        CHECK_INTEQ("a third in a table of two", node_text_put(v, &n, 2, "c", 1, 4), -E2BIG);
        CHECK("found by name", node_text_get(v, n, "ab") == &v[1]);
        CHECK("not found", !node_text_get(v, n, "b"));
        memset(long_name, 'x', sizeof long_name);
        n = 0;
        CHECK_INTEQ("the longest name",
                    node_text_put(v, &n, 2, long_name, NODE_TEXT_NAME_MAX - 1, 1), 0);
        CHECK_INTEQ("kept whole", strlen(v[0].name), NODE_TEXT_NAME_MAX - 1);
        CHECK_INTEQ("one longer", node_text_put(v, &n, 2, long_name, NODE_TEXT_NAME_MAX, 1),
                    -EINVAL);
}

int main(void) {
        test_lines();
        test_fields();
        test_numbers();
        test_names();
        test_table();
        return test_done();
}
