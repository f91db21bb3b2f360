/* resources.c: the host's registered resources and CPU architecture.
 * MemTotal comes from the meminfo collector's parser (one reader of
 * /proc/meminfo, pure and fuzzed); resources_read() is the only I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "node-meminfo.h"
#include "resources.h"

#define CPU_UNITS_PER_CORE 1024
#define MEMINFO_MAX (64 * 1024) /* bytes: /proc/meminfo is about 1.5 KiB */

void resources_done(struct resources *r) {
        if (!r)
                return;
        free(r->ports);
        free(r->ports_udp);
        *r = (struct resources){};
}

int resources_parse_meminfo(const char *text, size_t len, uint64_t *ret_kib) {
        struct node_meminfo m;
        const struct node_text_value *total;

        if (!text || !ret_kib || node_meminfo_parse(text, len, &m) < 0)
                return -EINVAL;
        /* kB x 1024 as a double, exact below 8 PiB: back to KiB. */
        total = node_text_get(m.fields, m.n, "MemTotal_bytes");
        if (!total || !(total->value >= 0) || total->value >= 0x1p64)
                return -EINVAL;
        *ret_kib = (uint64_t)(total->value / 1024);
        return 0;
}

static int copy_ports(uint16_t **ret, const uint16_t *v, size_t n) {
        *ret = NULL;
        if (!n)
                return 0;
        *ret = malloc(n * sizeof(uint16_t));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, v, n * sizeof(uint16_t));
        return 0;
}

int resources_read(struct resources *ret, const char *meminfo_path, int64_t reserved_mib,
                   const uint16_t *ports, size_t n_ports, const uint16_t *ports_udp,
                   size_t n_ports_udp) {
        _cleanup_free_ char *text = NULL;
        struct resources r = {};
        size_t len = 0;
        uint64_t kib;
        long cpus;
        int e;

        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus < 1)
                return -EIO;
        e = fileio_read(meminfo_path, MEMINFO_MAX, 0, &text, &len);
        if (e < 0)
                return e;
        if (resources_parse_meminfo(text, len, &kib) < 0)
                return -EBADMSG;
        r.cpu = (int64_t)cpus * CPU_UNITS_PER_CORE;
        r.memory_mib = (int64_t)(kib / 1024) - reserved_mib;
        if (r.memory_mib < 0)
                r.memory_mib = 0;
        r.n_ports = n_ports;
        r.n_ports_udp = n_ports_udp;
        if (copy_ports(&r.ports, ports, n_ports) < 0 ||
            copy_ports(&r.ports_udp, ports_udp, n_ports_udp) < 0) {
                resources_done(&r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

static cJSON *resource(const char *name, const char *type) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "type", type);
        return o;
}

static cJSON *port_set(const char *name, const uint16_t *v, size_t n) {
        cJSON *o = resource(name, "STRINGSET"), *a = cJSON_AddArrayToObject(o, "stringSetValue");
        char s[8];

        for (size_t i = 0; i < n; i++) {
                snprintf(s, sizeof s, "%u", v[i]);
                cJSON_AddItemToArray(a, cJSON_CreateString(s));
        }
        return o;
}

cJSON *resources_to_json(const struct resources *r) {
        cJSON *a = cJSON_CreateArray(), *o;

        o = resource("CPU", "INTEGER");
        cJSON_AddNumberToObject(o, "integerValue", (double)r->cpu);
        cJSON_AddItemToArray(a, o);
        o = resource("MEMORY", "INTEGER");
        cJSON_AddNumberToObject(o, "integerValue", (double)r->memory_mib);
        cJSON_AddItemToArray(a, o);
        cJSON_AddItemToArray(a, port_set("PORTS", r->ports, r->n_ports));
        cJSON_AddItemToArray(a, port_set("PORTS_UDP", r->ports_udp, r->n_ports_udp));
        return a;
}

const char *resources_cpu_architecture(void) {
        static struct utsname u;

        if (uname(&u) < 0)
                return "unknown";
        if (strcmp(u.machine, "aarch64") == 0 || strcmp(u.machine, "arm64") == 0)
                return "arm64";
        return u.machine;
}
