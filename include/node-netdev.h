/* node-netdev.h: the netdev collector: /proc/net/dev as node_exporter 1.5
 * writes it when it reads that file (--no-collector.netdev.netlink):
 * node_network_{receive,transmit}_<column>_total{device}, a counter per
 * column of the file, the devices matching the configured exclude left out. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* The columns of /proc/net/dev, in the file's order. */
enum {
        NODE_NETDEV_RECEIVE_BYTES,
        NODE_NETDEV_RECEIVE_PACKETS,
        NODE_NETDEV_RECEIVE_ERRS,
        NODE_NETDEV_RECEIVE_DROP,
        NODE_NETDEV_RECEIVE_FIFO,
        NODE_NETDEV_RECEIVE_FRAME,
        NODE_NETDEV_RECEIVE_COMPRESSED,
        NODE_NETDEV_RECEIVE_MULTICAST,
        NODE_NETDEV_TRANSMIT_BYTES,
        NODE_NETDEV_TRANSMIT_PACKETS,
        NODE_NETDEV_TRANSMIT_ERRS,
        NODE_NETDEV_TRANSMIT_DROP,
        NODE_NETDEV_TRANSMIT_FIFO,
        NODE_NETDEV_TRANSMIT_COLLS,
        NODE_NETDEV_TRANSMIT_CARRIER,
        NODE_NETDEV_TRANSMIT_COMPRESSED,
        NODE_NETDEV_N,
};

struct node_netdev {
        const char *device; /* NUL-terminated inside the parsed text */
        uint64_t v[NODE_NETDEV_N];
};

/* Pure: the devices of /proc/net/dev's text (len bytes; the two header
 * lines are skipped whatever they say), sorted by name, each once: a later
 * line for a name replaces an earlier one, as in node_exporter's map.  The
 * text is parsed in place (each name is NUL-terminated where it ends, on
 * its ':' or a space before it), so it must outlive *ret.  0 with *ret
 * (malloc'd; NULL when there is none) and *ret_n; -EINVAL when a line has
 * no ':', an empty or NUL-holding name, fewer than 16 values or a value
 * that is not a decimal uint64 (node_exporter fails the scrape, or for too
 * few values crashes); -ENOMEM. */
int node_netdev_parse(char *text, size_t len, struct node_netdev **ret, size_t *ret_n);

extern const struct collector node_netdev_collector;
