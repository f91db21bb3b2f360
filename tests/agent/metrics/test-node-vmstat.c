/* test-node-vmstat.c: which /proc/vmstat fields node_exporter's default
 * pattern keeps, the parser on what kernels write and on what they do not,
 * and the collector's families on a tree. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-vmstat.h"
#include "test-tree.h"
#include "test.h"

static bool wanted(const char *name) {
        return node_vmstat_wanted((struct node_text_field){name, strlen(name)});
}

static void test_wanted(void) {
        /* ^(oom_kill|pgpg|pswp|pg.*fault).* */
        static const struct {
                const char *name;
                bool wanted;
        } cases[] = {
                {"oom_kill", true},
                {"pgpgin", true},
                {"pgpgout", true},
                {"pswpin", true},
                {"pgfault", true},
                {"pgmajfault", true},
                {"pg_x_fault_y", true},
                {"nr_free_pages", false},
                {"pgscan_kswapd", false},
                {"thp_fault_alloc", false},
                /* no pg first */ {"pgfaul", false},
                {"faultpg", false},
                {"oom_kil", false},
                {"", false},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                CHECK(cases[i].name, wanted(cases[i].name) == cases[i].wanted);
}

static const char kernel[] = "nr_free_pages 5689347\n"
                             "pgpgin 2974149\n"
                             "pgpgout 3263068\n"
                             "pswpin 0\n"
                             "pswpout 0\n"
                             "pgfault 116889506\n"
                             "pgmajfault 5363\n"
                             "pgscan_kswapd 0\n"
                             "oom_kill 0\n"
                             "thp_fault_alloc 12\n";

static int parse(const char *s, struct node_vmstat *vm) {
        return node_vmstat_parse(s, strlen(s), vm);
}

static void test_parse(void) {
        struct node_vmstat vm;
        char many[NODE_VMSTAT_FIELDS_MAX * 16 + 16] = "";

        CHECK_INTEQ("a kernel's /proc/vmstat", parse(kernel, &vm), 0);
        if (CHECK_INTEQ("the kept fields", vm.n, 7)) {
                CHECK_STREQ("in the file's order", vm.fields[0].name, "pgpgin");
                CHECK("with their values", vm.fields[4].value == 116889506);
                CHECK_STREQ("the last", vm.fields[6].name, "oom_kill");
        }
        CHECK_INTEQ("an empty file", parse("", &vm), 0);
        CHECK_INTEQ("none", vm.n, 0);
        CHECK_INTEQ("a blank line", parse("pgfault 1\n\npswpin 2", &vm), 0);
        CHECK_INTEQ("is skipped", vm.n, 2);
        CHECK_INTEQ("a field twice", parse("pgfault 1\npgfault 2\n", &vm), 0);
        CHECK("keeps the last value", vm.n == 1 && vm.fields[0].value == 2);
        CHECK_INTEQ("a third column", parse("pgfault 1 x\n", &vm), 0);
        CHECK_INTEQ("a line without value", parse("pgfault\n", &vm), -EINVAL);
        CHECK_INTEQ("a left-out field's value is read too", parse("nr_x y\npgfault 1\n", &vm),
                    -EINVAL);
        CHECK_INTEQ("a negative value", parse("pgfault -1\n", &vm), 0);
        CHECK_INTEQ("a fraction", parse("pgfault 1.5\n", &vm), -EINVAL);
        CHECK_INTEQ("a kept name no metric has", parse("pg-fault 1\n", &vm), -EINVAL);
        CHECK_INTEQ("a left-out name no metric has", parse("nr-x 1\n", &vm), 0);
        for (size_t i = 0; i <= NODE_VMSTAT_FIELDS_MAX; i++)
                snprintf(many + strlen(many), sizeof many - strlen(many), "pgpg%zu 1\n", i);
        CHECK_INTEQ("more kept fields than room", parse(many, &vm), -E2BIG);
}

static void test_collector(void) {
        char *root = test_tree_new();

        if (!CHECK("a scratch tree", root))
                return;
        CHECK_COLLECT("no /proc/vmstat", &node_vmstat_collector, root, -ENOENT, "");
        test_tree_write(root, "proc/vmstat", "nr_free_pages 5\npgmajfault 5363\n");
        CHECK_COLLECT("the kept fields, untyped", &node_vmstat_collector, root, 0,
                      "# HELP node_vmstat_pgmajfault /proc/vmstat information field pgmajfault.\n"
                      "# TYPE node_vmstat_pgmajfault untyped\n"
                      "node_vmstat_pgmajfault 5363\n");
        test_tree_write(root, "proc/vmstat", "pgmajfault 5363\nnr_free_pages x\n");
        CHECK_COLLECT("a broken line: nothing", &node_vmstat_collector, root, -EINVAL, "");
        test_tree_free(root);
}

int main(void) {
        test_wanted();
        test_parse();
        test_collector();
        return test_done();
}
