/* test-attrsync.c: ECS's attribute rules as configuration rules.  The
 * configuration only knows ECS_INSTANCE_ATTRIBUTES is text; attrsync, which
 * owns the attributes, checks them and reports each problem where it was
 * made: an ECS_INSTANCE_ATTRIBUTES problem at the file and line (or the
 * environment) that set it, a file's at its path, the count over all of
 * them without a place. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attrsync.h"
#include "config.h"
#include "macro.h"
#include "test-errors.h"
#include "test.h"

static char dir[] = "/tmp/test-attrsync-XXXXXX";

/* What attrsync_check_config() prints for a loaded configuration. */
static char *check(struct config *c, int *ret_r) {
        struct errors errs = {};
        char *out;

        *ret_r = attrsync_check_config(c, &errs);
        out = errors_text(&errs);
        errors_done(&errs);
        return out;
}

/* Config text as file "t.conf", the attributes directory first. */
static void check_text(const char *name, const char *attrs_line, const char *want) {
        _cleanup_(config_freep) struct config *c = NULL;
        _cleanup_free_ char *text = NULL, *got = NULL;
        struct errors errs = {};
        int r;

        if (asprintf(&text, "ECS_HOSTD_ATTRIBUTES_DIR=%s\n%s", dir, attrs_line) < 0 ||
            config_new_empty(&c) < 0 ||
            config_parse_text(c, "t.conf", text, strlen(text), &errs) < 0)
                abort();
        got = check(c, &r);
        CHECK_STREQ(name, got, want);
        CHECK_INTEQ(name, r, want[0] ? -EINVAL : 0);
}

static char *path_of(const char *name) {
        char *p;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

static void write_file(const char *name, const char *text) {
        _cleanup_free_ char *path = path_of(name);
        FILE *f = fopen(path, "w");

        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
}

static void remove_file(const char *name) {
        _cleanup_free_ char *path = path_of(name);
        unlink(path);
}

static void test_environment(void) {
        _cleanup_(config_freep) struct config *c = NULL;
        _cleanup_free_ char *d = NULL, *got = NULL;
        struct errors errs = {};
        char *env[3] = {NULL, (char *)"ECS_INSTANCE_ATTRIBUTES={\"a b\": \"x\"}", NULL};
        int r;

        if (asprintf(&d, "ECS_HOSTD_ATTRIBUTES_DIR=%s", dir) < 0)
                abort();
        env[0] = d;
        CHECK_INTEQ("environment: loads", config_load(&c, NULL, 0, true, env, &errs), 0);
        got = check(c, &r);
        CHECK_STREQ("a problem in the environment is reported there", got,
                    "environment: ECS_INSTANCE_ATTRIBUTES: attribute \"a b\": the name may hold "
                    "only letters, digits and - _ / \\ . ; ' ' at position 2 is not allowed\n");
}

int main(void) {
        _cleanup_free_ char *want = NULL, *bad = NULL;

        if (!mkdtemp(dir))
                abort();
        check_text("valid attributes", "ECS_INSTANCE_ATTRIBUTES={\"team\": \"cats\"}\n", "");
        check_text("the name rule, at the line that set the key",
                   "\n\nECS_INSTANCE_ATTRIBUTES={\"team:x\": \"cats\"}\n",
                   "t.conf:4: ECS_INSTANCE_ATTRIBUTES: attribute \"team:x\": the name may hold "
                   "only letters, digits and - _ / \\ . ; ':' at position 5 is not allowed\n");
        check_text("the value type", "ECS_INSTANCE_ATTRIBUTES={\"port\": 8080}\n",
                   "t.conf:2: ECS_INSTANCE_ATTRIBUTES: attribute \"port\": the value must be a "
                   "string or null, not a number (quote it: \"8080\")\n");
        check_text("every problem is reported, not just the first",
                   "ECS_INSTANCE_ATTRIBUTES={\"a:b\": \"x\", \"ecs.os\": \"y\"}\n",
                   "t.conf:2: ECS_INSTANCE_ATTRIBUTES: attribute \"a:b\": the name may hold only "
                   "letters, digits and - _ / \\ . ; ':' at position 2 is not allowed\n"
                   "t.conf:2: ECS_INSTANCE_ATTRIBUTES: attribute \"ecs.os\": names starting with "
                   "\"ecs.\" are built-in attributes of ECS and its agent; choose another name\n");
        test_environment();

        write_file("10-bad.json", "{\"owner\": \"a#b\"}");
        bad = path_of("10-bad.json");
        if (asprintf(&want,
                     "%s: attribute \"owner\": the value may hold only letters, digits, spaces "
                     "and - _ . @ / \\ : ; '#' at position 2 is not allowed\n",
                     bad) < 0)
                abort();
        check_text("a file's problem is reported at its path", "", want);
        remove_file("10-bad.json");

        write_file("20-many.json", "{\"a1\": \"1\", \"a2\": \"2\", \"a3\": \"3\", \"a4\": \"4\", "
                                   "\"a5\": \"5\", \"a6\": \"6\", \"a7\": \"7\", \"a8\": \"8\", "
                                   "\"a9\": \"9\", \"a10\": \"10\"}");
        free(want);
        if (asprintf(&want,
                     "11 custom attributes, at most 10 are allowed (ECS_INSTANCE_ATTRIBUTES: "
                     "\"team\"; %s/20-many.json: \"a1\", \"a10\", \"a2\", \"a3\", \"a4\", \"a5\", "
                     "\"a6\", \"a7\", \"a8\", \"a9\")\n",
                     dir) < 0)
                abort();
        check_text("the count is about every source, so it has no place of its own",
                   "ECS_INSTANCE_ATTRIBUTES={\"team\": \"cats\"}\n", want);
        remove_file("20-many.json");
        rmdir(dir);
        return test_done();
}
