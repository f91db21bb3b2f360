/* node-filefd.c: node_filefd_allocated and node_filefd_maximum. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "node-filefd.h"
#include "node-read.h"
#include "node-text.h"

#define NODE_FILEFD_MAX 256 /* bytes: three numbers */

int node_filefd_parse(const char *text, size_t len, double *ret_allocated, double *ret_maximum) {
        struct node_text_field line = node_text_trim((struct node_text_field){text, len}), f[3];
        const char *p = line.s, *end = line.s + line.n, *tab = p;
        size_t n = 0;
        double a, m;

        /* Split at each tab, as node_exporter does. */
        while (n < 3 && tab) {
                tab = memchr(p, '\t', (size_t)(end - p));
                f[n++] = (struct node_text_field){p, (size_t)((tab ? tab : end) - p)};
                if (tab)
                        p = tab + 1;
        }
        if (n < 3 || node_text_number(f[0], &a) < 0 || node_text_number(f[2], &m) < 0)
                return -EINVAL;
        *ret_allocated = a;
        *ret_maximum = m;
        return 0;
}

static int collect(struct expo *e, const struct metrics_source *src) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        double allocated, maximum;
        int r;

        r = node_read(src->procfs, "sys/fs/file-nr", NODE_FILEFD_MAX, &text, &len);
        if (r >= 0)
                r = node_filefd_parse(text, len, &allocated, &maximum);
        if (r < 0)
                return r;
        expo_family(e, "node_filefd_allocated", EXPO_GAUGE,
                    "File descriptor statistics: allocated.");
        expo_sample(e, NULL, allocated);
        expo_family(e, "node_filefd_maximum", EXPO_GAUGE, "File descriptor statistics: maximum.");
        expo_sample(e, NULL, maximum);
        return 0;
}

const struct collector node_filefd_collector = {"filefd", collect};
