/* test-query.c: runs the query-language case files in tests/placement/cases/.
 * Each case is data (curl's tests/data and jq.test are the models): an
 * expression, the instances it must select from a fixture, or the exact
 * error text with its caret line.  Every case that parses must also
 * reparse from its canonical form to the same canonical form.
 *
 * File format, blocks separated by blank lines, '#' lines are comments:
 *   %instances FILE      fixture for the following cases (tests/placement/fixtures/)
 *   %tasks FILE          tasks fixture for the following cases ("-" for none)
 *   %status STATUS       ListContainerInstances status filter ("-": the default)
 *
 *   EXPRESSION
 *   canonical: FORM      optional: the canonical form `ecs-place check` prints
 *   i-1 i-2 ...          ec2InstanceIds selected, in input order, or "(none)"
 * or, for an invalid expression,
 *   error: column N: what was expected
 *   EXPRESSION
 *      ^                 (the caret line, exactly) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "placement-model.h"
#include "placement-query-eval.h"
#include "placement-query.h"
#include "test.h"

#define MAX_LINES 64

struct fixture {
        char instances[256];
        char tasks[256];
        char status[256];
};

static char *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t size = 0;
        FILE *m;
        char chunk[65536];
        size_t n;

        if (!f)
                return NULL;
        m = open_memstream(&buf, &size);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, m);
        fclose(m);
        fclose(f);
        *len = size;
        return buf;
}

static struct placement_cluster *load_cluster(const char *top, const struct fixture *fx, char *why,
                                              size_t whylen) {
        struct placement_cluster *c = NULL;
        const char *files[2] = {fx->instances, fx->tasks};

        if (placement_cluster_new(&c) < 0)
                return NULL;
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                struct placement_error e = {};
                size_t len = 0;
                int r;

                if (!files[i][0] || streq_ptr(files[i], "-"))
                        continue;
                if (asprintf(&path, "%s/tests/placement/fixtures/%s", top, files[i]) < 0)
                        break;
                text = slurp(path, &len);
                if (!text) {
                        snprintf(why, whylen, "cannot read %s", path);
                        return placement_cluster_free(c);
                }
                r = i == 0 ? placement_cluster_load_instances(c, text, len, &e)
                           : placement_cluster_load_tasks(c, text, len, &e);
                if (r < 0) {
                        snprintf(why, whylen, "%s:%u:%u: %s", path, e.line, e.column, e.message);
                        return placement_cluster_free(c);
                }
        }
        return c;
}

/* What the case's result lines must equal. */
static char *actual_result(const char *top, const struct fixture *fx, const char *expr,
                           char **canonical) {
        struct placement_query *q = NULL;
        struct placement_error e = {};
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        int r;

        *canonical = NULL;
        r = placement_query_parse(&q, expr, strlen(expr), &e);
        if (r < 0) {
                _cleanup_free_ char *text = NULL;
                placement_error_render(&e, expr, strlen(expr), &text);
                fprintf(f, "error: %s", text ? text : e.message);
        } else {
                char why[2048] = "";
                struct placement_cluster *c = load_cluster(top, fx, why, sizeof(why));
                size_t *sel = NULL, n = 0;

                placement_query_format(q, canonical);
                if (!c)
                        fprintf(f, "fixture: %s", why);
                else if ((r = placement_query_filter(q, c, fx->status[0] ? fx->status : NULL, &sel,
                                                     &n)) < 0)
                        fprintf(f, "eval error %d", r);
                else if (n == 0)
                        fputs("(none)", f);
                else
                        for (size_t i = 0; i < n; i++)
                                fprintf(f, "%s%s", i ? " " : "",
                                        c->instances[sel[i]].ec2_instance_id);
                free(sel);
                placement_cluster_free(c);
                placement_query_free(q);
        }
        fclose(f);
        /* Compare without the rendered text's final newline. */
        if (size > 0 && out[size - 1] == '\n')
                out[size - 1] = '\0';
        return out;
}

/* The canonical form must be a fixed point: parse(format(q)) formats the same. */
static int check_canonical_fixpoint(const char *canonical, char **why) {
        struct placement_query *q = NULL;
        struct placement_error e = {};
        char *again = NULL;
        int ok;

        if (placement_query_parse(&q, canonical, strlen(canonical), &e) < 0) {
                asprintf(why, "canonical form does not parse: %s", e.message);
                return 0;
        }
        placement_query_format(q, &again);
        ok = again && streq_ptr(again, canonical);
        if (!ok)
                asprintf(why, "canonical form is not stable: [%s] -> [%s]", canonical,
                         again ? again : "(null)");
        free(again);
        placement_query_free(q);
        return ok;
}

static void run_case(const char *top, const struct fixture *fx, const char *file, unsigned line,
                     char **lines, size_t n) {
        _cleanup_free_ char *want = NULL, *got = NULL, *canonical = NULL, *name = NULL, *why = NULL;
        const char *want_canonical = NULL;
        size_t size = 0, first = 1;
        FILE *f;

        if (n > 1 && strncmp(lines[1], "canonical: ", 11) == 0) {
                want_canonical = lines[1] + 11;
                first = 2;
        }
        f = open_memstream(&want, &size);
        for (size_t i = first; i < n; i++)
                fprintf(f, "%s%s", i > first ? "\n" : "", lines[i]);
        fclose(f);

        asprintf(&name, "%s:%u: %s", file, line, lines[0]);
        /* One check per case: the result, the canonical form when the case
         * names it, and that the canonical form parses back to itself. */
        got = actual_result(top, fx, lines[0], &canonical);
        if (!streq_ptr(got, want))
                CHECK_STREQ(name, got, want);
        else if (want_canonical && !streq_ptr(canonical, want_canonical))
                CHECK_STREQ(name, canonical, want_canonical);
        else {
                bool stable = !canonical || check_canonical_fixpoint(canonical, &why);
                if (why)
                        printf("# %s\n", why);
                CHECK(name, stable);
        }
}

static void run_file(const char *top, const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL;
        struct fixture fx = {};
        char *lines[MAX_LINES];
        size_t n = 0;
        unsigned lineno = 0, start = 0;
        char *l = NULL;
        size_t cap = 0;
        ssize_t len;
        FILE *f;

        asprintf(&path, "%s/%s", dir, name);
        f = fopen(path, "re");
        if (!CHECK(name, f != NULL))
                return;
        for (;;) {
                len = getline(&l, &cap, f);
                if (len >= 0) {
                        lineno++;
                        if (len > 0 && l[len - 1] == '\n')
                                l[--len] = '\0';
                }
                if (len < 0 || len == 0) {
                        if (n > 0)
                                run_case(top, &fx, name, start, lines, n);
                        for (size_t i = 0; i < n; i++)
                                free(lines[i]);
                        n = 0;
                        if (len < 0)
                                break;
                        continue;
                }
                if (n == 0 && l[0] == '#')
                        continue;
                if (n == 0 && l[0] == '%') {
                        char key[32], val[256];
                        if (sscanf(l, "%%%31s %255s", key, val) != 2)
                                continue;
                        if (streq_ptr(key, "instances"))
                                snprintf(fx.instances, sizeof(fx.instances), "%s", val);
                        else if (streq_ptr(key, "tasks"))
                                snprintf(fx.tasks, sizeof(fx.tasks), "%s", val);
                        else if (streq_ptr(key, "status"))
                                snprintf(fx.status, sizeof(fx.status), "%s",
                                         streq_ptr(val, "-") ? "" : val);
                        continue;
                }
                if (n == 0)
                        start = lineno;
                if (n < MAX_LINES)
                        lines[n++] = strdup(l);
        }
        free(l);
        fclose(f);
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
        const char *top = getenv("HOSTD_TOP") ? getenv("HOSTD_TOP") : ".";
        _cleanup_free_ char *dir = NULL;
        char *names[256];
        size_t n = 0;
        struct dirent *de;
        DIR *d;

        asprintf(&dir, "%s/tests/placement/cases", top);
        d = opendir(dir);
        if (!CHECK("case directory exists", d != NULL))
                return test_done();
        while ((de = readdir(d)) && n < ELEMENTSOF(names)) {
                size_t l = strlen(de->d_name);
                if (l > 5 && streq_ptr(de->d_name + l - 5, ".test"))
                        names[n++] = strdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(names[0]), compare_names);
        CHECK("case files found", n > 0);
        for (size_t i = 0; i < n; i++) {
                run_file(top, dir, names[i]);
                free(names[i]);
        }
        return test_done();
}
