/* fuzz-ledger.c: the watcher's notices.json (read from disk at start) on any
 * bytes: parsing never crashes, and what it keeps formats and parses back to
 * the same entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ledger_entry *v = NULL, *again = NULL;
        const struct ledger_entry *ptrs[LEDGER_MAX];
        size_t n = 0, n2 = 0;
        char *text;

        if (ledger_parse((const char *)data, size, &v, &n) < 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                ptrs[i] = &v[i];
        text = ledger_format(ptrs, n);
        if (text && ledger_parse(text, strlen(text), &again, &n2) == 0) {
                if (n2 != n)
                        abort();
                for (size_t i = 0; i < n; i++)
                        if (strcmp(v[i].id, again[i].id) != 0 || v[i].time != again[i].time ||
                            v[i].drained != again[i].drained || v[i].undone != again[i].undone)
                                abort();
        }
        free(text);
        ledger_entries_free(again, n2);
        ledger_entries_free(v, n);
        return 0;
}
