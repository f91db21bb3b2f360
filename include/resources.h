/* resources.h: what the host offers ECS at registration, computed as the
 * official agent does: CPU = online CPUs x 1024, MEMORY = MemTotal in MiB
 * minus ECS_RESERVED_MEMORY, PORTS / PORTS_UDP = the reserved ports; and the
 * built-in attributes the agent reports about the OS and CPU. */
#pragma once

#include "macro.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct resources {
        int64_t cpu;        /* CPU units: 1024 per online CPU */
        int64_t memory_mib; /* MemTotal minus the reservation */
        uint16_t *ports, *ports_udp;
        size_t n_ports, n_ports_udp;
};
void resources_done(struct resources *r);

/* Pure: MemTotal from /proc/meminfo's text, in KiB.  -EINVAL when absent
 * or malformed (the text is read as the meminfo collector reads it, so a
 * malformed line anywhere makes it malformed). */
int resources_parse_meminfo(const char *text, size_t len, uint64_t *ret_kib);

/* Read the host (sysconf, /proc/meminfo at meminfo_path).  reserved_mib and
 * the port lists come from the configuration; ports are copied. */
_must_check_ int resources_read(struct resources *ret, const char *meminfo_path,
                                int64_t reserved_mib, const uint16_t *ports, size_t n_ports,
                                const uint16_t *ports_udp, size_t n_ports_udp);

/* The totalResources array of RegisterContainerInstance. */
cJSON *resources_to_json(const struct resources *r);

/* "x86_64" or "arm64" (ECS's spelling of uname's aarch64), else uname's. */
const char *resources_cpu_architecture(void);
