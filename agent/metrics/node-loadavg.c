/* node-loadavg.c: node_load1, node_load5 and node_load15 from /proc/loadavg
 * ("0.52 0.58 0.59 1/467 12345"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "node-loadavg.h"

#define NODE_LOADAVG_MAX 256 /* bytes: the file is one short line */

int node_loadavg_parse(const char *text, size_t len, double ret[static 3]) {
        char line[NODE_LOADAVG_MAX + 1], *p = line, *end;
        double v[3];

        if (len > NODE_LOADAVG_MAX || memchr(text, 0, len))
                return -EINVAL;
        memcpy(line, text, len);
        line[len] = 0;
        for (size_t i = 0; i < 3; i++) {
                while (*p == ' ')
                        p++;
                if (!(*p >= '0' && *p <= '9'))
                        return -EINVAL;
                v[i] = strtod(p, &end);
                if (end == p || (*end != ' ' && *end != '\n' && *end != 0))
                        return -EINVAL;
                p = end;
        }
        memcpy(ret, v, sizeof v);
        return 0;
}

static int collect(struct expo *e, const struct metrics_source *src) {
        static const char *const names[] = {"node_load1", "node_load5", "node_load15"};
        static const char *const help[] = {"1m load average.", "5m load average.",
                                           "15m load average."};
        _cleanup_free_ char *path = collector_path(src->procfs, "loadavg"), *text = NULL;
        size_t len = 0;
        double v[3];
        int r;

        if (!path)
                return -ENOMEM;
        r = fileio_read(path, NODE_LOADAVG_MAX, 0, &text, &len);
        if (r >= 0)
                r = node_loadavg_parse(text, len, v);
        if (r < 0)
                return r;
        for (size_t i = 0; i < 3; i++) {
                expo_family(e, names[i], EXPO_GAUGE, help[i]);
                expo_sample(e, NULL, v[i]);
        }
        return 0;
}

const struct collector node_loadavg_collector = {"loadavg", collect};
