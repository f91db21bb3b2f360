/* node-filefd.h: the filefd collector: node_filefd_allocated and
 * node_filefd_maximum from /proc/sys/fs/file-nr ("645\t0\t2466165\n"). */
#pragma once

#include <stddef.h>

#include "collector.h"

/* Pure: file-nr's first and third tab-separated numbers (the second is
 * always 0 since Linux 2.6).  -EINVAL when it is not such a line. */
int node_filefd_parse(const char *text, size_t len, double *ret_allocated, double *ret_maximum);

extern const struct collector node_filefd_collector;
