/* node-netdev.c: node_network_*_total{device} from /proc/net/dev, one pass
 * over the text and one growing array, the names left in the text.  The
 * devices come out sorted and once each, so every family is written in
 * node_exporter's order; the exclude filter is the only regular expression. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "filter.h"
#include "macro.h"
#include "node-netdev.h"
#include "proctext.h"

/* bytes: a line is about 120, so room for 100,000 devices */
#define NODE_NETDEV_FILE_MAX (16u << 20)
/* bytes: node_exporter's line reader (bufio.Scanner) fails on longer lines */
#define NODE_NETDEV_LINE_MAX (64u << 10)

/* One line after the headers: "  eth0: 1 2 ... 16", the name trimmed. */
static int parse_line(struct proctext line, struct node_netdev *ret) {
        char *colon = memchr(line.p, ':', (size_t)(line.end - line.p)), *s = line.p, *e, *f;
        size_t n;

        if (!colon)
                return -EINVAL;
        while (s < colon && proctext_is_space(*s))
                s++;
        for (e = colon; e > s && proctext_is_space(e[-1]);)
                e--;
        if (e == s || memchr(s, 0, (size_t)(e - s)))
                return -EINVAL;
        line.p = colon + 1;
        for (size_t i = 0; i < NODE_NETDEV_N; i++)
                if (!proctext_field(&line, &f, &n) || !proctext_u64(f, n, &ret->v[i]))
                        return -EINVAL;
        *e = 0;
        ret->device = s;
        return 0;
}

_Static_assert(offsetof(struct node_netdev, device) == 0, "proctext_sort_names() reads it");

int node_netdev_parse(char *text, size_t len, struct node_netdev **ret, size_t *ret_n) {
        _cleanup_free_ struct node_netdev *v = NULL;
        struct proctext t = proctext_make(text, len), line;
        size_t n = 0, cap = 0;
        int r;

        for (size_t i = 0; proctext_line(&t, &line); i++) {
                struct node_netdev *grown;
                if ((size_t)(line.end - line.p) >= NODE_NETDEV_LINE_MAX)
                        return -EINVAL;
                if (i < 2)
                        continue;
                grown = proctext_grow(v, &cap, n, sizeof *v);
                if (!grown)
                        return -ENOMEM;
                v = grown;
                if ((r = parse_line(line, &v[n])) < 0)
                        return r;
                n++;
        }
        /* A later line of a name replaces an earlier one in node_exporter's map. */
        n = proctext_sort_names(v, n, sizeof *v, true);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* node_exporter's families, in the order it writes them (by name): the
 * column's key with _total, and its help. */
#define FAMILY(column, key)                                                                        \
        { column, "node_network_" key "_total", "Network device statistic " key "." }
static const struct {
        unsigned column;
        const char *name, *help;
} families[] = {
        FAMILY(NODE_NETDEV_RECEIVE_BYTES, "receive_bytes"),
        FAMILY(NODE_NETDEV_RECEIVE_COMPRESSED, "receive_compressed"),
        FAMILY(NODE_NETDEV_RECEIVE_DROP, "receive_drop"),
        FAMILY(NODE_NETDEV_RECEIVE_ERRS, "receive_errs"),
        FAMILY(NODE_NETDEV_RECEIVE_FIFO, "receive_fifo"),
        FAMILY(NODE_NETDEV_RECEIVE_FRAME, "receive_frame"),
        FAMILY(NODE_NETDEV_RECEIVE_MULTICAST, "receive_multicast"),
        FAMILY(NODE_NETDEV_RECEIVE_PACKETS, "receive_packets"),
        FAMILY(NODE_NETDEV_TRANSMIT_BYTES, "transmit_bytes"),
        FAMILY(NODE_NETDEV_TRANSMIT_CARRIER, "transmit_carrier"),
        FAMILY(NODE_NETDEV_TRANSMIT_COLLS, "transmit_colls"),
        FAMILY(NODE_NETDEV_TRANSMIT_COMPRESSED, "transmit_compressed"),
        FAMILY(NODE_NETDEV_TRANSMIT_DROP, "transmit_drop"),
        FAMILY(NODE_NETDEV_TRANSMIT_ERRS, "transmit_errs"),
        FAMILY(NODE_NETDEV_TRANSMIT_FIFO, "transmit_fifo"),
        FAMILY(NODE_NETDEV_TRANSMIT_PACKETS, "transmit_packets"),
};

static int collect(struct expo *e, const struct metrics_source *src) {
        _cleanup_free_ char *path = collector_path(src->procfs, "net/dev"), *text = NULL;
        _cleanup_free_ struct node_netdev *devs = NULL;
        size_t len = 0, n = 0, k = 0;
        int r;

        if (!path)
                return -ENOMEM;
        r = fileio_read(path, NODE_NETDEV_FILE_MAX, 0, &text, &len);
        if (r >= 0)
                r = node_netdev_parse(text, len, &devs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (!src->netdev_device_exclude ||
                    !filter_match(src->netdev_device_exclude, devs[i].device))
                        devs[k++] = devs[i];
        /* A family without samples is not written, as node_exporter does. */
        for (size_t f = 0; k > 0 && f < ELEMENTSOF(families); f++) {
                expo_family(e, families[f].name, EXPO_COUNTER, families[f].help);
                for (size_t i = 0; i < k; i++)
                        expo_sample(e, (const char *const[]){"device", devs[i].device, NULL},
                                    (double)devs[i].v[families[f].column]);
        }
        return 0;
}

const struct collector node_netdev_collector = {"netdev", collect};
