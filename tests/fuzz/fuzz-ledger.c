/* fuzz-ledger.c: the watcher's notices.json (read from disk at start) on any bytes. */
#include <stdint.h>

#include "watcher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        (void)watcher_ledger_check((const char *)data, size);
        return 0;
}
