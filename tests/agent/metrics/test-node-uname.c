/* test-node-uname.c: node_uname_info's labels from a utsname, and the
 * collector on this host's kernel. */
#include <string.h>
#include <sys/utsname.h>

#include "macro.h"
#include "node-uname.h"
#include "test-tree.h"
#include "test.h"

int main(void) {
        struct utsname u = {}, host;
        const char *v[6] = {};
        char *out = NULL, want[2048];

        strcpy(u.sysname, "Linux");
        strcpy(u.nodename, "ip-10-0-1-2");
        strcpy(u.release, "6.1.0-13-cloud-amd64");
        strcpy(u.version, "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)");
        strcpy(u.machine, "x86_64");
        strcpy(u.domainname, "(none)");
        node_uname_labels(&u, v);
        CHECK("in label order: domainname, machine, nodename, release, sysname, version",
              strcmp(v[0], "(none)") == 0 && strcmp(v[1], "x86_64") == 0 &&
                      strcmp(v[2], "ip-10-0-1-2") == 0 &&
                      strcmp(v[3], "6.1.0-13-cloud-amd64") == 0 && strcmp(v[4], "Linux") == 0 &&
                      strncmp(v[5], "#1 SMP", 6) == 0);
        CHECK_INTEQ("the collector", test_tree_collect(&node_uname_collector, "/nonexistent", &out),
                    0);
        uname(&host);
        snprintf(want, sizeof want,
                 "# HELP node_uname_info Labeled system information as provided by the uname "
                 "system call.\n"
                 "# TYPE node_uname_info gauge\n"
                 "node_uname_info{domainname=\"%s\",machine=\"%s\",nodename=\"%s\",release=\"%s\","
                 "sysname=\"%s\",version=\"%s\"} 1\n",
                 host.domainname, host.machine, host.nodename, host.release, host.sysname,
                 host.version);
        CHECK_STREQ("this host's uname", out, want);
        free(out);
        return test_done();
}
