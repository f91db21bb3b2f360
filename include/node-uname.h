/* node-uname.h: the uname collector: node_uname_info{domainname,machine,
 * nodename,release,sysname,version} 1, from uname(2) (not from the
 * configured roots: node_exporter reads the running kernel too). */
#pragma once

#include <sys/utsname.h>

#include "collector.h"

/* Pure: the label values of node_uname_info, in its label order
 * (domainname, machine, nodename, release, sysname, version), pointing
 * into u. */
void node_uname_labels(const struct utsname *u, const char *ret[static 6]);

extern const struct collector node_uname_collector;
