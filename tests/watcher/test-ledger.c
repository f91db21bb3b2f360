/* test-ledger.c: notices.json, the watcher's ledger of handled notices, as
 * read back after a restart: what it keeps, and the entries it drops because
 * they cannot be ours (a missing or unrepresentable time, an unknown kind). */
#include <errno.h>
#include <string.h>

#include "test.h"
#include "watcher.h"

static int check(const char *text) {
        return watcher_ledger_check(text, strlen(text));
}

#define ENTRY(time)                                                                                \
        "{\"id\":\"spot/terminate/x\",\"kind\":\"spot\",\"action\":\"terminate\",\"time\":" time "}"

int main(void) {
        CHECK_INTEQ("one notice", check("{\"notices\":[" ENTRY("1795348920") "]}"), 1);
        CHECK_INTEQ("no notices", check("{\"notices\":[]}"), 0);
        CHECK_INTEQ("not JSON", check("notices"), -EINVAL);
        CHECK_INTEQ("not an object", check("[1,2]"), -EINVAL);
        CHECK_INTEQ("an unknown kind is dropped",
                    check("{\"notices\":[{\"id\":\"x\",\"kind\":\"bogus\",\"action\":\"a\","
                          "\"time\":1}]}"),
                    0);
        /* The fuzzer found the missing time: NaN converted to time_t. */
        CHECK_INTEQ(
                "a missing time is dropped",
                check("{\"notices\":[{\"id\":\"x\",\"kind\":\"spot\",\"action\":\"terminate\"}]}"),
                0);
        CHECK_INTEQ("a string time is dropped", check("{\"notices\":[" ENTRY("\"soon\"") "]}"), 0);
        CHECK_INTEQ("a time past year 9999 is dropped", check("{\"notices\":[" ENTRY("1e300") "]}"),
                    0);
        CHECK_INTEQ("a negative time is dropped", check("{\"notices\":[" ENTRY("-1") "]}"), 0);
        CHECK_INTEQ("good entries beside a bad one are kept",
                    check("{\"notices\":[" ENTRY("1e300") "," ENTRY("0") "," ENTRY(
                            "253402300799") "]}"),
                    2);
        return test_done();
}
