/* node-uname.c: node_uname_info from uname(2). */
#include <errno.h>

#include "node-uname.h"

void node_uname_labels(const struct utsname *u, const char *ret[static 6]) {
        ret[0] = u->domainname;
        ret[1] = u->machine;
        ret[2] = u->nodename;
        ret[3] = u->release;
        ret[4] = u->sysname;
        ret[5] = u->version;
}

static int collect(struct expo *e, const struct metrics_source *src) {
        static const char *const names[] = {"domainname", "machine", "nodename",
                                            "release",    "sysname", "version"};
        const char *values[6];
        struct utsname u;

        (void)src;
        if (uname(&u) < 0)
                return -errno;
        node_uname_labels(&u, values);
        expo_family(e, "node_uname_info", EXPO_GAUGE,
                    "Labeled system information as provided by the uname system call.");
        expo_samplev(e, names, values, 6, 1);
        return 0;
}

const struct collector node_uname_collector = {"uname", collect};
