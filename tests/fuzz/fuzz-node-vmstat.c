/* fuzz-node-vmstat.c: /proc/vmstat's parser on any bytes: what it keeps
 * are valid metric names the default pattern wants, each once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node-vmstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct node_vmstat vm;

        if (node_vmstat_parse((const char *)data, size, &vm) != 0)
                return 0;
        for (size_t i = 0; i < vm.n; i++) {
                struct node_text_field name = {vm.fields[i].name, strlen(vm.fields[i].name)};
                if (!node_text_is_name(name) || !node_vmstat_wanted(name))
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(vm.fields[i].name, vm.fields[j].name) == 0)
                                abort();
        }
        return 0;
}
