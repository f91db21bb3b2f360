/* node-meminfo.c: node_memory_* from /proc/meminfo.  node_exporter makes a
 * family of every line, so the names come from the kernel: a key's first
 * "(" to its last ")" becomes "_" and what was inside (Active(anon) is
 * Active_anon), a value with a unit is kB made bytes, and a name ending in
 * _total is a counter. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "node-meminfo.h"
#include "node-read.h"

#define NODE_MEMINFO_MAX (64 * 1024) /* bytes: /proc/meminfo is about 1.5 KiB */

/* node_exporter's name for key (without its ':'), with "_bytes" when the
 * value had a unit, into buf: its length, or 0 when it is no metric name. */
static size_t metric_name(struct node_text_field key, bool bytes,
                          char buf[static NODE_TEXT_NAME_MAX]) {
        const char *open = memchr(key.s, '(', key.n), *close = NULL;
        size_t n = 0;

        if (open)
                for (const char *c = key.s + key.n; c > open; c--)
                        if (c[-1] == ')') {
                                close = c - 1;
                                break;
                        }
        if (key.n + (bytes ? 6 : 0) >= NODE_TEXT_NAME_MAX)
                return 0;
        if (close) { /* "A(b)c" -> "A_bc" */
                memcpy(buf, key.s, (size_t)(open - key.s));
                n = (size_t)(open - key.s);
                buf[n++] = '_';
                memcpy(buf + n, open + 1, (size_t)(close - open - 1));
                n += (size_t)(close - open - 1);
                memcpy(buf + n, close + 1, (size_t)(key.s + key.n - close - 1));
                n += (size_t)(key.s + key.n - close - 1);
        } else {
                memcpy(buf, key.s, key.n);
                n = key.n;
        }
        if (bytes) {
                memcpy(buf + n, "_bytes", 6);
                n += 6;
        }
        buf[n] = 0;
        return node_text_is_name((struct node_text_field){buf, n}) ? n : 0;
}

/* One line: "Key: value" or "Key: value kB". */
static int parse_line(struct node_text_field line, struct node_meminfo *m) {
        struct node_text_field f[3];
        size_t n = node_text_fields(line, f, 3), len;
        char name[NODE_TEXT_NAME_MAX];
        double v;

        if (n == 0)
                return 0; /* some 3.10 kernels write an empty line */
        if (n < 2 || n > 3 || f[0].n < 2 || f[0].s[f[0].n - 1] != ':' ||
            (n == 3 && !node_text_eq(f[2], "kB")) || node_text_number(f[1], &v) < 0)
                return -EINVAL;
        f[0].n--;
        len = metric_name(f[0], n == 3, name);
        if (!len)
                return -EINVAL;
        return node_text_put(m->fields, &m->n, NODE_MEMINFO_FIELDS_MAX, name, len,
                             n == 3 ? v * 1024 : v);
}

int node_meminfo_parse(const char *text, size_t len, struct node_meminfo *ret) {
        const char *p = text, *end = text + len;
        struct node_text_field line;
        int r;

        ret->n = 0;
        while (node_text_line(&p, end, &line))
                if ((r = parse_line(line, ret)) < 0)
                        return r;
        return 0;
}

static void write_fields(struct expo *e, const struct node_meminfo *m) {
        for (size_t i = 0; i < m->n; i++) {
                const struct node_text_value *v = &m->fields[i];
                char name[sizeof "node_memory_" + NODE_TEXT_NAME_MAX];
                char help[sizeof "Memory information field ." + NODE_TEXT_NAME_MAX];
                bool counter = v->len >= 6 && strcmp(v->name + v->len - 6, "_total") == 0;

                snprintf(name, sizeof name, "node_memory_%s", v->name);
                snprintf(help, sizeof help, "Memory information field %s.", v->name);
                expo_family(e, name, counter ? EXPO_COUNTER : EXPO_GAUGE, help);
                expo_sample(e, NULL, v->value);
        }
}

static int collect(struct expo *e, const struct metrics_source *src) {
        _cleanup_free_ char *text = NULL;
        struct node_meminfo m;
        size_t len = 0;
        int r;

        r = node_read(src->procfs, "meminfo", NODE_MEMINFO_MAX, &text, &len);
        if (r >= 0)
                r = node_meminfo_parse(text, len, &m);
        if (r < 0)
                return r;
        write_fields(e, &m);
        return 0;
}

const struct collector node_meminfo_collector = {"meminfo", collect};
