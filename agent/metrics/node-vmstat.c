/* node-vmstat.c: node_vmstat_* from /proc/vmstat, the fields node_exporter
 * keeps by default, matched without a regex engine. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "node-read.h"
#include "node-vmstat.h"

#define NODE_VMSTAT_MAX (64 * 1024) /* bytes: /proc/vmstat is about 4 KiB */

static bool starts_with(struct node_text_field f, const char *s) {
        size_t n = strlen(s);
        return f.n >= n && memcmp(f.s, s, n) == 0;
}

bool node_vmstat_wanted(struct node_text_field name) {
        return starts_with(name, "oom_kill") || starts_with(name, "pgpg") ||
               starts_with(name, "pswp") ||
               (starts_with(name, "pg") && name.n >= 7 &&
                memmem(name.s + 2, name.n - 2, "fault", 5) != NULL);
}

int node_vmstat_parse(const char *text, size_t len, struct node_vmstat *ret) {
        const char *p = text, *end = text + len;
        struct node_text_field line, f[2];
        double v;
        int r;

        ret->n = 0;
        while (node_text_line(&p, end, &line)) {
                size_t n = node_text_fields(line, f, 2);
                if (n == 0)
                        continue;
                if (n < 2 || node_text_number(f[1], &v) < 0)
                        return -EINVAL;
                if (!node_vmstat_wanted(f[0]))
                        continue;
                if (!node_text_is_name(f[0]))
                        return -EINVAL;
                r = node_text_put(ret->fields, &ret->n, NODE_VMSTAT_FIELDS_MAX, f[0].s, f[0].n, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int collect(struct expo *e, const struct metrics_source *src) {
        _cleanup_free_ char *text = NULL;
        struct node_vmstat vm;
        size_t len = 0;
        int r;

        r = node_read(src->procfs, "vmstat", NODE_VMSTAT_MAX, &text, &len);
        if (r >= 0)
                r = node_vmstat_parse(text, len, &vm);
        if (r < 0)
                return r;
        for (size_t i = 0; i < vm.n; i++) {
                char name[sizeof "node_vmstat_" + NODE_TEXT_NAME_MAX];
                char help[sizeof "/proc/vmstat information field ." + NODE_TEXT_NAME_MAX];

                snprintf(name, sizeof name, "node_vmstat_%s", vm.fields[i].name);
                snprintf(help, sizeof help, "/proc/vmstat information field %s.",
                         vm.fields[i].name);
                expo_family(e, name, EXPO_UNTYPED, help);
                expo_sample(e, NULL, vm.fields[i].value);
        }
        return 0;
}

const struct collector node_vmstat_collector = {"vmstat", collect};
