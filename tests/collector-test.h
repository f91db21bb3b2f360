/* collector-test.h: one collector's scrape in a unit test, configured as the
 * daemon is (environment entries such as "ECS_HOSTD_METRICS_NETDEV_DEVICE_
 * EXCLUDE=") and reading the fixture tree tests/agent/metrics/fixtures (under
 * HOSTD_TOP, else the working directory), which the node_exporter comparison
 * reads too. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "collector.h"
#include "config.h"
#include "errors.h"
#include "expo.h"
#include "macro.h"

/* FIXTURES/sub, malloc'd. */
static inline char *collector_test_fixture(const char *sub) {
        _cleanup_free_ char *cwd = getenv("HOSTD_TOP") ? NULL : getcwd(NULL, 0);
        const char *top =
                getenv("HOSTD_TOP") ? getenv("HOSTD_TOP") : cwd; /* the roots are absolute */
        char *p;

        return top && asprintf(&p, "%s/tests/agent/metrics/fixtures/%s", top, sub) >= 0 ? p : NULL;
}

/* The text format collector c writes on the fixture tree, configured by the
 * roots and env (NULL-terminated, at most 6 entries); *ret_r: what collect()
 * returned.  NULL when the configuration or the exposition failed. */
static inline char *collector_test_scrape(const struct collector *c, char *const *env, int *ret_r) {
        _cleanup_(collector_source_freep) struct metrics_source *src = NULL;
        _cleanup_(config_freep) struct config *cfg = NULL;
        _cleanup_free_ char *proc = collector_test_fixture("proc"),
                            *sys = collector_test_fixture("sys"),
                            *root = collector_test_fixture("root"), *p = NULL, *s = NULL, *r = NULL;
        char *all[10] = {0}, *out = NULL;
        struct errors errs = {};
        struct expo e;
        size_t n = 0, len;

        if (!proc || !sys || !root || asprintf(&p, "ECS_HOSTD_PROCFS=%s", proc) < 0 ||
            asprintf(&s, "ECS_HOSTD_SYSFS=%s", sys) < 0 ||
            asprintf(&r, "ECS_HOSTD_ROOTFS=%s", root) < 0)
                return NULL;
        all[n++] = p, all[n++] = s, all[n++] = r;
        for (; env && *env && n < ELEMENTSOF(all) - 1; env++)
                all[n++] = *env;
        if (config_load(&cfg, NULL, 0, true, all, &errs) < 0 ||
            collector_source_new(&src, cfg) < 0) {
                errors_print(&errs, stdout);
                errors_done(&errs);
                return NULL;
        }
        expo_init(&e, EXPO_TEXT);
        *ret_r = c->collect(&e, src);
        return expo_finish(&e, &out, &len) < 0 ? NULL : out;
}
