/* test-node-meminfo.c: /proc/meminfo's parser on what kernels write (the
 * names node_exporter makes of them, kB as bytes) and on what they do not;
 * the collector's families on a tree. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-meminfo.h"
#include "test-tree.h"
#include "test.h"

/* What a 6.x kernel writes (abridged). */
static const char kernel[] = "MemTotal:       24683652 kB\n"
                             "MemFree:        22757668 kB\n"
                             "Active(anon):       1556 kB\n"
                             "Inactive(file):   283332 kB\n"
                             "HugePages_Total:       0\n"
                             "HugePages_Free:        0\n"
                             "Hugepagesize:       2048 kB\n"
                             "DirectMap1G:    25165824 kB\n";

static int parse(const char *s, struct node_meminfo *m) {
        return node_meminfo_parse(s, strlen(s), m);
}

static void test_kernel(void) {
        struct node_meminfo m;

        CHECK_INTEQ("a kernel's meminfo", parse(kernel, &m), 0);
        if (!CHECK_INTEQ("every line a field", m.n, 8))
                return;
        CHECK_STREQ("kB makes _bytes", m.fields[0].name, "MemTotal_bytes");
        CHECK("kB are 1024 bytes", m.fields[0].value == 24683652.0 * 1024);
        CHECK_STREQ("Active(anon) is Active_anon", m.fields[2].name, "Active_anon_bytes");
        CHECK_STREQ("Inactive(file) is Inactive_file", m.fields[3].name, "Inactive_file_bytes");
        CHECK_STREQ("no unit: the name as written", m.fields[4].name, "HugePages_Total");
        CHECK("no unit: the value as written", m.fields[4].value == 0);
        CHECK_STREQ("Hugepagesize in bytes", m.fields[6].name, "Hugepagesize_bytes");
        CHECK("2048 kB", m.fields[6].value == 2097152);
        CHECK("the last one", m.fields[7].value == 25165824.0 * 1024);
        CHECK("a name can be looked up",
              node_text_get(m.fields, m.n, "MemFree_bytes") == &m.fields[1]);
        CHECK("an absent one is NULL", !node_text_get(m.fields, m.n, "MemTotal"));
}

static void test_names(void) {
        struct node_meminfo m;
        char line[128];

        CHECK_INTEQ("parentheses inside a name", parse("A(b)c: 1\n", &m), 0);
        CHECK_STREQ("first ( to last ) becomes _", m.fields[0].name, "A_bc");
        CHECK_INTEQ("two pairs", parse("A(b)c(d): 1\n", &m), -EINVAL);
        CHECK_INTEQ("an unclosed (", parse("A(b: 1\n", &m), -EINVAL);
        CHECK_INTEQ("a ) alone", parse("Ab): 1\n", &m), -EINVAL);
        CHECK_INTEQ("a dash", parse("Mem-Total: 1 kB\n", &m), -EINVAL);
        CHECK_INTEQ("a colon inside", parse("a:b: 1\n", &m), -EINVAL);
        CHECK_INTEQ("no name", parse(": 1 kB\n", &m), -EINVAL);
        CHECK_INTEQ("a NUL byte in a name", node_meminfo_parse("Mem\0: 1\n", 8, &m), -EINVAL);
        memset(line, 'A', 57);
        strcpy(line + 57, ": 1 kB\n");
        CHECK_INTEQ("the longest name kept", parse(line, &m), 0);
        CHECK_INTEQ("its length", strlen(m.fields[0].name), NODE_TEXT_NAME_MAX - 1);
        strcpy(line + 57, "A: 1 kB\n");
        CHECK_INTEQ("a name longer", parse(line, &m), -EINVAL);
        memset(line, 'A', 63);
        strcpy(line + 63, ": 1\n");
        CHECK_INTEQ("without a unit, as long", parse(line, &m), 0);
        strcpy(line + 63, "A: 1\n");
        CHECK_INTEQ("and longer", parse(line, &m), -EINVAL);
}

static void test_lines(void) {
        struct node_meminfo m;
        char many[NODE_MEMINFO_FIELDS_MAX * 16 + 16] = "";

        CHECK_INTEQ("an empty file", parse("", &m), 0);
        CHECK_INTEQ("no field", m.n, 0);
        CHECK_INTEQ("a blank line (3.10 kernels)", parse("A: 1\n\n   \nB: 2 kB", &m), 0);
        CHECK_INTEQ("is skipped", m.n, 2);
        CHECK("the last line needs no newline", m.fields[1].value == 2048);
        CHECK_INTEQ("a key twice", parse("A: 1\nB: 2\nA: 3\n", &m), 0);
        CHECK("keeps its place and its last value",
              m.n == 2 && strcmp(m.fields[0].name, "A") == 0 && m.fields[0].value == 3);
        CHECK_INTEQ("a negative value", parse("A: -4 kB\n", &m), 0);
        CHECK("is read as ParseFloat reads it", m.fields[0].value == -4096);
        CHECK_INTEQ("tabs between", parse("A:\t5\tkB\n", &m), 0);
        CHECK_INTEQ("no colon", parse("MemTotal 5 kB\n", &m), -EINVAL);
        CHECK_INTEQ("no value", parse("MemTotal:\n", &m), -EINVAL);
        CHECK_INTEQ("not a number", parse("MemTotal: x kB\n", &m), -EINVAL);
        CHECK_INTEQ("a fraction", parse("MemTotal: 1.5 kB\n", &m), -EINVAL);
        CHECK_INTEQ("another unit", parse("MemTotal: 5 MB\n", &m), -EINVAL);
        CHECK_INTEQ("a fourth field", parse("MemTotal: 5 kB x\n", &m), -EINVAL);
        CHECK_INTEQ("past UINT64_MAX", parse("A: 18446744073709551616\n", &m), -EINVAL);
        for (size_t i = 0; i <= NODE_MEMINFO_FIELDS_MAX; i++)
                snprintf(many + strlen(many), sizeof many - strlen(many), "F%zu: 1\n", i);
        CHECK_INTEQ("more fields than kept", parse(many, &m), -E2BIG);
}

static void test_collector(void) {
        char *root = test_tree_new();

        if (!CHECK("a scratch tree", root))
                return;
        CHECK_COLLECT("no meminfo: nothing", &node_meminfo_collector, root, -ENOENT, "");
        test_tree_write(root, "proc/meminfo", "MemTotal: 2 kB\nHugePages_Total: 0\nX_total: 3\n");
        CHECK_COLLECT(
                "a meminfo: its families (_total: a counter)", &node_meminfo_collector, root, 0,
                "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n"
                "# TYPE node_memory_MemTotal_bytes gauge\n"
                "node_memory_MemTotal_bytes 2048\n"
                "# HELP node_memory_HugePages_Total Memory information field HugePages_Total.\n"
                "# TYPE node_memory_HugePages_Total gauge\n"
                "node_memory_HugePages_Total 0\n"
                "# HELP node_memory_X_total Memory information field X_total.\n"
                "# TYPE node_memory_X_total counter\n"
                "node_memory_X_total 3\n");
        test_tree_write(root, "proc/meminfo", "MemTotal: 2 kB\nbroken\n");
        CHECK_COLLECT("a broken meminfo: nothing", &node_meminfo_collector, root, -EINVAL, "");
        test_tree_free(root);
}

int main(void) {
        test_kernel();
        test_names();
        test_lines();
        test_collector();
        return test_done();
}
