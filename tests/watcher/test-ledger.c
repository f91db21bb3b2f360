/* test-ledger.c: notices.json, the watcher's ledger of handled notices, as
 * read back after a restart: every field of an entry survives a save and a
 * load, the newest LEDGER_MAX are kept, and entries that cannot be ours (a
 * missing or unrepresentable time, an unknown kind) are dropped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "macro.h"
#include "test.h"

static int count(const char *text) {
        struct ledger_entry *v = NULL;
        size_t n = 0;
        int r = ledger_parse(text, strlen(text), &v, &n);

        ledger_entries_free(v, n);
        return r < 0 ? r : (int)n;
}

#define ENTRY(time)                                                                                \
        "{\"id\":\"spot/terminate/x\",\"kind\":\"spot\",\"action\":\"terminate\",\"time\":" time "}"

static void test_dropped(void) {
        CHECK_INTEQ("one notice", count("{\"notices\":[" ENTRY("1795348920") "]}"), 1);
        CHECK_INTEQ("no notices", count("{\"notices\":[]}"), 0);
        CHECK_INTEQ("not JSON", count("notices"), -EINVAL);
        CHECK_INTEQ("not an object", count("[1,2]"), -EINVAL);
        CHECK_INTEQ("an unknown kind is dropped",
                    count("{\"notices\":[{\"id\":\"x\",\"kind\":\"bogus\",\"action\":\"a\","
                          "\"time\":1}]}"),
                    0);
        /* The fuzzer found the missing time: NaN converted to time_t. */
        CHECK_INTEQ(
                "a missing time is dropped",
                count("{\"notices\":[{\"id\":\"x\",\"kind\":\"spot\",\"action\":\"terminate\"}]}"),
                0);
        CHECK_INTEQ("a string time is dropped", count("{\"notices\":[" ENTRY("\"soon\"") "]}"), 0);
        CHECK_INTEQ("a time past year 9999 is dropped", count("{\"notices\":[" ENTRY("1e300") "]}"),
                    0);
        CHECK_INTEQ("a negative time is dropped", count("{\"notices\":[" ENTRY("-1") "]}"), 0);
        CHECK_INTEQ("good entries beside a bad one are kept",
                    count("{\"notices\":[" ENTRY("1e300") "," ENTRY("0") "," ENTRY(
                            "253402300799") "]}"),
                    2);
}

static bool same(const struct ledger_entry *a, const struct ledger_entry *b) {
        return streq_ptr(a->id, b->id) && a->kind == b->kind && streq_ptr(a->action, b->action) &&
               a->time == b->time && a->drained == b->drained && a->by_us == b->by_us &&
               a->hook_done == b->hook_done && a->undone == b->undone &&
               strcmp(a->result, b->result) == 0 && a->drained_at == b->drained_at &&
               strcmp(a->follow, b->follow) == 0 && strcmp(a->release, b->release) == 0;
}

/* Every field of every entry, as a restart reads it back from disk. */
static void test_round_trip(void) {
        static const struct ledger_entry in[] = {
                {(char *)"spot/terminate/2026-11-22T12:02:00Z", NOTICE_SPOT, (char *)"terminate",
                 1795348920, true, true, true, false, "confirmed", 1795348810, "empty", ""},
                {(char *)"asg/Terminated", NOTICE_ASG, (char *)"Terminated", 1795348000, true, true,
                 true, true, "undone", 1795348001, "", "done"},
                {(char *)"maintenance/instance-event-0d59937288b749b32", NOTICE_MAINTENANCE,
                 (char *)"instance-stop", 1795400000, false, false, true, false, "failed", 0, "",
                 ""},
                {(char *)"rebalance/2020-10-27T08:22:00Z", NOTICE_REBALANCE, (char *)"rebalance",
                 1603786920, false, false, false, false, "", 0, "", ""},
                {(char *)"spot/hibernate/x", NOTICE_SPOT, (char *)"hibernate", 0, true, false, true,
                 false, "dry-run", 1795348900, "deadline", ""},
        };
        const struct ledger_entry *ptrs[ELEMENTSOF(in)];
        char dir[] = "/tmp/test-ledger-XXXXXX";
        _cleanup_free_ char *path = NULL;
        struct ledger_entry *out = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(in); i++)
                ptrs[i] = &in[i];
        if (!mkdtemp(dir) || asprintf(&path, "%s/" LEDGER_FILE, dir) < 0)
                abort();
        CHECK_INTEQ("nothing saved yet", ledger_load(dir, &out, &n, NULL), -ENOENT);
        CHECK_INTEQ("save", ledger_save(dir, ptrs, ELEMENTSOF(in)), 0);
        CHECK_INTEQ("load", ledger_load(dir, &out, &n, NULL), 0);
        CHECK_INTEQ("every entry comes back", n, ELEMENTSOF(in));
        for (size_t i = 0; i < n && i < ELEMENTSOF(in); i++)
                CHECK(in[i].id, same(&out[i], &in[i]));
        ledger_entries_free(out, n);
        unlink(path);
        rmdir(dir);
}

/* The follow's fields are optional: an older ledger has none, and a bad
 * one is as if absent (never a reason to drop the entry). */
static void test_follow_fields(void) {
        static const char text[] =
                "{\"notices\": ["
                "{\"id\": \"a\", \"kind\": \"spot\", \"action\": \"terminate\", \"time\": 5},"
                "{\"id\": \"b\", \"kind\": \"spot\", \"action\": \"terminate\", \"time\": 5,"
                " \"drainedAt\": -3, \"follow\": \"sideways\", \"release\": \"Done!\"},"
                "{\"id\": \"c\", \"kind\": \"asg\", \"action\": \"Terminated\", \"time\": 5,"
                " \"drainedAt\": 7, \"follow\": \"deadline\", \"release\": \"no_action\"}]}";
        struct ledger_entry *v = NULL;
        size_t n = 0;

        CHECK_INTEQ("parsed", ledger_parse(text, strlen(text), &v, &n), 0);
        CHECK("three entries kept", n == 3);
        CHECK("without the fields: not drained, no follow",
              n == 3 && v[0].drained_at == 0 && v[0].follow[0] == 0);
        CHECK("a bad drainedAt and follow: as if absent",
              n == 3 && v[1].drained_at == 0 && v[1].follow[0] == 0 && v[1].release[0] == 0);
        CHECK("good ones read", n == 3 && v[2].drained_at == 7 &&
                                        strcmp(v[2].follow, "deadline") == 0 &&
                                        strcmp(v[2].release, "no_action") == 0);
        ledger_entries_free(v, n);
}

/* A ledger that is not one is set aside for a human, as state.json is, and
 * a symlink in its place is not followed. */
static void test_corrupt(void) {
        char dir[] = "/tmp/test-ledger-XXXXXX";
        _cleanup_free_ char *path = NULL, *why = NULL, *aside = NULL;
        struct ledger_entry *out = NULL;
        size_t n = 0;
        FILE *f;

        if (!mkdtemp(dir) || asprintf(&path, "%s/" LEDGER_FILE, dir) < 0 || !(f = fopen(path, "w")))
                abort();
        fputs("not json", f);
        fclose(f);
        CHECK_INTEQ("a corrupt ledger is refused", ledger_load(dir, &out, &n, &why), -EBADMSG);
        CHECK("... and moved aside", access(path, F_OK) < 0 && why &&
                                             strstr(why, "is not a notice ledger; moved it to") &&
                                             strstr(why, LEDGER_FILE ".corrupt-"));
        if (why && (aside = strdup(strstr(why, "moved it to ") + strlen("moved it to "))))
                unlink(aside);
        if (symlink("/etc/hostname", path) < 0)
                abort();
        free(why);
        why = NULL;
        CHECK_INTEQ("a symlink is not followed", ledger_load(dir, &out, &n, &why), -EBADMSG);
        free(aside);
        aside = why ? strdup(strstr(why, "moved it to ") + strlen("moved it to ")) : NULL;
        if (aside)
                unlink(aside);
        rmdir(dir);
}

/* The ledger keeps the newest LEDGER_MAX notices. */
static void test_cap(void) {
        struct ledger_entry e[LEDGER_MAX + 3] = {};
        const struct ledger_entry *ptrs[LEDGER_MAX + 3];
        struct ledger_entry *out = NULL;
        _cleanup_free_ char *text = NULL;
        char ids[LEDGER_MAX + 3][32];
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(e); i++) {
                snprintf(ids[i], sizeof ids[i], "asg/n%zu", i);
                e[i] = (struct ledger_entry){.id = ids[i], .kind = NOTICE_ASG, .action = ids[i]};
                ptrs[i] = &e[i];
        }
        text = ledger_format(ptrs, ELEMENTSOF(e));
        CHECK_INTEQ("a full ledger parses", ledger_parse(text, strlen(text), &out, &n), 0);
        CHECK_INTEQ("at most LEDGER_MAX entries are written", n, LEDGER_MAX);
        CHECK("the newest are kept", n == LEDGER_MAX && streq_ptr(out[0].id, "asg/n0") &&
                                             streq_ptr(out[n - 1].id, "asg/n63"));
        ledger_entries_free(out, n);
}

int main(void) {
        test_dropped();
        test_round_trip();
        test_follow_fields();
        test_corrupt();
        test_cap();
        return test_done();
}
